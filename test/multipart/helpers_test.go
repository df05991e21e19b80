package multipart

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

const mib = 1 << 20

// env is one in-process gateway with an HTTPS front end over the same
// handler (aws-sdk-go-v2 sends aws-chunked bodies with trailing checksums
// only over TLS).
type env struct {
	t       *testing.T
	srv     *gatewaytest.Server
	tlsAddr string
	dir     string // temp dir for files
}

func newEnv(t *testing.T, cfg gateway.Config) *env {
	t.Helper()
	if cfg.GCInterval == 0 {
		cfg.GCInterval = -1
	}
	e := &env{t: t, dir: t.TempDir()}
	e.start(cfg)
	return e
}

func (e *env) start(cfg gateway.Config) {
	e.srv = gatewaytest.Start(e.t, cfg)
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	ts.StartTLS()
	e.t.Cleanup(ts.Close)
	e.tlsAddr = ts.Listener.Addr().String()
}

// restart stops the gateway and starts a new one on the same data dir.
func (e *env) restart() {
	e.t.Helper()
	cfg := gateway.Config{DataDir: e.srv.DataDir, GCInterval: -1}
	e.srv.Stop()
	e.start(cfg)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// sdk is an aws-sdk-go-v2 client with the SDK's default checksum
// behaviour, path-style, over HTTPS (useTLS) or plain HTTP.
func (e *env) sdk(useTLS bool) *s3.Client {
	target, scheme := e.srv.Addr, "http"
	if useTLS {
		target, scheme = e.tlsAddr, "https"
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 32,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(scheme + "://" + target),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(gatewaytest.AccessKey, gatewaytest.SecretKey, ""),
		HTTPClient:                 &http.Client{Transport: tr},
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
}

func (e *env) mkBucket(name string) {
	e.t.Helper()
	if _, err := e.sdk(false).CreateBucket(ctxFor(e.t, time.Minute), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		e.t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

// genFile writes size bytes from a seeded generator to dir/name and
// returns the path and the SHA-256 (hex).
func genFile(t *testing.T, dir, name string, seed byte, size int64) (string, string) {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	rng := rand.NewChaCha8([32]byte{seed, 'm', 'p', 'e', '2', 'e'})
	buf := make([]byte, mib)
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		rng.Read(buf[:n])
		h.Write(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p, hex.EncodeToString(h.Sum(nil))
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readerSHA(t *testing.T, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// cliEnv is the environment of a CLI client: the machine's, without any
// AWS_ / RCLONE_ variable (the machine exports AWS_CA_BUNDLE, which breaks
// rclone, see the notes on S3 clients), plus what the test sets.
func cliEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "RCLONE_") || k == "HOME" {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "BOTO_DISABLE_CRT=true",
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	return append(out, extra...)
}

// run runs a command and returns its stdout; stderr goes into the error.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), &cmdError{args: append([]string{name}, args...), err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type cmdError struct {
	args   []string
	err    error
	stderr string
}

func (c *cmdError) Error() string {
	return strings.Join(c.args, " ") + ": " + c.err.Error() + "\n" + c.stderr
}

// need fails the test when a client binary is missing.
func need(t *testing.T, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s is missing (%v): run bash scripts/install-test-deps.sh", bin, err)
	}
	return p
}
