package pipelines

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tusk-data/tusk/meta"
)

// Records in meta's store, in the namespace "pl/" (meta.Records; the
// constants below are relative to it):
//
//	pl/p/<pipeline>                          Pipeline
//	pl/s/<pipeline>                          State: what the last successful job processed
//	pl/ds/<pipeline>/<leaf %02d>/<path>      LeafDatum of the committed state
//	pl/dj/<pipeline>/<leaf %02d>/<join> 0 <path>  join index of the committed state
//	pl/td/<pipeline>/<datum>                 TopDatum of the committed state
//	pl/tr/<pipeline>/<leaf %02d>/<path> 0 <datum>  reverse index: datums holding a leaf datum
//	pl/ok/<pipeline>/<key>                   the datum that wrote an output key
//	pl/dh/<pipeline>/<hash>                  DoneDatum: outputs of a processed datum, by content hash
//	pl/jq/<pipeline>/<seq %016d>             job id (the pipeline's jobs, in order)
//	pl/j/<job>                               Job
//	pl/jd/<job>/<datum>                      JobDatum
//	pl/jl/<job>/<datum>                      the datum's log (its last try)
//	pl/jx/<job>/<leaf %02d>/<path>           the job's new LeafDatum (tombstone: Hash "")
//	pl/jo/<job>/<datum>                      DoneDatum of a datum the job processed (to pl/dh/ on success)
//	pl/fd/<pipeline>/<datum>                 FailedRef: a datum that failed in the committed state (partial job)
//
// namespace is the pipelines' meta.Records namespace.
const namespace = "pl/"

