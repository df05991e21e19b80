package meta

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBadgerOnlyInMeta asserts that Badger stays inside meta: only
// meta/kv/badgerkv imports it, in its code or its tests, across the module.
func TestBadgerOnlyInMeta(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-f",
		`{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
	cmd.Dir = ".." // the module root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const allowed = "github.com/tusk-data/tusk/meta/kv/badgerkv"
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkgs++
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, "github.com/dgraph-io/badger") && f[0] != allowed {
				t.Errorf("%s imports %s: Badger belongs to %s (use meta.Records and meta/kv)", f[0], imp, allowed)
			}
		}
	}
	if pkgs < 10 {
		t.Fatalf("go list saw only %d packages:\n%s", pkgs, out)
	}
}
