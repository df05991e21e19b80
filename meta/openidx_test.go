package meta

import (
	"context"
	"fmt"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// TestOpenCommitIndex: an open commit is found by a prefix of its id
// through its index key (one key per open commit, written once), which
// finish, abort, branch and repo deletion remove with the commit; an open
// commit without an index key (started before it existed) is still found.
func TestOpenCommitIndex(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "ixr", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBranch(ctx, "ixr", "dev", "main"); err != nil {
		t.Fatal(err)
	}
	indexed := func(id string) bool {
		t.Helper()
		var ok bool
		if err := s.view(func(txn kv.Reader) error {
			_, err := txn.Get([]byte(pOpenIdx + "ixr/" + id))
			ok = err == nil
			if errs.Is(err, errs.NotExist) {
				return nil
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	start := func(branch string) *OpenCommit {
		t.Helper()
		oc, err := s.StartCommit(ctx, "ixr", branch, "a", "m", nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if !indexed(oc.ID) {
			t.Fatalf("open commit %s has no index key", oc.ID)
		}
		return oc
	}
	resolves := func(oc *OpenCommit, want RefKind) {
		t.Helper()
		r, err := s.Resolve(ctx, "ixr", oc.ID[:16])
		if err != nil {
			t.Fatalf("resolve %s: %v", oc.ID[:16], err)
		}
		if r.Kind != want {
			t.Fatalf("resolve %s: kind %v, want %v", oc.ID[:16], r.Kind, want)
		}
	}
	t.Run("writes then finish", func(t *testing.T) {
		oc := start("main")
		for i := 0; i < 50; i++ {
			if _, err := s.Write(ctx, WriteRequest{Repo: "ixr", Open: oc.ID, Author: "a",
				Changes: []Change{{Key: "k", Entry: &Entry{Size: int64(i), ETag: fmt.Sprint(i)}}}}); err != nil {
				t.Fatal(err)
			}
			resolves(oc, KindOpen)
		}
		if _, err := s.FinishCommit(ctx, "ixr", oc.ID, ""); err != nil {
			t.Fatal(err)
		}
		if indexed(oc.ID) {
			t.Fatal("finished commit still indexed as open")
		}
		resolves(oc, KindCommit)
	})
	t.Run("abort", func(t *testing.T) {
		oc := start("main")
		if err := s.AbortCommit(ctx, "ixr", oc.ID); err != nil {
			t.Fatal(err)
		}
		if indexed(oc.ID) {
			t.Fatal("aborted commit still indexed")
		}
		if _, err := s.Resolve(ctx, "ixr", oc.ID[:16]); !errs.Is(err, errs.NotExist) {
			t.Fatalf("resolve aborted: %v", err)
		}
	})
	t.Run("branch deleted", func(t *testing.T) {
		oc := start("dev")
		if err := s.DeleteBranch(ctx, "ixr", "dev", false); err != nil {
			t.Fatal(err)
		}
		if indexed(oc.ID) {
			t.Fatal("open commit of a deleted branch still indexed")
		}
	})
	t.Run("without index key", func(t *testing.T) {
		oc := start("main")
		if err := s.update(ctx, func(w *wtx) error { return w.txn.Delete([]byte(pOpenIdx + "ixr/" + oc.ID)) }); err != nil {
			t.Fatal(err)
		}
		resolves(oc, KindOpen)
		if err := s.AbortCommit(ctx, "ixr", oc.ID); err != nil {
			t.Fatal(err)
		}
	})
}
