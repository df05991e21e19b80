package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/auth"
)

// The admin API's half of the authorization matrix: every call of
// docs/api.md that does not need a running pipeline, for every role, on
// its own repo, another repo and a public repo, is answered as the rules
// of docs/api.md's permission table say (azAdminExpect). A call naming a
// ref, commit, branch, tag or key answers the same denial whether it
// exists or not; a denied call changes nothing (repo state, users, keys).

// Requirements beyond per-repo levels.
const (
	needAnyone   = -2 // anonymous callers too
	needSignedIn = -1 // any signed-in caller
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
	name    string // a name unique to the cell (prepared by prep when needed)
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
	mutates bool
	prep    func(c *azACell) // as the bootstrap admin, before the call
}

func azAdminExpect(call azCall, r azRole, t azTarget, missing bool) azWant {
	allowed := false
	switch call.need {
	case needAnyone:
		allowed = true
	case needSignedIn:
		allowed = r != roleAnon
	case needGlobal:
		allowed = r == roleGlobal
	default:
		lvl := azLevel(r, t)
		if call.need > auth.PermRead && r == roleAnon {
			lvl = auth.PermNone // anonymous callers only read
		}
		allowed = lvl >= call.need
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

		// ---- pipelines (listing; the calls on a pipeline need one running) ----
		{name: "ListPipelines", method: "GET", path: func(*azACell) string { return "/pipelines" }, need: needAnyone, ok: ok200},
		{name: "ListJobs", method: "GET", path: func(*azACell) string { return "/jobs" }, need: needAnyone, ok: ok200},
	}
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
							t.Run(sub, func(t *testing.T) { m.runAdminCell(t, call, role, tg, missing) })
						}
					}
				})
			}
		})
	}
}

func (m *azMatrix) runAdminCell(t *testing.T, call azCall, role azRole, tg azTarget, missing bool) {
	m.n++
	c := &azACell{m: m, t: t, role: role, target: tg, repo: m.repos[tg], missing: missing, name: fmt.Sprintf("cell-%04d", m.n)}
	if call.prep != nil {
		call.prep(c)
	}
	want := azAdminExpect(call, role, tg, missing)
	var before string
	if call.mutates && want.status >= 300 {
		before = m.adminState(t, c.repo.name)
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
		if after := m.adminState(t, c.repo.name); after != before {
			t.Errorf("%s %s as %s answered %v and changed state:\n before %s\n after  %s", call.method, path, role, got, before, after)
		}
	}
}
