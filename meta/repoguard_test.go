package meta

import (
	"context"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// readGuard refuses deleting "input" without force; with force it writes a
// "stopped" mark in its namespace and reports "p".
type readGuard struct {
	deleted []string
}

func (g *readGuard) RepoDeleting(rw kv.ReadWriter, repo string, force bool) ([]string, error) {
	if repo != "input" {
		return nil, nil
	}
	if !force {
		return nil, errs.E("test", errs.Conflict, "repo input is read by p").Because(errs.InputRepo)
	}
	return []string{"p"}, kv.PutJSON(rw, "stopped/p", repo)
}

func (g *readGuard) RepoDeleted(repo string, stopped []string) {
	g.deleted = append(g.deleted, repo+":"+strings.Join(stopped, ","))
}

// TestRepoGuard: a guard refuses a delete without force (nothing deleted),
// stops with force in the deleting transaction, is told after, and is not
// asked to refuse other repos.
func TestRepoGuard(t *testing.T) {
	ctx := context.Background()
	s, err := Open("", Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := &readGuard{}
	rec := s.Records("pl/")
	rec.GuardRepoDelete(g)
	for _, r := range []string{"input", "free"} {
		if _, err := s.CreateRepo(ctx, r, "a"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		repo    string
		force   bool
		kind    errs.Kind
		reason  errs.Reason
		stopped string
	}{
		{"refused", "input", false, errs.Conflict, errs.InputRepo, ""},
		{"free repo", "free", false, errs.Other, errs.NoReason, ""},
		{"forced", "input", true, errs.Other, errs.NoReason, "p"},
		{"gone", "input", true, errs.NotExist, errs.NoReason, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := s.DeleteRepoReport(ctx, tc.repo, tc.force)
			if tc.kind != errs.Other {
				if !errs.Is(err, tc.kind) || tc.reason != errs.NoReason && errs.ReasonOf(err) != tc.reason {
					t.Fatalf("DeleteRepoReport(%s, %v) = %v, want %v/%v", tc.repo, tc.force, err, tc.kind, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rep.Stopped, ","); got != tc.stopped {
				t.Errorf("stopped %q, want %q", got, tc.stopped)
			}
			if _, err := s.GetRepo(ctx, tc.repo); !errs.Is(err, errs.NotExist) {
				t.Errorf("repo %s still there: %v", tc.repo, err)
			}
		})
	}
	if _, err := s.GetRepo(ctx, "input"); !errs.Is(err, errs.NotExist) {
		t.Fatal("input survived")
	}
	var mark string
	if err := rec.View(ctx, func(rd kv.Reader) error { _, err := kv.GetJSON(rd, "stopped/p", &mark); return err }); err != nil || mark != "input" {
		t.Errorf("the guard's mark %q, %v", mark, err)
	}
	if got := strings.Join(g.deleted, ","); got != "free:,input:p" {
		t.Errorf("RepoDeleted calls %q", got)
	}
}
