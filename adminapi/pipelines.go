package adminapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
	"github.com/tusk-data/tusk/s3api"
)

// pipelineRoutes registers the pipeline calls (called by routes).
func (a *API) pipelineRoutes() {
	a.handle("GET", "/pipelines", a.listPipelines)
	a.handle("POST", "/pipelines", a.createPipeline)
	a.handle("GET", "/pipelines/{name}", a.getPipeline)
	a.handle("PUT", "/pipelines/{name}", a.updatePipeline)
	a.handle("DELETE", "/pipelines/{name}", a.deletePipeline)
	a.handle("GET", "/pipelines/{name}/logs", a.pipelineLogs)
	a.handle("GET", "/jobs", a.listJobs)
	a.handle("GET", "/jobs/wait", a.waitIdle) // before /jobs/{id}: the first route that matches wins
	a.handle("GET", "/jobs/{id}", a.getJob)
	a.handle("GET", "/jobs/{id}/wait", a.waitJob)
	a.handle("POST", "/jobs/{id}/restart", a.restartJob)
	a.handle("POST", "/jobs/{id}/stop", a.stopJob) // jobstop.go
	a.handle("GET", "/jobs/{id}/datums", a.listDatums)
	a.handle("GET", "/jobs/{id}/datums/{datum}/log", a.datumLog)
	a.handle("GET", "/repos/{repo}/prov", a.prov)
	a.handle("GET", "/prov/{id}", a.provRecord)
}

func (a *API) pipes() (*pipelines.Service, error) {
	if a.pl == nil {
		return nil, fail(errs.NotImplemented, "NotImplemented", "pipelines are disabled on this gateway")
	}
	return a.pl, nil
}

// pipelineErr maps pipeline errors to answers.
func pipelineErr(err error) error {
	var se *pipelines.SpecError
	if errors.As(err, &se) {
		return fail(errs.Invalid, "InvalidSpec", "%s", se.Error())
	}
	return err // NoSuchPipeline, NoSuchJob, NoSuchDatum pass through (toAPIError)
}

// pipeline loads a pipeline the caller may see (read on its output repo,
// the repo of the same name; need for more). The permission is checked
// first, on the name: a caller without it gets 403 AccessDenied whether the
// pipeline exists or not (docs/architecture.md, "Access rules").
func (a *API) pipeline(c *adminCall, name string, need int, what string) (*pipelines.Pipeline, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	_, rerr := a.repo(c, name, need, what)
	if rerr != nil && codeOf(rerr) != "NoSuchRepo" {
		return nil, rerr
	}
	p, err := ps.Get(c.ctx, name)
	if err != nil {
		return nil, pipelineErr(err)
	}
	if rerr != nil && need != auth.PermRead {
		return nil, rerr // its output repo was deleted by hand: still visible, not managed
	}
	return p, nil
}

// hidden is the denial of a job or provenance record id that names
// nothing the caller may see: a missing id answers like one the caller
// may not read, except to a global admin, who may read everything and so
// learns it does not exist (err).
func hidden(c *adminCall, err error, what, id string) error {
	if c.admin || !(errs.Is(err, errs.NotExist) || errs.Is(err, errs.Invalid)) {
		return err
	}
	if c.user == "" {
		return unauthenticated()
	}
	return fail(errs.Permission, "AccessDenied", "access denied: %s needs read permission on the output repo of %s %q to see it", c.who(), what, id)
}

func (a *API) pipelineInfo(ctx context.Context, p *pipelines.Pipeline) pipev1.PipelineInfo {
	ps := a.pl
	info := pipev1.PipelineInfo{Name: p.Name(), Version: p.Version, Spec: p.Spec, Created: p.Created, Updated: p.Updated,
		CreatedBy: p.CreatedBy, Output: p.Name() + "@" + p.Spec.OutBranch(), State: "idle"}
	for _, l := range p.Spec.Leaves() {
		info.Inputs = append(info.Inputs, l.Repo+"@"+l.Branch)
	}
	if jobs, err := ps.ListJobs(ctx, p.Name(), 2); err == nil && len(jobs) > 0 {
		info.LastJob = jobs[0]
		switch {
		case !jobs[0].Done():
			info.State = jobs[0].State
			if jobs[0].State == pipelines.JobFinishing {
				info.State = pipelines.JobRunning
			}
			if jobs[0].State == pipelines.JobPending && len(jobs) > 1 && !jobs[1].Done() {
				info.State = pipelines.JobRunning
			}
		case jobs[0].State == pipelines.JobFailure || jobs[0].State == pipelines.JobPartial:
			info.State = "failing"
		}
	}
	if info.State == "failing" {
		if r, err := ps.Retrying(ctx, p.Name()); err == nil && r != nil {
			info.State, info.Retry = "retrying", r
		}
	}
	info.DatumVersion = p.DatumVer()
	if p.Stopped != "" {
		info.State, info.Stopped = "stopped", p.Stopped
	}
	info.Processed, _ = ps.GetState(ctx, p.Name())
	return info
}

