package worker

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

func TestStagePaths(t *testing.T) {
	datum := func(keys ...string) pipelines.DatumTask {
		in := pipelines.DatumInput{Name: "in", Repo: "repo", Commit: "c"}
		for _, k := range keys {
			in.Files = append(in.Files, pipelines.DatumFile{Key: k})
		}
		return pipelines.DatumTask{ID: "d", Inputs: []pipelines.DatumInput{in}}
	}
	for _, c := range []struct {
		name string
		keys []string
		says string // "" = stages
	}{
		{"plain", []string{"a.txt", "dir/b.txt", "dir/c/d.txt"}, ""},
		{"dotdot", []string{"../x"}, "cannot be staged safely"},
		{"dotdot inside", []string{"a/../../x"}, "cannot be staged safely"},
		{"absolute", []string{"/etc/passwd"}, "cannot be staged safely"},
		{"double slash", []string{"a//b"}, "cannot be staged safely"},
		{"trailing slash", []string{"dir/"}, "cannot be staged safely"},
		{"dot", []string{"./a"}, "cannot be staged safely"},
		{"file then dir", []string{"a", "a/b"}, "collide"},
		{"dir then file", []string{"a/b", "a"}, "collide"},
		{"deep", []string{"x/y/z", "x/y"}, "collide"},
	} {
		t.Run(c.name, func(t *testing.T) {
			paths, err := stagePaths("/base/pfs", datum(c.keys...))
			if c.says == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range c.keys {
					p := paths["in\x00"+k]
					if !strings.HasPrefix(p, "/base/pfs/in/") || filepath.Clean(p) != p {
						t.Errorf("%q staged at %q", k, p)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %v, want an error saying %q", err, c.says)
			}
		})
	}
}

func TestLogBufferKeepsTheTail(t *testing.T) {
	b := &logBuffer{max: 10}
	for i := 0; i < 100; i++ {
		b.Write([]byte("0123456789"))
	}
	b.Write([]byte("end"))
	if s := b.String(); len(s) != 10 || !strings.HasSuffix(s, "end") || b.total != 1003 {
		t.Errorf("tail %q total %d", s, b.total)
	}
}
