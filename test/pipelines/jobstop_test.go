package pipelines

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/pipelines"
)

// TestJobStop: `tusk job stop` ends a running job killed (its hung command
// ends too) without touching the pipeline or the outputs of earlier jobs;
// the killed job is not retried; stopping it again, or as a reader, is
// refused; the next input commit runs as usual.
func TestJobStop(t *testing.T) {
	e := start(t)
	e.mkRepo("inbox")
	e.put("inbox", "a.txt", []byte("A"))
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.create(`name: stoppable
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  cmd: [sh]
  env: {PIDFILE: "` + pidFile + `"}
  stdin:
    - 'if [ -e "$TUSK_PFS/inbox/hang" ]; then echo $$ > "$PIDFILE.tmp"; mv "$PIDFILE.tmp" "$PIDFILE"; exec sleep 600; fi'
    - 'cp "$TUSK_PFS"/inbox/* "$TUSK_PFS/out/"'
job_retries: 3
`)
	wantJob(t, e.wait()["stoppable"], pipelines.JobSuccess, 1, 1, 0)
	head := e.head("stoppable")

	e.put("inbox", "hang", []byte("H"))
	j := e.waitJob("stoppable", "running the hung datum", time.Minute, func(j *pipelines.Job) bool {
		_, err := os.Stat(pidFile)
		return j.State == pipelines.JobRunning && err == nil
	})
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %q", b)
	}

	// A reader may not stop it.
	var ro struct {
		Key struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		} `json:"key"`
	}
	e.tuskJSON(&ro, "user", "create", "ro")
	e.tusk(0, "perm", "grant", "ro", "stoppable", "read")
	if out, code := e.tuskAs(ro.Key.AccessKey, ro.Key.SecretKey, "job", "stop", j.ID); code != 1 || !strings.Contains(strings.ToLower(out), "access denied") {
		t.Errorf("a reader stops a job: exit %d\n%s", code, out)
	}

	// A job pending behind the hung one stops at once; the hung one runs on.
	e.put("inbox", "b.txt", []byte("B"))
	pending := e.waitJob("stoppable", "a job pending behind the hung one", time.Minute, func(p *pipelines.Job) bool {
		return p.ID != j.ID && p.State == pipelines.JobPending
	})
	if out := e.tusk(0, "job", "stop", pending.ID); !strings.Contains(out, "Stopped job "+pending.ID) {
		t.Errorf("tusk job stop of the pending job:\n%s", out)
	}
	var cur pipelines.Job
	e.tuskJSON(&cur, "job", "inspect", j.ID)
	if cur.State != pipelines.JobRunning {
		t.Fatalf("stopping the pending job ended the running one: %s (%s)", cur.State, cur.Reason)
	}

	out := e.tusk(0, "job", "stop", j.ID[:12])
	if !strings.Contains(out, "Stopped job "+j.ID) {
		t.Errorf("tusk job stop:\n%s", out)
	}
	var got pipelines.Job
	e.tuskJSON(&got, "job", "inspect", j.ID)
	if got.State != pipelines.JobKilled || !strings.Contains(got.Reason, "tusk job stop") || got.RetryAt != nil {
		t.Fatalf("stopped job: %s (%s), retry at %v; want killed by tusk job stop, no retry", got.State, got.Reason, got.RetryAt)
	}
	// Its command ends with it.
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the stopped job's command (pid %d) still runs", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nothing committed, nothing retried; the pipeline and its outputs stay.
	e.wait()
	if e.head("stoppable") != head {
		t.Error("the stopped job committed")
	}
	all := e.jobs("stoppable")
	if len(all) != 3 || all[0].ID != pending.ID || all[1].ID != j.ID || all[0].State != pipelines.JobKilled {
		t.Errorf("%d jobs after the stops (newest %s %s); want 3, the two stopped ones newest, killed (no retry)", len(all), all[0].ID, all[0].State)
	}
	if b, _ := e.get("stoppable", "a.txt"); string(b) != "A" {
		t.Errorf("stoppable/a.txt = %q after the stop", b)
	}
	if out, code := e.tuskAs("", "", "job", "stop", j.ID); code == 0 {
		t.Errorf("anonymous stop: exit 0\n%s", out)
	}
	if out := e.tusk(1, "job", "stop", j.ID); !strings.Contains(out, "already ended killed") {
		t.Errorf("stopping an ended job:\n%s", out)
	}

	// The next input commit runs as usual (the hang file removed; b.txt,
	// whose job was stopped, is processed now).
	if _, err := e.s3.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String("inbox"), Key: aws.String("hang")}); err != nil {
		t.Fatal(err)
	}
	wantJob(t, e.wait()["stoppable"], pipelines.JobSuccess, 2, 1, 1)
	if b, _ := e.get("stoppable", "b.txt"); string(b) != "B" {
		t.Errorf("stoppable/b.txt = %q", b)
	}
}
