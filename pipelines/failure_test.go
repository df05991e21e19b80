package pipelines_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
)

// newRetryHarness is newHarness (in memory) whose failed jobs are retried
// after backoff (doubling per attempt).
func newRetryHarness(t *testing.T, backoff time.Duration) *harness {
	return newClockHarness(t, "", backoff, nil)
}

// newClockHarness is newRetryHarness on dir ("": in memory) with the
// service's clock now (nil: time.Now).
func newClockHarness(t *testing.T, dir string, backoff time.Duration, now func() time.Time) *harness {
	t.Helper()
	ms, err := meta.Open(dir, meta.Options{InMemory: dir == ""})
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeRunner{ms: ms, fn: copyFn, runs: map[string]int{}}
	h := &harness{t: t, ms: ms, fr: fr, dir: dir}
	h.svc = pipelines.New(ms, pipelines.Config{Runner: fr, Log: zerolog.Nop(), RetryBackoff: backoff, Now: now})
	if err := h.svc.Start(context.Background(), "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return h
}

func (h *harness) jobs(pipe string) []*pipelines.Job {
	h.t.Helper()
	jobs, err := h.svc.ListJobs(context.Background(), pipe, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return jobs
}

// failWhile makes datums whose first key is key fail (exit 3) while the
// flag it returns (true at first) holds true.
func (h *harness) failWhile(key string) *atomic.Bool {
	broken := new(atomic.Bool)
	broken.Store(true)
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == key && broken.Load() {
			return nil, 3, "cannot parse " + key + "\n"
		}
		return copyFn(ctx, d)
	})
	return broken
}

// TestFailedJobRetriedByItself: a job whose datum fails is retried after
// the backoff, as a new job with the next attempt number, and succeeds
// once the datum's command does (it fails while a marker is absent).
func TestFailedJobRetriedByItself(t *testing.T) {
	h := newRetryHarness(t, 30*time.Millisecond)
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2")
	var marker atomic.Bool // absent: the command fails
	var runs atomic.Int32
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "inp:b" && runs.Add(1) == 1 {
			return nil, 1, "marker absent\n"
		}
		_ = marker.Load()
		return copyFn(ctx, d)
	})
	h.create(globSpec + "datum_tries: 1\n")
	j := h.waitJob("out", "succeeding", func(j *pipelines.Job) bool { return j.State == pipelines.JobSuccess })
	jobs := h.jobs("out")
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want the failed one and its retry", len(jobs))
	}
	first := jobs[1]
	if first.State != pipelines.JobFailure || first.Attempt != 1 || first.RetryAt != nil {
		t.Errorf("first job: %s attempt %d retry_at %v; want failure, attempt 1, retry done", first.State, first.Attempt, first.RetryAt)
	}
	if j.Attempt != 2 || j.Cause != pipelines.CauseRetry || j.RetryOf != first.ID {
		t.Errorf("retry: attempt %d cause %q retry_of %s; want attempt 2, cause retry, of %s", j.Attempt, j.Cause, j.RetryOf, first.ID)
	}
	wantStats(t, j, 2, 2, 0, 0)
	if got := strings.Join(sortedKeys(h.keys("out")), ","); got != "a.out,b.out" {
		t.Errorf("outputs %s", got)
	}
}

// TestJobRetriesRunOut: job_retries bounds the automatic retries; the last
// attempt has no retry scheduled.
func TestJobRetriesRunOut(t *testing.T) {
	h := newRetryHarness(t, 10*time.Millisecond)
	h.repo("inp")
	h.put("inp", "a", "1")
	h.failWhile("inp:a")
	h.create(globSpec + "datum_tries: 1\njob_retries: 2\n")
	j := h.waitJob("out", "failing at attempt 3 with no retry left", func(j *pipelines.Job) bool {
		return j.State == pipelines.JobFailure && j.Attempt == 3
	})
	if j.RetryAt != nil {
		t.Errorf("attempt 3 of 1+2 has a retry at %v", j.RetryAt)
	}
	if r, err := h.svc.Retrying(context.Background(), "out"); err != nil || r != nil {
		t.Errorf("Retrying = %+v, %v; want none", r, err)
	}
	if n := len(h.jobs("out")); n != 3 {
		t.Errorf("%d jobs, want 3 (1 + job_retries 2)", n)
	}
	if n := h.fr.count("inp:a"); n != 3 {
		t.Errorf("datum ran %d times, want 3", n)
	}
}

