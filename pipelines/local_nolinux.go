//go:build !linux

package pipelines

import "os/exec"

// startWorker starts cmd (no parent-death signal outside Linux: the
// worker's lease ends it).
func startWorker(cmd *exec.Cmd) error { return cmd.Start() }

// procStart: no portable start time here; Reap cannot tell a recorded
// worker from a process that reused its pid, so it kills nothing (the
// workers' leases end them: their stdin ends with the gateway).
func procStart(pid int) (uint64, bool) { return 0, false }

// survivors: without /proc nothing tells a recorded worker's session from
// later processes; a dead gateway's workers end by their lease (their stdin
// ended with the gateway, at once), so nothing is reported left.
func survivors(r workerRecord) ([]int, error) { return nil, nil }

func killAll(pids []int) error { return nil }