const (
	pPipe     = "p/"
	pState    = "s/"
	pLeaf     = "ds/"
	pJoinIdx  = "dj/"
	pTop      = "td/"
	pRev      = "tr/"
	pOwner    = "ok/"
	pDone     = "dh/"
	pJobQueue = "jq/"
	pJob      = "j/"
	pJobDatum = "jd/"
	pJobLog   = "jl/"
	pJobLeaf  = "jx/"
	pJobOut   = "jo/"
	pFailed   = "fd/"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Pipeline is a pipeline's record.
type Pipeline struct {
	Spec      Spec      `json:"spec"`
	Version   int       `json:"version"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	CreatedBy string    `json:"created_by,omitempty"`

	// DatumVersion is the version whose transform and inputs the datums'
	// outputs depend on: an update that changes none of them (failure.go,
	// Spec.Fingerprint) keeps it, so no datum is reprocessed. 0 (records
	// written before it existed) means Version.
	DatumVersion int `json:"datum_version,omitempty"`
	// Stopped says why the pipeline is stopped ("" when it runs): it
	// queues and runs no job until its spec is updated (stop.go).
	Stopped string `json:"stopped,omitempty"`
}

// Name is the pipeline's name.
func (p *Pipeline) Name() string { return p.Spec.Name }

// State is what the last successful job of a pipeline processed.
type State struct {
	Version int `json:"version"` // pipeline version of that job
	// Inputs holds per leaf input the commit processed and its live root.
	Inputs []StateInput `json:"inputs"`
	Datums int          `json:"datums"` // datums in that commit
	Job    string       `json:"job,omitempty"`

	// DatumVersion is that job's datum version (0: Version).
	DatumVersion int `json:"datum_version,omitempty"`
}

// StateInput is one leaf input's processed commit.
type StateInput struct {
	Repo   string    `json:"repo"`
	Branch string    `json:"branch"`
	Commit string    `json:"commit"`
	Root   meta.Hash `json:"root"`
}

// LeafDatum is one datum of one pfs input: the hash of its keys and
// contents, and its join key.
type LeafDatum struct {
	Hash  string `json:"h"`
	Join  string `json:"j,omitempty"`
	Files int    `json:"n,omitempty"`
}

// LeafRef names a leaf datum: pfs input index and datum path.
type LeafRef struct {
	Leaf int    `json:"l"`
	Path string `json:"p"`
}

// TopDatum is a datum of the pipeline as last committed: its content hash
// and the output keys it wrote.
type TopDatum struct {
	Hash    string    `json:"h"`
	Leaves  []LeafRef `json:"l"`
	Outputs []string  `json:"o,omitempty"`
	Prov    string    `json:"p,omitempty"`
}

// DoneDatum is what a processed datum (by content hash, pipeline version
// included) wrote: carried over when the same datum comes back.
type DoneDatum struct {
	Outputs []DoneOutput `json:"o"`
	Prov    string       `json:"p"`
}

// DoneOutput is one output object of a processed datum.
type DoneOutput struct {
	Key   string `json:"k"`
	Entry []byte `json:"e"` // meta.Entry.Encode()
}

// Job states.
const (
	JobPending   = "pending"
	JobRunning   = "running"
	JobFinishing = "finishing"
	JobSuccess   = "success"
	JobFailure   = "failure"
	JobKilled    = "killed"

	// JobPartial: some datums failed and the spec's on_failure is
	// commit_partial: the other datums' outputs were committed.
	JobPartial = "partial"
)

// Job is one run of a pipeline over one set of input commits.
type Job struct {
	ID       string `json:"id"`
	Pipeline string `json:"pipeline"`
	Version  int    `json:"version"`
	Seq      int64  `json:"seq"`
	State    string `json:"state"`
	// Spec is the spec the job runs (set when it starts).
	Spec *Spec `json:"spec,omitempty"`
	// Reason explains a failure.
	Reason string `json:"reason,omitempty"`

	Inputs       []meta.ProvInput `json:"inputs,omitempty"` // the input commits (Key "")
	OutputRepo   string           `json:"output_repo"`
	OutputBranch string           `json:"output_branch"`
	// OutputCommit is the job's open commit, which becomes its output
	// commit on success. StagingCommit takes the workers' uploads.
	OutputCommit  string `json:"output_commit,omitempty"`
	StagingCommit string `json:"staging_commit,omitempty"`
	Planned       bool   `json:"planned,omitempty"`
	Full          bool   `json:"full,omitempty"` // every datum was re-examined (new pipeline version)

	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitempty"`
	Finished time.Time `json:"finished,omitempty"`

	Stats        JobStats      `json:"stats"`
	FailedDatums []FailedDatum `json:"failed_datums,omitempty"`

	// DatumVersion is the pipeline's datum version the job ran (0: Version).
	DatumVersion int `json:"datum_version,omitempty"`
	// Attempt counts the runs of the same work: 1 (0 in older records) for
	// a job queued by a commit or an update, one more for each automatic
	// retry or restart (RetryOf names the job it re-runs; Cause says which).
	Attempt int    `json:"attempt,omitempty"`
	RetryOf string `json:"retry_of,omitempty"`
	Cause   string `json:"cause,omitempty"` // "" | retry | restart
	// RetryAt is when a failed (or partial) job is retried by itself, while
	// it is its pipeline's newest job (nil: no retry left, or superseded).
	RetryAt *time.Time `json:"retry_at,omitempty"`
	// Gate marks a gate job (gate.go): it ran on a source branch, in a lane.
	Gate *GateRef `json:"gate,omitempty"`
}

// Done reports whether the job ended.
func (j *Job) Done() bool {
	return j.State == JobSuccess || j.State == JobFailure || j.State == JobKilled || j.State == JobPartial
}

// JobStats counts a job's datums. Total is the number of datums in the
// input commits; Skipped = Total - Processed - Failed (unchanged datums,
// and Carried ones whose outputs came from an identical earlier datum).
type JobStats struct {
	Total     int `json:"total"`
	Processed int `json:"processed"`
	Skipped   int `json:"skipped"`
	Carried   int `json:"carried"`
	Removed   int `json:"removed"`
	Failed    int `json:"failed"`
	Pending   int `json:"pending"` // still to process (running jobs)
	Outputs   int `json:"outputs"` // output keys written
}

// FailedDatum summarizes a datum that failed all its tries.
type FailedDatum struct {
	ID       string    `json:"id"`
	Inputs   []string  `json:"inputs"` // "name:path"
	Attempts int       `json:"attempts"`
	ExitCode int       `json:"exit_code"`
	Error    string    `json:"error,omitempty"`
	LogTail  string    `json:"log_tail,omitempty"`
	Leaves   []LeafRef `json:"-"`
}

// Datum actions and states.
const (
	ActProcess = "process"
	ActCarry   = "carry"
	ActRemove  = "remove"

	DatumPending = "pending"
	DatumSuccess = "success"
	DatumFailed  = "failed"
	DatumSkipped = "skipped"
)

// JobDatum is one datum of a job that needed work.
type JobDatum struct {
	ID     string    `json:"id"`
	Hash   string    `json:"hash,omitempty"` // "" for removals
	Leaves []LeafRef `json:"leaves"`
	Action string    `json:"action"`
	State  string    `json:"state"`
	// OldOutputs are the keys the datum wrote before this job.
	OldOutputs []string `json:"old_outputs,omitempty"`
	Outputs    []string `json:"outputs,omitempty"`
	Prov       string   `json:"prov,omitempty"`
	// NewProv marks a provenance record made by this job (deleted if the
	// job fails).
	NewProv  bool      `json:"new_prov,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	ExitCode int       `json:"exit_code,omitempty"`
	Error    string    `json:"error,omitempty"`
	LogTail  string    `json:"log_tail,omitempty"`
	Started  time.Time `json:"started,omitempty"`
	Ended    time.Time `json:"ended,omitempty"`
}

// ---- record helpers ----

func leafKey(pipe string, leaf int, path string) string {
	return fmt.Sprintf("%s%s/%02d/%s", pLeaf, pipe, leaf, path)
}

func leafPrefix(pipe string, leaf int) string { return fmt.Sprintf("%s%s/%02d/", pLeaf, pipe, leaf) }

func joinKey(pipe string, leaf int, join, path string) string {
	return fmt.Sprintf("%s%s/%02d/%s\x00%s", pJoinIdx, pipe, leaf, join, path)
}

func joinPrefix(pipe string, leaf int, join string) string {
	return fmt.Sprintf("%s%s/%02d/%s\x00", pJoinIdx, pipe, leaf, join)
}

func revKey(pipe string, l LeafRef, datum string) string {
	return fmt.Sprintf("%s%s/%02d/%s\x00%s", pRev, pipe, l.Leaf, l.Path, datum)
}

func revPrefix(pipe string, l LeafRef) string {
	return fmt.Sprintf("%s%s/%02d/%s\x00", pRev, pipe, l.Leaf, l.Path)
}

func jobLeafKey(job string, leaf int, path string) string {
	return fmt.Sprintf("%s%s/%02d/%s", pJobLeaf, job, leaf, path)
}

func jobQueueKey(pipe string, seq int64) string {
	return fmt.Sprintf("%s%s/%016d", pJobQueue, pipe, seq)
}
