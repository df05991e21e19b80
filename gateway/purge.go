package gateway

import (
	"context"
	"net/http"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/s3api"
)

// PurgeOptions is a purge as the admin API takes it (SPEC §3).
type PurgeOptions struct {
	// Content is the SHA-256 (hex) to purge; or name a version with Repo,
	// Ref, Key and Version (Version "" = the version Ref reads).
	Content string
	Repo    string
	Ref     string
	Key     string
	Version string
	// All purges every repo (global admin only); else the scope is Repo.
	All bool
	// Block refuses the bytes from now on (with All only).
	Block bool
	// Prov limits the purge to the versions one provenance record wrote
	// (derived outputs).
	Prov string
	User string
}

// PurgeReport is what a purge did.
type PurgeReport struct {
	Content string `json:"content"`
	Scope   string `json:"scope"` // a repo name, or "*"
	Block   bool   `json:"block,omitempty"`
	// Named is the version the caller named, when one was.
	Named *PurgeNamed `json:"named,omitempty"`
	// Removed lists the versions removed from branch views; Commits the
	// commits that removed them (one per branch).
	Removed     []meta.PurgedVersion `json:"removed"`
	Commits     []meta.PurgeCommit   `json:"commits"`
	OpenCommits int                  `json:"open_commits,omitempty"`
	// BytesDeleted: the blob was deleted from the backing store. A purge of
	// one repo keeps bytes another repo still holds (BytesKept says why).
	BytesDeleted bool   `json:"bytes_deleted"`
	BytesKept    string `json:"bytes_kept,omitempty"`
	// Derived lists the pipeline outputs purged with it (provenance
	// downstream), each a purge of its own in its output repo.
	Derived []PurgeReport `json:"derived,omitempty"`
}

// PurgeNamed is the version a purge was asked for by name.
type PurgeNamed struct {
	Repo    string `json:"repo"`
	Ref     string `json:"ref"`
	Key     string `json:"key"`
	Version string `json:"version"`
	Size    int64  `json:"size"`
}

// Purge removes content on purpose (SPEC §3): opts must already be
// authorized (repo admin of opts.Repo, or global admin for All). It purges
// the content in the scope (meta.Purge: branch heads and open commits get
// it removed, reads of it answer NoSuchVersion), deletes the bytes from
// the backing store at once unless another repo still holds them (or a
// write in flight is storing them again), then purges every pipeline
// output derived from a removed version, in its output repo, transitively;
// the pipelines recompute the affected datums from the input commits the
// purge made. Every purge is in the audit log.
func (s *Server) Purge(ctx context.Context, opts PurgeOptions) (*PurgeReport, error) {
	var named *PurgeNamed
	if opts.Content == "" {
		if opts.Repo == "" || opts.Key == "" {
			return nil, apiErr(http.StatusBadRequest, "InvalidArgument", "name the content (a SHA-256) or a version: repo, ref, key and version")
		}
		bk, err := s.Backend.Resolve(ctx, opts.Repo, opts.Ref)
		if err != nil {
			return nil, err
		}
		// Already authorized (above): head checks no permission.
		o, err := s.Backend.head(ctx, s3api.Caller{}, bk, opts.Key, opts.Version)
		if err != nil {
			if errs.Is(err, errs.NotExist) {
				return nil, apiErr(http.StatusNotFound, "NoSuchVersion", "%s@%s:%s has no version %q to purge; tusk log %s@%s:%s lists its versions",
					opts.Repo, bk.Ref, opts.Key, opts.Version, opts.Repo, bk.Ref, opts.Key)
			}
			return nil, err
		}
		if o.DeleteMarker || o.Content == "" {
			return nil, apiErr(http.StatusBadRequest, "InvalidArgument", "version %s of %q is a delete marker: there is no content to purge", o.VersionID, opts.Key)
		}
		opts.Content = o.Content
		named = &PurgeNamed{Repo: opts.Repo, Ref: bk.Ref, Key: opts.Key, Version: o.VersionID, Size: o.Size}
	}
	if opts.Block && !opts.All {
		return nil, apiErr(http.StatusBadRequest, "InvalidArgument", "--block needs a purge of every repo (--all, global admin): a repo admin cannot block bytes for other repos")
	}
	return s.purgeOne(ctx, opts, named, map[string]bool{}, 0)
}

// maxDerivedDepth bounds the provenance walk of one purge.
const maxDerivedDepth = 32

func (s *Server) purgeOne(ctx context.Context, opts PurgeOptions, named *PurgeNamed, seen map[string]bool, depth int) (*PurgeReport, error) {
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
	rep := &PurgeReport{Content: res.Content, Scope: res.Scope, Block: res.Block, Named: named,
		Removed: res.Removed, Commits: res.Commits, OpenCommits: res.OpenCommits}
	if rep.Commits == nil {
		rep.Commits = []meta.PurgeCommit{}
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
				d, err := s.purgeOne(ctx, PurgeOptions{Content: out.Content, Repo: rec.Repo, Prov: rec.ID, User: opts.User}, nil, seen, depth+1)
				if err != nil {
					return nil, err
				}
				rep.Derived = append(rep.Derived, *d)
			}
		}
	}
	return rep, nil
}

// purgeAllowed checks who may purge in which scope: a repo admin within
// the repo, only a global admin across every repo or with --block.
func (s *Server) purgeAllowed(ctx context.Context, user string, opts PurgeOptions) error {
	if opts.All || opts.Block {
		u, err := s.Auth.GetUser(ctx, user)
		if err != nil || !u.Admin {
			return apiErr(http.StatusForbidden, "AccessDenied", "access denied: purging every repo or blocking content needs a global admin; a repo admin purges within its repo (tusk purge REPO@REF:KEY --version V)")
		}
		return nil
	}
	if err := s.Auth.Allow(ctx, user, opts.Repo, s3api.ActAdmin); err != nil {
		return apiErr(http.StatusForbidden, "AccessDenied", "access denied: purging data of repo %q needs admin permission on it", opts.Repo)
	}
	return nil
}
