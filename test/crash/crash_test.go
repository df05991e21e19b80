package crash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tusk-data/tusk/test/tusktest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	bucket      = "crash"
	writers     = 8
	maxObject   = 256 << 10
	deletePct   = 12 // percent of operations that are DeleteObject
	sharedPct   = 10 // percent of PUTs that send one of a few shared bodies (dedup path)
	minRounds   = 20
	roundBudget = 150 * time.Second // stop adding rounds (beyond minRounds) after this
)

// keyPool is every key a writer may touch: overwrites of the same keys are
// frequent, and some keys are nested.
var keyPool = func() []string {
	var ks []string
	for i := 0; i < 32; i++ {
		ks = append(ks, fmt.Sprintf("obj/%02d", i))
	}
	for i := 0; i < 8; i++ {
		ks = append(ks, fmt.Sprintf("deep/a/b/%d.bin", i))
	}
	return ks
}()

// sharedBodies are bodies many PUTs send, so that content already stored
// (perhaps by a write cut by a kill) is deduplicated.
var sharedBodies = func() [][]byte {
	var bs [][]byte
	rng := rand.NewChaCha8([32]byte{'s', 'h', 'a', 'r', 'e', 'd'})
	for _, n := range []int{0, 1, 4096, 100 << 10, maxObject} {
		b := make([]byte, n)
		rng.Read(b)
		bs = append(bs, b)
	}
	return bs
}()

// ack is a PutObject that got a 200 with a version id.
type ack struct {
	key, version, sha, md5 string
	size                   int64
	round                  int
}

// delAck is a DeleteObject that got a 2xx naming the delete marker's commit.
type delAck struct {
	key, version string
	round        int
}

// state is everything the clients know across rounds.
type state struct {
	mu        sync.Mutex
	attempted map[string]map[string]bool // key -> MD5s of every body ever sent for it ("" for a delete)
	acks      []ack
	dels      []delAck
	checked   int             // acks[:checked] were verified after an earlier restart
	seen      map[string]bool // key\x00version of content versions already read back
	failed    int             // writes that got no answer (cut by the kill)
}

func newState() *state {
	return &state{attempted: map[string]map[string]bool{}, seen: map[string]bool{}}
}

func (s *state) attempt(key, md5hex string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.attempted[key]
	if m == nil {
		m = map[string]bool{}
		s.attempted[key] = m
	}
	m[md5hex] = true
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

// startServer runs `tusk serve` on dataDir on a random port and waits until
// it logs that it is listening (the store opened cleanly).
func startServer(t *testing.T, bin, dataDir, logFile string, extra ...string) *proc {
	t.Helper()
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--log-format", "json", "--min-free", "1048576", "--shutdown-timeout", "5s"}, extra...)...)
	cmd.Env = append(os.Environ(), "TUSK_ACCESS_KEY="+accessKey, "TUSK_SECRET_KEY="+secretKey)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logFile, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); lf.Close() }()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr, bad := listeningAddr(logFile); addr != "" {
			if bad != "" {
				t.Errorf("tusk serve logged trouble while opening the store:\n%s", bad)
			}
			p.url = "http://" + addr
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("tusk serve exited before listening (%v); log:\n%s", err, tail(logFile, 40))
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("tusk serve did not listen within 30s; log:\n%s", tail(logFile, 40))
	return nil
}

