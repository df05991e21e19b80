package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportCLI runs the real `tusk import` against `tusk serve
// --import-root`: a tree of files lands as one commit under the prefix,
// `tusk cat` reads it back, and refusals (outside the root, a non-admin
// user) exit 1 with the server's error.
func TestImportCLI(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "photos")
	for p, c := range map[string]string{"cats/1.jpg": "meow", "cats/2.jpg": "purr", "dogs/1.jpg": "woof"} {
		full := filepath.Join(src, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startServerWith(t, "", []string{"TUSK_ACCESS_KEY=" + adminKey, "TUSK_SECRET_KEY=" + adminSecret}, "--import-root", root)
	a := s.admin()
	a.ok("repo", "create", "pics")
	var res struct {
		Commit string `json:"commit"`
		Files  int    `json:"files"`
		Bytes  int    `json:"bytes"`
		Linked int    `json:"linked"`
	}
	a.json(&res, "import", src, "pics@main:raw", "-m", "first import", "--link")
	if res.Files != 3 || res.Bytes != 12 || res.Linked != 3 || len(res.Commit) < 32 {
		t.Fatalf("import result %+v", res)
	}
	r := a.ok("import", "file://"+filepath.Join(src, "dogs", "1.jpg"), "pics:more/")
	if !strings.HasPrefix(r.stdout, "Imported 1 file (") || !strings.Contains(r.stdout, " into pics@main as commit ") {
		t.Fatalf("human output: %q", r.stdout)
	}
	if got := a.ok("cat", "pics:raw/cats/2.jpg").stdout; got != "purr" {
		t.Fatalf("cat raw/cats/2.jpg = %q", got)
	}
	if got := a.ok("cat", "pics:more/1.jpg").stdout; got != "woof" {
		t.Fatalf("cat more/1.jpg = %q", got)
	}
	log := a.ok("log", "pics").stdout
	if !strings.Contains(log, "first import") || strings.Count(log, "\n") != 4 { // header + 2 imports + create
		t.Fatalf("log:\n%s", log)
	}
	if e := a.apiError("import", t.TempDir(), "pics"); e.Code != "AccessDenied" || !strings.Contains(e.Message, "import root") {
		t.Fatalf("outside the root: %+v", e)
	}
	a.ok("user", "create", "bob")
	var key struct {
		AccessKey string `json:"access_key"`
		Secret    string `json:"secret_key"`
	}
	a.json(&key, "key", "create", "bob")
	a.ok("perm", "grant", "bob", "pics", "admin")
	if e := s.as(key.AccessKey, key.Secret).apiError("import", src, "pics"); e.Code != "AccessDenied" || !strings.Contains(e.Message, "admin users") {
		t.Fatalf("non-admin: %+v", e)
	}
}
