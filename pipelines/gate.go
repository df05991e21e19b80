package pipelines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/kv"
)

// Merge gates (docs/architecture.md, "Merge gates and gate jobs").
//
// A gate job runs a pipeline in a lane: the pipeline's spec with every pfs
// input of one repo reading a source ref (a dev branch) instead, writing
// to a branch of the output repo named after the source. A lane keeps its
// own committed state and job queue, under the state key
// <pipeline>\x00<lane>; the done-datum records (pDone) are the pipeline's,
// shared by every lane, so unchanged datums are reused across branches by
// content.
//
// Records, besides the per-lane copies of the state records (pState,
// pLeaf, pJoinIdx, pTop, pRev, pOwner and pJobQueue under the state key):
//
//	pl/g/<pipeline>\x00<lane>               Lane
const pLane = "g/"

// GateRef marks a job as a gate job: the lane it runs in.
type GateRef struct {
	// Repo is the input repo whose pfs inputs read Source instead of their
	// branch.
	Repo   string `json:"repo"`
	Source string `json:"source"`
	// Lane is the lane id, LaneID(Repo, Source).
	Lane         string `json:"lane"`
	OutputBranch string `json:"output_branch"`
	// Interrupted: the job ended by a gateway restart, not by its datums;
	// a merge may run the gate again on the same commit.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Lane is a pipeline's gate lane over one source ref of one input repo.
type Lane struct {
	Pipeline     string    `json:"pipeline"`
	Repo         string    `json:"repo"`
	Source       string    `json:"source"`
	ID           string    `json:"id"`
	OutputBranch string    `json:"output_branch"`
	Created      time.Time `json:"created"`
}

// LaneID is the id of the lane of source in repo: 16 hex digits.
func LaneID(repo, source string) string {
	h := sha256.Sum256([]byte(repo + "\x00" + source))
	return hex.EncodeToString(h[:8])
}

// laneKey is the state key of a pipeline's lane.
func laneKey(pipeline, lane string) string { return pipeline + "\x00" + lane }

// stateKey is the name under which the job's committed state is kept: the
// pipeline's name, or its lane's key for a gate job.
func (j *Job) stateKey() string {
	if j.Gate == nil {
		return j.Pipeline
	}
	return laneKey(j.Pipeline, j.Gate.Lane)
}

// gateCommit is the commit of the gate's source the job read ("" before
// it started).
func (j *Job) gateCommit() string {
	if j.Gate == nil {
		return ""
	}
	for _, in := range j.Inputs {
		if in.Repo == j.Gate.Repo {
			return in.Commit
		}
	}
	return ""
}

// spec returns a copy of sp whose pfs inputs of g.Repo read g.Source and
// whose output branch is g.OutputBranch.
func (g *GateRef) spec(sp Spec) Spec {
	b, err := json.Marshal(sp)
	if err == nil {
		var cp Spec
		if json.Unmarshal(b, &cp) == nil {
			sp = cp
		}
	}
	for _, l := range sp.Leaves() {
		if l.Repo == g.Repo {
			l.Branch = g.Source
		}
	}
	sp.OutputBranch = g.OutputBranch
	return sp
}

// gateRuns are the running lane loops of a Service, by lane key.
type gateRuns struct {
	mu   sync.Mutex
	runs map[string]*gateRun
}

type gateRun struct {
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// GateRequest asks for a gate job.
type GateRequest struct {
	Pipeline string
	// Repo is the input repo read from Source; "" when the pipeline reads
	// one repo only.
	Repo   string
	Source string
	// Force runs the gate again even when it already succeeded or failed
	// on the source's head at the pipeline's version.
	Force bool
}

// RunGate makes sure a gate job of req.Pipeline runs on the head of
// req.Source: it returns the lane's pending job, its job running on that
// head, its job that succeeded or failed on it (unless Force), or a new
// pending job, which the lane runs after the one running. Invalid when the
// pipeline does not read the repo, the source is the branch the pipeline
// reads already, or an open commit; NotExist when the pipeline, repo or
// source is unknown.
func (s *Service) RunGate(ctx context.Context, req GateRequest) (*Job, error) {
	p, err := s.Get(ctx, req.Pipeline)
	if err != nil {
		return nil, err
	}
	repo, err := gateRepo(p, req.Repo)
	if err != nil {
		return nil, err
	}
	if err := names.ValidRef(req.Source); err != nil && !names.IsHex(req.Source) {
		return nil, err
	}
	same := true
	for _, l := range p.Spec.Leaves() {
		if l.Repo == repo && l.Branch != req.Source {
			same = false
		}
	}
	if same {
		return nil, errs.E("pipelines.RunGate", errs.Invalid, "pipeline %s already reads %s@%s: its own jobs are its runs there (tusk job list --pipeline %s)", p.Name(), repo, req.Source, p.Name()).Because(errs.Argument)
	}
	r, err := s.ms.Resolve(ctx, repo, req.Source)
	if err != nil {
		return nil, err
	}
	// An open commit runs in its branch's lane: finished unchanged, the
	// commit (same id, same root) has passed the gate of its branch.
	source, laneSource, open := req.Source, req.Source, r.Kind == meta.KindOpen
	if open {
		source, laneSource = r.Open.ID, r.Open.Branch
	}
	lane, err := s.ensureLane(ctx, p, repo, laneSource)
	if err != nil {
		return nil, err
	}
	lk := laneKey(p.Name(), lane.ID)
	var out *Job
	err = s.rec.Update(ctx, func(txn kv.ReadWriter) error {
		hr, err := s.ms.ResolveIn(txn, repo, source)
		if err != nil {
			return err
		}
		head := hr.CommitID()
		last, err := lastJobTx(txn, lk)
		if err != nil {
			return err
		}
		seq := int64(1)
		if last != nil {
			seq = last.Seq + 1
			onHead := last.gateCommit() == head && last.Version == p.Version
			if open && last.Done() {
				// An open commit changes under the same id: only the lane's
				// state (its root) says what was processed.
				var st State
				if ok, err := kv.GetJSON(txn, pState+lk, &st); err != nil {
					return err
				} else if in := stateInput(&st, repo, head); !ok || st.Job != last.ID || in == nil || in.Root != hr.Root() {
					onHead = false
				}
			}
			switch {
			case last.State == JobPending:
				out = last
				return nil
			case !last.Done() && onHead:
				out = last
				return nil
			case last.State == JobSuccess && onHead && !req.Force:
				out = last
				return nil
			case last.Done() && onHead && !req.Force && !last.Gate.Interrupted:
				out = last
				return nil
			}
		}
		j := &Job{ID: meta.NewID(), Pipeline: p.Name(), Version: p.Version, Seq: seq, State: JobPending,
			Created: s.cfg.Now().UTC(), OutputRepo: p.Name(), OutputBranch: lane.OutputBranch,
			Gate: &GateRef{Repo: repo, Source: source, Lane: lane.ID, OutputBranch: lane.OutputBranch}}
		out = j
		return enqueue(txn, lk, j)
	})
	if err != nil {
		return nil, err
	}
	if !out.Done() {
		s.kickLane(lk)
	}
	s.notify()
	return out, nil
}

// stateInput returns st's input of commit of repo (nil if none).
func stateInput(st *State, repo, commit string) *StateInput {
	for i, in := range st.Inputs {
		if in.Repo == repo && in.Commit == commit {
			return &st.Inputs[i]
		}
	}
	return nil
}

// errDiffers stops a Diff at the first difference.
var errDiffers = errs.E("pipelines.gate", errs.Conflict, "the trees differ")

// sameContent reports whether live trees a and b hold the same keys with
// the same contents (what datums hash), whatever versions and times their
// entries carry: an open commit's tree and the commit it became. Cost:
// O(differing entries x log n).
func (s *Service) sameContent(ctx context.Context, a, b meta.Hash) (bool, error) {
	if a == b {
		return true, nil
	}
	err := s.ms.Diff(ctx, a, b, "", func(d meta.DiffEntry) error {
		if d.From == nil || d.To == nil || d.From.Content != d.To.Content || d.From.Size != d.To.Size {
			return errDiffers
		}
		return nil
	})
	if err == errDiffers {
		return false, nil
	}
	return err == nil, err
}

// gateRepo returns the input repo of p a gate replaces: repo, which p must
// read, or p's only input repo.
func gateRepo(p *Pipeline, repo string) (string, error) {
	repos := p.Spec.InputRepos()
	if repo == "" {
		if len(repos) == 1 {
			return repos[0], nil
		}
		return "", errs.E("pipelines.RunGate", errs.Invalid, "pipeline %s reads repos %s: name the one the source branch is in", p.Name(), strings.Join(repos, ", ")).Because(errs.Argument)
	}
	for _, r := range repos {
		if r == repo {
			return repo, nil
		}
	}
	return "", errs.E("pipelines.RunGate", errs.Invalid, "pipeline %s does not read repo %s (it reads %s)", p.Name(), repo, strings.Join(repos, ", ")).Because(errs.Argument)
}

// ensureLane returns the lane of source in repo of p, creating it (and its
// output branch, at the output repo's first commit, marked as p's output)
// when new.
func (s *Service) ensureLane(ctx context.Context, p *Pipeline, repo, source string) (*Lane, error) {
	id := LaneID(repo, source)
	key := pLane + laneKey(p.Name(), id)
	var lane Lane
	var ok bool
	if err := s.rec.View(ctx, func(txn kv.Reader) error {
		var err error
		ok, err = kv.GetJSON(txn, key, &lane)
		return err
	}); err != nil {
		return nil, err
	}
	if ok {
		return &lane, nil
	}
	out := p.Name()
	taken, err := s.laneBranches(ctx, p.Name())
	if err != nil {
		return nil, err
	}
	taken[p.Spec.OutBranch()] = true
	branch := ""
	for _, b := range []string{source, source + "-" + repo, "gate-" + id} {
		if names.ValidRef(b) == nil && !taken[b] {
			if _, err := s.ms.Resolve(ctx, out, b); errs.Is(err, errs.NotExist) {
				branch = b
				break
			}
		}
	}
	if branch == "" {
		return nil, errs.E("pipelines.RunGate", errs.Conflict, "repo %s has branches %s, %s-%s and gate-%s already: delete one to run pipeline %s on %s@%s", out, source, source, repo, id, p.Name(), repo, source).Because(errs.Busy)
	}
	first, err := s.firstCommit(ctx, out)
	if err != nil {
		return nil, err
	}
	if _, err := s.ms.CreateBranch(ctx, out, branch, first); err != nil && !errs.Is(err, errs.Exist) {
		return nil, err
	}
	if err := s.ms.SetBranchOutput(ctx, out, branch, p.Name()); err != nil {
		return nil, err
	}
	lane = Lane{Pipeline: p.Name(), Repo: repo, Source: source, ID: id, OutputBranch: branch, Created: s.cfg.Now().UTC()}
	err = s.rec.Update(ctx, func(txn kv.ReadWriter) error {
		var cur Lane
		if ok, err := kv.GetJSON(txn, key, &cur); err != nil {
			return err
		} else if ok {
			lane = cur // a concurrent call made it
			return nil
		}
		return kv.PutJSON(txn, key, &lane)
	})
	if err != nil {
		return nil, err
	}
	return &lane, nil
}

// laneBranches returns the output branches of pipeline's lanes.
func (s *Service) laneBranches(ctx context.Context, pipeline string) (map[string]bool, error) {
	out := map[string]bool{}
	lanes, err := s.Lanes(ctx, pipeline)
	for _, l := range lanes {
		out[l.OutputBranch] = true
	}
	return out, err
}

// Lanes lists a pipeline's gate lanes (every pipeline's when pipeline is
// "").
func (s *Service) Lanes(ctx context.Context, pipeline string) ([]*Lane, error) {
	prefix := pLane
	if pipeline != "" {
		prefix += pipeline + "\x00"
	}
	var out []*Lane
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		return kv.ScanJSON(txn, prefix, func(_ string, l *Lane) error { out = append(out, l); return nil })
	})
	return out, err
}

