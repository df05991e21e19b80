package pipelines

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/kv"
)

// Credentials issues the S3 keys a pipeline's workers use. The gateway
// implements it with a user of its own per pipeline, allowed to read the
// input repos and to write the output repo's staging commits only.
type Credentials interface {
	Key(ctx context.Context, pipeline string, inputs []string, output string) (accessKey, secret string, err error)
	// Drop revokes the pipeline's keys (the pipeline was deleted).
	Drop(ctx context.Context, pipeline string) error
	// User is the name of the pipeline's user (the author of its commits).
	User(pipeline string) string
}

// Config configures a Service.
type Config struct {
	// Endpoint is the S3 endpoint workers use (http://127.0.0.1:9000);
	// Start sets it when empty.
	Endpoint string
	Region   string
	// Runner runs the datums of pipelines with runner local (default: the
	// local runner, NewLocal(LocalConfig{})).
	Runner Runner
	// Kubernetes runs the datums of pipelines with runner kubernetes; nil
	// refuses such pipelines.
	Kubernetes Runner
	// Tasks is where runners whose workers fetch their work from the
	// gateway post it (the admin API serves it); nil: none.
	Tasks *TaskBoard
	Creds Credentials
	// WorkDir holds datum directories of the local runner (default: the
	// system's temp dir).
	WorkDir string
	Log     zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// RetryBackoff is the wait before a failed job's first automatic retry
	// (default DefaultRetryBackoff); it doubles for each further attempt,
	// up to RetryBackoffMax (default DefaultRetryBackoffMax).
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration

	// DatumTimeout bounds one try of a datum of a pipeline whose spec sets
	// no datum_timeout (datumtimeout.go); 0 or negative: no bound.
	DatumTimeout time.Duration
}

// Service runs pipelines: it watches branch moves, keeps each pipeline's
// job queue and runs its jobs one at a time, in order.
type Service struct {
	ms  *meta.Store
	rec *meta.Records
	cfg Config

	evMu     sync.Mutex
	events   []meta.HeadEvent
	evWake   chan struct{}
	inFlight int // events taken but not yet dispatched

	mu      sync.Mutex
	pipes   map[string]*pipeRun
	changed chan struct{} // closed and replaced when any job or pipeline changes
	started bool
	ready   bool // Start loaded the pipelines
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	runID   string

	metrics pipeMetrics // metrics.go
	gates   gateRuns    // gate lanes running jobs (gate.go)
}

// pipeRun is a loaded pipeline and its job loop.
type pipeRun struct {
	name    string
	p       *Pipeline
	wake    chan struct{}
	gen     int  // bumped on every trigger
	busy    bool // a job is pending or running
	cancel  context.CancelFunc
	kill    string            // why the running job is cancelled, to end killed (Update)
	job     string            // the job running now ("" between jobs)
	stop    map[string]string // job id -> why: end it killed instead of running it (StopJob)
	deleted bool
	done    chan struct{}
}

// New returns a service over ms. It starts listening to branch moves at
// once (events are queued until Start).
func New(ms *meta.Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s := &Service{ms: ms, rec: ms.Records(namespace), cfg: cfg, evWake: make(chan struct{}, 1),
		pipes: map[string]*pipeRun{}, changed: make(chan struct{}), runID: meta.NewID()[:8]}
	ms.Watch(s.onHead)
	s.rec.GuardRepoDelete(s) // stop.go
	return s
}

// onHead runs on meta's committer goroutine: queue only.
func (s *Service) onHead(ev meta.HeadEvent) {
	s.evMu.Lock()
	s.events = append(s.events, ev)
	s.evMu.Unlock()
	select {
	case s.evWake <- struct{}{}:
	default:
	}
}

// runnerFor is the runner of a spec's runner name (validated: a kubernetes
// pipeline exists only when s has a kubernetes runner).
func (s *Service) runnerFor(name string) Runner {
	if name == RunnerKubernetes && s.cfg.Kubernetes != nil {
		return s.cfg.Kubernetes
	}
	if s.cfg.Runner != nil {
		return s.cfg.Runner
	}
	return defaultLocal
}

// Tasks returns the task board workers of remote runners fetch their work
// from (nil when the service has none).
func (s *Service) Tasks() *TaskBoard { return s.cfg.Tasks }

// checkRunner refuses a spec whose runner this service does not have.
func (s *Service) checkRunner(spec *Spec) error {
	if spec.Runner == RunnerKubernetes && s.cfg.Kubernetes == nil {
		return specErr("runner", "this gateway has no kubernetes runner: start it with --k8s-namespace and the other --k8s-* settings (docs/kubernetes.md), or use local (the default)")
	}
	return nil
}

var defaultLocal = NewLocal(LocalConfig{})

