package main

import (
	"testing"
	"time"
)

// --since and --until take an RFC 3339 time or a duration back from now.
func TestAuditTime(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: ""},
		{in: "24h", want: "2026-12-06T12:00:00Z"},
		{in: "90m", want: "2026-12-07T10:30:00Z"},
		{in: "2026-01-02T03:04:05+01:00", want: "2026-01-02T02:04:05Z"},
		{in: "yesterday", bad: true},
		{in: "-1h", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := auditTime("since", tc.in, now)
			if tc.bad {
				if err == nil {
					t.Fatalf("%q: %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%q: %q %v, want %q", tc.in, got, err, tc.want)
			}
		})
	}
}