func (a *API) listPipelines(c *adminCall) (any, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	list, err := ps.List(c.ctx)
	if err != nil {
		return nil, err
	}
	out := []pipev1.PipelineInfo{}
	for _, p := range list {
		if a.auth.Level(c.ctx, c.user, p.Name()) >= auth.PermRead {
			out = append(out, a.pipelineInfo(c.ctx, p))
		}
	}
	return out, nil
}

func (a *API) getPipeline(c *adminCall) (any, error) {
	p, err := a.pipeline(c, c.path("name"), auth.PermRead, "see its pipeline")
	if err != nil {
		return nil, err
	}
	return a.pipelineInfo(c.ctx, p), nil
}

// readSpec reads a spec (YAML or JSON) from the body.
func (c *adminCall) readSpec() (*pipelines.Spec, error) {
	b, err := io.ReadAll(io.LimitReader(c.body, maxAdminBody+1))
	if err != nil {
		return nil, fail(errs.Invalid, "InvalidArgument", "could not read the spec: %v", err)
	}
	if len(b) > maxAdminBody {
		return nil, fail(errs.TooLarge, "TooLarge", "the spec is larger than %d bytes", maxAdminBody)
	}
	sp, err := pipelines.Parse(b)
	if err != nil {
		return nil, pipelineErr(err)
	}
	return sp, nil
}

// checkSpecAccess checks the caller may read every input repo.
func (a *API) checkSpecAccess(c *adminCall, sp *pipelines.Spec) error {
	if auth.IsPipelineUser(c.user) {
		return fail(errs.Permission, "AccessDenied", "access denied: a pipeline's key cannot manage pipelines")
	}
	for _, r := range sp.InputRepos() {
		if err := a.auth.Allow(c.ctx, c.user, r, s3api.ActRead); err != nil {
			if _, gerr := a.meta.GetRepo(c.ctx, r); errs.Is(gerr, errs.NotExist) {
				continue // reported by the service, naming the field
			}
			return fail(errs.Permission, "AccessDenied", "access denied: %s needs read permission on input repo %q", c.who(), r)
		}
	}
	return nil
}

func (a *API) createPipeline(c *adminCall) (any, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	if c.user == "" {
		return nil, unauthenticated()
	}
	sp, err := c.readSpec()
	if err != nil {
		return nil, err
	}
	if err := a.checkSpecAccess(c, sp); err != nil {
		return nil, err
	}
	// The output repo: the caller administers it, or may create it.
	if _, err := a.meta.GetRepo(c.ctx, sp.Name); err == nil {
		if _, err := a.repo(c, sp.Name, auth.PermAdmin, "make it a pipeline's output"); err != nil {
			return nil, err
		}
	} else if err := a.auth.Allow(c.ctx, c.user, sp.Name, s3api.ActCreateRepo); err != nil {
		return nil, err
	}
	p, err := ps.Create(c.ctx, sp, pipelines.CreateOptions{User: c.user})
	if err != nil {
		if errs.Is(err, errs.Exist) {
			return nil, fail(errs.Exist, "AlreadyExists", "%s", message(err))
		}
		return nil, pipelineErr(err)
	}
	if !c.admin {
		if err := a.auth.Grant(c.ctx, c.user, sp.Name, auth.PermAdmin); err != nil {
			return nil, err
		}
	}
	c.audit(a, "pipeline.create", sp.Name, "version 1")
	c.status = http.StatusCreated
	return a.pipelineInfo(c.ctx, p), nil
}

