package pipelines

// Failure policy and reprocessing rules:
//
//   - on_failure (Spec.OnFailure): "fail" (default) ends a job whose datums
//     failed without an output commit; "commit_partial" commits the outputs
//     of the datums that succeeded and ends the job JobPartial. The datums
//     that failed are recorded (pl/fd/<pipeline>/<datum>, FailedRef) and
//     the next job processes them again (the planner touches their leaves),
//     while it skips the good ones.
//   - job_retries (Spec.JobRetries, default 2): a job that ends failed or
//     partial is retried by itself after a backoff (Config.RetryBackoff,
//     doubling per attempt up to Config.RetryBackoffMax), each retry a new
//     job with Attempt one more and Cause "retry". A job queued by a new
//     input commit or a spec update supersedes the pending retry.
//     Service.RestartJob re-runs a failed, partial or killed job now.
//   - reprocessing (Spec.Fingerprint): a datum's outputs are reused while
//     the pipeline's datum version is unchanged; an update changes it only
//     when it changes a field outside InPlaceFields (the transform, the
//     input tree, ...), or when asked to (UpdateOptions.Reprocess).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// On-failure policies (Spec.OnFailure).
const (
	OnFailureFail          = "fail"
	OnFailureCommitPartial = "commit_partial"
)

// Job retry defaults.
const (
	DefaultJobRetries = 2
	MaxJobRetries     = 100
	// DefaultRetryBackoff is the wait before a failed job's first retry;
	// it doubles for each further attempt, up to DefaultRetryBackoffMax.
	DefaultRetryBackoff    = 10 * time.Second
	DefaultRetryBackoffMax = 5 * time.Minute
)

// Job causes (Job.Cause): why a job re-runs an ended one.
const (
	CauseRetry   = "retry"
	CauseRestart = "restart"
)

// InPlaceFields are the spec fields an update changes in place: no
// datum's output depends on them, so no datum is reprocessed. Every other
// field (transform: cmd, stdin, env, image; input: repos, branches, globs,
// join_on, names, the tree; output_branch; and any field added later
// unless it is listed here) makes the next job reprocess every datum.
//
// datum_tries and datum_timeout decide whether a try counts, not what a
// successful try writes (a failed datum is processed again anyway).
// runner is in place: the transform (image, cmd, env) is the contract of
// what a datum computes; a change of runner alone that changes outputs
// calls for `tusk pipeline update --reprocess`.
var InPlaceFields = []string{"description", "parallelism", "runner", "datum_tries", "datum_timeout",
	"resource_requests", "resource_limits", "node_selector", "tolerations", "on_failure", "job_retries"}

func (s *Spec) validateFailure() error {
	switch s.OnFailure {
	case "", OnFailureFail, OnFailureCommitPartial:
	default:
		return specErr("on_failure", "unknown policy %q: use fail (the default: a failed datum fails the job, nothing is committed) or commit_partial (the other datums' outputs are committed)", s.OnFailure)
	}
	if s.JobRetries != nil && (*s.JobRetries < 0 || *s.JobRetries > MaxJobRetries) {
		return specErr("job_retries", "%d is out of range 0-%d", *s.JobRetries, MaxJobRetries)
	}
	return nil
}

// Retries is JobRetries with its default.
func (s *Spec) Retries() int {
	if s.JobRetries == nil {
		return DefaultJobRetries
	}
	return *s.JobRetries
}

// CommitsPartial reports whether on_failure is commit_partial.
func (s *Spec) CommitsPartial() bool { return s.OnFailure == OnFailureCommitPartial }