// listeningAddr finds the "tusk listening" log line and returns its addr,
// with the lines before it logged at warn level or above (or not JSON).
func listeningAddr(logFile string) (addr, bad string) {
	f, err := os.Open(logFile)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var trouble []string
	for sc.Scan() {
		var l struct {
			Level string `json:"level"`
			Msg   string `json:"message"`
			Addr  string `json:"addr"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			trouble = append(trouble, sc.Text())
			continue
		}
		if l.Msg == "tusk listening" && l.Addr != "" {
			return l.Addr, strings.Join(trouble, "\n")
		}
		if l.Level != "info" && l.Level != "debug" {
			trouble = append(trouble, sc.Text())
		}
	}
	return "", ""
}

func tail(file string, n int) string {
	b, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kill SIGKILLs the server (idempotent) and waits for it to be gone.
func (p *proc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.done
	p.done <- err
}

// stop sends SIGTERM and returns the exit error (nil for a clean exit).
func (p *proc) stop(timeout time.Duration) error {
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

// TestCrashRecovery kills `tusk serve -9` in the middle of concurrent
// writes, round after round on one data directory, and checks after every
// restart that acknowledged writes survived and nothing partial is visible.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and restarts the server many times")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("TUSK_CRASH_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	rounds, least := 40, minRounds
	if v := os.Getenv("TUSK_CRASH_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
		least = min(least, rounds)
	}
	t.Logf("seed %d (set TUSK_CRASH_SEED to replay the schedule), %d rounds", seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 0x7475736b))

	bin := tuskBinary(t)
	dataDir := t.TempDir()
	logDir := t.TempDir()
	st := newState()
	start := time.Now()

	done := 0
	for r := 0; r < rounds; r++ {
		if r >= least && time.Since(start) > roundBudget {
			t.Logf("time budget reached after %d rounds", r)
			break
		}
		p := startServer(t, bin, dataDir, filepath.Join(logDir, fmt.Sprintf("round-%02d.log", r)))
		c := newClient(p.url, accessKey, secretKey)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		if r == 0 {
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
				t.Fatalf("CreateBucket: %v", err)
			}
		} else {
			verify(ctx, t, c, st, false)
			if t.Failed() {
				cancel()
				t.Fatalf("round %d: verification after restart failed; server log tail:\n%s", r, tail(p.log, 20))
			}
		}
		before, beforeDels, beforeFailed := len(st.acks), len(st.dels), st.failed
		killAfter := time.Duration(100+rng.IntN(501)) * time.Millisecond
		runWriters(ctx, t, c, st, r, rng.Uint64(), killAfter, p)
		cancel()
		t.Logf("round %2d: killed after %v: %3d PUTs acknowledged, %2d deletes acknowledged, %d writes cut (%v elapsed)",
			r, killAfter, len(st.acks)-before, len(st.dels)-beforeDels, st.failed-beforeFailed, time.Since(start).Round(time.Millisecond))
		done++
	}
	if done < least {
		t.Fatalf("only %d rounds ran, want at least %d", done, least)
	}

	// Final restart: everything from every round, read back again.
	p := startServer(t, bin, dataDir, filepath.Join(logDir, "final.log"))
	c := newClient(p.url, accessKey, secretKey)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nv := verify(ctx, t, c, st, true)
	if err := p.stop(20 * time.Second); err != nil {
		t.Errorf("tusk serve did not shut down cleanly after SIGTERM: %v\n%s", err, tail(p.log, 20))
	}
	if t.Failed() {
		t.Logf("final server log tail:\n%s", tail(p.log, 20))
	}
	t.Logf("%d crash rounds; %d acknowledged PUTs and %d acknowledged deletes verified after the final restart; "+
		"%d writes were cut by kills; %d versions listed and read back; total %v",
		done, len(st.acks), len(st.dels), st.failed, nv, time.Since(start).Round(time.Millisecond))
}

// runWriters runs the writers until the server is SIGKILLed killAfter from
// now, and records what was acknowledged.
func runWriters(ctx context.Context, t *testing.T, c *s3.Client, st *state, round int, seed uint64, killAfter time.Duration, p *proc) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writer(ctx, t, c, st, round, rand.New(rand.NewPCG(seed, uint64(w))), &stop)
		}()
	}
	// Not a wait for an event: the kill lands at a random moment of the
	// writes, which is what the crash test is about.
	time.Sleep(killAfter)
	stop.Store(true) // no new requests; those in flight are cut by the kill
	p.kill()
	wg.Wait()
}

func writer(ctx context.Context, t *testing.T, c *s3.Client, st *state, round int, rng *rand.Rand, stop *atomic.Bool) {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	content := rand.NewChaCha8(seed)
	buf := make([]byte, maxObject)
	for !stop.Load() {
		key := keyPool[rng.IntN(len(keyPool))]
		if rng.IntN(100) < deletePct {
			// A delete is a version (a delete marker) even of an absent key.
			st.attempt(key, "")
			out, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			answered(t, "DeleteObject "+key, err)
			st.mu.Lock()
			if err != nil {
				st.failed++
			} else if v := aws.ToString(out.VersionId); v != "" {
				st.dels = append(st.dels, delAck{key: key, version: v, round: round})
			}
			st.mu.Unlock()
			continue
		}
		var body []byte
		if rng.IntN(100) < sharedPct {
			body = sharedBodies[rng.IntN(len(sharedBodies))]
		} else {
			body = buf[:rng.IntN(maxObject+1)]
			content.Read(body)
		}
		ms, ss := md5.Sum(body), sha256.Sum256(body)
		a := ack{key: key, md5: hex.EncodeToString(ms[:]), sha: hex.EncodeToString(ss[:]), size: int64(len(body)), round: round}
		st.attempt(key, a.md5)
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(a.size)})
		if err != nil {
			answered(t, "PutObject "+key, err)
			st.mu.Lock()
			st.failed++
			st.mu.Unlock()
			continue
		}
		a.version = aws.ToString(out.VersionId)
		if a.version == "" {
			t.Errorf("PutObject %s answered 200 without x-amz-version-id", key)
			continue
		}
		if e := unquote(aws.ToString(out.ETag)); e != a.md5 {
			t.Errorf("PutObject %s: ETag %s, want MD5 %s", key, e, a.md5)
		}
		st.mu.Lock()
		st.acks = append(st.acks, a)
		st.mu.Unlock()
	}
}

// answered fails the test when a write's error is an answer of the server
// (an HTTP error status) rather than the connection being cut by the kill:
// the server must never refuse these writes.
func answered(t *testing.T, what string, err error) {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		t.Errorf("%s: the server answered with an error (not a cut connection): %v", what, err)
	}
}

// verify checks the store after a restart. With full, every acknowledged
// PUT of every round and every listed version is read back; otherwise only
// what was not verified after an earlier restart. It returns the number of
// versions listed.
func verify(ctx context.Context, t *testing.T, c *s3.Client, st *state, full bool) int {
	t.Helper()
	// The admin key still works, and a wrong secret does not.
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Errorf("ListBuckets with the admin key after restart: %v", err)
		return 0
	}
	if !slices.ContainsFunc(lb.Buckets, func(b types.Bucket) bool { return aws.ToString(b.Name) == bucket }) {
		t.Errorf("ListBuckets after restart does not list %q", bucket)
	}
	bad := newClient(strings.TrimSuffix(aws.ToString(c.Options().BaseEndpoint), "/"), accessKey, secretKey+"x")
	if _, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
		t.Errorf("ListBuckets with a wrong secret succeeded")
	} else if code := errorCode(err); code != "SignatureDoesNotMatch" && code != "AccessDenied" {
		t.Errorf("ListBuckets with a wrong secret: %v, want SignatureDoesNotMatch", err)
	}

	// 1. Every acknowledged PUT reads back byte for byte at its version.
	from := st.checked
	if full {
		from = 0
	}
	todo := st.acks[from:]
	parallel(len(todo), func(i int) {
		a := todo[i]
		size, _, sha, v, _, err := getVersion(ctx, c, bucket, a.key, a.version)
		switch {
		case err != nil:
			t.Errorf("LOST: acknowledged PUT %s version %s (round %d, %d bytes): GetObject: %v", a.key, a.version, a.round, a.size, err)
		case sha != a.sha || size != a.size:
			t.Errorf("CORRUPT: acknowledged PUT %s version %s (round %d): read %d bytes sha256 %s, want %d bytes %s",
				a.key, a.version, a.round, size, sha, a.size, a.sha)
		case v != a.version:
			t.Errorf("GetObject %s versionId %s answered x-amz-version-id %q", a.key, a.version, v)
		}
	})
	st.checked = len(st.acks)

	// 2. Every listed version is whole (MD5 of its body = its ETag), is the
	// body of some write to that key, and every acknowledgement is listed.
	var vers []ver
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("ListObjectVersions: %v", err)
			return len(vers)
		}
		for _, v := range page.Versions {
			vers = append(vers, ver{key: aws.ToString(v.Key), version: aws.ToString(v.VersionId),
				etag: unquote(aws.ToString(v.ETag)), size: aws.ToInt64(v.Size), latest: aws.ToBool(v.IsLatest)})
		}
		for _, d := range page.DeleteMarkers {
			vers = append(vers, ver{key: aws.ToString(d.Key), version: aws.ToString(d.VersionId),
				marker: true, latest: aws.ToBool(d.IsLatest)})
		}
	}
	listed := map[string]bool{}
	markers := map[string]bool{}
	var toRead []ver
	for _, v := range vers {
		id := v.key + "\x00" + v.version
		if st.attempted[v.key] == nil {
			t.Errorf("PHANTOM: ListObjectVersions lists key %q that no writer ever wrote or deleted", v.key)
			continue
		}
		if v.marker {
			markers[id] = true
			continue
		}
		listed[id] = true
		if !st.attempted[v.key][v.etag] {
			t.Errorf("PHANTOM: version %s of %q has ETag %s, the MD5 of no body ever sent for that key", v.version, v.key, v.etag)
		}
		if full || !st.seen[id] {
			toRead = append(toRead, v)
		}
	}
	parallel(len(toRead), func(i int) {
		v := toRead[i]
		size, m, _, _, etag, err := getVersion(ctx, c, bucket, v.key, v.version)
		switch {
		case err != nil:
			t.Errorf("listed version %s of %q does not read back: %v", v.version, v.key, err)
		case m != v.etag || size != v.size || etag != v.etag:
			t.Errorf("HALF-WRITTEN: listed version %s of %q (ETag %s, %d bytes) reads back %d bytes with MD5 %s (GetObject ETag %s)",
				v.version, v.key, v.etag, v.size, size, m, etag)
		}
	})
	for _, v := range toRead {
		st.seen[v.key+"\x00"+v.version] = true
	}
	for _, a := range st.acks {
		if !listed[a.key+"\x00"+a.version] {
			t.Errorf("LOST: acknowledged PUT %s version %s (round %d) is missing from ListObjectVersions", a.key, a.version, a.round)
		}
	}
	for _, d := range st.dels {
		if !markers[d.key+"\x00"+d.version] {
			t.Errorf("LOST: acknowledged DeleteObject %s version %s (round %d) is not listed as a delete marker", d.key, d.version, d.round)
		}
	}

	// 3. The live listing: keys that were written, whole bodies, and exactly
	// the keys whose newest version is not a delete marker.
	newest := map[string]ver{}
	for _, v := range vers {
		if !v.latest {
			continue
		}
		if o, ok := newest[v.key]; ok {
			t.Errorf("key %q has two versions marked IsLatest: %s and %s", v.key, o.version, v.version)
		}
		newest[v.key] = v
	}
	for _, v := range vers {
		if _, ok := newest[v.key]; !ok {
			t.Errorf("key %q has versions but none is marked IsLatest", v.key)
			newest[v.key] = ver{key: v.key, version: "?", marker: true}
		}
	}
	live := map[string]string{}
	lp := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			t.Errorf("ListObjectsV2: %v", err)
			return len(vers)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if st.attempted[k] == nil {
				t.Errorf("PHANTOM: ListObjectsV2 lists key %q that no writer ever wrote", k)
			}
			live[k] = unquote(aws.ToString(o.ETag))
		}
	}
	keys := make([]string, 0, len(live))
	for k := range live {
		keys = append(keys, k)
	}
	parallel(len(keys), func(i int) {
		k := keys[i]
		_, m, _, _, etag, err := getVersion(ctx, c, bucket, k, "")
		if err != nil {
			t.Errorf("listed key %q does not read back: %v", k, err)
		} else if m != etag || m != live[k] {
			t.Errorf("HALF-WRITTEN: key %q listed with ETag %s reads back with MD5 %s (GetObject ETag %s)", k, live[k], m, etag)
		}
	})
	for k, v := range newest {
		_, isLive := live[k]
		if v.marker && isLive {
			t.Errorf("key %q is listed by ListObjectsV2 but its newest version %s is a delete marker", k, v.version)
		}
		if !v.marker && !isLive {
			t.Errorf("key %q is missing from ListObjectsV2 but its newest version %s is not a delete marker", k, v.version)
		}
		if !v.marker && isLive && live[k] != v.etag {
			t.Errorf("key %q: ListObjectsV2 ETag %s, newest version %s has ETag %s", k, live[k], v.version, v.etag)
		}
	}
	for k := range live {
		if _, ok := newest[k]; !ok {
			t.Errorf("key %q is listed by ListObjectsV2 but has no version in ListObjectVersions", k)
		}
	}
	return len(vers)
}

// ver is one entry of ListObjectVersions.
type ver struct {
	key, version, etag string
	size               int64
	marker, latest     bool
}

// parallel runs fn(0..n-1) on a few goroutines.
func parallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < max(2, runtime.NumCPU()*2); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
