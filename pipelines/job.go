package pipelines

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/kv"
)

// jobRun is one job being run by its pipeline's loop.
type jobRun struct {
	s      *Service
	ctx    context.Context
	job    *Job
	spec   *Spec
	leaves []*PFSInput
	globs  []*Glob
	roots  []meta.Hash
	user   string
	ak, sk string
	runID  string

	datums  map[string]*JobDatum // every datum of the job that needed work
	claims  map[string]string    // output key -> datum (this job)
	mu      sync.Mutex           // guards files (read by worker goroutines)
	files   map[string][]DatumInput
	collide string // why the job must fail (two datums, one key)
	failed  int
}

// runJob runs (or resumes, or finishes) job j of pipeline p. It returns
// an error only when the job could not make progress (the store failed,
// ctx ended): the job then stays as it is and is resumed later. A job that
// fails is recorded as failed and nil is returned.
func (s *Service) runJob(ctx context.Context, p *Pipeline, j *Job) error {
	jr := &jobRun{s: s, ctx: ctx, job: j, runID: meta.NewID()[:6], claims: map[string]string{},
		files: map[string][]DatumInput{}}
	if j.State == JobPending {
		cur, err := s.Get(ctx, p.Name())
		if err != nil {
			return err
		}
		if cur.Stopped != "" {
			return s.killJob(ctx, cur, j.ID, stoppedErr(cur)) // stop.go
		}
		sp := cur.Spec
		if j.Gate != nil {
			sp = j.Gate.spec(sp)
		}
		j.Spec = &sp
		j.Version = cur.Version
		j.DatumVersion = cur.DatumVer()
	}
	if j.Spec == nil {
		sp := p.Spec
		j.Spec = &sp
	}
	jr.spec = j.Spec
	jr.leaves = jr.spec.Leaves()
	for _, l := range jr.leaves {
		g, err := CompileGlob(l.Glob)
		if err != nil {
			return err
		}
		jr.globs = append(jr.globs, g)
	}
	if s.cfg.Creds != nil {
		jr.user = s.cfg.Creds.User(j.Pipeline)
	} else {
		jr.user = "pipeline:" + j.Pipeline
	}
	log := s.cfg.Log.With().Str("pipeline", j.Pipeline).Str("job", j.ID).Logger()
	switch j.State {
	case JobPending:
		if err := jr.start(); err != nil {
			return err
		}
		if j.Done() {
			return nil
		}
		log.Info().Int("version", j.Version).Msg("pipelines: job started")
	case JobFinishing:
		return jr.finish()
	case JobRunning:
		log.Info().Msg("pipelines: resuming job")
	}
	return jr.execute()
}

func (jr *jobRun) now() time.Time { return jr.s.cfg.Now().UTC() }

func (jr *jobRun) saveJob() error {
	return jr.s.rec.Update(context.WithoutCancel(jr.ctx), func(txn kv.ReadWriter) error { return kv.PutJSON(txn, pJob+jr.job.ID, jr.job) })
}

// start resolves the input heads (the newest: commits that arrived while
// the job was pending coalesce into it), opens the job's commits and
// plans its datums.
func (jr *jobRun) start() error {
	ctx, j, ms := jr.ctx, jr.job, jr.s.ms
	j.Inputs = nil
	jr.roots = nil
	for _, l := range jr.leaves {
		r, err := ms.Resolve(ctx, l.Repo, l.Branch)
		if err != nil {
			if errs.Is(err, errs.NotExist) {
				return jr.fail(fmt.Sprintf("input branch %s of repo %s does not exist", l.Branch, l.Repo), nil)
			}
			return err
		}
		j.Inputs = append(j.Inputs, meta.ProvInput{Name: l.Name, Repo: l.Repo, Branch: l.Branch, Commit: r.CommitID()})
		jr.roots = append(jr.roots, r.Root())
	}
	j.OutputRepo, j.OutputBranch = jr.spec.Name, jr.spec.OutBranch()
	if _, err := ms.GetRepo(ctx, j.OutputRepo); errs.Is(err, errs.NotExist) {
		if _, err := ms.CreateRepo(ctx, j.OutputRepo, jr.user); err != nil && !errs.Is(err, errs.Exist) {
			return err
		}
	}
	if err := ms.SetBranchOutput(ctx, j.OutputRepo, j.OutputBranch, j.Pipeline); err != nil {
		return err
	}
	m := jr.commitMeta("output")
	oc, err := ms.StartCommit(ctx, j.OutputRepo, j.OutputBranch, jr.user, jr.message(), m, true)
	if err != nil {
		return err
	}
	sm := jr.commitMeta("staging")
	sc, err := ms.StartCommit(ctx, j.OutputRepo, j.OutputBranch, jr.user, "staging area of job "+j.ID, sm, true)
	if err != nil {
		_ = ms.AbortCommit(context.WithoutCancel(ctx), j.OutputRepo, oc.ID)
		return err
	}
	j.State, j.Started, j.OutputCommit, j.StagingCommit = JobRunning, jr.now(), oc.ID, sc.ID
	if err := jr.saveJob(); err != nil {
		return err
	}
	// A commit that arrived after the heads were read above and before the
	// job left Pending found it pending and queued nothing: queue the next
	// job now if any head moved (trigger compares with j.Inputs).
	if j.Gate == nil {
		_ = jr.s.trigger(ctx, j.Pipeline, false)
	}
	return jr.plan()
}

