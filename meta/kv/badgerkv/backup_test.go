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
func TestDumpKeepsTombstonesThroughCompaction(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPut(t, s, "gone", "1", "kept", "2")
	_, m, err := dumpEntries(t, s, kv.DumpOptions{Track: true})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "gone", "")
	// Push the tombstone out of the memtable and compact every level.
	filler := bytes.Repeat([]byte("x"), 4<<10)
	for i := 0; i < 1500; i++ {
		tx, _ := s.Begin(true)
		_ = tx.Set([]byte(fmt.Sprintf("fill/%05d", i)), filler)
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	if n := len(s.db.Tables()); n == 0 {
		t.Fatal("no table was written: the test did not compact anything")
	}
	got, _, err := dumpEntries(t, s, kv.DumpOptions{Since: m, Track: true})
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
