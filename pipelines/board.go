package pipelines

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
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
type TaskBoard struct {
	mu    sync.Mutex
	tasks map[string]*Posting
}

// NewTaskBoard returns an empty board.
func NewTaskBoard() *TaskBoard { return &TaskBoard{tasks: map[string]*Posting{}} }

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
}

type claim struct {
	token  string
	datum  DatumTask
	worker string
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
		left: len(t.Datums), done: make(chan struct{}), workers: map[string][]*claim{}}
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
	for p.next < len(p.t.Datums) {
		d := p.t.Datums[p.next]
		p.next++
		if p.reported[d.ID] {
			continue
		}
		var tb [12]byte
		_, _ = rand.Read(tb[:])
		c := &claim{token: hex.EncodeToString(tb[:]), datum: d, worker: worker}
		p.claims[c.token] = c
		p.workers[worker] = append(p.workers[worker], c)
		return c.token, &d, nil
	}
	return "", nil, nil
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
