package s3api

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
	"github.com/tusk-data/tusk/s3api/sigv4"
)

// headerVerifier is a TEST DOUBLE Verifier for raw httptest requests:
// "X-Test-User: NAME" authenticates as NAME, no header is anonymous, and
// "X-Test-User: bad-signature" fails like a wrong signature. The body is
// passed through; trailers come from the HTTP request's own trailers.
type headerVerifier struct{}

func (headerVerifier) Verify(r *http.Request) (*sigv4.Result, error) {
	res := &sigv4.Result{Body: r.Body, DecodedLength: r.ContentLength, Trailer: func() http.Header { return r.Trailer }}
	switch u := r.Header.Get("X-Test-User"); u {
	case "":
		res.Anonymous = true
	case "bad-signature":
		return nil, s3code.New("test.Verify", errs.Permission, "SignatureDoesNotMatch", "signature mismatch")
	default:
		res.User, res.AccessKey = u, "AK-"+u
	}
	return res, nil
}

type testEnv struct {
	t    *testing.T
	be   *fakeBackend
	auth *fakeAuth
	h    http.Handler
}

const testDomain = "s3.test"

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	be, auth := newFakeBackend(), newFakeAuth()
	be.auth = auth
	var n atomic.Int64
	h := New(Config{
		Backend: be, Auth: auth, Verifier: headerVerifier{}, Domain: testDomain, Region: "us-east-1",
		RequestID: func() string { return fmt.Sprintf("REQ%04d", n.Add(1)) },
	})
	return &testEnv{t: t, be: be, auth: auth, h: h}
}

// req is a raw request; hdr holds "Name: value" strings. User "admin"
// unless an X-Test-User header is given ("X-Test-User:" = anonymous).
func (e *testEnv) req(method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("X-Test-User", "admin")
	for _, h := range hdr {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			e.t.Fatalf("bad header %q", h)
		}
		v = strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Host"):
			r.Host = v
		case strings.EqualFold(k, "X-Test-User") && v == "":
			r.Header.Del("X-Test-User")
		default:
			r.Header.Set(k, v)
		}
	}
	if body == "" && method != http.MethodPut && method != http.MethodPost {
		r.ContentLength = 0
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// keyPath escapes a key for a request path exactly once, keeping '/'.
func keyPath(key string) string { return urlEncodeKey(key) }

func (e *testEnv) mkRepo(name string) {
	e.t.Helper()
	if w := e.req("PUT", "/"+name, ""); w.Code != 200 {
		e.t.Fatalf("create %s: %d %s", name, w.Code, w.Body)
	}
}

func (e *testEnv) put(bucket, key, body string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	w := e.req("PUT", "/"+bucket+"/"+keyPath(key), body, hdr...)
	if w.Code != 200 {
		e.t.Fatalf("put %s/%s: %d %s", bucket, key, w.Code, w.Body)
	}
	return w
}

// errorOf parses an S3 error document and checks its shape: Code, Message,
// Resource, RequestId equal to x-amz-request-id.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) errorXML {
	t.Helper()
	var e errorXML
	body := w.Body.String()
	if !strings.HasPrefix(body, "<?xml") {
		t.Fatalf("error body without XML declaration: %q", body)
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if e.Code == "" || e.Message == "" || e.Resource == "" || e.RequestID == "" {
		t.Fatalf("error document misses a field: %q", body)
	}
	if got := w.Header().Get("X-Amz-Request-Id"); got != e.RequestID {
		t.Fatalf("x-amz-request-id %q != RequestId %q", got, e.RequestID)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/xml" {
		t.Fatalf("error Content-Type %q", ct)
	}
	return e
}

func expectError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d (%s): %s", w.Code, status, code, w.Body)
	}
	if e := errorOf(t, w); e.Code != code {
		t.Fatalf("code %q, want %q: %s", e.Code, code, w.Body)
	}
}

func decodeXML(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if err := xml.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", w.Body, err)
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
