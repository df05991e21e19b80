package gateway

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/meta"
)

// DefaultAuditRetention is how long audit log entries are kept when
// Config.AuditRetention is 0.
const DefaultAuditRetention = 90 * 24 * time.Hour

// maxReportVersions bounds the versions one purge.report entry lists
// (an empty object's content may be held by millions of keys); the rest
// is counted.
const maxReportVersions = 100

// auditPurge records what a purge removed, after its bytes were dealt
// with: one "purge.report" entry per repo that lost versions (Repo set, so
// that the repo's admins read it), or one for the scope when none did.
// Each names the content, its size, the versions removed
// (REPO@BRANCH:KEY@VERSION, at most maxReportVersions, then a count) and
// what became of the bytes. The call's access key and request id come from
// ctx (meta.WithAuditCaller). A failure to record is logged: the purge is
// done either way, and meta's own "purge" entry was written with it.
func (s *Server) auditPurge(ctx context.Context, opts PurgeOptions, rep *apiv1.PurgeReport, size int64) {
	byRepo := map[string][]apiv1.PurgedVersion{}
	for _, v := range rep.Removed {
		byRepo[v.Repo] = append(byRepo[v.Repo], v)
	}
	if len(byRepo) == 0 {
		scope := opts.Repo
		if opts.All {
			scope = ""
		}
		byRepo[scope] = nil
	}
	repos := make([]string, 0, len(byRepo))
	for r := range byRepo {
		repos = append(repos, r)
	}
	sort.Strings(repos)
	bytes := "bytes kept: " + rep.BytesKept
	if rep.BytesDeleted {
		bytes = "bytes deleted"
	}
	if size >= 0 {
		bytes = fmt.Sprintf("%d %s", size, bytes)
	}
	scope := "repo " + opts.Repo
	if opts.All {
		scope = "every repo"
	}
	for _, repo := range repos {
		vs := byRepo[repo]
		var b strings.Builder
		fmt.Fprintf(&b, "content %s in %s", opts.Content, scope)
		if opts.Prov != "" {
			fmt.Fprintf(&b, " written by provenance record %s", opts.Prov)
		}
		fmt.Fprintf(&b, "; %s; %d versions removed", bytes, len(vs))
		for i, v := range vs {
			if i == maxReportVersions {
				fmt.Fprintf(&b, " ... and %d more", len(vs)-i)
				break
			}
			sep := ": "
			if i > 0 {
				sep = ", "
			}
			fmt.Fprintf(&b, "%s%s@%s:%s@%s", sep, v.Repo, v.Branch, v.Key, v.Version)
		}
		target := "content " + opts.Content
		if opts.Named != nil {
			target = opts.Named.Repo + "@" + opts.Named.Ref + ":" + opts.Named.Key + " --version " + opts.Named.Version
		}
		e := meta.AuditEntry{User: opts.User, Action: "purge.report", Repo: repo, Target: target, Detail: b.String()}
		if err := s.Meta.Audit(context.WithoutCancel(ctx), e); err != nil {
			s.cfg.Log.Error().Err(err).Str("content", opts.Content).Msg("audit log write failed")
		}
	}
}

// auditRepoOf is the repo of an S3 call's audit target ("REPO",
// "REPO@BRANCH" or "REPO@BRANCH STATUS"), so that the repo's admins read
// the entry.
func auditRepoOf(target string) string {
	repo, _, _ := strings.Cut(target, " ")
	repo, _, _ = strings.Cut(repo, "@")
	return repo
}

// purgeSize is the size of content's bytes before a purge deletes them
// (-1 when unknown: already gone, or the store failed).
func (s *Server) purgeSize(ctx context.Context, content string) int64 {
	n, err := s.Blobs.Stat(ctx, content)
	if err != nil {
		return -1
	}
	return n
}

// pruneAudit deletes the audit log entries older than the retention
// (Config.AuditRetention; negative keeps them all). GC runs it.
func (s *Server) pruneAudit(ctx context.Context) (int, error) {
	ret := s.cfg.AuditRetention
	if ret == 0 {
		ret = DefaultAuditRetention
	}
	if ret < 0 {
		return 0, nil
	}
	now := time.Now()
	if s.cfg.MetaNow != nil {
		now = s.cfg.MetaNow()
	}
	n, err := s.Meta.PruneAudit(ctx, now.Add(-ret))
	if n > 0 {
		s.cfg.Log.Info().Int("entries", n).Dur("retention", ret).Msg("audit log pruned")
	}
	return n, err
}
