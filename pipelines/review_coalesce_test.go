package pipelines_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

func TestReviewCoalesceSpurious(t *testing.T) {
	for round := 0; round < 30; round++ {
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
		<-started
		for i := 1; i < 50; i++ {
			h.put("inp", fmt.Sprintf("k%02d", i), fmt.Sprint(i))
		}
		close(release)
		h.wait()
		jobs, _ := h.svc.ListJobs(context.Background(), "out", 0)
		if len(jobs) != 3 {
			for _, j := range jobs {
				t.Logf("round %d job seq %d %s %+v inputs %v", round, j.Seq, j.State, j.Stats, j.Inputs)
			}
			lg, _ := h.ms.Log(context.Background(), mustCommit(t, h.ms, "out", h.head("out")), 100)
			t.Fatalf("round %d: %d jobs, %d commits on out@main", round, len(jobs), len(lg))
		}
		h.close()
	}
}
