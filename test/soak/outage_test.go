package soak

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/minio/minio-go/v7"
)

// vgw is a versitygw process (scripts/install-versitygw.sh) serving one
// directory on one loopback address, restartable on the same address.
type vgw struct {
	t              *testing.T
	bin, dir, addr string
	access, secret string
	cmd            *exec.Cmd
	done           chan struct{}
}

func startVGW(t *testing.T, access, secret string) *vgw {
	t.Helper()
	bin := os.Getenv("TUSK_VERSITYGW")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "tusk-test", "versitygw-v1.8.0", "versitygw")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("versitygw not found at %s (%v): run scripts/install-versitygw.sh", bin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	v := &vgw{t: t, bin: bin, dir: t.TempDir(), addr: l.Addr().String(), access: access, secret: secret}
	l.Close()
	v.start()
	t.Cleanup(v.kill)
	return v
}

// start runs versitygw and waits (bounded) until it answers.
func (v *vgw) start() {
	v.t.Helper()
	v.cmd = exec.Command(v.bin, "--access", v.access, "--secret", v.secret, "--port", v.addr, "--quiet", "posix", v.dir)
	var log bytes.Buffer
	v.cmd.Stdout, v.cmd.Stderr = &log, &log
	if err := v.cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	v.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(v.cmd, v.done)
	// versitygw tells of being ready only by answering: poll it, bounded.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-v.done:
			v.t.Fatalf("versitygw exited: %s", log.String())
		default:
		}
		if resp, err := http.Get("http://" + v.addr + "/"); err == nil {
			resp.Body.Close()
			return
		}
	}
	v.t.Fatalf("versitygw did not answer on %s", v.addr)
}

func (v *vgw) kill() {
	if v.cmd == nil {
		return
	}
	_ = v.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once continued
	_ = v.cmd.Process.Kill()
	<-v.done
	v.cmd = nil
}

func (v *vgw) signal(s syscall.Signal) {
	if err := v.cmd.Process.Signal(s); err != nil {
		v.t.Fatal(err)
	}
}

// is503 reports whether err is a 503 answer (ServiceUnavailable or
// SlowDown), with the Retry-After header it carried.
func is503(err error) (bool, string) {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 503 {
		return true, re.Response.Header.Get("Retry-After")
	}
	var me minio.ErrorResponse
	return errors.As(err, &me) && me.StatusCode == 503, ""
}

