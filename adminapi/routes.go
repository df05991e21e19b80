package adminapi

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/s3api"
)

// Limits of listing calls.
const (
	maxLog     = 10000
	defLog     = 100
	maxDiff    = 100000
	defDiff    = 1000
	maxList    = 1000
	maxAuditLn = 100000 // unused since GET /audit pages (audit.go: maxAudit)
)

// routes registers the calls of docs/api.md; a GET also answers HEAD
// (handle).
func (a *API) routes() {
	a.handle("GET", "/version", a.getVersion)
	a.handle("GET", "/whoami", a.whoami)

	a.handle("GET", "/repos", a.listRepos)
	a.handle("POST", "/repos", a.createRepo)
	a.handle("GET", "/repos/{repo}", a.getRepo)
	a.handle("DELETE", "/repos/{repo}", a.deleteRepo)
	a.handle("PUT", "/repos/{repo}/public", a.setPublic)

	a.handle("GET", "/repos/{repo}/branches", a.listBranches)
	a.handle("POST", "/repos/{repo}/branches", a.createBranch)
	a.handle("GET", "/repos/{repo}/branches/{branch}", a.getBranch)
	a.handle("DELETE", "/repos/{repo}/branches/{branch}", a.deleteBranch)
	a.handle("PUT", "/repos/{repo}/branches/{branch}/protected", a.setProtected)
	a.handle("POST", "/repos/{repo}/branches/{branch}/revert", a.revert)
	a.handle("POST", "/repos/{repo}/branches/{branch}/reset", a.reset)

	a.handle("GET", "/repos/{repo}/tags", a.listTags)
	a.handle("POST", "/repos/{repo}/tags", a.createTag)
	a.handle("DELETE", "/repos/{repo}/tags/{tag}", a.deleteTag)

	a.handle("GET", "/repos/{repo}/refs/{ref}", a.getRef)
	a.handle("GET", "/repos/{repo}/log", a.log)
	a.handle("GET", "/repos/{repo}/diff", a.diff)
	a.handle("GET", "/repos/{repo}/commit-prov", a.commitProv) // commitprov.go
	a.handle("POST", "/repos/{repo}/merge", a.merge)

	a.handle("GET", "/repos/{repo}/commits", a.listOpen)
	a.handle("POST", "/repos/{repo}/commits", a.startCommit)
	a.handle("POST", "/repos/{repo}/commits/{id}/finish", a.finishCommit)
	a.handle("POST", "/repos/{repo}/commits/{id}/abort", a.abortCommit)

	a.handle("GET", "/repos/{repo}/objects", a.listObjects)
	a.handle("GET", "/repos/{repo}/object", a.getObject)
	a.handle("GET", "/repos/{repo}/preview", a.preview) // preview.go
	a.handle("POST", "/repos/{repo}/purge", a.purge)
	a.handle("POST", "/purge", a.purge)
	a.handle("POST", "/repos/{repo}/import", a.importObjects) // import.go

	a.handle("GET", "/users", a.listUsers)
	a.handle("POST", "/users", a.createUser)
	a.handle("GET", "/users/{user}", a.getUser)
	a.handle("DELETE", "/users/{user}", a.deleteUser)
	a.handle("PUT", "/users/{user}/create-repos", a.setCreateRepos)
	a.handle("PUT", "/users/{user}/perms/{repo}", a.grant)
	a.handle("DELETE", "/users/{user}/perms/{repo}", a.revoke)

	a.handle("GET", "/keys", a.listKeys)
	a.handle("POST", "/keys", a.createKey)
	a.handle("DELETE", "/keys/{id}", a.revokeKey)

	a.handle("GET", "/audit", a.auditLog)
	a.handle("POST", "/gc", a.gc)
	a.pipelineRoutes() // pipelines.go
	a.gateRoutes()     // gates.go
	a.taskRoutes()     // tasks.go
	a.backupRoutes()   // backup.go
}

// ---- service ----

func (a *API) getVersion(c *adminCall) (any, error) {
	return apiv1.VersionInfo{Version: a.version}, nil
}

func (a *API) whoami(c *adminCall) (any, error) {
	if c.user == "" {
		return nil, unauthenticated()
	}
	u, err := a.auth.GetUser(c.ctx, c.user)
	if err != nil {
		return nil, err
	}
	ui := userInfo(u, 0)
	return apiv1.WhoAmI{User: u.Name, Admin: u.Admin, CreateRepos: ui.CreateRepos, AccessKey: c.key, Perms: ui.Perms}, nil
}

// ---- repos ----

func (a *API) listRepos(c *adminCall) (any, error) {
	repos, err := a.meta.ListRepos(c.ctx)
	if err != nil {
		return nil, err
	}
	out := []apiv1.RepoInfo{}
	for _, r := range repos {
		lvl := a.auth.Level(c.ctx, c.user, r.Name)
		if lvl >= auth.PermRead {
			ri := apiv1.RepoInfo{Name: r.Name, Created: r.Created, Public: r.Public, Owner: r.OwnerName(), Permission: auth.PermName(lvl)}
			if err := a.repoStats(c, &ri); errs.Is(err, errs.NotExist) {
				continue // deleted since the listing
			} else if err != nil {
				return nil, err
			}
			out = append(out, ri)
		}
	}
	return out, nil
}

// repoStats fills ri's Objects and Size from main's head (meta.RootStats:
// O(keys) the first time a tree is seen, then O(changed keys × depth)).
func (a *API) repoStats(c *adminCall, ri *apiv1.RepoInfo) error {
	ref, err := a.meta.Resolve(c.ctx, ri.Name, "main")
	if err != nil {
		return err
	}
	st, err := a.meta.RootStats(c.ctx, ref.Root())
	if err != nil {
		return err
	}
	ri.Objects, ri.Size = st.Objects, st.Bytes
	return nil
}

