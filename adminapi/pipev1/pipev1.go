// Package pipev1 holds the wire types of the admin API's pipeline calls
// (/api/v1/pipelines, /jobs, /prov; docs/api.md, "Pipelines"). They carry
// the pipelines package's own records (spec, job, datum, provenance), so
// this package imports pipelines and nothing else of Tusk; the rest of the
// admin API's types are in the leaf package apiv1.
package pipev1

import (
	"time"

	"github.com/tusk-data/tusk/pipelines"
)

// PipelineInfo describes a pipeline.
type PipelineInfo struct {
	Name      string           `json:"name"`
	Version   int              `json:"version"`
	Spec      pipelines.Spec   `json:"spec"`
	Created   time.Time        `json:"created"`
	Updated   time.Time        `json:"updated"`
	CreatedBy string           `json:"created_by,omitempty"`
	Inputs    []string         `json:"inputs"` // repo@branch
	Output    string           `json:"output"` // repo@branch
	State     string           `json:"state"`  // idle | pending | running | failing (last job failed or partial) | retrying (as failing, with Retry pending) | stopped (see Stopped)
	LastJob   *pipelines.Job   `json:"last_job,omitempty"`
	Processed *pipelines.State `json:"processed,omitempty"` // what the last successful job processed

	// DatumVersion is the version whose transform and inputs the datums'
	// outputs depend on (Version after an update that reprocesses).
	DatumVersion int `json:"datum_version,omitempty"`
	// Retry is the automatic retry the pipeline waits for (state retrying).
	Retry *pipelines.RetryState `json:"retry,omitempty"`
	// Stopped says why the pipeline is stopped (State "stopped": its input
	// repo was deleted with force); tusk pipeline update restarts it.
	Stopped string `json:"stopped,omitempty"`
}

// JobRestart answers POST /jobs/{id}/restart: the job queued to re-run
// job Restarted.
type JobRestart struct {
	Restarted string         `json:"restarted"`
	Job       *pipelines.Job `json:"job"`
}

// JobList answers GET /jobs.
type JobList struct {
	Jobs []*pipelines.Job `json:"jobs"`
}

// DatumList answers GET /jobs/{id}/datums.
type DatumList struct {
	Job    string             `json:"job"`
	Datums []DatumInfo        `json:"datums"`
	Stats  pipelines.JobStats `json:"stats"`
}

// DatumInfo is one datum of a job that needed work.
type DatumInfo struct {
	*pipelines.JobDatum
	Inputs []string `json:"inputs"` // name:path
}

// IdleInfo answers GET /jobs/wait.
type IdleInfo struct {
	Idle bool             `json:"idle"`
	Jobs []*pipelines.Job `json:"jobs"` // the newest job of each pipeline waited for
}

// ProvInfo answers GET /repos/{repo}/prov.
type ProvInfo struct {
	Direction string              `json:"direction"` // upstream | downstream
	Root      *pipelines.ProvNode `json:"root"`
}

// LogInfo answers GET /pipelines/{name}/logs.
type LogInfo struct {
	Pipeline  string     `json:"pipeline"`
	Job       string     `json:"job"`
	Logs      []DatumLog `json:"logs"`
	Truncated bool       `json:"truncated,omitempty"` // more than limit datums
}

// DatumLog is the log of a datum's last try.
type DatumLog struct {
	Datum    string   `json:"datum"`
	Inputs   []string `json:"inputs"`
	State    string   `json:"state"`
	ExitCode int      `json:"exit_code"`
	Log      string   `json:"log"`
}

// TaskClaimRequest is the body of POST /tasks/{id}/claim.
type TaskClaimRequest struct {
	// Worker names the claiming worker (its pod's name): the runner gives
	// up on the datums a worker claimed when the worker fails.
	Worker string `json:"worker"`
}

// TaskClaim answers POST /tasks/{id}/claim: the datum to run and the token
// its result carries; Datum is nil when the task has no datum left.
type TaskClaim struct {
	Token string               `json:"token,omitempty"`
	Datum *pipelines.DatumTask `json:"datum,omitempty"`
	// LeaseMS is the claim's lease in milliseconds: the worker renews it
	// (POST /tasks/{id}/renew) every third of it while it runs the datum,
	// and kills the datum's command when it could not for a whole lease.
	// 0 (an older gateway): no renewal.
	LeaseMS int64 `json:"lease_ms,omitempty"`
}

// TaskRenew is the body of POST /tasks/{id}/renew: the claim and the datum
// as the worker was handed it (a gateway that restarted re-claims it).
type TaskRenew struct {
	Token  string              `json:"token"`
	Worker string              `json:"worker"`
	Datum  pipelines.DatumTask `json:"datum"`
}

// TaskLease answers POST /tasks/{id}/renew: the renewed lease.
type TaskLease struct {
	LeaseMS int64 `json:"lease_ms"`
}

// TaskResult is the body of POST /tasks/{id}/results.
type TaskResult struct {
	Token  string           `json:"token"`
	Result pipelines.Result `json:"result"`
}
