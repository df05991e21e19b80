package pipelines_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tusk-data/tusk/pipelines"
)

// TestMoveInBoundedBatches: the job moves finished datums' outputs into
// its commit in batches whose outputs stay under the bound (but for the
// batch's last datum), and every output lands exactly once. With
// parallelism 1 and 80 datums, the first chunk holds 20 datums; the first
// batch is held until they all ran, so that their results queue up and the
// bound (not their arrival) cuts the following batches.
func TestMoveInBoundedBatches(t *testing.T) {
	const bound, datums, each, chunk = 50, 80, 30, 20
	var mu sync.Mutex
	var batches [][]int
	ran, allRan := 0, make(chan struct{})
	defer pipelines.SetMoveBatching(bound, func(batch []pipelines.Result) {
		mu.Lock()
		first := len(batches) == 0
		mu.Unlock()
		if first {
			select {
			case <-allRan:
			case <-time.After(20 * time.Second): // a failsafe: the counts below then fail
			}
		}
		if len(batch) == 0 {
			return
		}
		var outs []int
		for _, r := range batch {
			outs = append(outs, r.Outputs)
		}
		mu.Lock()
		batches = append(batches, outs)
		mu.Unlock()
	})()
	h := newHarness(t, "")
	h.repo("mvin")
	var kv []string
	for i := 0; i < datums; i++ {
		kv = append(kv, fmt.Sprintf("in%02d", i), fmt.Sprintf("body %d", i))
	}
	h.put("mvin", kv...)
	h.fr.setFn(func(_ context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
		mu.Lock()
		if ran++; ran == chunk {
			close(allRan)
		}
		mu.Unlock()
		outs := map[string]string{}
		for _, in := range d.Inputs {
			for _, f := range in.Files {
				for i := 0; i < each; i++ {
					outs[fmt.Sprintf("%s/%02d", f.Key, i)] = f.Content
				}
			}
		}
		return outs, 0, "ok\n"
	})
	h.create(`name: mvout
input: {pfs: {repo: mvin, glob: "/*"}}
transform: {cmd: ["x"]}
parallelism: 1
`)
	j := h.wait()
	if j.State != pipelines.JobSuccess || j.Stats.Processed != datums || j.Stats.Outputs != datums*each {
		t.Fatalf("job %s: %s %+v", j.State, j.Reason, j.Stats)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := 0
	for _, b := range batches {
		if len(b) > 2 {
			t.Errorf("a batch of %d datums of %d outputs each (bound %d)", len(b), each, bound)
		}
		sum := 0
		for _, n := range b[:len(b)-1] {
			sum += n
		}
		if sum >= bound {
			t.Errorf("a batch held %d outputs before its last datum (bound %d): %v", sum, bound, b)
		}
		seen += len(b)
	}
	if seen != datums {
		t.Errorf("batches held %d results, want %d", seen, datums)
	}
	// The first chunk's results but the first batch's and the last one
	// queued while the first batch was held: two per batch at most.
	if min := 1 + (chunk-len(batches[0])-1)/2; len(batches) < min {
		t.Errorf("%d batches, want %d at least", len(batches), min)
	}
}
