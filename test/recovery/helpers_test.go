package recovery

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tusk-data/tusk/test/tusktest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Admin keys of every server these tests start.
const (
	accessKey = "TKRECOVERYADMIN00001"
	secretKey = "recovery-test-secret-key-of-the-admin-01"
)

// tuskBinary returns $TUSK_BIN or the binary built once (tusktest.Binary).
func tuskBinary(t *testing.T) string { return tusktest.Binary(t) }

// server is a running `tusk serve`.
type server struct {
	t    *testing.T
	bin  string
	cmd  *exec.Cmd
	url  string
	log  string
	done chan error
}

// start runs `tusk serve` on dataDir (a random port) and waits until it
// listens.
func start(t *testing.T, bin, dataDir string, extra ...string) *server {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "serve.log")
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--log-format", "json", "--min-free", "0", "--shutdown-timeout", "5s", "--gc-interval", "-1s",
		"--pipeline-work-dir", t.TempDir()}, extra...)...)
	cmd.Env = append(os.Environ(), "TUSK_ACCESS_KEY="+accessKey, "TUSK_SECRET_KEY="+secretKey)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, bin: bin, cmd: cmd, log: logFile, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); lf.Close() }()
	t.Cleanup(s.kill)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := listening(logFile); addr != "" {
			s.url = "http://" + addr
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			b, _ := os.ReadFile(logFile)
			t.Fatalf("tusk serve exited (%v):\n%s", err, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("tusk serve did not listen within 30s")
	return nil
}

func listening(logFile string) string {
	f, err := os.Open(logFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Msg  string `json:"message"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "tusk listening" {
			return l.Addr
		}
	}
	return ""
}

// kill SIGKILLs the server: nothing it had not written survives.
func (s *server) kill() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.done
	s.done <- err
}

// tusk runs the CLI against the server and returns its stdout; a failure
// fails the test.
func (s *server) tusk(args ...string) string {
	s.t.Helper()
	out, err := s.tuskErr(args...)
	if err != nil {
		s.t.Fatalf("tusk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *server) tuskErr(args ...string) (string, error) {
	return runTusk(s.bin, s.url, args...)
}

func runTusk(bin, url string, args ...string) (string, error) {
	return runTuskAs(bin, url, accessKey, secretKey, args...)
}

func runTuskAs(bin, url, ak, sk string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TUSK_ENDPOINT="+url, "TUSK_ACCESS_KEY="+ak, "TUSK_SECRET_KEY="+sk,
		"XDG_CONFIG_HOME="+os.TempDir()+"/tusk-recovery-none")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// client is an aws-sdk-go-v2 client of the server with the given keys.
func (s *server) client(ak, sk string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""), RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Timeout: 60 * time.Second}})
}

func put(t *testing.T, c *s3.Client, bucket, key string, body []byte) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

// getSHA reads bucket/key at version and returns the SHA-256 of its bytes,
// or the error code.
func getSHA(c *s3.Client, bucket, key, version string) (string, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" && version != "null" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// waitMirror runs `tusk mirror sync` and checks that the mirror is
// through every write acknowledged so far.
func (s *server) waitMirror(after time.Time) {
	s.t.Helper()
	var st struct {
		Through string `json:"through"`
	}
	if err := json.Unmarshal([]byte(s.tusk("mirror", "sync", "-o", "json")), &st); err != nil {
		s.t.Fatal(err)
	}
	through, err := time.Parse(time.RFC3339Nano, st.Through)
	if err != nil || !through.After(after) {
		s.t.Fatalf("after mirror sync the mirror is through %q, not after %v (%v)", st.Through, after, err)
	}
}