// TestPendingRetrySupersededAndRestart: a pipeline waits for its retry
// (Retrying); a new input commit supersedes it; `job restart` re-runs a
// failed job at once, and is refused for a job that succeeded or is not
// the newest.
func TestPendingRetrySupersededAndRestart(t *testing.T) {
	h := newRetryHarness(t, time.Hour)
	h.repo("inp")
	h.put("inp", "a", "1")
	broken := h.failWhile("inp:a")
	h.create(globSpec + "datum_tries: 1\n")
	failed := h.wait()
	if failed.State != pipelines.JobFailure || failed.RetryAt == nil {
		t.Fatalf("job %s retry_at %v; want failure with a retry scheduled", failed.State, failed.RetryAt)
	}
	if d := failed.RetryAt.Sub(failed.Finished); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("retry in %s, want the backoff (1h)", d)
	}
	r, err := h.svc.Retrying(context.Background(), "out")
	if err != nil || r == nil || r.Job != failed.ID || r.Attempt != 2 {
		t.Fatalf("Retrying = %+v, %v; want job %s's attempt 2", r, err, failed.ID)
	}
	// A new commit supersedes the pending retry: its job is attempt 1.
	h.put("inp", "b", "2")
	j := h.wait()
	if j.ID == failed.ID || j.Attempt != 1 || j.Cause != "" || j.State != pipelines.JobFailure {
		t.Fatalf("job %s attempt %d cause %q state %s; want a new failing job, attempt 1", j.ID, j.Attempt, j.Cause, j.State)
	}
	if old, _ := h.svc.GetJob(context.Background(), failed.ID); old.RetryAt != nil {
		t.Errorf("superseded job keeps its retry at %v", old.RetryAt)
	}
	// Restarting an older job is refused; restarting the newest runs now.
	if _, err := h.svc.RestartJob(context.Background(), failed.ID); !errs.Is(err, errs.Conflict) {
		t.Errorf("restart of an older job: %v, want Conflict", err)
	}
	broken.Store(false)
	nj, err := h.svc.RestartJob(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if nj.Attempt != 2 || nj.Cause != pipelines.CauseRestart || nj.RetryOf != j.ID {
		t.Errorf("restarted job: attempt %d cause %q of %s", nj.Attempt, nj.Cause, nj.RetryOf)
	}
	done := h.wait()
	if done.ID != nj.ID {
		t.Fatalf("newest job %s, want the restarted %s", done.ID, nj.ID)
	}
	wantStats(t, done, 2, 2, 0, 0)
	if r, _ := h.svc.Retrying(context.Background(), "out"); r != nil {
		t.Errorf("retry pending after success: %+v", r)
	}
	if _, err := h.svc.RestartJob(context.Background(), done.ID); !errs.Is(err, errs.Conflict) {
		t.Errorf("restart of a successful job: %v, want Conflict", err)
	}
	if _, err := h.svc.RestartJob(context.Background(), "nosuchjob0000000000000000000000000"[:32]); !errs.Is(err, errs.NotExist) {
		t.Errorf("restart of no job: %v, want NotExist", err)
	}
}

// TestRetrySurvivesRestart: a pending retry is kept in the store; a
// restarted service runs it when it is due (its clock is past retry_at).
func TestRetrySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h := newClockHarness(t, dir, time.Hour, nil)
	h.repo("inp")
	h.put("inp", "a", "1")
	h.failWhile("inp:a")
	h.create(globSpec + "datum_tries: 1\n")
	failed := h.wait()
	if failed.State != pipelines.JobFailure || failed.RetryAt == nil {
		t.Fatalf("job %s retry_at %v", failed.State, failed.RetryAt)
	}
	h.close()
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	h2 := newClockHarness(t, dir, time.Hour, later)
	j := h2.waitJob("out", "retried and succeeding", func(j *pipelines.Job) bool { return j.State == pipelines.JobSuccess })
	if j.Attempt != 2 || j.Cause != pipelines.CauseRetry || j.RetryOf != failed.ID {
		t.Errorf("job attempt %d cause %q of %s; want the retry of %s", j.Attempt, j.Cause, j.RetryOf, failed.ID)
	}
}

