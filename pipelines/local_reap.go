package pipelines

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Reaper is a Runner that can find what a previous gateway's workers left
// running: Service.Start calls Reap before it resumes any job, so that a
// datum's command never runs twice at once (the resumed job runs it
// again). Reap returns once nothing of theirs runs any more; an error says
// what could not be stopped (Start then fails: it resumes nothing).
type Reaper interface {
	Reap(ctx context.Context) error
}

var _ Reaper = (*Local)(nil)

// workerRecord is what the local runner records of a running worker under
// RunDir (<pid>.json): the worker leads a session of its own, whose id is
// its pid; its start time tells it from a later process with its pid.
type workerRecord struct {
	PID      int    `json:"pid"`
	Start    uint64 `json:"start"` // clock ticks after boot (/proc/<pid>/stat field 22)
	Gateway  int    `json:"gateway"`
	Job      string `json:"job,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
}

// runRecord is a written record (nil: none, no RunDir).
type runRecord struct{ path string }

// record writes the record of the started worker cmd (best effort: a
// worker whose record cannot be written still dies with its gateway by its
// lease and death signal).
func (l *Local) record(cmd *exec.Cmd, t *Task) *runRecord {
	if l.cfg.RunDir == "" || cmd.Process == nil {
		return nil
	}
	r := workerRecord{PID: cmd.Process.Pid, Gateway: os.Getpid(), Job: t.Job, Pipeline: t.Pipeline}
	r.Start, _ = procStart(r.PID)
	b, _ := json.Marshal(r)
	if err := os.MkdirAll(l.cfg.RunDir, 0o700); err != nil {
		return nil
	}
	p := filepath.Join(l.cfg.RunDir, strconv.Itoa(r.PID)+".json")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return nil
	}
	return &runRecord{path: p}
}

// remove deletes the record of a worker that was waited for.
func (r *runRecord) remove() {
	if r != nil {
		_ = os.Remove(r.path)
	}
}

// reapWait bounds how long Reap waits for SIGKILLed processes to be gone.
const reapWait = 10 * time.Second

// Reap implements Reaper: it kills every process left in the session of
// each worker recorded under RunDir by another process (a gateway that
// died: kill -9, a crash) and waits until they are gone, then drops their
// records. A recorded pid that now names another process (its start time
// differs) is left alone. Without RunDir it does nothing. Errors: processes
// still there after reapWait, or that cannot be killed.
func (l *Local) Reap(ctx context.Context) error {
	if l.cfg.RunDir == "" {
		return nil
	}
	ents, err := os.ReadDir(l.cfg.RunDir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local runner: reading the worker records: %w", err)
	}
	type left struct {
		rec  workerRecord
		path string
	}
	var recs []left
	for _, e := range ents {
		p := filepath.Join(l.cfg.RunDir, e.Name())
		if strings.HasSuffix(e.Name(), ".tmp") {
			_ = os.Remove(p)
			continue
		}
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(p)
		var r workerRecord
		if err != nil || json.Unmarshal(b, &r) != nil || r.PID <= 0 {
			_ = os.Remove(p)
			continue
		}
		if r.Gateway == os.Getpid() {
			continue // a worker of this process: its runner waits for it
		}
		recs = append(recs, left{r, p})
	}
	deadline := time.Now().Add(reapWait)
	for _, lr := range recs {
		for {
			pids, err := survivors(lr.rec)
			if err != nil {
				return fmt.Errorf("local runner: worker %d of a previous gateway (job %s): %w", lr.rec.PID, lr.rec.Job, err)
			}
			if len(pids) == 0 {
				break
			}
			if err := killAll(pids); err != nil {
				return fmt.Errorf("local runner: stopping worker %d of a previous gateway (job %s): %w", lr.rec.PID, lr.rec.Job, err)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("local runner: processes %v of worker %d of a previous gateway (job %s) are still running %v after SIGKILL", pids, lr.rec.PID, lr.rec.Job, reapWait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		_ = os.Remove(lr.path)
	}
	return nil
}

// reap runs Reap of every runner of s that is a Reaper.
func (s *Service) reap(ctx context.Context) error {
	for _, r := range []Runner{s.runnerFor(RunnerLocal), s.cfg.Kubernetes} {
		if rp, ok := r.(Reaper); ok {
			if err := rp.Reap(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}
