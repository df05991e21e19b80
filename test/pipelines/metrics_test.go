package pipelines

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

// TestPipelineMetrics: /metrics shows, after each job, the jobs by state,
// the datums processed, skipped and failed, the tries' duration histogram
// and an empty queue.
func TestPipelineMetrics(t *testing.T) {
	e := start(t)
	e.mkRepo("nums")
	e.put("nums", "a.txt", []byte("1"))
	e.put("nums", "b.txt", []byte("2"))
	e.create(`name: checked
input: {pfs: {repo: nums, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['for f in nums/*; do if grep -q bad "$f"; then exit 3; fi; cp "$f" out/; done']
datum_tries: 1
`)
	wantJob(t, e.wait()["checked"], pipelines.JobSuccess, 2, 2, 0)
	e.put("nums", "c.txt", []byte("3"))
	wantJob(t, e.wait()["checked"], pipelines.JobSuccess, 3, 1, 2)
	m := e.metrics()
	for series, want := range map[string]string{
		`tusk_pipeline_jobs_ended_total{pipeline="checked",state="success"}`:              "2",
		`tusk_pipeline_jobs_ended_total{pipeline="checked",state="failure"}`:              "0",
		`tusk_pipeline_datums_total{pipeline="checked",result="processed"}`:               "3",
		`tusk_pipeline_datums_total{pipeline="checked",result="skipped"}`:                 "2",
		`tusk_pipeline_datums_total{pipeline="checked",result="failed"}`:                  "0",
		`tusk_pipeline_jobs{pipeline="checked",state="pending"}`:                          "0",
		`tusk_pipeline_jobs{pipeline="checked",state="running"}`:                          "0",
		`tusk_pipeline_datums_waiting{pipeline="checked"}`:                                "0",
		`tusk_pipeline_datum_duration_seconds_count{pipeline="checked",result="success"}`: "3",
		`tusk_pipeline_stopped{pipeline="checked"}`:                                       "0",
	} {
		if got := m[series]; got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
	e.put("nums", "d.txt", []byte("bad"))
	e.wait()
	jobs := e.jobs("checked") // newest first: the third job is the one that failed
	wantJob(t, jobs[len(jobs)-3], pipelines.JobFailure, 4, 0, 3)
	// At least: a failed job may be retried by itself.
	m = e.metrics()
	for series, want := range map[string]float64{
		`tusk_pipeline_jobs_ended_total{pipeline="checked",state="failure"}`:              1,
		`tusk_pipeline_datums_total{pipeline="checked",result="skipped"}`:                 5,
		`tusk_pipeline_datums_total{pipeline="checked",result="failed"}`:                  1,
		`tusk_pipeline_datum_duration_seconds_count{pipeline="checked",result="failure"}`: 1,
	} {
		if got, err := strconv.ParseFloat(m[series], 64); err != nil || got < want {
			t.Errorf("after the failed job: %s = %q, want >= %v", series, m[series], want)
		}
	}
	if got := m[`tusk_pipeline_datums_total{pipeline="checked",result="processed"}`]; got != "3" {
		t.Errorf("after the failed job: processed = %q, want 3", got)
	}
	// A deleted pipeline's series go.
	e.tusk(0, "pipeline", "delete", "checked")
	for series := range e.metrics() {
		if strings.Contains(series, `pipeline="checked"`) {
			t.Errorf("%s still on /metrics after the pipeline was deleted", series)
		}
	}
}

// metrics scrapes /metrics: sample (name{labels}) -> value.
func (e *env) metrics() map[string]string {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("GET /metrics: %v %s", err, resp.Status)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			out[l[:i]] = l[i+1:]
		}
	}
	return out
}
