package pipelines_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
)

// fakeRunner runs datums in-process: fn maps a datum's files to outputs
// (key -> value), which it writes into the staging commit through meta.
type fakeRunner struct {
	ms *meta.Store
	mu sync.Mutex
	fn func(ctx context.Context, d pipelines.DatumTask) (outs map[string]string, exit int, log string)
	// runs counts tries per datum, by its first input key.
	runs map[string]int
}

var _ pipelines.Runner = (*fakeRunner)(nil)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func firstKey(d pipelines.DatumTask) string {
	var ks []string
	for _, in := range d.Inputs {
		for _, f := range in.Files {
			ks = append(ks, in.Name+":"+f.Key)
		}
	}
	sort.Strings(ks)
	return strings.Join(ks, "+")
}

func (f *fakeRunner) Run(ctx context.Context, t *pipelines.Task, report func(pipelines.Result)) error {
	for _, d := range t.Datums {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.mu.Lock()
		fn := f.fn
		f.mu.Unlock()
		outs, exit, log := fn(ctx, d)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r := pipelines.Result{Datum: d.ID, Attempt: d.Attempt, ExitCode: exit, Log: log, Started: time.Now(), Ended: time.Now()}
		if exit == 0 {
			var cs []meta.Change
			for k, v := range outs {
				cs = append(cs, meta.Change{Key: d.Prefix + k, Entry: &meta.Entry{Content: sum(v), Size: int64(len(v)), ETag: sum(v)[:32]}})
			}
			if _, err := f.ms.Write(ctx, meta.WriteRequest{Repo: t.OutputRepo, Open: t.StagingCommit, System: true, Changes: cs}); err != nil {
				return err
			}
			r.Outputs = len(outs)
		}
		f.mu.Lock()
		f.runs[firstKey(d)]++
		f.mu.Unlock()
		report(r)
	}
	return nil
}

func (f *fakeRunner) setFn(fn func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string)) {
	f.mu.Lock()
	f.fn = fn
	f.mu.Unlock()
}

func (f *fakeRunner) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[key]
}

// copyFn writes, for each input file, <key>.out with "<content>".
func copyFn(_ context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
	outs := map[string]string{}
	for _, in := range d.Inputs {
		for _, f := range in.Files {
			outs[f.Key+".out"] = "from " + f.Content
		}
	}
	return outs, 0, "ok\n"
}

type harness struct {
	t   *testing.T
	ms  *meta.Store
	svc *pipelines.Service
	fr  *fakeRunner
	dir string
}

func newHarness(t *testing.T, dir string) *harness {
	t.Helper()
	opts := meta.Options{InMemory: dir == ""}
	ms, err := meta.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeRunner{ms: ms, fn: copyFn, runs: map[string]int{}}
	h := &harness{t: t, ms: ms, fr: fr, dir: dir}
	h.svc = pipelines.New(ms, pipelines.Config{Runner: fr, Log: zerolog.Nop()})
	if err := h.svc.Start(context.Background(), "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	if h.svc != nil {
		h.svc.Stop()
		h.svc = nil
	}
	if h.ms != nil {
		h.ms.Close()
		h.ms = nil
	}
}

func (h *harness) repo(names ...string) {
	h.t.Helper()
	for _, n := range names {
		if _, err := h.ms.CreateRepo(context.Background(), n, "tester"); err != nil {
			h.t.Fatal(err)
		}
	}
}

// put writes key=value on repo's main (nil value deletes).
func (h *harness) put(repo string, kv ...string) string {
	h.t.Helper()
	var cs []meta.Change
	for i := 0; i+1 < len(kv); i += 2 {
		c := meta.Change{Key: kv[i]}
		if kv[i+1] != "<delete>" {
			c.Entry = &meta.Entry{Content: sum(kv[i+1]), Size: int64(len(kv[i+1]))}
		}
		cs = append(cs, c)
	}
	res, err := h.ms.Write(context.Background(), meta.WriteRequest{Repo: repo, Branch: "main", Author: "tester", Changes: cs})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Version
}

