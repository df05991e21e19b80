package blobtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
)

// Run runs the conformance suite. newDriver must return a fresh driver with
// no keys, usable until the end of the (sub)test it is given; Run closes
// each driver it gets.
func Run(t *testing.T, newDriver func(t *testing.T) blob.Driver) {
	open := func(t *testing.T) blob.Driver {
		t.Helper()
		d := newDriver(t)
		t.Cleanup(func() {
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return d
	}
	driverTests := []struct {
		name string
		fn   func(*testing.T, blob.Driver)
	}{
		{"PutGetStatDelete", testPutGetStatDelete},
		{"Overwrite", testOverwrite},
		{"Range", testRange},
		{"Absent", testAbsent},
		{"BadKeys", testBadKeys},
		{"ReaderError", testReaderError},
		{"SizeMismatch", testSizeMismatch},
		{"Cancelled", testCancelled},
		{"Move", testMove},
		{"List", testList},
		{"Large", testLarge},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Compose", testDriverCompose},
	}
	for _, tc := range driverTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	storeTests := []struct {
		name string
		fn   func(*testing.T, blob.Driver)
	}{
		{"PutOpen", testStorePutOpen},
		{"Empty", testStoreEmpty},
		{"Dedup", testStoreDedup},
		{"ConcurrentDedup", testStoreConcurrentDedup},
		{"VerifyReject", testStoreVerifyReject},
		{"IncompleteBody", testStoreIncompleteBody},
		{"ReaderError", testStoreReaderError},
		{"Cancelled", testStoreCancelled},
		{"BadHash", testStoreBadHash},
		{"Absent", testStoreAbsent},
		{"List", testStoreList},
		{"CleanTemp", testStoreCleanTemp},
		{"Large", testStoreLarge},
		{"Compose", testStoreCompose},
		{"ComposeByCopy", testStoreComposeByCopy},
	}
	for _, tc := range storeTests {
		t.Run("Store/"+tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// ctxFor returns a context that ends with the test, bounded in time.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// data returns n deterministic pseudo-random bytes.
func data(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// genReader streams n deterministic pseudo-random bytes without holding
// them.
type genReader struct {
	rng  *rand.ChaCha8
	left int64
}

func newGen(seed byte, n int64) *genReader {
	var s [32]byte
	s[0] = seed
	return &genReader{rng: rand.NewChaCha8(s), left: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.rng.Read(p)
	g.left -= int64(n)
	return n, nil
}

var errBoom = errors.New("blobtest: reader failed on purpose")

// failingReader yields good bytes, then fails.
type failingReader struct {
	good []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.good) == 0 {
		return 0, r.err
	}
	n := copy(p, r.good)
	r.good = r.good[n:]
	return n, nil
}

// onlyReader hides every method but Read (no WriterTo, no Seeker), like a
// network body.
type onlyReader struct{ r io.Reader }

func (r onlyReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func put(t *testing.T, d blob.Driver, key string, b []byte) {
	t.Helper()
	if err := d.Put(ctxFor(t), key, onlyReader{bytes.NewReader(b)}, int64(len(b))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, d blob.Driver, key string, off, length int64) []byte {
	t.Helper()
	rc, err := d.Get(ctxFor(t), key, off, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", key, off, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): reading: %v", key, off, length, err)
	}
	return b
}

func wantKind(t *testing.T, what string, err error, k errs.Kind) {
	t.Helper()
	if !errs.Is(err, k) {
		t.Errorf("%s: got error %v (kind %v), want kind %v", what, err, errs.KindOf(err), k)
	}
}

func wantAbsent(t *testing.T, d blob.Driver, key string) {
	t.Helper()
	_, err := d.Stat(ctxFor(t), key)
	wantKind(t, fmt.Sprintf("Stat(%q)", key), err, errs.NotExist)
}

// list returns the attributes under prefix, sorted by key.
func list(t *testing.T, d blob.Driver, prefix string) []blob.Attrs {
	t.Helper()
	var mu sync.Mutex
	var out []blob.Attrs
	err := d.List(ctxFor(t), prefix, func(a blob.Attrs) error {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, a)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	slices.SortFunc(out, func(a, b blob.Attrs) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func keys(as []blob.Attrs) []string {
	var ks []string
	for _, a := range as {
		ks = append(ks, a.Key)
	}
	return ks
}

func testPutGetStatDelete(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	b := data(1, 3000)
	before := time.Now().Add(-time.Minute)
	put(t, d, "a/b/c", b)
	if got := get(t, d, "a/b/c", 0, -1); !bytes.Equal(got, b) {
		t.Fatalf("Get returned %d bytes, want the %d put", len(got), len(b))
	}
	a, err := d.Stat(ctx, "a/b/c")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if a.Key != "a/b/c" || a.Size != int64(len(b)) {
		t.Errorf("Stat = %+v, want key a/b/c size %d", a, len(b))
	}
	if a.ModTime.Before(before) || a.ModTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("Stat ModTime %v is not about now", a.ModTime)
	}
	// Unknown size and an empty object.
	if err := d.Put(ctx, "unsized", onlyReader{bytes.NewReader(b)}, -1); err != nil {
		t.Fatalf("Put size -1: %v", err)
	}
	if got := get(t, d, "unsized", 0, -1); !bytes.Equal(got, b) {
		t.Errorf("Get(unsized) returned %d bytes, want %d", len(got), len(b))
	}
	for _, size := range []int64{0, -1} {
		if err := d.Put(ctx, "empty", onlyReader{bytes.NewReader(nil)}, size); err != nil {
			t.Fatalf("Put empty size %d: %v", size, err)
		}
		if got := get(t, d, "empty", 0, -1); len(got) != 0 {
			t.Errorf("Get(empty) = %d bytes", len(got))
		}
		if a, err := d.Stat(ctx, "empty"); err != nil || a.Size != 0 {
			t.Errorf("Stat(empty) = %+v, %v", a, err)
		}
	}
	if err := d.Delete(ctx, "a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantAbsent(t, d, "a/b/c")
	_, err = d.Get(ctx, "a/b/c", 0, -1)
	wantKind(t, "Get after Delete", err, errs.NotExist)
	if err := d.Delete(ctx, "a/b/c"); err != nil {
		t.Errorf("second Delete: %v, want nil", err)
	}
}

func testOverwrite(t *testing.T, d blob.Driver) {
	put(t, d, "k", []byte("first version, rather long"))
	put(t, d, "k", []byte("second"))
	if got := get(t, d, "k", 0, -1); string(got) != "second" {
		t.Errorf("after overwrite Get = %q, want %q", got, "second")
	}
	a, err := d.Stat(ctxFor(t), "k")
	if err != nil || a.Size != 6 {
		t.Errorf("Stat after overwrite = %+v, %v; want size 6", a, err)
	}
}

func testRange(t *testing.T, d blob.Driver) {
	b := data(2, 1000)
	put(t, d, "r", b)
	put(t, d, "r0", nil)
	for _, tc := range []struct {
		name        string
		key         string
		off, length int64
		want        []byte // nil: expect errs.Invalid
	}{
		{"start", "r", 0, 10, b[:10]},
		{"middle", "r", 100, 50, b[100:150]},
		{"to end", "r", 900, -1, b[900:]},
		{"whole", "r", 0, -1, b},
		{"whole by length", "r", 0, 1000, b},
		{"zero length", "r", 5, 0, []byte{}},
		{"last byte", "r", 999, 1, b[999:]},
		{"length past end", "r", 990, 100, b[990:]},
		{"at end", "r", 1000, -1, []byte{}},
		{"at end zero length", "r", 1000, 0, []byte{}},
		{"past end", "r", 1001, -1, nil},
		{"far past end", "r", 5000, 10, nil},
		{"empty object whole", "r0", 0, -1, []byte{}},
		{"empty object zero length", "r0", 0, 0, []byte{}},
		{"empty object past end", "r0", 1, -1, nil},
		{"negative offset", "r", -1, 10, nil},
		{"bad length", "r", 0, -2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil {
				rc, err := d.Get(ctxFor(t), tc.key, tc.off, tc.length)
				if err == nil {
					rc.Close()
				}
				wantKind(t, "Get", err, errs.Invalid)
				return
			}
			if got := get(t, d, tc.key, tc.off, tc.length); !bytes.Equal(got, tc.want) {
				t.Errorf("Get(%d, %d) = %d bytes, want %d", tc.off, tc.length, len(got), len(tc.want))
			}
		})
	}
}

func testAbsent(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	put(t, d, "present/x", []byte("x"))
	for _, key := range []string{"nope", "present/nope", "present/x/below", "nope/deeper/still"} {
		_, err := d.Get(ctx, key, 0, -1)
		wantKind(t, "Get "+key, err, errs.NotExist)
		_, err = d.Stat(ctx, key)
		wantKind(t, "Stat "+key, err, errs.NotExist)
		wantKind(t, "Move "+key, d.Move(ctx, key, "dst"), errs.NotExist)
		if err := d.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) = %v, want nil", key, err)
		}
	}
	// A "directory" is not a key.
	_, err := d.Stat(ctx, "present")
	wantKind(t, "Stat of a key prefix", err, errs.NotExist)
	if got := list(t, d, "nope/"); len(got) != 0 {
		t.Errorf("List(nope/) = %v, want nothing", keys(got))
	}
	wantAbsent(t, d, "dst")
}

// BadKeys is the list of keys every driver must refuse.
var BadKeys = []string{
	"",
	"/abs",
	"/",
	"..",
	"../x",
	"a/../b",
	"a/..",
	"a..b",
	"a//b",
	"a\\b",
	"a\x00b",
	"\xff\xfe",
	"a/\xc3",
	"a/",
	".",
	"./a",
	"a/./b",
	"a/.",
	strings.Repeat("k", blob.MaxKeyLen+1),
}

func testBadKeys(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	put(t, d, "good", []byte("g"))
	for _, key := range BadKeys {
		t.Run(fmt.Sprintf("%.20q", key), func(t *testing.T) {
			wantKind(t, "Put", d.Put(ctx, key, bytes.NewReader([]byte("x")), 1), errs.Invalid)
			wantKind(t, "Put unsized", d.Put(ctx, key, bytes.NewReader([]byte("x")), -1), errs.Invalid)
			rc, err := d.Get(ctx, key, 0, -1)
			if err == nil {
				rc.Close()
			}
			wantKind(t, "Get", err, errs.Invalid)
			_, err = d.Stat(ctx, key)
			wantKind(t, "Stat", err, errs.Invalid)
			wantKind(t, "Delete", d.Delete(ctx, key), errs.Invalid)
			wantKind(t, "Move from", d.Move(ctx, key, "elsewhere"), errs.Invalid)
			wantKind(t, "Move to", d.Move(ctx, "good", key), errs.Invalid)
		})
	}
	for _, prefix := range []string{"/", "../", "a/../", "a//", "a\\", "a\x00", "\xff"} {
		err := d.List(ctx, prefix, func(blob.Attrs) error { return nil })
		wantKind(t, fmt.Sprintf("List(%q)", prefix), err, errs.Invalid)
	}
	if got := keys(list(t, d, "")); !slices.Equal(got, []string{"good"}) {
		t.Errorf("after refused writes List = %q, want only [good]", got)
	}
	if got := get(t, d, "good", 0, -1); string(got) != "g" {
		t.Errorf("good = %q after refused moves", got)
	}
}

func testReaderError(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	put(t, d, "kept", []byte("old"))
	for _, tc := range []struct {
		name string
		key  string
		good int
		size int64
	}{
		{"new key unsized", "fresh", 1000, -1},
		{"new key sized", "fresh", 1000, 5000},
		{"new key immediately", "fresh", 0, -1},
		{"new key after a large prefix", "fresh", 3 << 20, -1},
		{"existing key", "kept", 1000, -1},
		{"existing key sized", "kept", 1000, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &failingReader{good: data(3, tc.good), err: errBoom}
			err := d.Put(ctx, tc.key, r, tc.size)
			if !errors.Is(err, errBoom) {
				t.Errorf("Put = %v, want the reader's error wrapped", err)
			}
			if tc.key == "kept" {
				if got := get(t, d, "kept", 0, -1); string(got) != "old" {
					t.Errorf("existing key = %q after failed Put, want %q", got, "old")
				}
			} else {
				wantAbsent(t, d, tc.key)
			}
		})
	}
	if got := keys(list(t, d, "")); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("after failed Puts List = %q, want [kept]", got)
	}
}

func testSizeMismatch(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	for _, tc := range []struct {
		name string
		n    int
		size int64
	}{
		{"short", 3, 5},
		{"long", 6, 5},
		{"empty but sized", 0, 5},
		{"nonempty but sized zero", 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.Put(ctx, "m", onlyReader{bytes.NewReader(data(4, tc.n))}, tc.size)
			wantKind(t, "Put", err, errs.Invalid)
			if r := errs.ReasonOf(err); r != errs.IncompleteBody {
				t.Errorf("Put error reason = %q, want IncompleteBody", r)
			}
			wantAbsent(t, d, "m")
		})
	}
}

// cancelReader cancels its context after the first n bytes of r and then
// streams on without end, so that a Put can only finish by noticing the
// cancellation (no timing decides the outcome). After maxAfterCancel bytes
// more it gives up with errCancelIgnored and records it: a driver that never
// looks at its context fails the test instead of hanging it.
type cancelReader struct {
	r       io.Reader
	n       int
	cancel  context.CancelFunc
	after   int64
	ignored atomic.Bool
}

// maxAfterCancel is far more than any driver buffers before it looks at its
// context again (a few parts).
const maxAfterCancel = 256 << 20

var errCancelIgnored = errors.New("blobtest: the Put read 256 MiB after its context was cancelled")

func (c *cancelReader) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	if c.n > 0 {
		n, err := c.r.Read(p[:min(len(p), c.n)])
		c.n -= n
		if c.n <= 0 {
			c.cancel()
		}
		if err == io.EOF {
			err = nil // the endless tail follows
		}
		return n, err
	}
	if c.after >= maxAfterCancel {
		c.ignored.Store(true)
		return 0, errCancelIgnored
	}
	clear(p)
	c.after += int64(len(p))
	return len(p), nil
}

// putCancelledMidway puts from a cancelReader that cancels ctx after n
// bytes: the Put must fail, by noticing the cancellation.
func putCancelledMidway(t *testing.T, seed byte, n int, put func(ctx context.Context, r io.Reader) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	r := &cancelReader{r: newGen(seed, 8<<20), n: n, cancel: cancel}
	if err := put(ctx, r); err == nil {
		t.Errorf("Put cancelled midway succeeded")
	}
	if r.ignored.Load() {
		t.Errorf("Put cancelled midway read %d bytes after the cancellation without stopping", maxAfterCancel)
	}
}

func testCancelled(t *testing.T, d blob.Driver) {
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	if err := d.Put(ctx, "c", bytes.NewReader([]byte("x")), 1); err == nil {
		t.Errorf("Put with a cancelled context succeeded")
	}
	wantAbsent(t, d, "c")

	putCancelledMidway(t, 5, 1<<20, func(ctx context.Context, r io.Reader) error { return d.Put(ctx, "c", r, -1) })
	wantAbsent(t, d, "c")
}

func testMove(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	b := data(6, 2000)
	put(t, d, "src/one", b)
	if err := d.Move(ctx, "src/one", "deep/new/dir/dst"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	wantAbsent(t, d, "src/one")
	if got := get(t, d, "deep/new/dir/dst", 0, -1); !bytes.Equal(got, b) {
		t.Errorf("moved content differs")
	}
	// Move replaces an existing destination.
	put(t, d, "src/two", []byte("two"))
	if err := d.Move(ctx, "src/two", "deep/new/dir/dst"); err != nil {
		t.Fatalf("Move over existing: %v", err)
	}
	if got := get(t, d, "deep/new/dir/dst", 0, -1); string(got) != "two" {
		t.Errorf("after Move over existing, dst = %q", got)
	}
	wantAbsent(t, d, "src/two")
	wantKind(t, "Move absent", d.Move(ctx, "src/two", "x"), errs.NotExist)
	wantAbsent(t, d, "x")
	if got := keys(list(t, d, "")); !slices.Equal(got, []string{"deep/new/dir/dst"}) {
		t.Errorf("List after moves = %q", got)
	}
}

func testList(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	all := map[string]int{"list/a": 1, "list/b/c": 2, "list/b/d": 3, "listx/e": 4, "other/f": 5, "top": 6}
	for k, n := range all {
		put(t, d, k, data(7, n))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"list/a", "list/b/c", "list/b/d", "listx/e", "other/f", "top"}},
		{"list/", []string{"list/a", "list/b/c", "list/b/d"}},
		{"list", []string{"list/a", "list/b/c", "list/b/d", "listx/e"}},
		{"list/b/", []string{"list/b/c", "list/b/d"}},
		{"list/b/c", []string{"list/b/c"}},
		{"list/b/c/", nil},
		{"li", []string{"list/a", "list/b/c", "list/b/d", "listx/e"}},
		{"t", []string{"top"}},
		{"nothing/", nil},
	} {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			got := list(t, d, tc.prefix)
			if !slices.Equal(keys(got), tc.want) {
				t.Fatalf("List(%q) = %q, want %q", tc.prefix, keys(got), tc.want)
			}
			for _, a := range got {
				if a.Size != int64(all[a.Key]) {
					t.Errorf("List(%q): %s has size %d, want %d", tc.prefix, a.Key, a.Size, all[a.Key])
				}
				if a.ModTime.IsZero() {
					t.Errorf("List(%q): %s has no ModTime", tc.prefix, a.Key)
				}
			}
		})
	}
	calls := 0
	errStop := errors.New("stop here")
	err := d.List(ctx, "", func(blob.Attrs) error { calls++; return errStop })
	if err != errStop || calls != 1 {
		t.Errorf("List with failing fn = %v after %d calls, want fn's error after 1", err, calls)
	}
}