// Start loads the pipelines, resumes their jobs (a job interrupted by a
// restart resumes; orphan open commits of jobs that never started are
// aborted), queues a job for every pipeline whose inputs moved while the
// service was down, and starts dispatching. endpoint is the S3 endpoint
// workers use when Config.Endpoint is empty.
func (s *Service) Start(ctx context.Context, endpoint string) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errs.E("pipelines.Start", errs.Invalid, "already started")
	}
	if s.cfg.Endpoint == "" {
		s.cfg.Endpoint = endpoint
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.started = true
	s.mu.Unlock()

	// What a dead gateway's workers left running goes before any job
	// resumes: a resumed datum must not run next to its old copy.
	if err := s.reap(ctx); err != nil {
		return err
	}
	var pipes []*Pipeline
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		return kv.Scan(txn, pPipe, func(_ string, v []byte) error {
			var p Pipeline
			if err := jsonUnmarshal(v, &p); err != nil {
				return err
			}
			pipes = append(pipes, &p)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, p := range pipes {
		if err := s.cleanOrphans(s.ctx, p); err != nil {
			s.cfg.Log.Warn().Err(err).Str("pipeline", p.Name()).Msg("pipelines: cleaning orphan open commits")
		}
		pr := s.load(p)
		if stale, err := s.inputsMoved(s.ctx, p); err != nil {
			s.cfg.Log.Warn().Err(err).Str("pipeline", p.Name()).Msg("pipelines: checking inputs")
		} else if stale {
			if err := s.trigger(s.ctx, p.Name(), true); err != nil {
				return err
			}
		} else if err := s.trigger(s.ctx, p.Name(), false); err != nil {
			// A job interrupted while running resumes on its inputs; a
			// commit that landed while the gateway was down gets the next.
			return err
		}
		s.startLoop(pr)
	}
	if err := s.startGates(s.ctx); err != nil {
		return err
	}
	s.wg.Add(1)
	go s.dispatch()
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	s.notify()
	return nil
}

// Stop stops dispatching and every job loop; running jobs stay "running"
// in meta's store and resume at the next Start. Their workers are killed,
// but those of a Detacher runner (pods), which the next Start re-attaches.
func (s *Service) Stop() {
	s.mu.Lock()
	if !s.started || s.cancel == nil {
		s.mu.Unlock()
		return
	}
	for _, r := range []Runner{s.cfg.Runner, s.cfg.Kubernetes} {
		if d, ok := r.(Detacher); ok {
			d.Detach()
		}
	}
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Service) load(p *Pipeline) *pipeRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.pipes[p.Name()]
	if pr == nil {
		pr = &pipeRun{name: p.Name(), wake: make(chan struct{}, 1), busy: true, gen: 1}
		s.pipes[p.Name()] = pr
	}
	pr.p = p
	return pr
}

func (s *Service) startLoop(pr *pipeRun) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || pr.done != nil {
		return
	}
	pr.done = make(chan struct{})
	s.wg.Add(1)
	go s.loop(pr)
}

func (s *Service) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// dispatch turns branch moves into pending jobs of the pipelines reading
// those branches.
func (s *Service) dispatch() {
	defer s.wg.Done()
	for {
		s.evMu.Lock()
		evs := s.events
		s.events = nil
		s.inFlight = len(evs)
		s.evMu.Unlock()
		if len(evs) > 0 {
			targets := map[string]bool{}
			s.mu.Lock()
			for _, ev := range evs {
				for name, pr := range s.pipes {
					if pr.deleted || pr.p == nil {
						continue
					}
					for _, l := range pr.p.Spec.Leaves() {
						if l.Repo == ev.Repo && l.Branch == ev.Branch {
							targets[name] = true
						}
					}
				}
			}
			s.mu.Unlock()
			names := make([]string, 0, len(targets))
			for n := range targets {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				for {
					err := s.trigger(s.ctx, n, false)
					if err == nil || s.ctx.Err() != nil || errs.Is(err, errs.NotExist) {
						break
					}
					s.cfg.Log.Error().Err(err).Str("pipeline", n).Msg("pipelines: queueing a job; retrying")
					select {
					case <-s.ctx.Done():
					case <-time.After(time.Second):
					}
				}
			}
			s.evMu.Lock()
			s.inFlight = 0
			s.evMu.Unlock()
			s.notify()
			continue
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.evWake:
		}
	}
}

// trigger queues a job for pipeline name unless one is already pending
// (commits coalesce: the pending job takes the newest heads when it
// starts), then wakes its loop.
//
// Unless force, no job is queued when the newest job that started already
// read the current heads (the event was for a commit it took in).
func (s *Service) trigger(ctx context.Context, name string, force bool) error {
	_, err := s.enqueue(ctx, name, force, nil)
	return err
}