func (jr *jobRun) commitMeta(role string) map[string]string {
	j := jr.job
	var ins []string
	for _, in := range j.Inputs {
		ins = append(ins, in.Repo+"@"+in.Commit)
	}
	m := map[string]string{MetaPipeline: fmt.Sprintf("%s@%d", j.Pipeline, j.Version), MetaJob: j.ID,
		MetaInputs: strings.Join(ins, ","), MetaRole: role}
	if role == "staging" {
		m[MetaUser] = jr.user
	}
	return m
}

func (jr *jobRun) message() string {
	j := jr.job
	st := j.Stats
	m := fmt.Sprintf("pipeline %s@%d, job %s: %d datums, %d processed, %d skipped, %d removed",
		j.Pipeline, j.Version, j.ID, st.Total, st.Processed, st.Skipped, st.Removed)
	if st.Failed > 0 {
		m += fmt.Sprintf(", %d failed (on_failure: commit_partial)", st.Failed)
	}
	return m
}

// plan computes and records the job's datums.
func (jr *jobRun) plan() error {
	ctx, j, s := jr.ctx, jr.job, jr.s
	// A plan interrupted by a restart is made again from scratch.
	for _, pf := range []string{pJobDatum + j.ID + "/", pJobLeaf + j.ID + "/"} {
		if err := s.deletePrefix(context.WithoutCancel(ctx), pf); err != nil {
			return err
		}
	}
	st, err := s.GetState(ctx, j.stateKey())
	if err != nil {
		return err
	}
	pl, err := newPlanner(ctx, s.ms, &Pipeline{Spec: *jr.spec}, st, j.DatumVer(), jr.roots)
	if err != nil {
		return err
	}
	pl.name = j.stateKey() // a gate lane's own state; done datums stay the pipeline's
	datums, total, err := pl.plan()
	if err != nil {
		return err
	}
	recs := map[string]any{}
	for _, d := range datums {
		recs[pJobDatum+j.ID+"/"+d.ID] = d
	}
	for k, ld := range pl.leafDeltas(j.ID) {
		recs[k] = ld
	}
	if err := s.putRecs(ctx, recs); err != nil {
		return err
	}
	j.Planned, j.Full = true, pl.full
	j.Stats = JobStats{Total: total, Pending: len(datums)}
	return jr.saveJob()
}