func testLarge(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	want := sha256.New()
	start := time.Now()
	src := io.TeeReader(newGen(8, largeSize), want)
	if err := d.Put(ctx, "large", src, -1); err != nil {
		t.Fatalf("Put %d MiB: %v", largeSize>>20, err)
	}
	put := time.Since(start)
	a, err := d.Stat(ctx, "large")
	if err != nil || a.Size != largeSize {
		t.Fatalf("Stat = %+v, %v; want size %d", a, err, largeSize)
	}
	start = time.Now()
	rc, err := d.Get(ctx, "large", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	if err != nil || n != largeSize {
		t.Fatalf("reading back: %d bytes, %v", n, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("SHA-256 of the %d MiB read back differs from what was put", largeSize>>20)
	}
	t.Logf("%d MiB: put %v, get+hash %v", largeSize>>20, put.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	// A range deep inside.
	off := int64(largeSize - 3<<20 - 7)
	rc, err = d.Get(ctx, "large", off, 1<<20)
	if err != nil {
		t.Fatalf("Get range: %v", err)
	}
	part, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(8, largeSize)
	if _, err := io.CopyN(io.Discard, g, off); err != nil {
		t.Fatal(err)
	}
	wantPart := make([]byte, 1<<20)
	if _, err := io.ReadFull(g, wantPart); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part, wantPart) {
		t.Errorf("range read deep inside the large object differs")
	}
}

func testConcurrentPuts(t *testing.T, d blob.Driver) {
	ctx := ctxFor(t)
	const n = 8
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("conc/%d/obj", i)
			b := data(uint64(100+i), 100_000+i)
			errc <- d.Put(ctx, key, onlyReader{bytes.NewReader(b)}, -1)
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Errorf("concurrent Put: %v", err)
		}
	}
	for i := range n {
		key := fmt.Sprintf("conc/%d/obj", i)
		if got := get(t, d, key, 0, -1); !bytes.Equal(got, data(uint64(100+i), 100_000+i)) {
			t.Errorf("%s: content differs", key)
		}
	}
	if got := list(t, d, "conc/"); len(got) != n {
		t.Errorf("List(conc/) = %d keys, want %d", len(got), n)
	}
}

