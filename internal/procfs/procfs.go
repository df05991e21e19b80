package procfs

import (
	"bytes"
	"os"
	"strconv"
)

// Stat is what Tusk reads of /proc/<pid>/stat.
type Stat struct {
	PID, PPID, Session int
	// State is the state letter: 'R', 'S', 'D', 'Z' (zombie), 'X' (dead)...
	State byte
	// Start is the start time in clock ticks after boot.
	Start uint64
}

// Live reports whether the process runs (is neither a zombie nor dead).
func (s Stat) Live() bool { return s.State != 'Z' && s.State != 'X' }

// Read reads /proc/<pid>/stat; ok is false when there is no such process
// (or no /proc).
func Read(pid int) (st Stat, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, false
	}
	return parse(pid, b)
}

// parse reads "pid (comm) state ppid pgrp session ... starttime" (field
// 22): comm may hold spaces and parentheses, so fields count from its end.
func parse(pid int, b []byte) (Stat, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, false
	}
	st := Stat{PID: pid, State: f[0][0]}
	st.PPID, _ = strconv.Atoi(string(f[1]))
	st.Session, _ = strconv.Atoi(string(f[3]))
	st.Start, _ = strconv.ParseUint(string(f[19]), 10, 64)
	return st, true
}

// Each calls fn for every process it can read in /proc (those that exit
// meanwhile are left out).
func Each(fn func(Stat)) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := Read(pid); ok {
			fn(st)
		}
	}
}
