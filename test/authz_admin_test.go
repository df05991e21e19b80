package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/pipelines"
	"github.com/tusk-data/tusk/pipelines/worker"
)

// TestMain makes this test binary the local runner's worker: the gateway
// runs its own executable with "worker" (pipelines.Local's default), as
// `tusk worker` does, so the matrix's pipelines need no tusk binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		code := worker.Main(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// The admin API's half of the authorization matrix: every call of
// docs/api.md, for every role, on its own repo, another repo and a public
// repo, is answered as the rules of docs/api.md's permission table say
// (azAdminExpect). The pipeline, job and provenance calls run on a real
// pipeline per target (azPipe: local runner, a finished job). A call
// naming a ref, commit, branch, tag, key, pipeline, job or provenance
// record answers the same denial whether it exists or not; a denied call
// changes nothing (repo state, users, keys, the pipelines and their jobs).

// Requirements beyond per-repo levels.
const (
	needPipelineKey = -3 // a pipeline's own key: none of the roles
	needAnyone      = -2 // anonymous callers too
	needSignedIn    = -1 // any signed-in caller
)

// azACell is one admin API request of the matrix.
type azACell struct {
	m      *azMatrix
	t      *testing.T
	role   azRole
	target azTarget
	repo   *azRepo
	// missing: the request names a ref, commit, branch, tag, key or user
	// that does not exist.
	missing bool
	name    string  // a name unique to the cell (prepared by prep when needed)
	pipe    *azPipe // the target's pipeline
}

// ref is the cell's ref: dev, or one that does not exist.
func (c *azACell) ref() string {
	if c.missing {
		return "nosuch"
	}
	return "dev"
}

// azCall is an admin API call and its requirement.
type azCall struct {
	name   string
	method string
	path   func(c *azACell) string // under /api/v1
	body   func(c *azACell) string // nil: none
	// need: per-repo level on the cell's repo (repo-scoped calls), or
	// needGlobal / needSignedIn / needAnyone.
	need int
	// repo: the call names the cell's repo; otherwise it runs once per
	// role (target own).
	repo bool
	ok   azWant // the answer when permitted (status 2xx or an error)
	// missing, when set, is the permitted answer of the call naming a
	// thing that does not exist; the call then runs twice per cell.
	missing *azWant
	// missingNeed, when set, is the requirement of the call naming a
	// thing that does not exist, when it is not need: a job or
	// provenance record id that names nothing belongs to no repo, so only
	// an admin user (who may read every repo) learns it is missing.
	missingNeed int
	mutates     bool
	prep        func(c *azACell) // as the bootstrap admin, before the call
}

func azAdminExpect(call azCall, r azRole, t azTarget, missing bool) azWant {
	allowed := false
	need := call.need
	if missing && call.missingNeed != 0 {
		need = call.missingNeed
	}
	switch need {
	case needPipelineKey:
		allowed = false
	case needAnyone:
		allowed = true
	case needSignedIn:
		allowed = r != roleAnon
	case needGlobal:
		allowed = r == roleGlobal
	default:
		lvl := azLevel(r, t)
		if need > auth.PermRead && r == roleAnon {
			lvl = auth.PermNone // anonymous callers only read
		}
		allowed = lvl >= need
	}
	switch {
	case !allowed:
		return azDenied
	case missing:
		return *call.missing
	}
	return call.ok
}

func want(status int, code string) *azWant { return &azWant{status, code} }

