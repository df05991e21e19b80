package badgerkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tusk-data/tusk/meta/kv"
)

func mustPut(t *testing.T, s *Store, kvs ...string) {
	t.Helper()
	tx, _ := s.Begin(true)
	for i := 0; i < len(kvs); i += 2 {
		var err error
		if kvs[i+1] == "" {
			err = tx.Delete([]byte(kvs[i]))
		} else {
			err = tx.Set([]byte(kvs[i]), []byte(kvs[i+1]))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func dumpEntries(t *testing.T, s *Store, o kv.DumpOptions) ([]string, kv.Mark, error) {
	t.Helper()
	var b bytes.Buffer
	m, err := s.Dump(context.Background(), &b, o)
	if err != nil {
		return nil, "", err
	}
	r, err := kv.NewDumpReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out, m, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Delete {
			out = append(out, "-"+string(e.Key))
		} else if len(e.Value) < 100 {
			out = append(out, string(e.Key)+"="+string(e.Value))
		}
	}
}

// TestDumpKeepsTombstonesThroughCompaction: a deletion made after a
// tracked dump is in the next incremental dump even when compactions ran
// in between (the tracked dump's read transaction pins the tombstone).
// A control store, whose dump is untracked, takes the same writes and
// compactions: the test looks at the tracked store once the control's
// tombstone is gone, which shows the compactions would have dropped it.
func TestDumpKeepsTombstonesThroughCompaction(t *testing.T) {
	var stores [2]*Store // tracked, control
	var mark kv.Mark
	for i := range stores {
		s, err := Open(Options{Dir: t.TempDir(), MemTableSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
		mustPut(t, s, "gone", "1", "kept", "2")
		_, m, err := dumpEntries(t, s, kv.DumpOptions{Track: i == 0})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			mark = m
		}
		mustPut(t, s, "gone", "")
		// Push the tombstone out of the memtable.
		filler := bytes.Repeat([]byte("x"), 4<<10)
		for j := 0; j < 1500; j++ {
			tx, _ := s.Begin(true)
			_ = tx.Set([]byte(fmt.Sprintf("fill/%05d", j)), filler)
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	hasGone := func(s *Store) bool {
		txn := s.db.NewTransaction(false)
		defer txn.Discard()
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, Prefix: []byte("gone")})
		defer it.Close()
		it.Rewind()
		return it.Valid()
	}
	for deadline := time.Now().Add(60 * time.Second); hasGone(stores[1]); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("control: the compactions kept the tombstone without a pinned snapshot; the test no longer shows what the pin protects")
		}
		for _, s := range stores {
			if err := s.db.Flatten(1); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, _, err := dumpEntries(t, stores[0], kv.DumpOptions{Since: mark, Track: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0] != "-gone" {
		t.Fatalf("incremental dump after compaction starts with %q, want the deletion -gone", got[:min(3, len(got))])
	}
}

// TestDumpAcrossRestart: a mark survives a clean restart when nothing was
// written after it; a write after the restart makes it lost (the
// tombstones of the gap were not pinned); a replaced directory is another
// store (its own epoch).
func TestDumpAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "a", "1")
	_, m, err := dumpEntries(t, s, kv.DumpOptions{Track: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, EpochFile)); err != nil {
		t.Fatalf("no epoch file: %v", err)
	}
	s.Close()
	if s, err = Open(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if got, m2, err := dumpEntries(t, s, kv.DumpOptions{Since: m, Track: true}); err != nil || len(got) != 0 || m2 != m {
		t.Fatalf("dump since the mark after a clean restart: %q %q %v", got, m2, err)
	}
	s.Close()
	if s, err = Open(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "a", "")
	if _, _, err := dumpEntries(t, s, kv.DumpOptions{Since: m}); !errors.Is(err, kv.ErrMarkLost) {
		t.Fatalf("dump since a mark from before a restart and a write: %v", err)
	}
	s.Close()

	other := t.TempDir()
	o, err := Open(Options{Dir: other})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	mustPut(t, o, "a", "1")
	if _, _, err := dumpEntries(t, o, kv.DumpOptions{Since: m}); !errors.Is(err, kv.ErrMarkLost) {
		t.Fatalf("another directory answered a mark of the first: %v", err)
	}
}
