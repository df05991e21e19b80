//go:build !unix

package worker

import "os/exec"

func setpgid(cmd *exec.Cmd) {}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func becomeSubreaper() {}

func reapStragglers(cmd *exec.Cmd) {}
