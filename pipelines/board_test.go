package pipelines_test

import (
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/pipelines"
)

// TestBoardAfterClose: once every datum of a task was reported, its
// workers' later calls (a worker between claims, or one that starts late)
// are told there is no datum left, not that the task does not exist
// (which a remote worker retries as a gateway restarting); a task closed
// with datums left (cancelled) is gone.
func TestBoardAfterClose(t *testing.T) {
	for _, tc := range []struct {
		name     string
		report   bool // report the one datum before Close
		wantGone bool
	}{
		{"finished", true, false},
		{"cancelled", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := pipelines.NewTaskBoard()
			var got []pipelines.Result
			p, err := b.Post("t1", &pipelines.Task{AccessKey: "AK", SecretKey: "SK", Datums: []pipelines.DatumTask{{ID: "d1", Attempt: 1}}},
				func(r pipelines.Result) { got = append(got, r) })
			if err != nil {
				t.Fatal(err)
			}
			tok, d, err := b.Claim("t1", "AK", "pod-a")
			if err != nil || d == nil || d.ID != "d1" {
				t.Fatalf("claim: %v %+v", err, d)
			}
			if tc.report {
				if err := b.Report("t1", "AK", tok, pipelines.Result{Datum: "d1", Attempt: 1}); err != nil {
					t.Fatal(err)
				}
				select {
				case <-p.Done():
				default:
					t.Fatal("Done is not closed after the last datum was reported")
				}
			}
			p.Close()
			p.FailAll("late") // reports nothing after Close
			if len(got) != map[bool]int{true: 1, false: 0}[tc.report] {
				t.Fatalf("reported %+v", got)
			}
			_, d, err = b.Claim("t1", "AK", "pod-b")
			task, gerr := b.Get("t1", "AK")
			if tc.wantGone {
				if !errs.Is(err, errs.NotExist) || !errs.Is(gerr, errs.NotExist) {
					t.Fatalf("claim and get of a cancelled task: %v, %v; want NotExist", err, gerr)
				}
				return
			}
			if err != nil || d != nil || gerr != nil || task == nil || task.SecretKey != "" {
				t.Fatalf("claim of a finished task: %+v, %v; get %+v, %v; want no datum, no error, the task without its secret", d, err, task, gerr)
			}
			if _, _, err := b.Claim("t1", "other", "pod-c"); !errs.Is(err, errs.Permission) {
				t.Fatalf("claim of a finished task with another key: %v, want Permission", err)
			}
		})
	}
}
