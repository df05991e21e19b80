package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// listeningLine is the "tusk listening" log line of a server's log.
func listeningLine(t *testing.T, s *server) map[string]any {
	t.Helper()
	f, err := os.Open(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil && l["message"] == "tusk listening" {
			return l
		}
	}
	t.Fatal("no tusk listening line in the log")
	return nil
}

// --min-free 0 turns the disk backend's free-space floor off (it used to
// fall back to the 256 MiB default); no flag keeps the default floor.
func TestServeMinFree(t *testing.T) {
	keys := []string{"TUSK_ACCESS_KEY=" + adminKey, "TUSK_SECRET_KEY=" + adminSecret}
	for _, tc := range []struct {
		name  string
		flags []string
		want  float64
	}{
		{"zero turns the floor off", []string{"--min-free", "0"}, 0},
		{"explicit floor", []string{"--min-free", "4096"}, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServerWith(t, "", keys, tc.flags...)
			if got := listeningLine(t, s)["min_free"]; got != tc.want {
				t.Fatalf("min_free in force = %v, want %v", got, tc.want)
			}
			s.admin().ok("repo", "create", "floor")
		})
	}
}

// A first start without keys writes the generated admin keys to a 0600 file
// in the data dir and names it on stdout; the secret never reaches the
// output (log capture keeps it). Sourcing the file gives working keys; a
// restart neither regenerates nor rewrites them.
func TestServeAdminCredentialsFile(t *testing.T) {
	t.Setenv("TUSK_ACCESS_KEY", "")
	t.Setenv("TUSK_SECRET_KEY", "")
	dir := t.TempDir()
	s := startServerWith(t, dir, nil)
	path := filepath.Join(dir, "admin-credentials")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no credentials file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
	// Source the file as the README says and read the keys back.
	out, err := exec.Command("sh", "-c", `. "$1" && printf '%s\n%s\n%s\n%s\n' "$TUSK_ACCESS_KEY" "$TUSK_SECRET_KEY" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"`, "sh", path).Output()
	if err != nil {
		t.Fatalf("sourcing %s: %v", path, err)
	}
	keys := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(keys) != 4 || keys[0] == "" || keys[1] == "" || keys[0] != keys[2] || keys[1] != keys[3] {
		t.Fatalf("credentials file gives %q", keys)
	}
	ak, sk := keys[0], keys[1]
	logText, _ := os.ReadFile(s.log)
	if strings.Contains(string(logText), sk) {
		t.Fatalf("the generated secret reached the server's output:\n%s", logText)
	}
	if !strings.Contains(string(logText), path) {
		t.Fatalf("the server's output does not name %s:\n%s", path, logText)
	}
	s.as(ak, sk).ok("repo", "create", "creds")
	if _, err := s.s3(ak, sk).ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
		t.Fatalf("S3 with the file's keys: %v", err)
	}

	// A restart keeps the admin's keys and writes no file.
	s.stop()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s = startServerWith(t, dir, nil)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a restart wrote %s again (%v)", path, err)
	}
	if logText, _ := os.ReadFile(s.log); strings.Contains(string(logText), "Created admin") {
		t.Fatalf("a restart created the admin again:\n%s", logText)
	}
	s.as(ak, sk).ok("repo", "list")

	// Keys given at first start: no file.
	dir2 := t.TempDir()
	startServerWith(t, dir2, []string{"TUSK_ACCESS_KEY=" + adminKey, "TUSK_SECRET_KEY=" + adminSecret}).admin().ok("repo", "list")
	if _, err := os.Stat(filepath.Join(dir2, "admin-credentials")); !os.IsNotExist(err) {
		t.Fatalf("keys given, yet a credentials file exists (%v)", err)
	}
}
