package adminapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
	"github.com/tusk-data/tusk/s3api"
	"github.com/tusk-data/tusk/s3api/sigv4"
)

// Prefix is where the admin API is mounted.
const Prefix = "/api/v1/"

// maxAdminBody bounds a JSON request body.
const maxAdminBody = 1 << 20

// Deps are what the admin API works with. Meta, Auth and Backend are
// required; Pipelines is nil when pipelines are disabled (their calls then
// answer 501); Ops runs the calls that span the stores (purge, gc).
type Deps struct {
	Meta    *meta.Store
	Auth    *auth.Auth
	Backend s3api.Backend
	// Pipelines runs pipelines; nil disables the pipeline calls.
	Pipelines *pipelines.Service
	Ops       Ops
	Log       zerolog.Logger
	// Version is reported by GET /api/v1/version ("dev" when empty).
	Version string
	// Session, when set, authenticates an unsigned request by a web
	// console session (console.Console.Session): ok=false when r has no
	// session, an error (errs.Permission) when its session is dead or a
	// changing request lacks the session's CSRF token.
	Session func(r *http.Request) (user, key string, ok bool, err error)
}

// Ops are the server operations the admin API triggers but does not own:
// they touch the bytes and the writes in flight, which the gateway guards.
type Ops interface {
	// Purge purges p (already authorized and validated) and reports what
	// it did. Errors are classified (internal/errs).
	Purge(ctx context.Context, p Purge) (*apiv1.PurgeReport, error)
	// GC runs a garbage collection (retention 0: the default).
	GC(ctx context.Context, dryRun bool, retention time.Duration) (*apiv1.GCResult, error)
}

// Purge is a purge the admin API asks for (SPEC §3): the content (a
// SHA-256) in Repo, or in every repo when All; Block refuses the bytes from
// then on (with All only). Named is the version the caller named, when the
// content was found through one.
type Purge struct {
	Content string
	Repo    string
	All     bool
	Block   bool
	Named   *apiv1.PurgeNamed
	User    string
}

// API is the JSON admin API (docs/api.md) as an http.Handler for the paths
// under Prefix.
type API struct {
	meta    *meta.Store
	auth    *auth.Auth
	backend s3api.Backend
	pl      *pipelines.Service
	ops     Ops
	logger  zerolog.Logger
	version string
	ver     *sigv4.Verifier
	router  *mux.Router
	session func(r *http.Request) (user, key string, ok bool, err error)
}

var _ http.Handler = (*API)(nil)

// New returns the admin API over d.
func New(d Deps) *API {
	a := &API{meta: d.Meta, auth: d.Auth, backend: d.Backend, pl: d.Pipelines, ops: d.Ops,
		logger: d.Log, version: d.Version, ver: &sigv4.Verifier{Creds: d.Auth}, session: d.Session}
	if a.version == "" {
		a.version = "dev"
	}
	// Paths are matched encoded, as the names in them are single segments;
	// c.path unescapes the values. Unmatched paths and methods answer 404
	// NoSuchRoute.
	a.router = mux.NewRouter().UseEncodedPath()
	a.router.NotFoundHandler = http.HandlerFunc(a.noRoute)
	a.router.MethodNotAllowedHandler = http.HandlerFunc(a.noRoute)
	a.routes()
	return a
}

// adminCall is one authenticated admin request.
type adminCall struct {
	ctx    context.Context
	r      *http.Request
	w      http.ResponseWriter
	id     string // request id
	user   string // "" = anonymous
	admin  bool   // a global admin
	key    string // the access key that signed the request
	body   io.Reader
	status int   // answer status (200 unless set)
	wrote  bool  // the handler wrote the answer itself
	err    error // for the log
	// conflicts lists the conflicting keys of a refused merge or revert
	// (sent with the error).
	conflicts []string
	// gate lists the required pipelines' states of a merge refused by its
	// destination's merge gate (sent with the error).
	gate []apiv1.GateInfo
}

type adminFunc func(c *adminCall) (any, error)

type adminCallKey struct{}

