package adminapi

import (
	"context"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
)

// The audit log (docs/api.md "Audit log"). Every mutating route is either
// audited (auditRoutes) or exempt with a reason (auditExempt);
// TestAuditRoutesClassified fails on a route in neither. An audited call
// by an authenticated caller writes, after its handler ran:
//   - on success, the entries its handler noted with c.audit (what it did,
//     with its parameters), or, when it noted none, one entry with the
//     route's action;
//   - on failure, one entry with the route's action, Result failed and the
//     API error code and message.
//
// Calls refused before the caller is known (bad signature, unknown key)
// are not audited, so that anonymous traffic cannot fill the log; the
// request log has them. Every entry carries the user, the access key and
// the request id (also given to the operations the call runs, through
// meta.WithAuditCaller, so a purge's own entries carry them).

// auditRoute is how an audited route is recorded.
type auditRoute struct {
	action string
	// self: on success the operation writes its own entries (purge: meta
	// and gateway/purge.go), so the call writes none.
	self bool
}

// auditRoutes are the audited routes, by "METHOD path" as handle gets it.
var auditRoutes = map[string]auditRoute{
	"POST /repos":                                   {action: "repo.create"},
	"DELETE /repos/{repo}":                          {action: "repo.delete"},
	"PUT /repos/{repo}/public":                      {action: "repo.set-public"},
	"POST /repos/{repo}/branches":                   {action: "branch.create"},
	"DELETE /repos/{repo}/branches/{branch}":        {action: "branch.delete"},
	"PUT /repos/{repo}/branches/{branch}/protected": {action: "branch.protect"},
	"POST /repos/{repo}/branches/{branch}/revert":   {action: "revert"},
	"POST /repos/{repo}/branches/{branch}/reset":    {action: "reset"},
	"POST /repos/{repo}/tags":                       {action: "tag.create"},
	"DELETE /repos/{repo}/tags/{tag}":               {action: "tag.delete"},
	"POST /repos/{repo}/merge":                      {action: "merge"},
	"POST /repos/{repo}/purge":                      {action: "purge", self: true},
	"POST /purge":                                   {action: "purge", self: true},
	"POST /users":                                   {action: "user.create"},
	"DELETE /users/{user}":                          {action: "user.delete"},
	"PUT /users/{user}/create-repos":                {action: "user.set-create-repos"},
	"PUT /users/{user}/perms/{repo}":                {action: "perm.grant"},
	"DELETE /users/{user}/perms/{repo}":             {action: "perm.revoke"},
	"POST /keys":                                    {action: "key.create"},
	"DELETE /keys/{id}":                             {action: "key.revoke"},
	"POST /gc":                                      {action: "gc"},
	"POST /pipelines":                               {action: "pipeline.create"},
	"PUT /pipelines/{name}":                         {action: "pipeline.update"},
	"DELETE /pipelines/{name}":                      {action: "pipeline.delete"},
	"POST /pipelines/{name}/run":                    {action: "pipeline.run"},
	"POST /jobs/{id}/restart":                       {action: "job.restart"},
	"POST /jobs/{id}/stop":                          {action: "job.stop"},
	"POST /repos/{repo}/import":                     {action: "import"},
	"POST /mirror/sync":                             {action: "mirror.sync"},
}

// auditExempt are the mutating routes not audited, and why.
var auditExempt = map[string]string{
	"POST /repos/{repo}/commits":             "open commits are data writes: the commit history records them",
	"POST /repos/{repo}/commits/{id}/finish": "open commits are data writes: the commit history records them",
	"POST /repos/{repo}/commits/{id}/abort":  "open commits are data writes: the commit history records them",
	"POST /tasks/{id}/claim":                 "worker protocol of a job (the job records it)",
	"POST /tasks/{id}/results":               "worker protocol of a job (the job records it)",
	"POST /tasks/{id}/renew":                 "worker protocol of a job (the job records it)",
}

// auditNotes collects what a call's handler noted (c.audit).
type auditNotes struct{ entries []meta.AuditEntry }

type auditNotesKey struct{}

// audited wraps the handler of route "method path" so that it is audited
// as auditRoutes says; other routes are returned unchanged.
func (a *API) audited(method, path string, fn adminFunc) adminFunc {
	rt, ok := auditRoutes[method+" "+path]
	if !ok {
		return fn
	}
	return func(c *adminCall) (v any, err error) {
		notes := &auditNotes{}
		c.ctx = context.WithValue(meta.WithAuditCaller(c.ctx, meta.AuditCaller{Key: c.key, RequestID: c.id}), auditNotesKey{}, notes)
		if c.user == "" {
			return fn(c) // anonymous: refused by the handler, not audited
		}
		defer func() {
			if p := recover(); p != nil {
				a.writeAudit(c, rt, nil, errs.E("admin", errs.Internal, "internal error (request %s)", c.id))
				panic(p)
			}
			a.writeAudit(c, rt, notes.entries, err)
		}()
		return fn(c)
	}
}

// audit notes an entry for the call's audit log record: action (e.g.
// "branch.create"), target (what it acted on: REPO@BRANCH, a user, a
// key id), detail (its parameters, never secrets). Outside an audited
// route it writes the entry at once.
func (c *adminCall) audit(a *API, action, target, detail string) {
	e := meta.AuditEntry{User: c.who(), Key: c.key, RequestID: c.id, Action: action, Target: target, Detail: detail, Result: meta.AuditOK}
	if n, ok := c.ctx.Value(auditNotesKey{}).(*auditNotes); ok {
		n.entries = append(n.entries, e)
		return
	}
	e.Repo = auditRepo(c, action, target)
	a.appendAudit(c, e)
}

