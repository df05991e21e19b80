//go:build !linux

package pipelines

import (
	"errors"
	"os/exec"
)

// startWorker starts cmd (no parent-death signal outside Linux: the
// worker's lease ends it).
func startWorker(cmd *exec.Cmd) error { return cmd.Start() }

// procStart: no portable start time here; Reap cannot tell a recorded
// worker from a process that reused its pid, so it kills nothing (the
// workers' leases end them: their stdin ends with the gateway).
func procStart(pid int) (uint64, bool) { return 0, false }

func survivors(r workerRecord) ([]int, error) {
	return nil, errors.New("finding a dead gateway's workers needs Linux's /proc")
}

func killAll(pids []int) error { return nil }