// azAdminCalls lists the admin API's calls (docs/api.md) with the
// permission each needs.
func azAdminCalls() []azCall {
	jsonf := func(format string, args ...func(c *azACell) string) func(c *azACell) string {
		return func(c *azACell) string {
			vals := make([]any, len(args))
			for i, a := range args {
				vals[i] = a(c)
			}
			return fmt.Sprintf(format, vals...)
		}
	}
	name := func(c *azACell) string {
		if c.missing {
			return "nosuch"
		}
		return c.name
	}
	commit := func(c *azACell) string {
		if c.missing {
			return strings.Repeat("0", 32)
		}
		return c.repo.commit
	}
	r := func(format string) func(c *azACell) string { // a path naming the cell's repo
		return func(c *azACell) string { return fmt.Sprintf(format, c.repo.name) }
	}
	rn := func(format string) func(c *azACell) string { // ... and the cell's name
		return func(c *azACell) string { return fmt.Sprintf(format, c.repo.name, name(c)) }
	}
	branch := func(c *azACell) {
		if _, err := c.m.e.srv.Meta.CreateBranch(ctx(c.t), c.repo.name, c.name, "main"); err != nil {
			c.t.Fatal(err)
		}
	}
	ok200, ok201 := azWant{200, ""}, azWant{201, ""}
	return []azCall{
		// ---- service ----
		{name: "GetVersion", method: "GET", path: func(*azACell) string { return "/version" }, need: needAnyone, ok: ok200},
		{name: "WhoAmI", method: "GET", path: func(*azACell) string { return "/whoami" }, need: needSignedIn, ok: ok200},
		{name: "ListRepos", method: "GET", path: func(*azACell) string { return "/repos" }, need: needAnyone, ok: ok200},
		{name: "CreateRepo", method: "POST", path: func(*azACell) string { return "/repos" }, need: needGlobal, ok: ok201,
			body: jsonf(`{"name":%q}`, func(c *azACell) string { return "azc" + strings.ReplaceAll(c.name, "-", "") })},

		// ---- repos ----
		{name: "GetRepo", method: "GET", path: r("/repos/%s"), repo: true, need: auth.PermRead, ok: ok200},
		{name: "DeleteRepo", method: "DELETE", path: r("/repos/%s"), repo: true, need: auth.PermAdmin, mutates: true,
			ok: azWant{409, "NotEmpty"}}, // refs hold keys: refused, nothing deleted
		{name: "SetPublic", method: "PUT", path: r("/repos/%s/public"), repo: true, need: auth.PermAdmin, mutates: true, ok: ok200,
			body: func(c *azACell) string { return fmt.Sprintf(`{"public":%v}`, c.target == tPublic) }}, // as it is

		// ---- branches and tags ----
		{name: "ListBranches", method: "GET", path: r("/repos/%s/branches"), repo: true, need: auth.PermRead, ok: ok200},
		{name: "CreateBranch", method: "POST", path: r("/repos/%s/branches"), repo: true, need: auth.PermAdmin, mutates: true, ok: ok201,
			missing: want(404, "NoSuchRef"),
			body: func(c *azACell) string {
				from := "main"
				if c.missing {
					from = "nosuch"
				}
				return fmt.Sprintf(`{"name":%q,"from":%q}`, c.name, from)
			}},
		{name: "GetBranch", method: "GET", path: func(c *azACell) string { return fmt.Sprintf("/repos/%s/branches/%s", c.repo.name, c.ref()) },
			repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchBranch")},
		{name: "DeleteBranch", method: "DELETE", path: rn("/repos/%s/branches/%s"), repo: true, need: auth.PermAdmin, mutates: true, ok: ok200,
			missing: want(404, "NoSuchBranch"), prep: branch},
		{name: "SetProtected", method: "PUT", path: rn("/repos/%s/branches/%s/protected"), repo: true, need: auth.PermAdmin, mutates: true, ok: ok200,
			missing: want(404, "NoSuchBranch"), prep: branch, body: func(*azACell) string { return `{"protected":true}` }},
		{name: "Revert", method: "POST", path: rn("/repos/%s/branches/%s/revert"), repo: true, need: auth.PermWrite, mutates: true, ok: ok200,
			missing: want(404, "NoSuchBranch"), prep: branch, body: jsonf(`{"commit":%q}`, func(c *azACell) string { return c.repo.commit })},
		{name: "Revert(commit)", method: "POST", path: func(c *azACell) string { return fmt.Sprintf("/repos/%s/branches/%s/revert", c.repo.name, c.name) }, repo: true, need: auth.PermWrite, mutates: true, ok: ok200,
			missing: want(404, "NoSuchRef"), prep: branch, body: jsonf(`{"commit":%q}`, commit)},
		{name: "Reset", method: "POST", path: rn("/repos/%s/branches/%s/reset"), repo: true, need: auth.PermAdmin, mutates: true, ok: ok200,
			missing: want(404, "NoSuchBranch"), prep: branch, body: func(*azACell) string { return `{"ref":"dev"}` }},
		{name: "ListTags", method: "GET", path: r("/repos/%s/tags"), repo: true, need: auth.PermRead, ok: ok200},
		{name: "CreateTag", method: "POST", path: r("/repos/%s/tags"), repo: true, need: auth.PermAdmin, mutates: true, ok: ok201,
			missing: want(404, "NoSuchRef"),
			body: func(c *azACell) string {
				from := "main"
				if c.missing {
					from = "nosuch"
				}
				return fmt.Sprintf(`{"name":%q,"from":%q}`, c.name, from)
			}},
		{name: "DeleteTag", method: "DELETE", path: rn("/repos/%s/tags/%s"), repo: true, need: auth.PermAdmin, mutates: true, ok: ok200,
			missing: want(404, "NoSuchTag"), prep: func(c *azACell) {
				if _, err := c.m.e.srv.Meta.CreateTag(ctx(c.t), c.repo.name, c.name, "main"); err != nil {
					c.t.Fatal(err)
				}
			}},

		// ---- history ----
		{name: "GetRef", method: "GET", path: func(c *azACell) string { return fmt.Sprintf("/repos/%s/refs/%s", c.repo.name, c.ref()) },
			repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchRef")},
		{name: "GetRef(commit)", method: "GET", path: func(c *azACell) string { return fmt.Sprintf("/repos/%s/refs/%s", c.repo.name, commit(c)) },
			repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchRef")},
		{name: "GetRef(open commit)", method: "GET", path: func(c *azACell) string {
			id := c.repo.open[:16]
			if c.missing {
				id = strings.Repeat("0", 16)
			}
			return fmt.Sprintf("/repos/%s/refs/%s", c.repo.name, id)
		}, repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchRef")},
		{name: "Log", method: "GET", path: func(c *azACell) string { return fmt.Sprintf("/repos/%s/log?ref=%s", c.repo.name, c.ref()) },
			repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchRef")},
		{name: "Diff", method: "GET", path: func(c *azACell) string { return fmt.Sprintf("/repos/%s/diff?from=main&to=%s", c.repo.name, c.ref()) },
			repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchRef")},
		{name: "Merge", method: "POST", path: r("/repos/%s/merge"), repo: true, need: auth.PermWrite, mutates: true, ok: ok200,
			missing: want(404, "NoSuchRef"), prep: branch,
			body: func(c *azACell) string {
				src := "dev"
				if c.missing {
					src = "nosuch"
				}
				return fmt.Sprintf(`{"source":%q,"destination":%q}`, src, c.name)
			}},

		// ---- open commits ----
		{name: "ListOpenCommits", method: "GET", path: r("/repos/%s/commits"), repo: true, need: auth.PermRead, ok: ok200},
		{name: "StartCommit", method: "POST", path: r("/repos/%s/commits"), repo: true, need: auth.PermWrite, mutates: true, ok: ok201,
			missing: want(404, "NoSuchBranch"), body: func(c *azACell) string { return fmt.Sprintf(`{"branch":%q}`, c.ref()) }},
		{name: "FinishCommit", method: "POST", path: rn("/repos/%s/commits/%s/finish"), repo: true, need: auth.PermWrite, mutates: true, ok: ok200,
			missing: want(404, "NoSuchCommit"), prep: azOpenCommit},
		{name: "AbortCommit", method: "POST", path: rn("/repos/%s/commits/%s/abort"), repo: true, need: auth.PermWrite, mutates: true, ok: ok200,
			missing: want(404, "NoSuchCommit"), prep: azOpenCommit},

		// ---- objects ----
		{name: "ListObjectsAPI", method: "GET", path: func(c *azACell) string { return fmt.Sprintf("/repos/%s/objects?ref=%s", c.repo.name, c.ref()) },
			repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchRef")},
		{name: "GetObjectAPI", method: "GET", path: func(c *azACell) string {
			key := "k"
			if c.missing {
				key = "nosuch"
			}
			return fmt.Sprintf("/repos/%s/object?ref=main&key=%s", c.repo.name, key)
		}, repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchKey")},
		{name: "Prov", method: "GET", path: r("/repos/%s/prov?key=k"), repo: true, need: auth.PermRead, ok: ok200},
		// k is not Parquet: a reader learns that (400), nobody else does.
		{name: "PreviewAPI", method: "GET", path: func(c *azACell) string {
			key := "k"
			if c.missing {
				key = "nosuch"
			}
			return fmt.Sprintf("/repos/%s/preview?ref=main&key=%s", c.repo.name, key)
		}, repo: true, need: auth.PermRead, ok: azWant{400, "InvalidArgument"}, missing: want(404, "NoSuchKey")},
		{name: "CommitProv", method: "GET", path: func(c *azACell) string { return fmt.Sprintf("/repos/%s/commit-prov?ref=%s", c.repo.name, c.ref()) },
			repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchRef")},
		// A purge of content no repo holds, and of a version that does not
		// exist: permitted callers learn nothing is there; nothing changes.
		{name: "PurgeRepo", method: "POST", path: r("/repos/%s/purge"), repo: true, need: auth.PermAdmin, mutates: true, ok: ok200,
			missing: want(404, "NoSuchVersion"), body: func(c *azACell) string {
				if c.missing {
					return fmt.Sprintf(`{"ref":"main","key":"k","version":%q}`, strings.Repeat("0", 32))
				}
				return fmt.Sprintf(`{"content":%q}`, strings.Repeat("ab", 32))
			}},
		{name: "PurgeAll", method: "POST", path: func(*azACell) string { return "/purge" }, need: needGlobal, mutates: true, ok: ok200,
			body: func(*azACell) string { return fmt.Sprintf(`{"content":%q}`, strings.Repeat("cd", 32)) }},

		// ---- pipelines: the target's (azPipe); a missing one is named
		// after the target's input repo, a repo with no pipeline ----
		{name: "ListPipelines", method: "GET", path: func(*azACell) string { return "/pipelines" }, need: needAnyone, ok: ok200},
		{name: "ListJobs", method: "GET", path: func(*azACell) string { return "/jobs" }, need: needAnyone, ok: ok200},
		{name: "GetPipeline", method: "GET", path: pipe("/pipelines/%s"), repo: true, need: auth.PermRead, ok: ok200, missing: noPipe},
		// Updates and deletes are refused after the permission check
		// (a renaming spec, a bad keep_repo): nothing changes either way.
		{name: "UpdatePipeline", method: "PUT", path: pipe("/pipelines/%s"), repo: true, need: auth.PermAdmin, mutates: true,
			ok: azWant{400, "InvalidSpec"}, missing: noPipe, body: func(c *azACell) string { return c.pipe.spec("azrenamed") }},
		{name: "DeletePipeline", method: "DELETE", path: pipe("/pipelines/%s?keep_repo=maybe"), repo: true, need: auth.PermAdmin, mutates: true,
			ok: azWant{400, "InvalidArgument"}, missing: noPipe},
		{name: "PipelineLogs", method: "GET", path: pipe("/pipelines/%s/logs"), repo: true, need: auth.PermRead, ok: ok200, missing: noPipe},
		// A gate job on a branch the input repo lacks: write on the output
		// repo and read on the input repo reach the branch's lookup.
		{name: "RunPipeline", method: "POST", path: pipe("/pipelines/%s/run"), repo: true, need: auth.PermWrite, mutates: true,
			ok: azWant{404, "NoSuchRef"}, missing: noPipe, body: func(*azACell) string { return `{"branch":"nosuch"}` }},
		{name: "ListJobs(pipeline)", method: "GET", path: pipe("/jobs?pipeline=%s"), repo: true, need: auth.PermRead, ok: ok200, missing: noPipe},
		{name: "WaitIdle(pipeline)", method: "GET", path: pipe("/jobs/wait?timeout=1s&pipeline=%s"), repo: true, need: auth.PermRead, ok: ok200,
			missing: noPipe},

		// ---- jobs: the target's pipeline's finished job ----
		{name: "GetJob", method: "GET", path: job("/jobs/%s"), repo: true, need: auth.PermRead, ok: ok200, missing: noJob, missingNeed: needGlobal},
		{name: "WaitJob", method: "GET", path: job("/jobs/%s/wait?timeout=1s"), repo: true, need: auth.PermRead, ok: ok200, missing: noJob,
			missingNeed: needGlobal},
		{name: "ListDatums", method: "GET", path: job("/jobs/%s/datums"), repo: true, need: auth.PermRead, ok: ok200, missing: noJob,
			missingNeed: needGlobal},
		{name: "DatumLog", method: "GET", path: func(c *azACell) string { return job("/jobs/%s/datums/")(c) + c.pipe.datum + "/log" },
			repo: true, need: auth.PermRead, ok: ok200, missing: noJob, missingNeed: needGlobal},
		// Stopping or restarting a job that succeeded is refused (409)
		// once the caller administers the output repo.
		{name: "StopJob", method: "POST", path: job("/jobs/%s/stop"), repo: true, need: auth.PermAdmin, mutates: true,
			ok: azWant{409, "Conflict"}, missing: noJob, missingNeed: needGlobal},
		{name: "RestartJob", method: "POST", path: job("/jobs/%s/restart"), repo: true, need: auth.PermAdmin, mutates: true,
			ok: azWant{409, "Conflict"}, missing: noJob, missingNeed: needGlobal},

		// ---- provenance: the record of the job's datum, an output's ----
		{name: "ProvRecord", method: "GET", path: func(c *azACell) string {
			if c.missing {
				return "/prov/" + strings.Repeat("0", len(c.pipe.prov))
			}
			return "/prov/" + c.pipe.prov
		}, repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NotFound"), missingNeed: needGlobal},
		{name: "Prov(output)", method: "GET", path: func(c *azACell) string {
			key := "k"
			if c.missing {
				key = "nosuch"
			}
			return fmt.Sprintf("/repos/%s/prov?key=%s", c.pipe.name, key)
		}, repo: true, need: auth.PermRead, ok: ok200, missing: want(404, "NoSuchKey")},

		// ---- remote workers' tasks: a pipeline's key only, refused to
		// every role (admin users included) before the id is looked at;
		// missing only makes both ids run, as no role gets past the check ----
		{name: "GetTask", method: "GET", path: task(""), need: needPipelineKey, missing: want(0, "")},
		{name: "ClaimTask", method: "POST", path: task("/claim"), need: needPipelineKey, mutates: true, missing: want(0, ""),
			body: func(*azACell) string { return `{"worker":"w"}` }},
		{name: "RenewTask", method: "POST", path: task("/renew"), need: needPipelineKey, mutates: true, missing: want(0, ""),
			body: func(*azACell) string { return `{"worker":"w","token":"t"}` }},
		{name: "ReportTask", method: "POST", path: task("/results"), need: needPipelineKey, mutates: true, missing: want(0, ""),
			body: func(*azACell) string { return `{"token":"t","result":{}}` }},

		// ---- users, keys, permissions ----
		{name: "ListUsers", method: "GET", path: func(*azACell) string { return "/users" }, need: needGlobal, ok: ok200},
		{name: "CreateUser", method: "POST", path: func(*azACell) string { return "/users" }, need: needGlobal, mutates: true, ok: ok201,
			body: jsonf(`{"name":%q}`, func(c *azACell) string { return c.name })},
		{name: "GetUser(victim)", method: "GET", path: func(c *azACell) string { return "/users/" + azUser(c) }, need: needGlobal, ok: ok200,
			missing: want(404, "NoSuchUser"), prep: azPrepUser},
		{name: "DeleteUser", method: "DELETE", path: func(c *azACell) string { return "/users/" + azUser(c) }, need: needGlobal, mutates: true,
			ok: ok200, missing: want(404, "NoSuchUser"), prep: azPrepUser},
		{name: "SetCreateRepos", method: "PUT", path: func(c *azACell) string { return "/users/" + azUser(c) + "/create-repos" }, need: needGlobal,
			mutates: true, ok: ok200, missing: want(404, "NoSuchUser"), prep: azPrepUser, body: func(*azACell) string { return `{"create_repos":true}` }},
		{name: "GrantPerm", method: "PUT", path: func(c *azACell) string { return fmt.Sprintf("/users/%s/perms/%s", azUser(c), c.repo.name) },
			repo: true, need: auth.PermAdmin, mutates: true, ok: ok200, missing: want(404, "NoSuchUser"), prep: azPrepUser,
			body: func(*azACell) string { return `{"permission":"write"}` }},
		{name: "RevokePerm", method: "DELETE", path: func(c *azACell) string { return fmt.Sprintf("/users/%s/perms/%s", azUser(c), c.repo.name) },
			repo: true, need: auth.PermAdmin, mutates: true, ok: ok200, missing: want(404, "NoSuchUser"), prep: func(c *azACell) {
				azPrepUser(c)
				if err := c.m.e.srv.Auth.Grant(ctx(c.t), c.name, c.repo.name, auth.PermRead); err != nil {
					c.t.Fatal(err)
				}
			}},
		{name: "ListKeys", method: "GET", path: func(c *azACell) string { return "/keys?user=" + azUser(c) }, need: needGlobal, ok: ok200,
			prep: azPrepUser},
		{name: "CreateKey", method: "POST", path: func(*azACell) string { return "/keys" }, need: needGlobal, mutates: true, ok: ok201,
			missing: want(404, "NoSuchUser"), prep: azPrepUser, body: jsonf(`{"user":%q}`, azUser)},
		{name: "RevokeKey", method: "DELETE", path: func(c *azACell) string {
			if c.missing {
				return "/keys/TKNOSUCHKEY000000000"
			}
			return "/keys/" + c.name
		}, need: needGlobal, mutates: true, ok: ok200, missing: want(404, "NoSuchAccessKey"), prep: func(c *azACell) {
			azPrepUser(c)
			k, _, err := c.m.e.srv.Auth.CreateKey(ctx(c.t), c.name)
			if err != nil {
				c.t.Fatal(err)
			}
			c.name = k.ID
		}},
		{name: "AuditLog", method: "GET", path: func(*azACell) string { return "/audit" }, need: needGlobal, ok: ok200},
		{name: "GC", method: "POST", path: func(*azACell) string { return "/gc" }, need: needGlobal, ok: ok200,
			body: func(*azACell) string { return `{"dry_run":true}` }},
	}
}

// The pipeline, job and task calls' paths and missing answers.
var (
	noPipe = want(404, "NoSuchPipeline")
	noJob  = want(404, "NoSuchJob")
)

// pipe is a path naming the cell's pipeline, or a repo that has none.
func pipe(format string) func(c *azACell) string {
	return func(c *azACell) string {
		if c.missing {
			return fmt.Sprintf(format, c.pipe.in)
		}
		return fmt.Sprintf(format, c.pipe.name)
	}
}

// job is a path naming the cell's pipeline's job, or an id no job has.
func job(format string) func(c *azACell) string {
	return func(c *azACell) string {
		if c.missing {
			return fmt.Sprintf(format, strings.Repeat("0", 32))
		}
		return fmt.Sprintf(format, c.pipe.job)
	}
}

// task is a path naming a task: the job's id, or one that names nothing
// (no task is on the board: this gateway runs no kubernetes runner).
func task(suffix string) func(c *azACell) string {
	return func(c *azACell) string {
		if c.missing {
			return "/tasks/nosuch" + suffix
		}
		return "/tasks/" + c.pipe.job + suffix
	}
}

// azPipe is one target's pipeline: input repo in (key k) and output repo
// name, with the target's grants (the role's grant on the own target's,
// public for the public target's), and its first job, finished.
type azPipe struct {
	name, in string
	job      string // the job, success
	datum    string // its one datum
	prov     string // the datum's provenance record
}

// spec is the pipeline's spec under name: cp of k.
func (p *azPipe) spec(name string) string {
	return fmt.Sprintf(`{"name":%q,"input":{"pfs":{"repo":%q,"glob":"/"}},"transform":{"cmd":["sh"],"stdin":["cp \"$TUSK_PFS/%s/k\" \"$TUSK_PFS/out/k\""]}}`,
		name, p.in, p.in)
}

// newAZPipes makes a pipeline per target and waits for their jobs.
func newAZPipes(t *testing.T, m *azMatrix) map[azTarget]*azPipe {
	t.Helper()
	e := m.e
	out := map[azTarget]*azPipe{}
	for _, tg := range azTargets {
		p := &azPipe{in: e.name("azin" + tg.String()), name: e.name("azpipe" + tg.String())}
		createBucket(t, m.admin, p.in)
		put(t, m.admin, p.in, "k", []byte("input of "+p.name))
		sp, err := pipelines.Parse([]byte(p.spec(p.name)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Pipelines.Create(ctx(t), sp, pipelines.CreateOptions{User: "admin"}); err != nil {
			t.Fatal(err)
		}
		for _, repo := range []string{p.in, p.name} {
			switch tg {
			case tOwn:
				for _, r := range azRoles {
					if g := r.grant(); g != auth.PermNone && r != roleGlobal {
						if err := e.srv.Auth.Grant(ctx(t), "az"+r.String(), repo, g); err != nil {
							t.Fatal(err)
						}
					}
				}
			case tPublic:
				if err := e.srv.Meta.SetRepoPublic(ctx(t), repo, true); err != nil {
					t.Fatal(err)
				}
			}
		}
		out[tg] = p
	}
	wctx, cancel := context.WithTimeout(ctx(t), 2*time.Minute)
	defer cancel()
	if err := e.srv.Pipelines.WaitIdle(wctx); err != nil {
		t.Fatalf("the matrix's pipelines are still busy: %v", err)
	}
	for _, p := range out {
		jobs, err := e.srv.Pipelines.ListJobs(ctx(t), p.name, 1)
		if err != nil || len(jobs) != 1 || jobs[0].State != pipelines.JobSuccess {
			t.Fatalf("pipeline %s: jobs %+v (%v), want one success", p.name, jobs, err)
		}
		p.job = jobs[0].ID
		ds, err := e.srv.Pipelines.ListDatums(ctx(t), p.job, false)
		if err != nil || len(ds) != 1 || ds[0].Prov == "" {
			t.Fatalf("job %s: datums %+v (%v), want one with a provenance record", p.job, ds, err)
		}
		p.datum, p.prov = ds[0].ID, ds[0].Prov
	}
	return out
}

// pipeState is what a pipeline call could change of p, as JSON: its
// version and stop, and its jobs' ids and states.
func pipeState(t *testing.T, m *azMatrix, p *azPipe) string {
	t.Helper()
	pl, err := m.e.srv.Pipelines.Get(ctx(t), p.name)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := m.e.srv.Pipelines.ListJobs(ctx(t), p.name, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := []string{fmt.Sprintf("%s v%d stopped=%q", pl.Name(), pl.Version, pl.Stopped)}
	for _, j := range jobs {
		st = append(st, j.ID+" "+j.State)
	}
	return strings.Join(st, "; ")
}

// azUser is the user a users call names: the cell's own (prepared by
// azPrepUser), or one that does not exist.
func azUser(c *azACell) string {
	if c.missing {
		return "nosuchuser"
	}
	return c.name
}

func azPrepUser(c *azACell) {
	if _, err := c.m.e.srv.Auth.CreateUser(ctx(c.t), c.name, false); err != nil {
		c.t.Fatal(err)
	}
}

func azOpenCommit(c *azACell) {
	oc, err := c.m.e.srv.Meta.StartCommit(ctx(c.t), c.repo.name, "main", "admin", "cell", nil, false)
	if err != nil {
		c.t.Fatal(err)
	}
	c.name = oc.ID
}

// adminState is azState plus the users and their keys.
func (m *azMatrix) adminState(t *testing.T, repo string) string {
	t.Helper()
	users, err := m.e.srv.Auth.ListUsers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range users {
		ks, err := m.e.srv.Auth.ListKeys(ctx(t), u.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			keys = append(keys, k.ID)
		}
	}
	b, _ := json.Marshal(struct {
		Users []auth.User
		Keys  []string
	}{users, keys})
	return m.azState(t, repo, false, "") + string(b)
}

// adminDo sends an admin API call as role (HTTP basic with the role's key;
// nothing for anonymous) and returns its answer.
func (m *azMatrix) adminDo(t *testing.T, role azRole, method, path, body string) azWant {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx(t), method, m.e.srv.URL+"/api/v1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if role != roleAnon {
		k := m.keys[role]
		req.SetBasicAuth(k[0], k[1])
	}
	resp, err := (&http.Client{Transport: m.e.transport(false)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 {
		return azWant{resp.StatusCode, ""}
	}
	var doc struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s %s: %d answer is not JSON: %q", method, path, resp.StatusCode, b)
	}
	return azWant{resp.StatusCode, doc.Code}
}

// TestAuthzMatrixAdminAPI runs every admin API call of azAdminCalls for
// every role and target, naming existing and missing things, and checks
// each answer against azAdminExpect.
func TestAuthzMatrixAdminAPI(t *testing.T) {
	m := newAZMatrix(t)
	pipes := newAZPipes(t, m)
	for _, call := range azAdminCalls() {
		t.Run(call.name, func(t *testing.T) {
			for _, role := range azRoles {
				t.Run(role.String(), func(t *testing.T) {
					targets := azTargets
					if !call.repo {
						targets = []azTarget{tOwn}
					}
					for _, tg := range targets {
						variants := []bool{false}
						if call.missing != nil {
							variants = append(variants, true)
						}
						for _, missing := range variants {
							sub := tg.String()
							if missing {
								sub += "(missing)"
							}
							t.Run(sub, func(t *testing.T) { m.runAdminCell(t, call, role, tg, missing, pipes) })
						}
					}
				})
			}
		})
	}
}

func (m *azMatrix) runAdminCell(t *testing.T, call azCall, role azRole, tg azTarget, missing bool, pipes map[azTarget]*azPipe) {
	m.n++
	c := &azACell{m: m, t: t, role: role, target: tg, repo: m.repos[tg], missing: missing, name: fmt.Sprintf("cell-%04d", m.n),
		pipe: pipes[tg]}
	if call.prep != nil {
		call.prep(c)
	}
	want := azAdminExpect(call, role, tg, missing)
	var before string
	if call.mutates && want.status >= 300 {
		before = m.adminState(t, c.repo.name) + pipeState(t, m, c.pipe)
	}
	var body string
	if call.body != nil {
		body = call.body(c)
	}
	path := call.path(c)
	got := m.adminDo(t, role, call.method, path, body)
	if got != want {
		t.Errorf("%s %s as %s: got %v, want %v", call.method, path, role, got, want)
	}
	if before != "" {
		if after := m.adminState(t, c.repo.name) + pipeState(t, m, c.pipe); after != before {
			t.Errorf("%s %s as %s answered %v and changed state:\n before %s\n after  %s", call.method, path, role, got, before, after)
		}
	}
}