// writeAudit writes the call's entries: notes on success (or the route's
// action when none), one failed entry on err.
func (a *API) writeAudit(c *adminCall, rt auditRoute, notes []meta.AuditEntry, err error) {
	if err == nil {
		if rt.self {
			return
		}
		if len(notes) == 0 {
			notes = []meta.AuditEntry{{User: c.who(), Key: c.key, RequestID: c.id, Action: rt.action,
				Target: routeTarget(c), Result: meta.AuditOK}}
		}
		for _, e := range notes {
			e.Repo = auditRepo(c, e.Action, e.Target)
			a.appendAudit(c, e)
		}
		return
	}
	_, ae := toAPIError(err)
	e := meta.AuditEntry{User: c.who(), Key: c.key, RequestID: c.id, Action: rt.action, Target: routeTarget(c),
		Result: meta.AuditFailed, Code: ae.Code, Error: ae.Message}
	e.Repo = auditRepo(c, e.Action, e.Target)
	a.appendAudit(c, e)
}

// appendAudit writes e; the call's answer does not depend on it (a failed
// write is logged).
func (a *API) appendAudit(c *adminCall, e meta.AuditEntry) {
	if err := a.meta.Audit(context.WithoutCancel(c.ctx), e); err != nil {
		a.logger.Error().Err(err).Str("request_id", c.id).Str("action", e.Action).Str("target", e.Target).Msg("audit log write failed")
	}
}

// auditRepo is the repo an entry concerns: the route's {repo}, else the
// target of repo actions and of pipeline and job actions (a pipeline's
// name is its output repo's).
func auditRepo(c *adminCall, action, target string) string {
	if c.r != nil {
		if r := c.path("repo"); r != "" {
			return r
		}
	}
	switch group, _, _ := strings.Cut(action, "."); group {
	case "repo", "pipeline", "job":
		if target != "" && !strings.Contains(target, " ") {
			return target
		}
		if c.r != nil {
			return c.path("name")
		}
	}
	return ""
}

// routeTarget names what a failed call aimed at from its path values:
// REPO@BRANCH (or @TAG), else the repo, the user, the key or job id, or
// the pipeline name.
func routeTarget(c *adminCall) string {
	if c.r == nil {
		return ""
	}
	v := mux.Vars(c.r)
	repo := c.path("repo")
	for _, ref := range []string{"branch", "tag"} {
		if v[ref] != "" {
			return repo + "@" + c.path(ref)
		}
	}
	switch {
	case repo != "":
		return repo
	case v["user"] != "":
		return c.path("user")
	case v["id"] != "" && strings.HasPrefix(c.r.URL.Path, Prefix+"jobs/"):
		return "job " + c.path("id")
	case v["id"] != "":
		return c.path("id")
	case v["name"] != "":
		return c.path("name")
	}
	return ""
}

// Limits of GET /audit.
const (
	defAudit = 100
	maxAudit = 1000
)

// auditLog answers GET /audit: a page of the log. A global admin reads
// every entry; another user reads only the entries of a repo it admins,
// and must name it (repo=).
func (a *API) auditLog(c *adminCall) (any, error) {
	q := meta.AuditQuery{User: c.q("user"), Repo: c.q("repo"), Action: c.q("action"), Result: c.q("result"), Cursor: c.q("cursor")}
	if q.Result != "" && q.Result != meta.AuditOK && q.Result != meta.AuditFailed {
		return nil, fail(errs.Invalid, "InvalidArgument", "result must be ok or failed, not %q", q.Result)
	}
	if c.user == "" {
		return nil, unauthenticated()
	}
	if !c.admin {
		if q.Repo == "" {
			return nil, fail(errs.Permission, "AccessDenied",
				"access denied: %s is not an admin user; a repo admin reads the audit log of its repo: name it (tusk audit --repo REPO)", c.user)
		}
		if _, err := a.repo(c, q.Repo, auth.PermAdmin, "read its audit log"); err != nil {
			return nil, err
		}
	}
	var err error
	if q.Limit, err = c.qint("limit", defAudit, maxAudit); err != nil {
		return nil, err
	}
	if q.Since, err = qtime(c, "since"); err != nil {
		return nil, err
	}
	if q.Until, err = qtime(c, "until"); err != nil {
		return nil, err
	}
	switch c.q("order") {
	case "", "oldest":
	case "newest":
		q.Newest = true
	default:
		return nil, fail(errs.Invalid, "InvalidArgument", "order must be oldest or newest, not %q", c.q("order"))
	}
	es, next, err := a.meta.AuditPage(c.ctx, q)
	if err != nil {
		return nil, err
	}
	out := apiv1.AuditResult{Entries: make([]apiv1.AuditEntry, 0, len(es)), Next: next}
	for _, e := range es {
		out.Entries = append(out.Entries, apiv1.AuditEntry(e))
	}
	return out, nil
}

// qtime parses an RFC 3339 time query parameter (zero when absent).
func qtime(c *adminCall, name string) (time.Time, error) {
	s := c.q(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fail(errs.Invalid, "InvalidArgument", "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", name, s)
	}
	return t, nil
}
