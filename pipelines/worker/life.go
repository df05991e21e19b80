package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/tusk-data/tusk/pipelines"
)

// Environment of a local worker (the local runner sets it): with
// EnvLease set, the worker's standard input carries, after the task, the
// gateway's heartbeats (any bytes, one newline every lease/3); the worker
// is an orphan when its stdin ends (the gateway died: the kernel closed
// the pipe), when no heartbeat came for the lease, or when its parent is
// no longer EnvParent's pid. An orphan kills its command's process group
// and exits with ExitOrphan, reporting nothing for the datum it ran.
// Without EnvLease (a task piped in by hand) the worker runs to the end of
// its task as before.
const (
	EnvLease  = pipelines.EnvWorkerLease
	EnvParent = pipelines.EnvWorkerParent
)

// ExitOrphan is the exit code of a worker that stopped because its
// gateway is gone (its lease lapsed).
const ExitOrphan = 3

// errOrphan is the cause of a worker's context when its gateway is gone.
var errOrphan = errors.New("orphaned")

// watchParent returns ctx cancelled (with a cause wrapping errOrphan) once
// the worker is an orphan, as described at EnvLease: it reads heartbeats
// from beats. lease "" watches nothing (ctx is returned as it is). Errors:
// a lease that is not a positive duration, a parent that is not a pid.
func watchParent(ctx context.Context, beats io.Reader, lease, parent string) (context.Context, context.CancelFunc, error) {
	if lease == "" {
		return ctx, func() {}, nil
	}
	d, err := time.ParseDuration(lease)
	if err != nil || d <= 0 {
		return nil, nil, fmt.Errorf("$%s=%q is not a positive duration", EnvLease, lease)
	}
	ppid := 0
	if parent != "" {
		if ppid, err = strconv.Atoi(parent); err != nil || ppid <= 0 {
			return nil, nil, fmt.Errorf("$%s=%q is not a pid", EnvParent, parent)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	orphan := func(format string, args ...any) {
		cancel(fmt.Errorf("%w: "+format, append([]any{errOrphan}, args...)...))
	}
	if ppid > 0 && os.Getppid() != ppid {
		orphan("the gateway (pid %d) died before the worker started", ppid)
		return ctx, func() { cancel(nil) }, nil
	}
	beat := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := beats.Read(buf)
			if n > 0 {
				select {
				case beat <- struct{}{}:
				default:
				}
			}
			if err != nil {
				orphan("the gateway closed the worker's stdin (%v): it died", err)
				return
			}
		}
	}()
	go func() {
		tick := time.NewTicker(min(max(d/4, 10*time.Millisecond), time.Second))
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-beat:
				last = time.Now()
			case <-tick.C:
				if p := os.Getppid(); ppid > 0 && p > 0 && p != ppid {
					orphan("the gateway (pid %d) died: the worker's parent is now pid %d", ppid, p)
					return
				}
				if since := time.Since(last); since > d {
					orphan("no heartbeat from the gateway for %v (lease %v)", since.Round(time.Millisecond), d)
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(nil) }, nil
}

// orphaned returns why ctx ended if the worker was orphaned, nil otherwise.
func orphaned(ctx context.Context) error {
	if err := context.Cause(ctx); errors.Is(err, errOrphan) {
		return err
	}
	return nil
}
