package meta

import (
	"context"
	"fmt"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

// TestProvDownstreamAndDelete: the downstream index finds the record that
// read an input object; deleting the record removes it everywhere.
func TestProvDownstreamAndDelete(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for _, r := range []string{"src", "dst"} {
		if _, err := s.CreateRepo(ctx, r, "t"); err != nil {
			t.Fatal(err)
		}
	}
	c1 := put(t, s, "src", "main", "a", "e1")
	out := put(t, s, "dst", "main", "o", "x1")
	rec := &ProvRecord{ID: NewID(), Pipeline: "p", Version: 1, Job: "j", Datum: "d", Repo: "dst", Commit: out,
		Inputs:  []ProvInput{{Name: "src", Repo: "src", Commit: c1, Key: "a", Content: "00"}},
		Outputs: []ProvOutput{{Key: "o", Content: "11"}}}
	if err := s.PutProv(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.ProvDownstream(ctx, "src", "a", "00")
	if err != nil || len(got) != 1 || got[0].ID != rec.ID || got[0].Outputs[0].Key != "o" {
		t.Fatalf("downstream %+v %v", got, err)
	}
	if got, _ := s.ProvDownstream(ctx, "src", "a", "01"); len(got) != 0 {
		t.Errorf("other content: %+v", got)
	}
	if err := s.DeleteProv(ctx, []string{rec.ID, "absent"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetProv(ctx, rec.ID); !errs.Is(err, errs.NotExist) {
		t.Errorf("record after delete: %v", err)
	}
	if got, _ := s.ProvDownstream(ctx, "src", "a", "00"); len(got) != 0 {
		t.Errorf("downstream after delete: %+v", got)
	}
}

// TestProvRootsUnreachable: a commit only a record names is kept.
func TestProvRootsUnreachable(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateRepo(ctx, "src", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBranch(ctx, "src", "tmp", "main"); err != nil {
		t.Fatal(err)
	}
	gone := put(t, s, "src", "tmp", "k", "v")
	kept := put(t, s, "src", "tmp", "k", "w")
	if err := s.PutProv(ctx, &ProvRecord{ID: "r1", Repo: "src", Commit: kept,
		Inputs: []ProvInput{{Repo: "src", Commit: kept, Key: "k", Content: "c"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBranch(ctx, "src", "tmp", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GC(ctx, 0, false); err != nil {
		t.Fatal(err)
	}
	// kept is named by the record; gone is its parent (reachable from it).
	for _, id := range []string{kept, gone} {
		if _, err := s.GetCommit(ctx, "src", id); err != nil {
			t.Errorf("commit %s collected: %v", id, err)
		}
	}
	if err := s.DeleteProv(ctx, []string{"r1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GC(ctx, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCommit(ctx, "src", kept); err == nil {
		t.Error("a commit no ref nor record reaches survived GC")
	}
}

// TestProvLargeRecord: a record with more inputs than fit one
// transaction's index is written and deleted in parts.
func TestProvLargeRecord(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	rec := &ProvRecord{ID: "big", Repo: "r", Commit: "c"}
	for i := 0; i < 3*maxProvIndexInTxn; i++ {
		rec.Inputs = append(rec.Inputs, ProvInput{Repo: "in", Commit: "c", Key: fmt.Sprintf("k%06d", i), Content: "x"})
	}
	if err := s.PutProv(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ProvDownstream(ctx, "in", "k010000", "x"); len(got) != 1 {
		t.Fatalf("downstream of a large record: %d", len(got))
	}
	if err := s.DeleteProv(ctx, []string{"big"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ProvDownstream(ctx, "in", "k010000", "x"); len(got) != 0 {
		t.Fatalf("downstream after delete: %d", len(got))
	}
}

func TestSetBranchOutput(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateRepo(ctx, "res", "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBranchOutput(ctx, "res", "main", "pipe"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Write(ctx, WriteRequest{Repo: "res", Branch: "main", Changes: []Change{{Key: "k", Entry: &Entry{}}}})
	if !errs.Is(err, errs.Permission) {
		t.Errorf("a user write to an output branch: %v", err)
	}
	if _, err := s.Write(ctx, WriteRequest{Repo: "res", Branch: "main", System: true, Changes: []Change{{Key: "k", Entry: &Entry{}}}}); err != nil {
		t.Errorf("a system write: %v", err)
	}
	if err := s.SetBranchOutput(ctx, "res", "main", "other"); !errs.Is(err, errs.Conflict) {
		t.Errorf("a second pipeline on one branch: %v", err)
	}
	if err := s.SetBranchOutput(ctx, "res", "dev", "pipe"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Resolve(ctx, "res", "dev"); err != nil || r.Branch.Output != "pipe" {
		t.Errorf("created output branch: %+v %v", r, err)
	}
	if err := s.SetBranchOutput(ctx, "res", "main", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, WriteRequest{Repo: "res", Branch: "main", Changes: []Change{{Key: "k2", Entry: &Entry{}}}}); err != nil {
		t.Errorf("a user write after clearing: %v", err)
	}
}
