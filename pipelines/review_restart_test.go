package pipelines_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

// A commit that lands while a job runs and whose event is not yet turned
// into a queued job when the gateway stops is never processed.
func TestReviewCommitLostAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	h.repo("inp")
	h.put("inp", "a", "1", "slow", "3")
	h.fr.setFn(func(ctx context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		if firstKey(d) == "inp:slow" {
			<-ctx.Done()
			return nil, -1, ""
		}
		return copyFn(ctx, d)
	})
	h.create(globSpec)
	h.waitJob("out", "running with 1 datum processed", func(j *pipelines.Job) bool {
		return j.State == pipelines.JobRunning && j.Stats.Processed == 1
	})
	h.svc.Stop()             // gateway stopping / crashing: dispatch is gone
	h.put("inp", "new", "9") // durable commit whose event is never dispatched
	h.svc = nil
	h.ms.Close()
	h.ms = nil
	h2 := newHarness(t, dir)
	h2.fr.setFn(copyFn)
	j := h2.wait()
	jobs, _ := h2.svc.ListJobs(context.Background(), "out", 0)
	t.Logf("%d jobs; last %s %+v; outputs %s", len(jobs), j.State, j.Stats, strings.Join(sortedKeys(h2.keys("out")), ","))
	if h2.keys("out")["new.out"] == nil {
		t.Fatalf("commit with key new was never processed (input head %s, last job inputs %v)", h2.head("inp"), j.Inputs)
	}
}
