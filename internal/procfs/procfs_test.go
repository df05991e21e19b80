package procfs

import (
	"os"
	"runtime"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
		want Stat
	}{
		{"plain", "42 (sleep) S 7 42 9 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10", true,
			Stat{PID: 42, PPID: 7, Session: 9, State: 'S', Start: 123456}},
		{"comm with spaces and parens", "42 (a) b (c) Z 1 42 42 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 99 1000 10", true,
			Stat{PID: 42, PPID: 1, Session: 42, State: 'Z', Start: 99}},
		{"truncated", "42 (sleep) S 7 42 9", false, Stat{}},
		{"no comm", "42 sleep S", false, Stat{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parse(42, []byte(tc.in))
			if ok != tc.ok || got != tc.want {
				t.Fatalf("parse = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestReadSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's") // Read and Each find nothing elsewhere, by contract
	}
	st, ok := Read(os.Getpid())
	if !ok || st.PPID != os.Getppid() || !st.Live() || st.Start == 0 {
		t.Fatalf("Read(self) = %+v, %v; want ppid %d, live, a start time", st, ok, os.Getppid())
	}
	found := false
	Each(func(s Stat) { found = found || (s.PID == st.PID && s.Start == st.Start) }) // its state may differ between reads
	if !found {
		t.Fatalf("Each did not visit this process %+v", st)
	}
}