// TestCommitPartial: with on_failure commit_partial the good datums'
// outputs are committed, the bad one is recorded, and the next job
// processes the failed datum again while it skips the good ones.
func TestCommitPartial(t *testing.T) {
	h := newRetryHarness(t, time.Hour)
	h.repo("inp")
	h.put("inp", "a", "1", "bad", "2", "c", "3")
	broken := h.failWhile("inp:bad")
	h.create(globSpec + "datum_tries: 2\non_failure: commit_partial\n")
	j := h.wait()
	if j.State != pipelines.JobPartial || j.Stats.Total != 3 || j.Stats.Processed != 2 || j.Stats.Failed != 1 {
		t.Fatalf("job %s (%s) stats %+v; want partial: 3 datums, 2 processed, 1 failed", j.State, j.Reason, j.Stats)
	}
	if len(j.FailedDatums) != 1 || j.FailedDatums[0].Inputs[0] != "inp:bad" || j.FailedDatums[0].Attempts != 2 {
		t.Errorf("failed datums %+v", j.FailedDatums)
	}
	if ds, err := h.svc.ListDatums(context.Background(), j.ID, true); err != nil || len(ds) != 1 {
		t.Errorf("failed datums listed: %d, %v", len(ds), err)
	}
	if h.head("out") != j.OutputCommit {
		t.Errorf("output head %s, want the partial job's commit %s", h.head("out"), j.OutputCommit)
	}
	if got := strings.Join(sortedKeys(h.keys("out")), ","); got != "a.out,c.out" {
		t.Errorf("outputs %s, want the good datums'", got)
	}
	if st, _ := h.svc.GetState(context.Background(), "out"); st == nil || st.Job != j.ID || st.Datums != 2 {
		t.Errorf("state %+v, want job %s's with 2 committed datums", st, j.ID)
	}
	// The next job (a new commit) retries the bad datum, skips the good.
	broken.Store(false)
	h.put("inp", "d", "4")
	j = h.wait()
	wantStats(t, j, 4, 2, 2, 0)
	if got := strings.Join(sortedKeys(h.keys("out")), ","); got != "a.out,bad.out,c.out,d.out" {
		t.Errorf("outputs %s", got)
	}
	if n := h.fr.count("inp:a"); n != 1 {
		t.Errorf("good datum a ran %d times, want 1", n)
	}
	// Nothing failed is left: an update of the description runs no job.
	if n := len(h.jobs("out")); n != 2 {
		t.Errorf("%d jobs", n)
	}
}

// TestCommitPartialRetriedByItself: a partial job's retry processes only
// the failed datum.
func TestCommitPartialRetriedByItself(t *testing.T) {
	h := newRetryHarness(t, 20*time.Millisecond)
	h.repo("inp")
	h.put("inp", "a", "1", "bad", "2")
	var tries atomic.Int32
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "inp:bad" && tries.Add(1) == 1 {
			return nil, 2, "first try fails\n"
		}
		return copyFn(ctx, d)
	})
	h.create(globSpec + "datum_tries: 1\non_failure: commit_partial\n")
	j := h.waitJob("out", "succeeding", func(j *pipelines.Job) bool { return j.State == pipelines.JobSuccess })
	if j.Attempt != 2 || j.Cause != pipelines.CauseRetry {
		t.Errorf("job attempt %d cause %q, want the retry", j.Attempt, j.Cause)
	}
	wantStats(t, j, 2, 1, 1, 0)
	if got := strings.Join(sortedKeys(h.keys("out")), ","); got != "a.out,bad.out" {
		t.Errorf("outputs %s", got)
	}
	if st, _ := h.svc.GetState(context.Background(), "out"); st == nil || st.Datums != 2 {
		t.Errorf("state %+v, want 2 datums", st)
	}
}

