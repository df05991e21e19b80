package pipelines_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
)

// putOn writes key=value pairs on branch of repo ("<delete>" deletes).
func (h *harness) putOn(repo, branch string, kv ...string) {
	h.t.Helper()
	var cs []meta.Change
	for i := 0; i+1 < len(kv); i += 2 {
		c := meta.Change{Key: kv[i]}
		if kv[i+1] != "<delete>" {
			c.Entry = &meta.Entry{Content: sum(kv[i+1]), Size: int64(len(kv[i+1]))}
		}
		cs = append(cs, c)
	}
	if _, err := h.ms.Write(context.Background(), meta.WriteRequest{Repo: repo, Branch: branch, Author: "tester", Changes: cs}); err != nil {
		h.t.Fatal(err)
	}
}

// keysAt lists repo@ref's keys with their contents.
func (h *harness) keysAt(repo, ref string) map[string]string {
	h.t.Helper()
	r, err := h.ms.Resolve(context.Background(), repo, ref)
	if err != nil {
		h.t.Fatal(err)
	}
	pg, err := h.ms.List(context.Background(), r.Root(), "", "", "", 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, ke := range pg.Entries {
		out[ke.Key] = ke.Entry.Content
	}
	return out
}

// gate runs a gate job of pipe on branch of its input and waits for it.
func (h *harness) gate(pipe, branch string, force bool) *pipelines.Job {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := h.svc.RunGate(ctx, pipelines.GateRequest{Pipeline: pipe, Source: branch, Force: force})
	if err != nil {
		h.t.Fatal(err)
	}
	j, err = h.svc.WaitJob(ctx, j.ID)
	if err != nil || !j.Done() {
		h.t.Fatalf("gate job %+v did not end: %v", j, err)
	}
	return j
}

// TestGateJobReusesDatumsAcrossBranches: a gate job on a dev branch that
// changed one file of five processes that one datum and carries the other
// four from main's job (done datums are keyed by content, not branch); it
// writes to its own branch of the output repo (main's outputs untouched);
// the lane's next job is incremental; asking again on the same head runs
// nothing.
func TestGateJobReusesDatumsAcrossBranches(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
	h.create(globSpec)
	wantStats(t, h.wait(), 5, 5, 0, 0)
	mainOuts := h.keysAt("out", "main")
	if _, err := h.ms.CreateBranch(ctx, "inp", "dev", "main"); err != nil {
		t.Fatal(err)
	}
	h.putOn("inp", "dev", "b", "22")

	j := h.gate("out", "dev", false)
	wantStats(t, j, 5, 1, 4, 0)
	if j.Stats.Carried != 4 || j.Gate == nil || j.Gate.Source != "dev" || j.OutputBranch != "dev" {
		t.Fatalf("gate job: carried %d, gate %+v, output branch %s; want 4 carried, on dev, into out@dev", j.Stats.Carried, j.Gate, j.OutputBranch)
	}
	for k, n := range map[string]int{"inp:a": 1, "inp:b": 2, "inp:c": 1, "inp:d": 1, "inp:e": 1} {
		if got := h.fr.count(k); got != n {
			t.Errorf("datum %s ran %d times, want %d (once per content)", k, got, n)
		}
	}
	dev := h.keysAt("out", "dev")
	if len(dev) != 5 || dev["b.out"] != sum("from "+sum("22")) || dev["a.out"] != mainOuts["a.out"] {
		t.Errorf("out@dev = %v", dev)
	}
	if got := h.keysAt("out", "main"); got["b.out"] != mainOuts["b.out"] || len(got) != 5 {
		t.Errorf("main's outputs changed: %v", got)
	}
	if j2 := h.gate("out", "dev", false); j2.ID != j.ID {
		t.Errorf("a second gate on the same head ran job %s; want the first, %s", j2.ID, j.ID)
	}
	// The main pipeline has only its own job.
	if jobs, _ := h.svc.ListJobs(ctx, "out", 0); len(jobs) != 1 {
		t.Errorf("pipeline out has %d jobs, want 1 (gate jobs are in their lane)", len(jobs))
	}

	t.Run("lane is incremental", func(t *testing.T) {
		h.putOn("inp", "dev", "c", "33", "d", "<delete>")
		j, err := h.svc.RunGate(ctx, pipelines.GateRequest{Pipeline: "out", Source: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		h.wait() // Idle counts gate jobs
		if j, err = h.svc.GetJob(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		wantStats(t, j, 4, 1, 3, 1)
		if j.Stats.Carried != 0 {
			t.Errorf("carried %d, want 0 (unchanged datums are skipped by the lane's own state)", j.Stats.Carried)
		}
		dev := h.keysAt("out", "dev")
		if _, ok := dev["d.out"]; ok || len(dev) != 4 || dev["c.out"] != sum("from "+sum("33")) {
			t.Errorf("out@dev = %v", dev)
		}
	})
	t.Run("main carries what the gate processed", func(t *testing.T) {
		if _, err := h.ms.Merge(ctx, "inp", "dev", "main", "", "tester", ""); err != nil {
			t.Fatal(err)
		}
		j := h.wait()
		wantStats(t, j, 4, 0, 4, 1)
		if j.Stats.Carried != 2 || h.fr.count("inp:b") != 2 || h.fr.count("inp:c") != 2 {
			t.Errorf("main after the merge: carried %d, b ran %d, c ran %d; want 2 carried, each once per content",
				j.Stats.Carried, h.fr.count("inp:b"), h.fr.count("inp:c"))
		}
	})
	t.Run("delete removes lanes", func(t *testing.T) {
		if err := h.svc.Delete(ctx, "out", pipelines.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if lanes, err := h.svc.Lanes(ctx, "out"); err != nil || len(lanes) != 0 {
			t.Errorf("lanes after delete: %v %v", lanes, err)
		}
	})
}

// TestCheckGate: a merge gate has not passed until the pipeline succeeded
// on the source's exact commit; checking with Start runs the gate job;
// a failing pipeline keeps failing the gate (and is not re-run by checks)
// until the source changes; a gate that passed stops passing when the
// source moves.
func TestCheckGate(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2")
	h.create(globSpec)
	h.wait()
	if _, err := h.ms.CreateBranch(ctx, "inp", "dev", "main"); err != nil {
		t.Fatal(err)
	}
	h.putOn("inp", "dev", "b", "bad")
	head := func() string {
		r, err := h.ms.Resolve(ctx, "inp", "dev")
		if err != nil {
			t.Fatal(err)
		}
		return r.CommitID()
	}
	check := func(start bool, required ...string) *pipelines.GateStatus {
		t.Helper()
		st, err := h.svc.CheckGate(ctx, pipelines.GateCheck{Repo: "inp", Source: "dev", Commit: head(), Destination: "main", Required: required, Start: start})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	wait := func() *pipelines.GateStatus {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := h.svc.WaitGate(wctx, pipelines.GateCheck{Repo: "inp", Source: "dev", Commit: head(), Destination: "main", Required: []string{"out"}, Start: true})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// The datum holding "bad" fails every try.
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		for _, in := range d.Inputs {
			for _, f := range in.Files {
				if f.Content == sum("bad") {
					return nil, 3, "bad input\n"
				}
			}
		}
		return copyFn(ctx, d)
	})

	st := check(false, "out")
	if st.Passed || st.Pipelines[0].State != pipelines.GateNone {
		t.Fatalf("before any gate job: %+v", st)
	}
	err := st.Err()
	if !errs.Is(err, errs.Conflict) || errs.ReasonOf(err) != errs.Gate || !strings.Contains(err.Error(), "pipeline out has not run on dev") {
		t.Fatalf("refusal: %v", err)
	}
	if st := check(false, "nope"); st.Passed || st.Pipelines[0].State != pipelines.GateMissing || !strings.Contains(st.Err().Error(), "pipeline nope does not exist") {
		t.Fatalf("missing pipeline: %+v %v", st, st.Err())
	}

	st = wait()
	if st.Passed || st.Pipelines[0].State != pipelines.GateFailed || !strings.Contains(st.Err().Error(), "pipeline out failed on dev") {
		t.Fatalf("failing gate: %+v %v", st, st.Err())
	}
	failed := st.Pipelines[0].Job
	tries := h.fr.count("inp:b")
	// Checking again (with Start) neither passes nor runs it again.
	if st := wait(); st.Passed || st.Pipelines[0].State != pipelines.GateFailed || st.Pipelines[0].Job != failed || h.fr.count("inp:b") != tries {
		t.Fatalf("failing gate checked again: %+v, b ran %d times (was %d)", st, h.fr.count("inp:b"), tries)
	}

	h.putOn("inp", "dev", "b", "good")
	if st := check(false, "out"); st.Passed {
		t.Fatalf("gate passed on a commit its job did not read: %+v", st)
	}
	st = wait()
	if !st.Passed || st.Err() != nil || st.Pipelines[0].State != pipelines.GatePassed || st.Pipelines[0].Commit != head() {
		t.Fatalf("fixed source: %+v %v", st, st.Err())
	}
	passedOn := head()
	h.putOn("inp", "dev", "c", "3")
	st, err = h.svc.CheckGate(ctx, pipelines.GateCheck{Repo: "inp", Source: "dev", Commit: head(), Destination: "main", Required: []string{"out"}})
	if err != nil || st.Passed {
		t.Fatalf("gate passed on %s after the source moved from %s: %+v %v", head(), passedOn, st, err)
	}
}

// TestGateJobAcrossRestart: a gate job interrupted by a restart ends
// failed and marked interrupted (its open commits aborted), and the next
// gate request on the same head runs it again (a failure of its datums
// would not be).
func TestGateJobAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := newHarness(t, dir)
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2")
	h.create(globSpec)
	h.wait()
	if _, err := h.ms.CreateBranch(ctx, "inp", "dev", "main"); err != nil {
		t.Fatal(err)
	}
	h.putOn("inp", "dev", "slow", "3")
	started := make(chan struct{})
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "inp:slow" {
			close(started)
			<-ctx.Done()
			return nil, -1, ""
		}
		return copyFn(ctx, d)
	})
	j, err := h.svc.RunGate(ctx, pipelines.GateRequest{Pipeline: "out", Source: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	h.svc.Stop()
	h.svc = nil
	h.ms.Close()
	h.ms = nil

	h2 := newHarness(t, dir)
	j1, err := h2.svc.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j1.State != pipelines.JobFailure || !j1.Gate.Interrupted || !strings.Contains(j1.Reason, "restarted") {
		t.Fatalf("interrupted gate job after the restart: %s (%s), gate %+v", j1.State, j1.Reason, j1.Gate)
	}
	if ocs, _ := h2.ms.ListOpenCommits(ctx, "out"); len(ocs) != 0 {
		t.Errorf("open commits left: %d", len(ocs))
	}
	j2 := h2.gate("out", "dev", false)
	if j2.ID == j.ID {
		t.Fatal("the interrupted gate job was not run again")
	}
	wantStats(t, j2, 3, 1, 2, 0)
	if got := h2.keysAt("out", "dev"); len(got) != 3 || got["slow.out"] == "" {
		t.Errorf("out@dev = %v", got)
	}
}

// TestGateOnOpenCommit: a gate job runs on an open commit of dev (in dev's
// lane); finished unchanged, the commit it becomes passes dev's merge gate
// with no further job; an open commit that changes after its gate job, or
// that lands on a moved branch (another root), does not pass until a job
// processes what it became.
func TestGateOnOpenCommit(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2")
	h.create(globSpec)
	h.wait()
	if _, err := h.ms.CreateBranch(ctx, "inp", "dev", "main"); err != nil {
		t.Fatal(err)
	}
	open := func(kv ...string) string {
		t.Helper()
		oc, err := h.ms.StartCommit(ctx, "inp", "dev", "tester", "wip", nil, false)
		if err != nil {
			t.Fatal(err)
		}
		h.writeOpen(oc.ID, kv...)
		return oc.ID
	}
	check := func() *pipelines.GateStatus {
		t.Helper()
		r, err := h.ms.Resolve(ctx, "inp", "dev")
		if err != nil {
			t.Fatal(err)
		}
		st, err := h.svc.CheckGate(ctx, pipelines.GateCheck{Repo: "inp", Source: "dev", Commit: r.CommitID(), Root: r.Root(), Destination: "main", Required: []string{"out"}})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	id := open("b", "22")
	j := h.gate("out", id, false)
	wantStats(t, j, 2, 1, 1, 0)
	if j.Gate.Source != id || j.OutputBranch != "dev" || j.Inputs[0].Commit != id {
		t.Fatalf("gate job on open commit %s: gate %+v, output branch %s, inputs %+v", id, j.Gate, j.OutputBranch, j.Inputs)
	}
	if _, err := h.ms.FinishCommit(ctx, "inp", id, ""); err != nil {
		t.Fatal(err)
	}
	if st := check(); !st.Passed || st.Pipelines[0].Job != j.ID {
		t.Fatalf("the finished commit did not pass dev's gate: %+v", st)
	}

	t.Run("changed after its gate job", func(t *testing.T) {
		id := open("c", "3")
		j := h.gate("out", id, false)
		h.writeOpen(id, "c", "33")
		if j2 := h.gate("out", id, false); j2.ID == j.ID {
			t.Fatal("asking again after the open commit changed ran no new job")
		}
		if _, err := h.ms.FinishCommit(ctx, "inp", id, ""); err != nil {
			t.Fatal(err)
		}
		if st := check(); !st.Passed {
			t.Fatalf("gate after the second job: %+v", st)
		}
	})
	t.Run("lands on a moved branch", func(t *testing.T) {
		id := open("d", "4")
		h.gate("out", id, false)
		h.putOn("inp", "dev", "e", "5") // dev moves: the finished commit holds e too
		if _, err := h.ms.FinishCommit(ctx, "inp", id, ""); err != nil {
			t.Fatal(err)
		}
		if st := check(); st.Passed {
			t.Fatalf("a commit whose content no job read passed: %+v", st)
		}
	})
}

// writeOpen writes key=value pairs into open commit id of inp.
func (h *harness) writeOpen(id string, kv ...string) {
	h.t.Helper()
	var cs []meta.Change
	for i := 0; i+1 < len(kv); i += 2 {
		cs = append(cs, meta.Change{Key: kv[i], Entry: &meta.Entry{Content: sum(kv[i+1]), Size: int64(len(kv[i+1]))}})
	}
	if _, err := h.ms.Write(context.Background(), meta.WriteRequest{Repo: "inp", Open: id, Author: "tester", Changes: cs}); err != nil {
		h.t.Fatal(err)
	}
}

// BenchmarkGateJob10k: a pipeline (in-process fake runner, one output per
// datum) has processed 10,000 datums on main; each iteration branches dev
// (a new lane), changes one file there and runs the gate job on it: 1
// datum processed, 9,999 carried from main's done datums (their outputs
// written into the gate's output branch). It reports the gate job's wall
// time.
//
//	go test -run '^$' -bench GateJob10k -benchtime 3x ./pipelines/
func BenchmarkGateJob10k(b *testing.B) {
	ctx := context.Background()
	ms, err := meta.Open("", meta.Options{InMemory: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ms.Close()
	fr := &fakeRunner{ms: ms, fn: copyFn, runs: map[string]int{}}
	svc := pipelines.New(ms, pipelines.Config{Runner: fr, Log: zerolog.Nop()})
	if err := svc.Start(ctx, "http://127.0.0.1:1"); err != nil {
		b.Fatal(err)
	}
	defer svc.Stop()
	if _, err := ms.CreateRepo(ctx, "inp", "tester"); err != nil {
		b.Fatal(err)
	}
	const n = 10000
	for i := 0; i < n; i += 1000 {
		var cs []meta.Change
		for k := i; k < i+1000; k++ {
			v := fmt.Sprint(k)
			cs = append(cs, meta.Change{Key: fmt.Sprintf("f%05d", k), Entry: &meta.Entry{Content: sum(v), Size: int64(len(v))}})
		}
		if _, err := ms.Write(ctx, meta.WriteRequest{Repo: "inp", Branch: "main", Author: "tester", Changes: cs}); err != nil {
			b.Fatal(err)
		}
	}
	sp, err := pipelines.Parse([]byte(globSpec))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Create(ctx, sp, pipelines.CreateOptions{User: "tester"}); err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := svc.WaitIdle(wctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dev := fmt.Sprintf("dev%d", i)
		if _, err := ms.CreateBranch(ctx, "inp", dev, "main"); err != nil {
			b.Fatal(err)
		}
		v := fmt.Sprint("changed", i)
		if _, err := ms.Write(ctx, meta.WriteRequest{Repo: "inp", Branch: dev, Author: "tester",
			Changes: []meta.Change{{Key: "f00007", Entry: &meta.Entry{Content: sum(v), Size: int64(len(v))}}}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		j, err := svc.RunGate(ctx, pipelines.GateRequest{Pipeline: "out", Source: dev})
		if err != nil {
			b.Fatal(err)
		}
		if j, err = svc.WaitJob(wctx, j.ID); err != nil || j.State != pipelines.JobSuccess {
			b.Fatalf("gate job: %+v %v", j, err)
		}
		b.StopTimer()
		if j.Stats.Processed != 1 || j.Stats.Carried != n-1 {
			b.Fatalf("gate job stats %+v; want 1 processed, %d carried", j.Stats, n-1)
		}
		b.ReportMetric(time.Since(start).Seconds()*1000, "ms/gate-job")
		b.StartTimer()
	}
}
