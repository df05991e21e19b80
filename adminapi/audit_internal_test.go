package adminapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

// TestAuditRoutesClassified: every mutating route is audited or exempt
// with a reason, and every entry of the two tables is a route, so a new
// admin call cannot escape the audit log unnoticed.
func TestAuditRoutesClassified(t *testing.T) {
	a := &API{router: mux.NewRouter().UseEncodedPath()}
	a.routes()
	seen := map[string]bool{}
	err := a.router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := r.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := r.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			if m == http.MethodGet || m == http.MethodHead {
				continue
			}
			k := m + " " + strings.TrimPrefix(path, "/api/v1")
			seen[k] = true
			_, audited := auditRoutes[k]
			why, exempt := auditExempt[k]
			switch {
			case audited && exempt:
				t.Errorf("%s is both audited and exempt", k)
			case !audited && !exempt:
				t.Errorf("%s is neither audited nor exempt: add it to auditRoutes (or auditExempt, saying why)", k)
			case exempt && why == "":
				t.Errorf("%s is exempt without a reason", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range auditRoutes {
		if !seen[k] {
			t.Errorf("auditRoutes names %s, which is no route", k)
		}
	}
	for k := range auditExempt {
		if !seen[k] {
			t.Errorf("auditExempt names %s, which is no route", k)
		}
	}
}
