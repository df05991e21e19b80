package meta

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source for retention tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestGCKeepsAncestorsOfYoungCommits(t *testing.T) {
	ctx := context.Background()
	ck := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := Open(t.TempDir(), Options{Now: ck.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.CreateRepo(ctx, "ret", "a")
	s.CreateBranch(ctx, "ret", "tmp", "main")
	old := put(t, s, "ret", "tmp", "k", "old")
	ck.add(10 * 24 * time.Hour)
	young := put(t, s, "ret", "tmp", "k", "young")
	s.DeleteBranch(ctx, "ret", "tmp", true)
	ck.add(2 * 24 * time.Hour)
	if _, _, err := s.GC(ctx, 7*24*time.Hour, false); err != nil {
		t.Fatal(err)
	}
	// The young commit is kept, and so is its (old) parent.
	if _, err := s.CreateBranch(ctx, "ret", "back", young); err != nil {
		t.Fatal(err)
	}
	ref, _ := s.Resolve(ctx, "ret", "back")
	log, err := s.Log(ctx, ref.Commit, 0)
	if err != nil || len(log) != 3 || log[1].ID != old {
		t.Fatalf("history of a commit kept by retention: %d commits, %v", len(log), err)
	}
	if _, err := s.Merge(ctx, "ret", "back", "main", "", "a", ""); err != nil {
		t.Fatalf("merge of the restored branch: %v", err)
	}
}

func TestGCDoesNotDeleteWhatBecameReachableDuringIt(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "res", "a")
	s.CreateBranch(ctx, "res", "tmp", "main")
	var cs []Change
	for i := 0; i < 3000; i++ { // big enough for several tree levels
		cs = append(cs, Change{Key: "k/" + strings.Repeat("x", i%40) + string(rune('a'+i%26)) + time.Duration(i).String(), Entry: &Entry{ETag: "e", Content: strings.Repeat("c", 64)}})
	}
	res, err := s.Write(ctx, WriteRequest{Repo: "res", Branch: "tmp", Changes: cs})
	if err != nil {
		t.Fatal(err)
	}
	s.DeleteBranch(ctx, "res", "tmp", true)
	// Right after GC's snapshot (when the commit is unreachable), a branch
	// brings it back.
	s.gcAfterSnapshot = func() {
		if _, err := s.CreateBranch(ctx, "res", "back", res.Version); err != nil {
			t.Error(err)
		}
	}
	live, _, err := s.GC(ctx, time.Nanosecond, false)
	s.gcAfterSnapshot = nil
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.Resolve(ctx, "res", "back")
	if err != nil {
		t.Fatalf("the revived commit was deleted: %v", err)
	}
	s.nodes = newNodeCache(1 << 20) // read nodes from Badger, not the cache
	if n, err := verifyTree(readNodes{s}, ref.Root()); err != nil || n != len(cs) {
		t.Fatalf("the revived commit's tree: %d keys, %v", n, err)
	}
	if !live[strings.Repeat("c", 64)] {
		t.Fatal("the revived commit's content is not live for blob GC")
	}
}
