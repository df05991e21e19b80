package gateway

import (
	"context"

	"github.com/tusk-data/tusk/internal/errs"
)

// The metadata's free-space reserve (issue 13). Badger appends to a
// memory-mapped, sparse log file: on a full file system a write to a page
// not yet backed kills the process with SIGBUS (test/fullness found it
// with --min-free 0), it does not fail the write. So every metadata write
// (meta.Options.WriteGate) is refused with NoSpace (507
// InsufficientStorage) while the file system holding the metadata has
// less free space than the reserve; the blob store's floor (--min-free)
// refuses blob writes first (the reserve is half the floor, at most
// 64 MiB). Writes that free space
// (GC, purge: freeingSpace) pass until the reserve is half gone.

// NoFloorMetaReserve is the metadata reserve when the free-space floor is
// off (--min-free 0): two memtables' worth of log pages and one flush.
const NoFloorMetaReserve = 32 << 20

// MaxMetaReserve caps the metadata reserve (a huge floor refuses blobs,
// not metadata).
const MaxMetaReserve = 64 << 20

// metaReserve is the metadata's free-space reserve for a blob floor of
// minFree bytes (negative: no floor): half the floor up to
// MaxMetaReserve, or NoFloorMetaReserve without one.
func metaReserve(minFree int64) int64 {
	if minFree <= 0 {
		return NoFloorMetaReserve
	}
	return min(minFree/2, MaxMetaReserve)
}

type freeingKey struct{}

// freeingSpace marks ctx as an operation that frees space (GC, purge):
// the reserve lets its metadata writes through down to half of it.
func freeingSpace(ctx context.Context) context.Context {
	return context.WithValue(ctx, freeingKey{}, true)
}

// metaWriteGate returns the meta.Options.WriteGate that keeps reserve
// bytes free on the file system holding dir.
func metaWriteGate(dir string, reserve int64) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		free, ok := freeBytes(dir)
		if !ok {
			return nil // cannot tell: Badger reports real errors itself
		}
		need := reserve
		if ctx.Value(freeingKey{}) != nil {
			need = reserve / 2
		}
		if free >= need {
			return nil
		}
		return errs.E("gateway", errs.NoSpace,
			"%d bytes free for the metadata in %s, below its reserve of %d bytes: writes are refused until space is freed (tusk gc, tusk purge, or a larger disk)",
			free, dir, reserve)
	}
}
