package adminapi

import (
	"context"
	"time"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
)

// stopWait bounds how long POST /jobs/{id}/stop waits for the job to end.
const stopWait = time.Minute

// stopJob stops a pending or running job (pipelines.Service.StopJob): admin
// on the pipeline's output repo, like a restart. It answers the job once it
// ended killed (or ended otherwise first), or as it is after stopWait.
func (a *API) stopJob(c *adminCall) (any, error) {
	j, err := a.jobFor(c, c.path("id"))
	if err != nil {
		return nil, err
	}
	if auth.IsPipelineUser(c.user) {
		return nil, fail(errs.Permission, "AccessDenied", "access denied: a pipeline's key cannot manage pipelines")
	}
	if _, err := a.pipeline(c, j.Pipeline, auth.PermAdmin, "stop its pipeline's jobs"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(c.ctx, stopWait)
	defer cancel()
	out, err := a.pl.StopJob(ctx, j.ID, c.user)
	if err != nil {
		if errs.Is(err, errs.Conflict) {
			return nil, fail(errs.Conflict, "Conflict", "%s", message(err))
		}
		return nil, pipelineErr(err)
	}
	c.audit(a, "job.stop", j.Pipeline, "job "+j.ID+" ended "+out.State)
	return out, nil
}