// ---- Store over the driver ----

func sum256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// wantClean checks that nothing is left under tmp/ and that blobs/ holds
// exactly the given hashes.
func wantClean(t *testing.T, d blob.Driver, hashes ...string) {
	t.Helper()
	if tmp := list(t, d, blob.TempPrefix); len(tmp) != 0 {
		t.Errorf("left under %s: %q", blob.TempPrefix, keys(tmp))
	}
	var want []string
	for _, h := range hashes {
		want = append(want, blob.Key(h))
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if got := keys(list(t, d, blob.BlobPrefix)); !slices.Equal(got, want) {
		t.Errorf("under %s: %q, want %q", blob.BlobPrefix, got, want)
	}
}

func storePut(t *testing.T, s *blob.Store, b []byte, size int64) blob.Info {
	t.Helper()
	info, err := s.Put(ctxFor(t), onlyReader{bytes.NewReader(b)}, blob.PutOptions{Size: size})
	if err != nil {
		t.Fatalf("Store.Put(%d bytes): %v", len(b), err)
	}
	return info
}

func open(t *testing.T, s *blob.Store, hash string, off, length int64) []byte {
	t.Helper()
	rc, err := s.Open(ctxFor(t), hash, off, length)
	if err != nil {
		t.Fatalf("Open(%s, %d, %d): %v", hash, off, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Open: reading: %v", err)
	}
	return b
}

func testStorePutOpen(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	if s.Driver() != d {
		t.Errorf("Driver() is not the driver given to New")
	}
	for _, tc := range []struct {
		name  string
		n     int
		sized bool
	}{
		{"small sized", 100, true},
		{"small unsized", 101, false},
		{"one chunk exactly", 1 << 20, true},
		{"chunk plus one unsized", 1<<20 + 1, false},
		{"several chunks", 3<<20 + 17, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := data(uint64(tc.n), tc.n)
			size := int64(-1)
			if tc.sized {
				size = int64(tc.n)
			}
			info := storePut(t, s, b, size)
			m := md5.Sum(b)
			if info.Hash != sum256(b) || info.Size != int64(tc.n) || !bytes.Equal(info.MD5, m[:]) {
				t.Fatalf("Info = {%s %d %x}, want {%s %d %x}", info.Hash, info.Size, info.MD5, sum256(b), tc.n, m)
			}
			if got := open(t, s, info.Hash, 0, -1); !bytes.Equal(got, b) {
				t.Errorf("Open returned different content")
			}
			if got := open(t, s, info.Hash, 7, 20); !bytes.Equal(got, b[7:27]) {
				t.Errorf("Open range returned different content")
			}
			if n, err := s.Stat(ctxFor(t), info.Hash); err != nil || n != int64(tc.n) {
				t.Errorf("Stat = %d, %v; want %d", n, err, tc.n)
			}
			if a, err := d.Stat(ctxFor(t), "blobs/"+info.Hash[:2]+"/"+info.Hash[2:4]+"/"+info.Hash); err != nil || a.Size != int64(tc.n) {
				t.Errorf("driver has no blobs/hh/hh/<hash> key: %+v, %v", a, err)
			}
			if err := s.Delete(ctxFor(t), info.Hash); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			_, err := s.Stat(ctxFor(t), info.Hash)
			wantKind(t, "Stat after Delete", err, errs.NotExist)
			wantClean(t, d)
		})
	}
}

func testStoreEmpty(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	for _, size := range []int64{0, -1} {
		info := storePut(t, s, nil, size)
		if info.Hash != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || info.Size != 0 ||
			hex.EncodeToString(info.MD5) != "d41d8cd98f00b204e9800998ecf8427e" {
			t.Errorf("empty blob Info = {%s %d %x}", info.Hash, info.Size, info.MD5)
		}
		if got := open(t, s, info.Hash, 0, -1); len(got) != 0 {
			t.Errorf("empty blob reads %d bytes", len(got))
		}
	}
	wantClean(t, d, sum256(nil))
}

func testStoreDedup(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	b := data(9, 5000)
	i1 := storePut(t, s, b, -1)
	a1, err := d.Stat(ctxFor(t), blob.Key(i1.Hash))
	if err != nil {
		t.Fatal(err)
	}
	i2 := storePut(t, s, b, int64(len(b)))
	if i1.Hash != i2.Hash || i1.Size != i2.Size || !bytes.Equal(i1.MD5, i2.MD5) {
		t.Errorf("same content, different Info: %+v vs %+v", i1, i2)
	}
	a2, err := d.Stat(ctxFor(t), blob.Key(i1.Hash))
	if err != nil {
		t.Fatal(err)
	}
	if !a2.ModTime.Equal(a1.ModTime) {
		t.Errorf("second Put of the same content rewrote the blob (ModTime %v -> %v)", a1.ModTime, a2.ModTime)
	}
	other := storePut(t, s, data(10, 5000), -1)
	wantClean(t, d, i1.Hash, other.Hash)
}

func testStoreConcurrentDedup(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	b := data(11, 300_000)
	var wg sync.WaitGroup
	infos := make([]blob.Info, 6)
	errsOut := make([]error, 6)
	for i := range infos {
		wg.Go(func() {
			infos[i], errsOut[i] = s.Put(ctxFor(t), onlyReader{bytes.NewReader(b)}, blob.PutOptions{Size: -1})
		})
	}
	wg.Wait()
	for i := range infos {
		if errsOut[i] != nil || infos[i].Hash != sum256(b) {
			t.Errorf("Put %d: %+v, %v", i, infos[i], errsOut[i])
		}
	}
	if got := open(t, s, sum256(b), 0, -1); !bytes.Equal(got, b) {
		t.Errorf("content differs after concurrent Puts")
	}
	wantClean(t, d, sum256(b))
}

func testStoreVerifyReject(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	errNo := errs.E("test.Verify", errs.Invalid, "bad digest").Because(errs.Digest)
	for _, n := range []int{10, 2<<20 + 3} {
		b := data(12, n)
		var seen blob.Info
		info, err := s.Put(ctxFor(t), onlyReader{bytes.NewReader(b)}, blob.PutOptions{Size: -1, Verify: func(i blob.Info) error {
			seen = i
			return errNo
		}})
		if err != error(errNo) {
			t.Errorf("Put = %v, want Verify's error unchanged", err)
		}
		if info.Hash != "" || info.Size != 0 || info.MD5 != nil {
			t.Errorf("failed Put returned Info %+v, want zero", info)
		}
		m := md5.Sum(b)
		if seen.Hash != sum256(b) || seen.Size != int64(n) || !bytes.Equal(seen.MD5, m[:]) {
			t.Errorf("Verify saw %+v, want hash %s size %d md5 %x", seen, sum256(b), n, m)
		}
		_, err = s.Stat(ctxFor(t), sum256(b))
		wantKind(t, "Stat of a refused blob", err, errs.NotExist)
	}
	// Verify accepting.
	ok := 0
	storeInfo, err := s.Put(ctxFor(t), bytes.NewReader([]byte("fine")), blob.PutOptions{Size: 4, Verify: func(blob.Info) error { ok++; return nil }})
	if err != nil || ok != 1 {
		t.Fatalf("Put with accepting Verify: %v (Verify called %d times)", err, ok)
	}
	wantClean(t, d, storeInfo.Hash)
}

func testStoreIncompleteBody(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	for _, tc := range []struct {
		name string
		n    int
		size int64
	}{
		{"short", 5, 10},
		{"long", 5, 3},
		{"empty but sized", 0, 1},
		{"sized zero", 1, 0},
		{"one byte past a chunk", 1<<20 + 1, 1 << 20},
		{"one byte short of a chunk", 1<<20 - 1, 1 << 20},
		{"long by chunks", 3 << 20, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verified := false
			_, err := s.Put(ctxFor(t), onlyReader{bytes.NewReader(data(13, tc.n))}, blob.PutOptions{Size: tc.size,
				Verify: func(blob.Info) error { verified = true; return nil }})
			wantKind(t, "Put", err, errs.Invalid)
			if r := errs.ReasonOf(err); r != errs.IncompleteBody {
				t.Errorf("reason = %q, want IncompleteBody (err %v)", r, err)
			}
			if verified {
				t.Errorf("Verify called on an incomplete body")
			}
			wantClean(t, d)
		})
	}
	_, err := s.Put(ctxFor(t), bytes.NewReader(nil), blob.PutOptions{Size: -2})
	wantKind(t, "Put with size -2", err, errs.Invalid)
	_, err = s.Put(ctxFor(t), nil, blob.PutOptions{Size: -1})
	wantKind(t, "Put with nil reader", err, errs.Invalid)
	wantClean(t, d)
}

