package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/internal/errs"
)

// Prefix is where the console is mounted.
const Prefix = "/ui/"

// CookieName is the session cookie; CSRFHeader carries the session's CSRF
// token on every changing request.
const (
	CookieName = "tusk_session"
	CSRFHeader = "X-Tusk-Csrf"
)

// Defaults of Config.
const (
	DefaultIdle        = time.Hour
	DefaultTTL         = 12 * time.Hour
	DefaultMaxSessions = 10000
	// MaxFailedSignIns failed sign-ins of one access key within
	// FailedSignInWindow refuse its sign-ins until the window passes.
	MaxFailedSignIns   = 5
	FailedSignInWindow = 15 * time.Minute
)

//go:embed static
var staticFS embed.FS

// Credentials checks access keys: auth.Auth implements it (the same store
// SigV4 checks). Secret returns the key's secret and user; an unknown key is
// an errs.NotExist error.
type Credentials interface {
	Secret(ctx context.Context, accessKey string) (secret, user string, err error)
}

// Config configures the console.
type Config struct {
	Creds Credentials // required
	// Idle ends a session unused this long (default 1h); TTL ends it this
	// long after sign-in (default 12h).
	Idle, TTL time.Duration
	// MaxSessions bounds the session table (default 10000): signing in
	// past it ends the session used least recently.
	MaxSessions int
	Now         func() time.Time // nil: time.Now
	Log         zerolog.Logger
}