// TestBackendOutage: a gateway on the s3 backend (versitygw, --s3-timeout
// 1s) under a mixed load of 8 clients. The backing store is SIGKILLed for
// 8 s, then restarted on the same address and directory; later SIGSTOPped
// for 12 s and continued. While it is down, requests that need bytes are
// refused with 503 and nothing else (metadata-only ones, deletes and lists,
// go on); once it is back a PUT succeeds without restarting Tusk (same
// process) and, 5 s later, 3 s of load see no error; at the end the checker
// finds every acknowledged write byte-exact at its version id and nothing
// of a refused write.
func TestBackendOutage(t *testing.T) {
	const ak, sk = "outagebackendaccess", "outagebackendsecret1"
	v := startVGW(t, ak, sk)
	bin := tuskBin(t)
	dir := t.TempDir()
	p, err := StartTusk(bin, filepath.Join(dir, "data"), filepath.Join(dir, "serve.log"), "--backend", "s3",
		"--s3-endpoint", "http://"+v.addr, "--s3-bucket", "tusk-blobs", "--s3-region", "us-east-1",
		"--s3-access-key", ak, "--s3-secret-key", sk, "--s3-timeout", "1s")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	pid := p.Pid()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl := NewClient(p.URL)
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("outage")}); err != nil {
		t.Fatal(err)
	}
	m := NewModel("outage")
	main := m.Branch("main")
	st := newStats()
	var gate sync.RWMutex
	var down atomic.Bool // the backend is down (or just back): cut reads allowed
	var retryAfter atomic.Value
	retryAfter.Store("")
	mc, err := NewMinio(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	l := &load{m: m, c: cl, mc: mc, st: st, gate: &gate, maxSize: 256 << 10,
		mix: Mix{Put: 50, Get: 10, GetVersion: 15, List: 5, Delete: 5, DeleteObjects: 5, Copy: 10},
		okErr: func(err error) bool {
			if ok, ra := is503(err); ok {
				if ra != "" {
					retryAfter.Store(ra)
				}
				return true
			}
			return down.Load() && !answered(err)
		}}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		l.run(ctx, 8, seed(t), &stop)
		close(done)
	}()
	defer func() { stop.Store(true); <-done }()

	// phase runs the load for d and returns what was acknowledged and
	// refused with 503 meanwhile.
	phase := func(d time.Duration) (ok, refused int64) {
		o0, e0 := st.Ops()
		time.Sleep(d) // the load runs for a while: not a wait for an event
		o1, e1 := st.Ops()
		for k, n := range o1 {
			ok += n - o0[k]
		}
		for k, n := range e1 {
			refused += n - e0[k]
		}
		return ok, refused
	}
	// probe PUTs one payload through the model and returns the answer.
	content := rand.NewChaCha8([32]byte{7})
	var pmu sync.Mutex
	probe := func() error {
		pmu.Lock()
		body, sha := makePayload(content, main.keys[0], 100)
		pmu.Unlock()
		w := m.begin(main, "put", main.keys[0], false, sha, int64(len(body)))
		out, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("outage"), Key: aws.String(main.keys[0]), Body: bytes.NewReader(body)})
		var ver string
		if err == nil {
			ver = aws.ToString(out.VersionId)
		}
		m.end(w, ver, err)
		return err
	}
	// recover probes until a PUT is acknowledged and returns how long it took.
	recover := func(what string) time.Duration {
		start := time.Now()
		for time.Since(start) < 60*time.Second {
			err := probe()
			if err == nil {
				return time.Since(start)
			}
			if ok, _ := is503(err); !ok {
				t.Errorf("%s: a PUT while the store recovers: %v, want 503 or success", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: no PUT succeeded within 60s", what)
		return 0
	}

	if ok, bad := phase(3 * time.Second); bad > 0 || ok == 0 {
		t.Fatalf("before the outage: %d operations, %d errors (%s)", ok, bad, formatCounts(st.errors, 0))
	}
	for _, tc := range []struct {
		name     string
		down, up func()
		outage   time.Duration
	}{
		{"SIGKILL and restart", func() { v.kill() }, func() { v.start() }, 8 * time.Second},
		{"SIGSTOP and SIGCONT", func() { v.signal(syscall.SIGSTOP) }, func() { v.signal(syscall.SIGCONT) }, 12 * time.Second},
	} {
		down.Store(true)
		tc.down()
		probed := make(chan error, 1)
		var probeTook time.Duration
		go func() {
			start := time.Now()
			err := probe()
			probeTook = time.Since(start)
			probed <- err
		}()
		ok, refused := phase(tc.outage)
		perr := <-probed
		if ok, _ := is503(perr); !ok {
			t.Errorf("%s: a PUT once the store is down: %v, want 503", tc.name, perr)
		}
		t.Logf("%s: a PUT once the store went down answered %v after %v", tc.name, errCode(perr), probeTook.Round(time.Millisecond))
		_, errs := st.Ops()
		tc.up()
		took := recover(tc.name)
		// Requests begun during the outage may still be answered 503 (or be
		// cut) for a moment (at most one stall bound and a retry); after 5 s
		// nothing fails.
		time.Sleep(5 * time.Second)
		down.Store(false)
		okAfter, badAfter := phase(3 * time.Second)
		t.Logf("%s: during %v of outage %d operations answered (metadata-only ones), %d refused; recovered %v after the store was back; then %d operations, %d errors",
			tc.name, tc.outage, ok, refused, took.Round(time.Millisecond), okAfter, badAfter)
		t.Logf("%s: errors so far: %s", tc.name, formatCounts(errs, 0))
		if refused == 0 {
			t.Errorf("%s: no request was refused while the store was down", tc.name)
		}
		if okAfter == 0 || badAfter > 0 {
			t.Errorf("%s: after recovery %d operations and %d errors", tc.name, okAfter, badAfter)
		}
		if !p.Alive() || p.Pid() != pid {
			t.Fatalf("%s: tusk serve did not survive the outage", tc.name)
		}
	}
	stop.Store(true)
	<-done
	stop.Store(false)
	ck := &checker{m: m, c: cl, rng: rand.New(rand.NewPCG(1, 1)), full: true}
	ck.branch(ctx, main)
	ops, errs := st.Ops()
	vs, kinds := m.Violations()
	t.Logf("ops %s; errors %s; %d acknowledged writes, %d versions read back; Retry-After on 503s: %q",
		formatCounts(ops, 0), formatCounts(errs, 0), m.nacked, ck.versionsRead.Load(), retryAfter.Load())
	for _, v := range vs {
		t.Errorf("%s", v)
	}
	if len(vs) == 0 && len(kinds) > 0 {
		t.Errorf("violations %v", kinds)
	}
	if err := p.Stop(20 * time.Second); err != nil {
		t.Errorf("tusk serve did not stop cleanly: %v", err)
	}
}