func (a *API) updatePipeline(c *adminCall) (any, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	name := c.path("name")
	if _, err := a.pipeline(c, name, auth.PermAdmin, "update its pipeline"); err != nil {
		return nil, err
	}
	sp, err := c.readSpec()
	if err != nil {
		return nil, err
	}
	if sp.Name != name {
		return nil, fail(errs.Invalid, "InvalidSpec", "name: the spec names pipeline %q, not %q; a pipeline cannot be renamed", sp.Name, name)
	}
	if err := a.checkSpecAccess(c, sp); err != nil {
		return nil, err
	}
	reprocess, err := c.qbool("reprocess")
	if err != nil {
		return nil, err
	}
	p, err := ps.UpdateWith(c.ctx, sp, pipelines.UpdateOptions{Reprocess: reprocess})
	if err != nil {
		return nil, pipelineErr(err)
	}
	detail := "version " + strconv.Itoa(p.Version)
	if p.DatumVer() == p.Version {
		detail += ", reprocessing every datum"
	}
	c.audit(a, "pipeline.update", name, detail)
	return a.pipelineInfo(c.ctx, p), nil
}

func (a *API) deletePipeline(c *adminCall) (any, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	name := c.path("name")
	if _, err := a.pipeline(c, name, auth.PermAdmin, "delete its pipeline"); err != nil {
		return nil, err // the permission before the query: denied callers learn nothing else
	}
	keep, err := c.qbool("keep_repo")
	if err != nil {
		return nil, err
	}
	if err := ps.Delete(c.ctx, name, pipelines.DeleteOptions{KeepRepo: keep}); err != nil {
		if errs.Is(err, errs.Conflict) {
			return nil, fail(errs.Conflict, "Conflict", "%s", message(err))
		}
		return nil, pipelineErr(err)
	}
	if !keep {
		if err := a.auth.DropRepoPerms(c.ctx, name); err != nil {
			return nil, err
		}
	}
	c.audit(a, "pipeline.delete", name, map[bool]string{true: "output repo kept", false: "output repo deleted"}[keep])
	return map[string]any{"deleted": name, "repo_kept": keep}, nil
}

func (a *API) pipelineLogs(c *adminCall) (any, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	p, err := a.pipeline(c, c.path("name"), auth.PermRead, "read its pipeline's logs")
	if err != nil {
		return nil, err
	}
	jobID := c.q("job")
	if jobID == "" {
		jobs, err := ps.ListJobs(c.ctx, p.Name(), 2)
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			if j.State != pipelines.JobPending {
				jobID = j.ID
				break
			}
		}
		if jobID == "" {
			return pipev1.LogInfo{Pipeline: p.Name(), Logs: []pipev1.DatumLog{}}, nil
		}
	}
	j, err := ps.GetJob(c.ctx, jobID)
	if err != nil {
		return nil, pipelineErr(err)
	}
	if j.Pipeline != p.Name() {
		return nil, fail(errs.NotExist, "NoSuchJob", "job %s is not a job of pipeline %s", jobID, p.Name())
	}
	failedOnly, err := c.qbool("failed")
	if err != nil {
		return nil, err
	}
	ds, err := ps.ListDatums(c.ctx, j.ID, failedOnly)
	if err != nil {
		return nil, pipelineErr(err)
	}
	limit, err := c.qint("limit", 100, 10000)
	if err != nil {
		return nil, err
	}
	want := c.q("datum")
	out := pipev1.LogInfo{Pipeline: p.Name(), Job: j.ID, Logs: []pipev1.DatumLog{}}
	for _, d := range ds {
		if want != "" && !strings.HasPrefix(d.ID, want) {
			continue
		}
		if len(out.Logs) >= limit {
			out.Truncated = true
			break
		}
		l, err := ps.DatumLog(c.ctx, j.ID, d.ID)
		if err != nil && !errs.Is(err, errs.NotExist) {
			return nil, err
		}
		if err != nil && d.Action == pipelines.ActRemove {
			continue
		}
		out.Logs = append(out.Logs, pipev1.DatumLog{Datum: d.ID, Inputs: pipelines.DescribeDatum(p, d.Leaves), State: d.State, ExitCode: d.ExitCode, Log: l})
	}
	return out, nil
}

