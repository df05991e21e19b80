package test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// testOnlyModules may be imported by tests and test-support packages only:
// production code talks S3 with one client library, minio-go (blob/s3, the
// CLI's uploads, the pipeline worker); aws-sdk-go-v2 stays a test client.
var testOnlyModules = []string{
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/smithy-go",
}

// goList runs `go list args...` at the module root and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go command to list packages with: %v", err)
		}
	}
	cmd := exec.Command(goBin, append([]string{"list"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestProductionUsesOneS3Client asserts that no production package (one
// that is not under test/ and does not import "testing", which leaves out
// conformance suites such as blob/blobtest and pipelines/runnertest)
// depends, even indirectly, on a test-only module; cmd/tusk is listed
// explicitly, as the binary that ships.
func TestProductionUsesOneS3Client(t *testing.T) {
	const module = "github.com/tusk-data/tusk"
	var prod []string
	for _, line := range goList(t, "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == module+"/test" || strings.HasPrefix(f[0], module+"/test/") {
			continue
		}
		if !slices.Contains(f[1:], "testing") {
			prod = append(prod, f[0])
		}
	}
	if !slices.Contains(prod, module+"/cmd/tusk") {
		t.Fatalf("cmd/tusk is not among the production packages %v", prod)
	}
	// The import graph of everything production code depends on.
	graph := map[string][]string{}
	for _, line := range goList(t, append([]string{"-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`}, prod...)...) {
		if f := strings.Fields(line); len(f) > 0 {
			graph[f[0]] = f[1:]
		}
	}
	if len(graph) < len(prod) {
		t.Fatalf("go list -deps listed %d packages for %d production packages", len(graph), len(prod))
	}
	var bad []string
	for pkg, imports := range graph {
		if testOnly(pkg) {
			continue
		}
		for _, imp := range imports {
			if testOnly(imp) {
				bad = append(bad, pkg+" imports "+imp)
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("production code depends on test-only S3 client modules %v (use minio-go):\n  %s",
			testOnlyModules, strings.Join(bad, "\n  "))
	}
}

func testOnly(pkg string) bool {
	for _, m := range testOnlyModules {
		if pkg == m || strings.HasPrefix(pkg, m+"/") {
			return true
		}
	}
	return false
}
