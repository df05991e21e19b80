package pipelines

import (
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/pipelines"
)

// TestGatewayDatumTimeout: a spec without datum_timeout gets the gateway's
// default bound (--pipeline-datum-timeout), so a hung command fails its
// datum instead of holding the job forever; a spec's own datum_timeout
// wins over it.
func TestGatewayDatumTimeout(t *testing.T) {
	e := &env{t: t, dir: t.TempDir()}
	e.cfg = gateway.Config{DataDir: e.dir, GCInterval: -1,
		Pipelines: gateway.PipelineConfig{WorkerCommand: []string{tuskBin, "worker"}, WorkDir: t.TempDir(),
			DatumTimeout: 500 * time.Millisecond}}
	e.srv = gatewaytest.Start(t, e.cfg)
	e.s3 = e.client(gatewaytest.AccessKey, gatewaytest.SecretKey)
	e.mkRepo("inbox")
	e.put("inbox", "a.txt", []byte("A"))
	spec := func(name, extra string) string {
		return `name: ` + name + `
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['sleep 2; cp "$TUSK_PFS"/inbox/* "$TUSK_PFS/out/"']
datum_tries: 1
job_retries: 0
` + extra
	}
	e.create(spec("hung", ""))
	e.create(spec("patient", "datum_timeout: 1m\n"))
	jobs := e.wait()
	if j := jobs["hung"]; j.State != pipelines.JobFailure || len(j.FailedDatums) != 1 || !strings.Contains(j.FailedDatums[0].Error, "timed out after 500ms") {
		t.Errorf("hung: %s (%s) %+v; want failed, its datum timed out after the gateway's 500ms", j.State, j.Reason, j.FailedDatums)
	}
	wantJob(t, jobs["patient"], pipelines.JobSuccess, 1, 1, 0)
	if out := e.tusk(0, "pipeline", "inspect", "hung"); !strings.Contains(out, "datum_timeout gateway default") {
		t.Errorf("tusk pipeline inspect hung:\n%s", out)
	}
}
