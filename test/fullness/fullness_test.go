package fullness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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

// Admin keys given to every server these tests start.
const (
	accessKey = "TKFULLNESSADMINKEY01"
	secretKey = "fullness-test-secret-key-of-the-admin-01"
)

const (
	fsSize   = "80m"   // the tmpfs the data directory lives on
	growSize = "200m"  // its size once space returns
	object   = 1 << 20 // bytes per filling PUT
	maxPuts  = 200     // more than fit: 80 MiB / 1 MiB
	maxMeta  = 3000    // branches created after the blobs were refused
)

// TestFullDisk fills a small real file system under `tusk serve` until
// writes are refused, with the free-space floor on and off (see doc.go).
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root); run as root to fill a real small file system")
	}
	bin := tuskBinary(t)
	for _, tc := range []struct {
		name    string
		minFree string
	}{
		{"floor 8MiB", "8388608"},
		{"no floor", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) { fillAndRecover(t, bin, tc.minFree) })
	}
}

func fillAndRecover(t *testing.T, bin, minFree string) {
	ctx := context.Background()
	mnt := t.TempDir()
	mount(t, mnt, "size="+fsSize)
	t.Cleanup(func() { unmount(t, mnt) }) // after the server is gone (cleanups run last-in first-out)
	dataDir := filepath.Join(mnt, "data")
	logDir := t.TempDir()
	if d := os.Getenv("TUSK_FULLNESS_LOGS"); d != "" { // keep the server logs there
		logDir = filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--min-free", minFree}

	p := startServer(t, bin, dataDir, filepath.Join(logDir, "serve1.log"), args...)
	c := newClient(p.url)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fill")}); err != nil {
		t.Fatal(err)
	}

	// Fill until refused. acked holds every acknowledged write's MD5.
	acked := map[string]string{}
	rng := rand.New(rand.NewPCG(1, uint64(len(minFree))))
	var refusal error
	for i := 0; i < maxPuts && refusal == nil; i++ {
		key := fmt.Sprintf("f/%03d", i)
		body := make([]byte, object)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		if err := putObject(ctx, c, key, body); err != nil {
			refusal = err
			break
		}
		acked[key] = md5hex(body)
	}
	if refusal == nil {
		t.Fatalf("%d PUTs of %d bytes all went into a %s file system", maxPuts, object, fsSize)
	}
	free := freeBytes(t, mnt)
	t.Logf("refused after %d PUTs with %d bytes free: %v", len(acked), free, refusal)
	var ae smithy.APIError
	if !errors.As(refusal, &ae) || ae.ErrorCode() != "InsufficientStorage" || !strings.Contains(ae.ErrorMessage(), "free") {
		t.Errorf("refusal: %v; want 507 InsufficientStorage saying what is free", refusal)
	}
	if len(acked) < 20 {
		t.Errorf("only %d MiB went into %s before the refusal", len(acked), fsSize)
	}
	// Smaller writes now: each is refused or, if it fits, kept.
	for i, n := range []int{64 << 10, 1 << 10, 0} {
		key := fmt.Sprintf("small/%d", i)
		body := bytes.Repeat([]byte{byte('a' + i)}, n)
		if err := putObject(ctx, c, key, body); err == nil {
			acked[key] = md5hex(body)
		} else if !errors.As(err, &ae) || ae.ErrorCode() != "InsufficientStorage" {
			t.Errorf("small PUT of %d bytes on a full disk: %v; want success or 507 InsufficientStorage", n, err)
		}
	}
	if p.exited() {
		t.Fatalf("tusk serve died on the full disk; log:\n%s", tail(p.log, 40))
	}
	// Writes of metadata only (branches, delete markers): the blob store's
	// floor does not see them.
	branches := 0
	var metaErr error
	for i := 0; i < maxMeta; i++ {
		if _, metaErr = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(fmt.Sprintf("b%04d.fill", i))}); metaErr != nil {
			break
		}
		branches++
	}
	t.Logf("%d branches created on the full disk, then: %v (%d bytes free)", branches, metaErr, freeBytes(t, mnt))
	if metaErr != nil && (!errors.As(metaErr, &ae) || ae.ErrorCode() != "InsufficientStorage") {
		t.Errorf("metadata write on the full disk: %v; want success or 507 InsufficientStorage", metaErr)
	}
	if p.wait(2 * time.Second) {
		t.Fatalf("tusk serve died on metadata writes on the full disk; log:\n%s", tail(p.log, 60))
	}

	// Reads go on, and show exactly what was acknowledged.
	checkContents(t, c, acked, "on the full disk")

	// Restart on the full disk: nothing acknowledged is lost, nothing
	// else appears. A clean stop may fail to flush on a full disk; a kill
	// is what a crash does, so both must recover.
	if err := p.stop(20 * time.Second); err != nil {
		t.Logf("stop on the full disk: %v", err)
	}
	noPanic(t, p.log)
	p = startServer(t, bin, dataDir, filepath.Join(logDir, "serve2.log"), args...)
	c = newClient(p.url)
	checkContents(t, c, acked, "after a restart on the full disk")

	// Space returns: writes go again.
	mount(t, mnt, "remount,size="+growSize)
	for i := 0; i < 3; i++ {
		key := fmt.Sprintf("after/%d", i)
		body := bytes.Repeat([]byte{byte(i)}, object)
		if err := putObject(ctx, c, key, body); err != nil {
			t.Fatalf("PUT after the file system grew: %v", err)
		}
		acked[key] = md5hex(body)
	}
	checkContents(t, c, acked, "after space returned")
	p.kill()
	noPanic(t, p.log)
	p = startServer(t, bin, dataDir, filepath.Join(logDir, "serve3.log"), args...)
	checkContents(t, newClient(p.url), acked, "after a kill and restart")
	if err := p.stop(20 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
	noPanic(t, p.log)
}