func (h *harness) create(spec string) *pipelines.Pipeline {
	h.t.Helper()
	sp, err := pipelines.Parse([]byte(spec))
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := h.svc.Create(context.Background(), sp, pipelines.CreateOptions{User: "tester"})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) wait() *pipelines.Job {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.svc.WaitIdle(ctx); err != nil {
		h.t.Fatalf("pipelines still busy: %v", err)
	}
	return h.lastJob("")
}

// waitJob waits until pipe's last job satisfies cond (described by what)
// and returns it; it fails the test after 20 s, showing the job. The service
// announces no event when a job's stats change (results are saved by its job
// loop), so this polls, with that deadline.
func (h *harness) waitJob(pipe, what string, cond func(*pipelines.Job) bool) *pipelines.Job {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j := h.lastJob(pipe)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("pipeline %s: no job %s within 20s; last job %+v", pipe, what, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) lastJob(pipe string) *pipelines.Job {
	h.t.Helper()
	jobs, err := h.svc.ListJobs(context.Background(), pipe, 1)
	if err != nil || len(jobs) == 0 {
		h.t.Fatalf("no job: %v", err)
	}
	return jobs[0]
}

// keys lists repo@main's keys.
func (h *harness) keys(repo string) map[string]*meta.Entry {
	h.t.Helper()
	r, err := h.ms.Resolve(context.Background(), repo, "main")
	if err != nil {
		h.t.Fatal(err)
	}
	pg, err := h.ms.List(context.Background(), r.Root(), "", "", "", 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*meta.Entry{}
	for _, ke := range pg.Entries {
		out[ke.Key] = ke.Entry
	}
	return out
}

func (h *harness) head(repo string) string {
	r, err := h.ms.Resolve(context.Background(), repo, "main")
	if err != nil {
		h.t.Fatal(err)
	}
	return r.CommitID()
}

func wantStats(t *testing.T, j *pipelines.Job, total, processed, skipped, removed int) {
	t.Helper()
	st := j.Stats
	if j.State != pipelines.JobSuccess || st.Total != total || st.Processed != processed || st.Skipped != skipped || st.Removed != removed {
		t.Fatalf("job %s: %s (%s), stats %+v; want success with total %d processed %d skipped %d removed %d",
			j.ID, j.State, j.Reason, st, total, processed, skipped, removed)
	}
}

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

const globSpec = `
name: out
input: {pfs: {repo: inp, glob: "/*"}}
transform: {cmd: [copy]}
`

func TestIncrementalJobs(t *testing.T) {
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2", "c", "3")
	h.create(globSpec)
	j := h.wait()
	wantStats(t, j, 3, 3, 0, 0)
	if got := sortedKeys(h.keys("out")); strings.Join(got, ",") != "a.out,b.out,c.out" {
		t.Fatalf("outputs %v", got)
	}
	// The output commit records the job; the outputs their provenance.
	c, err := h.ms.GetCommit(context.Background(), "out", h.head("out"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != j.OutputCommit || c.Meta[pipelines.MetaJob] != j.ID || c.Meta[pipelines.MetaPipeline] != "out@1" ||
		!strings.Contains(c.Meta[pipelines.MetaInputs], "inp@"+h.head("inp")) {
		t.Errorf("output commit %+v", c)
	}
	e := h.keys("out")["b.out"]
	rec, err := h.ms.GetProv(context.Background(), e.Prov)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Pipeline != "out" || rec.Version != 1 || rec.Job != j.ID || len(rec.Inputs) != 1 ||
		rec.Inputs[0].Key != "b" || rec.Inputs[0].Content != sum("2") || rec.Inputs[0].Commit != h.head("inp") {
		t.Errorf("provenance of b.out: %+v", rec)
	}

	steps := []struct {
		name                               string
		kv                                 []string
		total, processed, skipped, removed int
		outs                               string
	}{
		{"add one", []string{"d", "4"}, 4, 1, 3, 0, "a.out,b.out,c.out,d.out"},
		{"change one", []string{"b", "22"}, 4, 1, 3, 0, "a.out,b.out,c.out,d.out"},
		{"delete one", []string{"c", "<delete>"}, 3, 0, 3, 1, "a.out,b.out,d.out"},
		{"same content again", []string{"a", "1"}, 3, 0, 3, 0, "a.out,b.out,d.out"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			h.put("inp", s.kv...)
			j := h.wait()
			wantStats(t, j, s.total, s.processed, s.skipped, s.removed)
			if got := strings.Join(sortedKeys(h.keys("out")), ","); got != s.outs {
				t.Errorf("outputs %s, want %s", got, s.outs)
			}
		})
	}
	// Each datum ran once per content it had.
	for k, n := range map[string]int{"inp:a": 1, "inp:b": 2, "inp:c": 1, "inp:d": 1} {
		if got := h.fr.count(k); got != n {
			t.Errorf("datum %s ran %d times, want %d", k, got, n)
		}
	}
	// c comes back with its old content: its outputs are carried over.
	t.Run("carry over", func(t *testing.T) {
		h.put("inp", "c", "3")
		j := h.wait()
		wantStats(t, j, 4, 0, 4, 0)
		if j.Stats.Carried != 1 || h.fr.count("inp:c") != 1 {
			t.Errorf("carried %d, c ran %d times", j.Stats.Carried, h.fr.count("inp:c"))
		}
		if e := h.keys("out")["c.out"]; e == nil || e.Prov == "" {
			t.Errorf("c.out not carried over with its provenance: %+v", e)
		}
	})
}

func TestCombinedInputs(t *testing.T) {
	for _, c := range []struct {
		name  string
		spec  string
		first [3]int // total, processed, skipped
		kv    []string
		next  [3]int
	}{
		{"cross", `name: out
input: {cross: [{pfs: {repo: ina, glob: "/*"}}, {pfs: {repo: inb, glob: "/"}}]}
transform: {cmd: [x]}`, [3]int{2, 2, 0}, []string{"inb", "y", "2"}, [3]int{2, 2, 0}},
		{"cross-add-left", `name: out
input: {cross: [{pfs: {repo: ina, glob: "/*"}}, {pfs: {repo: inb, glob: "/*"}}]}
transform: {cmd: [x]}`, [3]int{2, 2, 0}, []string{"ina", "a3", "3"}, [3]int{3, 1, 2}},
		{"union", `name: out
input: {union: [{pfs: {repo: ina, glob: "/*"}}, {pfs: {repo: inb, glob: "/*"}}]}
transform: {cmd: [x]}`, [3]int{3, 3, 0}, []string{"inb", "y", "2"}, [3]int{4, 1, 3}},
		{"join", `name: out
input: {join: [{pfs: {repo: ina, glob: "/(a*)", join_on: "$1"}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1"}}]}
transform: {cmd: [x]}`, [3]int{0, 0, 0}, []string{"inb", "a2", "2"}, [3]int{1, 1, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "")
			h.repo("ina", "inb")
			h.put("ina", "a1", "1", "a2", "2")
			h.put("inb", "x", "1")
			h.fr.setFn(func(_ context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
				return map[string]string{d.ID: "x"}, 0, ""
			})
			h.create(c.spec)
			j := h.wait()
			wantStats(t, j, c.first[0], c.first[1], c.first[2], 0)
			h.put(c.kv[0], c.kv[1:]...)
			j = h.wait()
			wantStats(t, j, c.next[0], c.next[1], c.next[2], 0)
		})
	}
}

func TestCollisionFailsTheJob(t *testing.T) {
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "a", "1")
	h.create(globSpec)
	h.wait()
	head := h.head("out")
	h.fr.setFn(func(_ context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		return map[string]string{"same.txt": d.ID}, 0, ""
	})
	h.put("inp", "b", "2", "c", "3")
	j := h.wait()
	if j.State != pipelines.JobFailure || !strings.Contains(j.Reason, `both write output key "same.txt"`) ||
		!strings.Contains(j.Reason, "inp:b") || !strings.Contains(j.Reason, "inp:c") {
		t.Fatalf("job %s: %s", j.State, j.Reason)
	}
	if h.head("out") != head {
		t.Error("a failed job made an output commit")
	}
	if ocs, _ := h.ms.ListOpenCommits(context.Background(), "out"); len(ocs) != 0 {
		t.Errorf("open commits left: %+v", ocs)
	}
}

func TestFailedDatumRetriedThenJobFails(t *testing.T) {
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "good", "1")
	h.create(`name: out
input: {pfs: {repo: inp, glob: "/*"}}
transform: {cmd: [x]}
datum_tries: 2`)
	h.wait()
	head := h.head("out")
	broken := true
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "inp:bad" && broken {
			return nil, 7, "starting\nline 2\nboom: cannot parse bad\n"
		}
		return copyFn(ctx, d)
	})
	h.put("inp", "bad", "2", "fine", "3")
	j := h.wait()
	if j.State != pipelines.JobFailure || len(j.FailedDatums) != 1 {
		t.Fatalf("job %s (%s), failed %+v", j.State, j.Reason, j.FailedDatums)
	}
	f := j.FailedDatums[0]
	if f.ExitCode != 7 || f.Attempts != 2 || !strings.Contains(f.LogTail, "boom: cannot parse bad") || f.Inputs[0] != "inp:bad" {
		t.Errorf("failed datum %+v", f)
	}
	if n := h.fr.count("inp:bad"); n != 2 {
		t.Errorf("bad ran %d times, want 2 (datum_tries)", n)
	}
	if h.head("out") != head {
		t.Error("a failed job made an output commit")
	}
	if _, ok := h.keys("out")["fine.out"]; ok {
		t.Error("an output of the failed job is visible")
	}
	// The next commit's job runs the datums again.
	broken = false
	h.put("inp", "more", "4")
	j = h.wait()
	wantStats(t, j, 4, 3, 1, 0)
	if got := strings.Join(sortedKeys(h.keys("out")), ","); got != "bad.out,fine.out,good.out,more.out" {
		t.Errorf("outputs %s", got)
	}
	// The failed job's provenance records are gone; the new ones stay.
	if e := h.keys("out")["fine.out"]; e.Prov == "" {
		t.Error("no provenance")
	} else if _, err := h.ms.GetProv(context.Background(), e.Prov); err != nil {
		t.Error(err)
	}
}

