//go:build unix && !linux

package worker

import (
	"os/exec"
	"syscall"
)

func setpgid(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// becomeSubreaper: child subreapers exist on Linux only.
func becomeSubreaper() {}

// reapStragglers kills what is left of the command's process group once
// it was waited for (without a subreaper, descendants that left the group
// cannot be found).
func reapStragglers(cmd *exec.Cmd) { killGroup(cmd) }
