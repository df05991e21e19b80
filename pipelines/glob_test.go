package pipelines_test

import (
	"reflect"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

func TestGlobDatums(t *testing.T) {
	keys := []string{"a.png", "b.png", "cats/1.jpg", "cats/2.jpg", "cats/x/y.jpg", "dogs/1.jpg", "readme"}
	for _, c := range []struct {
		glob string
		want map[string]string // key -> datum ("-" none)
	}{
		{"/", map[string]string{"a.png": "", "cats/x/y.jpg": "", "readme": ""}},
		{"/*", map[string]string{"a.png": "a.png", "cats/1.jpg": "cats", "cats/x/y.jpg": "cats", "readme": "readme"}},
		{"/*/*", map[string]string{"a.png": "-", "cats/1.jpg": "cats/1.jpg", "cats/x/y.jpg": "cats/x", "dogs/1.jpg": "dogs/1.jpg"}},
		{"/**", map[string]string{"a.png": "a.png", "cats/x/y.jpg": "cats/x/y.jpg", "readme": "readme"}},
		{"/cats/*", map[string]string{"a.png": "-", "cats/1.jpg": "cats/1.jpg", "dogs/1.jpg": "-"}},
		{"/*.png", map[string]string{"a.png": "a.png", "readme": "-", "cats/1.jpg": "-"}},
		{"/**/*.jpg", map[string]string{"cats/1.jpg": "cats/1.jpg", "cats/x/y.jpg": "cats/x/y.jpg", "a.png": "-"}},
		{"/[ab].png", map[string]string{"a.png": "a.png", "b.png": "b.png"}},
		{"/[!a].png", map[string]string{"a.png": "-", "b.png": "b.png"}},
		{"/{cats,dogs}/?.jpg", map[string]string{"cats/1.jpg": "cats/1.jpg", "dogs/1.jpg": "dogs/1.jpg", "cats/x/y.jpg": "-"}},
	} {
		t.Run(c.glob, func(t *testing.T) {
			g, err := pipelines.CompileGlob(c.glob)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				want, ok := c.want[k]
				if !ok {
					continue
				}
				got, match := g.Datum(k)
				if !match {
					got = "-"
				}
				if got != want {
					t.Errorf("Datum(%q) = %q, want %q", k, got, want)
				}
				if match && !g.Contains(got, k) {
					t.Errorf("Contains(%q, %q) = false", got, k)
				}
			}
		})
	}
}

func TestGlobCaptures(t *testing.T) {
	for _, c := range []struct {
		glob, path, tmpl, want string
	}{
		{"/(*).txt", "abc.txt", "$1", "abc"},
		{"/(*)-(*).csv", "2024-q1.csv", "$2/$1", "q1/2024"},
		{"/(*)/*", "cats/1.jpg", "$1", "cats"},
	} {
		g, err := pipelines.CompileGlob(c.glob)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := g.Datum(c.path)
		if !ok {
			t.Fatalf("%s: %q matches no datum", c.glob, c.path)
		}
		if got := pipelines.Expand(c.tmpl, g.Captures(p)); got != c.want {
			t.Errorf("%s on %q: %s = %q, want %q", c.glob, c.path, c.tmpl, got, c.want)
		}
	}
	if g, _ := pipelines.CompileGlob("/*"); !reflect.DeepEqual(g.Captures("x"), []string{}) {
		t.Errorf("no groups: %q", g.Captures("x"))
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"cats/1.jpg":    "cats/1.jpg",
		"a b,c:d@e%":    "a%20b%2Cc%3Ad%40e%25",
		"é/ü":           "%C3%A9/%C3%BC",
		"x~y_z-w.1":     "x~y_z-w.1",
		"semi;colon&eq": "semi%3Bcolon%26eq",
	} {
		if got := pipelines.PercentEncode(in); got != want {
			t.Errorf("PercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