func TestCommitsCoalesce(t *testing.T) {
	h := newHarness(t, "")
	h.repo("inp")
	h.create(globSpec)
	h.wait()
	release := make(chan struct{})
	started := make(chan struct{}, 100)
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return copyFn(ctx, d)
	})
	h.put("inp", "k00", "0")
	<-started // a job is running
	for i := 1; i < 50; i++ {
		h.put("inp", fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	close(release)
	j := h.wait()
	wantStats(t, j, 50, 49, 1, 0)
	jobs, _ := h.svc.ListJobs(context.Background(), "out", 0)
	if len(jobs) != 3 {
		t.Errorf("%d jobs for 51 commits, want 3 (first, running, coalesced)", len(jobs))
	}
	for i := 0; i < 50; i++ {
		if n := h.fr.count(fmt.Sprintf("inp:k%02d", i)); n != 1 {
			t.Errorf("k%02d ran %d times", i, n)
		}
	}
}

func TestJobResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2", "slow", "3")
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "inp:slow" {
			<-ctx.Done()
			return nil, -1, ""
		}
		return copyFn(ctx, d)
	})
	h.create(globSpec + "parallelism: 3\n")
	// Wait until a and b are done and slow runs.
	h.waitJob("out", "running with 2 datums processed", func(j *pipelines.Job) bool {
		return j.State == pipelines.JobRunning && j.Stats.Processed == 2
	})
	before := h.head("out")
	h.close() // the "crash": the job is left running
	h2 := newHarness(t, dir)
	if h2.head("out") != before {
		t.Fatal("an output commit appeared before the job ended")
	}
	j := h2.wait()
	wantStats(t, j, 3, 3, 0, 0)
	if got := strings.Join(sortedKeys(h2.keys("out")), ","); got != "a.out,b.out,slow.out" {
		t.Errorf("outputs %s", got)
	}
	if h2.fr.count("inp:a") != 0 || h2.fr.count("inp:slow") != 1 {
		t.Errorf("after the restart a ran %d times, slow %d", h2.fr.count("inp:a"), h2.fr.count("inp:slow"))
	}
	// One output commit on top of the repo's first commit; nothing left open.
	log, err := h2.ms.Log(context.Background(), mustCommit(t, h2.ms, "out", h2.head("out")), 10)
	if err != nil || len(log) != 2 {
		t.Errorf("output history: %d commits, %v", len(log), err)
	}
	if ocs, _ := h2.ms.ListOpenCommits(context.Background(), "out"); len(ocs) != 0 {
		t.Errorf("open commits left: %+v", ocs)
	}
}

