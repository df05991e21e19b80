package pipelines

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// TaskBoard holds the tasks of workers that cannot be handed their task on
// stdin (pods of the kubernetes runner): a runner posts a Task under an id,
// and each of its workers, authenticated with the task's own access key
// (the pipeline's), reads the task, claims its datums one at a time and
// reports each try's Result through the gateway's admin API
// (/api/v1/tasks/{id}). A datum is handed out once; a claim is reported
// once. It is safe for concurrent use.
//
// Claims are leases: a worker renews its claim while it runs the datum
// (Renew, every Lease/3); a claim not renewed for twice the lease is
// dropped and its datum reported as a failed try (the worker is gone or cut
// off, and has killed its command after one lease without renewal). After a
// gateway restart, a re-attached posting (Hold) hands out no datum for one
// lease, so that workers still running a datum claimed from the old board
// renew (and so re-claim) it first: a datum never runs twice at once.
type TaskBoard struct {
	mu    sync.Mutex
	tasks map[string]*Posting
	lease time.Duration
}

// NewTaskBoard returns an empty board whose claims last DefaultLease.
func NewTaskBoard() *TaskBoard {
	return &TaskBoard{tasks: map[string]*Posting{}, lease: DefaultLease}
}

// SetLease sets how long a claim lasts without renewal (d <= 0:
// DefaultLease); it applies to claims made or renewed afterwards.
func (b *TaskBoard) SetLease(d time.Duration) {
	if d <= 0 {
		d = DefaultLease
	}
	b.mu.Lock()
	b.lease = d
	b.mu.Unlock()
}

// Lease is how long a claim lasts without renewal.
func (b *TaskBoard) Lease() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lease
}

// Posting is a task on the board, as its runner sees it.
type Posting struct {
	b      *TaskBoard
	id     string
	t      *Task
	report func(Result)

	// mu (the board's) guards the fields below.
	next     int                 // index in t.Datums of the next datum to hand out
	claims   map[string]*claim   // token -> claim
	reported map[string]bool     // datum id -> reported
	left     int                 // datums not reported yet
	done     chan struct{}       // closed when left reaches 0
	closed   bool                // Close was called
	finished time.Time           // when Close kept it as finished (every datum reported)
	workers  map[string][]*claim // worker -> its claims
	handed   map[string]bool     // datum id -> handed out (claimed or adopted)
	hold     time.Time           // no datum is handed out before (Hold)
	sweep    *time.Timer         // drops lapsed claims
}

type claim struct {
	token   string
	datum   DatumTask
	worker  string
	renewed time.Time
}

// Post puts t on the board under id; report is called once per datum, as
// Runner.Run's report (never after Close returns). Errors: Exist when id is
// taken.
func (b *TaskBoard) Post(id string, t *Task, report func(Result)) (*Posting, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for oid, o := range b.tasks {
		if !o.finished.IsZero() && time.Since(o.finished) > keepFinished {
			delete(b.tasks, oid)
		}
	}
	if _, ok := b.tasks[id]; ok {
		return nil, errs.E("pipelines.TaskBoard.Post", errs.Exist, "task %s is already on the board", id)
	}
	p := &Posting{b: b, id: id, t: t, report: report, claims: map[string]*claim{}, reported: map[string]bool{},
		left: len(t.Datums), done: make(chan struct{}), workers: map[string][]*claim{}, handed: map[string]bool{}}
	if p.left == 0 {
		close(p.done)
	}
	b.tasks[id] = p
	return p, nil
}

// ID is the posting's task id.
func (p *Posting) ID() string { return p.id }

// Done is closed once every datum of the task was reported.
func (p *Posting) Done() <-chan struct{} { return p.done }

// Claimed reports whether some datum was handed out.
func (p *Posting) Claimed() bool {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return len(p.claims) > 0
}

// reportLocked reports r once per datum (b.mu held).
func (p *Posting) reportLocked(r Result) bool {
	if p.closed || p.reported[r.Datum] {
		return false
	}
	p.reported[r.Datum] = true
	p.report(r)
	p.left--
	if p.left == 0 {
		close(p.done)
	}
	return true
}