// Console serves the console's pages and keeps its sessions.
type Console struct {
	cfg    Config
	static http.Handler
	mu     sync.Mutex
	byID   map[string]*session
	// failed counts failed sign-ins per access key (bounded: cleared
	// when it reaches MaxSessions keys).
	failed map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

type session struct {
	id, csrf   string
	user, key  string
	created    time.Time
	lastUsed   time.Time
	expiresMax time.Time
}

// New returns a console over cfg.
func New(cfg Config) *Console {
	if cfg.Creds == nil {
		panic("console.New: Creds is required")
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	return &Console{cfg: cfg, static: http.FileServer(http.FS(sub)), byID: map[string]*session{},
		failed: map[string]*failures{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// signed reports whether r carries a signature of its own (SigV4 header,
// presigned query, basic auth): those ignore the session cookie.
func signed(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	q := r.URL.Query()
	return q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("AWSAccessKeyId")
}

// changing reports whether method may change state (and so needs the CSRF
// token).
func changing(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// Session authenticates r by its session cookie. It answers ok=false when r
// carries no cookie or is signed (the caller then authenticates it as
// before); the session's user and access key with ok=true for a live
// session; and an errs.Permission error when the cookie names no live
// session (expired, signed out, key revoked) or when r changes something
// without the session's CSRF token in the X-Tusk-Csrf header.
func (c *Console) Session(r *http.Request) (user, key string, ok bool, err error) {
	const op = "console.Session"
	if signed(r) {
		return "", "", false, nil
	}
	ck, cerr := r.Cookie(CookieName)
	if cerr != nil || ck.Value == "" {
		return "", "", false, nil
	}
	s := c.lookup(ck.Value)
	if s == nil {
		return "", "", false, errs.E(op, errs.Permission,
			"your console session has expired or was signed out; sign in again at %s", Prefix)
	}
	if changing(r.Method) {
		tok := r.Header.Get(CSRFHeader)
		if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.csrf)) != 1 {
			return "", "", false, errs.E(op, errs.Permission,
				"a %s with the console's session cookie needs the session's CSRF token in the %s header; reload the console", r.Method, CSRFHeader)
		}
	}
	if _, u, err := c.cfg.Creds.Secret(r.Context(), s.key); err != nil || u != s.user {
		if err != nil && !errs.Is(err, errs.NotExist) {
			return "", "", false, err
		}
		c.drop(s.id)
		return "", "", false, errs.E(op, errs.Permission,
			"the access key of your console session was revoked; sign in again at %s", Prefix)
	}
	return s.user, s.key, true, nil
}

// lookup returns the live session id names (touching it), or nil.
func (c *Console) lookup(id string) *session {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.byID[id]
	if s == nil {
		return nil
	}
	if now.After(s.expiresMax) || now.Sub(s.lastUsed) > c.cfg.Idle {
		delete(c.byID, id)
		return nil
	}
	s.lastUsed = now
	cp := *s
	return &cp
}

func (c *Console) drop(id string) {
	c.mu.Lock()
	delete(c.byID, id)
	c.mu.Unlock()
}

// create opens a session for user's key, making room in the table.
func (c *Console) create(user, key string) *session {
	now := c.cfg.Now()
	s := &session{id: randomHex(32), csrf: randomHex(32), user: user, key: key,
		created: now, lastUsed: now, expiresMax: now.Add(c.cfg.TTL)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byID) >= c.cfg.MaxSessions {
		var oldest *session
		for id, o := range c.byID {
			if now.After(o.expiresMax) || now.Sub(o.lastUsed) > c.cfg.Idle {
				delete(c.byID, id)
			} else if oldest == nil || o.lastUsed.Before(oldest.lastUsed) {
				oldest = o
			}
		}
		if len(c.byID) >= c.cfg.MaxSessions && oldest != nil {
			delete(c.byID, oldest.id)
		}
	}
	c.byID[s.id] = s
	cp := *s
	return &cp
}

// throttled returns how long sign-ins of key stay refused (0: not).
func (c *Console) throttled(key string) time.Duration {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.failed[key]
	if f == nil {
		return 0
	}
	if now.Sub(f.first) >= FailedSignInWindow {
		delete(c.failed, key)
		return 0
	}
	if f.n < MaxFailedSignIns {
		return 0
	}
	return f.first.Add(FailedSignInWindow).Sub(now)
}

func (c *Console) failedSignIn(key string) {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.failed[key]
	if f == nil || now.Sub(f.first) >= FailedSignInWindow {
		if len(c.failed) >= c.cfg.MaxSessions {
			clear(c.failed)
		}
		f = &failures{first: now}
		c.failed[key] = f
	}
	f.n++
}

// Sessions returns the number of sessions in the table (live or not yet
// swept).
func (c *Console) Sessions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// SessionInfo is the answer of GET and POST /ui/session.
type SessionInfo struct {
	User      string    `json:"user"`
	AccessKey string    `json:"access_key"`
	CSRF      string    `json:"csrf"`
	Expires   time.Time `json:"expires"`
}

type consoleError struct {
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// ServeHTTP answers /ui and the paths under /ui/: the page and its assets,
// and /ui/session (sign in, who am I, sign out).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	switch r.URL.Path {
	case "/ui":
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	case Prefix + "session":
		c.serveSession(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, consoleError{"the console's pages are read with GET"})
		return
	}
	p := strings.TrimPrefix(r.URL.Path, Prefix)
	if p == "" || p == "index.html" {
		p = "index.html"
	}
	if _, err := fs.Stat(staticFS, "static/"+p); err != nil {
		writeJSON(w, http.StatusNotFound, consoleError{"no such console page; open " + Prefix})
		return
	}
	h.Set("Cache-Control", "no-cache")
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + p
	if p == "index.html" {
		r2.URL.Path = "/" // FileServer redirects /index.html to ./
	}
	c.static.ServeHTTP(w, r2)
}

func (c *Console) serveSession(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		ck, err := r.Cookie(CookieName)
		var s *session
		if err == nil {
			s = c.lookup(ck.Value)
		}
		if s == nil {
			writeJSON(w, http.StatusUnauthorized, consoleError{"not signed in"})
			return
		}
		writeJSON(w, http.StatusOK, c.info(s))
	case http.MethodPost:
		c.signIn(w, r)
	case http.MethodDelete:
		if _, _, ok, err := c.Session(r); err != nil || !ok {
			msg := "not signed in"
			var e *errs.Error
			if errors.As(err, &e) && e.Msg != "" {
				msg = e.Msg
			}
			writeJSON(w, http.StatusForbidden, consoleError{msg})
			return
		}
		ck, _ := r.Cookie(CookieName)
		c.drop(ck.Value)
		http.SetCookie(w, c.cookie(r, "", -1))
		writeJSON(w, http.StatusOK, map[string]bool{"signed_out": true})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, consoleError{"use GET, POST (sign in) or DELETE (sign out) on " + Prefix + "session"})
	}
}

func (c *Console) info(s *session) SessionInfo {
	exp := s.lastUsed.Add(c.cfg.Idle)
	if s.expiresMax.Before(exp) {
		exp = s.expiresMax
	}
	return SessionInfo{User: s.user, AccessKey: s.key, CSRF: s.csrf, Expires: exp.UTC()}
}

func (c *Console) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

// signIn is POST /ui/session. It takes JSON only: a cross-site form cannot
// send that without a CORS preflight, which this server never grants, so a
// forged sign-in (login CSRF) fails.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, consoleError{"sign in with a JSON body: {\"access_key\": ..., \"secret_key\": ...}"})
		return
	}
	var req struct {
		AccessKey string `json:"access_key"`
		SecretKey string `json:"secret_key"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil {
		err = json.Unmarshal(b, &req)
	}
	if err != nil || req.AccessKey == "" || req.SecretKey == "" {
		writeJSON(w, http.StatusBadRequest, consoleError{"give an access key and its secret key"})
		return
	}
	if wait := c.throttled(req.AccessKey); wait > 0 {
		writeJSON(w, http.StatusTooManyRequests, consoleError{fmt.Sprintf(
			"%d failed sign-ins with this access key in %s; try again in %s", MaxFailedSignIns, FailedSignInWindow, wait.Round(time.Second))})
		return
	}
	secret, user, err := c.cfg.Creds.Secret(r.Context(), req.AccessKey)
	if err != nil && !errs.Is(err, errs.NotExist) {
		c.cfg.Log.Error().Err(err).Msg("console sign-in")
		writeJSON(w, http.StatusInternalServerError, consoleError{"could not check the key; see the server log"})
		return
	}
	// The same answer for an unknown key and a wrong secret: keys are not
	// probed through the console.
	if err != nil || subtle.ConstantTimeCompare([]byte(secret), []byte(req.SecretKey)) != 1 {
		c.failedSignIn(req.AccessKey)
		c.cfg.Log.Info().Str("access_key", req.AccessKey).Msg("console sign-in refused")
		writeJSON(w, http.StatusUnauthorized, consoleError{"wrong access key or secret key"})
		return
	}
	if old, err := r.Cookie(CookieName); err == nil {
		c.drop(old.Value)
	}
	s := c.create(user, req.AccessKey)
	http.SetCookie(w, c.cookie(r, s.id, 0))
	c.cfg.Log.Info().Str("user", user).Str("access_key", req.AccessKey).Msg("console sign-in")
	writeJSON(w, http.StatusOK, c.info(s))
}

// Protect wraps the gateway's handler: answers outside /ui/ to a request
// carrying the session cookie get "Content-Security-Policy: sandbox" and
// nosniff, so that object bytes opened from the console (an uploaded HTML
// or SVG file) run, if at all, in an opaque origin without the session.
func (c *Console) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, Prefix) {
			if ck, err := r.Cookie(CookieName); err == nil && ck.Value != "" {
				w.Header().Set("Content-Security-Policy", "sandbox")
				w.Header().Set("X-Content-Type-Options", "nosniff")
			}
		}
		next.ServeHTTP(w, r)
	})
}
