package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/sigv4"
)

// keys is an in-memory Credentials: access key -> {secret, user}. (The
// gateway passes auth.Auth; test/console runs the console against it.)
type keys struct {
	mu sync.Mutex
	m  map[string][2]string
}

func (k *keys) Secret(_ context.Context, id string) (string, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[id]
	if !ok {
		return "", "", errs.E("test", errs.NotExist, "no key %s", id)
	}
	return v[0], v[1], nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t *testing.T, max int) (*Console, *clock, *keys) {
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	k := &keys{m: map[string][2]string{"K1": {"s1", "ann"}, "K2": {"s2", "ben"}}}
	return New(Config{Creds: k, Idle: time.Hour, TTL: 3 * time.Hour, MaxSessions: max, Now: clk.now}), clk, k
}

// signIn signs in through ServeHTTP and returns the cookie and token.
func signIn(t *testing.T, c *Console, ak, sk string) (*http.Cookie, string) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/ui/session", strings.NewReader(`{"access_key":"`+ak+`","secret_key":"`+sk+`"}`))
	r.Header.Set("Content-Type", "application/json")
	c.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("sign in %s: %d %s", ak, w.Code, w.Body)
	}
	var info SessionInfo
	json.Unmarshal(w.Body.Bytes(), &info)
	cks := w.Result().Cookies()
	if len(cks) != 1 {
		t.Fatalf("cookies %v", cks)
	}
	return cks[0], info.CSRF
}

func req(method string, ck *http.Cookie, csrf string) *http.Request {
	r := httptest.NewRequest(method, "/api/v1/repos", nil)
	if ck != nil {
		r.AddCookie(ck)
	}
	if csrf != "" {
		r.Header.Set(CSRFHeader, csrf)
	}
	return r
}

// TestSessionExpiry: a session ends after Idle without use and after TTL
// whatever its use.
func TestSessionExpiry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []time.Duration // uses at these gaps
		alive bool
	}{
		{"used within idle", []time.Duration{50 * time.Minute, 50 * time.Minute}, true},
		{"idle too long", []time.Duration{61 * time.Minute}, false},
		{"past TTL though used", []time.Duration{55 * time.Minute, 55 * time.Minute, 55 * time.Minute, 20 * time.Minute}, false},
		{"just before TTL", []time.Duration{55 * time.Minute, 55 * time.Minute, 55 * time.Minute, 10 * time.Minute}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, clk, _ := newTest(t, 0)
			ck, _ := signIn(t, c, "K1", "s1")
			var err error
			var ok bool
			for _, d := range tc.steps {
				clk.add(d)
				_, _, ok, err = c.Session(req("GET", ck, ""))
				if err != nil {
					break
				}
			}
			if tc.alive != (err == nil && ok) {
				t.Fatalf("alive=%v err=%v, want alive=%v", ok, err, tc.alive)
			}
			if !tc.alive && !errs.Is(err, errs.Permission) {
				t.Fatalf("dead session: %v, want a Permission error", err)
			}
		})
	}
}

// TestSessionRules: what Session answers for each kind of request.
func TestSessionRules(t *testing.T) {
	c, _, k := newTest(t, 0)
	ck, csrf := signIn(t, c, "K1", "s1")
	signedReq := req("POST", ck, "")
	signedReq.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=K2/...")
	presigned := httptest.NewRequest("PUT", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil)
	presigned.AddCookie(ck)
	for _, tc := range []struct {
		name   string
		r      *http.Request
		ok     bool
		errHas string
	}{
		{"no cookie", req("POST", nil, ""), false, ""},
		{"GET without token", req("GET", ck, ""), true, ""},
		{"HEAD without token", req("HEAD", ck, ""), true, ""},
		{"POST without token", req("POST", ck, ""), false, "CSRF"},
		{"DELETE wrong token", req("DELETE", ck, strings.Repeat("0", 64)), false, "CSRF"},
		{"PUT with token", req("PUT", ck, csrf), true, ""},
		{"signed request ignores the cookie", signedReq, false, ""},
		{"presigned request ignores the cookie", presigned, false, ""},
		{"unknown session", req("GET", &http.Cookie{Name: CookieName, Value: "feed"}, ""), false, "sign in again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, key, ok, err := c.Session(tc.r)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || !errs.Is(err, errs.Permission) {
					t.Fatalf("err %v, want a Permission error naming %q", err, tc.errHas)
				}
				return
			}
			if err != nil || ok != tc.ok || (ok && (user != "ann" || key != "K1")) {
				t.Fatalf("= %q %q %v %v, want ok=%v for ann", user, key, ok, err, tc.ok)
			}
		})
	}
	// The key revoked: the session ends.
	k.mu.Lock()
	delete(k.m, "K1")
	k.mu.Unlock()
	if _, _, _, err := c.Session(req("GET", ck, "")); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("after revoking the key: %v", err)
	}
	if c.Sessions() != 0 {
		t.Fatalf("%d sessions left after the key was revoked", c.Sessions())
	}
}

