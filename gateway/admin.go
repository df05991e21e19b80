package gateway

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/s3api"
	"github.com/tusk-data/tusk/s3api/sigv4"
)

// Version is the server's version, reported by GET /api/v1/version. The
// tusk binary sets it from its build version.
var Version = "dev"

// AdminPrefix is where the admin API is mounted.
const AdminPrefix = "/api/v1/"

// maxAdminBody bounds a JSON request body.
const maxAdminBody = 1 << 20

// admin is the JSON admin API (docs/api.md).
type admin struct {
	s   *Server
	mux *http.ServeMux
	ver *sigv4.Verifier
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
}

type adminFunc func(c *adminCall) (any, error)

func (s *Server) adminHandler() http.Handler {
	a := &admin{s: s, mux: http.NewServeMux(), ver: &sigv4.Verifier{Creds: s.Auth}}
	a.routes()
	return a
}

type adminCallKey struct{}

// handle registers fn: the mux matches the route (setting path values),
// then the call is authenticated and fn runs.
func (a *admin) handle(pattern string, fn adminFunc) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(adminCallKey{}).(*adminCall)
		c.r = r
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler || c.wrote {
					panic(p)
				}
				c.err = fmt.Errorf("panic: %v", p)
				a.s.cfg.Log.Error().Str("request_id", c.id).Str("stack", string(debug.Stack())).Msg("admin handler panic")
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

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &adminCall{ctx: r.Context(), r: r, w: w, id: newRequestID(), status: http.StatusOK}
	w.Header().Set("X-Amz-Request-Id", c.id)
	w.Header().Set("X-Request-Id", c.id)
	defer func() {
		lvl := a.s.cfg.Log.Info()
		if c.status >= 500 {
			lvl = a.s.cfg.Log.Error()
		}
		ev := lvl.Str("request_id", c.id).Str("method", r.Method).Str("path", r.URL.Path).
			Str("user", c.user).Int("status", c.status).Dur("took", time.Since(start))
		if c.err != nil {
			ev = ev.Err(c.err)
		}
		ev.Msg("admin")
	}()
	if _, pattern := a.mux.Handler(r); pattern == "" {
		c.err = apiErr(http.StatusNotFound, "NoSuchRoute", "there is no admin API call %s %s; see docs/api.md for the calls", r.Method, r.URL.Path)
		a.writeError(c, c.err)
		return
	}
	a.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminCallKey{}, c)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(APIError{Code: "InternalError", Message: err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (a *admin) writeError(c *adminCall, err error) {
	status, e := toAPIError(err)
	e.RequestID = c.id
	c.status = status
	if c.r.Method == http.MethodHead {
		c.w.Header().Set("X-Tusk-Error-Code", e.Code)
		c.w.WriteHeader(status)
		return
	}
	writeJSON(c.w, status, e)
}

// authenticate checks HTTP basic auth (access key id and secret) or SigV4
// (header or presigned query) and sets the caller. A request with neither
// is anonymous: it may read public repos only.
func (a *admin) authenticate(c *adminCall) error {
	r := c.r
	if strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		id, secret, ok := r.BasicAuth()
		if !ok {
			return apiErr(http.StatusBadRequest, "InvalidArgument", "malformed basic Authorization header: send base64(access-key-id:secret-key)")
		}
		want, user, err := a.s.Auth.Secret(c.ctx, id)
		if err != nil {
			if errs.Is(err, errs.NotExist) {
				return apiErr(http.StatusForbidden, "InvalidAccessKeyId", "access key %q does not exist; check TUSK_ACCESS_KEY or run tusk login", id)
			}
			return err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
			return apiErr(http.StatusForbidden, "SignatureDoesNotMatch", "the secret key is wrong for access key %q; check TUSK_SECRET_KEY or run tusk login", id)
		}
		c.user, c.key, c.body = user, id, r.Body
	} else {
		res, err := a.ver.Verify(r)
		if err != nil {
			switch errs.CodeOf(err) {
			case "SignatureDoesNotMatch":
				return apiErr(http.StatusForbidden, "SignatureDoesNotMatch", "the request signature does not match: the secret key is wrong for this access key; check TUSK_SECRET_KEY or run tusk login")
			case "InvalidAccessKeyId":
				if errs.Is(err, errs.NotExist) {
					return apiErr(http.StatusForbidden, "InvalidAccessKeyId", "the access key does not exist (revoked, or never made); check TUSK_ACCESS_KEY or run tusk login")
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
		u, err := a.s.Auth.GetUser(c.ctx, c.user)
		if err != nil {
			return apiErr(http.StatusForbidden, "AccessDenied", "the user of access key %s no longer exists", c.key)
		}
		c.admin = u.Admin
	}
	return nil
}

// ---- errors ----

// adminError is an error with its admin API status and code.
type adminError struct {
	status    int
	code, msg string
	conflicts []string
}

func (e *adminError) Error() string { return e.msg }

func apiErr(status int, code, format string, args ...any) *adminError {
	return &adminError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// message returns the human part of err: the innermost classified message.
func message(err error) string {
	var msg string
	for e := err; e != nil; e = errors.Unwrap(e) {
		var ee *errs.Error
		if errors.As(e, &ee) {
			if ee.Msg != "" {
				msg = ee.Msg
			}
			if ee.Err == nil {
				break
			}
			e = ee
			continue
		}
		if msg == "" {
			msg = e.Error()
		}
		break
	}
	if msg == "" {
		msg = err.Error()
	}
	return msg
}

// toAPIError maps any error to its status and body.
func toAPIError(err error) (int, *APIError) {
	var ae *adminError
	if errors.As(err, &ae) {
		return ae.status, &APIError{Code: ae.code, Message: ae.msg, Conflicts: ae.conflicts}
	}
	code, msg := errs.CodeOf(err), message(err)
	switch errs.KindOf(err) {
	case errs.NotExist:
		switch code {
		case "NoSuchKey", "NoSuchVersion", "NoSuchUser", "NoSuchAccessKey", "InvalidAccessKeyId":
		case "NoSuchBucket":
			code = "NoSuchRef"
		default:
			code = "NotFound"
		}
		status := http.StatusNotFound
		if code == "InvalidAccessKeyId" {
			status = http.StatusForbidden
		}
		return status, &APIError{Code: code, Message: msg}
	case errs.Exist:
		if code != "UserAlreadyExists" {
			code = "AlreadyExists"
		}
		return http.StatusConflict, &APIError{Code: code, Message: msg}
	case errs.Invalid:
		switch code {
		case "InvalidBucketName":
			code = "InvalidName"
		case "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError", "MissingSecurityHeader":
		default:
			code = "InvalidArgument"
		}
		return http.StatusBadRequest, &APIError{Code: code, Message: msg}
	case errs.Permission:
		switch code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "RequestTimeTooSkewed":
		default:
			code = "AccessDenied"
		}
		return http.StatusForbidden, &APIError{Code: code, Message: msg}
	case errs.Conflict:
		status := http.StatusConflict
		switch code {
		case "MergeConflict":
		case "BucketNotEmpty":
			code = "NotEmpty"
		case "PreconditionFailed":
			status = http.StatusPreconditionFailed
		default:
			code = "Conflict"
		}
		return status, &APIError{Code: code, Message: msg}
	case errs.Transient:
		return http.StatusServiceUnavailable, &APIError{Code: "ServiceUnavailable", Message: msg + "; retry later"}
	case errs.NotImplemented:
		return http.StatusNotImplemented, &APIError{Code: "NotImplemented", Message: msg}
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge, &APIError{Code: "TooLarge", Message: msg}
	case errs.NoSpace:
		return http.StatusInsufficientStorage, &APIError{Code: "InsufficientStorage", Message: msg + "; free space on the server"}
	}
	return http.StatusInternalServerError, &APIError{Code: "InternalError", Message: msg + "; see the server log"}
}

// ---- request helpers ----

// decode reads the JSON body into v (unknown fields are refused).
func (c *adminCall) decode(v any) error {
	b, err := io.ReadAll(io.LimitReader(c.body, maxAdminBody+1))
	if err != nil {
		if errs.KindOf(err) != errs.Other {
			return err
		}
		return apiErr(http.StatusBadRequest, "InvalidArgument", "could not read the request body: %v", err)
	}
	if len(b) > maxAdminBody {
		return apiErr(http.StatusRequestEntityTooLarge, "TooLarge", "the request body is larger than %d bytes", maxAdminBody)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return apiErr(http.StatusBadRequest, "InvalidArgument", "the request body is not valid JSON for this call: %v", err)
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
		return 0, apiErr(http.StatusBadRequest, "InvalidArgument", "%s must be a non-negative integer, not %q", name, s)
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
		return false, apiErr(http.StatusBadRequest, "InvalidArgument", "%s must be true or false, not %q", name, s)
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
	return apiErr(http.StatusForbidden, "AccessDenied",
		"access denied: this call needs credentials; run tusk login, or set TUSK_ACCESS_KEY and TUSK_SECRET_KEY")
}

// needGlobalAdmin refuses callers that are not admin users.
func (c *adminCall) needGlobalAdmin(what string) error {
	if c.user == "" {
		return unauthenticated()
	}
	if !c.admin {
		return apiErr(http.StatusForbidden, "AccessDenied", "access denied: %s is not an admin user, and only admin users may %s", c.user, what)
	}
	return nil
}

func (c *adminCall) audit(a *admin, action, target, detail string) {
	err := a.s.Meta.Audit(context.WithoutCancel(c.ctx), meta.AuditEntry{User: c.who(), Action: action, Target: target, Detail: detail})
	if err != nil {
		a.s.cfg.Log.Error().Err(err).Str("request_id", c.id).Str("action", action).Str("target", target).Msg("audit log write failed")
	}
}

var actions = map[int]s3api.Action{auth.PermRead: s3api.ActRead, auth.PermWrite: s3api.ActWrite, auth.PermAdmin: s3api.ActAdmin}

// repo checks that the caller holds level need on repo (to do what) and
// that the repo exists.
func (a *admin) repo(c *adminCall, repo string, need int, what string) (*meta.Repo, error) {
	if err := meta.ValidRepoName(repo); err != nil {
		return nil, err
	}
	if err := a.s.Auth.Allow(c.ctx, c.user, repo, actions[need]); err != nil {
		if errs.KindOf(err) != errs.Permission {
			return nil, err
		}
		if c.user == "" {
			return nil, apiErr(http.StatusForbidden, "AccessDenied",
				"access denied: repo %q is not public; to %s, sign in (tusk login, or TUSK_ACCESS_KEY and TUSK_SECRET_KEY)", repo, what)
		}
		return nil, apiErr(http.StatusForbidden, "AccessDenied",
			"access denied: %s needs %s permission on repo %q to %s; a repo admin can grant it (tusk perm grant %s %s %s)",
			c.user, auth.PermName(need), repo, what, c.user, repo, auth.PermName(need))
	}
	r, err := a.s.Meta.GetRepo(c.ctx, repo)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, noSuchRepo(repo)
		}
		return nil, err
	}
	return r, nil
}

func noSuchRepo(repo string) error {
	return apiErr(http.StatusNotFound, "NoSuchRepo", "repo %q does not exist; tusk repo list shows the repos you can see", repo)
}

// resolve resolves ref in repo (checked already); "" is main.
func (a *admin) resolve(c *adminCall, repo, ref string) (*meta.Ref, error) {
	if ref == "" {
		ref = "main"
	}
	r, err := a.s.Meta.Resolve(c.ctx, repo, ref)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, apiErr(http.StatusNotFound, "NoSuchRef",
				"repo %q has no branch, tag or commit %q; tusk branch list %s shows its branches", repo, ref, repo)
		}
		return nil, err
	}
	return r, nil
}

// branch resolves name as a branch of repo.
func (a *admin) branch(c *adminCall, repo, name string) (*meta.Ref, error) {
	r, err := a.s.Meta.Resolve(c.ctx, repo, name)
	if err == nil && r.Kind != meta.KindBranch {
		err = errs.E("admin", errs.NotExist, "not a branch")
	}
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, apiErr(http.StatusNotFound, "NoSuchBranch",
				"repo %q has no branch %q; tusk branch list %s shows its branches", repo, name, repo)
		}
		return nil, err
	}
	return r, nil
}

