package worker

import (
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"

	"github.com/tusk-data/tusk/internal/procfs"
)

// subreaper is set once the worker made itself its descendants' reaper.
var subreaper atomic.Bool

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER (linux/prctl.h).
const prSetChildSubreaper = 36

// becomeSubreaper makes this process the child subreaper of its
// descendants (prctl PR_SET_CHILD_SUBREAPER): a grandchild whose parent
// exits (a daemon that double-forks, or left its command's process group
// with setsid) is reparented to the worker rather than to init, so that
// reapStragglers finds and kills it after its datum. Called by Main only:
// a process that embeds the worker keeps its own children's reaping.
func becomeSubreaper() {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e == 0 {
		subreaper.Store(true)
	}
}

// reapStragglers kills what is left of a datum once its command cmd was
// waited for: every child the worker still has (processes of the datum
// reparented to it, in the command's process group or not: the worker
// starts nothing else); without a subreaper, what is left of cmd's process
// group.
func reapStragglers(cmd *exec.Cmd) {
	if !subreaper.Load() {
		killGroup(cmd)
		return
	}
	self := os.Getpid()
	for range 100 {
		kids := childrenOf(self)
		if len(kids) == 0 {
			return
		}
		for _, pid := range kids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, pid := range kids {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil)
		}
	}
}

// childrenOf lists the pids whose parent is ppid.
func childrenOf(ppid int) []int {
	var out []int
	procfs.Each(func(st procfs.Stat) {
		if st.PPID == ppid {
			out = append(out, st.PID)
		}
	})
	return out
}