func (a *API) getRepo(c *adminCall) (any, error) {
	r, err := a.repo(c, c.path("repo"), auth.PermRead, "read it")
	if err != nil {
		return nil, err
	}
	ri := apiv1.RepoInfo{Name: r.Name, Created: r.Created, Public: r.Public, Owner: r.OwnerName(), Permission: auth.PermName(a.auth.Level(c.ctx, c.user, r.Name))}
	if err := a.repoStats(c, &ri); err != nil {
		return nil, err
	}
	return ri, nil
}

func (a *API) createRepo(c *adminCall) (any, error) {
	var req apiv1.CreateRepoRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if c.user == "" {
		return nil, unauthenticated()
	}
	if err := names.ValidRepo(req.Name); err != nil {
		return nil, err
	}
	if err := a.auth.Allow(c.ctx, c.user, req.Name, s3api.ActCreateRepo); err != nil {
		return nil, err
	}
	r, err := a.meta.CreateRepo(c.ctx, req.Name, c.user)
	if err != nil {
		if errs.Is(err, errs.Exist) {
			return nil, fail(errs.Exist, "AlreadyExists", "repo %q already exists", req.Name)
		}
		return nil, err
	}
	if !c.admin {
		if err := a.auth.Grant(c.ctx, c.user, r.Name, auth.PermAdmin); err != nil {
			return nil, err
		}
	}
	c.audit(a, "repo.create", r.Name, "")
	c.status = http.StatusCreated
	return apiv1.RepoInfo{Name: r.Name, Created: r.Created, Public: r.Public, Owner: r.OwnerName(), Permission: "admin"}, nil
}

func (a *API) deleteRepo(c *adminCall) (any, error) {
	name := c.path("repo")
	force, err := c.qbool("force")
	if err != nil {
		return nil, err
	}
	if _, err := a.repo(c, name, auth.PermAdmin, "delete it"); err != nil {
		return nil, err
	}
	rep, err := a.meta.DeleteRepoReport(c.ctx, name, force)
	if err != nil {
		if errs.ReasonOf(err) == errs.NotEmpty {
			return nil, fail(errs.Conflict, "NotEmpty", "%s; to delete it with all its history, pass force (tusk repo delete --force %s)", message(err), name)
		}
		return nil, err
	}
	if err := a.auth.DropRepoPerms(c.ctx, name); err != nil {
		return nil, err
	}
	detail := map[bool]string{true: "force"}[force]
	if len(rep.Stopped) > 0 {
		detail += "; stopped pipelines " + strings.Join(rep.Stopped, ", ")
	}
	c.audit(a, "repo.delete", name, detail)
	return apiv1.RepoDeleted{Deleted: name, Stopped: rep.Stopped}, nil
}

func (a *API) setPublic(c *adminCall) (any, error) {
	name := c.path("repo")
	var req apiv1.SetPublicRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Public == nil {
		return nil, fail(errs.Invalid, "InvalidArgument", `send {"public": true} or {"public": false}`)
	}
	r, err := a.repo(c, name, auth.PermAdmin, "change who may read it")
	if err != nil {
		return nil, err
	}
	if err := a.meta.SetRepoPublic(c.ctx, name, *req.Public); err != nil {
		return nil, err
	}
	c.audit(a, "repo.set-public", name, strconv.FormatBool(*req.Public))
	return apiv1.RepoInfo{Name: r.Name, Created: r.Created, Public: *req.Public, Owner: r.OwnerName(), Permission: auth.PermName(a.auth.Level(c.ctx, c.user, name))}, nil
}

// ---- branches ----

func branchInfo(repo string, b *meta.Branch) apiv1.BranchInfo {
	return apiv1.BranchInfo{Repo: repo, Name: b.Name, Head: b.Head, Protected: b.Protected, Output: b.Output,
		RequiredPipelines: b.RequiredPipelines}
}

func (a *API) listBranches(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "list its branches"); err != nil {
		return nil, err
	}
	bs, err := a.meta.ListBranches(c.ctx, repo)
	if err != nil {
		return nil, err
	}
	out := []apiv1.BranchInfo{}
	for i := range bs {
		out = append(out, branchInfo(repo, &bs[i]))
	}
	return out, nil
}

func (a *API) getBranch(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "read its branches"); err != nil {
		return nil, err
	}
	r, err := a.branch(c, repo, c.path("branch"))
	if err != nil {
		return nil, err
	}
	return branchInfo(repo, r.Branch), nil
}

// refRequest reads and checks a apiv1.CreateRefRequest for a new branch or tag of
// repo: admin permission (what names the action), a valid name, and a From
// ref (default main) that resolves.
func (a *API) refRequest(c *adminCall, what string) (string, apiv1.CreateRefRequest, error) {
	repo := c.path("repo")
	var req apiv1.CreateRefRequest
	if err := c.decode(&req); err != nil {
		return "", req, err
	}
	if _, err := a.repo(c, repo, auth.PermAdmin, what); err != nil {
		return "", req, err
	}
	if err := names.ValidRef(req.Name); err != nil {
		return "", req, err
	}
	if req.From == "" {
		req.From = "main"
	}
	if _, err := a.resolve(c, repo, req.From); err != nil {
		return "", req, err
	}
	return repo, req, nil
}

