package pipelines_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/pipelines"
)

func leaseTask(ids ...string) *pipelines.Task {
	t := &pipelines.Task{AccessKey: "AK", SecretKey: "SK"}
	for _, id := range ids {
		t.Datums = append(t.Datums, pipelines.DatumTask{ID: id, Attempt: 1, Prefix: id + "/r-1/"})
	}
	return t
}

// TestBoardLeaseLapses: a claim not renewed for twice the lease is dropped
// and its datum reported as a failed try; renewing it afterwards is
// refused (the worker must stop), and so is its late result. A renewed
// claim stays.
func TestBoardLeaseLapses(t *testing.T) {
	b := pipelines.NewTaskBoard()
	b.SetLease(50 * time.Millisecond)
	results := make(chan pipelines.Result, 2)
	p, err := b.Post("t1", leaseTask("d1", "d2"), func(r pipelines.Result) { results <- r })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tok1, d1, err := b.Claim("t1", "AK", "pod-a")
	if err != nil || d1.ID != "d1" {
		t.Fatal(err, d1)
	}
	tok2, d2, _ := b.Claim("t1", "AK", "pod-b")
	// pod-b renews until d1 lapsed; pod-a never does.
	stop := make(chan struct{})
	renewed := make(chan error, 1)
	go func() {
		tick := time.NewTicker(15 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				renewed <- nil
				return
			case <-tick.C:
				if lease, err := b.Renew("t1", "AK", "pod-b", tok2, *d2); err != nil || lease != 50*time.Millisecond {
					renewed <- err
					return
				}
			}
		}
	}()
	r := <-results
	close(stop)
	if err := <-renewed; err != nil {
		t.Fatalf("renewing a live claim: %v", err)
	}
	if r.Datum != "d1" || r.OK() || !strings.Contains(r.Error, "did not renew its claim") {
		t.Fatalf("lapsed claim reported as %+v", r)
	}
	if _, err := b.Renew("t1", "AK", "pod-a", tok1, *d1); !errs.Is(err, errs.Conflict) {
		t.Errorf("renewing a lapsed claim: %v, want Conflict", err)
	}
	if err := b.Report("t1", "AK", tok1, pipelines.Result{Datum: "d1", Attempt: 1}); !errs.Is(err, errs.Conflict) {
		t.Errorf("the result of a lapsed claim: %v, want Conflict", err)
	}
	if err := b.Report("t1", "AK", tok2, pipelines.Result{Datum: "d2", Attempt: 1}); err != nil {
		t.Errorf("the result of a renewed claim: %v", err)
	}
}

// TestBoardReattachReclaims: a posting that re-attaches a previous
// gateway's workers (Hold) hands out no datum for the hold; a worker still
// running a datum claimed from the old board re-claims it by renewing
// (same try only), so that datum is never handed out again; its result is
// then taken.
func TestBoardReattachReclaims(t *testing.T) {
	b := pipelines.NewTaskBoard()
	b.SetLease(time.Minute)
	got := map[string]pipelines.Result{}
	p, err := b.Post("t1", leaseTask("d1", "d2"), func(r pipelines.Result) { got[r.Datum] = r })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Hold(time.Hour)
	if _, _, err := b.Claim("t1", "AK", "pod-new"); !errs.Is(err, errs.Transient) {
		t.Fatalf("claim during the hold: %v, want Transient (retried)", err)
	}
	old := pipelines.DatumTask{ID: "d1", Attempt: 1, Prefix: "d1/r-1/"}
	for _, c := range []struct {
		name string
		d    pipelines.DatumTask
		ok   bool
	}{
		{"another try", pipelines.DatumTask{ID: "d1", Attempt: 2, Prefix: "d1/r-2/"}, false},
		{"unknown datum", pipelines.DatumTask{ID: "zz", Attempt: 1}, false},
		{"same try", old, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := b.Renew("t1", "AK", "pod-old", "oldtok", c.d)
			if c.ok != (err == nil) || (!c.ok && !errs.Is(err, errs.Conflict)) {
				t.Fatalf("renew: %v, want ok=%v (else Conflict)", err, c.ok)
			}
		})
	}
	if _, err := b.Renew("t1", "AK", "pod-other", "othertok", old); !errs.Is(err, errs.Conflict) {
		t.Errorf("a second worker re-claiming d1: %v, want Conflict", err)
	}
	p.Hold(0)
	_, d, err := b.Claim("t1", "AK", "pod-new")
	if err != nil || d == nil || d.ID != "d2" {
		t.Fatalf("after the hold the next claim got %+v, %v; want d2 (d1 is re-claimed)", d, err)
	}
	if err := b.Report("t1", "AK", "oldtok", pipelines.Result{Datum: "d1", Attempt: 1}); err != nil || !got["d1"].OK() {
		t.Fatalf("the re-claimed datum's result: %v, %+v", err, got["d1"])
	}
}