// putRecs writes records in bounded transactions.
func (s *Service) putRecs(ctx context.Context, recs map[string]any) error {
	keys := slices.Sorted(maps.Keys(recs))
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		batch := keys[:n]
		keys = keys[n:]
		if err := s.rec.Update(context.WithoutCancel(ctx), func(txn kv.ReadWriter) error {
			for _, k := range batch {
				if err := kv.PutJSON(txn, k, recs[k]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// execute runs the planned datums that are not done yet.
func (jr *jobRun) execute() error {
	ctx, j, s := jr.ctx, jr.job, jr.s
	if !j.Planned {
		if len(jr.roots) == 0 {
			if err := jr.loadRoots(); err != nil {
				return err
			}
		}
		if err := jr.plan(); err != nil {
			return err
		}
	}
	if len(jr.roots) == 0 {
		if err := jr.loadRoots(); err != nil {
			return err
		}
	}
	// The job's commits must still be open.
	if r, err := s.ms.Resolve(ctx, j.OutputRepo, j.OutputCommit); err != nil || r.Kind != meta.KindOpen {
		if err != nil && !errs.Is(err, errs.NotExist) {
			return err
		}
		return jr.fail("the job's open commit "+j.OutputCommit+" was aborted or finished by someone else", nil)
	}
	if r, err := s.ms.Resolve(ctx, j.OutputRepo, j.StagingCommit); err != nil || r.Kind != meta.KindOpen {
		if err != nil && !errs.Is(err, errs.NotExist) {
			return err
		}
		sc, err := s.ms.StartCommit(ctx, j.OutputRepo, j.OutputBranch, jr.user, "staging area of job "+j.ID, jr.commitMeta("staging"), true)
		if err != nil {
			return err
		}
		j.StagingCommit = sc.ID
		if err := jr.saveJob(); err != nil {
			return err
		}
	}
	if err := jr.loadDatums(); err != nil {
		return err
	}
	var removes, carries, procs []*JobDatum
	for _, d := range jr.sortedDatums() {
		if d.State != DatumPending {
			continue
		}
		switch d.Action {
		case ActRemove:
			removes = append(removes, d)
		case ActCarry:
			carries = append(carries, d)
		default:
			procs = append(procs, d)
		}
	}
	if _, err := jr.applyDirect(removes); err != nil {
		return err
	}
	more, err := jr.applyDirect(carries)
	if err != nil {
		return err
	}
	procs = append(procs, more...)
	if jr.collide == "" && len(procs) > 0 {
		if s.cfg.Creds != nil {
			ak, sk, err := s.cfg.Creds.Key(ctx, j.Pipeline, jr.spec.InputRepos(), j.OutputRepo)
			if err != nil {
				return err
			}
			jr.ak, jr.sk = ak, sk
		}
		if err := jr.process(procs); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	jr.countStats()
	if jr.collide != "" {
		return jr.fail(jr.collide, jr.failedList())
	}
	if jr.failed > 0 {
		reason := fmt.Sprintf("%s failed after %d tries", plural(jr.failed, "datum"), jr.spec.Tries())
		if jr.spec.CommitsPartial() && jr.anySucceeded() {
			// on_failure: commit_partial (failure.go): finish commits the
			// others' outputs and ends the job partial.
			jr.job.Reason = reason + "; the other datums' outputs are committed (on_failure: commit_partial)"
			jr.job.FailedDatums = jr.failedList()
			return jr.finish()
		}
		return jr.fail(reason, jr.failedList())
	}
	return jr.finish()
}

func plural(n int, w string) string {
	if n == 1 {
		return "1 " + w
	}
	return fmt.Sprintf("%d %ss", n, w)
}

func (jr *jobRun) loadRoots() error {
	jr.roots = nil
	for _, in := range jr.job.Inputs {
		c, err := jr.s.ms.GetCommit(jr.ctx, in.Repo, in.Commit)
		if err != nil {
			return err
		}
		jr.roots = append(jr.roots, c.Root)
	}
	if len(jr.roots) != len(jr.leaves) {
		return errs.E("pipelines.job", errs.Internal, "job %s has %d input commits for %d inputs", jr.job.ID, len(jr.roots), len(jr.leaves))
	}
	return nil
}

func (jr *jobRun) loadDatums() error {
	jr.datums = map[string]*JobDatum{}
	return jr.s.rec.View(jr.ctx, func(txn kv.Reader) error {
		return kv.Scan(txn, pJobDatum+jr.job.ID+"/", func(_ string, v []byte) error {
			var d JobDatum
			if err := jsonUnmarshal(v, &d); err != nil {
				return err
			}
			jr.datums[d.ID] = &d
			if d.State == DatumSuccess {
				for _, k := range d.Outputs {
					jr.claims[k] = d.ID
				}
			}
			if d.State == DatumFailed {
				jr.failed++
			}
			return nil
		})
	})
}

func (jr *jobRun) sortedDatums() []*JobDatum {
	out := make([]*JobDatum, 0, len(jr.datums))
	for _, d := range jr.datums {
		out = append(out, d)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// owner returns the datum that wrote key in the committed state.
func (jr *jobRun) owner(txn kv.Reader, key string) (string, error) {
	b, err := txn.Get([]byte(pOwner + jr.job.stateKey() + "/" + key))
	if errs.Is(err, errs.NotExist) {
		return "", nil
	}
	return string(b), err
}

// checkClaim reports a collision when key is written by another datum of
// this job, or by a datum of the committed state that this job keeps.
func (jr *jobRun) checkClaim(txn kv.Reader, d *JobDatum, key string) (string, error) {
	if c, ok := jr.claims[key]; ok && c != d.ID {
		return c, nil
	}
	o, err := jr.owner(txn, key)
	if err != nil {
		return "", err
	}
	if o != "" && o != d.ID {
		if _, affected := jr.datums[o]; !affected {
			return o, nil
		}
	}
	return "", nil
}

func (jr *jobRun) describe(id string) string {
	if d := jr.datums[id]; d != nil {
		return id + " (" + strings.Join(describeDatum(jr.leaves, d.Leaves), ", ") + ")"
	}
	// A datum of the committed state.
	var td TopDatum
	_ = jr.s.rec.View(jr.ctx, func(txn kv.Reader) error {
		_, err := kv.GetJSON(txn, pTop+jr.job.stateKey()+"/"+id, &td)
		return err
	})
	if len(td.Leaves) > 0 {
		return id + " (" + strings.Join(describeDatum(jr.leaves, td.Leaves), ", ") + ")"
	}
	return id
}

func (jr *jobRun) collision(d *JobDatum, other, key string) {
	if jr.collide != "" {
		return
	}
	jr.collide = fmt.Sprintf("datums %s and %s both write output key %q", jr.describe(d.ID), jr.describe(other), key)
	d.State, d.Error = DatumFailed, fmt.Sprintf("writes output key %q, also written by datum %s", key, other)
	if o := jr.datums[other]; o != nil && o.State != DatumFailed {
		o.Error = fmt.Sprintf("writes output key %q, also written by datum %s", key, d.ID)
	}
}

// deletions returns d's old outputs that it no longer writes and that no
// other datum of this job claimed.
func (jr *jobRun) deletions(d *JobDatum, keep map[string]bool) []meta.Change {
	var out []meta.Change
	for _, k := range d.OldOutputs {
		if keep[k] {
			continue
		}
		if c, ok := jr.claims[k]; ok && c != d.ID {
			continue
		}
		out = append(out, meta.Change{Key: k})
	}
	return out
}

// applyDirect removes the outputs of vanished datums and carries over the
// outputs of datums identical to ones processed before, in batches.
func (jr *jobRun) applyDirect(ds []*JobDatum) ([]*JobDatum, error) {
	var procs []*JobDatum
	for len(ds) > 0 && jr.collide == "" {
		n := min(len(ds), 200)
		batch := ds[:n]
		ds = ds[n:]
		var changes []meta.Change
		var done []*JobDatum
		err := jr.s.rec.View(jr.ctx, func(txn kv.Reader) error {
			for _, d := range batch {
				if d.Action == ActRemove {
					changes = append(changes, jr.deletions(d, nil)...)
					d.State, d.Ended = DatumSuccess, jr.now()
					done = append(done, d)
					continue
				}
				var dd DoneDatum
				if ok, err := kv.GetJSON(txn, pDone+jr.job.Pipeline+"/"+d.Hash, &dd); err != nil {
					return err
				} else if !ok {
					d.Action = ActProcess // the record vanished: process it
					continue
				}
				keep := map[string]bool{}
				var puts []meta.Change
				for _, o := range dd.Outputs {
					if other, err := jr.checkClaim(txn, d, o.Key); err != nil {
						return err
					} else if other != "" {
						jr.collision(d, other, o.Key)
						return nil
					}
					e, err := meta.DecodeEntry(o.Entry)
					if err != nil {
						return err
					}
					e.Prov = dd.Prov
					keep[o.Key] = true
					puts = append(puts, meta.Change{Key: o.Key, Entry: e})
				}
				changes = append(changes, jr.deletions(d, keep)...)
				changes = append(changes, puts...)
				d.Outputs = nil
				for _, o := range dd.Outputs {
					d.Outputs = append(d.Outputs, o.Key)
					jr.claims[o.Key] = d.ID
				}
				d.Prov, d.State, d.Ended = dd.Prov, DatumSuccess, jr.now()
				done = append(done, d)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if jr.collide != "" {
			return procs, nil
		}
		for _, d := range batch {
			if d.Action == ActProcess {
				procs = append(procs, d)
			}
		}
		if err := jr.writeOutputs(changes, nil, done, nil, nil); err != nil {
			return nil, err
		}
	}
	return procs, nil
}

// writeOutputs writes changes into the job's open commit with the
// provenance records and the datum records, atomically; changes beyond a
// transaction's size go first in their own writes.
func (jr *jobRun) writeOutputs(changes []meta.Change, recs []*meta.ProvRecord, ds []*JobDatum, outs map[string]*DoneDatum, logs map[string]string) error {
	j := jr.job
	ctx := context.WithoutCancel(jr.ctx)
	req := func(cs []meta.Change) meta.WriteRequest {
		return meta.WriteRequest{Repo: j.OutputRepo, Open: j.OutputCommit, Author: jr.user,
			Message: "job " + j.ID, Changes: cs, System: true}
	}
	for len(changes) > 2000 {
		if _, err := jr.s.ms.WriteOutputs(ctx, req(changes[:2000]), nil); err != nil {
			return err
		}
		changes = changes[2000:]
	}
	// Logs (up to MaxLog each) go first, in transactions of about 1 MiB.
	if err := jr.writeLogs(ctx, logs); err != nil {
		return err
	}
	jr.countStats()
	_, err := jr.s.rec.WriteOutputs(ctx, req(changes), recs, func(txn kv.ReadWriter) error {
		for _, d := range ds {
			if err := kv.PutJSON(txn, pJobDatum+j.ID+"/"+d.ID, d); err != nil {
				return err
			}
		}
		for id, dd := range outs {
			if err := kv.PutJSON(txn, pJobOut+j.ID+"/"+id, dd); err != nil {
				return err
			}
		}
		return kv.PutJSON(txn, pJob+j.ID, j)
	})
	return err
}

// writeLogs stores datum logs in bounded transactions.
func (jr *jobRun) writeLogs(ctx context.Context, logs map[string]string) error {
	ids := slices.Sorted(maps.Keys(logs))
	for len(ids) > 0 {
		n, size := 0, 0
		for n < len(ids) && (n == 0 || size+len(logs[ids[n]]) <= 1<<20) {
			size += len(logs[ids[n]])
			n++
		}
		batch := ids[:n]
		ids = ids[n:]
		err := jr.s.rec.Update(ctx, func(txn kv.ReadWriter) error {
			for _, id := range batch {
				if err := txn.Set([]byte(pJobLog+jr.job.ID+"/"+id), []byte(logs[id])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (jr *jobRun) countStats() {
	st := &jr.job.Stats
	st.Processed, st.Carried, st.Removed, st.Failed, st.Pending, st.Outputs = 0, 0, 0, 0, 0, 0
	for _, d := range jr.datums {
		switch d.State {
		case DatumPending:
			st.Pending++
		case DatumFailed:
			st.Failed++
		case DatumSuccess:
			switch d.Action {
			case ActProcess:
				st.Processed++
			case ActCarry:
				st.Carried++
			case ActRemove:
				st.Removed++
			}
			st.Outputs += len(d.Outputs)
		}
	}
	st.Skipped = max(0, st.Total-st.Processed-st.Failed-st.Pending)
}

func (jr *jobRun) failedList() []FailedDatum {
	var out []FailedDatum
	for _, d := range jr.sortedDatums() {
		if d.State != DatumFailed {
			continue
		}
		out = append(out, FailedDatum{ID: d.ID, Inputs: describeDatum(jr.leaves, d.Leaves), Attempts: d.Attempts,
			ExitCode: d.ExitCode, Error: d.Error, LogTail: d.LogTail})
		if len(out) >= 100 {
			break
		}
	}
	return out
}

// ---- processing through the runner ----

type chunkEvent struct {
	res  *Result
	done bool
	err  error
}

// try is one try of a datum handed to a worker goroutine (a snapshot: the
// coordinator alone touches JobDatum records).
type try struct {
	d       *JobDatum
	attempt int
	prefix  string
}

// process runs datums through the runner with the spec's parallelism,
// retrying failed tries up to datum_tries, and moves each success's
// outputs into the job's commit.
func (jr *jobRun) process(ds []*JobDatum) error {
	ctx, cancel := context.WithCancel(jr.ctx)
	defer cancel()
	tries := jr.spec.Tries()
	workers := jr.spec.Workers()
	queue := append([]*JobDatum(nil), ds...)
	work := make(chan []try)
	events := make(chan chunkEvent, 256)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range work {
				jr.runChunk(ctx, chunk, events)
			}
		}()
	}
	defer func() {
		close(work)
		cancel()
		// Drain until every worker is gone.
		go func() {
			for range events {
			}
		}()
		wg.Wait()
		close(events)
	}()
	inflight := 0
	for {
		var send chan []try
		var next []try
		if len(queue) > 0 && jr.collide == "" {
			size := len(queue) / (workers * 4)
			size = max(1, min(size, 256))
			for _, d := range queue[:size] {
				a := d.Attempts + 1
				next = append(next, try{d: d, attempt: a, prefix: stagingPrefix(d.ID, jr.runID, a)})
			}
			send = work
		}
		if send == nil && inflight == 0 {
			return nil
		}
		select {
		case send <- next:
			queue = queue[len(next):]
			inflight++
		case ev := <-events:
			var batch []Result
			outputs := 0
			handle := func(ev chunkEvent) {
				if ev.done {
					inflight--
					if ev.err != nil && ctx.Err() == nil {
						jr.s.cfg.Log.Warn().Err(ev.err).Str("job", jr.job.ID).Msg("pipelines: worker failed")
					}
					return
				}
				batch = append(batch, *ev.res)
				outputs += ev.res.Outputs
			}
			handle(ev)
		drain:
			for len(batch) < 256 && outputs < moveOutputs {
				select {
				case ev := <-events:
					handle(ev)
				default:
					break drain
				}
			}
			if err := jr.ctx.Err(); err != nil {
				return err
			}
			if moveHook != nil {
				moveHook(batch)
			}
			retry, err := jr.results(batch, tries)
			if err != nil {
				return err
			}
			queue = append(queue, retry...)
			if jr.collide != "" {
				cancel()
			}
		case <-jr.ctx.Done():
			return jr.ctx.Err()
		}
	}
}

func stagingPrefix(datum, run string, attempt int) string {
	return fmt.Sprintf("%s/%s-%d/", datum, run, attempt)
}

// runChunk runs one chunk on the runner, reporting every datum exactly
// once (a datum the runner did not report failed its try).
func (jr *jobRun) runChunk(ctx context.Context, chunk []try, events chan<- chunkEvent) {
	t, err := jr.task(chunk)
	var mu sync.Mutex
	reported := map[string]bool{}
	if err == nil {
		err = jr.s.runnerFor(jr.spec.Runner).Run(ctx, t, func(r Result) {
			mu.Lock()
			if reported[r.Datum] {
				mu.Unlock()
				return
			}
			reported[r.Datum] = true
			mu.Unlock()
			rr := r
			events <- chunkEvent{res: &rr}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, it := range chunk {
		if reported[it.d.ID] {
			continue
		}
		msg := "the worker ended without reporting this datum"
		if err != nil {
			msg += ": " + err.Error()
		}
		events <- chunkEvent{res: &Result{Datum: it.d.ID, Attempt: it.attempt, ExitCode: -1, Error: msg,
			Started: jr.now(), Ended: jr.now()}}
	}
	events <- chunkEvent{done: true, err: err}
}

// task builds the worker's task for a chunk (listing each datum's keys at
// the input commits).
func (jr *jobRun) task(chunk []try) (*Task, error) {
	j, sp := jr.job, jr.spec
	t := &Task{Job: j.ID, Pipeline: j.Pipeline, Version: j.Version, Endpoint: jr.s.cfg.Endpoint, Region: jr.s.cfg.Region,
		AccessKey: jr.ak, SecretKey: jr.sk, OutputRepo: j.OutputRepo, OutputCommit: j.OutputCommit,
		StagingCommit: j.StagingCommit, Cmd: sp.Transform.Cmd, Stdin: sp.Transform.Stdin, Env: sp.Transform.Env,
		Image: sp.Transform.Image, Timeout: jr.s.datumTimeout(sp), WorkDir: jr.s.cfg.WorkDir,
		Requests: sp.ResourceRequests, Limits: sp.ResourceLimits, NodeSelector: sp.NodeSelector, Tolerations: sp.Tolerations}
	for _, it := range chunk {
		ins, err := jr.inputsOf(it.d)
		if err != nil {
			return nil, err
		}
		t.Datums = append(t.Datums, DatumTask{ID: it.d.ID, Attempt: it.attempt, Prefix: it.prefix, Inputs: ins})
	}
	return t, nil
}

func (jr *jobRun) inputsOf(d *JobDatum) ([]DatumInput, error) {
	jr.mu.Lock()
	ins, ok := jr.files[d.ID]
	jr.mu.Unlock()
	if ok {
		return ins, nil
	}
	for _, r := range d.Leaves {
		l := jr.leaves[r.Leaf]
		in := DatumInput{Name: l.Name, Repo: l.Repo, Commit: jr.job.Inputs[r.Leaf].Commit}
		err := listDatum(jr.ctx, jr.s.ms, jr.roots[r.Leaf], jr.globs[r.Leaf], r.Path, func(k string, e *meta.Entry) error {
			in.Files = append(in.Files, DatumFile{Key: k, Size: e.Size, Content: e.Content, Version: e.VersionID()})
			return nil
		})
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}
	jr.mu.Lock()
	jr.files[d.ID] = ins
	jr.mu.Unlock()
	return ins, nil
}

// logTail is the end of a log: at most 20 lines and 2 KiB.
func logTail(l string) string {
	l = strings.TrimRight(l, "\n")
	if len(l) > 2048 {
		l = l[len(l)-2048:]
		if i := strings.IndexByte(l, '\n'); i >= 0 && i < len(l)-1 {
			l = l[i+1:]
		}
	}
	lines := strings.Split(l, "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// results handles finished tries: failures are retried (returned) until
// tries are used up; successes have their staged outputs moved into the
// job's commit, with their provenance, in one write.
func (jr *jobRun) results(batch []Result, tries int) ([]*JobDatum, error) {
	var retry []*JobDatum
	var oks []Result
	var failed []*JobDatum
	logs := map[string]string{}
	for _, r := range batch {
		d := jr.datums[r.Datum]
		if d == nil || d.State != DatumPending {
			continue
		}
		jr.s.observeTry(jr.job.Pipeline, r)
		d.Attempts = max(d.Attempts, r.Attempt)
		if r.OK() {
			oks = append(oks, r)
			continue
		}
		d.ExitCode, d.Error, d.LogTail = r.ExitCode, r.Error, logTail(r.Log)
		if d.Attempts < tries && jr.collide == "" {
			retry = append(retry, d)
			continue
		}
		d.State, d.Started, d.Ended = DatumFailed, r.Started, r.Ended
		jr.failed++
		failed = append(failed, d)
		logs[d.ID] = r.Log
	}
	if len(oks) == 0 {
		if len(failed) > 0 {
			return retry, jr.writeOutputs(nil, nil, failed, nil, logs)
		}
		return retry, nil
	}
	sr, err := jr.s.ms.Resolve(jr.ctx, jr.job.OutputRepo, jr.job.StagingCommit)
	if err != nil {
		return nil, err
	}
	root := sr.Root()
	var changes []meta.Change
	var recs []*meta.ProvRecord
	done := failed
	outs := map[string]*DoneDatum{}
	err = jr.s.rec.View(jr.ctx, func(txn kv.Reader) error {
		for _, r := range oks {
			d := jr.datums[r.Datum]
			prefix := stagingPrefix(d.ID, jr.runID, r.Attempt)
			type out struct {
				key string
				e   *meta.Entry
			}
			var staged []out
			err := listPrefix(jr.ctx, jr.s.ms, root, prefix, func(k string, e *meta.Entry) error {
				staged = append(staged, out{k[len(prefix):], e})
				return nil
			})
			if err != nil {
				return err
			}
			for _, o := range staged {
				other, err := jr.checkClaim(txn, d, o.key)
				if err != nil {
					return err
				}
				if other != "" {
					jr.collision(d, other, o.key)
					done = append(done, d)
					return nil
				}
			}
			ins, err := jr.inputsOf(d)
			if err != nil {
				return err
			}
			rec := &meta.ProvRecord{ID: meta.NewID(), Pipeline: jr.job.Pipeline, Version: jr.job.Version, Job: jr.job.ID,
				Datum: d.ID, Repo: jr.job.OutputRepo, Branch: jr.job.OutputBranch, Commit: jr.job.OutputCommit}
			for _, in := range ins {
				for _, f := range in.Files {
					rec.Inputs = append(rec.Inputs, meta.ProvInput{Name: in.Name, Repo: in.Repo, Branch: jr.leafBranch(in.Name),
						Commit: in.Commit, Key: f.Key, Version: f.Version, Content: f.Content, Size: f.Size})
				}
			}
			keep := map[string]bool{}
			dd := &DoneDatum{Prov: rec.ID}
			var puts []meta.Change
			for _, o := range staged {
				e := *o.e
				e.Prov, e.Version = rec.ID, ""
				keep[o.key] = true
				puts = append(puts, meta.Change{Key: o.key, Entry: &e})
				rec.Outputs = append(rec.Outputs, meta.ProvOutput{Key: o.key, Content: e.Content, Size: e.Size})
				dd.Outputs = append(dd.Outputs, DoneOutput{Key: o.key, Entry: e.Encode()})
			}
			changes = append(changes, jr.deletions(d, keep)...)
			changes = append(changes, puts...)
			d.Outputs = nil
			for _, o := range staged {
				d.Outputs = append(d.Outputs, o.key)
				jr.claims[o.key] = d.ID
			}
			d.State, d.Prov, d.NewProv = DatumSuccess, rec.ID, true
			d.ExitCode, d.Error, d.LogTail, d.Started, d.Ended = 0, "", logTail(r.Log), r.Started, r.Ended
			recs = append(recs, rec)
			outs[d.ID] = dd
			logs[d.ID] = r.Log
			done = append(done, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return retry, jr.writeOutputs(changes, recs, done, outs, logs)
}

func (jr *jobRun) leafBranch(name string) string {
	for _, l := range jr.leaves {
		if l.Name == name {
			return l.Branch
		}
	}
	return ""
}

// ---- the end of a job ----

// failStuck fails a job that could not make progress (the same error on
// every try), so that the pipeline's next job can run.
func (s *Service) failStuck(ctx context.Context, p *Pipeline, j *Job, cause error) error {
	jr := &jobRun{s: s, ctx: ctx, job: j}
	if j.Spec != nil {
		jr.leaves = j.Spec.Leaves()
	} else {
		jr.leaves = p.Spec.Leaves()
	}
	if err := jr.loadDatums(); err != nil {
		return err
	}
	jr.claims = map[string]string{}
	return jr.fail("the job could not make progress: "+cause.Error(), jr.failedList())
}

// killJob ends job id killed, saying why (its pipeline was updated while
// it ran), unless it ended meanwhile or is finishing (its outputs are
// being committed: it completes).
func (s *Service) killJob(ctx context.Context, p *Pipeline, id, why string) error {
	j, err := s.GetJob(ctx, id)
	if err != nil || j.Done() || j.State == JobFinishing {
		return err
	}
	jr := &jobRun{s: s, ctx: ctx, job: j, claims: map[string]string{}}
	if j.Spec != nil {
		jr.leaves = j.Spec.Leaves()
	} else {
		jr.leaves = p.Spec.Leaves()
	}
	if j.State == JobRunning {
		if err := jr.loadDatums(); err != nil {
			return err
		}
	}
	return jr.end(JobKilled, why, nil)
}

// fail ends the job without an output commit: its commits are aborted and
// the provenance records it made are deleted. The pipeline's state stays at
// the last successful job, so the next job processes these datums again.
func (jr *jobRun) fail(reason string, failed []FailedDatum) error {
	return jr.end(JobFailure, reason, failed)
}

// end ends the job in state (JobFailure or JobKilled) without an output
// commit, as fail says.
func (jr *jobRun) end(state, reason string, failed []FailedDatum) error {
	ctx, j, s := context.WithoutCancel(jr.ctx), jr.job, jr.s
	for _, c := range []string{j.OutputCommit, j.StagingCommit} {
		if c == "" {
			continue
		}
		if err := s.ms.AbortCommit(ctx, j.OutputRepo, c); err != nil && !errs.Is(err, errs.NotExist) {
			return err
		}
	}
	var provs []string
	for _, d := range jr.datums {
		if d.NewProv && d.Prov != "" {
			provs = append(provs, d.Prov)
		}
	}
	if err := s.ms.DeleteProv(ctx, provs); err != nil {
		return err
	}
	if err := jr.dropScratch(ctx); err != nil {
		return err
	}
	if jr.datums != nil {
		jr.countStats()
	}
	j.State, j.Reason, j.FailedDatums, j.Finished = state, reason, failed, jr.now()
	jr.scheduleRetry()
	if err := jr.saveJob(); err != nil {
		return err
	}
	s.cfg.Log.Warn().Str("pipeline", j.Pipeline).Str("job", j.ID).Str("reason", reason).Msg("pipelines: job " + state)
	return nil
}

// dropScratch deletes the job's leaf and output records (pJobLeaf,
// pJobOut), which only a running job reads.
func (jr *jobRun) dropScratch(ctx context.Context) error {
	for _, pf := range []string{pJobLeaf, pJobOut} {
		if err := jr.s.deletePrefix(ctx, pf+jr.job.ID+"/"); err != nil {
			return err
		}
	}
	return nil
}

// finish makes the output commit and records what the job processed as the
// pipeline's state. Every step can run again after a crash.
func (jr *jobRun) finish() error {
	ctx, j, s := jr.ctx, jr.job, jr.s
	if j.State != JobFinishing {
		j.State = JobFinishing
		if err := jr.saveJob(); err != nil {
			return err
		}
	}
	wctx := context.WithoutCancel(ctx)
	if _, err := s.ms.FinishCommit(wctx, j.OutputRepo, j.OutputCommit, jr.message()); err != nil {
		r, rerr := s.ms.Resolve(wctx, j.OutputRepo, j.OutputCommit)
		if rerr != nil || r.Kind != meta.KindCommit {
			if errs.Is(err, errs.TooLarge) {
				return jr.fail(fmt.Sprintf("the output commit changes %d keys, more than one commit can hold: %v", j.Stats.Outputs, err), nil)
			}
			return err
		}
	}
	if err := s.ms.AbortCommit(wctx, j.OutputRepo, j.StagingCommit); err != nil && !errs.Is(err, errs.NotExist) {
		return err
	}
	if err := jr.apply(wctx); err != nil {
		return err
	}
	roots := make([]StateInput, 0, len(j.Inputs))
	for i, in := range j.Inputs {
		if len(jr.roots) == len(j.Inputs) { // what the job read (an open commit's root, for a gate job)
			roots = append(roots, StateInput{Repo: in.Repo, Branch: in.Branch, Commit: in.Commit, Root: jr.roots[i]})
			continue
		}
		c, err := s.ms.GetCommit(wctx, in.Repo, in.Commit)
		if err != nil {
			return err
		}
		roots = append(roots, StateInput{Repo: in.Repo, Branch: in.Branch, Commit: in.Commit, Root: c.Root})
	}
	rec := &meta.ProvRecord{ID: j.ID, Pipeline: j.Pipeline, Version: j.Version, Job: j.ID, Repo: j.OutputRepo,
		Branch: j.OutputBranch, Commit: j.OutputCommit, Inputs: j.Inputs}
	if err := s.ms.PutProv(wctx, rec); err != nil {
		return err
	}
	if err := jr.dropScratch(wctx); err != nil {
		return err
	}
	// A partial job's failed datums (on_failure: commit_partial) become the
	// pipeline's failed set, processed again by the next job; those never
	// committed do not count in the state's datums.
	uncommitted, err := jr.saveFailed(wctx)
	if err != nil {
		return err
	}
	j.State, j.Finished = JobSuccess, jr.now()
	if j.Stats.Failed > 0 {
		j.State = JobPartial
	}
	if j.Gate == nil { // a failing gate keeps refusing until its source changes or it is forced
		jr.scheduleRetry()
	}
	st := &State{Version: j.Version, Inputs: roots, Datums: j.Stats.Total - uncommitted, Job: j.ID, DatumVersion: j.DatumVer()}
	err = s.rec.Update(wctx, func(txn kv.ReadWriter) error {
		if err := kv.PutJSON(txn, pState+j.stateKey(), st); err != nil {
			return err
		}
		return kv.PutJSON(txn, pJob+j.ID, j)
	})
	if err != nil {
		return err
	}
	s.cfg.Log.Info().Str("pipeline", j.Pipeline).Str("job", j.ID).Int("datums", j.Stats.Total).
		Int("processed", j.Stats.Processed).Int("skipped", j.Stats.Skipped).Int("removed", j.Stats.Removed).
		Int("failed", j.Stats.Failed).Msg("pipelines: job " + j.State)
	return nil
}

// apply folds the job's datums and leaf changes into the pipeline's
// committed state (idempotent: a crash midway applies again).
func (jr *jobRun) apply(ctx context.Context) error {
	j, s := jr.job, jr.s
	pipe := j.stateKey()
	var ds []*JobDatum
	var leafKeys []string
	var leafVals []LeafDatum
	err := s.rec.View(ctx, func(txn kv.Reader) error {
		if err := kv.Scan(txn, pJobDatum+j.ID+"/", func(_ string, v []byte) error {
			var d JobDatum
			if err := jsonUnmarshal(v, &d); err != nil {
				return err
			}
			ds = append(ds, &d)
			return nil
		}); err != nil {
			return err
		}
		return kv.Scan(txn, pJobLeaf+j.ID+"/", func(k string, v []byte) error {
			var ld LeafDatum
			if err := jsonUnmarshal(v, &ld); err != nil {
				return err
			}
			leafKeys = append(leafKeys, k)
			leafVals = append(leafVals, ld)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for len(ds) > 0 {
		n := min(len(ds), 300)
		batch := ds[:n]
		ds = ds[n:]
		err := s.rec.Update(ctx, func(txn kv.ReadWriter) error {
			for _, d := range batch {
				if d.State != DatumSuccess {
					continue
				}
				for _, k := range d.OldOutputs {
					if o, err := jr.owner(txn, k); err != nil {
						return err
					} else if o == d.ID {
						if err := txn.Delete([]byte(pOwner + pipe + "/" + k)); err != nil {
							return err
						}
					}
				}
				if d.Action == ActRemove {
					if err := txn.Delete([]byte(pTop + pipe + "/" + d.ID)); err != nil {
						return err
					}
					for _, l := range d.Leaves {
						if err := txn.Delete([]byte(revKey(pipe, l, d.ID))); err != nil {
							return err
						}
					}
					continue
				}
				td := &TopDatum{Hash: d.Hash, Leaves: d.Leaves, Outputs: d.Outputs, Prov: d.Prov}
				if err := kv.PutJSON(txn, pTop+pipe+"/"+d.ID, td); err != nil {
					return err
				}
				for _, l := range d.Leaves {
					if err := txn.Set([]byte(revKey(pipe, l, d.ID)), nil); err != nil {
						return err
					}
				}
				for _, k := range d.Outputs {
					if err := txn.Set([]byte(pOwner+pipe+"/"+k), []byte(d.ID)); err != nil {
						return err
					}
				}
				if d.Action == ActProcess {
					var dd DoneDatum
					if ok, err := kv.GetJSON(txn, pJobOut+j.ID+"/"+d.ID, &dd); err != nil {
						return err
					} else if ok {
						if err := kv.PutJSON(txn, pDone+j.Pipeline+"/"+d.Hash, &dd); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for len(leafKeys) > 0 {
		n := min(len(leafKeys), 500)
		ks, vs := leafKeys[:n], leafVals[:n]
		leafKeys, leafVals = leafKeys[n:], leafVals[n:]
		err := s.rec.Update(ctx, func(txn kv.ReadWriter) error {
			for i, k := range ks {
				leaf, path, ok := splitJobLeafKey(k)
				if !ok {
					continue
				}
				var prev LeafDatum
				had, err := kv.GetJSON(txn, leafKey(pipe, leaf, path), &prev)
				if err != nil {
					return err
				}
				if had && (vs[i].Hash == "" || prev.Join != vs[i].Join) {
					if err := txn.Delete([]byte(joinKey(pipe, leaf, prev.Join, path))); err != nil {
						return err
					}
				}
				if vs[i].Hash == "" {
					if err := txn.Delete([]byte(leafKey(pipe, leaf, path))); err != nil {
						return err
					}
					continue
				}
				if err := kv.PutJSON(txn, leafKey(pipe, leaf, path), vs[i]); err != nil {
					return err
				}
				if err := txn.Set([]byte(joinKey(pipe, leaf, vs[i].Join, path)), nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