// TestSessionTableBounded: signing in past MaxSessions ends the session
// used least recently, never grows the table.
func TestSessionTableBounded(t *testing.T) {
	c, clk, _ := newTest(t, 3)
	var cks []*http.Cookie
	for i := 0; i < 3; i++ {
		ck, _ := signIn(t, c, "K1", "s1")
		cks = append(cks, ck)
		clk.add(time.Minute)
	}
	c.Session(req("GET", cks[0], "")) // the first is now the most recent
	clk.add(time.Minute)
	signIn(t, c, "K2", "s2")
	if n := c.Sessions(); n != 3 {
		t.Fatalf("%d sessions, want 3", n)
	}
	if _, _, ok, _ := c.Session(req("GET", cks[1], "")); ok {
		t.Fatal("the least recently used session survived")
	}
	for _, i := range []int{0, 2} {
		if _, _, ok, err := c.Session(req("GET", cks[i], "")); !ok {
			t.Fatalf("session %d ended: %v", i, err)
		}
	}
}

// TestVerifier: the S3 verifier turns a session into the user (the body
// read as it came) and hands everything else to the next verifier.
func TestVerifier(t *testing.T) {
	c, _, _ := newTest(t, 0)
	ck, csrf := signIn(t, c, "K2", "s2")
	next := nextVerifier{}
	v := c.Verifier(next)
	r := httptest.NewRequest("PUT", "/bucket/key", strings.NewReader("bytes"))
	r.AddCookie(ck)
	r.Header.Set(CSRFHeader, csrf)
	res, err := v.Verify(r)
	if err != nil || res.User != "ben" || res.AccessKey != "K2" || res.DecodedLength != 5 || res.Trailer() != nil {
		t.Fatalf("session PUT: %+v %v", res, err)
	}
	if b, _ := io.ReadAll(res.Body); string(b) != "bytes" {
		t.Fatalf("body %q", b)
	}
	if res, err := v.Verify(httptest.NewRequest("GET", "/bucket/key", nil)); err != nil || !res.Anonymous {
		t.Fatalf("no cookie: %+v %v, want the next verifier's answer", res, err)
	}
	r = httptest.NewRequest("DELETE", "/bucket/key", nil)
	r.AddCookie(ck)
	if _, err := v.Verify(r); err == nil || !errs.Is(err, errs.Permission) {
		t.Fatalf("DELETE without the token: %v", err)
	}
}

type nextVerifier struct{}

func (nextVerifier) Verify(r *http.Request) (*sigv4.Result, error) {
	return &sigv4.Result{Anonymous: true, Body: r.Body, DecodedLength: -1}, nil
}

// TestSignInThrottled: after MaxFailedSignIns wrong secrets for one key
// within the window, its sign-ins are refused (429), the right secret
// included, until the window passes; other keys are not affected.
func TestSignInThrottled(t *testing.T) {
	c, clk, _ := newTest(t, 0)
	try := func(ak, sk string) int {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/ui/session", strings.NewReader(`{"access_key":"`+ak+`","secret_key":"`+sk+`"}`))
		r.Header.Set("Content-Type", "application/json")
		c.ServeHTTP(w, r)
		return w.Code
	}
	for i := 0; i < MaxFailedSignIns; i++ {
		if st := try("K1", "wrong"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, st)
		}
		clk.add(time.Minute)
	}
	if st := try("K1", "s1"); st != http.StatusTooManyRequests {
		t.Fatalf("right secret after %d failures: %d, want 429", MaxFailedSignIns, st)
	}
	if st := try("K2", "s2"); st != http.StatusOK {
		t.Fatalf("another key: %d", st)
	}
	clk.add(FailedSignInWindow)
	if st := try("K1", "s1"); st != http.StatusOK {
		t.Fatalf("after the window: %d", st)
	}
}