// TestUpdateReprocessRules: a description-only update reprocesses nothing
// (and queues no job); a transform change reprocesses every datum; the
// Reprocess option forces it; an in-place update after a failed job
// queues a job that reuses the good outputs.
func TestUpdateReprocessRules(t *testing.T) {
	h := newRetryHarness(t, time.Hour)
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2")
	p := h.create(globSpec)
	first := h.wait()
	wantStats(t, first, 2, 2, 0, 0)
	update := func(edit func(*pipelines.Spec), opts pipelines.UpdateOptions) *pipelines.Pipeline {
		t.Helper()
		cur, err := h.svc.Get(context.Background(), "out")
		if err != nil {
			t.Fatal(err)
		}
		sp := cur.Spec
		edit(&sp)
		np, err := h.svc.UpdateWith(context.Background(), &sp, opts)
		if err != nil {
			t.Fatal(err)
		}
		return np
	}

	// In place: description, parallelism, datum_tries, timeout, retries.
	np := update(func(sp *pipelines.Spec) {
		sp.Description = "new words"
		sp.Parallelism = 4
		sp.DatumTries = 5
		sp.DatumTimeout = pipelines.Duration(time.Minute)
		sp.OnFailure = pipelines.OnFailureCommitPartial
	}, pipelines.UpdateOptions{})
	if np.Version != 2 || np.DatumVer() != p.DatumVer() {
		t.Fatalf("in-place update: version %d datum version %d", np.Version, np.DatumVer())
	}
	if j := h.wait(); j.ID != first.ID {
		t.Fatalf("a description-only update queued job %s", j.ID)
	}
	h.put("inp", "c", "3")
	j := h.wait()
	wantStats(t, j, 3, 1, 2, 0)
	if j.Full || j.Version != 2 || j.Spec.Description != "new words" {
		t.Errorf("job full %v version %d description %q", j.Full, j.Version, j.Spec.Description)
	}
	if n := h.fr.count("inp:a"); n != 1 {
		t.Errorf("a ran %d times after an in-place update, want 1", n)
	}

	// A transform change reprocesses everything.
	np = update(func(sp *pipelines.Spec) { sp.Transform.Env = map[string]string{"V": "2"} }, pipelines.UpdateOptions{})
	if np.DatumVer() != np.Version {
		t.Fatalf("transform change: datum version %d, version %d", np.DatumVer(), np.Version)
	}
	j = h.wait()
	wantStats(t, j, 3, 3, 0, 0)
	if !j.Full {
		t.Error("transform change: the job did not re-examine every datum")
	}

	// --reprocess forces it on an in-place change.
	update(func(sp *pipelines.Spec) { sp.Description = "again" }, pipelines.UpdateOptions{Reprocess: true})
	j = h.wait()
	wantStats(t, j, 3, 3, 0, 0)
	if n := h.fr.count("inp:a"); n != 3 {
		t.Errorf("a ran %d times, want 3 (create, transform change, --reprocess)", n)
	}

	// After a failed job, an in-place update (the fix: more tries) queues
	// a job at once, superseding the pending retry.
	var broken atomic.Bool
	broken.Store(true)
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "inp:d" && broken.Load() {
			return nil, 1, "flaky\n"
		}
		return copyFn(ctx, d)
	})
	update(func(sp *pipelines.Spec) { sp.OnFailure = ""; sp.DatumTries = 1 }, pipelines.UpdateOptions{})
	h.put("inp", "d", "4")
	failed := h.wait()
	if failed.State != pipelines.JobFailure || failed.RetryAt == nil {
		t.Fatalf("job %s retry_at %v", failed.State, failed.RetryAt)
	}
	broken.Store(false)
	update(func(sp *pipelines.Spec) { sp.DatumTries = 3 }, pipelines.UpdateOptions{})
	j = h.wait()
	if j.ID == failed.ID || j.Cause != "" {
		t.Fatalf("no new job after the in-place update of a failing pipeline (newest %s %s)", j.ID, j.State)
	}
	wantStats(t, j, 4, 1, 3, 0)
	if r, _ := h.svc.Retrying(context.Background(), "out"); r != nil {
		t.Errorf("retry still pending: %+v", r)
	}
}

