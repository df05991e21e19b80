package adminapi

import (
	"context"
	"time"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
)

// Merge gates: a protected branch's required pipelines must have succeeded
// on a merge's source (pipelines.Service.CheckGate); gate jobs run a
// pipeline on a source branch (docs/architecture.md, "Merge gates and gate
// jobs").

// gateRoutes registers the gate calls (called by routes).
func (a *API) gateRoutes() {
	a.handle("POST", "/pipelines/{name}/run", a.runGate)
}

// runGate runs a gate job of a pipeline on a branch of its input (write on
// its output repo, read on the input repo).
func (a *API) runGate(c *adminCall) (any, error) {
	var req apiv1.RunGateRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Branch == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", `name the branch to run on: {"branch": BRANCH}`)
	}
	p, err := a.pipeline(c, c.path("name"), auth.PermWrite, "run it on a branch")
	if err != nil {
		return nil, err
	}
	repo := req.Repo
	if repo == "" {
		if rs := p.Spec.InputRepos(); len(rs) == 1 {
			repo = rs[0]
		}
	}
	if repo != "" {
		if _, err := a.repo(c, repo, auth.PermRead, "run a pipeline on its branches"); err != nil {
			return nil, err
		}
		if _, err := a.resolve(c, repo, req.Branch); err != nil {
			return nil, err
		}
	}
	j, err := a.pl.RunGate(c.ctx, pipelines.GateRequest{Pipeline: p.Name(), Repo: repo, Source: req.Branch, Force: req.Force})
	if err != nil {
		return nil, pipelineErr(err)
	}
	c.audit(a, "pipeline.run", p.Name(), "on "+repo+"@"+req.Branch+", job "+j.ID)
	if !j.Done() {
		c.status = 202
	}
	return j, nil
}

// checkRequired checks the required pipelines of a protect request: each
// exists and reads repo (pipelines must be enabled), and only with
// protected true.
func (a *API) checkRequired(c *adminCall, repo, branch string, req apiv1.SetProtectedRequest) error {
	if req.RequiredPipelines == nil || len(*req.RequiredPipelines) == 0 {
		return nil
	}
	if !*req.Protected {
		return fail(errs.Invalid, "InvalidArgument", "required pipelines go with a protected branch: send protected true")
	}
	ps, err := a.pipes()
	if err != nil {
		return err
	}
	for _, name := range *req.RequiredPipelines {
		p, err := ps.Get(c.ctx, name)
		if err != nil {
			return pipelineErr(err)
		}
		reads := false
		for _, r := range p.Spec.InputRepos() {
			reads = reads || r == repo
		}
		if !reads {
			return fail(errs.Invalid, "InvalidArgument", "pipeline %s does not read repo %s, so it cannot gate merges into %s@%s", name, repo, repo, branch)
		}
	}
	return nil
}

// maxGateWait bounds how long a merge waits for its gate jobs.
const maxGateWait = time.Hour

// mergeGate checks the merge of src into dst against dst's required
// pipelines. It returns what to merge: the source's commit id when the
// branch has a gate (the commit checked, never a ref that could move
// after the check), else req.Source; and the gate's states. A gate that
// has not passed starts its jobs and, unless req.Wait (which waits for
// them first), refuses the merge with MergeGate (errs.Gate).
func (a *API) mergeGate(c *adminCall, repo string, req apiv1.MergeRequest, src *meta.Ref, dst *meta.Branch) (string, []apiv1.GateInfo, error) {
	if dst == nil || len(dst.RequiredPipelines) == 0 {
		return req.Source, nil, nil
	}
	if src.Kind == meta.KindOpen {
		return "", nil, fail(errs.Invalid, "InvalidArgument", "cannot merge open commit %s; finish it first", req.Source)
	}
	if a.pl == nil {
		return "", nil, errs.E("adminapi", errs.Conflict, "branch %s of repo %s requires pipelines %v to pass before a merge, and pipelines are disabled on this gateway", dst.Name, repo, dst.RequiredPipelines).Because(errs.Gate)
	}
	check := pipelines.GateCheck{Repo: repo, Source: req.Source, Commit: src.CommitID(), Root: src.Root(), Destination: dst.Name,
		Required: dst.RequiredPipelines, Start: true}
	var st *pipelines.GateStatus
	var err error
	if req.Wait {
		t := 10 * time.Minute
		if req.Timeout != "" {
			d, perr := time.ParseDuration(req.Timeout)
			if perr != nil || d < 0 {
				return "", nil, fail(errs.Invalid, "InvalidArgument", "timeout must be a duration such as 10m, not %q", req.Timeout)
			}
			t = min(d, maxGateWait)
		}
		ctx, cancel := context.WithTimeout(c.ctx, t)
		st, err = a.pl.WaitGate(ctx, check)
		cancel()
	} else {
		st, err = a.pl.CheckGate(c.ctx, check)
	}
	if err != nil {
		return "", nil, err
	}
	var infos []apiv1.GateInfo
	for _, p := range st.Pipelines {
		infos = append(infos, apiv1.GateInfo{Pipeline: p.Name, State: p.State, Job: p.Job, Commit: p.Commit, Reason: p.Reason})
	}
	if err := st.Err(); err != nil {
		c.gate = infos
		return "", nil, err
	}
	return src.CommitID(), infos, nil
}