// handle registers fn for method and path (under /api/v1): the router
// matches the route (setting path values), then the call is authenticated
// and fn runs. A GET route answers HEAD too.
func (a *API) handle(method, path string, fn adminFunc) {
	methods := []string{method}
	if method == http.MethodGet {
		methods = append(methods, http.MethodHead)
	}
	a.router.Methods(methods...).Path("/api/v1" + path).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(adminCallKey{}).(*adminCall)
		c.r = r
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler || c.wrote {
					panic(p)
				}
				c.err = fmt.Errorf("panic: %v", p)
				a.logger.Error().Str("request_id", c.id).Str("stack", string(debug.Stack())).Msg("admin handler panic")
				a.writeError(c, errs.E("admin", errs.Internal, "internal error (request %s)", c.id))
			}
		}()
		if c.err = a.authenticate(c); c.err != nil {
			a.writeError(c, c.err)
			return
		}
		var v any
		v, c.err = fn(c)
		if c.err != nil {
			if !c.wrote {
				a.writeError(c, c.err)
			}
			return
		}
		if !c.wrote {
			writeJSON(w, c.status, v)
		}
	})
}

// path returns the (unescaped) path value name of the call's route.
func (c *adminCall) path(name string) string {
	v := mux.Vars(c.r)[name]
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

func (a *API) noRoute(w http.ResponseWriter, r *http.Request) {
	c := r.Context().Value(adminCallKey{}).(*adminCall)
	c.r = r
	c.err = fail(errs.NotExist, "NoSuchRoute", "there is no admin API call %s %s; see docs/api.md for the calls", r.Method, r.URL.Path)
	a.writeError(c, c.err)
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// ServeHTTP answers an admin API request (paths under Prefix).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &adminCall{ctx: r.Context(), r: r, w: w, id: newRequestID(), status: http.StatusOK}
	w.Header().Set("X-Amz-Request-Id", c.id)
	w.Header().Set("X-Request-Id", c.id)
	defer func() {
		lvl := a.logger.Info()
		if c.status >= 500 {
			lvl = a.logger.Error()
		}
		ev := lvl.Str("request_id", c.id).Str("method", r.Method).Str("path", r.URL.Path).
			Str("user", c.user).Int("status", c.status).Dur("took", time.Since(start))
		if c.err != nil {
			ev = ev.Err(c.err)
		}
		ev.Msg("admin")
	}()
	a.router.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminCallKey{}, c)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(apiv1.APIError{Code: "InternalError", Message: err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (a *API) writeError(c *adminCall, err error) {
	status, e := toAPIError(err)
	e.RequestID = c.id
	e.Conflicts = c.conflicts
	e.Gate = c.gate
	c.status = status
	if c.r.Method == http.MethodHead {
		c.w.Header().Set("X-Tusk-Error-Code", e.Code)
		c.w.WriteHeader(status)
		return
	}
	writeJSON(c.w, status, e)
}

// authenticate checks HTTP basic auth (access key id and secret) or SigV4
// (header or presigned query), or else a console session (Deps.Session),
// and sets the caller. A request with none is anonymous: it may read
// public repos only.
func (a *API) authenticate(c *adminCall) error {
	r := c.r
	if user, key, ok, err := a.sessionOf(r); err != nil {
		return err
	} else if ok {
		c.user, c.key, c.body = user, key, r.Body
	} else if strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		id, secret, ok := r.BasicAuth()
		if !ok {
			return fail(errs.Invalid, "InvalidArgument", "malformed basic Authorization header: send base64(access-key-id:secret-key)")
		}
		want, user, err := a.auth.Secret(c.ctx, id)
		if err != nil {
			if errs.Is(err, errs.NotExist) {
				return fail(errs.Permission, "InvalidAccessKeyId", "access key %q does not exist; check TUSK_ACCESS_KEY or run tusk login", id)
			}
			return err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
			return fail(errs.Permission, "SignatureDoesNotMatch", "the secret key is wrong for access key %q; check TUSK_SECRET_KEY or run tusk login", id)
		}
		c.user, c.key, c.body = user, id, r.Body
	} else {
		res, err := a.ver.Verify(r)
		if err != nil {
			switch codeOf(err) {
			case "SignatureDoesNotMatch":
				return fail(errs.Permission, "SignatureDoesNotMatch", "the request signature does not match: the secret key is wrong for this access key; check TUSK_SECRET_KEY or run tusk login")
			case "InvalidAccessKeyId":
				if errs.Is(err, errs.NotExist) {
					return fail(errs.Permission, "InvalidAccessKeyId", "the access key does not exist (revoked, or never made); check TUSK_ACCESS_KEY or run tusk login")
				}
			}
			return err
		}
		c.body = res.Body
		if !res.Anonymous {
			c.user, c.key = res.User, res.AccessKey
		}
	}
	if c.body == nil {
		c.body = http.NoBody
	}
	if c.user != "" {
		u, err := a.auth.GetUser(c.ctx, c.user)
		if err != nil {
			return fail(errs.Permission, "AccessDenied", "the user of access key %s no longer exists", c.key)
		}
		c.admin = u.Admin
	}
	return nil
}

// sessionOf authenticates r by its console session, if Deps.Session is set.
func (a *API) sessionOf(r *http.Request) (user, key string, ok bool, err error) {
	if a.session == nil {
		return "", "", false, nil
	}
	return a.session(r)
}

// ---- request helpers ----

// decode reads the JSON body into v (unknown fields are refused).
func (c *adminCall) decode(v any) error {
	b, err := io.ReadAll(io.LimitReader(c.body, maxAdminBody+1))
	if err != nil {
		if errs.KindOf(err) != errs.Other {
			return err
		}
		return fail(errs.Invalid, "InvalidArgument", "could not read the request body: %v", err)
	}
	if len(b) > maxAdminBody {
		return fail(errs.TooLarge, "TooLarge", "the request body is larger than %d bytes", maxAdminBody)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fail(errs.Invalid, "InvalidArgument", "the request body is not valid JSON for this call: %v", err)
	}
	return nil
}

func (c *adminCall) q(name string) string { return c.r.URL.Query().Get(name) }

// qint parses an integer query parameter: def when absent, at most max.
func (c *adminCall) qint(name string, def, max int) (int, error) {
	s := c.q(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fail(errs.Invalid, "InvalidArgument", "%s must be a non-negative integer, not %q", name, s)
	}
	if n == 0 || n > max {
		n = max
	}
	return n, nil
}

func (c *adminCall) qbool(name string) (bool, error) {
	s := c.q(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fail(errs.Invalid, "InvalidArgument", "%s must be true or false, not %q", name, s)
	}
	return b, nil
}

// who names the caller in messages.
func (c *adminCall) who() string {
	if c.user == "" {
		return "anonymous"
	}
	return c.user
}

// unauthenticated refuses an anonymous call (403 AccessDenied, as S3
// answers anonymous requests).
func unauthenticated() error {
	return fail(errs.Permission, "AccessDenied",
		"access denied: this call needs credentials; run tusk login, or set TUSK_ACCESS_KEY and TUSK_SECRET_KEY")
}

// needGlobalAdmin refuses callers that are not admin users.
func (c *adminCall) needGlobalAdmin(what string) error {
	if c.user == "" {
		return unauthenticated()
	}
	if !c.admin {
		return fail(errs.Permission, "AccessDenied", "access denied: %s is not an admin user, and only admin users may %s", c.user, what)
	}
	return nil
}

func (c *adminCall) audit(a *API, action, target, detail string) {
	err := a.meta.Audit(context.WithoutCancel(c.ctx), meta.AuditEntry{User: c.who(), Action: action, Target: target, Detail: detail})
	if err != nil {
		a.logger.Error().Err(err).Str("request_id", c.id).Str("action", action).Str("target", target).Msg("audit log write failed")
	}
}

var actions = map[int]s3api.Action{auth.PermRead: s3api.ActRead, auth.PermWrite: s3api.ActWrite, auth.PermAdmin: s3api.ActAdmin}

// repo checks that the caller holds level need on repo (to do what) and
// that the repo exists.
func (a *API) repo(c *adminCall, repo string, need int, what string) (*meta.Repo, error) {
	if err := names.ValidRepo(repo); err != nil {
		return nil, err
	}
	if err := a.auth.Allow(c.ctx, c.user, repo, actions[need]); err != nil {
		if errs.KindOf(err) != errs.Permission {
			return nil, err
		}
		if c.user == "" {
			return nil, fail(errs.Permission, "AccessDenied",
				"access denied: repo %q is not public; to %s, sign in (tusk login, or TUSK_ACCESS_KEY and TUSK_SECRET_KEY)", repo, what)
		}
		return nil, fail(errs.Permission, "AccessDenied",
			"access denied: %s needs %s permission on repo %q to %s; a repo admin can grant it (tusk perm grant %s %s %s)",
			c.user, auth.PermName(need), repo, what, c.user, repo, auth.PermName(need))
	}
	r, err := a.meta.GetRepo(c.ctx, repo)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, noSuchRepo(repo)
		}
		return nil, err
	}
	return r, nil
}