func (a *API) createBranch(c *adminCall) (any, error) {
	repo, req, err := a.refRequest(c, "create branches")
	if err != nil {
		return nil, err
	}
	b, err := a.meta.CreateBranch(c.ctx, repo, req.Name, req.From)
	if err != nil {
		return nil, err
	}
	c.audit(a, "branch.create", repo+"@"+req.Name, "from "+req.From)
	c.status = http.StatusCreated
	return branchInfo(repo, b), nil
}

func (a *API) deleteBranch(c *adminCall) (any, error) {
	repo, name := c.path("repo"), c.path("branch")
	if _, err := a.repo(c, repo, auth.PermAdmin, "delete branches"); err != nil {
		return nil, err
	}
	r, err := a.branch(c, repo, name)
	if err != nil {
		return nil, err
	}
	if name == "main" {
		return nil, fail(errs.Invalid, "InvalidArgument", "branch main cannot be deleted; delete the repo instead (tusk repo delete %s)", repo)
	}
	if r.Branch.Protected {
		return nil, fail(errs.Permission, "AccessDenied", "branch %s of repo %s is protected; unprotect it first (tusk branch unprotect %s@%s)", name, repo, repo, name)
	}
	if err := a.meta.DeleteBranch(c.ctx, repo, name, true); err != nil {
		return nil, err
	}
	c.audit(a, "branch.delete", repo+"@"+name, "head "+r.Branch.Head)
	return map[string]string{"deleted": repo + "@" + name, "head": r.Branch.Head}, nil
}

func (a *API) setProtected(c *adminCall) (any, error) {
	repo, name := c.path("repo"), c.path("branch")
	var req apiv1.SetProtectedRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Protected == nil {
		return nil, fail(errs.Invalid, "InvalidArgument", `send {"protected": true} or {"protected": false}`)
	}
	if _, err := a.repo(c, repo, auth.PermAdmin, "protect branches"); err != nil {
		return nil, err
	}
	if _, err := a.branch(c, repo, name); err != nil {
		return nil, err
	}
	if err := a.checkRequired(c, repo, name, req); err != nil { // gates.go
		return nil, err
	}
	if err := a.meta.SetBranchProtected(c.ctx, repo, name, *req.Protected); err != nil {
		return nil, err
	}
	detail := ""
	if *req.Protected && req.RequiredPipelines != nil {
		if err := a.meta.SetBranchRequired(c.ctx, repo, name, *req.RequiredPipelines); err != nil {
			return nil, err
		}
		detail = "required pipelines: " + strings.Join(*req.RequiredPipelines, ",")
	}
	action := "branch.protect"
	if !*req.Protected {
		action = "branch.unprotect"
	}
	c.audit(a, action, repo+"@"+name, detail)
	r, err := a.branch(c, repo, name)
	if err != nil {
		return nil, err
	}
	return branchInfo(repo, r.Branch), nil
}

func (a *API) revert(c *adminCall) (any, error) {
	repo, name := c.path("repo"), c.path("branch")
	var req apiv1.RevertRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Commit == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", `name the commit to revert: {"commit": "<id>"}`)
	}
	if _, err := a.repo(c, repo, auth.PermWrite, "revert commits"); err != nil {
		return nil, err
	}
	br, err := a.branch(c, repo, name)
	if err != nil {
		return nil, err
	}
	if br.Branch.Protected {
		return nil, fail(errs.Permission, "AccessDenied", "branch %s of repo %s is protected: it takes only merges; revert on another branch and merge it, or unprotect it (tusk branch unprotect %s@%s)", name, repo, repo, name)
	}
	target, err := a.resolve(c, repo, req.Commit)
	if err != nil {
		return nil, err
	}
	if target.Commit == nil {
		return nil, fail(errs.Invalid, "InvalidArgument", "%s is an open commit; finish or abort it instead", req.Commit)
	}
	cm, conflicts, err := a.meta.Revert(c.ctx, repo, name, target.Commit.ID, c.user)
	if err != nil {
		if len(conflicts) > 0 {
			c.conflicts = conflicts
			return nil, fail(errs.Conflict, "RevertConflict", "cannot revert %s on %s@%s: %s changed since (first: %q); nothing was written", target.Commit.ID, repo, name, plural(len(conflicts), "key"), conflicts[0])
		}
		return nil, err
	}
	c.audit(a, "revert", repo+"@"+name, "commit "+target.Commit.ID+" -> "+cm.ID)
	return commitInfo(cm), nil
}

func (a *API) reset(c *adminCall) (any, error) {
	repo, name := c.path("repo"), c.path("branch")
	var req apiv1.ResetRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Ref == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", `name the ref to reset to: {"ref": "<branch, tag or commit>"}`)
	}
	if _, err := a.repo(c, repo, auth.PermAdmin, "reset branches"); err != nil {
		return nil, err
	}
	br, err := a.branch(c, repo, name)
	if err != nil {
		return nil, err
	}
	if br.Branch.Protected {
		return nil, fail(errs.Permission, "AccessDenied", "branch %s of repo %s is protected: it takes only merges; unprotect it first (tusk branch unprotect %s@%s)", name, repo, repo, name)
	}
	if _, err := a.resolve(c, repo, req.Ref); err != nil {
		return nil, err
	}
	cm, err := a.meta.Reset(c.ctx, repo, name, req.Ref)
	if err != nil {
		return nil, err
	}
	c.audit(a, "reset", repo+"@"+name, "from "+br.Branch.Head+" to "+cm.ID)
	return commitInfo(cm), nil
}

// ---- tags ----

func (a *API) listTags(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "list its tags"); err != nil {
		return nil, err
	}
	ts, err := a.meta.ListTags(c.ctx, repo)
	if err != nil {
		return nil, err
	}
	out := []apiv1.TagInfo{}
	for _, t := range ts {
		out = append(out, apiv1.TagInfo{Repo: repo, Name: t.Name, Commit: t.Commit, Created: t.Created})
	}
	return out, nil
}