func testStoreReaderError(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	for _, n := range []int{0, 1000, 2<<20 + 5} {
		for _, size := range []int64{-1, int64(n) + 100} {
			_, err := s.Put(ctxFor(t), &failingReader{good: data(14, n), err: errBoom}, blob.PutOptions{Size: size})
			if !errors.Is(err, errBoom) {
				t.Errorf("Put(%d good bytes, size %d) = %v, want the reader's error", n, size, err)
			}
		}
	}
	// The reader's classification survives.
	_, err := s.Put(ctxFor(t), &failingReader{good: data(14, 10), err: errs.E("net", errs.Transient, "peer went away")}, blob.PutOptions{Size: -1})
	wantKind(t, "Put with a Transient reader error", err, errs.Transient)
	wantClean(t, d)
}

func testStoreCancelled(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	_, err := s.Put(ctx, bytes.NewReader([]byte("x")), blob.PutOptions{Size: 1})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put with cancelled ctx = %v, want context.Canceled", err)
	}
	putCancelledMidway(t, 15, 2<<20, func(ctx context.Context, r io.Reader) error {
		_, err := s.Put(ctx, r, blob.PutOptions{Size: -1})
		return err
	})
	wantClean(t, d)
}

func testStoreBadHash(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	ctx := ctxFor(t)
	good := sum256([]byte("x"))
	for _, h := range []string{"", "abc", good[:63], good + "0", strings.ToUpper(good), good[:63] + "g",
		"../" + good[3:], good[:10] + "/" + good[11:]} {
		_, err := s.Open(ctx, h, 0, -1)
		wantKind(t, fmt.Sprintf("Open(%q)", h), err, errs.Invalid)
		_, err = s.Stat(ctx, h)
		wantKind(t, fmt.Sprintf("Stat(%q)", h), err, errs.Invalid)
		wantKind(t, fmt.Sprintf("Delete(%q)", h), s.Delete(ctx, h), errs.Invalid)
	}
}

