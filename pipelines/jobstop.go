package pipelines

import (
	"context"

	"github.com/tusk-data/tusk/internal/errs"
)

// StopJob stops job id of a pipeline (tusk job stop): a running job is
// cancelled (its workers end, its commits are aborted, the provenance
// records it made are deleted) and a pending one ends before it runs. The
// job ends killed, saying who stopped it; like any killed job it is not
// retried automatically (tusk job restart re-runs it). The pipeline, its
// spec and its output repo (with the outputs of earlier jobs) stay; the
// next input commit starts a new job as usual.
//
// StopJob returns the job once it ended (or as it is when ctx ends first):
// a job that was already finishing ends as it would have (success). Errors:
// NotExist when there is no such job; Conflict when the job already ended
// or is a gate job (a merge gate's job ends with its merge).
func (s *Service) StopJob(ctx context.Context, id, who string) (*Job, error) {
	const op = "pipelines.StopJob"
	j, err := s.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.Done() {
		return nil, errs.E(op, errs.Conflict, "job %s already ended %s", j.ID, j.State)
	}
	if j.Gate != nil {
		return nil, errs.E(op, errs.Conflict, "job %s is a merge gate's job; it cannot be stopped on its own", j.ID)
	}
	why := "stopped by tusk job stop"
	if who != "" {
		why = "stopped by " + who + " (tusk job stop)"
	}
	direct := false // end it here, not in the pipeline's loop
	s.mu.Lock()
	pr := s.pipes[j.Pipeline]
	switch {
	case pr == nil:
		// No loop runs the pipeline's jobs (the service is not started).
		direct = true
	case pr.job == j.ID && pr.cancel != nil:
		// Running: the loop ends it killed once its run returns.
		pr.kill = why
		pr.cancel()
	default:
		// Not started (pending behind the running job, or about to
		// start): the loop will not run it but end it killed; a pending
		// one ends here at once, so that it does not wait for the job
		// ahead of it (the loop then finds it ended).
		if pr.stop == nil {
			pr.stop = map[string]string{}
		}
		pr.stop[j.ID] = why
		direct = j.State == JobPending
	}
	s.mu.Unlock()
	if direct {
		p, err := s.Get(ctx, j.Pipeline)
		if err != nil {
			return nil, err
		}
		if err := s.killJob(ctx, p, j.ID, why); err != nil {
			return nil, err
		}
		s.notify()
	}
	out, err := s.WaitJob(ctx, j.ID)
	if out != nil && out.Done() && pr != nil {
		s.mu.Lock()
		delete(pr.stop, j.ID) // it ended before the loop reached it
		s.mu.Unlock()
	}
	return out, err
}
