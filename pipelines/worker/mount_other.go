//go:build !linux

package worker

import "os/exec"

// useMountNS: private mount namespaces exist on Linux only.
func useMountNS() bool { return false }

func commandAttrs(cmd *exec.Cmd) { setpgid(cmd) }

func inMountNS(pfs string, run func() error) (bool, error) { return false, nil }