func mustCommit(t *testing.T, ms *meta.Store, repo, id string) *meta.Commit {
	c, err := ms.GetCommit(context.Background(), repo, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUpdateKillsRunningJob: updating a pipeline cancels its running job's
// Run (the kubernetes runner then deletes its Jobs) and ends that job
// killed; a job of the new version processes the inputs.
func TestUpdateKillsRunningJob(t *testing.T) {
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "a", "1")
	running := make(chan struct{})
	var once sync.Once
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		once.Do(func() { close(running) })
		<-ctx.Done() // runs until cancelled
		return nil, 1, "cancelled\n"
	})
	p := h.create(globSpec)
	<-running
	old := h.lastJob("")
	h.fr.setFn(copyFn)
	sp := p.Spec
	sp.Transform.Env = map[string]string{"V": "2"}
	if _, err := h.svc.Update(context.Background(), &sp); err != nil {
		t.Fatal(err)
	}
	j := h.wait()
	wantStats(t, j, 1, 1, 0, 0)
	if j.ID == old.ID || j.Version != 2 || j.State != pipelines.JobSuccess {
		t.Fatalf("last job %s v%d %s, want a new job of version 2 succeeding", j.ID, j.Version, j.State)
	}
	killed, err := h.svc.GetJob(context.Background(), old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if killed.State != pipelines.JobKilled || !strings.Contains(killed.Reason, "updated to version 2") {
		t.Fatalf("job of version 1: %s (%s), want killed because the pipeline was updated", killed.State, killed.Reason)
	}
	if ocs, _ := h.ms.ListOpenCommits(context.Background(), "out"); len(ocs) != 0 {
		t.Errorf("open commits left: %+v", ocs)
	}
}

