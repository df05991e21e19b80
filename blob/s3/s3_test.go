package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/blobtest"
	"github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/internal/errs"
)

const (
	accessKey = "tusktestaccess"
	secretKey = "tusktestsecret1234"
)

// versitygwPath returns the versitygw binary the tests run, or fails the
// test saying how to install it. Tests never skip for want of it.
func versitygwPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("TUSK_VERSITYGW")
	if p == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("no home directory to find versitygw in (%v): set TUSK_VERSITYGW or run scripts/install-versitygw.sh", err)
		}
		p = filepath.Join(home, ".cache", "tusk-test", "versitygw-v1.8.0", "versitygw")
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		t.Fatalf("versitygw binary not found at %s (%v): run scripts/install-versitygw.sh (or set TUSK_VERSITYGW to the binary)", p, err)
	}
	return p
}

// gateway is a versitygw process serving a posix directory.
type gateway struct {
	endpoint string // host:port
	cmd      *exec.Cmd
	log      *bytes.Buffer
	done     chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// startGateway starts versitygw on a free loopback port over a fresh
// directory and waits until it answers. The caller must stop it.
func startGateway(t testing.TB, dir string) (*gateway, error) {
	bin := versitygwPath(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := l.Addr().String()
		l.Close()
		var logBuf lockedBuffer
		cmd := exec.Command(bin, "--access", accessKey, "--secret", secretKey, "--port", addr, "--quiet", "posix", dir)
		cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting %s: %w", bin, err)
		}
		g := &gateway{endpoint: addr, cmd: cmd, log: &logBuf.Buffer, done: make(chan struct{})}
		go func() { cmd.Wait(); close(g.done) }()
		if lastErr = g.waitReady(15 * time.Second); lastErr == nil {
			return g, nil
		}
		g.stop()
		logBuf.mu.Lock()
		lastErr = fmt.Errorf("%w; versitygw output:\n%s", lastErr, logBuf.String())
		logBuf.mu.Unlock()
	}
	return nil, lastErr
}

// waitReady polls the external process until it answers HTTP: it tells of
// being ready no other way.
func (g *gateway) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-g.done:
			return errors.New("versitygw exited during start-up")
		default:
		}
		resp, err := client.Get("http://" + g.endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil // any HTTP answer (403 without credentials) means ready
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not answer on %s within %v", g.endpoint, limit)
}

func (g *gateway) stop() {
	_ = g.cmd.Process.Kill()
	<-g.done
}

// shared is the gateway most tests use, started on first use and stopped by
// TestMain.
var shared struct {
	once sync.Once
	gw   *gateway
	err  error
}

func sharedGateway(t testing.TB) *gateway {
	t.Helper()
	versitygwPath(t) // fail with the install hint, in every test that needs it
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "tusk-versitygw-")
		if err != nil {
			shared.err = err
			return
		}
		shared.gw, shared.err = startGateway(t, dir)
		if shared.err != nil {
			os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("versitygw: %v", shared.err)
	}
	return shared.gw
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.gw != nil {
		shared.gw.stop()
		os.RemoveAll(shared.gw.cmd.Args[len(shared.gw.cmd.Args)-1])
	}
	os.Exit(code)
}

var bucketSeq atomic.Int64

// newBucket returns a bucket name not used before in this run.
func newBucket() string {
	return fmt.Sprintf("tusk-%d-%d", os.Getpid(), bucketSeq.Add(1))
}

func openDriver(t *testing.T, cfg s3.Config) *s3.Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("s3.Open(%+v): %v", cfg, err)
	}
	return d
}

func config(gw *gateway) s3.Config {
	return s3.Config{
		Endpoint:  gw.endpoint,
		Bucket:    newBucket(),
		Prefix:    "store/",
		Region:    "us-east-1",
		AccessKey: accessKey,
		SecretKey: secretKey,
		PartSize:  5 << 20, // the minimum, so large tests use many parts
	}
}

func TestConformance(t *testing.T) {
	gw := sharedGateway(t)
	blobtest.Run(t, func(t *testing.T) blob.Driver { return openDriver(t, config(gw)) })
}

