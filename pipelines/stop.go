package pipelines

import (
	"context"
	"fmt"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/kv"
)

// Deleting a repo that pipelines read (SPEC §8: their provenance would
// point at nothing, their next job could not start):
//
//   - without force, meta.Store.DeleteRepo is refused (Conflict, reason
//     errs.InputRepo) naming every pipeline that reads the repo;
//   - with force, those pipelines are stopped in the same transaction that
//     deletes the repo: Pipeline.Stopped says why ("input repo R was
//     deleted"), their pending jobs end killed, their running job is
//     killed (its commits aborted, its provenance records deleted) right
//     after, no job is queued for them any more (a commit on another input
//     does not start one, nor does a restart), and tusk_pipeline_stopped
//     is 1. They keep their spec, their output repo and its history (whose
//     provenance names the deleted repo's commits: shown as missing).
//
// A stopped pipeline runs again when its spec is updated (tusk pipeline
// update: the repo re-created, or the input changed), which clears
// Stopped; or it is deleted.
//
// A pipeline's output repo cannot be deleted while the pipeline exists,
// force or not (meta refuses: Conflict, reason Busy): tusk pipeline
// delete deletes it with the pipeline, or --keep-repo leaves it a plain
// repo that can then be deleted.

var _ meta.RepoGuard = (*Service)(nil)

// StoppedInputDeleted is Pipeline.Stopped of a pipeline whose input repo
// was deleted (with force).
func StoppedInputDeleted(repo string) string {
	return "input repo " + repo + " was deleted"
}

// readersTx lists the pipelines (by name) that read repo.
func readersTx(rd kv.Reader, repo string) ([]*Pipeline, error) {
	var out []*Pipeline
	err := kv.Scan(rd, pPipe, func(_ string, v []byte) error {
		var p Pipeline
		if err := jsonUnmarshal(v, &p); err != nil {
			return err
		}
		for _, r := range p.Spec.InputRepos() {
			if r == repo && p.Name() != repo {
				out = append(out, &p)
				break
			}
		}
		return nil
	})
	return out, err
}

// RepoDeleting implements meta.RepoGuard (see above).
func (s *Service) RepoDeleting(rw kv.ReadWriter, repo string, force bool) ([]string, error) {
	readers, err := readersTx(rw, repo)
	if err != nil || len(readers) == 0 {
		return nil, err
	}
	names := make([]string, len(readers))
	for i, p := range readers {
		names[i] = p.Name()
	}
	if !force {
		which := "pipeline " + names[0] + " reads it"
		if len(names) > 1 {
			which = "pipelines " + strings.Join(names, ", ") + " read it"
		}
		return nil, errs.E("pipelines.RepoDeleting", errs.Conflict,
			"repo %s is an input: %s; update or delete them first, or delete it with --force (tusk repo delete --force %s), which stops them",
			repo, which, repo).Because(errs.InputRepo)
	}
	why := StoppedInputDeleted(repo)
	now := s.cfg.Now().UTC()
	for _, p := range readers {
		if p.Stopped == "" {
			p.Stopped = why
			if err := kv.PutJSON(rw, pPipe+p.Name(), p); err != nil {
				return nil, err
			}
		}
		// Its pending jobs end now; a running one is killed by RepoDeleted.
		var pending []*Job
		if err := queuedJobs(rw, pJobQueue+p.Name()+"/", func(j *Job) bool {
			if j.State == JobPending {
				pending = append(pending, j)
			}
			return !j.Done()
		}); err != nil {
			return nil, err
		}
		for _, j := range pending {
			j.State, j.Reason, j.Finished = JobKilled, "pipeline stopped: "+why, now
			if err := kv.PutJSON(rw, pJob+j.ID, j); err != nil {
				return nil, err
			}
		}
	}
	return names, nil
}

// RepoDeleted implements meta.RepoGuard: the stopped pipelines' running
// jobs are killed and their loops learn they are stopped.
func (s *Service) RepoDeleted(repo string, stopped []string) {
	for _, name := range stopped {
		p, err := s.Get(context.Background(), name)
		if err != nil {
			continue
		}
		s.mu.Lock()
		pr := s.pipes[name]
		if pr != nil {
			pr.p = p
			if pr.cancel != nil {
				pr.kill = "pipeline stopped: " + p.Stopped
				pr.cancel()
			}
		}
		s.mu.Unlock()
		s.cfg.Log.Warn().Str("pipeline", name).Str("repo", repo).Msg("pipelines: pipeline stopped: its input repo was deleted")
	}
	if len(stopped) > 0 {
		s.notify()
	}
}

// stoppedErr is why a stopped pipeline's job does not run.
func stoppedErr(p *Pipeline) string {
	return fmt.Sprintf("pipeline stopped: %s", p.Stopped)
}
