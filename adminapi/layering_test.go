package adminapi_test

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tusk-data/tusk"

// listed is what go list says of a package.
type listed struct {
	ImportPath string
	Imports    []string // direct imports
	Deps       []string // every package it depends on, transitively
}

// goList runs go list -deps=false -json on patterns.
func goList(t *testing.T, patterns ...string) map[string]listed {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the layering test needs the go tool on PATH: %v", err)
	}
	cmd := exec.Command(gobin, append([]string{"list", "-json"}, patterns...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", patterns, err)
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func tusk(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, p)
		}
	}
	return out
}

// TestLayering checks the rooms of issue 10: the admin API's wire types are
// a leaf the CLI can import without the server; the admin API and auth do
// not reach back into gateway, which only wires them.
func TestLayering(t *testing.T) {
	pkgs := goList(t, "./adminapi/...", "./auth/...", "./gateway/...")
	tests := []struct {
		pkg string
		// allowed lists the only Tusk packages pkg may depend on
		// (transitively); nil: no limit but forbidden.
		allowed   []string
		forbidden []string
	}{
		{pkg: "adminapi/apiv1", allowed: []string{}},
		{pkg: "adminapi/pipev1", forbidden: []string{"gateway", "adminapi", "auth", "s3api"}},
		{pkg: "adminapi", forbidden: []string{"gateway"}},
		{pkg: "auth", forbidden: []string{"gateway", "adminapi"}},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			p, ok := pkgs[module+"/"+tc.pkg]
			if !ok {
				t.Fatalf("go list does not show %s", tc.pkg)
			}
			deps := tusk(p.Deps)
			if tc.allowed != nil {
			dep:
				for _, d := range deps {
					for _, a := range tc.allowed {
						if d == module+"/"+a {
							continue dep
						}
					}
					t.Errorf("%s depends on %s; it may depend on %v only", tc.pkg, d, tc.allowed)
				}
			}
			for _, d := range deps {
				for _, f := range tc.forbidden {
					if d == module+"/"+f {
						t.Errorf("%s depends on %s", tc.pkg, d)
					}
				}
			}
		})
	}
	// gateway wires the admin API: it imports adminapi, not the other way.
	gw := pkgs[module+"/gateway"]
	if !contains(gw.Imports, module+"/adminapi") {
		t.Errorf("gateway does not import adminapi; who wires the admin API?")
	}
}

// TestCLIImports checks that the CLI speaks to the admin API through its
// wire types: of cmd/tusk only the files that run a server (serve, worker)
// import gateway.
func TestCLIImports(t *testing.T) {
	files, err := filepath.Glob("../cmd/tusk/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cmd/tusk sources: %v", err)
	}
	serving := map[string]bool{"serve.go": true, "worker.go": true}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if path == module+"/gateway" && !serving[filepath.Base(f)] {
				t.Errorf("%s imports gateway; the CLI uses adminapi/apiv1 (and pipev1, auth)", filepath.Base(f))
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
