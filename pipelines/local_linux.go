package pipelines

import (
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"github.com/tusk-data/tusk/internal/procfs"
)

// setDeathSignal has the kernel send the worker SIGTERM when its parent
// dies (PR_SET_PDEATHSIG): the worker handles it, kills its command's
// process group and exits.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }

var (
	spawnOnce sync.Once
	spawnReq  chan func()
)

// startWorker starts cmd from one OS thread that lives as long as this
// process. The parent-death signal is tied to the thread that forked the
// child, not to the process (golang/go#27505): a worker forked from a
// thread the Go runtime later ends (a goroutine that exits while locked to
// its thread takes the thread with it) would get SIGTERM while the gateway
// lives on. The spawner goroutine locks its thread and never unlocks it nor
// returns, so that thread ends only with the process, when the signal is
// meant.
func startWorker(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReq = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: see startWorker
			for f := range spawnReq {
				f()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReq <- func() { done <- cmd.Start() }
	return <-done
}

// procStart returns the start time of process pid (its identity with pid:
// pids are reused, start times then differ).
func procStart(pid int) (uint64, bool) {
	st, ok := procfs.Read(pid)
	return st.Start, ok
}

// sessionOf lists the live processes (zombies aside) of session sid
// started at or after start.
func sessionOf(sid int, start uint64) []int {
	var out []int
	procfs.Each(func(st procfs.Stat) {
		if st.Session == sid && st.Start >= start && st.Live() {
			out = append(out, st.PID)
		}
	})
	return out
}

// survivors returns what is left of the session of a recorded worker:
// nothing when the worker's pid now names another process (a pid is not
// reused while its session has members, so that session is gone).
func survivors(r workerRecord) ([]int, error) {
	if st, ok := procfs.Read(r.PID); ok && st.Start != r.Start {
		return nil, nil
	}
	return sessionOf(r.PID, r.Start), nil
}

// killAll SIGKILLs pids.
func killAll(pids []int) error {
	var first error
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGKILL); err != nil && err != syscall.ESRCH && first == nil {
			first = fmt.Errorf("killing pid %d: %w", p, err)
		}
	}
	return first
}
