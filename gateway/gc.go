package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/internal/errs"
)

// GCOptions tune a garbage collection run.
type GCOptions struct {
	// Retention: unreachable commits younger than this are kept (default 7 days).
	Retention time.Duration
	// DryRun reports what would be deleted without deleting.
	DryRun bool
}

// pins protects blobs that writes have stored but not yet committed, so
// that a concurrent GC never deletes a blob a write is about to reference.
type pins struct {
	mu       sync.Mutex
	n        map[string]int
	gc       bool            // a GC is running
	touched  map[string]bool // hashes pinned while it runs
	deleting map[string]bool // hashes GC is deleting right now
	done     *sync.Cond      // signalled when a delete ends
}

// pin protects h. If GC is deleting h at this moment, pin waits until the
// delete is over, so that the caller's next look at the store (the blob
// store's dedup Stat) sees h absent and stores the bytes again.
func (p *pins) pin(h string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.deleting[h] {
		p.done.Wait()
	}
	if p.n == nil {
		p.n = map[string]int{}
	}
	p.n[h]++
	if p.gc {
		p.touched[h] = true
	}
}

func (p *pins) unpin(h string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[h]--; p.n[h] <= 0 {
		delete(p.n, h)
	}
}

// startGC begins protecting every hash pinned from now on, plus the ones
// pinned now.
func (p *pins) startGC() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gc {
		return errs.E("gateway.GC", errs.Conflict, "a garbage collection is already running").Because(errs.Busy)
	}
	p.gc = true
	p.touched = map[string]bool{}
	for h := range p.n {
		p.touched[h] = true
	}
	return nil
}

func (p *pins) protected(h string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.touched[h] || p.n[h] > 0
}

// deleteUnprotected deletes h with del unless it is protected; the check
// and the delete are one step for pin, which waits for it.
func (p *pins) deleteUnprotected(h string, del func() error) (bool, error) {
	p.mu.Lock()
	if p.touched[h] || p.n[h] > 0 {
		p.mu.Unlock()
		return false, nil
	}
	if p.deleting == nil {
		p.deleting = map[string]bool{}
		p.done = sync.NewCond(&p.mu)
	}
	p.deleting[h] = true
	p.mu.Unlock()
	err := del()
	p.mu.Lock()
	delete(p.deleting, h)
	p.done.Broadcast()
	p.mu.Unlock()
	return err == nil, err
}

func (p *pins) endGC() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gc = false
	p.touched = nil
}

// GC deletes blobs that no kept version, open commit, in-flight write or
// multipart upload in flight references (after aborting the uploads older
// than Config.UploadTTL), and commits unreachable from any ref, open commit or
// provenance record after the retention period, with the tree nodes only
// they used. Blobs stored by writes still in flight are never deleted:
// every hash pinned before or during the run is protected.
func (s *Server) GC(ctx context.Context, opts GCOptions) (*apiv1.GCResult, error) {
	start := time.Now()
	ctx = freeingSpace(ctx) // space.go: GC frees space, so the metadata reserve lets it write
	if opts.Retention == 0 {
		opts.Retention = 7 * 24 * time.Hour
	}
	p := &s.Backend.pins
	if err := p.startGC(); err != nil {
		return nil, err
	}
	defer p.endGC()
	// Abandoned multipart uploads first, so that this run frees their parts.
	expired := 0
	if !opts.DryRun {
		var err error
		if expired, err = s.expireUploads(ctx); err != nil {
			return nil, err
		}
	}
	live, st, err := s.Meta.GC(ctx, opts.Retention, opts.DryRun)
	if err != nil {
		return nil, err
	}
	res := &apiv1.GCResult{CommitsDeleted: st.CommitsDeleted, CommitsKept: st.CommitsKept,
		NodesDeleted: st.NodesDeleted, NodesKept: st.NodesKept, DryRun: opts.DryRun, UploadsExpired: expired}
	var dead []string
	var sizes []int64
	err = s.Blobs.List(ctx, func(h string, size int64) error {
		if live[h] || p.protected(h) {
			res.BlobsKept++
			return nil
		}
		dead = append(dead, h)
		sizes = append(sizes, size)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, h := range dead {
		if opts.DryRun {
			if p.protected(h) {
				res.BlobsKept++
				continue
			}
			res.BlobsDeleted++
			res.BytesFreed += sizes[i]
			continue
		}
		deleted, err := p.deleteUnprotected(h, func() error {
			if err := s.Blobs.Delete(ctx, h); err != nil && !errs.Is(err, errs.NotExist) {
				return err
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		if !deleted { // pinned after listing
			res.BlobsKept++
			continue
		}
		res.BlobsDeleted++
		res.BytesFreed += sizes[i]
	}
	if !opts.DryRun {
		if res.AuditPruned, err = s.pruneAudit(ctx); err != nil { // audit.go
			return res, err
		}
		_ = s.Blobs.CleanTemp(ctx, time.Hour)
		s.Meta.ValueLogGC()
	}
	res.TookSeconds = time.Since(start).Seconds()
	s.cfg.Log.Info().Int("blobs_deleted", res.BlobsDeleted).Int64("bytes_freed", res.BytesFreed).
		Int("commits_deleted", res.CommitsDeleted).Int("nodes_deleted", res.NodesDeleted).
		Float64("took", res.TookSeconds).Bool("dry_run", opts.DryRun).Msg("gc")
	return res, nil
}
