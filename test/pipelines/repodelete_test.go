package pipelines

import (
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/pipelines"
)

// TestRepoDeleteGuardsPipelineInputs: deleting a repo that pipelines read
// is refused naming them; --force deletes it and stops them (their running
// job killed, nothing queued after, state "stopped"); an update restarts
// one. A pipeline's output repo cannot be deleted, force or not.
func TestRepoDeleteGuardsPipelineInputs(t *testing.T) {
	e := start(t)
	e.mkRepo("feed", "side", "other")
	e.put("feed", "a.txt", []byte("a"))
	e.put("side", "s.txt", []byte("s"))
	e.create(`name: fast
input:
  cross:
    - pfs: {repo: feed, glob: "/*"}
    - pfs: {repo: side, glob: "/"}
transform: {cmd: [sh, -c, 'cp feed/* out/']}
`)
	wantJob(t, e.wait()["fast"], pipelines.JobSuccess, 1, 1, 0)
	e.create(`name: slow
input: {pfs: {repo: feed, glob: "/*"}}
transform: {cmd: [sleep, "600"]}
`)
	running := e.waitJob("slow", "running", time.Minute, func(j *pipelines.Job) bool { return j.State == pipelines.JobRunning })

	// Refused, naming both pipelines; nothing changed.
	out := e.tusk(1, "repo", "delete", "feed")
	if !strings.Contains(out, "pipelines fast, slow read it") || !strings.Contains(out, "--force") {
		t.Errorf("tusk repo delete feed said:\n%s", out)
	}
	if got := e.keys("feed"); len(got) != 1 {
		t.Fatalf("feed after the refusal: %v", got)
	}
	// A repo no pipeline reads goes as before.
	e.tusk(0, "repo", "delete", "other")
	// The output repo: refused even with --force.
	if out := e.tusk(1, "repo", "delete", "--force", "fast"); !strings.Contains(out, "output of pipeline fast") {
		t.Errorf("tusk repo delete --force fast (an output repo) said:\n%s", out)
	}

	// --force: deleted, both pipelines stopped, and the answer says so.
	var res apiv1.RepoDeleted
	e.tuskJSON(&res, "repo", "delete", "--force", "feed")
	if res.Deleted != "feed" || strings.Join(res.Stopped, ",") != "fast,slow" {
		t.Fatalf("repo delete --force feed answered %+v", res)
	}
	killed := e.waitJob("slow", "killed", time.Minute, func(j *pipelines.Job) bool { return j.ID == running.ID && j.Done() })
	if killed.State != pipelines.JobKilled || !strings.Contains(killed.Reason, "input repo feed was deleted") {
		t.Errorf("slow's running job ended %s: %s", killed.State, killed.Reason)
	}
	e.wait()
	for _, name := range []string{"fast", "slow"} {
		var pi pipev1.PipelineInfo
		e.tuskJSON(&pi, "pipeline", "inspect", name)
		if pi.State != "stopped" || pi.Stopped != pipelines.StoppedInputDeleted("feed") {
			t.Errorf("pipeline %s: state %q, stopped %q", name, pi.State, pi.Stopped)
		}
	}
	if txt := e.tusk(0, "pipeline", "inspect", "slow"); !strings.Contains(txt, "Stopped: input repo feed was deleted") {
		t.Errorf("tusk pipeline inspect slow:\n%s", txt)
	}
	// A commit on its other input queues no job.
	before := len(e.jobs("fast"))
	e.put("side", "t.txt", []byte("t"))
	e.wait()
	if n := len(e.jobs("fast")); n != before {
		t.Errorf("a stopped pipeline queued %d jobs", n-before)
	}
	if got := e.metrics()[`tusk_pipeline_stopped{pipeline="fast"}`]; got != "1" {
		t.Errorf("tusk_pipeline_stopped{fast} = %q", got)
	}
	// Its outputs stay; their provenance names the deleted repo as missing.
	if got := e.keys("fast"); len(got) != 1 {
		t.Errorf("fast's outputs after the stop: %v", got)
	}
	var pi pipev1.ProvInfo
	e.tuskJSON(&pi, "prov", "fast:a.txt")
	missing := false
	for _, n := range pi.Root.Inputs {
		missing = missing || n.Repo == "feed" && n.Missing != ""
	}
	if !missing {
		t.Errorf("fast:a.txt's provenance does not show feed as missing: %+v", pi.Root.Inputs)
	}

	// Re-created and updated: fast runs again.
	e.mkRepo("feed")
	e.put("feed", "b.txt", []byte("b"))
	e.tusk(0, "pipeline", "update", "-f", e.spec(`name: fast
input:
  cross:
    - pfs: {repo: feed, glob: "/*"}
    - pfs: {repo: side, glob: "/"}
transform: {cmd: [sh, -c, 'cp feed/* out/']}
`))
	j := e.wait()["fast"]
	if j.State != pipelines.JobSuccess {
		t.Fatalf("fast after the update: job %s %s (%s)", j.ID, j.State, j.Reason)
	}
	var info pipev1.PipelineInfo
	e.tuskJSON(&info, "pipeline", "inspect", "fast")
	if info.State == "stopped" || info.Stopped != "" {
		t.Errorf("fast after the update: state %q, stopped %q", info.State, info.Stopped)
	}
}
