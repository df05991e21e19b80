package gateway

import (
	"context"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// GCOptions tune a garbage collection run.
type GCOptions struct {
	// Retention: unreachable commits younger than this are kept (default 7 days).
	Retention time.Duration
	// DryRun reports what would be deleted without deleting.
	DryRun bool
}

// GCResult reports a garbage collection run.
type GCResult struct {
	BlobsDeleted   int     `json:"blobs_deleted"`
	BytesFreed     int64   `json:"bytes_freed"`
	CommitsDeleted int     `json:"commits_deleted"`
	NodesDeleted   int     `json:"nodes_deleted"`
	TookSeconds    float64 `json:"took_seconds"`
}

// GC deletes blobs that no commit, open commit or in-flight upload
// references, and commits unreachable from any ref after the retention
// period. (Being implemented: issue 4.)
func (s *Server) GC(ctx context.Context, opts GCOptions) (*GCResult, error) {
	return nil, errs.E("gateway.GC", errs.NotImplemented, "garbage collection is not implemented yet")
}