func TestPrefixesIsolate(t *testing.T) {
	gw := sharedGateway(t)
	ctx := context.Background()
	cfg := config(gw)
	cfg.Prefix = "one" // a trailing "/" is added
	a := openDriver(t, cfg)
	cfg.Prefix = "two/"
	b := openDriver(t, cfg)
	cfg.Prefix = ""
	all := openDriver(t, cfg)
	for _, tc := range []struct {
		d   *s3.Driver
		key string
	}{{a, "k"}, {b, "k"}, {b, "only-b"}} {
		if err := tc.d.Put(ctx, tc.key, strings.NewReader(tc.key), -1); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := all.List(ctx, "", func(at blob.Attrs) error { got = append(got, at.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"one/k": true, "two/k": true, "two/only-b": true}
	if len(got) != len(want) {
		t.Errorf("bucket holds %q, want the keys of %v", got, want)
	}
	for _, k := range got {
		if !want[k] {
			t.Errorf("unexpected object %q in the bucket", k)
		}
	}
	if _, err := a.Stat(ctx, "only-b"); !errs.Is(err, errs.NotExist) {
		t.Errorf("driver with prefix one/ sees two/only-b: %v", err)
	}
}

func TestOpenCreatesBucketOnce(t *testing.T) {
	gw := sharedGateway(t)
	cfg := config(gw)
	d1 := openDriver(t, cfg)
	if err := d1.Put(context.Background(), "x", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	// Opening again finds the bucket and keeps its content.
	d2 := openDriver(t, cfg)
	if a, err := d2.Stat(context.Background(), "x"); err != nil || a.Size != 1 {
		t.Errorf("after reopening: %+v, %v", a, err)
	}
}

func TestOpenErrors(t *testing.T) {
	gw := sharedGateway(t)
	ctx := context.Background()
	good := config(gw)
	for _, tc := range []struct {
		name string
		edit func(*s3.Config)
		want errs.Kind
	}{
		{"no endpoint", func(c *s3.Config) { c.Endpoint = "" }, errs.Invalid},
		{"no bucket", func(c *s3.Config) { c.Bucket = "" }, errs.Invalid},
		{"endpoint with a path", func(c *s3.Config) { c.Endpoint = "http://" + gw.endpoint + "/x" }, errs.Invalid},
		{"part size too small", func(c *s3.Config) { c.PartSize = 1 << 20 }, errs.Invalid},
		{"bad prefix", func(c *s3.Config) { c.Prefix = "a/../b/" }, errs.Invalid},
		{"wrong secret", func(c *s3.Config) { c.SecretKey = "wrong-secret-key" }, errs.Permission},
		{"unknown access key", func(c *s3.Config) { c.AccessKey = "nobody" }, errs.Permission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			d, err := s3.Open(ctx, cfg)
			if err == nil {
				d.Close()
			}
			if !errs.Is(err, tc.want) {
				t.Errorf("Open = %v (kind %v), want kind %v", err, errs.KindOf(err), tc.want)
			}
		})
	}
	// An http:// URL endpoint works.
	cfg := good
	cfg.Endpoint = "http://" + gw.endpoint
	openDriver(t, cfg).Close()
}

// TestServerDown checks that an unreachable server is errs.Transient, both
// at Open and for a driver whose server went away.
func TestServerDown(t *testing.T) {
	gw, err := startGateway(t, t.TempDir())
	if err != nil {
		t.Fatalf("versitygw: %v", err)
	}
	cfg := config(gw)
	d := openDriver(t, cfg)
	defer d.Close()
	ctx := context.Background()
	if err := d.Put(ctx, "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	gw.stop()

	start := time.Now()
	_, err = d.Stat(ctx, "k")
	wantTransient(t, "Stat", err)
	t.Logf("Stat against a stopped server failed after %v", time.Since(start).Round(time.Millisecond))
	wantTransient(t, "Put", d.Put(ctx, "k2", strings.NewReader("v"), 1))
	wantTransient(t, "Put unsized", d.Put(ctx, "k2", strings.NewReader("v"), -1))
	_, err = d.Get(ctx, "k", 0, -1)
	wantTransient(t, "Get", err)
	wantTransient(t, "Delete", d.Delete(ctx, "k"))
	wantTransient(t, "Move", d.Move(ctx, "k", "k3"))
	wantTransient(t, "List", d.List(ctx, "", func(blob.Attrs) error { return nil }))
	_, err = s3.Open(ctx, cfg)
	wantTransient(t, "Open", err)

	// The Store passes the kind through.
	_, err = blob.New(d).Put(ctx, strings.NewReader("data"), blob.PutOptions{Size: -1})
	wantTransient(t, "Store.Put", err)
}

func wantTransient(t *testing.T, what string, err error) {
	t.Helper()
	if !errs.Is(err, errs.Transient) {
		t.Errorf("%s with the server down = %v (kind %v), want Transient", what, err, errs.KindOf(err))
	}
}

// TestUnsizedPutMemory checks that a Put of unknown size does not buffer in
// proportion to the object (minio-go's default for size -1 is a 537 MiB
// part buffer).
func TestUnsizedPutMemory(t *testing.T) {
	gw := sharedGateway(t)
	cfg := config(gw)
	d := openDriver(t, cfg)
	const size = 48 << 20
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := d.Put(ctx, "big", io.LimitReader(zeroReader{}, size), -1); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("unsized Put of %d MiB allocated %d MiB in total (part size %d MiB)", size>>20, alloc>>20, cfg.PartSize>>20)
	if limit := uint64(8 * cfg.PartSize); alloc > limit {
		t.Errorf("unsized Put of %d MiB allocated %d MiB, more than %d MiB", size>>20, alloc>>20, limit>>20)
	}
	if a, err := d.Stat(ctx, "big"); err != nil || a.Size != size {
		t.Errorf("Stat = %+v, %v", a, err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
