package console

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// TestSignInCookieAndSignOut: signing in sets an HttpOnly, SameSite=Strict
// session cookie on / and returns a CSRF token; wrong keys are refused
// with one message; signing out ends the session for every later call.
func TestSignInCookieAndSignOut(t *testing.T) {
	srv := start(t)
	for _, tc := range []struct {
		name   string
		body   any
		ct     string
		status int
	}{
		{"unknown key", map[string]string{"access_key": "NOPE", "secret_key": "x"}, "application/json", http.StatusUnauthorized},
		{"wrong secret", map[string]string{"access_key": gatewaytest.AccessKey, "secret_key": "wrong"}, "application/json", http.StatusUnauthorized},
		{"no secret", map[string]string{"access_key": gatewaytest.AccessKey}, "application/json", http.StatusBadRequest},
		{"form post (login CSRF)", []byte("access_key=" + gatewaytest.AccessKey + "&secret_key=" + gatewaytest.SecretKey), "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, srv)
			st, hdr, body := b.do("POST", "/ui/session", tc.body, map[string]string{"Content-Type": tc.ct})
			if st != tc.status {
				t.Fatalf("status %d %s, want %d", st, body, tc.status)
			}
			if hdr.Get("Set-Cookie") != "" {
				t.Fatalf("a refused sign-in set a cookie: %s", hdr.Get("Set-Cookie"))
			}
		})
	}

	b := newBrowser(t, srv)
	st, hdr, body := b.do("POST", "/ui/session", map[string]string{"access_key": gatewaytest.AccessKey, "secret_key": gatewaytest.SecretKey}, nil)
	if st != http.StatusOK {
		t.Fatalf("sign in: %d %s", st, body)
	}
	sc := hdr.Get("Set-Cookie")
	for _, want := range []string{"tusk_session=", "Path=/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP (the browser would drop it)", sc)
	}
	var info struct{ User, CSRF string }
	json.Unmarshal(body, &info)
	b.csrf = info.CSRF
	if info.User != "admin" || len(info.CSRF) != 64 {
		t.Fatalf("session %s", body)
	}
	var me apiv1.WhoAmI
	if st, _, body := b.do("GET", "/api/v1/whoami", nil, nil); st != http.StatusOK || json.Unmarshal(body, &me) != nil || me.User != "admin" {
		t.Fatalf("whoami with the session: %d %s", st, body)
	}
	// Sign out needs the token too.
	if st, _, body := b.do("DELETE", "/ui/session", nil, nil); st != http.StatusForbidden {
		t.Fatalf("sign out without the CSRF token: %d %s, want 403", st, body)
	}
	if st, _, body := b.do("DELETE", "/ui/session", nil, b.withCSRF()); st != http.StatusOK {
		t.Fatalf("sign out: %d %s", st, body)
	}
	// The cookie is gone from the jar; replay the old one by hand: dead.
	old := strings.TrimPrefix(strings.SplitN(sc, ";", 2)[0], "tusk_session=")
	st, _, body = b.do("GET", "/api/v1/whoami", nil, map[string]string{"Cookie": "tusk_session=" + old})
	if st != http.StatusForbidden || !strings.Contains(string(body), "sign in again") {
		t.Fatalf("whoami with a signed-out session: %d %s, want 403 (sign in again)", st, body)
	}
	if st, _, _ := b.do("GET", "/ui/session", nil, map[string]string{"Cookie": "tusk_session=" + old}); st != http.StatusUnauthorized {
		t.Fatalf("GET /ui/session after sign out: %d, want 401", st)
	}
}

// TestForgedRequestWithoutCSRFRefused: with a live session cookie, a
// changing request without the session's CSRF token (what a forged
// cross-site form or fetch sends) is refused with 403 and changes nothing,
// on the admin API and on S3; the same request with the token passes.
func TestForgedRequestWithoutCSRFRefused(t *testing.T) {
	srv := start(t)
	b := newBrowser(t, srv)
	b.signIn(gatewaytest.AccessKey, gatewaytest.SecretKey)
	forged := []struct {
		name, method, path string
		body               any
	}{
		{"create repo", "POST", "/api/v1/repos", map[string]string{"name": "forged"}},
		{"create user", "POST", "/api/v1/users", map[string]string{"name": "mallory"}},
		{"S3 create bucket", "PUT", "/forged", nil},
	}
	for _, tc := range forged {
		for _, tok := range []string{"", "0000000000000000000000000000000000000000000000000000000000000000"} {
			t.Run(tc.name+map[bool]string{true: " no token", false: " wrong token"}[tok == ""], func(t *testing.T) {
				hdr := map[string]string{}
				if tok != "" {
					hdr["X-Tusk-Csrf"] = tok
				}
				st, _, body := b.do(tc.method, tc.path, tc.body, hdr)
				if st != http.StatusForbidden || !strings.Contains(string(body), "CSRF") {
					t.Fatalf("%d %s, want 403 naming the CSRF token", st, body)
				}
			})
		}
	}
	var repos []apiv1.RepoInfo
	adminCall(t, srv, "GET", "/repos", nil, http.StatusOK, &repos)
	if len(repos) != 0 {
		t.Fatalf("forged requests made repos: %+v", repos)
	}
	var users []apiv1.UserInfo
	adminCall(t, srv, "GET", "/users", nil, http.StatusOK, &users)
	if len(users) != 1 {
		t.Fatalf("forged requests made users: %+v", users)
	}
	// With the token: the same calls work.
	if st, _, body := b.do("POST", "/api/v1/repos", map[string]string{"name": "real"}, b.withCSRF()); st != http.StatusCreated {
		t.Fatalf("create repo with the token: %d %s", st, body)
	}
	if st, _, body := b.do("PUT", "/real/a.txt", []byte("hello"), b.withCSRF()); st != http.StatusOK {
		t.Fatalf("S3 PUT with the token: %d %s", st, body)
	}
	if st, hdr, body := b.do("GET", "/real/a.txt", nil, nil); st != http.StatusOK || string(body) != "hello" {
		t.Fatalf("S3 GET with the session: %d %s", st, body)
	} else if hdr.Get("Content-Security-Policy") != "sandbox" || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("object answer to a console session not sandboxed: %v", hdr)
	}
	if st, hdr, _ := b.do("GET", "/api/v1/repos/real/object?key=a.txt", nil, nil); st != http.StatusOK || hdr.Get("Content-Security-Policy") != "sandbox" {
		t.Fatalf("admin object read: %d %v", st, hdr)
	}
	// A signed request ignores the cookie (and needs no token).
	keyCall(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey, "POST", "/repos", map[string]string{"name": "signed"}, http.StatusCreated, nil)
}

