package meta

import (
	"context"
	"fmt"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

func etagAt(t *testing.T, s *Store, repo, ref, key string) string {
	t.Helper()
	r, err := s.Resolve(context.Background(), repo, ref)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(context.Background(), r.Root(), key)
	if errs.Is(err, errs.NotExist) {
		return "-"
	}
	if err != nil {
		t.Fatal(err)
	}
	return e.ETag
}

func TestMergeStrategiesAndFastForward(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "m01", "a")
	put(t, s, "m01", "main", "shared", "base")
	put(t, s, "m01", "main", "both", "base")
	put(t, s, "m01", "main", "gone", "base")
	s.CreateBranch(ctx, "m01", "dev", "main")

	// Fast-forward: dev ahead of main, main unchanged.
	put(t, s, "m01", "dev", "ff", "dev1")
	res, err := s.Merge(ctx, "m01", "dev", "main", "", "a", "")
	if err != nil || !res.FastForward {
		t.Fatalf("expected fast-forward: %+v %v", res, err)
	}
	if r, _ := s.Merge(ctx, "m01", "dev", "main", "", "a", ""); !r.UpToDate {
		t.Fatal("second merge should be up to date")
	}

	// Diverge: both change "both"; dev changes shared and deletes gone; main adds mine.
	put(t, s, "m01", "dev", "both", "dev")
	put(t, s, "m01", "dev", "shared", "dev")
	del(t, s, "m01", "dev", "gone")
	put(t, s, "m01", "main", "both", "main")
	put(t, s, "m01", "main", "mine", "main")
	before, _ := s.Resolve(ctx, "m01", "main")

	res, err = s.Merge(ctx, "m01", "dev", "main", StrategyFail, "a", "")
	if errs.ReasonOf(err) != errs.Merge || res == nil || fmt.Sprint(res.Conflicts) != "[both]" {
		t.Fatalf("fail strategy: %+v %v", res, err)
	}
	after, _ := s.Resolve(ctx, "m01", "main")
	if after.Commit.ID != before.Commit.ID {
		t.Fatal("a failed merge moved the branch")
	}
	for _, tc := range []struct{ strategy, both string }{{StrategyOurs, "main"}, {StrategyTheirs, "dev"}} {
		t.Run(tc.strategy, func(t *testing.T) {
			b := "t-" + tc.strategy
			s.CreateBranch(ctx, "m01", b, before.Commit.ID)
			res, err := s.Merge(ctx, "m01", "dev", b, tc.strategy, "a", "")
			if err != nil || res.FastForward {
				t.Fatalf("%s: %+v %v", tc.strategy, res, err)
			}
			got := []string{etagAt(t, s, "m01", b, "both"), etagAt(t, s, "m01", b, "shared"), etagAt(t, s, "m01", b, "gone"), etagAt(t, s, "m01", b, "mine"), etagAt(t, s, "m01", b, "ff")}
			want := []string{tc.both, "dev", "-", "main", "dev1"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after merge %v want %v", got, want)
			}
			if len(res.Commit.Parents) != 2 {
				t.Fatal("merge commit needs two parents")
			}
			// Versions: the merge commit is the version of keys it changed.
			r, _ := s.Resolve(ctx, "m01", b)
			e, _ := s.Get(ctx, r.Root(), "shared")
			if e.Version != res.Commit.ID {
				t.Fatalf("merged key's version %s, want merge commit %s", e.Version, res.Commit.ID)
			}
			pg, _ := s.ListVersions(ctx, r.Commit, "shared", "", "", "", 10)
			if len(pg.Versions) != 2 || pg.Versions[0].Entry.Version != res.Commit.ID {
				t.Fatalf("versions of merged key: %+v", pg.Versions)
			}
		})
	}
}

func TestRevertAndReset(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "rv1", "a")
	v1 := put(t, s, "rv1", "main", "k", "1")
	v2 := put(t, s, "rv1", "main", "k", "2")
	put(t, s, "rv1", "main", "other", "o")
	c, _, err := s.Revert(ctx, "rv1", "main", v2, "a")
	if err != nil {
		t.Fatal(err)
	}
	if etagAt(t, s, "rv1", "main", "k") != "1" || etagAt(t, s, "rv1", "main", "other") != "o" {
		t.Fatal("revert did not restore k only")
	}
	put(t, s, "rv1", "main", "k", "3")
	if _, conf, err := s.Revert(ctx, "rv1", "main", v2, "a"); errs.ReasonOf(err) != errs.Merge || len(conf) != 1 {
		t.Fatalf("revert over a later change must conflict: %v %v", conf, err)
	}
	if _, err := s.Reset(ctx, "rv1", "main", v1); err != nil {
		t.Fatal(err)
	}
	if etagAt(t, s, "rv1", "main", "k") != "1" || etagAt(t, s, "rv1", "main", "other") != "-" {
		t.Fatal("reset did not move the branch")
	}
	r, _ := s.Resolve(ctx, "rv1", "main")
	pg, _ := s.ListVersions(ctx, r.Commit, "", "", "", "", 10)
	if len(pg.Versions) != 1 || pg.Versions[0].Entry.Version != v1 {
		t.Fatalf("versions after reset: %+v", pg.Versions)
	}
	_ = c
}

// TestBranchRequiredPipelines: required pipelines are set on protected
// branches only (sorted, deduplicated), kept by a re-protect and cleared
// by unprotecting.
func TestBranchRequiredPipelines(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "rq1", "a")
	required := func() string {
		t.Helper()
		r, err := s.Resolve(ctx, "rq1", "main")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(r.Branch.RequiredPipelines)
	}
	if err := s.SetBranchRequired(ctx, "rq1", "main", []string{"p"}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("required pipelines on an unprotected branch: %v, want Invalid", err)
	}
	if err := s.SetBranchRequired(ctx, "rq1", "nope", nil); !errs.Is(err, errs.NotExist) {
		t.Fatalf("unknown branch: %v, want NotExist", err)
	}
	if err := s.SetBranchProtected(ctx, "rq1", "main", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBranchRequired(ctx, "rq1", "main", []string{"q", "p", "q"}); err != nil {
		t.Fatal(err)
	}
	if got := required(); got != "[p q]" {
		t.Fatalf("required = %s, want [p q]", got)
	}
	if err := s.SetBranchProtected(ctx, "rq1", "main", true); err != nil {
		t.Fatal(err)
	}
	if got := required(); got != "[p q]" {
		t.Fatalf("after re-protecting: required = %s, want [p q]", got)
	}
	if err := s.SetBranchProtected(ctx, "rq1", "main", false); err != nil {
		t.Fatal(err)
	}
	if got := required(); got != "[]" {
		t.Fatalf("after unprotecting: required = %s, want []", got)
	}
}
