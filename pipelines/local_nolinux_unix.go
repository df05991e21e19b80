//go:build unix && !linux

package pipelines

import "syscall"

func setDeathSignal(a *syscall.SysProcAttr) {}