func (a *API) createTag(c *adminCall) (any, error) {
	repo, req, err := a.refRequest(c, "create tags")
	if err != nil {
		return nil, err
	}
	t, err := a.meta.CreateTag(c.ctx, repo, req.Name, req.From)
	if err != nil {
		return nil, err
	}
	c.audit(a, "tag.create", repo+"@"+req.Name, "commit "+t.Commit)
	c.status = http.StatusCreated
	return apiv1.TagInfo{Repo: repo, Name: t.Name, Commit: t.Commit, Created: t.Created}, nil
}

func (a *API) deleteTag(c *adminCall) (any, error) {
	repo, name := c.path("repo"), c.path("tag")
	if _, err := a.repo(c, repo, auth.PermAdmin, "delete tags"); err != nil {
		return nil, err
	}
	r, err := a.meta.Resolve(c.ctx, repo, name)
	if err != nil || r.Kind != meta.KindTag {
		if err == nil || errs.Is(err, errs.NotExist) {
			return nil, fail(errs.NotExist, "NoSuchTag", "repo %q has no tag %q; tusk tag list %s shows its tags", repo, name, repo)
		}
		return nil, err
	}
	if err := a.meta.DeleteTag(c.ctx, repo, name); err != nil {
		return nil, err
	}
	c.audit(a, "tag.delete", repo+"@"+name, "commit "+r.Commit.ID)
	return map[string]string{"deleted": repo + "@" + name, "commit": r.Commit.ID}, nil
}

// ---- refs, log, diff, merge ----

func (a *API) refInfo(repo string, r *meta.Ref) apiv1.RefInfo {
	ri := apiv1.RefInfo{Repo: repo, Ref: r.Name, Kind: kindName(r.Kind), Commit: r.CommitID()}
	if r.Branch != nil {
		ri.Protected = r.Branch.Protected
	}
	if r.Commit != nil {
		ci := commitInfo(r.Commit)
		ri.Info = &ci
	}
	switch r.Kind {
	case meta.KindCommit, meta.KindOpen:
		ri.Bucket = OpenCommitBucket(repo, ri.Commit)
	default:
		ri.Bucket = r.Name + "." + repo
		if r.Name == "main" {
			ri.Bucket = repo
		}
	}
	return ri
}

func (a *API) getRef(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "read it"); err != nil {
		return nil, err
	}
	r, err := a.resolve(c, repo, c.path("ref"))
	if err != nil {
		return nil, err
	}
	return a.refInfo(repo, r), nil
}

// commitOf is the commit a ref's history starts at (an open commit's base).
func (a *API) commitOf(c *adminCall, r *meta.Ref) (*meta.Commit, error) {
	if r.Commit != nil {
		return r.Commit, nil
	}
	return a.meta.GetCommit(c.ctx, r.Repo.Name, r.Open.Base)
}

func (a *API) log(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "read its history"); err != nil {
		return nil, err
	}
	limit, err := c.qint("limit", defLog, maxLog)
	if err != nil {
		return nil, err
	}
	ref := c.q("ref")
	r, err := a.resolve(c, repo, ref)
	if err != nil {
		return nil, err
	}
	head, err := a.commitOf(c, r)
	if err != nil {
		return nil, err
	}
	var cs []*meta.Commit
	if p := c.q("path"); p != "" {
		cs, err = a.meta.LogPath(c.ctx, head, p, limit)
	} else {
		cs, err = a.meta.Log(c.ctx, head, limit)
	}
	if err != nil {
		return nil, err
	}
	out := apiv1.LogResult{Repo: repo, Ref: r.Name, Path: c.q("path"), Commits: []apiv1.CommitInfo{}}
	for _, cm := range cs {
		out.Commits = append(out.Commits, commitInfo(cm))
	}
	return out, nil
}

var errStop = errs.E("admin", errs.Other, "stop")

func (a *API) diff(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "diff its refs"); err != nil {
		return nil, err
	}
	limit, err := c.qint("limit", defDiff, maxDiff)
	if err != nil {
		return nil, err
	}
	from, to := c.q("from"), c.q("to")
	if from == "" || to == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", "name both refs: ?from=REF&to=REF")
	}
	ra, err := a.resolve(c, repo, from)
	if err != nil {
		return nil, err
	}
	rb, err := a.resolve(c, repo, to)
	if err != nil {
		return nil, err
	}
	out := apiv1.DiffResult{Repo: repo, From: from, To: to, FromID: ra.CommitID(), ToID: rb.CommitID(), Prefix: c.q("prefix"), Entries: []apiv1.DiffEntry{}}
	after := c.q("after") // the next page starts after this key (the console pages with it)
	err = a.meta.Diff(c.ctx, ra.Root(), rb.Root(), out.Prefix, func(d meta.DiffEntry) error {
		if after != "" && d.Key <= after {
			return nil
		}
		purged := func(e *meta.Entry) bool { return e == nil || a.meta.Purged(repo, e) }
		pf, pt := purged(d.From), purged(d.To)
		var de apiv1.DiffEntry
		switch {
		case pf && pt:
			return nil
		case pf:
			de = apiv1.DiffEntry{Key: d.Key, Change: "added", Size: d.To.Size}
		case pt:
			de = apiv1.DiffEntry{Key: d.Key, Change: "removed", OldSize: d.From.Size}
		default:
			de = apiv1.DiffEntry{Key: d.Key, Change: "changed", Size: d.To.Size, OldSize: d.From.Size}
		}
		if len(out.Entries) >= limit {
			out.Truncated = true
			return errStop
		}
		out.Entries = append(out.Entries, de)
		switch de.Change {
		case "added":
			out.Added++
		case "removed":
			out.Removed++
		default:
			out.Changed++
		}
		return nil
	})
	if err != nil && err != errStop {
		return nil, err
	}
	return out, nil
}

