package pipelines_test

import (
	"path"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

// FuzzGlob compiles any glob and matches any key against it (never a
// panic), and checks the matcher's contracts:
//   - a key's datum path contains the key, and the glob's groups match
//     that path;
//   - for globs made only of literal letters, '*' and '?' (no "**"), a
//     key's datum is its first n segments exactly when path.Match (an
//     independent matcher with the same meaning for those characters)
//     accepts them.
//
// Its corpus (testdata/fuzz/FuzzGlob and the seeds below) runs in make
// test; `go test -fuzz FuzzGlob ./pipelines/` explores further.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"/", "a"}, {"/*", "cats/1.jpg"}, {"/*/*", "a"}, {"/**", "a/b/c"}, {"/**/*.jpg", "a/b.jpg"},
		{"/cats/*", "cats/x/y"}, {"/{a,b}/(*)", "a/x"}, {"/[!a]?", "bc"}, {"/[^]a]", "b"},
		{"/\\*", "*"}, {"/[", "x"}, {"/(*)-(*).csv", "2024-q1.csv"}, {"/a?c", "a/c"},
		{"/*", "a//b"}, {"/*/*", "a//b"}, {"/é*", "éa"}, {"/a**", "a"}, {"/a/", "a"},
		{"/(a", "a"}, {"/a)", "a"}, {"/{a", "a"}, {"/a}", "a"}, {"/[z-a]", "b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, glob, key string) {
		g, err := pipelines.CompileGlob(glob)
		if err != nil {
			return
		}
		p, ok := g.Datum(key)
		if ok {
			if !g.Contains(p, key) {
				t.Fatalf("glob %q: key %q is in datum %q, which does not contain it", glob, key, p)
			}
			if !g.Whole() && g.Captures(p) == nil {
				t.Fatalf("glob %q: datum %q of key %q does not match the glob", glob, p, key)
			}
		}
		if !simpleGlob(glob) || g.Whole() {
			return
		}
		pat := strings.TrimPrefix(glob, "/")
		n := strings.Count(pat, "/") + 1
		segs := strings.Split(key, "/")
		want := false
		var wantPath string
		if len(segs) >= n {
			wantPath = strings.Join(segs[:n], "/")
			m, err := path.Match(pat, wantPath)
			want = err == nil && m
		}
		if ok != want || (ok && p != wantPath) {
			t.Fatalf("glob %q, key %q: Datum = %q, %v; path.Match on the first %d segments: %q, %v", glob, key, p, ok, n, wantPath, want)
		}
	})
}

// simpleGlob reports whether glob uses only letters, digits, '.', '-',
// '/', '*' and '?' and no "**" segment: characters path.Match reads the
// same way.
func simpleGlob(glob string) bool {
	if strings.Contains(glob, "**") {
		return false
	}
	for _, c := range glob {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '/', c == '*', c == '?':
		default:
			return false
		}
	}
	return true
}
