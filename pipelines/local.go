package pipelines

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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
}

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
	cmd.Stdin = bytes.NewReader(in)
	var stderr tailBuffer
	stderr.max = 4096
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("local runner: starting %s: %w", argv[0], err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
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