// jobFor loads a job the caller may see.
func (a *API) jobFor(c *adminCall, id string) (*pipelines.Job, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	j, err := ps.GetJob(c.ctx, id)
	if err != nil {
		// A missing id (or an ambiguous prefix) answers as a job the
		// caller may not read, the same words, naming no pipeline.
		return nil, hidden(c, pipelineErr(err), "job", id)
	}
	if a.auth.Level(c.ctx, c.user, j.Pipeline) < auth.PermRead {
		return nil, hidden(c, errs.E("adminapi", errs.NotExist, "job %q", id), "job", id)
	}
	return j, nil
}

func (a *API) listJobs(c *adminCall) (any, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	name := c.q("pipeline")
	limit, err := c.qint("limit", 50, 1000)
	if err != nil {
		return nil, err
	}
	if name != "" {
		if _, err := a.pipeline(c, name, auth.PermRead, "see its pipeline's jobs"); err != nil {
			return nil, err
		}
	}
	jobs, err := ps.ListJobs(c.ctx, name, 0)
	if err != nil {
		return nil, err
	}
	out := pipev1.JobList{Jobs: []*pipelines.Job{}}
	for _, j := range jobs {
		if name == "" && a.auth.Level(c.ctx, c.user, j.Pipeline) < auth.PermRead {
			continue
		}
		out.Jobs = append(out.Jobs, j)
		if len(out.Jobs) >= limit {
			break
		}
	}
	return out, nil
}

func (a *API) getJob(c *adminCall) (any, error) {
	return a.jobFor(c, c.path("id"))
}

// waitTimeout reads ?timeout= (default 30s, at most 10 minutes).
func (c *adminCall) waitTimeout() (time.Duration, error) {
	t := 30 * time.Second
	if s := c.q("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fail(errs.Invalid, "InvalidArgument", "timeout must be a duration such as 30s, not %q", s)
		}
		t = min(d, 10*time.Minute)
	}
	return t, nil
}

func (a *API) waitJob(c *adminCall) (any, error) {
	j, err := a.jobFor(c, c.path("id"))
	if err != nil {
		return nil, err
	}
	t, err := c.waitTimeout()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(c.ctx, t)
	defer cancel()
	return a.pl.WaitJob(ctx, j.ID)
}

// restartJob re-runs a failed, partial or killed job now (the pipeline's
// newest): admin on the pipeline's output repo, like an update.
func (a *API) restartJob(c *adminCall) (any, error) {
	j, err := a.jobFor(c, c.path("id"))
	if err != nil {
		return nil, err
	}
	if auth.IsPipelineUser(c.user) {
		return nil, fail(errs.Permission, "AccessDenied", "access denied: a pipeline's key cannot manage pipelines")
	}
	if _, err := a.pipeline(c, j.Pipeline, auth.PermAdmin, "restart its pipeline's jobs"); err != nil {
		return nil, err
	}
	nj, err := a.pl.RestartJob(c.ctx, j.ID)
	if err != nil {
		if errs.Is(err, errs.Conflict) {
			return nil, fail(errs.Conflict, "Conflict", "%s", message(err))
		}
		return nil, pipelineErr(err)
	}
	c.audit(a, "job.restart", j.Pipeline, "job "+j.ID+" as job "+nj.ID)
	c.status = http.StatusCreated
	return pipev1.JobRestart{Restarted: j.ID, Job: nj}, nil
}