func noSuchRepo(repo string) error {
	return fail(errs.NotExist, "NoSuchRepo", "repo %q does not exist; tusk repo list shows the repos you can see", repo)
}

// resolve resolves ref in repo (checked already); "" is main.
func (a *API) resolve(c *adminCall, repo, ref string) (*meta.Ref, error) {
	if ref == "" {
		ref = "main"
	}
	r, err := a.meta.Resolve(c.ctx, repo, ref)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, fail(errs.NotExist, "NoSuchRef",
				"repo %q has no branch, tag or commit %q; tusk branch list %s shows its branches", repo, ref, repo)
		}
		return nil, err
	}
	return r, nil
}

// branch resolves name as a branch of repo.
func (a *API) branch(c *adminCall, repo, name string) (*meta.Ref, error) {
	r, err := a.meta.Resolve(c.ctx, repo, name)
	if err == nil && r.Kind != meta.KindBranch {
		err = errs.E("admin", errs.NotExist, "not a branch")
	}
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, fail(errs.NotExist, "NoSuchBranch",
				"repo %q has no branch %q; tusk branch list %s shows its branches", repo, name, repo)
		}
		return nil, err
	}
	return r, nil
}

// openCommit resolves id (full or a 12+ char prefix) as an open commit.
func (a *API) openCommit(c *adminCall, repo, id string) (*meta.OpenCommit, error) {
	r, err := a.meta.Resolve(c.ctx, repo, id)
	if err == nil {
		switch r.Kind {
		case meta.KindOpen:
			return r.Open, nil
		case meta.KindCommit:
			return nil, fail(errs.Conflict, "CommitFinished", "commit %s of repo %q is already finished", r.Commit.ID, repo)
		}
		err = errs.E("admin", errs.NotExist, "not an open commit")
	}
	if errs.Is(err, errs.NotExist) {
		return nil, fail(errs.NotExist, "NoSuchCommit",
			"repo %q has no open commit %q; tusk commit list %s shows its open commits", repo, id, repo)
	}
	return nil, err
}

