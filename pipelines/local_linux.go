package pipelines

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
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

// procStat is what Reap reads of a process in /proc/<pid>/stat.
type procStat struct {
	pid, session int
	state        byte
	start        uint64 // clock ticks after boot
}

// readProcStat reads /proc/<pid>/stat; ok is false when there is no such
// process.
func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// pid (comm) state ppid pgrp session ... starttime (field 22): comm
	// may hold spaces and parentheses, so fields count from its end.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	st := procStat{pid: pid, state: f[0][0]}
	st.session, _ = strconv.Atoi(string(f[3]))
	st.start, _ = strconv.ParseUint(string(f[19]), 10, 64)
	return st, true
}

// procStart returns the start time of process pid (its identity with pid:
// pids are reused, start times then differ).
func procStart(pid int) (uint64, bool) {
	st, ok := readProcStat(pid)
	return st.start, ok
}

// sessionOf lists the live processes (zombies aside) of session sid
// started at or after start.
func sessionOf(sid int, start uint64) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProcStat(pid); ok && st.session == sid && st.start >= start && st.state != 'Z' && st.state != 'X' {
			out = append(out, pid)
		}
	}
	return out
}

// survivors returns what is left of the session of a recorded worker:
// nothing when the worker's pid now names another process (a pid is not
// reused while its session has members, so that session is gone).
func survivors(r workerRecord) ([]int, error) {
	if st, ok := readProcStat(r.PID); ok && st.start != r.Start {
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
