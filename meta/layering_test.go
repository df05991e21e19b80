package meta

import (
	"strings"
	"testing"

	"github.com/tusk-data/tusk/internal/golist"
)

// TestBadgerOnlyInMeta asserts that Badger stays inside meta: only
// meta/kv/badgerkv imports it, in its code or its tests, across the module.
func TestBadgerOnlyInMeta(t *testing.T) {
	const allowed = "github.com/tusk-data/tusk/meta/kv/badgerkv"
	pkgs := golist.List(t, nil, "./...")
	for _, p := range pkgs {
		for _, imp := range p.AllImports() {
			if strings.HasPrefix(imp, "github.com/dgraph-io/badger") && p.ImportPath != allowed {
				t.Errorf("%s imports %s: Badger belongs to %s (use meta.Records and meta/kv)", p.ImportPath, imp, allowed)
			}
		}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list saw only %d packages", len(pkgs))
	}
}
