package kvtest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// dump runs a Dump into a buffer.
func dump(t *testing.T, s kv.Store, o kv.DumpOptions) ([]byte, kv.Mark, error) {
	t.Helper()
	var b bytes.Buffer
	m, err := s.(kv.Dumper).Dump(context.Background(), &b, o)
	return b.Bytes(), m, err
}

// entries reads a dump's entries as "k=v" and "-k".
func entries(t *testing.T, b []byte) []string {
	t.Helper()
	r, err := kv.NewDumpReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Delete {
			out = append(out, "-"+string(e.Key))
		} else {
			out = append(out, string(e.Key)+"="+string(e.Value))
		}
	}
}

// contents lists every key=value of s.
func contents(t *testing.T, s kv.Store) string {
	t.Helper()
	tx := begin(t, s, false)
	defer tx.Discard()
	var b strings.Builder
	it := tx.Iter(kv.IterOptions{})
	defer it.Close()
	for ; it.Valid(); it.Next() {
		v, err := it.Value()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%q=%q ", it.Key(), v)
	}
	return b.String()
}

func load(t *testing.T, s kv.Store, b []byte) {
	t.Helper()
	if _, err := kv.Load(context.Background(), s, bytes.NewReader(b), nil, false); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

// testDump checks kv.Dumper (when the store has it): a full dump loads
// into an equal store; an incremental dump since a tracked mark carries
// exactly the changed keys, deletions included, and brings the copy level;
// marks it cannot answer exactly are refused with ErrMarkLost; a dump is
// one snapshot under concurrent commits; the format refuses truncation and
// keeps sealed entries closed without the key.
func testDump(t *testing.T, open func(*testing.T) kv.Store) {
	s := open(t)
	if _, ok := s.(kv.Dumper); !ok {
		return // an optional capability
	}
	put(t, s, "a", "1", "b", "2", "c\xff", "3", "d\x00", "4")
	full, m1, err := dump(t, s, kv.DumpOptions{Track: true})
	if err != nil || m1 == "" {
		t.Fatalf("full dump: %q %v", m1, err)
	}
	cp := open(t)
	load(t, cp, full)
	if got, want := contents(t, cp), contents(t, s); got != want {
		t.Fatalf("loaded full dump:\n%s\nwant\n%s", got, want)
	}

	// An untracked dump (a backup) does not break the tracked chain.
	_, mu, err := dump(t, s, kv.DumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "a", "10", "e", "5")
	del(t, s, "b")
	del(t, s, "d\x00")
	put(t, s, "d\x00", "40")
	put(t, s, "f", "6")
	del(t, s, "f") // created and deleted since the mark: a deletion
	inc, m2, err := dump(t, s, kv.DumpOptions{Since: m1, Track: true})
	if err != nil {
		t.Fatalf("incremental dump: %v", err)
	}
	if got := strings.Join(entries(t, inc), " "); got != "a=10 -b d\x00=40 e=5 -f" {
		t.Fatalf("incremental dump holds %q", got)
	}
	load(t, cp, inc)
	if got, want := contents(t, cp), contents(t, s); got != want {
		t.Fatalf("after the incremental dump:\n%s\nwant\n%s", got, want)
	}

	// Nothing changed: an empty dump.
	empty, m3, err := dump(t, s, kv.DumpOptions{Since: m2, Track: true})
	if err != nil || len(entries(t, empty)) != 0 {
		t.Fatalf("dump with no change: %v %q", err, entries(t, empty))
	}
	put(t, s, "g", "7")
	for _, bad := range []kv.Mark{mu, m1, "x:1", "garbage"} {
		if _, _, err := dump(t, s, kv.DumpOptions{Since: bad}); !errors.Is(err, kv.ErrMarkLost) {
			t.Errorf("dump since %q (not the tracked mark): %v, want ErrMarkLost", bad, err)
		}
	}
	other := open(t)
	put(t, other, "a", "1")
	if _, mo, err := dump(t, other, kv.DumpOptions{Track: true}); err != nil {
		t.Fatal(err)
	} else if _, _, err := dump(t, s, kv.DumpOptions{Since: mo}); !errors.Is(err, kv.ErrMarkLost) {
		t.Errorf("dump since another store's mark: %v", err)
	}
	if inc, _, err := dump(t, s, kv.DumpOptions{Since: m3, Track: true}); err != nil || strings.Join(entries(t, inc), " ") != "g=7" {
		t.Fatalf("dump since the tracked mark after refusals: %v", err)
	}

	// Truncated or trailing data is refused.
	for i, b := range [][]byte{full[:len(full)-3], full[:len(full)/2], append(append([]byte{}, full...), 'S')} {
		if _, err := kv.Load(context.Background(), open(t), bytes.NewReader(b), nil, false); !errs.Is(err, errs.Invalid) {
			t.Errorf("corrupt dump %d loaded: %v", i, err)
		}
	}

	// Sealed entries.
	block, _ := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	aead, _ := cipher.NewGCM(block)
	var sb bytes.Buffer
	dw := kv.NewDumpWriter(&sb)
	dw.AEAD, dw.Seal = aead, func(k []byte) bool { return bytes.HasPrefix(k, []byte("gw/")) }
	for _, k := range []string{"a", "gw/user/x"} {
		if err := dw.Set([]byte(k), []byte("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := dw.Close("m"); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sb.Bytes(), []byte("gw/user/x")) {
		t.Fatal("a sealed key is readable in the dump")
	}
	if _, err := kv.Load(context.Background(), open(t), bytes.NewReader(sb.Bytes()), nil, false); !errors.Is(err, kv.ErrSealed) {
		t.Errorf("sealed dump loaded without its key: %v", err)
	}
	skip := open(t)
	if st, err := kv.Load(context.Background(), skip, bytes.NewReader(sb.Bytes()), nil, true); err != nil || st.Skipped != 1 || st.Mark != "m" {
		t.Errorf("skipping sealed entries: %+v %v", st, err)
	}
	if c := contents(t, skip); c != `"a"="v-a" ` {
		t.Errorf("skipped load holds %s", c)
	}
	withKey := open(t)
	if _, err := kv.Load(context.Background(), withKey, bytes.NewReader(sb.Bytes()), aead, false); err != nil {
		t.Fatal(err)
	}
	if c := contents(t, withKey); c != `"a"="v-a" "gw/user/x"="v-gw/user/x" ` {
		t.Errorf("opened load holds %s", c)
	}

	// The mark of an empty store is a mark like any other.
	empty0 := open(t)
	_, me, err := dump(t, empty0, kv.DumpOptions{Track: true})
	if err != nil {
		t.Fatal(err)
	}
	put(t, empty0, "p", "1", "q", "2")
	del(t, empty0, "q")
	if b, _, err := dump(t, empty0, kv.DumpOptions{Since: me, Track: true}); err != nil || strings.Join(entries(t, b), " ") != "p=1 -q" {
		t.Fatalf("dump since the mark of an empty store: %v", err)
	}

	// One snapshot: a writer commits x/i and y/i together while dumps run.
	conc := open(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load() && i < 2000; i++ {
			tx, err := conc.Begin(true)
			if err != nil {
				return
			}
			_ = tx.Set([]byte(fmt.Sprintf("x/%05d", i)), []byte("1"))
			_ = tx.Set([]byte(fmt.Sprintf("y/%05d", i)), []byte("1"))
			if tx.Commit() != nil {
				return
			}
		}
	}()
	var mark kv.Mark
	acc := open(t)
	for round := 0; round < 5; round++ {
		b, m, err := dump(t, conc, kv.DumpOptions{Since: mark, Track: true})
		if err != nil {
			t.Fatal(err)
		}
		mark = m
		load(t, acc, b)
		tx := begin(t, acc, false)
		nx, ny := len(keys(t, tx, kv.IterOptions{Prefix: []byte("x/")})), len(keys(t, tx, kv.IterOptions{Prefix: []byte("y/")}))
		tx.Discard()
		if nx != ny {
			t.Fatalf("round %d: the dumps hold %d x/ keys and %d y/ keys: not one snapshot", round, nx, ny)
		}
	}
	stop.Store(true)
	wg.Wait()
	b, _, err := dump(t, conc, kv.DumpOptions{Since: mark, Track: true})
	if err != nil {
		t.Fatal(err)
	}
	load(t, acc, b)
	if got, want := contents(t, acc), contents(t, conc); got != want {
		t.Fatal("the chain of dumps does not rebuild the store")
	}
}
