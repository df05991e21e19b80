package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
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
