// Package golist runs `go list` for tests that check the module's layering
// (which package may import which). It is test support: it imports testing
// and fails the calling test when the go tool cannot answer.
package golist

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Module is this module's path.
const Module = "github.com/tusk-data/tusk"

// Package is what go list says of one package.
type Package struct {
	ImportPath   string
	Imports      []string // direct imports
	TestImports  []string // of its _test.go files in the package
	XTestImports []string // of its external _test package
	Deps         []string // every package it depends on, transitively (not its tests')
}

// AllImports returns p's imports, its tests' included.
func (p Package) AllImports() []string {
	return append(append(append([]string(nil), p.Imports...), p.TestImports...), p.XTestImports...)
}

// InModule reports whether path is a package of this module.
func InModule(path string) bool { return path == Module || strings.HasPrefix(path, Module+"/") }

// List runs `go list -json [flags] patterns` in the module's root directory
// (patterns are relative to it, e.g. "./..."), in go list's order. flags
// may add for example "-deps". The test fails when the go tool is missing
// or go list fails.
func List(t testing.TB, flags []string, patterns ...string) []Package {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("golist: no go tool to list packages with: %v", err)
		}
	}
	mod, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(mod)) == "" || strings.TrimSpace(string(mod)) == "/dev/null" {
		t.Fatalf("golist: not inside the module (go env GOMOD: %q, %v)", mod, err)
	}
	args := append(append([]string{"list", "-json"}, flags...), patterns...)
	cmd := exec.Command(gobin, args...)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		msg := ""
		if errors.As(err, &ee) {
			msg = string(ee.Stderr)
		}
		t.Fatalf("golist: go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	var pkgs []Package
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p Package
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("golist: decoding go list's answer: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// Map is List keyed by import path.
func Map(t testing.TB, flags []string, patterns ...string) map[string]Package {
	t.Helper()
	m := map[string]Package{}
	for _, p := range List(t, flags, patterns...) {
		m[p.ImportPath] = p
	}
	return m
}
