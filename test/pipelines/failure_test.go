package pipelines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/pipelines"
)

// startBackoff is start with failed jobs retried after backoff (doubling
// per attempt).
func startBackoff(t *testing.T, backoff time.Duration) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.cfg = gateway.Config{DataDir: e.dir, GCInterval: -1,
		Pipelines: gateway.PipelineConfig{WorkerCommand: []string{tuskBin, "worker"}, WorkDir: t.TempDir(), RetryBackoff: backoff}}
	e.srv = gatewaytest.Start(t, e.cfg)
	e.s3 = e.client(gatewaytest.AccessKey, gatewaytest.SecretKey)
	return e
}

// markerSpec is a pipeline whose command fails (exit 4) while the marker
// file is absent, and copies its datum otherwise.
func markerSpec(name, marker, extra string) string {
	return `name: ` + name + `
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  cmd: [sh]
  env: {MARKER: "` + marker + `"}
  stdin:
    - 'test -e "$MARKER" || { echo "no marker yet" >&2; exit 4; }'
    - 'cp "$TUSK_PFS"/inbox/* "$TUSK_PFS/out/"'
datum_tries: 1
` + extra
}

// TestFailedJobRetriedAndRestarted: through the gateway and the CLI, a job
// whose command fails while a marker file is absent is retried by itself
// until the marker exists (job list shows the attempts); with job_retries
// 0 nothing is retried (the pipeline is failing) and `tusk job restart`
// re-runs it.
func TestFailedJobRetriedAndRestarted(t *testing.T) {
	e := startBackoff(t, 300*time.Millisecond)
	e.mkRepo("inbox")
	e.put("inbox", "a.txt", []byte("A"))
	dir := t.TempDir()
	auto, manual := filepath.Join(dir, "auto"), filepath.Join(dir, "manual")
	e.create(markerSpec("retried", auto, "job_retries: 5\n"))
	e.create(markerSpec("restarted", manual, "job_retries: 0\n"))
	e.wait()
	// The first job of "retried" failed (its retries may have started).
	if all := e.jobs("retried"); all[len(all)-1].State != pipelines.JobFailure || all[len(all)-1].FailedDatums[0].ExitCode != 4 {
		t.Fatalf("retried: first job %s (%s)", all[len(all)-1].State, all[len(all)-1].Reason)
	}
	var list []pipev1.PipelineInfo
	e.tuskJSON(&list, "pipeline", "list")
	states := map[string]string{}
	for _, pi := range list {
		states[pi.Name] = pi.State
	}
	if states["restarted"] != "failing" {
		t.Errorf("pipeline states %v; want restarted failing (no retry left)", states)
	}
	// "retried" is retrying or, on a slow machine, already running its
	// retry; the marker makes the next attempt succeed.
	if err := os.WriteFile(auto, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	j := e.waitJob("retried", "succeeding", time.Minute, func(j *pipelines.Job) bool { return j.State == pipelines.JobSuccess })
	if j.Attempt < 2 || j.Cause != pipelines.CauseRetry || j.RetryOf == "" {
		t.Errorf("successful job: attempt %d cause %q retry_of %q; want an automatic retry", j.Attempt, j.Cause, j.RetryOf)
	}
	if b, _ := e.get("retried", "a.txt"); string(b) != "A" {
		t.Errorf("retried/a.txt = %q", b)
	}
	out := e.tusk(0, "job", "list", "-p", "retried")
	if !strings.Contains(out, "ATTEMPT") || !strings.Contains(out, "2 (retry)") {
		t.Errorf("tusk job list shows no attempt:\n%s", out)
	}

	// job_retries 0: nothing is retried; tusk job restart runs it now.
	failed := e.jobs("restarted")
	if len(failed) != 1 || failed[0].RetryAt != nil {
		t.Fatalf("restarted: %d jobs, retry at %v; want 1 job and no retry", len(failed), failed[0].RetryAt)
	}
	if err := os.WriteFile(manual, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Restarting takes admin on the pipeline (as updating it does).
	var ro struct {
		Key struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		} `json:"key"`
	}
	e.tuskJSON(&ro, "user", "create", "ro")
	e.tusk(0, "perm", "grant", "ro", "restarted", "read")
	if out, code := e.tuskAs(ro.Key.AccessKey, ro.Key.SecretKey, "job", "restart", failed[0].ID); code != 1 || !strings.Contains(strings.ToLower(out), "access denied") {
		t.Errorf("a reader restarts a job: exit %d\n%s", code, out)
	}
	out = e.tusk(0, "job", "restart", failed[0].ID[:12])
	if !strings.Contains(out, "Restarted job "+failed[0].ID) || !strings.Contains(out, "attempt 2") {
		t.Errorf("tusk job restart:\n%s", out)
	}
	wantJob(t, e.wait()["restarted"], pipelines.JobSuccess, 1, 1, 0)
	out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "job", "restart", failed[0].ID)
	if code == 0 || !strings.Contains(out, "not the newest job") {
		t.Errorf("restart of an older job: exit %d\n%s", code, out)
	}
}