func (a *API) merge(c *adminCall) (any, error) {
	repo := c.path("repo")
	var req apiv1.MergeRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Source == "" || req.Destination == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", `name both sides: {"source": REF, "destination": BRANCH}`)
	}
	if req.Strategy == "" {
		req.Strategy = meta.StrategyFail
	}
	switch req.Strategy {
	case meta.StrategyFail, meta.StrategyOurs, meta.StrategyTheirs:
	default:
		return nil, fail(errs.Invalid, "InvalidArgument", "unknown merge strategy %q: use fail, ours or theirs", req.Strategy)
	}
	if _, err := a.repo(c, repo, auth.PermWrite, "merge into its branches"); err != nil {
		return nil, err
	}
	src, err := a.resolve(c, repo, req.Source)
	if err != nil {
		return nil, err
	}
	dst, err := a.branch(c, repo, req.Destination)
	if err != nil {
		return nil, err
	}
	source, gate, err := a.mergeGate(c, repo, req, src, dst.Branch) // gates.go
	if err != nil {
		return nil, err
	}
	if req.Message == "" && source != req.Source {
		req.Message = "merge " + req.Source + " into " + req.Destination
	}
	res, err := a.meta.Merge(c.ctx, repo, source, req.Destination, req.Strategy, c.user, req.Message)
	if err != nil {
		if res != nil && len(res.Conflicts) > 0 {
			c.conflicts = res.Conflicts
			return nil, fail(errs.Conflict, "MergeConflict", "merge of %s into %s has %s (first: %q); nothing was written; merge with --strategy ours or theirs to resolve them",
				req.Source, req.Destination, plural(len(res.Conflicts), "conflicting key"), res.Conflicts[0])
		}
		return nil, err
	}
	out := apiv1.MergeResult{Repo: repo, Source: req.Source, Destination: req.Destination, Strategy: req.Strategy,
		FastForward: res.FastForward, UpToDate: res.UpToDate, Changed: res.Changed, Gate: gate}
	if res.Commit != nil {
		out.Commit = res.Commit.ID
	}
	if !res.UpToDate {
		detail := "commit " + out.Commit
		if res.FastForward {
			detail = "fast-forward to " + out.Commit
		}
		c.audit(a, "merge", repo+"@"+req.Destination, "from "+req.Source+" ("+req.Strategy+"): "+detail)
	}
	return out, nil
}

// ---- open commits ----

func (a *API) listOpen(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "list its open commits"); err != nil {
		return nil, err
	}
	ocs, err := a.meta.ListOpenCommits(c.ctx, repo)
	if err != nil {
		return nil, err
	}
	sort.Slice(ocs, func(i, j int) bool { return ocs[i].Started.Before(ocs[j].Started) })
	out := []apiv1.OpenCommitInfo{}
	for i := range ocs {
		out = append(out, openInfo(&ocs[i]))
	}
	return out, nil
}

func (a *API) startCommit(c *adminCall) (any, error) {
	repo := c.path("repo")
	var req apiv1.StartCommitRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Branch == "" {
		req.Branch = "main"
	}
	if _, err := a.repo(c, repo, auth.PermWrite, "write to it"); err != nil {
		return nil, err
	}
	br, err := a.branch(c, repo, req.Branch)
	if err != nil {
		return nil, err
	}
	if br.Branch.Protected {
		return nil, fail(errs.Permission, "AccessDenied", "branch %s of repo %s is protected: it takes only merges; commit to another branch and merge it", req.Branch, repo)
	}
	oc, err := a.meta.StartCommit(c.ctx, repo, req.Branch, c.user, req.Message, nil, false)
	if err != nil {
		return nil, err
	}
	c.status = http.StatusCreated
	return openInfo(oc), nil
}

// userOpenCommit is the open commit {id} of repo, to finish or abort: the
// caller may write to repo, and no pipeline owns the commit.
func (a *API) userOpenCommit(c *adminCall, repo string) (*meta.OpenCommit, error) {
	if _, err := a.repo(c, repo, auth.PermWrite, "write to it"); err != nil {
		return nil, err
	}
	oc, err := a.openCommit(c, repo, c.path("id"))
	if err != nil {
		return nil, err
	}
	if err := pipelineOwned(oc); err != nil {
		return nil, err
	}
	return oc, nil
}

func (a *API) finishCommit(c *adminCall) (any, error) {
	repo := c.path("repo")
	var req apiv1.FinishCommitRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	oc, err := a.userOpenCommit(c, repo)
	if err != nil {
		return nil, err
	}
	cm, err := a.meta.FinishCommit(c.ctx, repo, oc.ID, req.Message)
	if err != nil {
		return nil, err
	}
	return commitInfo(cm), nil
}

func (a *API) abortCommit(c *adminCall) (any, error) {
	repo := c.path("repo")
	oc, err := a.userOpenCommit(c, repo)
	if err != nil {
		return nil, err
	}
	if err := a.meta.AbortCommit(c.ctx, repo, oc.ID); err != nil {
		return nil, err
	}
	return map[string]string{"aborted": oc.ID, "branch": oc.Branch,
		"note": "every write made into this open commit was discarded"}, nil
}

// ---- objects ----

