package worker

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

var (
	nsMu       sync.Mutex
	nsDisabled bool // a namespace could not be made here (no CAP_SYS_ADMIN)
)

// useMountNS reports whether datums run in a private mount namespace with
// their tree at /pfs: when root on Linux, unless it failed before (in
// containers without CAP_SYS_ADMIN; then only $TUSK_PFS is used) or
// TUSK_WORKER_NO_MOUNT_NS is set.
func useMountNS() bool {
	if os.Geteuid() != 0 || os.Getenv("TUSK_WORKER_NO_MOUNT_NS") != "" {
		return false
	}
	nsMu.Lock()
	defer nsMu.Unlock()
	return !nsDisabled
}

// commandAttrs puts the command in its own process group (killed as a
// whole) and kills it if the worker dies.
func commandAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// inMountNS runs run (which starts a command and waits for it) on a fresh
// OS thread that first enters a new mount namespace, makes every mount in
// it private (nothing propagates to the host) and bind-mounts pfs at /pfs:
// the command, forked from that thread, sees its datum at /pfs, and so does
// no other process. The thread ends with run (it stays locked), and its
// namespace with it. ran is false when the namespace could not be made
// (err says why); run did not run then.
func inMountNS(pfs string, run func() error) (ran bool, err error) {
	type res struct {
		err error
		ok  bool
	}
	done := make(chan res, 1)
	go func() {
		// Never unlocked: the runtime terminates this thread when the
		// goroutine returns, so no other goroutine runs in its namespace.
		runtime.LockOSThread()
		if err := setupNS(pfs); err != nil {
			nsMu.Lock()
			nsDisabled = true
			nsMu.Unlock()
			done <- res{err: err}
			return
		}
		done <- res{err: run(), ok: true}
	}()
	r := <-done
	return r.ok, r.err
}

func setupNS(pfs string) error {
	if err := os.MkdirAll(pfsMount, 0o755); err != nil {
		return err
	}
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %v", err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %v", err)
	}
	if err := syscall.Mount(pfs, pfsMount, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting %s at %s: %v", pfs, pfsMount, err)
	}
	return nil
}