// checkContents lists bucket fill and reads every key: the keys must be
// exactly acked's, each byte for byte.
func checkContents(t *testing.T, c *s3.Client, acked map[string]string, when string) {
	t.Helper()
	ctx := context.Background()
	var listed []string
	pg := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("fill")})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s: %v", when, err)
		}
		for _, o := range out.Contents {
			listed = append(listed, aws.ToString(o.Key))
		}
	}
	want := make([]string, 0, len(acked))
	for k := range acked {
		want = append(want, k)
	}
	sort.Strings(want)
	if strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Fatalf("%s: listed %d keys %v, acknowledged %d %v", when, len(listed), listed, len(want), want)
	}
	for _, k := range want {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("fill"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s %s: %v", k, when, err)
		}
		h := md5.New()
		_, err = io.Copy(h, out.Body)
		out.Body.Close()
		if err != nil {
			t.Fatalf("read %s %s: %v", k, when, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != acked[k] {
			t.Fatalf("%s %s: MD5 %s, acknowledged %s", k, when, got, acked[k])
		}
	}
}

func putObject(ctx context.Context, c *s3.Client, key string, body []byte) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("fill"), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	return err
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// newClient returns an aws-sdk-go-v2 S3 client (path-style, no retries:
// a refusal is seen as it is).
func newClient(url string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""), RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Timeout: 60 * time.Second}})
}

// mount mounts a tmpfs on dir, or remounts it with opts ("remount,...").
func mount(t *testing.T, dir, opts string) {
	t.Helper()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount -o %s %s: %v\n%s", opts, dir, err, out)
	}
}

func unmount(t *testing.T, dir string) {
	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
		t.Errorf("umount %s: %v\n%s", dir, err, out)
		_ = exec.Command("umount", "-l", dir).Run()
	}
}

func freeBytes(t *testing.T, dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// noPanic fails when the server's log shows a panic or a fatal error.
func noPanic(t *testing.T, logFile string) {
	t.Helper()
	b, _ := os.ReadFile(logFile)
	for _, bad := range []string{"panic", "fatal error", "SIGBUS", `"level":"fatal"`} {
		if bytes.Contains(b, []byte(bad)) {
			t.Errorf("server log %s has %q:\n%s", filepath.Base(logFile), bad, tail(logFile, 60))
			return
		}
	}
}

// tuskBinary returns $TUSK_BIN or the binary built once (tusktest.Binary).
func tuskBinary(t *testing.T) string { return tusktest.Binary(t) }

// proc is a running `tusk serve`.
type proc struct {
	cmd  *exec.Cmd
	url  string
	log  string
	done chan error
}

// startServer runs `tusk serve` on dataDir on a random port and waits
// until it logs that it is listening.
func startServer(t *testing.T, bin, dataDir, logFile string, extra ...string) *proc {
	t.Helper()
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--log-format", "json", "--shutdown-timeout", "5s", "--no-pipelines", "--gc-interval", "-1s"}, extra...)...)
	cmd.Env = append(os.Environ(), "TUSK_ACCESS_KEY="+accessKey, "TUSK_SECRET_KEY="+secretKey)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logFile, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); lf.Close() }()
	t.Cleanup(p.kill)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := listeningAddr(logFile); addr != "" {
			p.url = "http://" + addr
			return p
		}
		if p.exited() {
			t.Fatalf("tusk serve exited before listening; log:\n%s", tail(logFile, 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("tusk serve did not listen within 30s; log:\n%s", tail(logFile, 40))
	return nil
}

// listeningAddr finds the "tusk listening" log line and returns its addr.
func listeningAddr(logFile string) string {
	f, err := os.Open(logFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg  string `json:"message"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "tusk listening" && l.Addr != "" {
			return l.Addr
		}
	}
	return ""
}

func tail(file string, n int) string {
	b, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// exited reports whether the server process has ended.
func (p *proc) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// wait reports whether the server process ends within d.
func (p *proc) wait(d time.Duration) bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	case <-time.After(d):
		return false
	}
}

// kill SIGKILLs the server (idempotent) and waits for it to be gone.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.done
	p.done <- err
}

// stop sends SIGTERM and returns the exit error (nil for a clean exit).
func (p *proc) stop(timeout time.Duration) error {
	if p.exited() {
		return fmt.Errorf("already exited: %v", <-p.done)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("did not exit within %v of SIGTERM", timeout)
	}
}
