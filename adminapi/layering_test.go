package adminapi_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tusk-data/tusk/internal/golist"
)

const module = golist.Module

func tusk(paths []string) []string {
	var out []string
	for _, p := range paths {
		if golist.InModule(p) {
			out = append(out, p)
		}
	}
	return out
}

// TestLayering checks the rooms of issue 10: the admin API's wire types are
// a leaf the CLI can import without the server; the admin API and auth do
// not reach back into gateway, which only wires them.
func TestLayering(t *testing.T) {
	pkgs := golist.Map(t, nil, "./adminapi/...", "./auth/...", "./gateway/...")
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
// wire types: of cmd/tusk only the files that run a server (serve, its
// test, worker) import gateway.
func TestCLIImports(t *testing.T) {
	files, err := filepath.Glob("../cmd/tusk/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cmd/tusk sources: %v", err)
	}
	serving := map[string]bool{"serve.go": true, "serve_test.go": true, "worker.go": true}
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