func TestUpdateReprocessesAndDelete(t *testing.T) {
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2")
	p := h.create(globSpec)
	h.wait()
	sp := p.Spec
	sp.Transform.Env = map[string]string{"V": "2"}
	p2, err := h.svc.Update(context.Background(), &sp)
	if err != nil || p2.Version != 2 {
		t.Fatalf("update: %v %+v", err, p2)
	}
	j := h.wait()
	wantStats(t, j, 2, 2, 0, 0)
	if j.Version != 2 || !j.Full {
		t.Errorf("job version %d full %v", j.Version, j.Full)
	}
	if err := h.svc.Delete(context.Background(), "out", pipelines.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ms.GetRepo(context.Background(), "out"); err == nil {
		t.Error("the output repo survived")
	}
	if list, _ := h.svc.List(context.Background()); len(list) != 0 {
		t.Errorf("pipelines left: %d", len(list))
	}
	if jobs, _ := h.svc.ListJobs(context.Background(), "", 0); len(jobs) != 0 {
		t.Errorf("jobs left: %d", len(jobs))
	}
}

func TestCreateChecksRepos(t *testing.T) {
	h := newHarness(t, "")
	h.repo("inp")
	for _, c := range []struct{ spec, says string }{
		{`name: out
input: {pfs: {repo: nope, glob: "/*"}}
transform: {cmd: [x]}`, "input.pfs.repo: repo nope does not exist"},
	} {
		sp, err := pipelines.Parse([]byte(c.spec))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Create(context.Background(), sp, pipelines.CreateOptions{}); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("got %v, want %q", err, c.says)
		}
	}
	h.create(globSpec)
	sp, _ := pipelines.Parse([]byte(`name: back
input: {pfs: {repo: out, name: prev, glob: "/*"}}
transform: {cmd: [x]}`))
	if _, err := h.svc.Create(context.Background(), sp, pipelines.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// out reading back's output would close a cycle.
	sp, _ = pipelines.Parse([]byte(`name: out
input: {cross: [{pfs: {repo: inp, glob: "/*"}}, {pfs: {repo: back, glob: "/"}}]}
transform: {cmd: [x]}`))
	if _, err := h.svc.Update(context.Background(), sp); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("got %v, want a cycle", err)
	}
}
