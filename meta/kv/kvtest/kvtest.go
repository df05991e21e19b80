// Package kvtest is the conformance suite every kv.Store runs: badgerkv
// and memkv today, a distributed store tomorrow.
package kvtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// Options describe the store under test.
type Options struct {
	// New returns a fresh, empty store usable until the end of t. The
	// suite closes it unless Reopen took it over.
	New func(t *testing.T) kv.Store
	// Reopen, when set, closes s and opens the same data again (persistent
	// stores): the suite then checks that synced commits survive.
	Reopen func(t *testing.T, s kv.Store) kv.Store
}

// Run runs the conformance suite.
func Run(t *testing.T, o Options) {
	open := func(t *testing.T) kv.Store {
		t.Helper()
		s := o.New(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(*testing.T, kv.Store)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"Missing", testMissing},
		{"Order", testOrder},
		{"Prefix", testPrefix},
		{"Seek", testSeek},
		{"Reverse", testReverse},
		{"OwnWrites", testOwnWrites},
		{"Snapshot", testSnapshot},
		{"Discard", testDiscard},
		{"TxnTooBig", testTxnTooBig},
		{"Sync", testSync},
		{"JSON", testJSON},
		{"ConcurrentReaders", testConcurrentReaders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	t.Run("Dump", func(t *testing.T) { testDump(t, open) }) // backup.go
	if o.Reopen != nil {
		t.Run("Reopen", func(t *testing.T) {
			s := o.New(t)
			put(t, s, "a", "1", "b\x00", "2", "c\xff", "3")
			del(t, s, "a")
			if err := s.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			s = o.Reopen(t, s)
			defer s.Close()
			want(t, s, nil, false, "b\x00", "c\xff")
			if v := get(t, s, "c\xff"); v != "3" {
				t.Fatalf("c = %q after reopen", v)
			}
		})
	}
}

// ---- helpers ----

func begin(t *testing.T, s kv.Store, write bool) kv.Txn {
	t.Helper()
	tx, err := s.Begin(write)
	if err != nil {
		t.Fatalf("Begin(%v): %v", write, err)
	}
	return tx
}

// put commits key/value pairs in one write transaction.
func put(t *testing.T, s kv.Store, kvs ...string) {
	t.Helper()
	tx := begin(t, s, true)
	for i := 0; i < len(kvs); i += 2 {
		if err := tx.Set([]byte(kvs[i]), []byte(kvs[i+1])); err != nil {
			t.Fatalf("Set %q: %v", kvs[i], err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func del(t *testing.T, s kv.Store, keys ...string) {
	t.Helper()
	tx := begin(t, s, true)
	for _, k := range keys {
		if err := tx.Delete([]byte(k)); err != nil {
			t.Fatalf("Delete %q: %v", k, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// get reads key in a fresh read transaction ("<absent>" when missing).
func get(t *testing.T, s kv.Store, key string) string {
	t.Helper()
	tx := begin(t, s, false)
	defer tx.Discard()
	return getIn(t, tx, key)
}

func getIn(t *testing.T, r kv.Reader, key string) string {
	t.Helper()
	v, err := r.Get([]byte(key))
	if errs.Is(err, errs.NotExist) {
		return "<absent>"
	}
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	return string(v)
}

// keys lists the keys an iteration yields.
func keys(t *testing.T, r kv.Reader, o kv.IterOptions) []string {
	t.Helper()
	it := r.Iter(o)
	defer it.Close()
	var out []string
	for ; it.Valid(); it.Next() {
		out = append(out, string(it.Key()))
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iteration: %v", err)
	}
	return out
}

// want checks the keys under prefix, in order (reverse when rev).
func want(t *testing.T, s kv.Store, prefix []byte, rev bool, exp ...string) {
	t.Helper()
	tx := begin(t, s, false)
	defer tx.Discard()
	wantIn(t, tx, kv.IterOptions{Prefix: prefix, Reverse: rev}, exp...)
}

func wantIn(t *testing.T, r kv.Reader, o kv.IterOptions, exp ...string) {
	t.Helper()
	got := keys(t, r, o)
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", exp) && !(len(got) == 0 && len(exp) == 0) {
		t.Fatalf("iter %+v: got %q, want %q", o, got, exp)
	}
}

// ---- tests ----

func testGetSetDelete(t *testing.T, s kv.Store) {
	put(t, s, "k", "v1")
	if v := get(t, s, "k"); v != "v1" {
		t.Fatalf("got %q", v)
	}
	put(t, s, "k", "v2")
	if v := get(t, s, "k"); v != "v2" {
		t.Fatalf("overwrite: got %q", v)
	}
	put(t, s, "empty", "")
	if v := get(t, s, "empty"); v != "" {
		t.Fatalf("empty value: got %q", v)
	}
	del(t, s, "k", "never-there")
	if v := get(t, s, "k"); v != "<absent>" {
		t.Fatalf("after delete: got %q", v)
	}
	// A value the caller changes after Get does not change the store.
	tx := begin(t, s, false)
	b, err := tx.Get([]byte("empty"))
	tx.Discard()
	if err != nil {
		t.Fatal(err)
	}
	_ = append(b, 'x')
	if v := get(t, s, "empty"); v != "" {
		t.Fatalf("store changed through a returned slice: %q", v)
	}
}

func testMissing(t *testing.T, s kv.Store) {
	tx := begin(t, s, false)
	defer tx.Discard()
	_, err := tx.Get([]byte("nope"))
	if !errs.Is(err, errs.NotExist) {
		t.Fatalf("missing key: %v, want NotExist", err)
	}
	ok, err := kv.GetJSON(tx, "nope", new(int))
	if ok || err != nil {
		t.Fatalf("GetJSON missing: %v %v", ok, err)
	}
}

// Keys order bytewise, 0x00 and 0xff included.
var ordered = []string{"a", "a\x00", "a\x00\x00", "a\x01", "a/", "a/b", "a\xff", "a\xff\x00", "a\xff\xff", "b", "\xff", "\xff\xff"}

func loadOrdered(t *testing.T, s kv.Store) {
	t.Helper()
	var kvs []string
	for i := len(ordered) - 1; i >= 0; i-- { // written out of order
		kvs = append(kvs, ordered[i], "v"+ordered[i])
	}
	put(t, s, kvs...)
}

func rev(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[len(ss)-1-i] = s
	}
	return out
}

func testOrder(t *testing.T, s kv.Store) {
	loadOrdered(t, s)
	want(t, s, nil, false, ordered...)
	want(t, s, nil, true, rev(ordered)...)
	tx := begin(t, s, false)
	defer tx.Discard()
	it := tx.Iter(kv.IterOptions{})
	defer it.Close()
	for _, k := range ordered {
		if !it.Valid() || string(it.Key()) != k {
			t.Fatalf("at %q: valid %v", k, it.Valid())
		}
		v, err := it.Value()
		if err != nil || string(v) != "v"+k {
			t.Fatalf("value of %q = %q, %v", k, v, err)
		}
		it.Next()
	}
	if it.Valid() {
		t.Fatalf("iterator valid past the end at %q", it.Key())
	}
}

func testPrefix(t *testing.T, s kv.Store) {
	loadOrdered(t, s)
	cases := []struct {
		prefix string
		exp    []string
	}{
		{"a", ordered[:9]},
		{"a\x00", []string{"a\x00", "a\x00\x00"}},
		{"a/", []string{"a/", "a/b"}},
		{"a\xff", []string{"a\xff", "a\xff\x00", "a\xff\xff"}},
		{"a\xff\xff", []string{"a\xff\xff"}},
		{"\xff", []string{"\xff", "\xff\xff"}},
		{"c", nil},
		{"", ordered},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q", c.prefix), func(t *testing.T) {
			want(t, s, []byte(c.prefix), false, c.exp...)
			want(t, s, []byte(c.prefix), true, rev(c.exp)...)
			// KeysOnly yields the same keys.
			tx := begin(t, s, false)
			defer tx.Discard()
			wantIn(t, tx, kv.IterOptions{Prefix: []byte(c.prefix), KeysOnly: true}, c.exp...)
		})
	}
}

func testSeek(t *testing.T, s kv.Store) {
	loadOrdered(t, s)
	tx := begin(t, s, false)
	defer tx.Discard()
	cases := []struct {
		prefix, start string
		exp           []string
	}{
		{"", "a/", ordered[4:]},
		{"", "a0", ordered[6:]}, // between keys
		{"a", "a\xff", ordered[6:9]},
		{"a", "", ordered[:9]},
		{"a\xff", "a", ordered[6:9]}, // start below the prefix
		{"a", "b", nil},              // start above the prefix
		{"", "\xff\xff\xff", nil},
	}
	for _, c := range cases {
		wantIn(t, tx, kv.IterOptions{Prefix: []byte(c.prefix), Start: []byte(c.start)}, c.exp...)
	}
	// Seek on a live iterator, forward and back.
	it := tx.Iter(kv.IterOptions{Prefix: []byte("a")})
	defer it.Close()
	it.Seek([]byte("a\x01"))
	if !it.Valid() || string(it.Key()) != "a\x01" {
		t.Fatalf("Seek a\\x01: %q", it.Key())
	}
	it.Seek([]byte("a\x00\x00"))
	if !it.Valid() || string(it.Key()) != "a\x00\x00" {
		t.Fatalf("Seek back: %q", it.Key())
	}
	it.Seek([]byte("a\xff\xff\x00"))
	if it.Valid() {
		t.Fatalf("Seek past the prefix's keys: valid at %q", it.Key())
	}
}

func testReverse(t *testing.T, s kv.Store) {
	loadOrdered(t, s)
	tx := begin(t, s, false)
	defer tx.Discard()
	cases := []struct {
		prefix, start string
		exp           []string
	}{
		{"", "a/", rev(ordered[:5])}, // start is a key: included
		{"", "a0", rev(ordered[:6])}, // between keys
		{"a", "a\x01", rev(ordered[:4])},
		{"a", "c", rev(ordered[:9])}, // above the prefix: from its end
		{"a\xff", "", rev(ordered[6:9])},
		{"a\x00", "a", nil}, // below the prefix
		{"\xff", "", []string{"\xff\xff", "\xff"}},
	}
	for _, c := range cases {
		wantIn(t, tx, kv.IterOptions{Prefix: []byte(c.prefix), Start: []byte(c.start), Reverse: true}, c.exp...)
	}
	// The newest of a series under a prefix (what "last job" lookups do),
	// with a key that sorts right after the prefix range present.
	put(t, s, "j/x/0001", "1", "j/x/0002", "2", "j/x0", "other", "j/y/0001", "y")
	tx2 := begin(t, s, false)
	defer tx2.Discard()
	wantIn(t, tx2, kv.IterOptions{Prefix: []byte("j/x/"), Reverse: true}, "j/x/0002", "j/x/0001")
}

func testOwnWrites(t *testing.T, s kv.Store) {
	put(t, s, "p/a", "1", "p/b", "2", "p/c", "3")
	tx := begin(t, s, true)
	defer tx.Discard()
	if err := tx.Set([]byte("p/bb"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete([]byte("p/a")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Set([]byte("p/c"), []byte("3b")); err != nil {
		t.Fatal(err)
	}
	if v := getIn(t, tx, "p/bb"); v != "new" {
		t.Fatalf("own write: %q", v)
	}
	if v := getIn(t, tx, "p/a"); v != "<absent>" {
		t.Fatalf("own delete: %q", v)
	}
	wantIn(t, tx, kv.IterOptions{Prefix: []byte("p/")}, "p/b", "p/bb", "p/c")
	wantIn(t, tx, kv.IterOptions{Prefix: []byte("p/"), Reverse: true}, "p/c", "p/bb", "p/b")
	it := tx.Iter(kv.IterOptions{Prefix: []byte("p/c")})
	if v, _ := it.Value(); !it.Valid() || string(v) != "3b" {
		t.Fatalf("iterator value of an overwritten key: %q", v)
	}
	it.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	want(t, s, []byte("p/"), false, "p/b", "p/bb", "p/c")
}

func testSnapshot(t *testing.T, s kv.Store) {
	put(t, s, "k", "old", "gone", "x")
	snap := begin(t, s, false)
	defer snap.Discard()
	it := snap.Iter(kv.IterOptions{}) // made before the commit below
	defer it.Close()
	put(t, s, "k", "new", "added", "y")
	del(t, s, "gone")
	if v := getIn(t, snap, "k"); v != "old" {
		t.Fatalf("snapshot sees a later commit: %q", v)
	}
	if v := getIn(t, snap, "added"); v != "<absent>" {
		t.Fatalf("snapshot sees a later insert: %q", v)
	}
	if v := getIn(t, snap, "gone"); v != "x" {
		t.Fatalf("snapshot sees a later delete: %q", v)
	}
	wantIn(t, snap, kv.IterOptions{}, "gone", "k")
	var got []string
	for ; it.Valid(); it.Next() {
		got = append(got, string(it.Key()))
	}
	if fmt.Sprint(got) != "[gone k]" {
		t.Fatalf("open iterator sees later commits: %q", got)
	}
	if v := get(t, s, "k"); v != "new" {
		t.Fatalf("new txn: %q", v)
	}
	// A write transaction's snapshot is taken at Begin too.
	w := begin(t, s, true)
	if v := getIn(t, w, "k"); v != "new" {
		t.Fatalf("write txn reads %q", v)
	}
	w.Discard()
}

func testDiscard(t *testing.T, s kv.Store) {
	put(t, s, "keep", "1")
	tx := begin(t, s, true)
	if err := tx.Set([]byte("dropped"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete([]byte("keep")); err != nil {
		t.Fatal(err)
	}
	tx.Discard()
	tx.Discard() // twice is fine
	want(t, s, nil, false, "keep")
	// Discard after Commit is a no-op.
	tx = begin(t, s, true)
	if err := tx.Set([]byte("c"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx.Discard()
	want(t, s, nil, false, "c", "keep")
	// A read transaction cannot write.
	r := begin(t, s, false)
	defer r.Discard()
	if err := r.Set([]byte("x"), []byte("1")); err == nil {
		t.Fatal("Set in a read transaction succeeded")
	}
}

func testTxnTooBig(t *testing.T, s kv.Store) {
	lim := s.Limits()
	if lim.MaxTxnBytes <= 0 || lim.MaxTxnEntries <= 0 || lim.MaxValueBytes <= 0 {
		t.Fatalf("limits %+v", lim)
	}
	val := bytes.Repeat([]byte("v"), 1000)
	tx := begin(t, s, true)
	n := 0
	var err error
	for ; int64(n) <= lim.MaxTxnBytes/1000+lim.MaxTxnEntries+1; n++ {
		if err = tx.Set(fmt.Appendf(nil, "k%08d", n), val); err != nil {
			break
		}
	}
	if !errors.Is(err, kv.ErrTxnTooBig) || !errs.Is(err, errs.TooLarge) {
		t.Fatalf("after %d sets: %v, want ErrTxnTooBig", n, err)
	}
	if n == 0 {
		t.Fatal("the first Set was too big")
	}
	// The refused write is not in the transaction; what fit commits.
	if v := getIn(t, tx, fmt.Sprintf("k%08d", n)); v != "<absent>" {
		t.Fatal("the refused write is visible")
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit of a full txn: %v", err)
	}
	rt := begin(t, s, false)
	got := keys(t, rt, kv.IterOptions{Prefix: []byte("k"), KeysOnly: true})
	rt.Discard()
	if len(got) != n {
		t.Fatalf("%d keys committed, want %d", len(got), n)
	}
	// A full transaction that is discarded applies nothing.
	del(t, s, got[:n/2]...) // fits: fewer entries than before
	tx = begin(t, s, true)
	for i := 0; ; i++ {
		if err := tx.Set(fmt.Appendf(nil, "z%08d", i), val); err != nil {
			break
		}
	}
	tx.Discard()
	want(t, s, []byte("z"), false)
}

func testSync(t *testing.T, s kv.Store) {
	put(t, s, "a", "1")
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := s.Sync(context.Background()); err != nil { // nothing new
		t.Fatalf("Sync again: %v", err)
	}
	if c, ok := s.(kv.Compacter); ok {
		if err := c.Compact(context.Background()); err != nil {
			t.Fatalf("Compact: %v", err)
		}
		if v := get(t, s, "a"); v != "1" {
			t.Fatalf("after Compact: %q", v)
		}
	}
}

type rec struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func testJSON(t *testing.T, s kv.Store) {
	tx := begin(t, s, true)
	for i, n := range []string{"b", "a", "c"} {
		if err := kv.PutJSON(tx, "r/"+n, rec{Name: n, N: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Set([]byte("r0"), []byte("not json")); err != nil { // outside the prefix
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := begin(t, s, false)
	defer r.Discard()
	var one rec
	if ok, err := kv.GetJSON(r, "r/a", &one); !ok || err != nil || one.N != 1 {
		t.Fatalf("GetJSON: %v %v %+v", ok, err, one)
	}
	all, err := kv.ListJSON[rec](r, "r/")
	if err != nil || len(all) != 3 || all[0].Name != "a" || all[2].Name != "c" {
		t.Fatalf("ListJSON: %v %+v", err, all)
	}
	var names []string
	if err := kv.ScanKeys(r, "r/", func(k string) error { names = append(names, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names) != "[a b c]" {
		t.Fatalf("ScanKeys: %q", names)
	}
	stop := errors.New("stop")
	n := 0
	err = kv.ScanJSON(r, "r/", func(k string, v *rec) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("ScanJSON stops at fn's error: %v after %d", err, n)
	}
	if _, err := kv.GetJSON(r, "r0", &one); !errs.Is(err, errs.Internal) {
		t.Fatalf("GetJSON of a bad record: %v", err)
	}
}

// testConcurrentReaders runs readers against one writer (run with -race):
// every snapshot is consistent (all keys of a commit, or none).
func testConcurrentReaders(t *testing.T, s kv.Store) {
	const rounds, width = 50, 8
	put(t, s, "x/0", "0")
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := s.Begin(false)
				if err != nil {
					errc <- err
					return
				}
				// Every key under c/ carries the same round number.
				it := tx.Iter(kv.IterOptions{Prefix: []byte("c/")})
				var first string
				n := 0
				for ; it.Valid(); it.Next() {
					v, _ := it.Value()
					if n == 0 {
						first = string(v)
					} else if string(v) != first {
						errc <- fmt.Errorf("torn snapshot: %q vs %q", v, first)
					}
					n++
				}
				it.Close()
				tx.Discard()
				if n != 0 && n != width {
					errc <- fmt.Errorf("snapshot holds %d of %d keys", n, width)
					return
				}
			}
		}()
	}
	for i := 0; i < rounds; i++ {
		var kvs []string
		for j := 0; j < width; j++ {
			kvs = append(kvs, fmt.Sprintf("c/%d", j), fmt.Sprint(i))
		}
		put(t, s, kvs...)
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