func failed(d DatumTask, why string) Result {
	now := time.Now().UTC()
	return Result{Datum: d.ID, Attempt: d.Attempt, ExitCode: -1, Error: why, Log: "[tusk] " + why + "\n", Started: now, Ended: now}
}

// Fail reports every datum worker claimed and did not report as a failed
// try saying why (the worker's pod failed or was evicted). It returns how
// many it reported.
func (p *Posting) Fail(worker, why string) int {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	n := 0
	for _, c := range p.workers[worker] {
		if p.reportLocked(failed(c.datum, why)) {
			n++
		}
	}
	return n
}

// FailAll reports every datum not reported yet (claimed or not) as a
// failed try saying why, and hands out no more datums.
func (p *Posting) FailAll(why string) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.next = len(p.t.Datums)
	for _, d := range p.t.Datums {
		p.reportLocked(failed(d, why))
	}
}

// keepFinished is how long a finished task stays on the board: workers
// that were still starting or between claims when its last datum was
// reported are told there is no datum left (and exit 0) instead of
// NotExist, which they retry as a gateway restarting.
const keepFinished = time.Hour

// Close ends the posting: report is not called any more. A task whose
// every datum was reported stays on the board for keepFinished, without
// its datums, so that its other workers' claims answer "no datum left";
// any other is taken off, and workers' later calls answer NotExist.
func (p *Posting) Close() {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.closed = true
	if p.sweep != nil {
		p.sweep.Stop()
	}
	if p.b.tasks[p.id] != p {
		return
	}
	if p.left == 0 {
		p.finished = time.Now()
		p.t.Datums, p.next, p.claims, p.workers = nil, 0, nil, nil
		return
	}
	delete(p.b.tasks, p.id)
}

// posting returns the task id for a worker holding accessKey. Errors:
// NotExist (no such task: never posted, or done), Permission (another key).
func (b *TaskBoard) posting(op, id, accessKey string) (*Posting, error) {
	p := b.tasks[id]
	if p == nil {
		return nil, errs.E(op, errs.NotExist, "task %s is not on this gateway's board (finished, cancelled, or the gateway restarted and its job has not resumed yet)", id)
	}
	if subtle.ConstantTimeCompare([]byte(accessKey), []byte(p.t.AccessKey)) != 1 {
		return nil, errs.E(op, errs.Permission, "task %s belongs to another pipeline's key", id)
	}
	return p, nil
}

// Get returns task id for a worker holding accessKey: a copy without its
// secret key and its datums (claimed one by one).
func (b *TaskBoard) Get(id, accessKey string) (*Task, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.posting("pipelines.TaskBoard.Get", id, accessKey)
	if err != nil {
		return nil, err
	}
	t := *p.t
	t.SecretKey, t.Datums = "", nil
	return &t, nil
}

// Claim hands the next datum of task id to worker (a name the runner knows
// its workers by: a pod's name). It returns the claim's token, which its
// Report must carry, and nil when no datum is left.
func (b *TaskBoard) Claim(id, accessKey, worker string) (string, *DatumTask, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.posting("pipelines.TaskBoard.Claim", id, accessKey)
	if err != nil {
		return "", nil, err
	}
	if wait := time.Until(p.hold); wait > 0 && p.next < len(p.t.Datums) {
		return "", nil, errs.E("pipelines.TaskBoard.Claim", errs.Transient, "task %s was re-attached after a gateway restart: datums are handed out in %v, once the workers that ran before it renewed their claims", id, wait.Round(time.Millisecond))
	}
	for p.next < len(p.t.Datums) {
		d := p.t.Datums[p.next]
		p.next++
		if p.reported[d.ID] || p.handed[d.ID] {
			continue
		}
		var tb [12]byte
		_, _ = rand.Read(tb[:])
		c := &claim{token: hex.EncodeToString(tb[:]), datum: d, worker: worker}
		p.addClaimLocked(c)
		return c.token, &d, nil
	}
	return "", nil, nil
}

// addClaimLocked records c, renewed now, and arms the sweep (b.mu held).
func (p *Posting) addClaimLocked(c *claim) {
	c.renewed = time.Now()
	p.claims[c.token] = c
	p.workers[c.worker] = append(p.workers[c.worker], c)
	p.handed[c.datum.ID] = true
	p.armLocked()
}

