package meta

import (
	"github.com/tusk-data/tusk/meta/kv"
)

// RepoGuard keeps a repo that a sibling package depends on (the pipelines
// that read it) from being deleted under it. DeleteRepo consults every
// guard inside its transaction.
type RepoGuard interface {
	// RepoDeleting runs in the transaction that deletes repo, after meta's
	// own checks passed and before anything is deleted; rw is the guard's
	// records namespace. Without force it refuses the deletion by returning
	// an error (Conflict, reason InputRepo, naming what reads repo) and
	// must not write. With force it may write (mark what it stops) and
	// returns the names of what it stopped; its error fails the deletion.
	RepoDeleting(rw kv.ReadWriter, repo string, force bool) (stopped []string, err error)
	// RepoDeleted runs after the deletion is durable, with every guard's
	// stopped names (none: nil). It must not block on the store's writes
	// for long (it runs on DeleteRepo's caller's goroutine).
	RepoDeleted(repo string, stopped []string)
}

// RepoDeletion is what DeleteRepoReport did beside deleting the repo.
type RepoDeletion struct {
	// Stopped names what the guards stopped (pipelines that read the repo,
	// with force), in the guards' order; nil when none.
	Stopped []string `json:"stopped,omitempty"`
}

type nsGuard struct {
	r *Records
	g RepoGuard
}

// GuardRepoDelete registers g: every later DeleteRepo of any repo asks it
// (within this namespace's records) whether the repo may go.
func (r *Records) GuardRepoDelete(g RepoGuard) {
	r.s.guardMu.Lock()
	r.s.guards = append(r.s.guards, nsGuard{r: r, g: g})
	r.s.guardMu.Unlock()
}

func (s *Store) repoGuards() []nsGuard {
	s.guardMu.Lock()
	defer s.guardMu.Unlock()
	return append([]nsGuard(nil), s.guards...)
}

// guardRepoDelete asks every guard, in registration order, inside w.
func (w *wtx) guardRepoDelete(guards []nsGuard, repo string, force bool, rep *RepoDeletion) error {
	for _, g := range guards {
		stopped, err := g.g.RepoDeleting(g.r.scope(w.txn, w), repo, force)
		if err != nil {
			return err
		}
		rep.Stopped = append(rep.Stopped, stopped...)
	}
	return nil
}
