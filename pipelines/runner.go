package pipelines

import (
	"context"
	"time"
)

// Runner executes datums. Run runs the datums of t one after another in one
// worker (a process, a pod) and calls report once for each datum as it
// ends, in any order. It returns when every datum was reported or ctx is
// done; a datum it could not report (the worker died) counts as a failed
// try. report must not be called after Run returns. Implementations must
// pass the conformance suite in pipelines/runnertest.
type Runner interface {
	Run(ctx context.Context, t *Task, report func(Result)) error
}

// Task is the work handed to one worker: the datums to run and everything
// the worker needs to stage inputs and upload outputs through the S3 API.
type Task struct {
	Job      string `json:"job"`
	Pipeline string `json:"pipeline"`
	Version  int    `json:"version"`

	// S3 endpoint and the pipeline's own keys (read on the inputs, write
	// into the job's staging commit only).
	Endpoint  string `json:"endpoint"`
	Region    string `json:"region,omitempty"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`

	// OutputRepo and OutputCommit name the job's open commit on the
	// output branch (TUSK_OUTPUT_COMMIT). Outputs are uploaded to the
	// job's staging commit (bucket <first 16 of StagingCommit>.<OutputRepo>)
	// under <datum id>/<StagingPrefix>/<path in out/>; a datum's outputs
	// count only once it succeeds, when the job moves them into its commit.
	OutputRepo    string `json:"output_repo"`
	OutputCommit  string `json:"output_commit"`
	StagingCommit string `json:"staging_commit"`

	Cmd   []string          `json:"cmd"`
	Stdin []string          `json:"stdin,omitempty"`
	Env   map[string]string `json:"env,omitempty"`
	Image string            `json:"image,omitempty"`
	// Timeout bounds each datum's command (0: none).
	Timeout time.Duration `json:"timeout,omitempty"`
	// WorkDir is where the worker makes its datum directories ("" = the
	// system's temp dir).
	WorkDir string `json:"work_dir,omitempty"`

	// Pod settings of the kubernetes runner (the spec's; ignored by the
	// local runner).
	Requests     *Resources        `json:"requests,omitempty"`
	Limits       *Resources        `json:"limits,omitempty"`
	NodeSelector map[string]string `json:"node_selector,omitempty"`
	Tolerations  []Toleration      `json:"tolerations,omitempty"`

	Datums []DatumTask `json:"datums"`
}

// Detacher is a Runner whose workers can outlive the gateway (pods).
// Service.Stop calls Detach before it cancels the contexts of the running
// Run calls: a Run cancelled after Detach leaves its workers running, so
// that the next gateway re-attaches to them; a Run cancelled otherwise (the
// pipeline was deleted, the job stopped) stops and removes them.
type Detacher interface {
	Detach()
}

// DatumTask is one try of one datum.
type DatumTask struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
	// Prefix is where this try's outputs go in the staging commit:
	// "<datum id>/<run>-<attempt>/".
	Prefix string       `json:"prefix"`
	Inputs []DatumInput `json:"inputs"`
}

// DatumInput is one input's part of a datum: the keys to stage under
// $TUSK_PFS/<Name>/.
type DatumInput struct {
	Name   string      `json:"name"`
	Repo   string      `json:"repo"`
	Commit string      `json:"commit"`
	Files  []DatumFile `json:"files"`
}

// DatumFile is one key to stage.
type DatumFile struct {
	Key     string `json:"key"`
	Size    int64  `json:"size"`
	Content string `json:"content,omitempty"`
	// Version is the S3 version id of the key's version (provenance only:
	// workers stage by Content).
	Version string `json:"version,omitempty"`
}

// Result is the end of one try of one datum.
type Result struct {
	Datum   string `json:"datum"`
	Attempt int    `json:"attempt"`
	// ExitCode is the command's exit status (-1 when it did not run to an
	// exit: staging failed, it was killed, it timed out).
	ExitCode int `json:"exit_code"`
	// Error says why the try failed when the command's status does not
	// (staging, timeout, upload); "" on success.
	Error string `json:"error,omitempty"`
	// Log is the tail (at most MaxLog bytes) of the command's output and
	// the worker's notes; LogBytes is the full length.
	Log      string    `json:"log,omitempty"`
	LogBytes int64     `json:"log_bytes,omitempty"`
	Outputs  int       `json:"outputs"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
}

// OK reports whether the try succeeded.
func (r Result) OK() bool { return r.ExitCode == 0 && r.Error == "" }

// MaxLog bounds the log kept per datum try.
const MaxLog = 64 << 10