// bucket resolves ref of repo (checked) as the S3 layer would.
func (a *API) bucket(c *adminCall, repo, ref string) (s3api.Bucket, error) {
	if _, err := a.resolve(c, repo, ref); err != nil {
		return s3api.Bucket{}, err
	}
	if ref == "" {
		ref = "main"
	}
	return a.backend.Resolve(c.ctx, repo, ref)
}

func objectInfo(o s3api.Object) apiv1.ObjectInfo {
	return apiv1.ObjectInfo{Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: o.LastModified, Version: o.VersionID, ContentType: o.Meta.ContentType}
}

func (a *API) listObjects(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "list its keys"); err != nil {
		return nil, err
	}
	limit, err := c.qint("limit", maxList, maxList)
	if err != nil {
		return nil, err
	}
	bk, err := a.bucket(c, repo, c.q("ref"))
	if err != nil {
		return nil, err
	}
	lr, err := a.backend.List(c.ctx, s3api.Caller{User: c.user}, bk, s3api.ListOptions{Prefix: c.q("prefix"), Delimiter: c.q("delimiter"), StartAfter: c.q("after"), MaxKeys: limit})
	if err != nil {
		return nil, err
	}
	out := apiv1.ListResult{Repo: repo, Ref: bk.Ref, Commit: bk.Commit, Prefix: c.q("prefix"), Objects: []apiv1.ObjectInfo{},
		Prefixes: lr.CommonPrefixes, Truncated: lr.IsTruncated}
	if out.Prefixes == nil {
		out.Prefixes = []string{}
	}
	for _, o := range lr.Objects {
		out.Objects = append(out.Objects, objectInfo(o))
	}
	if lr.IsTruncated {
		out.Next = lr.Next
	}
	return out, nil
}

func (a *API) head(c *adminCall, repo, ref, key string) (s3api.Bucket, s3api.Object, error) {
	bk, err := a.bucket(c, repo, ref)
	if err != nil {
		return bk, s3api.Object{}, err
	}
	if key == "" {
		return bk, s3api.Object{}, fail(errs.Invalid, "InvalidArgument", "name the key: ?key=PATH")
	}
	o, err := a.backend.Head(c.ctx, s3api.Caller{User: c.user}, bk, key, "")
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			if ref == "" {
				ref = "main"
			}
			return bk, o, fail(errs.NotExist, "NoSuchKey", "key %q does not exist at %s@%s; tusk ls %s@%s shows what is there", key, repo, ref, repo, ref)
		}
		return bk, o, err
	}
	return bk, o, nil
}

func (a *API) getObject(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "read its objects"); err != nil {
		return nil, err
	}
	bk, o, err := a.head(c, repo, c.q("ref"), c.q("key"))
	if err != nil {
		return nil, err
	}
	h := c.w.Header()
	h.Set("Content-Length", strconv.FormatInt(o.Size, 10))
	h.Set("ETag", `"`+o.ETag+`"`)
	h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
	h.Set("X-Tusk-Version", o.VersionID)
	h.Set("X-Tusk-Commit", bk.Commit)
	ct := o.Meta.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	if c.r.Method == http.MethodHead {
		c.wrote = true
		c.w.WriteHeader(http.StatusOK)
		return nil, nil
	}
	rc, err := a.backend.Open(c.ctx, s3api.Caller{User: c.user}, bk, o, 0, -1)
	if err != nil {
		h.Del("Content-Length")
		h.Del("ETag")
		h.Del("Last-Modified")
		return nil, err
	}
	defer rc.Close()
	c.wrote = true
	c.w.WriteHeader(http.StatusOK)
	n, err := io.Copy(c.w, rc)
	if err == nil && n != o.Size {
		err = fmt.Errorf("short read: %d of %d bytes", n, o.Size)
	}
	if err != nil {
		c.err = err
		panic(http.ErrAbortHandler) // the client sees a cut answer, never a short one
	}
	return nil, nil
}

// purge is POST /repos/{repo}/purge (scope: that repo; repo admin) and
// POST /purge (scope: every repo; global admin). SPEC §3.
func (a *API) purge(c *adminCall) (any, error) {
	repo := c.path("repo")
	var req apiv1.PurgeRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	p := Purge{Content: req.Content, Repo: repo, Block: req.Block, User: c.user}
	if repo == "" {
		p.All, p.Repo = true, req.Repo
	} else if req.Repo != "" && req.Repo != repo {
		return nil, fail(errs.Invalid, "InvalidArgument", "the body names repo %q but the path repo %q", req.Repo, repo)
	}
	if p.Content == "" && req.Key == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", `name what to purge: {"content": SHA256} or {"ref": REF, "key": KEY, "version": V}`)
	}
	if p.Content != "" && req.Key != "" {
		return nil, fail(errs.Invalid, "InvalidArgument", "name the content or a version, not both")
	}
	if !p.All {
		if _, err := a.repo(c, repo, auth.PermAdmin, "purge its data"); err != nil {
			return nil, err
		}
	} else if p.Content == "" {
		if p.Repo == "" {
			return nil, fail(errs.Invalid, "InvalidArgument", `a version is named with its repo: {"repo": REPO, "ref": REF, "key": KEY, "version": V}`)
		}
		if err := names.ValidRepo(p.Repo); err != nil {
			return nil, err
		}
	}
	if err := a.purgeAllowed(c, p); err != nil {
		return nil, err
	}
	if p.Content == "" {
		named, err := a.purgeVersion(c, p.Repo, req.Ref, req.Key, req.Version)
		if err != nil {
			return nil, err
		}
		p.Content, p.Named = named.content, &named.PurgeNamed
	}
	if p.Block && !p.All {
		return nil, fail(errs.Invalid, "InvalidArgument", "--block needs a purge of every repo (--all, global admin): a repo admin cannot block bytes for other repos")
	}
	return a.ops.Purge(c.ctx, p)
}