// Fingerprint hashes what the datums' outputs depend on: the spec without
// its InPlaceFields. Two specs with the same fingerprint process datums
// alike.
func (s *Spec) Fingerprint() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Spec always encodes
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	for _, f := range InPlaceFields {
		delete(m, f)
	}
	b, err = json.Marshal(m) // map keys sorted
	if err != nil {
		panic(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// DatumVer is the pipeline's datum version (DatumVersion, or Version in
// records older than it).
func (p *Pipeline) DatumVer() int {
	if p.DatumVersion > 0 {
		return p.DatumVersion
	}
	return p.Version
}

// DatumVer is the job's datum version (DatumVersion, or Version).
func (j *Job) DatumVer() int {
	if j.DatumVersion > 0 {
		return j.DatumVersion
	}
	return j.Version
}

// DatumVer is the state's datum version (DatumVersion, or Version).
func (st *State) DatumVer() int {
	if st.DatumVersion > 0 {
		return st.DatumVersion
	}
	return st.Version
}

// attempt is the job's attempt number (1 for older records).
func (j *Job) attempt() int { return max(1, j.Attempt) }

// retryDelay is the wait before retrying a job that ended at attempt n.
func (s *Service) retryDelay(n int) time.Duration {
	base, limit := s.cfg.RetryBackoff, s.cfg.RetryBackoffMax
	if base <= 0 {
		base = DefaultRetryBackoff
	}
	if limit <= 0 {
		limit = max(base, DefaultRetryBackoffMax)
	}
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// scheduleRetry sets j.RetryAt when j ended failed or partial and its spec
// allows another automatic attempt.
func (jr *jobRun) scheduleRetry() {
	j := jr.job
	j.RetryAt = nil
	if j.State != JobFailure && j.State != JobPartial {
		return
	}
	sp := jr.spec
	if sp == nil {
		sp = j.Spec
	}
	if sp == nil {
		p, err := jr.s.Get(context.WithoutCancel(jr.ctx), j.Pipeline)
		if err != nil {
			return
		}
		sp = &p.Spec
	}
	if j.attempt() > sp.Retries() {
		return
	}
	at := jr.now().Add(jr.s.retryDelay(j.attempt()))
	j.RetryAt = &at
}

// ---- failed datums of partial jobs ----

// FailedRef is a datum that failed in a committed (partial) job: the next
// job processes it again.
type FailedRef struct {
	Leaves []LeafRef `json:"l"`
}

// saveFailed makes the job's failed datums the pipeline's failed set (the
// job's plan re-examined every datum of the previous set). It returns how
// many of them have no committed datum (they are not in State.Datums).
// Idempotent: finish may run it again after a crash.
func (jr *jobRun) saveFailed(ctx context.Context) (int, error) {
	s, pipe := jr.s, jr.job.stateKey() // the pipeline, or a gate lane
	recs := map[string]any{}
	uncommitted := 0
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		return kv.Scan(txn, pJobDatum+jr.job.ID+"/", func(_ string, v []byte) error {
			var d JobDatum
			if err := jsonUnmarshal(v, &d); err != nil {
				return err
			}
			if d.State != DatumFailed {
				return nil
			}
			recs[pFailed+pipe+"/"+d.ID] = &FailedRef{Leaves: d.Leaves}
			if _, err := txn.Get([]byte(pTop + pipe + "/" + d.ID)); errs.Is(err, errs.NotExist) {
				uncommitted++
			} else if err != nil {
				return err
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	if err := s.deletePrefix(ctx, pFailed+pipe+"/"); err != nil {
		return 0, err
	}
	return uncommitted, s.putRecs(ctx, recs)
}

// touchFailed adds the leaf datums of the pipeline's failed datums to the
// delta (unchanged), so that the plan re-examines every datum holding them:
// a failed datum still valid is processed again (its hash differs from its
// committed one, or it has none); the others are skipped as unchanged.
func (pl *planner) touchFailed() error {
	if pl.full {
		return nil
	}
	var refs []LeafRef
	err := pl.rec.View(pl.ctx, func(txn kv.Reader) error {
		return kv.Scan(txn, pFailed+pl.name+"/", func(_ string, v []byte) error {
			var f FailedRef
			if err := jsonUnmarshal(v, &f); err != nil {
				return err
			}
			refs = append(refs, f.Leaves...)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, r := range refs {
		if r.Leaf < 0 || r.Leaf >= len(pl.delta) {
			continue
		}
		if _, ok := pl.delta[r.Leaf][r.Path]; ok {
			continue
		}
		ld, err := pl.committed(r.Leaf, r.Path)
		if err != nil {
			return err
		}
		if ld != nil {
			pl.delta[r.Leaf][r.Path] = *ld
		}
	}
	return nil
}

// ---- retries and restarts ----

// origin makes a queued job re-run an ended one.
type origin struct {
	of    *Job
	cause string
}

// errSuperseded: the job a retry was for is no longer its pipeline's
// newest.
var errSuperseded = errs.E("pipelines.retry", errs.Conflict, "superseded")

// check refuses to queue unless last is still the job re-run.
func (o *origin) check(last *Job) error {
	if last == nil || last.ID != o.of.ID {
		if o.cause == CauseRetry {
			return errSuperseded
		}
		if last != nil && !last.Done() {
			return errs.E("pipelines.RestartJob", errs.Conflict, "pipeline %s has a %s job (%s); it takes the newest inputs", o.of.Pipeline, last.State, last.ID)
		}
		newest := ""
		if last != nil {
			newest = fmt.Sprintf(" (%s, %s)", last.ID, last.State)
		}
		return errs.E("pipelines.RestartJob", errs.Conflict, "job %s is not the newest job of pipeline %s%s; restart that one", o.of.ID, o.of.Pipeline, newest)
	}
	if o.cause == CauseRetry && last.RetryAt == nil {
		return errSuperseded
	}
	return nil
}

// retryWait returns the pipeline's newest job when it waits for its
// automatic retry (nil otherwise).
func (s *Service) retryWait(ctx context.Context, name string) (*Job, error) {
	var last *Job
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		var err error
		last, err = lastJobTx(txn, name)
		return err
	})
	if err != nil || last == nil || last.RetryAt == nil || (last.State != JobFailure && last.State != JobPartial) {
		return nil, err
	}
	return last, nil
}

// retry queues the automatic retry of job j (a no-op when a newer job
// superseded it).
func (s *Service) retry(ctx context.Context, j *Job) error {
	_, err := s.enqueue(ctx, j.Pipeline, true, &origin{of: j, cause: CauseRetry})
	if errors.Is(err, errSuperseded) {
		return nil
	}
	if err == nil {
		s.cfg.Log.Info().Str("pipeline", j.Pipeline).Str("job", j.ID).Int("attempt", j.attempt()+1).Msg("pipelines: retrying a failed job")
	}
	return err
}

// RestartJob re-runs job id now: a new job (Cause "restart", Attempt one
// more) over the inputs' newest commits. Only the pipeline's newest job can
// be restarted, and only when it ended failed, partial or killed (Conflict
// otherwise); NotExist when there is no such job.
func (s *Service) RestartJob(ctx context.Context, id string) (*Job, error) {
	j, err := s.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	switch j.State {
	case JobFailure, JobPartial, JobKilled:
	case JobSuccess:
		return nil, errs.E("pipelines.RestartJob", errs.Conflict, "job %s succeeded: there is nothing to re-run (tusk pipeline update --reprocess processes every datum again)", j.ID)
	default:
		return nil, errs.E("pipelines.RestartJob", errs.Conflict, "job %s is %s; only a failed, partial or killed job can be restarted", j.ID, j.State)
	}
	nj, err := s.enqueue(ctx, j.Pipeline, true, &origin{of: j, cause: CauseRestart})
	if err != nil {
		return nil, err
	}
	return nj, nil
}

// RetryState describes a pipeline waiting for a job's automatic retry.
type RetryState struct {
	Job     string    `json:"job"`     // the failed job
	At      time.Time `json:"at"`      // when it is retried
	Attempt int       `json:"attempt"` // the attempt the retry is
}

// Retrying returns the pending automatic retry of a pipeline (nil if
// none).
func (s *Service) Retrying(ctx context.Context, name string) (*RetryState, error) {
	j, err := s.retryWait(ctx, name)
	if err != nil || j == nil {
		return nil, err
	}
	return &RetryState{Job: j.ID, At: *j.RetryAt, Attempt: j.attempt() + 1}, nil
}

// updatedInPlace follows an update that changed no datum's dependency: a
// job is queued only when the newest ended failed, partial or killed.
func (s *Service) updatedInPlace(ctx context.Context, pr *pipeRun) error {
	var last *Job
	if err := s.rec.View(ctx, func(txn kv.Reader) error {
		var err error
		last, err = lastJobTx(txn, pr.name)
		return err
	}); err != nil {
		return err
	}
	if last != nil && (last.State == JobFailure || last.State == JobPartial || last.State == JobKilled) {
		if err := s.trigger(ctx, pr.name, true); err != nil {
			return err
		}
	}
	s.startLoop(pr)
	s.notify()
	return nil
}

// anySucceeded reports whether a datum of the job succeeded (processed,
// carried over or removed): a commit_partial job with none fails instead.
func (jr *jobRun) anySucceeded() bool {
	for _, d := range jr.datums {
		if d.State == DatumSuccess {
			return true
		}
	}
	return false
}
