package gateway

import (
	"context"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
)

// PurgeOptions is a purge (SPEC §3).
type PurgeOptions struct {
	// Content is the SHA-256 (hex) to purge.
	Content string
	// Repo is the scope; All purges every repo instead.
	Repo string
	All  bool
	// Block refuses the bytes from now on (with All only).
	Block bool
	// Prov limits the purge to the versions one provenance record wrote
	// (derived outputs).
	Prov string
	// Named is the version the caller named, when the content was found
	// through one (for the report and the audit log).
	Named *apiv1.PurgeNamed
	User  string
}

// Purge removes content on purpose (SPEC §3): opts must already be
// authorized (repo admin of opts.Repo, or global admin for All; the admin
// API checks). It purges the content in the scope (meta.Purge: branch
// heads and open commits get it removed, reads of it answer NoSuchVersion),
// deletes the bytes from the backing store at once unless another repo
// still holds them (or a write in flight is storing them again), then
// purges every pipeline output derived from a removed version, in its
// output repo, transitively; the pipelines recompute the affected datums
// from the input commits the purge made. Every purge is in the audit log.
// Invalid when no content is named.
func (s *Server) Purge(ctx context.Context, opts PurgeOptions) (*apiv1.PurgeReport, error) {
	if opts.Content == "" {
		return nil, errs.E("gateway.Purge", errs.Invalid, "name the content to purge (a SHA-256)")
	}
	return s.purgeOne(freeingSpace(ctx), opts, map[string]bool{}, 0) // space.go
}

// maxDerivedDepth bounds the provenance walk of one purge.
const maxDerivedDepth = 32

func (s *Server) purgeOne(ctx context.Context, opts PurgeOptions, seen map[string]bool, depth int) (*apiv1.PurgeReport, error) {
	named := opts.Named
	scope := opts.Repo
	if opts.All {
		scope = ""
	}
	seen[scope+"/"+opts.Content+"/"+opts.Prov] = true
	target := "content " + opts.Content
	if named != nil {
		target = named.Repo + "@" + named.Ref + ":" + named.Key + " --version " + named.Version
	} else if opts.Prov != "" {
		target = "outputs of provenance record " + opts.Prov + " in " + opts.Repo
	}
	res, err := s.Meta.Purge(ctx, meta.PurgeRequest{Content: opts.Content, Repo: scope, Block: opts.Block, Prov: opts.Prov, User: opts.User, Target: target})
	if err != nil {
		return nil, err
	}
	rep := &apiv1.PurgeReport{Content: res.Content, Scope: res.Scope, Block: res.Block, Named: named,
		Removed: []apiv1.PurgedVersion{}, Commits: []apiv1.PurgeCommit{}, OpenCommits: res.OpenCommits}
	if res.Removed == nil {
		rep.Removed = nil
	}
	for _, v := range res.Removed {
		rep.Removed = append(rep.Removed, apiv1.PurgedVersion(v))
	}
	for _, c := range res.Commits {
		rep.Commits = append(rep.Commits, apiv1.PurgeCommit(c))
	}
	// The bytes go at once, unless a version no purge covers still holds
	// them (another repo's, or another datum's identical output).
	keep := false
	if scope != "" {
		if keep, err = s.Meta.ContentReferenced(ctx, opts.Content); err != nil {
			return nil, err
		}
		if keep {
			rep.BytesKept = "versions outside this purge still hold these bytes; they stay for them"
		}
	}
	size := s.purgeSize(ctx, opts.Content) // for the audit log
	if !keep {
		deleted, err := s.Backend.pins.deleteUnprotected(opts.Content, func() error {
			if err := s.Blobs.Delete(ctx, opts.Content); err != nil && !errs.Is(err, errs.NotExist) {
				return err
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		rep.BytesDeleted = deleted
		if !deleted {
			rep.BytesKept = "a write in flight is storing these bytes again as a new version"
		}
	}
	s.auditPurge(ctx, opts, rep, size) // audit.go
	// Pipeline outputs derived from what was removed (SPEC §8 downstream).
	if depth >= maxDerivedDepth {
		return rep, nil
	}
	done := map[string]bool{}
	for _, v := range res.Removed {
		k := v.Repo + "\x00" + v.Key
		if done[k] {
			continue
		}
		done[k] = true
		recs, err := s.Meta.ProvDownstream(ctx, v.Repo, v.Key, opts.Content)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			for _, out := range rec.Outputs {
				if out.Content == "" || seen[rec.Repo+"/"+out.Content+"/"+rec.ID] || seen["/"+out.Content+"/"] {
					continue
				}
				d, err := s.purgeOne(ctx, PurgeOptions{Content: out.Content, Repo: rec.Repo, Prov: rec.ID, User: opts.User}, seen, depth+1)
				if err != nil {
					return nil, err
				}
				rep.Derived = append(rep.Derived, *d)
			}
		}
	}
	return rep, nil
}
