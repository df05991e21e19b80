package pipelines

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/pipelines"
)

// tuskJSONErr runs the CLI with -o json, wants exit 1, and decodes the
// error it prints.
func (e *env) tuskJSONErr(v any, args ...string) {
	e.t.Helper()
	out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, append(args, "-o", "json")...)
	if code != 1 {
		e.t.Fatalf("tusk %s: exit %d, want 1\n%s", strings.Join(args, " "), code, out)
	}
	if err := json.NewDecoder(strings.NewReader(out)).Decode(v); err != nil {
		e.t.Fatalf("tusk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// gateJobs returns the gate jobs of pipe, newest first.
func (e *env) gateJobs(pipe string) []*pipelines.Job {
	e.t.Helper()
	all, err := e.srv.Pipelines.ListJobs(context.Background(), "", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*pipelines.Job
	for _, j := range all {
		if j.Pipeline == pipe && j.Gate != nil {
			out = append(out, j)
		}
	}
	return out
}

// TestMergeGate, through the CLI: a branch protected with a required
// pipeline refuses a merge until the pipeline has succeeded on the source's
// head (the refused merge starts its gate job; --wait waits for it and
// merges); the gate job processes the one changed datum and carries the
// others from main's job; a failing gate keeps refusing, even when asked
// again, until the source is fixed.
func TestMergeGate(t *testing.T) {
	e := start(t)
	e.mkRepo("data")
	for _, k := range []string{"a.txt", "b.txt", "c.txt"} {
		e.put("data", k, []byte("fine "+k))
	}
	e.create(`name: checked
input: {pfs: {repo: data, glob: "/*"}}
transform:
  cmd: [sh]
  stdin:
    - 'for f in "$TUSK_PFS"/data/*; do'
    - '  if grep -q bad "$f"; then echo "cannot parse $(basename "$f")" >&2; exit 3; fi'
    - '  cp "$f" "$TUSK_PFS/out/"'
    - 'done'
datum_tries: 1
`)
	wantJob(t, e.wait()["checked"], pipelines.JobSuccess, 3, 3, 0)
	e.tusk(0, "branch", "create", "data@dev")
	e.put("dev.data", "b.txt", []byte("better b"))

	out := e.tusk(0, "branch", "protect", "data@main", "--require-pipeline", "checked")
	if !strings.Contains(out, "once pipelines checked succeeded") {
		t.Errorf("tusk branch protect --require-pipeline:\n%s", out)
	}
	if out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "branch", "protect", "data@main", "--require-pipeline", "nope"); code != 1 || !strings.Contains(out, "nope") {
		t.Errorf("requiring an unknown pipeline: exit %d\n%s", code, out)
	}

	t.Run("refused until the gate passes", func(t *testing.T) {
		out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "merge", "data@dev", "data@main")
		if code != 1 || !strings.Contains(out, "needs pipelines checked to succeed on it first") || !strings.Contains(out, "gate job") {
			t.Fatalf("merge before the gate ran: exit %d\n%s", code, out)
		}
		if b, _ := e.get("data", "b.txt"); string(b) != "fine b.txt" {
			t.Errorf("the refused merge changed main: b.txt = %q", b)
		}
		out = e.tusk(0, "merge", "data@dev", "data@main", "--wait")
		if !strings.Contains(out, "Fast-forwarded data@main") || !strings.Contains(out, "gate: pipeline checked passed") {
			t.Errorf("merge --wait:\n%s", out)
		}
		if b, _ := e.get("data", "b.txt"); string(b) != "better b" {
			t.Errorf("after the merge: b.txt = %q", b)
		}
		gates := e.gateJobs("checked")
		if len(gates) != 1 {
			t.Fatalf("%d gate jobs, want 1", len(gates))
		}
		g := gates[0]
		if g.State != pipelines.JobSuccess || g.Stats.Processed != 1 || g.Stats.Carried != 2 || g.Stats.Skipped != 2 || g.OutputBranch != "dev" {
			t.Errorf("gate job %s (%s): stats %+v, output branch %s; want 1 processed, 2 carried from main, into dev", g.State, g.Reason, g.Stats, g.OutputBranch)
		}
		if b, _ := e.get("dev.checked", "b.txt"); string(b) != "better b" {
			t.Errorf("checked@dev b.txt = %q", b)
		}
	})

	t.Run("a failing gate keeps refusing", func(t *testing.T) {
		e.put("dev.data", "c.txt", []byte("bad c"))
		out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "merge", "data@dev", "data@main", "--wait")
		if code != 1 || !strings.Contains(out, "pipeline checked failed on dev") {
			t.Fatalf("merge --wait of a failing source: exit %d\n%s", code, out)
		}
		n := len(e.gateJobs("checked"))
		out, code = e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "merge", "data@dev", "data@main")
		if code != 1 || !strings.Contains(out, "pipeline checked failed on dev") || len(e.gateJobs("checked")) != n {
			t.Fatalf("merge again: exit %d, %d gate jobs (was %d)\n%s", code, len(e.gateJobs("checked")), n, out)
		}
		// The refusal as JSON (here, where the gate's answer cannot change
		// under the test: the refused merge above started a gate job that may
		// already have passed).
		var ae apiv1.APIError
		e.tuskJSONErr(&ae, "merge", "data@dev", "data@main")
		if ae.Code != "MergeGate" || len(ae.Gate) != 1 || ae.Gate[0].Pipeline != "checked" {
			t.Errorf("merge refusal as JSON: %+v", ae)
		}
		if b, _ := e.get("data", "c.txt"); string(b) != "fine c.txt" {
			t.Errorf("the refused merge changed main: c.txt = %q", b)
		}
		// Run again on demand: it fails again.
		if out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "pipeline", "run", "checked", "--branch", "dev", "--force", "--wait"); code != 1 || !strings.Contains(out, "failure") {
			t.Errorf("tusk pipeline run --force --wait: exit %d\n%s", code, out)
		}
		// Fixed: the merge passes.
		e.put("dev.data", "c.txt", []byte("good c"))
		e.tusk(0, "merge", "data@dev", "data@main", "--wait")
		if b, _ := e.get("data", "c.txt"); string(b) != "good c" {
			t.Errorf("after the fixed merge: c.txt = %q", b)
		}
	})
}