// openCommit resolves id (full or a 12+ char prefix) as an open commit.
func (a *admin) openCommit(c *adminCall, repo, id string) (*meta.OpenCommit, error) {
	r, err := a.s.Meta.Resolve(c.ctx, repo, id)
	if err == nil {
		switch r.Kind {
		case meta.KindOpen:
			return r.Open, nil
		case meta.KindCommit:
			return nil, apiErr(http.StatusConflict, "CommitFinished", "commit %s of repo %q is already finished", r.Commit.ID, repo)
		}
		err = errs.E("admin", errs.NotExist, "not an open commit")
	}
	if errs.Is(err, errs.NotExist) {
		return nil, apiErr(http.StatusNotFound, "NoSuchCommit",
			"repo %q has no open commit %q; tusk commit list %s shows its open commits", repo, id, repo)
	}
	return nil, err
}

// ---- conversions ----

func commitInfo(c *meta.Commit) CommitInfo {
	p := c.Parents
	if p == nil {
		p = []string{}
	}
	return CommitInfo{ID: c.ID, Repo: c.Repo, Parents: p, Author: c.Author, Message: c.Message, Time: c.Time, Meta: c.Meta}
}

func openInfo(o *meta.OpenCommit) OpenCommitInfo {
	return OpenCommitInfo{ID: o.ID, Repo: o.Repo, Branch: o.Branch, Base: o.Base, Author: o.Author,
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

func userInfo(u *auth.User, keys int) UserInfo {
	p := map[string]string{}
	for repo, l := range u.Perms {
		if l > auth.PermNone {
			p[repo] = auth.PermName(l)
		}
	}
	return UserInfo{Name: u.Name, Admin: u.Admin, Perms: p, CreateRepos: u.Admin || u.CreateRepos, Created: u.Created, Keys: keys}
}

// plural is "1 key", "2 keys".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
