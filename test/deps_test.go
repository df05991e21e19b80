package test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/internal/golist"
)

// testOnlyModules may be imported by tests and test-support packages only:
// production code talks S3 with one client library, minio-go (blob/s3, the
// CLI's uploads, the pipeline worker); aws-sdk-go-v2 stays a test client.
var testOnlyModules = []string{
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/smithy-go",
	// the console's browser test drives Chromium with chromedp
	"github.com/chromedp/chromedp",
	"github.com/chromedp/cdproto",
}

// TestProductionUsesOneS3Client asserts that no production package (one
// that is not under test/ and does not import "testing", which leaves out
// conformance suites such as blob/blobtest and pipelines/runnertest)
// depends, even indirectly, on a test-only module; cmd/tusk is listed
// explicitly, as the binary that ships.
func TestProductionUsesOneS3Client(t *testing.T) {
	const module = golist.Module
	var prod []string
	for _, p := range golist.List(t, nil, "./...") {
		if p.ImportPath == module+"/test" || strings.HasPrefix(p.ImportPath, module+"/test/") {
			continue
		}
		if !slices.Contains(p.Imports, "testing") {
			prod = append(prod, p.ImportPath)
		}
	}
	if !slices.Contains(prod, module+"/cmd/tusk") {
		t.Fatalf("cmd/tusk is not among the production packages %v", prod)
	}
	// The import graph of everything production code depends on.
	graph := map[string][]string{}
	for _, p := range golist.List(t, []string{"-deps"}, prod...) {
		graph[p.ImportPath] = p.Imports
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
