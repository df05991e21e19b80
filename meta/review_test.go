package meta

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// A second purge of every repo, unblocked, must not unblock content a first
// purge blocked, once the store is reopened (the records share one key).
func TestRepurgeKeepsBlockAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := strings.Repeat("e", 64)
	if _, err := s.Purge(ctx, PurgeRequest{Content: h, Block: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(ctx, PurgeRequest{Content: h}); err != nil {
		t.Fatal(err)
	}
	if !s.Blocked(h) {
		t.Fatal("not blocked in memory")
	}
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Blocked(h) {
		t.Fatal("the block was lost on reopen: a later unblocked purge overwrote the blocked record")
	}
}

// tick must stay after every version time written before a restart, or a
// purge whose fence is the (stepped back) clock misses existing versions.
func TestPurgeAfterClockStepBackAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var clock atomic.Int64
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock.Store(base.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	s, err := Open(dir, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRepo(ctx, "clk", "a"); err != nil {
		t.Fatal(err)
	}
	h := strings.Repeat("f", 64)
	if _, err := s.Write(ctx, WriteRequest{Repo: "clk", Branch: "main", Changes: []Change{{Key: "k", Entry: &Entry{Content: h, ETag: "ffff"}}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	clock.Store(base.Add(-time.Hour).UnixNano()) // the clock steps back across the restart
	s, err = Open(dir, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Purge(ctx, PurgeRequest{Content: h, Repo: "clk"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 {
		t.Fatalf("purge removed %d versions, want 1 (fence %v before the version's time)", len(res.Removed), res.Time)
	}
	r, _ := s.Resolve(ctx, "clk", "main")
	if _, err := s.GetLatest(ctx, "clk", r.Root(), r.Commit.VRoot, "k"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("purged key still reads: %v", err)
	}
}

// A deleted branch's commits are kept for the retention period so that the
// branch can be restored; its bytes must be kept with them.
func TestGCKeepsBytesOfRetainedDeletedBranch(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "gcr", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBranch(ctx, "gcr", "tmp", "main"); err != nil {
		t.Fatal(err)
	}
	h := strings.Repeat("1", 64)
	res, err := s.Write(ctx, WriteRequest{Repo: "gcr", Branch: "tmp", Changes: []Change{{Key: "x", Entry: &Entry{Content: h, ETag: "1111"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBranch(ctx, "gcr", "tmp", true); err != nil {
		t.Fatal(err)
	}
	live, _, err := s.GC(ctx, 7*24*time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	// The branch is restored from its head within the retention period.
	if _, err := s.CreateBranch(ctx, "gcr", "tmp", res.Version); err != nil {
		t.Fatal(err)
	}
	if !live[h] {
		t.Fatal("GC counts the bytes of the retained (restorable) deleted branch's head dead")
	}
}
