package s3api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/internal/errs"
)

// panicBackend and fullBackend are TEST DOUBLES that break on purpose.
type panicBackend struct{ *fakeBackend }

func (panicBackend) ListRepos(context.Context, Caller) ([]RepoInfo, error) {
	panic("boom: secret detail")
}

func TestPanicIsInternalError(t *testing.T) {
	var logs bytes.Buffer
	be := newFakeBackend()
	h := New(Config{Backend: panicBackend{be}, Auth: newFakeAuth(), Verifier: headerVerifier{}, Log: zerolog.New(&logs)})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Test-User", "admin")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	expectError(t, w, 500, "InternalError")
	if strings.Contains(w.Body.String(), "secret detail") {
		t.Fatalf("internal detail leaked: %s", w.Body)
	}
	if !strings.Contains(logs.String(), "secret detail") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

type noSpaceBackend struct{ *fakeBackend }

func (noSpaceBackend) CreateBucket(context.Context, Caller, string, string, BucketOptions) error {
	return errs.E("meta.Commit", errs.NoSpace, "the disk holding /var/tusk is below its free-space floor (1 GiB)")
}

func TestNoSpace(t *testing.T) {
	h := New(Config{Backend: noSpaceBackend{newFakeBackend()}, Auth: newFakeAuth(), Verifier: headerVerifier{}})
	r := httptest.NewRequest("PUT", "/repo", nil)
	r.Header.Set("X-Test-User", "admin")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	expectError(t, w, 507, "InsufficientStorage")
	if !strings.Contains(errorOf(t, w).Message, "free-space floor") {
		t.Fatalf("%s", w.Body)
	}
}

func TestRequestLog(t *testing.T) {
	var logs bytes.Buffer
	h := New(Config{Backend: newFakeBackend(), Auth: newFakeAuth(), Verifier: headerVerifier{},
		Log: zerolog.New(&logs), RequestID: func() string { return "RID1" }})
	r := httptest.NewRequest("GET", "/nosuch/k", nil)
	r.Header.Set("X-Test-User", "admin")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("X-Amz-Request-Id") != "RID1" {
		t.Fatalf("%v", w.Header())
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("%q: %v", logs.String(), err)
	}
	if line["request_id"] != "RID1" || line["status"] != float64(404) || line["code"] != "NoSuchBucket" ||
		line["bucket"] != "nosuch" || line["key"] != "k" || line["user"] != "admin" {
		t.Fatalf("%v", line)
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New without a Verifier did not panic")
		}
	}()
	New(Config{Backend: newFakeBackend(), Auth: newFakeAuth()})
}