// TestUserSeesOnlyPermittedRepos: through the console's session, a user
// sees and reads exactly the repos the permissions allow, on the admin API
// and on S3.
func TestUserSeesOnlyPermittedRepos(t *testing.T) {
	srv := start(t)
	adminCall(t, srv, "POST", "/repos", map[string]string{"name": "secret-repo"}, http.StatusCreated, nil)
	adminCall(t, srv, "POST", "/repos", map[string]string{"name": "shared-repo"}, http.StatusCreated, nil)
	ak, sk := newUser(t, srv, "bob", false)
	adminCall(t, srv, "PUT", "/users/bob/perms/shared-repo", map[string]string{"permission": "read"}, http.StatusOK, nil)
	b := newBrowser(t, srv)
	b.signIn(ak, sk)
	st, _, body := b.do("GET", "/api/v1/repos", nil, nil)
	var repos []apiv1.RepoInfo
	if st != http.StatusOK || json.Unmarshal(body, &repos) != nil {
		t.Fatalf("list repos: %d %s", st, body)
	}
	if len(repos) != 1 || repos[0].Name != "shared-repo" || repos[0].Permission != "read" {
		t.Fatalf("bob sees %+v, want shared-repo (read) only", repos)
	}
	for _, tc := range []struct{ name, method, path string }{
		{"repo info", "GET", "/api/v1/repos/secret-repo"},
		{"list", "GET", "/api/v1/repos/secret-repo/objects"},
		{"log", "GET", "/api/v1/repos/secret-repo/log"},
		{"S3 list", "GET", "/secret-repo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st, _, body := b.do(tc.method, tc.path, nil, nil); st != http.StatusForbidden {
				t.Fatalf("%d %s, want 403", st, body)
			}
		})
	}
	// Read but not write: a write with the token is still refused.
	if st, _, body := b.do("PUT", "/shared-repo/x.txt", []byte("x"), b.withCSRF()); st != http.StatusForbidden {
		t.Fatalf("bob's S3 PUT on a read-only repo: %d %s, want 403", st, body)
	}
	// Revoking bob's key ends his session at its next request.
	adminCall(t, srv, "DELETE", "/keys/"+ak, nil, http.StatusOK, nil)
	if st, _, body := b.do("GET", "/api/v1/repos", nil, nil); st != http.StatusForbidden || !strings.Contains(string(body), "revoked") {
		t.Fatalf("bob's session after his key was revoked: %d %s", st, body)
	}
}

// TestUIIsNotABucket: "ui" is no repo name (3-63 characters), so /ui/ on
// the gateway's own host is the console and never a path-style bucket.
func TestUIIsNotABucket(t *testing.T) {
	srv := start(t)
	b := newBrowser(t, srv)
	if st, hdr, body := b.do("GET", "/ui/", nil, nil); st != http.StatusOK || !strings.Contains(string(body), "<title>Tusk console</title>") {
		t.Fatalf("GET /ui/: %d %s", st, body)
	} else if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("console page CSP %q", csp)
	}
	for _, p := range []string{"/ui/app.js", "/ui/app.css"} {
		if st, _, _ := b.do("GET", p, nil, nil); st != http.StatusOK {
			t.Fatalf("GET %s: %d", p, st)
		}
	}
	if st, hdr, _ := b.do("GET", "/ui", nil, nil); st != http.StatusMovedPermanently || hdr.Get("Location") != "/ui/" {
		t.Fatalf("GET /ui: %d %v", st, hdr)
	}
	if st, _, _ := b.do("GET", "/ui/nope.html", nil, nil); st != http.StatusNotFound {
		t.Fatalf("GET /ui/nope.html: %d", st)
	}
	keyCall(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey, "POST", "/repos", map[string]string{"name": "ui"}, http.StatusBadRequest, nil)
}

// TestCookieSecureOverTLS: over HTTPS the session cookie is Secure.
func TestCookieSecureOverTLS(t *testing.T) {
	srv := start(t)
	ts := httptest.NewTLSServer(srv.Handler())
	defer ts.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Post(ts.URL+"/ui/session", "application/json",
		strings.NewReader(`{"access_key":"`+gatewaytest.AccessKey+`","secret_key":"`+gatewaytest.SecretKey+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); resp.StatusCode != http.StatusOK || !strings.Contains(sc, "; Secure") {
		t.Fatalf("sign in over TLS: %d, Set-Cookie %q; want Secure", resp.StatusCode, sc)
	}
}