// namedVersion is a version named for a purge, with its content.
type namedVersion struct {
	apiv1.PurgeNamed
	content string
}

// purgeVersion finds the content of version (or of the version ref reads,
// when version is "") of key in repo.
func (a *API) purgeVersion(c *adminCall, repo, ref, key, version string) (*namedVersion, error) {
	bk, err := a.backend.Resolve(c.ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	o, err := a.backend.Head(c.ctx, s3api.Caller{User: c.user}, bk, key, version)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, fail(errs.NotExist, "NoSuchVersion", "%s@%s:%s has no version %q to purge; tusk log %s@%s:%s lists its versions",
				repo, bk.Ref, key, version, repo, bk.Ref, key)
		}
		return nil, err
	}
	if o.DeleteMarker || o.Content == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", "version %s of %q is a delete marker: there is no content to purge", o.VersionID, key)
	}
	return &namedVersion{PurgeNamed: apiv1.PurgeNamed{Repo: repo, Ref: bk.Ref, Key: key, Version: o.VersionID, Size: o.Size}, content: o.Content}, nil
}

// purgeAllowed checks who may purge in which scope: a repo admin within
// the repo, only a global admin across every repo or with --block.
func (a *API) purgeAllowed(c *adminCall, p Purge) error {
	if p.All || p.Block {
		if !c.admin {
			return fail(errs.Permission, "AccessDenied", "access denied: purging every repo or blocking content needs a global admin; a repo admin purges within its repo (tusk purge REPO@REF:KEY --version V)")
		}
		return nil
	}
	if err := a.auth.Allow(c.ctx, c.user, p.Repo, s3api.ActAdmin); err != nil {
		return fail(errs.Permission, "AccessDenied", "access denied: purging data of repo %q needs admin permission on it", p.Repo)
	}
	return nil
}

// ---- users, keys, permissions ----

func (a *API) keyCounts(c *adminCall) (map[string]int, error) {
	keys, err := a.auth.ListKeys(c.ctx, "")
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, k := range keys {
		n[k.User]++
	}
	return n, nil
}

func (a *API) listUsers(c *adminCall) (any, error) {
	if err := c.needGlobalAdmin("list users"); err != nil {
		return nil, err
	}
	us, err := a.auth.ListUsers(c.ctx)
	if err != nil {
		return nil, err
	}
	n, err := a.keyCounts(c)
	if err != nil {
		return nil, err
	}
	out := []apiv1.UserInfo{}
	for i := range us {
		out = append(out, userInfo(&us[i], n[us[i].Name]))
	}
	return out, nil
}

func (a *API) getUser(c *adminCall) (any, error) {
	name := c.path("user")
	if name != c.user {
		if err := c.needGlobalAdmin("read other users"); err != nil {
			return nil, err
		}
	}
	u, err := a.auth.GetUser(c.ctx, name)
	if err != nil {
		return nil, err
	}
	keys, err := a.auth.ListKeys(c.ctx, name)
	if err != nil {
		return nil, err
	}
	return userInfo(u, len(keys)), nil
}

func (a *API) createUser(c *adminCall) (any, error) {
	var req apiv1.CreateUserRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.needGlobalAdmin("create users"); err != nil {
		return nil, err
	}
	if req.Admin && req.CreateRepos {
		return nil, fail(errs.Invalid, "InvalidArgument", "an admin user may create repos anyway; give admin or create_repos, not both")
	}
	u, err := a.auth.CreateUserWith(c.ctx, &auth.User{Name: req.Name, Admin: req.Admin, CreateRepos: req.CreateRepos})
	if err != nil {
		return nil, err
	}
	out := apiv1.NewUser{User: userInfo(u, 0)}
	detail := ""
	if req.Admin {
		detail = "admin"
	}
	if req.CreateRepos {
		detail = "create-repos"
	}
	if !req.NoKey {
		k, secret, err := a.auth.CreateKey(c.ctx, u.Name)
		if err != nil {
			return nil, err
		}
		out.Key = &apiv1.NewKey{AccessKey: k.ID, SecretKey: secret, User: u.Name, Created: k.Created}
		out.User.Keys = 1
		detail = strings.TrimSpace(detail + " key " + k.ID)
	}
	c.audit(a, "user.create", u.Name, detail)
	c.status = http.StatusCreated
	return out, nil
}

// setCreateRepos sets whether a non-admin user may create repos (global
// admins only).
func (a *API) setCreateRepos(c *adminCall) (any, error) {
	name := c.path("user")
	var req apiv1.SetCreateReposRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.needGlobalAdmin("allow users to create repos"); err != nil {
		return nil, err
	}
	if req.CreateRepos == nil {
		return nil, fail(errs.Invalid, "InvalidArgument", `send {"create_repos": true} or {"create_repos": false}`)
	}
	u, err := a.auth.GetUser(c.ctx, name)
	if err != nil {
		return nil, err
	}
	if u.Admin {
		return nil, fail(errs.Invalid, "InvalidArgument", "%s is an admin user and may create repos anyway; the flag applies to other users", name)
	}
	if u, err = a.auth.SetCreateRepos(c.ctx, name, *req.CreateRepos); err != nil {
		return nil, err
	}
	keys, err := a.auth.ListKeys(c.ctx, name)
	if err != nil {
		return nil, err
	}
	c.audit(a, "user.set-create-repos", name, strconv.FormatBool(*req.CreateRepos))
	return userInfo(u, len(keys)), nil
}

