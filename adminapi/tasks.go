package adminapi

import (
	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/pipelines"
)

// taskRoutes registers the calls of remote workers (pods of the kubernetes
// runner): they read their task, claim its datums one at a time and report
// each try, authenticated with the task's own key, the pipeline's
// (pipelines.TaskBoard).
func (a *API) taskRoutes() {
	a.handle("GET", "/tasks/{id}", a.getTask)
	a.handle("POST", "/tasks/{id}/claim", a.claimDatum)
	a.handle("POST", "/tasks/{id}/results", a.reportDatum)
	a.handle("POST", "/tasks/{id}/renew", a.renewClaim)
}

func (a *API) board(c *adminCall) (*pipelines.TaskBoard, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	if c.user == "" {
		return nil, unauthenticated()
	}
	// Only a pipeline's key reaches the board (which then checks the task
	// is its pipeline's): every other caller, admin users included, is
	// refused before a task id is looked at, so it learns nothing of them.
	if !auth.IsPipelineUser(c.user) {
		return nil, fail(errs.Permission, "AccessDenied", "access denied: the /tasks calls are for remote workers, signed with their pipeline's key; %s is not a pipeline's", c.who())
	}
	b := ps.Tasks()
	if b == nil {
		return nil, fail(errs.NotImplemented, "NotImplemented", "this gateway runs no remote workers (no kubernetes runner)")
	}
	return b, nil
}

func (a *API) getTask(c *adminCall) (any, error) {
	b, err := a.board(c)
	if err != nil {
		return nil, err
	}
	return b.Get(c.path("id"), c.key)
}

func (a *API) claimDatum(c *adminCall) (any, error) {
	b, err := a.board(c)
	if err != nil {
		return nil, err
	}
	var req pipev1.TaskClaimRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	tok, d, err := b.Claim(c.path("id"), c.key, req.Worker)
	if err != nil {
		return nil, err
	}
	return pipev1.TaskClaim{Token: tok, Datum: d, LeaseMS: b.Lease().Milliseconds()}, nil
}

func (a *API) renewClaim(c *adminCall) (any, error) {
	b, err := a.board(c)
	if err != nil {
		return nil, err
	}
	var req pipev1.TaskRenew
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	lease, err := b.Renew(c.path("id"), c.key, req.Worker, req.Token, req.Datum)
	if err != nil {
		return nil, err
	}
	return pipev1.TaskLease{LeaseMS: lease.Milliseconds()}, nil
}

func (a *API) reportDatum(c *adminCall) (any, error) {
	b, err := a.board(c)
	if err != nil {
		return nil, err
	}
	var req pipev1.TaskResult
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := b.Report(c.path("id"), c.key, req.Token, req.Result); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