// firstCommit returns the id of repo's first commit (empty: made by
// CreateRepo), walking main's first parents.
func (s *Service) firstCommit(ctx context.Context, repo string) (string, error) {
	r, err := s.ms.Resolve(ctx, repo, "main")
	if err != nil {
		return "", err
	}
	c := r.Commit
	for c != nil && len(c.Parents) > 0 {
		if c, err = s.ms.GetCommit(ctx, repo, c.Parents[0]); err != nil {
			return "", err
		}
	}
	if c == nil {
		return "", errs.E("pipelines.RunGate", errs.Internal, "repo %s has no commit on main", repo)
	}
	return c.ID, nil
}

// kickLane starts the lane's loop, or wakes it.
func (s *Service) kickLane(lk string) {
	s.mu.Lock()
	base := s.ctx
	started := s.started
	s.mu.Unlock()
	if !started || base == nil || base.Err() != nil {
		return
	}
	g := &s.gates
	g.mu.Lock()
	defer g.mu.Unlock()
	if gr := g.runs[lk]; gr != nil {
		select {
		case gr.wake <- struct{}{}:
		default:
		}
		return
	}
	if g.runs == nil {
		g.runs = map[string]*gateRun{}
	}
	ctx, cancel := context.WithCancel(base)
	gr := &gateRun{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	g.runs[lk] = gr
	s.wg.Add(1)
	go s.laneLoop(ctx, lk, gr)
}

// gatesIdle reports whether no lane of the named pipelines (of any when
// none) runs.
func (s *Service) gatesIdle(names ...string) bool {
	g := &s.gates
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(names) == 0 {
		return len(g.runs) == 0
	}
	for lk := range g.runs {
		for _, n := range names {
			if strings.HasPrefix(lk, n+"\x00") {
				return false
			}
		}
	}
	return true
}

// laneLoop runs the lane's jobs one at a time, in order, and ends when none
// is left.
func (s *Service) laneLoop(ctx context.Context, lk string, gr *gateRun) {
	defer s.wg.Done()
	defer close(gr.done)
	defer gr.cancel()
	pipe := lk[:strings.IndexByte(lk, 0)]
	stuckJob, stuck := "", 0
	for ctx.Err() == nil {
		j, err := s.nextJob(lk)
		if err != nil {
			s.cfg.Log.Error().Err(err).Str("pipeline", pipe).Msg("pipelines: reading a gate lane's queue")
			if !sleepCtx(ctx, time.Second) {
				break
			}
			continue
		}
		if j == nil {
			g := &s.gates
			g.mu.Lock()
			select {
			case <-gr.wake:
				g.mu.Unlock()
				continue
			default:
			}
			delete(g.runs, lk)
			g.mu.Unlock()
			s.notify()
			return
		}
		p, err := s.Get(ctx, pipe)
		if err != nil {
			break // deleted: Delete cleans the lane up
		}
		err = s.runJob(ctx, p, j)
		s.notify()
		if err == nil || ctx.Err() != nil {
			continue
		}
		if j.ID != stuckJob {
			stuckJob, stuck = j.ID, 0
		}
		stuck++
		if stuck >= maxJobErrors && !errs.Is(err, errs.Transient) {
			if ferr := s.failStuck(ctx, p, j, err); ferr == nil {
				continue
			}
		}
		s.cfg.Log.Error().Err(err).Str("pipeline", pipe).Str("job", j.ID).Msg("pipelines: gate job interrupted; retrying")
		if !sleepCtx(ctx, 2*time.Second) {
			break
		}
	}
	g := &s.gates
	g.mu.Lock()
	if g.runs[lk] == gr {
		delete(g.runs, lk)
	}
	g.mu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// startGates (Start) ends the gate jobs a restart interrupted (failed,
// marked Interrupted, so that a merge runs them again; one whose output
// commit was already made finishes) and starts the lanes with pending
// jobs.
func (s *Service) startGates(ctx context.Context) error {
	lanes, err := s.Lanes(ctx, "")
	if err != nil {
		return err
	}
	for _, l := range lanes {
		lk := laneKey(l.Pipeline, l.ID)
		var open []*Job
		if err := s.rec.View(ctx, func(txn kv.Reader) error {
			return queuedJobs(txn, pJobQueue+lk+"/", func(j *Job) bool {
				if !j.Done() {
					open = append(open, j)
				}
				return true
			})
		}); err != nil {
			return err
		}
		kick := false
		for _, j := range open {
			if j.State == JobPending {
				kick = true
				continue
			}
			if j.State == JobFinishing {
				if r, err := s.ms.Resolve(ctx, j.OutputRepo, j.OutputCommit); err == nil && r.Kind == meta.KindCommit {
					kick = true // finish() completes it
					continue
				}
			}
			jr := &jobRun{s: s, ctx: ctx, job: j, claims: map[string]string{}}
			if j.Spec != nil {
				jr.leaves = j.Spec.Leaves()
			}
			if j.Planned {
				if err := jr.loadDatums(); err != nil {
					return err
				}
			}
			j.Gate.Interrupted = true
			if err := jr.fail("the gateway restarted while the gate job ran: merge again, or run it again (tusk pipeline run "+j.Pipeline+" --repo "+j.Gate.Repo+" --branch "+j.Gate.Source+")", nil); err != nil {
				return err
			}
		}
		if kick {
			s.kickLane(lk)
		}
	}
	return nil
}

// deleteGates (Delete) stops the pipeline's lanes, aborts the commits of
// their unfinished jobs, unmarks their output branches, and deletes their
// records.
func (s *Service) deleteGates(ctx context.Context, name string) error {
	g := &s.gates
	g.mu.Lock()
	var runs []*gateRun
	for lk, gr := range g.runs {
		if strings.HasPrefix(lk, name+"\x00") {
			gr.cancel()
			runs = append(runs, gr)
		}
	}
	g.mu.Unlock()
	for _, gr := range runs {
		select {
		case <-gr.done:
		case <-ctx.Done():
			return errs.Wrap("pipelines.Delete", errs.Transient, ctx.Err())
		}
	}
	lanes, err := s.Lanes(ctx, name)
	if err != nil {
		return err
	}
	var jobs []*Job
	if err := s.rec.View(ctx, func(txn kv.Reader) error {
		return queuedJobs(txn, pJobQueue+name+"\x00", func(j *Job) bool {
			jobs = append(jobs, j)
			return true
		})
	}); err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Done() {
			continue
		}
		for _, c := range []string{j.OutputCommit, j.StagingCommit} {
			if c != "" {
				if err := s.ms.AbortCommit(ctx, j.OutputRepo, c); err != nil && !errs.Is(err, errs.NotExist) {
					return err
				}
			}
		}
	}
	for _, l := range lanes {
		if err := s.ms.SetBranchOutput(ctx, name, l.OutputBranch, ""); err != nil && !errs.Is(err, errs.NotExist) {
			return err
		}
	}
	prefixes := []string{pLane + name + "\x00", pState + name + "\x00", pLeaf + name + "\x00", pJoinIdx + name + "\x00",
		pTop + name + "\x00", pRev + name + "\x00", pOwner + name + "\x00", pJobQueue + name + "\x00", pFailed + name + "\x00"}
	for _, j := range jobs {
		prefixes = append(prefixes, pJobDatum+j.ID+"/", pJobLog+j.ID+"/", pJobLeaf+j.ID+"/", pJobOut+j.ID+"/")
	}
	for _, pf := range prefixes {
		if err := s.deletePrefix(ctx, pf); err != nil {
			return err
		}
	}
	return s.rec.Update(ctx, func(txn kv.ReadWriter) error {
		for _, j := range jobs {
			if err := txn.Delete([]byte(pJob + j.ID)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- the gate of a merge ----

// Gate states of a required pipeline on a merge's source.
const (
	GatePassed  = "passed"  // succeeded on the source commit at the pipeline's version
	GateRunning = "running" // a gate job is pending or running
	GateFailed  = "failed"  // its gate job on the source commit failed
	GateMissing = "missing" // no such pipeline
	GateNone    = "none"    // not run on the source commit (and not started)
)

// GateCheck is a merge to check against its destination's required
// pipelines.
type GateCheck struct {
	Repo string
	// Source is the ref being merged (its lane: a gate runs on it) and
	// Commit the commit it resolved to, which is what gets merged.
	Source string
	Commit string
	// Root, when set, is the source commit's root: a gate job that ran on
	// an open commit passed for the commit it became only if its content
	// is what the job processed.
	Root        meta.Hash
	Destination string
	Required    []string
	// Start runs a gate job for each pipeline that has not passed, is not
	// running and did not fail on Commit (RunGate).
	Start bool
}

// GateStatus is the answer of a gate check.
type GateStatus struct {
	Passed    bool            `json:"passed"`
	Pipelines []GatePipeline  `json:"pipelines"`
	check     GateCheck       // for Err
	jobs      map[string]*Job // running gate jobs, by pipeline
}

// GatePipeline is one required pipeline's state on the merge's source.
type GatePipeline struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Job    string `json:"job,omitempty"`
	Commit string `json:"commit,omitempty"` // the source commit its job read
	Reason string `json:"reason,omitempty"`
}

// CheckGate reports whether every pipeline of c.Required has succeeded on
// c.Commit (the lane of c.Source processed it, at the pipeline's current
// version); with c.Start it runs the gate jobs needed. Errors are the
// store's; a gate that did not pass is a status, not an error (Err).
func (s *Service) CheckGate(ctx context.Context, c GateCheck) (*GateStatus, error) {
	out := &GateStatus{Passed: true, check: c, jobs: map[string]*Job{}}
	for _, name := range c.Required {
		gp, j, err := s.gateOf(ctx, c, name)
		if err != nil {
			return nil, err
		}
		if gp.State != GatePassed {
			out.Passed = false
		}
		if j != nil && !j.Done() {
			out.jobs[name] = j
		}
		out.Pipelines = append(out.Pipelines, gp)
	}
	return out, nil
}

func (s *Service) gateOf(ctx context.Context, c GateCheck, name string) (GatePipeline, *Job, error) {
	gp := GatePipeline{Name: name}
	p, err := s.Get(ctx, name)
	if errs.Is(err, errs.NotExist) {
		gp.State = GateMissing
		return gp, nil, nil
	}
	if err != nil {
		return gp, nil, err
	}
	if _, err := gateRepo(p, c.Repo); err != nil {
		gp.State, gp.Reason = GateFailed, err.Error()
		return gp, nil, nil
	}
	lk := laneKey(name, LaneID(c.Repo, c.Source))
	st, err := s.GetState(ctx, lk)
	if err != nil {
		return gp, nil, err
	}
	if st != nil && st.Version == p.Version {
		if in := stateInput(st, c.Repo, c.Commit); in != nil {
			same := c.Root.IsZero()
			if !same {
				if same, err = s.sameContent(ctx, in.Root, c.Root); err != nil {
					return gp, nil, err
				}
			}
			if same {
				gp.State, gp.Job, gp.Commit = GatePassed, st.Job, c.Commit
				return gp, nil, nil
			}
		}
	}
	var last *Job
	if c.Start {
		last, err = s.RunGate(ctx, GateRequest{Pipeline: name, Repo: c.Repo, Source: c.Source})
		if err != nil {
			return gp, nil, err
		}
	} else if err := s.rec.View(ctx, func(txn kv.Reader) error {
		var err error
		last, err = lastJobTx(txn, lk)
		return err
	}); err != nil {
		return gp, nil, err
	}
	switch {
	case last == nil:
		gp.State = GateNone
	case !last.Done():
		gp.State, gp.Job, gp.Commit = GateRunning, last.ID, last.gateCommit()
	case last.gateCommit() == c.Commit && last.Version == p.Version && last.State != JobSuccess:
		gp.State, gp.Job, gp.Commit, gp.Reason = GateFailed, last.ID, c.Commit, last.Reason
	default:
		// It ran on another commit (the source moved) or an older version.
		gp.State, gp.Job, gp.Commit = GateNone, last.ID, last.gateCommit()
	}
	return gp, last, nil
}

// WaitGate checks the gate (starting its jobs when c.Start) and, while it
// has not passed and gate jobs run, waits for them and checks again, until
// ctx ends (the status then says what still runs).
func (s *Service) WaitGate(ctx context.Context, c GateCheck) (*GateStatus, error) {
	for {
		st, err := s.CheckGate(ctx, c)
		if err != nil || st.Passed || len(st.jobs) == 0 {
			return st, err
		}
		for _, j := range st.jobs {
			if _, err := s.WaitJob(ctx, j.ID); err != nil {
				return nil, err
			}
		}
		if ctx.Err() != nil {
			c.Start = false
			return s.CheckGate(context.WithoutCancel(ctx), c)
		}
	}
}

// Err is nil when the gate passed, else a Conflict (errs.Gate) that names
// each pipeline that has not passed, its state on the source, and what to
// do.
func (g *GateStatus) Err() error {
	if g.Passed {
		return nil
	}
	c := g.check
	short := c.Commit
	if len(short) > 12 {
		short = short[:12]
	}
	var parts []string
	for _, p := range g.Pipelines {
		switch p.State {
		case GatePassed:
			continue
		case GateMissing:
			parts = append(parts, fmt.Sprintf("pipeline %s does not exist: create it, or protect %s without it (tusk branch protect %s@%s)", p.Name, c.Destination, c.Repo, c.Destination))
		case GateRunning:
			on := ""
			if p.Commit != "" && p.Commit != c.Commit {
				on = " (on an older commit; the source's head runs next)"
			}
			parts = append(parts, fmt.Sprintf("pipeline %s has not finished on %s: gate job %s is running%s; merge again when it succeeds, or merge with --wait", p.Name, c.Source, p.Job, on))
		case GateFailed:
			if p.Job == "" {
				parts = append(parts, fmt.Sprintf("pipeline %s cannot gate this merge: %s", p.Name, p.Reason))
				continue
			}
			parts = append(parts, fmt.Sprintf("pipeline %s failed on %s (gate job %s: %s); fix %s and merge again, see tusk job inspect %s, or run it again (tusk pipeline run %s --repo %s --branch %s)",
				p.Name, c.Source, p.Job, p.Reason, c.Source, p.Job, p.Name, c.Repo, c.Source))
		default:
			parts = append(parts, fmt.Sprintf("pipeline %s has not run on %s: merge again to start its gate job, or run it (tusk pipeline run %s --repo %s --branch %s)", p.Name, c.Source, p.Name, c.Repo, c.Source))
		}
	}
	sort.Strings(parts)
	return errs.E("pipelines.Gate", errs.Conflict, "merge of %s (commit %s) into protected branch %s of repo %s needs pipelines %s to succeed on it first: %s",
		c.Source, short, c.Destination, c.Repo, strings.Join(c.Required, ", "), strings.Join(parts, "; ")).Because(errs.Gate)
}
