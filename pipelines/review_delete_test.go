package pipelines_test

import (
	"context"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

func TestReviewDeleteWipesOtherPipelinesState(t *testing.T) {
	h := newHarness(t, "")
	h.repo("inp")
	h.put("inp", "a", "1", "b", "2")
	h.create("name: res\ninput: {pfs: {repo: inp, glob: \"/*\"}}\ntransform: {cmd: [x]}\n")
	h.create("name: res-b\ninput: {pfs: {repo: inp, glob: \"/*\"}}\ntransform: {cmd: [x]}\n")
	h.wait()
	if st, _ := h.svc.GetState(context.Background(), "res-b"); st == nil {
		t.Fatal("no state before")
	}
	if err := h.svc.Delete(context.Background(), "res", pipelines.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.svc.GetState(context.Background(), "res-b"); st == nil {
		h.put("inp", "c", "3")
		j := h.wait()
		t.Fatalf("deleting pipeline res wiped the state of pipeline res-b; its next job is full=%v %+v", j.Full, j.Stats)
	}
}