// TestFingerprintFields: the fields an update changes in place leave the
// fingerprint as it is; the others change it.
func TestFingerprintFields(t *testing.T) {
	base := func() *pipelines.Spec {
		sp, err := pipelines.Parse([]byte(`name: out
input: {cross: [{pfs: {repo: aaa, glob: "/*"}}, {pfs: {repo: bbb, glob: "/"}}]}
transform: {cmd: [run], env: {K: v}}`))
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	two := 2
	for _, tc := range []struct {
		name    string
		edit    func(*pipelines.Spec)
		inPlace bool
	}{
		{"description", func(s *pipelines.Spec) { s.Description = "x" }, true},
		{"parallelism", func(s *pipelines.Spec) { s.Parallelism = 8 }, true},
		{"runner", func(s *pipelines.Spec) { s.Runner = pipelines.RunnerLocal }, true},
		{"datum_tries", func(s *pipelines.Spec) { s.DatumTries = 9 }, true},
		{"datum_timeout", func(s *pipelines.Spec) { s.DatumTimeout = pipelines.Duration(time.Second) }, true},
		{"resources", func(s *pipelines.Spec) { s.ResourceLimits = &pipelines.Resources{CPU: "2"} }, true},
		{"node_selector", func(s *pipelines.Spec) { s.NodeSelector = map[string]string{"a": "b"} }, true},
		{"on_failure", func(s *pipelines.Spec) { s.OnFailure = pipelines.OnFailureCommitPartial }, true},
		{"job_retries", func(s *pipelines.Spec) { s.JobRetries = &two }, true},
		{"cmd", func(s *pipelines.Spec) { s.Transform.Cmd = []string{"run", "-v"} }, false},
		{"stdin", func(s *pipelines.Spec) { s.Transform.Stdin = []string{"x"} }, false},
		{"env", func(s *pipelines.Spec) { s.Transform.Env["K"] = "w" }, false},
		{"image", func(s *pipelines.Spec) { s.Transform.Image = "alpine:3" }, false},
		{"glob", func(s *pipelines.Spec) { s.Input.Cross[0].PFS.Glob = "/*/*" }, false},
		{"branch", func(s *pipelines.Spec) { s.Input.Cross[1].PFS.Branch = "dev"; s.OutputBranch = "main" }, false},
		{"input tree", func(s *pipelines.Spec) { s.Input.Union, s.Input.Cross = s.Input.Cross, nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := base()
			tc.edit(sp)
			if err := sp.Validate(); err != nil {
				t.Fatal(err)
			}
			if same := sp.Fingerprint() == base().Fingerprint(); same != tc.inPlace {
				t.Errorf("fingerprint unchanged = %v, want %v", same, tc.inPlace)
			}
		})
	}
}

func TestFailureSpecFields(t *testing.T) {
	for _, tc := range []struct{ extra, says string }{
		{"on_failure: skip", "on_failure: unknown policy"},
		{"job_retries: -1", "job_retries: -1 is out of range"},
		{"job_retries: 101", "job_retries: 101 is out of range"},
	} {
		t.Run(tc.extra, func(t *testing.T) {
			_, err := pipelines.Parse([]byte(globSpec + tc.extra))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v, want %q", err, tc.says)
			}
		})
	}
	sp, err := pipelines.Parse([]byte(globSpec + "job_retries: 0\non_failure: commit_partial"))
	if err != nil || sp.Retries() != 0 || !sp.CommitsPartial() {
		t.Fatalf("%+v %v", sp, err)
	}
	if sp, _ := pipelines.Parse([]byte(globSpec)); sp.Retries() != pipelines.DefaultJobRetries || sp.CommitsPartial() {
		t.Errorf("defaults: retries %d partial %v", sp.Retries(), sp.CommitsPartial())
	}
}