func testStoreAbsent(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	ctx := ctxFor(t)
	h := sum256([]byte("never stored"))
	_, err := s.Open(ctx, h, 0, -1)
	wantKind(t, "Open", err, errs.NotExist)
	_, err = s.Stat(ctx, h)
	wantKind(t, "Stat", err, errs.NotExist)
	if err := s.Delete(ctx, h); err != nil {
		t.Errorf("Delete of an absent blob = %v, want nil", err)
	}
	info := storePut(t, s, []byte("abc"), 3)
	_, err = s.Open(ctx, info.Hash, 4, -1)
	wantKind(t, "Open past the end", err, errs.Invalid)
}

func testStoreList(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	ctx := ctxFor(t)
	want := map[string]int64{}
	for i := range 5 {
		b := data(uint64(20+i), 10*i+1)
		want[storePut(t, s, b, -1).Hash] = int64(len(b))
	}
	// Keys under blobs/ that are not blob keys, and keys elsewhere, are not
	// blobs.
	put(t, d, "blobs/junk", []byte("j"))
	put(t, d, "meta/x", []byte("m"))
	got := map[string]int64{}
	if err := s.List(ctx, func(h string, n int64) error { got[h] = n; return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	for h, n := range want {
		if got[h] != n {
			t.Errorf("List: %s size %d, want %d", h, got[h], n)
		}
	}
	calls := 0
	errStop := errors.New("stop")
	if err := s.List(ctx, func(string, int64) error { calls++; return errStop }); err != errStop || calls != 1 {
		t.Errorf("List with failing fn = %v after %d calls", err, calls)
	}
}

func testStoreCleanTemp(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	ctx := ctxFor(t)
	put(t, d, "tmp/leftover1", []byte("partial"))
	put(t, d, "tmp/leftover2", []byte("partial too"))
	put(t, d, "meta/keep", []byte("k"))
	info := storePut(t, s, []byte("a blob"), -1)
	if err := s.CleanTemp(ctx, time.Hour); err != nil {
		t.Fatalf("CleanTemp(1h): %v", err)
	}
	if got := keys(list(t, d, blob.TempPrefix)); len(got) != 2 {
		t.Errorf("CleanTemp(1h) removed fresh temp keys: left %q", got)
	}
	if err := s.CleanTemp(ctx, -time.Minute); err != nil {
		t.Fatalf("CleanTemp(all): %v", err)
	}
	wantClean(t, d, info.Hash)
	wantAbsent(t, d, "tmp/leftover1")
	if _, err := d.Stat(ctx, "meta/keep"); err != nil {
		t.Errorf("CleanTemp touched a key outside tmp/: %v", err)
	}
}

func testStoreLarge(t *testing.T, d blob.Driver) {
	s := blob.New(d)
	ctx := ctxFor(t)
	wantSHA, wantMD5 := sha256.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(wantSHA, wantMD5), newGen(16, largeSize)); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{-1, largeSize} {
		start := time.Now()
		info, err := s.Put(ctx, onlyReader{newGen(16, largeSize)}, blob.PutOptions{Size: size})
		if err != nil {
			t.Fatalf("Put %d MiB (size %d): %v", largeSize>>20, size, err)
		}
		t.Logf("Store.Put %d MiB (size %d): %v", largeSize>>20, size, time.Since(start).Round(time.Millisecond))
		if info.Hash != hex.EncodeToString(wantSHA.Sum(nil)) || info.Size != largeSize || !bytes.Equal(info.MD5, wantMD5.Sum(nil)) {
			t.Fatalf("Info = {%s %d %x}, want {%x %d %x}", info.Hash, info.Size, info.MD5, wantSHA.Sum(nil), largeSize, wantMD5.Sum(nil))
		}
		rc, err := s.Open(ctx, info.Hash, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil || hex.EncodeToString(h.Sum(nil)) != info.Hash {
			t.Fatalf("reading the blob back: %v, or content differs", err)
		}
	}
	wantClean(t, d, hex.EncodeToString(wantSHA.Sum(nil)))
}
