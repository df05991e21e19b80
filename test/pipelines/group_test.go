package pipelines

import (
	"strings"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

// TestGroupByCaptureGroup: a group on "$1" gives one datum per directory
// holding all its files; a new file re-runs only its directory's datum.
func TestGroupByCaptureGroup(t *testing.T) {
	e := start(t)
	e.mkRepo("logs")
	e.put("logs", "web/1.log", []byte("w1\n"))
	e.put("logs", "web/2.log", []byte("w2\n"))
	e.put("logs", "db/1.log", []byte("d1\n"))
	e.create(`name: merged
input:
  group:
    - pfs: {repo: logs, glob: "/(*)/*", group_by: "$1"}
transform:
  cmd: [sh]
  stdin:
    - 'for d in "$TUSK_PFS"/logs/*; do cat "$d"/* > "$TUSK_PFS/out/$(basename "$d").txt"; done'
`)
	wantJob(t, e.wait()["merged"], pipelines.JobSuccess, 2, 2, 0)
	e.put("logs", "web/3.log", []byte("w3\n"))
	wantJob(t, e.wait()["merged"], pipelines.JobSuccess, 2, 1, 1)
	for k, want := range map[string]string{"web.txt": "w1\nw2\nw3\n", "db.txt": "d1\n"} {
		if b, out := e.get("merged", k); string(b) != want {
			t.Errorf("merged/%s = %q, want %q", k, b, want)
		} else if n := strings.Count(out.Metadata["tusk-inputs"], ",") + 1; k == "web.txt" && n != 3 {
			t.Errorf("merged/%s names %d inputs, want 3: %q", k, n, out.Metadata["tusk-inputs"])
		}
	}
}

// TestOuterJoinKeepsUnmatched: with outer_join on people, a person with no
// age still makes a datum; when the age arrives, that datum becomes the
// pair.
func TestOuterJoinKeepsUnmatched(t *testing.T) {
	e := start(t)
	e.mkRepo("people", "ages")
	for id, name := range map[string]string{"1": "ada", "2": "bob", "3": "cyd"} {
		e.put("people", id+".name", []byte(name))
	}
	e.put("ages", "1.age", []byte("36"))
	e.put("ages", "4.age", []byte("50"))
	e.create(`name: aged
input:
  join:
    - pfs: {repo: people, glob: "/(*).name", join_on: "$1", outer_join: true}
    - pfs: {repo: ages, glob: "/(*).age", join_on: "$1"}
transform:
  cmd: [sh]
  stdin:
    - 'for f in "$TUSK_PFS"/people/*.name; do id=$(basename "$f" .name); a=$(cat "$TUSK_PFS/ages/$id.age" 2>/dev/null || echo "?"); echo "$(cat "$f") is $a" > "$TUSK_PFS/out/$id.txt"; done'
`)
	wantJob(t, e.wait()["aged"], pipelines.JobSuccess, 3, 3, 0)
	if got := e.keys("aged"); strings.Join(got, " ") != "1.txt 2.txt 3.txt" {
		t.Errorf("aged holds %q, want 1.txt 2.txt 3.txt (4.age has no person and ages is not outer)", got)
	}
	e.put("ages", "3.age", []byte("29"))
	wantJob(t, e.wait()["aged"], pipelines.JobSuccess, 3, 1, 2)
	for id, want := range map[string]string{"1": "ada is 36\n", "2": "bob is ?\n", "3": "cyd is 29\n"} {
		if b, _ := e.get("aged", id+".txt"); string(b) != want {
			t.Errorf("aged/%s.txt = %q, want %q", id, b, want)
		}
	}
}