// TestCommitPartialKeepsOldOutputs: a datum that succeeded before and
// fails on its new content keeps its earlier outputs in the partial
// commit; it is counted once, and the next job processes it again.
func TestCommitPartialKeepsOldOutputs(t *testing.T) {
	h := newRetryHarness(t, time.Hour)
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2")
	h.create(globSpec + "datum_tries: 1\non_failure: commit_partial\n")
	wantStats(t, h.wait(), 2, 2, 0, 0)
	old := h.keys("out")["b.out"]
	var broken atomic.Bool
	broken.Store(true)
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "inp:b" && broken.Load() {
			return nil, 1, "bad\n"
		}
		return copyFn(ctx, d)
	})
	h.put("inp", "b", "22", "c", "3")
	j := h.wait()
	if j.State != pipelines.JobPartial || j.Stats.Total != 3 || j.Stats.Processed != 1 || j.Stats.Failed != 1 || j.Stats.Skipped != 1 {
		t.Fatalf("job %s stats %+v; want partial: 3 datums, 1 processed, 1 failed, 1 skipped", j.State, j.Stats)
	}
	if e := h.keys("out")["b.out"]; e == nil || e.Content != old.Content {
		t.Errorf("b.out after its datum failed: %+v, want the earlier output", e)
	}
	if st, _ := h.svc.GetState(context.Background(), "out"); st == nil || st.Datums != 3 {
		t.Errorf("state %+v, want 3 datums", st)
	}
	// Only b's content failing: a commit_partial job with no success fails.
	h.put("inp", "b", "222")
	if j := h.wait(); j.State != pipelines.JobFailure {
		t.Errorf("job with only a failing datum: %s, want failure", j.State)
	}
	broken.Store(false)
	h.put("inp", "d", "4")
	wantStats(t, h.wait(), 4, 2, 2, 0)
	if e := h.keys("out")["b.out"]; e == nil || e.Content != sum("from "+sum("222")) {
		t.Errorf("b.out = %+v, want the output of b's newest content", e)
	}
}

// TestCommitPartialCross: in a cross, the next job re-runs exactly the
// failed combination.
func TestCommitPartialCross(t *testing.T) {
	h := newRetryHarness(t, time.Hour)
	h.repo("inp", "cfg")
	h.put("inp", "a", "1", "b", "2")
	h.put("cfg", "x", "X", "y", "Y")
	var broken atomic.Bool
	broken.Store(true)
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "cfg:y+inp:b" && broken.Load() {
			return nil, 1, "bad pair\n"
		}
		outs := map[string]string{}
		for _, in := range d.Inputs {
			for _, f := range in.Files {
				outs[firstKey(d)+"/"+in.Name+"-"+f.Key] = f.Content
			}
		}
		return outs, 0, ""
	})
	h.create(`name: out
input: {cross: [{pfs: {repo: inp, glob: "/*"}}, {pfs: {repo: cfg, glob: "/*"}}]}
transform: {cmd: [pair]}
datum_tries: 1
on_failure: commit_partial`)
	j := h.wait()
	if j.State != pipelines.JobPartial || j.Stats.Total != 4 || j.Stats.Processed != 3 || j.Stats.Failed != 1 {
		t.Fatalf("job %s stats %+v; want partial 4/3/1", j.State, j.Stats)
	}
	if f := j.FailedDatums; len(f) != 1 || strings.Join(f[0].Inputs, ",") != "inp:b,cfg:y" {
		t.Fatalf("failed datums %+v", f)
	}
	broken.Store(false)
	nj, err := h.svc.RestartJob(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	j = h.wait()
	if j.ID != nj.ID {
		t.Fatalf("newest job %s, want %s", j.ID, nj.ID)
	}
	wantStats(t, j, 4, 1, 3, 0)
	if n := h.fr.count("cfg:x+inp:a"); n != 1 {
		t.Errorf("a good pair ran %d times, want 1", n)
	}
	if n := len(h.keys("out")); n != 8 {
		t.Errorf("%d outputs, want 8 (2 per pair)", n)
	}
}