func (a *API) deleteUser(c *adminCall) (any, error) {
	name := c.path("user")
	if err := c.needGlobalAdmin("delete users"); err != nil {
		return nil, err
	}
	if name == c.user {
		return nil, fail(errs.Invalid, "InvalidArgument", "you cannot delete the user you are signed in as (%s); sign in as another admin", name)
	}
	if err := a.auth.DeleteUser(c.ctx, name); err != nil {
		return nil, err
	}
	c.audit(a, "user.delete", name, "")
	return map[string]string{"deleted": name}, nil
}

func (a *API) listKeys(c *adminCall) (any, error) {
	user := c.q("user")
	if err := c.needGlobalAdmin("list access keys"); err != nil {
		return nil, err
	}
	if user != "" {
		if _, err := a.auth.GetUser(c.ctx, user); err != nil {
			return nil, err
		}
	}
	keys, err := a.auth.ListKeys(c.ctx, user)
	if err != nil {
		return nil, err
	}
	out := []apiv1.KeyInfo{}
	for _, k := range keys {
		out = append(out, apiv1.KeyInfo{ID: k.ID, User: k.User, Created: k.Created})
	}
	return out, nil
}

func (a *API) createKey(c *adminCall) (any, error) {
	var req apiv1.CreateKeyRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.needGlobalAdmin("create access keys"); err != nil {
		return nil, err
	}
	if req.User == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", `name the key's user: {"user": NAME}`)
	}
	k, secret, err := a.auth.CreateKey(c.ctx, req.User)
	if err != nil {
		return nil, err
	}
	c.audit(a, "key.create", k.ID, "user "+req.User)
	c.status = http.StatusCreated
	return apiv1.NewKey{AccessKey: k.ID, SecretKey: secret, User: k.User, Created: k.Created}, nil
}

func (a *API) revokeKey(c *adminCall) (any, error) {
	id := c.path("id")
	if err := c.needGlobalAdmin("revoke access keys"); err != nil {
		return nil, err
	}
	if id == c.key {
		return nil, fail(errs.Invalid, "InvalidArgument", "access key %s signed this request; revoke it with another key", id)
	}
	k, err := a.auth.GetKey(c.ctx, id)
	if err != nil {
		return nil, err
	}
	if err := a.auth.DeleteKey(c.ctx, id); err != nil {
		return nil, err
	}
	c.audit(a, "key.revoke", id, "user "+k.User)
	return map[string]string{"revoked": id, "user": k.User}, nil
}

// permTarget checks a perm grant or revoke: global admins, and admins of
// the repo, may change permissions on it.
func (a *API) permTarget(c *adminCall) (string, string, *auth.User, error) {
	user, repo := c.path("user"), c.path("repo")
	if c.user == "" {
		return "", "", nil, unauthenticated()
	}
	if _, err := a.repo(c, repo, auth.PermAdmin, "change permissions on it"); err != nil {
		return "", "", nil, err
	}
	u, err := a.auth.GetUser(c.ctx, user)
	if err != nil {
		return "", "", nil, err
	}
	if u.Admin {
		return "", "", nil, fail(errs.Invalid, "InvalidArgument",
			"%s is an admin user and holds every permission on every repo; per-repo permissions do not apply", user)
	}
	return user, repo, u, nil
}

func (a *API) grant(c *adminCall) (any, error) {
	var req apiv1.PermRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	lvl, err := auth.ParsePerm(req.Permission)
	if err != nil {
		return nil, err
	}
	user, repo, _, err := a.permTarget(c)
	if err != nil {
		return nil, err
	}
	if err := a.auth.Grant(c.ctx, user, repo, lvl); err != nil {
		return nil, err
	}
	c.audit(a, "perm.grant", repo, user+" "+auth.PermName(lvl))
	return apiv1.PermInfo{User: user, Repo: repo, Permission: auth.PermName(lvl)}, nil
}

// revoke takes away ?permission=LEVEL and everything above it (revoking
// write leaves read); without it, every permission on the repo.
func (a *API) revoke(c *adminCall) (any, error) {
	lvl := auth.PermRead
	if p := c.q("permission"); p != "" {
		var err error
		if lvl, err = auth.ParsePerm(p); err != nil {
			return nil, err
		}
	}
	user, repo, u, err := a.permTarget(c)
	if err != nil {
		return nil, err
	}
	cur := u.Perms[repo]
	if cur >= lvl {
		cur = lvl - 1
		if err := a.auth.Grant(c.ctx, user, repo, cur); err != nil {
			return nil, err
		}
		c.audit(a, "perm.revoke", repo, user+" "+auth.PermName(lvl)+" (now "+auth.PermName(cur)+")")
	}
	return apiv1.PermInfo{User: user, Repo: repo, Permission: auth.PermName(cur)}, nil
}

// ---- audit, gc ----

func (a *API) gc(c *adminCall) (any, error) {
	var req apiv1.GCRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.needGlobalAdmin("run garbage collection"); err != nil {
		return nil, err
	}
	var retention time.Duration
	if req.Retention != "" {
		d, err := time.ParseDuration(req.Retention)
		if err != nil || d < 0 {
			return nil, fail(errs.Invalid, "InvalidArgument", "retention must be a duration such as 168h, not %q", req.Retention)
		}
		retention = d
	}
	res, err := a.ops.GC(c.ctx, req.DryRun, retention)
	if err != nil {
		return nil, err
	}
	dry := map[bool]string{true: "dry run: would delete "}[req.DryRun]
	c.audit(a, "gc", "", fmt.Sprintf("%sblobs %d, bytes %d, commits %d", dry, res.BlobsDeleted, res.BytesFreed, res.CommitsDeleted))
	return res, nil
}