// TestCommitPartialAndReprocessCLI: commit_partial commits the good datums
// and records the bad; `tusk pipeline update` of the description
// reprocesses nothing; --reprocess reprocesses every datum.
func TestCommitPartialAndReprocessCLI(t *testing.T) {
	e := startBackoff(t, time.Hour)
	e.mkRepo("inbox")
	e.put("inbox", "a.txt", []byte("A"))
	e.put("inbox", "b.txt", []byte("bad"))
	e.put("inbox", "c.txt", []byte("C"))
	spec := `name: partial
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  cmd: [sh]
  stdin:
    - 'if grep -q bad "$TUSK_PFS"/inbox/*; then echo "bad datum" >&2; exit 5; fi'
    - 'cp "$TUSK_PFS"/inbox/* "$TUSK_PFS/out/"'
datum_tries: 1
on_failure: commit_partial
`
	e.create(spec)
	j := e.wait()["partial"]
	if j.State != pipelines.JobPartial || j.Stats.Processed != 2 || j.Stats.Failed != 1 || len(j.FailedDatums) != 1 {
		t.Fatalf("job %s (%s) %+v; want partial with 2 processed, 1 failed", j.State, j.Reason, j.Stats)
	}
	if got := strings.Join(e.keys("partial"), ","); got != "a.txt,c.txt" {
		t.Errorf("outputs %s, want the good datums'", got)
	}
	out := e.tusk(0, "datum", "list", j.ID, "--failed")
	if !strings.Contains(out, "inbox:b.txt") || !strings.Contains(out, "failed") {
		t.Errorf("tusk datum list --failed:\n%s", out)
	}
	// The failed datum is processed again by the next job, the good skipped.
	e.put("inbox", "b.txt", []byte("fine now"))
	wantJob(t, e.wait()["partial"], pipelines.JobSuccess, 3, 1, 2)
	n := len(e.jobs("partial"))

	// Description only: updated in place, no job, nothing reprocessed.
	out = e.tusk(0, "pipeline", "update", "-f", e.spec(spec+"description: just words\n"))
	if !strings.Contains(out, "Updated in place") {
		t.Errorf("tusk pipeline update (description):\n%s", out)
	}
	if jobs := e.jobs("partial"); len(jobs) != n {
		t.Errorf("a description-only update queued a job: %s %+v", jobs[0].State, jobs[0].Stats)
	}
	e.put("inbox", "d.txt", []byte("D"))
	wantJob(t, e.wait()["partial"], pipelines.JobSuccess, 4, 1, 3)
	// --reprocess: every datum again.
	out = e.tusk(0, "pipeline", "update", "--reprocess", "-f", e.spec(spec+"description: again\n"))
	if !strings.Contains(out, "reprocesses every datum") {
		t.Errorf("tusk pipeline update --reprocess:\n%s", out)
	}
	j = e.wait()["partial"]
	wantJob(t, j, pipelines.JobSuccess, 4, 4, 0)
	if !j.Full {
		t.Error("--reprocess: the job did not re-examine every datum")
	}
}