// armLocked schedules the next sweep of lapsed claims (b.mu held).
func (p *Posting) armLocked() {
	if p.sweep == nil && !p.closed {
		p.sweep = time.AfterFunc(p.b.lease, p.sweepLapsed)
	}
}

// sweepLapsed reports the datum of every claim not renewed for twice the
// lease as a failed try (its worker killed its command after one lease),
// and re-arms while claims are out.
func (p *Posting) sweepLapsed() {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.sweep = nil
	if p.closed {
		return
	}
	out := false
	for tok, c := range p.claims {
		if p.reported[c.datum.ID] {
			continue
		}
		if since := time.Since(c.renewed); since > 2*p.b.lease {
			p.reportLocked(failed(c.datum, fmt.Sprintf("worker %s did not renew its claim for %v (lease %v): it is gone or cut off from the gateway, and killed the datum's command", c.worker, since.Round(time.Millisecond), p.b.lease)))
			delete(p.claims, tok)
			continue
		}
		out = true
	}
	if out {
		p.armLocked()
	}
}

// Hold hands out no datum for d: a posting that re-attaches workers of a
// previous gateway (the kubernetes runner after a restart) lets those
// still running a datum renew their claims, which re-claims their datums,
// before any datum is handed out again.
func (p *Posting) Hold(d time.Duration) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.hold = time.Now().Add(d)
}

// Renew extends the claim token of task id held by worker for datum d (the
// datum as the worker was handed it) and returns the lease. A token this
// board does not know (one of a previous gateway's board) re-claims d when
// the task's datum of that id is the same try (attempt and output prefix)
// and was neither handed out nor reported. Errors: NotExist, Permission
// (as Get); Conflict when the claim was dropped or its datum reported or
// handed to another worker: the worker must kill the datum's command.
func (b *TaskBoard) Renew(id, accessKey, worker, token string, d DatumTask) (time.Duration, error) {
	const op = "pipelines.TaskBoard.Renew"
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.posting(op, id, accessKey)
	if err != nil {
		return 0, err
	}
	if c := p.claims[token]; c != nil {
		if p.reported[c.datum.ID] {
			return 0, errs.E(op, errs.Conflict, "datum %s of task %s was already reported: stop running it", c.datum.ID, id)
		}
		c.renewed = time.Now()
		return b.lease, nil
	}
	for _, td := range p.t.Datums {
		if td.ID != d.ID {
			continue
		}
		switch {
		case p.reported[d.ID]:
			return 0, errs.E(op, errs.Conflict, "datum %s of task %s was already reported: stop running it", d.ID, id)
		case p.handed[d.ID]:
			return 0, errs.E(op, errs.Conflict, "datum %s of task %s was handed to another worker: stop running it", d.ID, id)
		case td.Attempt != d.Attempt || td.Prefix != d.Prefix:
			return 0, errs.E(op, errs.Conflict, "datum %s of task %s is now try %d (%s), not try %d: stop running it", d.ID, id, td.Attempt, td.Prefix, d.Attempt)
		}
		p.addClaimLocked(&claim{token: token, datum: td, worker: worker})
		return b.lease, nil
	}
	return 0, errs.E(op, errs.Conflict, "claim %q is not one of task %s's: stop running its datum", token, id)
}

// Report records the result of the claim token of task id. Errors:
// NotExist, Permission (as Get); Conflict when the token is not a claim of
// this task (one made before the gateway restarted) or its datum was
// already reported (its worker was given up on); Invalid when r is not the
// claimed datum's.
func (b *TaskBoard) Report(id, accessKey, token string, r Result) error {
	const op = "pipelines.TaskBoard.Report"
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.posting(op, id, accessKey)
	if err != nil {
		return err
	}
	c := p.claims[token]
	if c == nil {
		return errs.E(op, errs.Conflict, "claim %q is not one of task %s's: its datum is run again", token, id)
	}
	if r.Datum != c.datum.ID || r.Attempt != c.datum.Attempt {
		return errs.E(op, errs.Invalid, "the result is for datum %s try %d, the claim for datum %s try %d", r.Datum, r.Attempt, c.datum.ID, c.datum.Attempt)
	}
	if !p.reportLocked(r) {
		return errs.E(op, errs.Conflict, "datum %s of task %s was already reported", r.Datum, id)
	}
	return nil
}