func (a *API) waitIdle(c *adminCall) (any, error) {
	ps, err := a.pipes()
	if err != nil {
		return nil, err
	}
	var names []string
	if s := c.q("pipeline"); s != "" {
		for _, n := range strings.Split(s, ",") {
			if _, err := a.pipeline(c, n, auth.PermRead, "wait for its pipeline"); err != nil {
				return nil, err
			}
			names = append(names, n)
		}
	} else if c.user == "" {
		return nil, unauthenticated()
	}
	t, err := c.waitTimeout()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(c.ctx, t)
	defer cancel()
	_ = ps.WaitIdle(ctx, names...)
	out := pipev1.IdleInfo{Idle: ps.Idle(names...), Jobs: []*pipelines.Job{}}
	if len(names) == 0 {
		list, err := ps.List(c.ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range list {
			if a.auth.Level(c.ctx, c.user, p.Name()) >= auth.PermRead {
				names = append(names, p.Name())
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if jobs, err := ps.ListJobs(c.ctx, n, 1); err == nil && len(jobs) > 0 {
			out.Jobs = append(out.Jobs, jobs[0])
		}
	}
	return out, nil
}

func (a *API) listDatums(c *adminCall) (any, error) {
	j, err := a.jobFor(c, c.path("id"))
	if err != nil {
		return nil, err
	}
	failedOnly, err := c.qbool("failed")
	if err != nil {
		return nil, err
	}
	ds, err := a.pl.ListDatums(c.ctx, j.ID, failedOnly)
	if err != nil {
		return nil, pipelineErr(err)
	}
	var leaves []*pipelines.PFSInput
	if j.Spec != nil {
		leaves = j.Spec.Leaves()
	}
	out := pipev1.DatumList{Job: j.ID, Datums: []pipev1.DatumInfo{}, Stats: j.Stats}
	for _, d := range ds {
		ins := []string{}
		for _, l := range d.Leaves {
			name, p := "?", l.Path
			if l.Leaf < len(leaves) {
				name = leaves[l.Leaf].Name
			}
			if p == "" {
				p = "/"
			}
			ins = append(ins, name+":"+p)
		}
		out.Datums = append(out.Datums, pipev1.DatumInfo{JobDatum: d, Inputs: ins})
	}
	return out, nil
}

func (a *API) datumLog(c *adminCall) (any, error) {
	j, err := a.jobFor(c, c.path("id"))
	if err != nil {
		return nil, err
	}
	l, err := a.pl.DatumLog(c.ctx, j.ID, c.path("datum"))
	if err != nil {
		return nil, pipelineErr(err)
	}
	return map[string]string{"job": j.ID, "datum": c.path("datum"), "log": l}, nil
}

func (a *API) prov(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "read its provenance"); err != nil {
		return nil, err
	}
	key := c.q("key")
	if key == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", "key is required: the object whose provenance to show")
	}
	ref := c.q("ref")
	if _, err := a.resolve(c, repo, ref); err != nil {
		return nil, err
	}
	if ref == "" {
		ref = "main"
	}
	down, err := c.qbool("downstream")
	if err != nil {
		return nil, err
	}
	canRead := func(r string) bool { return a.auth.Level(c.ctx, c.user, r) >= auth.PermRead }
	var n *pipelines.ProvNode
	if down {
		n, err = pipelines.Downstream(c.ctx, a.meta, repo, ref, key, canRead)
	} else {
		n, err = pipelines.Upstream(c.ctx, a.meta, repo, ref, key, canRead)
	}
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, fail(errs.NotExist, "NoSuchKey", "repo %q has no key %q at %s", repo, key, ref)
		}
		return nil, err
	}
	dir := "upstream"
	if down {
		dir = "downstream"
	}
	return pipev1.ProvInfo{Direction: dir, Root: n}, nil
}

func (a *API) provRecord(c *adminCall) (any, error) {
	id := c.path("id")
	rec, err := a.meta.GetProv(c.ctx, id)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, hidden(c, fail(errs.NotExist, "NotFound", "%s", message(err)), "provenance record", id)
		}
		return nil, err
	}
	if a.auth.Level(c.ctx, c.user, rec.Repo) < auth.PermRead {
		// The same answer as a missing record: it names no repo.
		return nil, hidden(c, errs.E("adminapi", errs.NotExist, "provenance record %q", id), "provenance record", id)
	}
	out := *rec
	out.Inputs = nil
	for _, in := range rec.Inputs {
		if a.auth.Level(c.ctx, c.user, in.Repo) < auth.PermRead {
			in = meta.ProvInput{Name: in.Name, Repo: in.Repo}
		}
		out.Inputs = append(out.Inputs, in)
	}
	return &out, nil
}

// pipelineOwned refuses admin calls that would finish or abort a pipeline
// job's open commit: the job alone ends it.
func pipelineOwned(oc *meta.OpenCommit) error {
	if oc.Meta[pipelines.MetaRole] == "" {
		return nil
	}
	return fail(errs.Permission, "AccessDenied", "open commit %s belongs to job %s of pipeline %s; only the pipeline finishes or aborts it",
		oc.ID, oc.Meta[pipelines.MetaJob], strings.SplitN(oc.Meta[pipelines.MetaPipeline], "@", 2)[0])
}
