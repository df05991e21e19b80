package pipelines

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LocalConfig configures the local runner.
type LocalConfig struct {
	// Command starts a worker (default: this executable with "worker", that
	// is `tusk worker`). The task is written to its standard input as
	// JSON; it writes one Result per line to its standard output.
	Command []string
	// Env is added to the worker's environment (which is this process's,
	// without TUSK_* and AWS_* variables: credentials never leak to user
	// commands).
	Env []string
	// KillGrace is how long a worker has to stop after ctx ends before it
	// is killed (default 5s).
	KillGrace time.Duration
	// Lease is how long a worker runs without hearing from this process
	// before it counts itself an orphan, kills its command and exits
	// (default DefaultLease): the runner writes a heartbeat on the
	// worker's stdin every Lease/3, and the worker also stops at once when
	// its stdin ends (this process died) or, on Linux, on SIGTERM sent by
	// the kernel when this process dies (Pdeathsig).
	Lease time.Duration
	// RunDir, when set, is where the runner records each worker it runs
	// (pid, start time, session) while it runs, so that Reap, at the next
	// start of the gateway after a crash, kills what a dead gateway's
	// workers left running before any job resumes.
	RunDir string
}

// DefaultLease is the default lease of workers (local and remote): how
// long a worker runs on without hearing from its gateway.
const DefaultLease = 30 * time.Second

// Environment the local runner gives its workers (pipelines/worker reads
// it): EnvWorkerLease is LocalConfig.Lease (heartbeats follow the task on
// stdin), EnvWorkerParent the gateway's pid.
const (
	EnvWorkerLease  = "TUSK_WORKER_LEASE"
	EnvWorkerParent = "TUSK_WORKER_PARENT"
)

// Local runs datums in `tusk worker` subprocesses on this host (SPEC §7:
// no containers, no Kubernetes).
type Local struct {
	cfg LocalConfig
}

var _ Runner = (*Local)(nil)

// NewLocal returns a local runner.
func NewLocal(cfg LocalConfig) *Local {
	if cfg.KillGrace == 0 {
		cfg.KillGrace = 5 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	return &Local{cfg: cfg}
}

// WorkerEnv is the environment a worker (and the user command) starts
// from: env without the gateway's secrets (TUSK_* and AWS_* variables).
func WorkerEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		u := strings.ToUpper(name)
		if strings.HasPrefix(u, "TUSK_") || strings.HasPrefix(u, "AWS_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Run implements Runner.
func (l *Local) Run(ctx context.Context, t *Task, report func(Result)) error {
	argv := l.cfg.Command
	if len(argv) == 0 {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("local runner: finding the tusk binary: %w", err)
		}
		argv = []string{self, "worker"}
	}
	in, err := json.Marshal(t)
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(WorkerEnv(os.Environ()), l.cfg.Env...)
	cmd.Env = append(cmd.Env, EnvWorkerLease+"="+l.cfg.Lease.String(), EnvWorkerParent+"="+strconv.Itoa(os.Getpid()))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr tailBuffer
	stderr.max = 4096
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	setProcessGroup(cmd)
	if err := startWorker(cmd); err != nil {
		return fmt.Errorf("local runner: starting %s: %w", argv[0], err)
	}
	rec := l.record(cmd, t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		// The task, then a heartbeat every Lease/3 until the worker ends
		// (Wait closes stdin; a write then fails).
		defer wg.Done()
		if _, err := stdin.Write(append(in, '\n')); err != nil {
			return
		}
		tick := time.NewTicker(l.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := stdin.Write([]byte{'\n'}); err != nil {
					return
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		select {
		case <-stop:
		case <-ctx.Done():
			terminate(cmd)
			select {
			case <-stop:
			case <-time.After(l.cfg.KillGrace):
				kill(cmd)
			}
		}
	}()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var bad error
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(line, &r); err != nil {
			if bad == nil {
				bad = fmt.Errorf("local runner: the worker wrote a line that is not a result: %.200q", line)
			}
			continue
		}
		if ctx.Err() == nil {
			report(r)
		}
	}
	werr := cmd.Wait()
	close(stop)
	wg.Wait()
	rec.remove()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if werr != nil {
		return fmt.Errorf("worker %s: %v: %s", argv[0], werr, strings.TrimSpace(stderr.String()))
	}
	return bad
}

// tailBuffer keeps the last max bytes written to it (safe for concurrent
// writers).
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
