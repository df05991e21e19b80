package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		flag string
		want int64 // 0: an error
	}{
		{"", defaultMemoryLimit},
		{"512MiB", 512 << 20},
		{"1GB", 1e9},
		{"off", math.MaxInt64},
		{"0", math.MaxInt64},
		{"lots", 0},
		{"-5MiB", 0},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			got, err := setMemoryLimit(tc.flag)
			if tc.want == 0 {
				if err == nil {
					t.Fatalf("setMemoryLimit(%q) = %d, want an error", tc.flag, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("setMemoryLimit(%q) = %d, %v; want %d", tc.flag, got, err, tc.want)
			}
			if now := debug.SetMemoryLimit(-1); now != tc.want {
				t.Errorf("runtime limit %d, want %d", now, tc.want)
			}
		})
	}
}