// enqueue is trigger; with orig (force must be true) the job queued re-runs
// orig's job, and is queued only if orig.check accepts the newest job. It
// returns the job queued (nil if none).
func (s *Service) enqueue(ctx context.Context, name string, force bool, orig *origin) (*Job, error) {
	now := s.cfg.Now().UTC()
	var queued *Job
	err := s.rec.Update(ctx, func(txn kv.ReadWriter) error {
		var p Pipeline
		if ok, err := kv.GetJSON(txn, pPipe+name, &p); err != nil {
			return err
		} else if !ok {
			return errs.E("pipelines.trigger", errs.NotExist, "pipeline %q does not exist", name)
		}
		if p.Stopped != "" {
			return nil // stop.go: no job until the spec is updated
		}
		// The heads are read in this transaction, in the committer's order:
		// a stale read could not be newer than the running job's inputs.
		var heads []string
		if !force {
			for _, l := range p.Spec.Leaves() {
				r, err := s.ms.ResolveIn(txn, l.Repo, l.Branch)
				if err != nil {
					heads = nil
					break
				}
				heads = append(heads, r.CommitID())
			}
		}
		last, err := lastJobTx(txn, name)
		if err != nil {
			return err
		}
		if orig != nil {
			if err := orig.check(last); err != nil {
				return err
			}
		}
		seq := int64(1)
		if last != nil {
			if last.State == JobPending {
				return nil
			}
			if len(heads) > 0 && len(last.Inputs) == len(heads) && last.DatumVer() == p.DatumVer() {
				same := true
				for i, in := range last.Inputs {
					same = same && in.Commit == heads[i]
				}
				if same {
					return nil
				}
			}
			seq = last.Seq + 1
		}
		j := &Job{ID: meta.NewID(), Pipeline: name, Version: p.Version, Seq: seq, State: JobPending,
			Created: now, OutputRepo: name, OutputBranch: p.Spec.OutBranch(), Attempt: 1}
		if orig != nil {
			j.Attempt, j.RetryOf, j.Cause = orig.of.attempt()+1, orig.of.ID, orig.cause
		}
		if last != nil && last.RetryAt != nil {
			// The new job supersedes last's pending retry.
			last.RetryAt = nil
			if err := kv.PutJSON(txn, pJob+last.ID, last); err != nil {
				return err
			}
		}
		queued = j
		return enqueue(txn, name, j)
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	pr := s.pipes[name]
	if pr != nil {
		pr.gen++
		pr.busy = true
	}
	s.mu.Unlock()
	if pr != nil {
		select {
		case pr.wake <- struct{}{}:
		default:
		}
	}
	s.notify()
	return queued, nil
}

// lastJobTx returns the pipeline's newest job (nil if none).
// enqueue writes job j and its place in queue (a pipeline's name, or a gate
// lane's key) at j.Seq.
func enqueue(txn kv.ReadWriter, queue string, j *Job) error {
	if err := kv.PutJSON(txn, pJob+j.ID, j); err != nil {
		return err
	}
	return txn.Set([]byte(jobQueueKey(queue, j.Seq)), []byte(j.ID))
}

func lastJobTx(txn kv.Reader, name string) (*Job, error) {
	prefix := pJobQueue + name + "/"
	it := txn.Iter(kv.IterOptions{Prefix: []byte(prefix), Reverse: true})
	defer it.Close()
	if !it.Valid() {
		return nil, it.Err()
	}
	id, err := it.Value()
	if err != nil {
		return nil, err
	}
	var j Job
	if ok, err := kv.GetJSON(txn, pJob+string(id), &j); err != nil || !ok {
		return nil, err
	}
	return &j, nil
}

// nextJob returns the pipeline's oldest job that has not ended (at most a
// running one and a pending one exist), or nil.
func (s *Service) nextJob(name string) (*Job, error) {
	var out *Job
	err := s.rec.View(context.Background(), func(txn kv.Reader) error {
		return queuedJobs(txn, pJobQueue+name+"/", func(j *Job) bool {
			if j.Done() {
				return false
			}
			out = j
			return true
		})
	})
	return out, err
}

// queuedJobs calls fn with the jobs queued under prefix, newest first
// (an id whose record is missing is skipped), until fn returns false.
func queuedJobs(txn kv.Reader, prefix string, fn func(*Job) bool) error {
	it := txn.Iter(kv.IterOptions{Prefix: []byte(prefix), Reverse: true})
	defer it.Close()
	for ; it.Valid(); it.Next() {
		id, err := it.Value()
		if err != nil {
			return err
		}
		j := new(Job)
		if ok, err := kv.GetJSON(txn, pJob+string(id), j); err != nil {
			return err
		} else if ok && !fn(j) {
			return nil
		}
	}
	return nil
}

// maxJobErrors is how many times in a row a job may fail to make progress
// (a store error, not a failed datum) before it is failed.
const maxJobErrors = 5

// loop runs the pipeline's jobs one at a time, in order.
func (s *Service) loop(pr *pipeRun) {
	defer s.wg.Done()
	defer close(pr.done)
	stuckJob, stuck := "", 0
	for {
		if s.ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		gen, deleted := pr.gen, pr.deleted
		s.mu.Unlock()
		if deleted {
			return
		}
		j, err := s.nextJob(pr.name)
		if err != nil {
			s.cfg.Log.Error().Err(err).Str("pipeline", pr.name).Msg("pipelines: reading the job queue")
			if !s.sleep(time.Second) {
				return
			}
			continue
		}
		if j == nil {
			s.mu.Lock()
			idle := pr.gen == gen
			if idle {
				pr.busy = false
			}
			s.mu.Unlock()
			if idle {
				s.notify()
				// A failed job waiting for its automatic retry (failure.go):
				// the pipeline is idle meanwhile.
				var due <-chan time.Time
				var timer *time.Timer
				rj, err := s.retryWait(s.ctx, pr.name)
				if err != nil {
					s.cfg.Log.Error().Err(err).Str("pipeline", pr.name).Msg("pipelines: reading the job queue")
				} else if rj != nil {
					timer = time.NewTimer(max(0, rj.RetryAt.Sub(s.cfg.Now())))
					due = timer.C
				}
				select {
				case <-s.ctx.Done():
					return
				case <-pr.wake:
				case <-due:
					if err := s.retry(s.ctx, rj); err != nil && s.ctx.Err() == nil {
						s.cfg.Log.Error().Err(err).Str("pipeline", pr.name).Msg("pipelines: queueing a retry")
						if !s.sleep(time.Second) {
							return
						}
					}
				}
				if timer != nil {
					timer.Stop()
				}
			}
			continue
		}
		s.mu.Lock()
		p := pr.p
		jctx, cancel := context.WithCancel(s.ctx)
		pr.cancel = cancel
		pr.job = j.ID
		pr.busy = true
		if why, ok := pr.stop[j.ID]; ok { // stopped before it ran: not run, ended below (jobstop.go)
			pr.kill = why
			cancel()
		}
		s.mu.Unlock()
		if jctx.Err() == nil {
			err = s.runJob(jctx, p, j)
		}
		cancel()
		s.mu.Lock()
		pr.cancel = nil
		pr.job = ""
		delete(pr.stop, j.ID)
		kill := pr.kill
		pr.kill = ""
		s.mu.Unlock()
		if kill != "" && s.ctx.Err() == nil {
			if kerr := s.killJob(s.ctx, p, j.ID, kill); kerr != nil {
				s.cfg.Log.Error().Err(kerr).Str("pipeline", pr.name).Str("job", j.ID).Msg("pipelines: killing a job of an older version")
			} else {
				err = nil
			}
		}
		s.notify()
		if err != nil && s.ctx.Err() == nil {
			s.mu.Lock()
			deleted := pr.deleted
			s.mu.Unlock()
			if deleted {
				return
			}
			if j.ID != stuckJob {
				stuckJob, stuck = j.ID, 0
			}
			stuck++
			if stuck >= maxJobErrors && !errs.Is(err, errs.Transient) {
				s.cfg.Log.Error().Err(err).Str("pipeline", pr.name).Str("job", j.ID).Msg("pipelines: job failed: it could not make progress")
				if ferr := s.failStuck(s.ctx, p, j, err); ferr == nil {
					continue
				}
			}
			s.cfg.Log.Error().Err(err).Str("pipeline", pr.name).Str("job", j.ID).Msg("pipelines: job interrupted; retrying")
			if !s.sleep(2 * time.Second) {
				return
			}
		}
	}
}

func (s *Service) sleep(d time.Duration) bool {
	select {
	case <-s.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// inputsMoved reports whether an input head differs from the input commit
// of the pipeline's newest job (or no job ran yet).
func (s *Service) inputsMoved(ctx context.Context, p *Pipeline) (bool, error) {
	var last *Job
	if err := s.rec.View(ctx, func(txn kv.Reader) error {
		var err error
		last, err = lastJobTx(txn, p.Name())
		return err
	}); err != nil {
		return false, err
	}
	if last == nil {
		return true, nil
	}
	if !last.Done() {
		return false, nil
	}
	for i, l := range p.Spec.Leaves() {
		r, err := s.ms.Resolve(ctx, l.Repo, l.Branch)
		if err != nil {
			continue
		}
		if i >= len(last.Inputs) || last.Inputs[i].Commit != r.CommitID() {
			return true, nil
		}
	}
	return false, nil
}

// cleanOrphans aborts open commits of p's jobs that no running job owns
// (a crash between starting them and recording the job).
func (s *Service) cleanOrphans(ctx context.Context, p *Pipeline) error {
	ocs, err := s.ms.ListOpenCommits(ctx, p.Name())
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil
		}
		return err
	}
	owned := map[string]bool{}
	if err := s.rec.View(ctx, func(txn kv.Reader) error {
		last, err := lastJobTx(txn, p.Name())
		if err != nil || last == nil {
			return err
		}
		// The newest two jobs may be running (the pending one never is).
		for _, j := range []*Job{last} {
			owned[j.OutputCommit] = !j.Done() && j.OutputCommit != ""
			owned[j.StagingCommit] = !j.Done() && j.StagingCommit != ""
		}
		if last.Seq > 1 {
			if b, err := txn.Get([]byte(jobQueueKey(p.Name(), last.Seq-1))); err == nil {
				var j Job
				if ok, _ := kv.GetJSON(txn, pJob+string(b), &j); ok && !j.Done() {
					owned[j.OutputCommit] = true
					owned[j.StagingCommit] = true
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, oc := range ocs {
		if oc.Meta[MetaJob] == "" || owned[oc.ID] {
			continue
		}
		if err := s.ms.AbortCommit(ctx, p.Name(), oc.ID); err != nil && !errs.Is(err, errs.NotExist) {
			return err
		}
		s.cfg.Log.Info().Str("pipeline", p.Name()).Str("commit", oc.ID).Msg("pipelines: aborted an orphan open commit")
	}
	return nil
}

// Commit and open-commit metadata set by pipelines.
const (
	MetaPipeline = "tusk-pipeline" // name@version
	MetaJob      = "tusk-job"
	MetaInputs   = "tusk-inputs" // repo@commit,...
	MetaRole     = "tusk-role"   // output | staging (open commits)
	MetaUser     = "tusk-user"   // the pipeline's user (staging commits take its writes only)
)

// ---- waiting ----

// Idle reports whether the named pipelines (all when none) have no queued
// event, no pending and no running job, gate jobs included (false until
// Start). A pipeline waiting for a failed job's automatic retry is idle
// (Retrying tells).
func (s *Service) Idle(names ...string) bool {
	s.evMu.Lock()
	busyEv := len(s.events) > 0 || s.inFlight > 0
	s.evMu.Unlock()
	if busyEv || !s.gatesIdle(names...) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return false // jobs interrupted by a restart are not loaded yet
	}
	if len(names) == 0 {
		for _, pr := range s.pipes {
			if pr.busy && !pr.deleted {
				return false
			}
		}
		return true
	}
	for _, n := range names {
		if pr := s.pipes[n]; pr != nil && pr.busy && !pr.deleted {
			return false
		}
	}
	return true
}

// WaitIdle waits until Idle(names...) or ctx ends.
func (s *Service) WaitIdle(ctx context.Context, names ...string) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if s.Idle(names...) {
			return nil
		}
		select {
		case <-ctx.Done():
			return errs.Wrap("pipelines.WaitIdle", errs.Transient, ctx.Err())
		case <-ch:
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// WaitJob waits until job id ends or ctx ends, and returns it.
func (s *Service) WaitJob(ctx context.Context, id string) (*Job, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		j, err := s.GetJob(ctx, id)
		if err != nil || j.Done() {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, nil
		case <-ch:
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ---- management ----

// CreateOptions tune Create.
type CreateOptions struct {
	User string // who creates it (author of the output repo)
}

// Create validates spec against the repos and the other pipelines, creates
// the output repo (unless it exists and is empty) with its output branch
// read-only to users, records the pipeline (version 1) and queues its first
// job over what its inputs already hold.
func (s *Service) Create(ctx context.Context, spec *Spec, opts CreateOptions) (*Pipeline, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkRunner(spec); err != nil {
		return nil, err
	}
	name := spec.Name
	if p, _ := s.Get(ctx, name); p != nil {
		return nil, errs.E("pipelines.Create", errs.Exist, "pipeline %q already exists; use update to change it", name)
	}
	if err := s.checkGraph(ctx, spec); err != nil {
		return nil, err
	}
	// The output repo: created here, or an existing empty one.
	if r, err := s.ms.Resolve(ctx, name, spec.OutBranch()); err == nil {
		if r.Branch != nil && r.Branch.Output != "" && r.Branch.Output != name {
			return nil, specErr("name", "repo %s branch %s is already the output of pipeline %s", name, spec.OutBranch(), r.Branch.Output)
		}
		if !r.Root().IsZero() {
			return nil, specErr("name", "repo %s already exists and holds keys on branch %s; a pipeline's output repo must be new or empty (choose another name, or delete the repo)", name, spec.OutBranch())
		}
	} else if _, gerr := s.ms.GetRepo(ctx, name); errs.Is(gerr, errs.NotExist) {
		if _, err := s.ms.CreateRepo(ctx, name, opts.User); err != nil && !errs.Is(err, errs.Exist) {
			return nil, err
		}
	}
	now := s.cfg.Now().UTC()
	p := &Pipeline{Spec: *spec, Version: 1, Created: now, Updated: now, CreatedBy: opts.User}
	err := s.rec.Update(ctx, func(txn kv.ReadWriter) error {
		if ok, err := kv.GetJSON(txn, pPipe+name, &Pipeline{}); err != nil {
			return err
		} else if ok {
			return errs.E("pipelines.Create", errs.Exist, "pipeline %q already exists; use update to change it", name)
		}
		return kv.PutJSON(txn, pPipe+name, p)
	})
	if err != nil {
		return nil, err
	}
	if err := s.ms.SetBranchOutput(ctx, name, spec.OutBranch(), name); err != nil {
		return nil, err
	}
	pr := s.load(p)
	if err := s.trigger(ctx, name, true); err != nil {
		return nil, err
	}
	s.startLoop(pr)
	return p, nil
}

// UpdateOptions tune UpdateWith.
type UpdateOptions struct {
	// Reprocess makes the next job process every datum again, even when
	// the update changes nothing the datums depend on.
	Reprocess bool
}

// Update is UpdateWith without options.
func (s *Service) Update(ctx context.Context, spec *Spec) (*Pipeline, error) {
	return s.UpdateWith(ctx, spec, UpdateOptions{})
}

// UpdateWith replaces a pipeline's spec: its version goes up by one.
//
// When the update changes what datums depend on (Spec.Fingerprint: the
// transform, the inputs, ...) or opts.Reprocess, the datum version becomes
// the new version: the running job is killed and the next job (queued now)
// processes every datum again (outputs of an older datum version are never
// reused). Otherwise (description, parallelism, datum_tries, resources...:
// InPlaceFields) the spec is updated in place: a running or pending job
// goes on (a pending one starts with the new spec), nothing is reprocessed,
// and a job is queued only when the newest one ended failed, partial or
// killed (it supersedes a pending retry).
func (s *Service) UpdateWith(ctx context.Context, spec *Spec, opts UpdateOptions) (*Pipeline, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkRunner(spec); err != nil {
		return nil, err
	}
	old, err := s.Get(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	if spec.OutBranch() != old.Spec.OutBranch() {
		return nil, specErr("output_branch", "the output branch cannot change (%s); delete and re-create the pipeline", old.Spec.OutBranch())
	}
	if err := s.checkGraph(ctx, spec); err != nil {
		return nil, err
	}
	var p *Pipeline
	err = s.rec.Update(ctx, func(txn kv.ReadWriter) error {
		var cur Pipeline
		if ok, err := kv.GetJSON(txn, pPipe+spec.Name, &cur); err != nil {
			return err
		} else if !ok {
			return errs.E("pipelines.Update", errs.NotExist, "pipeline %q does not exist", spec.Name)
		}
		p = &Pipeline{Spec: *spec, Version: cur.Version + 1, Created: cur.Created, Updated: s.cfg.Now().UTC(), CreatedBy: cur.CreatedBy}
		p.DatumVersion = cur.DatumVer()
		if opts.Reprocess || spec.Fingerprint() != cur.Spec.Fingerprint() {
			p.DatumVersion = p.Version
		}
		return kv.PutJSON(txn, pPipe+spec.Name, p)
	})
	if err != nil {
		return nil, err
	}
	pr := s.load(p)
	if p.DatumVersion != p.Version {
		return p, s.updatedInPlace(ctx, pr)
	}
	// The running job (of an older version) is killed: its workers stop
	// (the kubernetes runner deletes its Jobs) and it ends killed; the job
	// queued below processes the inputs with the new version.
	s.mu.Lock()
	if pr.cancel != nil {
		pr.kill = fmt.Sprintf("pipeline %s was updated to version %d", spec.Name, p.Version)
		pr.cancel()
	}
	s.mu.Unlock()
	if err := s.trigger(ctx, spec.Name, true); err != nil {
		return nil, err
	}
	s.startLoop(pr)
	return p, nil
}

// checkGraph checks the inputs exist and no cycle forms.
func (s *Service) checkGraph(ctx context.Context, spec *Spec) error {
	graph := map[string][]string{}
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	outputs := map[string]bool{}
	for _, p := range list {
		if p.Name() != spec.Name {
			graph[p.Name()] = p.Spec.InputRepos()
			outputs[p.Name()] = true
		}
	}
	graph[spec.Name] = spec.InputRepos()
	var walk func(in *Input, path string) error
	walk = func(in *Input, path string) error {
		if in.PFS != nil {
			if _, err := s.ms.GetRepo(ctx, in.PFS.Repo); err != nil {
				if errs.Is(err, errs.NotExist) {
					return specErr(path+".pfs.repo", "repo %s does not exist; create it first (tusk repo create %s)", in.PFS.Repo, in.PFS.Repo)
				}
				return err
			}
			return nil
		}
		for _, f := range []struct {
			name string
			l    []Input
		}{{"cross", in.Cross}, {"union", in.Union}, {"join", in.Join}, {"group", in.Group}} {
			for i := range f.l {
				if err := walk(&f.l[i], path+"."+f.name+"["+itoa(i)+"]"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(&spec.Input, "input"); err != nil {
		return err
	}
	return CheckCycles(graph)
}

func itoa(i int) string {
	const d = "0123456789"
	if i < 10 {
		return d[i : i+1]
	}
	return itoa(i/10) + d[i%10:i%10+1]
}

// DeleteOptions tune Delete.
type DeleteOptions struct {
	// KeepRepo keeps the output repo (its branch becomes writable).
	KeepRepo bool
}

// Delete stops a pipeline (killing its running job), deletes its records
// and jobs, revokes its keys, and deletes its output repo unless KeepRepo.
// It is refused while another pipeline reads the output repo (unless
// KeepRepo).
func (s *Service) Delete(ctx context.Context, name string, opts DeleteOptions) error {
	p, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	if !opts.KeepRepo {
		list, err := s.List(ctx)
		if err != nil {
			return err
		}
		for _, o := range list {
			for _, r := range o.Spec.InputRepos() {
				if r == name && o.Name() != name {
					return errs.E("pipelines.Delete", errs.Conflict, "pipeline %s reads repo %s; delete it first, or keep the repo (--keep-repo)", o.Name(), name)
				}
			}
		}
	}
	s.mu.Lock()
	pr := s.pipes[name]
	var done chan struct{}
	if pr != nil {
		pr.deleted = true
		if pr.cancel != nil {
			pr.cancel()
		}
		done = pr.done
		select {
		case pr.wake <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return errs.Wrap("pipelines.Delete", errs.Transient, ctx.Err())
		}
	}
	// Kill unfinished jobs and abort their commits.
	jobs, err := s.ListJobs(ctx, name, 0)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Done() {
			continue
		}
		for _, c := range []string{j.OutputCommit, j.StagingCommit} {
			if c != "" {
				if err := s.ms.AbortCommit(ctx, name, c); err != nil && !errs.Is(err, errs.NotExist) {
					return err
				}
			}
		}
	}
	if err := s.deleteGates(ctx, name); err != nil {
		return err
	}
	// Records: the pipeline, its state and indexes, its jobs.
	prefixes := []string{pLeaf + name + "/", pJoinIdx + name + "/", pTop + name + "/",
		pRev + name + "/", pOwner + name + "/", pDone + name + "/", pFailed + name + "/"}
	var jobIDs []string
	for _, j := range jobs {
		jobIDs = append(jobIDs, j.ID)
		prefixes = append(prefixes, pJobDatum+j.ID+"/", pJobLog+j.ID+"/", pJobLeaf+j.ID+"/", pJobOut+j.ID+"/")
	}
	if err := s.rec.Update(ctx, func(txn kv.ReadWriter) error {
		if err := txn.Delete([]byte(pState + name)); err != nil { // exact key: "res" must not take "res-b"'s state
			return err
		}
		return txn.Delete([]byte(pPipe + name))
	}); err != nil {
		return err
	}
	for _, pf := range prefixes {
		if err := s.deletePrefix(ctx, pf); err != nil {
			return err
		}
	}
	for _, id := range jobIDs {
		if err := s.rec.Update(ctx, func(txn kv.ReadWriter) error { return txn.Delete([]byte(pJob + id)) }); err != nil {
			return err
		}
	}
	if err := s.deletePrefix(ctx, pJobQueue+name+"/"); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.pipes, name)
	s.mu.Unlock()
	s.notify()
	if s.cfg.Creds != nil {
		if err := s.cfg.Creds.Drop(ctx, name); err != nil {
			return err
		}
	}
	if opts.KeepRepo {
		err := s.ms.SetBranchOutput(ctx, name, p.Spec.OutBranch(), "")
		if errs.Is(err, errs.NotExist) {
			return nil
		}
		return err
	}
	// The repo stops being an output (meta refuses to delete an output
	// repo), then goes.
	if err := s.ms.SetBranchOutput(ctx, name, p.Spec.OutBranch(), ""); err != nil && !errs.Is(err, errs.NotExist) {
		return err
	}
	if err := s.ms.DeleteRepo(ctx, name, true); err != nil && !errs.Is(err, errs.NotExist) {
		return err
	}
	return nil
}

// deletePrefix deletes every record under prefix, in bounded
// transactions.
func (s *Service) deletePrefix(ctx context.Context, prefix string) error {
	for {
		var keys [][]byte
		err := s.rec.View(ctx, func(txn kv.Reader) error {
			it := txn.Iter(kv.IterOptions{Prefix: []byte(prefix), KeysOnly: true})
			defer it.Close()
			for ; it.Valid() && len(keys) < 2000; it.Next() {
				keys = append(keys, bytes.Clone(it.Key()))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		if err := s.rec.Update(ctx, func(txn kv.ReadWriter) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
}

// Get returns a pipeline; NotExist when absent.
func (s *Service) Get(ctx context.Context, name string) (*Pipeline, error) {
	var p Pipeline
	var ok bool
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		var err error
		ok, err = kv.GetJSON(txn, pPipe+name, &p)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.E("pipelines.Get", errs.NotExist, "pipeline %q does not exist; tusk pipeline list shows the pipelines", name).Because(errs.Pipeline)
	}
	return &p, nil
}

// List lists pipelines by name.
func (s *Service) List(ctx context.Context) ([]*Pipeline, error) {
	var out []*Pipeline
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		return kv.ScanJSON(txn, pPipe, func(_ string, p *Pipeline) error { out = append(out, p); return nil })
	})
	return out, err
}

// GetState returns what the pipeline's last successful job processed (nil
// if none).
func (s *Service) GetState(ctx context.Context, name string) (*State, error) {
	var st State
	var ok bool
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		var err error
		ok, err = kv.GetJSON(txn, pState+name, &st)
		return err
	})
	if err != nil || !ok {
		return nil, err
	}
	return &st, nil
}

// GetJob returns a job by id (or a unique prefix of 8+ chars).
func (s *Service) GetJob(ctx context.Context, id string) (*Job, error) {
	var j Job
	var found int
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		if len(id) == 32 {
			ok, err := kv.GetJSON(txn, pJob+id, &j)
			if ok {
				found = 1
			}
			return err
		}
		if len(id) < 8 {
			return nil
		}
		return kv.Scan(txn, pJob+id, func(_ string, v []byte) error {
			found++
			return jsonUnmarshal(v, &j)
		})
	})
	if err != nil {
		return nil, err
	}
	switch {
	case found == 0:
		return nil, errs.E("pipelines.GetJob", errs.NotExist, "job %q does not exist; tusk job list shows the jobs", id).Because(errs.Job)
	case found > 1:
		return nil, errs.E("pipelines.GetJob", errs.Invalid, "job id prefix %q is ambiguous", id)
	}
	return &j, nil
}

// ListJobs lists a pipeline's jobs (all pipelines' when name is ""),
// newest first, at most limit (0: all).
func (s *Service) ListJobs(ctx context.Context, name string, limit int) ([]*Job, error) {
	var out []*Job
	prefix := pJobQueue
	if name != "" {
		prefix += name + "/"
	}
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		return queuedJobs(txn, prefix, func(j *Job) bool {
			out = append(out, j)
			return name == "" || limit <= 0 || len(out) < limit
		})
	})
	if err != nil {
		return nil, err
	}
	if name == "" {
		sort.SliceStable(out, func(a, b int) bool { return out[a].Created.After(out[b].Created) })
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
	}
	return out, nil
}

// ListDatums lists a job's datums that needed work (processed, carried,
// removed or failed), by id; failedOnly keeps the failed ones.
func (s *Service) ListDatums(ctx context.Context, job string, failedOnly bool) ([]*JobDatum, error) {
	j, err := s.GetJob(ctx, job)
	if err != nil {
		return nil, err
	}
	var out []*JobDatum
	err = s.rec.View(ctx, func(txn kv.Reader) error {
		return kv.Scan(txn, pJobDatum+j.ID+"/", func(_ string, v []byte) error {
			var d JobDatum
			if err := jsonUnmarshal(v, &d); err != nil {
				return err
			}
			if !failedOnly || d.State == DatumFailed {
				out = append(out, &d)
			}
			return nil
		})
	})
	return out, err
}

// DatumLog returns the log of a datum's last try in a job.
func (s *Service) DatumLog(ctx context.Context, job, datum string) (string, error) {
	j, err := s.GetJob(ctx, job)
	if err != nil {
		return "", err
	}
	var logText string
	var found bool
	err = s.rec.View(ctx, func(txn kv.Reader) error {
		b, err := txn.Get([]byte(pJobLog + j.ID + "/" + datum))
		if err != nil {
			return nil
		}
		found = true
		logText = string(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	if !found {
		if strings.TrimSpace(datum) == "" {
			return "", errs.E("pipelines.DatumLog", errs.Invalid, "name a datum")
		}
		return "", errs.E("pipelines.DatumLog", errs.NotExist, "job %s has no log for datum %q", j.ID, datum).Because(errs.Datum)
	}
	return logText, nil
}

// Leaves returns the spec's pfs inputs (for rendering datums).
func (p *Pipeline) Leaves() []*PFSInput { return p.Spec.Leaves() }

// DescribeDatum renders a datum's leaves as "name:path".
func DescribeDatum(p *Pipeline, refs []LeafRef) []string { return describeDatum(p.Leaves(), refs) }