// ---- conversions ----

func commitInfo(c *meta.Commit) apiv1.CommitInfo {
	p := c.Parents
	if p == nil {
		p = []string{}
	}
	return apiv1.CommitInfo{ID: c.ID, Repo: c.Repo, Parents: p, Author: c.Author, Message: c.Message, Time: c.Time, Meta: c.Meta}
}

func openInfo(o *meta.OpenCommit) apiv1.OpenCommitInfo {
	return apiv1.OpenCommitInfo{ID: o.ID, Repo: o.Repo, Branch: o.Branch, Base: o.Base, Author: o.Author,
		Message: o.Message, Started: o.Started, Bucket: OpenCommitBucket(o.Repo, o.ID)}
}

// OpenCommitBucket is the S3 bucket that writes into open commit id of
// repo: a 16-char prefix of the id (SPEC §2).
func OpenCommitBucket(repo, id string) string {
	if len(id) > 16 {
		id = id[:16]
	}
	return id + "." + repo
}

func kindName(k meta.RefKind) string {
	switch k {
	case meta.KindBranch:
		return "branch"
	case meta.KindTag:
		return "tag"
	case meta.KindOpen:
		return "open-commit"
	}
	return "commit"
}

func userInfo(u *auth.User, keys int) apiv1.UserInfo {
	p := map[string]string{}
	for repo, l := range u.Perms {
		if l > auth.PermNone {
			p[repo] = auth.PermName(l)
		}
	}
	return apiv1.UserInfo{Name: u.Name, Admin: u.Admin, Perms: p, CreateRepos: u.Admin || u.CreateRepos, Created: u.Created, Keys: keys}
}

// plural is "1 key", "2 keys".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
