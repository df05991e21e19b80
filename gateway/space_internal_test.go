package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

// The metadata gate refuses writes with NoSpace below the reserve, lets
// writes that free space (GC, purge) through down to half of it, and
// the reserve follows the floor.
func TestMetaWriteGate(t *testing.T) {
	dir := t.TempDir()
	free, ok := freeBytes(dir)
	if !ok || free < 1<<20 {
		t.Fatalf("free bytes of %s: %d %v", dir, free, ok)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		reserve int64
		freeing bool
		refused bool
	}{
		{"well above", free / 4, false, false},
		{"below", free * 3 / 2, false, true},
		{"below, freeing", free * 3 / 2, true, false},
		{"below half, freeing", free * 3, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ctx
			if tc.freeing {
				c = freeingSpace(ctx)
			}
			err := metaWriteGate(dir, tc.reserve)(c)
			if tc.refused != (err != nil) {
				t.Fatalf("gate: %v, refused %v", err, tc.refused)
			}
			if err != nil && (!errs.Is(err, errs.NoSpace) || !strings.Contains(err.Error(), "free")) {
				t.Fatalf("refusal %v: want NoSpace saying what is free", err)
			}
		})
	}
	for _, tc := range []struct{ minFree, want int64 }{
		{-1, NoFloorMetaReserve}, {0, NoFloorMetaReserve}, {8 << 20, 4 << 20}, {DefaultMinFree, MaxMetaReserve}, {1 << 62, MaxMetaReserve},
	} {
		if got := metaReserve(tc.minFree); got != tc.want {
			t.Errorf("metaReserve(%d) = %d, want %d", tc.minFree, got, tc.want)
		}
	}
}
