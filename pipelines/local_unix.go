//go:build unix

package pipelines

import (
	"os/exec"
	"syscall"
)

// setProcessGroup runs the worker as the leader of a session (and process
// group) of its own: stopping it reaches every process it started, and
// every process the worker's datums start stays in that session (unless it
// calls setsid itself), which is how Reap finds what a dead gateway left.
// On Linux the worker also gets SIGTERM when this process dies
// (setDeathSignal).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	setDeathSignal(cmd.SysProcAttr)
}

// terminate asks the worker's process group to stop (SIGTERM): the worker
// kills its datum's command and exits.
func terminate(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}

// kill kills the worker's process group.
func kill(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
