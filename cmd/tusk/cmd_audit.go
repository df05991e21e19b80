package main

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
)

// auditOptions select audit log entries (GET /api/v1/audit).
type auditOptions struct {
	user, repo, action   string
	result               string
	since, until, cursor string
	limit                int
	newest               bool
}

// auditPage is the page size the CLI asks for (the API's maximum).
const auditPage = 1000

func newAuditCmd(o *rootOptions) *cobra.Command {
	var ao auditOptions
	cmd := &cobra.Command{
		Use:   "audit [--user U] [--repo R] [--action A] [--result ok|failed] [--since T] [--until T] [--newest] [--limit N] [--cursor C]",
		Short: "Show the audit log: who did what, when and how it ended (admin actions, merges, resets, purges), oldest first",
		Long: `Show the audit log: who (user, access key) did what (action, repo, target,
parameters), when, and whether it succeeded (RESULT ok, or the error code).
A global admin reads every entry; a repo admin reads its repo's with --repo.
--since and --until take an RFC 3339 time or a duration back from now (24h).
Entries are kept for the server's --audit-retention (default 90 days).`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ao.limit < 0 {
				return usagef("audit: --limit %d: give 0 (all) or more", ao.limit)
			}
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runAudit(ctx, o, cl, cmd, ao) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&ao.user, "user", "", "only entries by this user")
	f.StringVar(&ao.repo, "repo", "", "only entries about this repo (a repo admin must give it)")
	f.StringVar(&ao.action, "action", "", "only this action (purge, merge, reset, revert, gc) or group (repo, branch, tag, user, key, perm, pipeline, job)")
	f.StringVar(&ao.since, "since", "", "only entries at or after this time (RFC 3339, or a duration back from now: 24h)")
	f.StringVar(&ao.until, "until", "", "only entries before this time (RFC 3339, or a duration back from now)")
	f.StringVar(&ao.result, "result", "", "only ok or only failed entries")
	f.BoolVar(&ao.newest, "newest", false, "newest first")
	f.IntVar(&ao.limit, "limit", 100, "at most N entries (0: all)")
	f.StringVar(&ao.cursor, "cursor", "", "continue where a previous listing stopped (the cursor it printed)")
	return cmd
}

// auditTime turns a --since/--until value into RFC 3339: a time as it is,
// a duration as that long before now.
func auditTime(flag, v string, now time.Time) (string, error) {
	if v == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return "", usagef("audit: --%s %q: give an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (24h)", flag, v)
	}
	return now.Add(-d).UTC().Format(time.RFC3339Nano), nil
}

func runAudit(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, ao auditOptions) error {
	q := url.Values{}
	for k, v := range map[string]string{"user": ao.user, "repo": ao.repo, "action": ao.action, "result": ao.result} {
		if v != "" {
			q.Set(k, v)
		}
	}
	now := time.Now()
	for k, v := range map[string]string{"since": ao.since, "until": ao.until} {
		t, err := auditTime(k, v, now)
		if err != nil {
			return err
		}
		if t != "" {
			q.Set(k, t)
		}
	}
	if ao.newest {
		q.Set("order", "newest")
	}
	// Follow the pages until the limit or the end of the log.
	res := apiv1.AuditResult{Entries: []apiv1.AuditEntry{}}
	cursor := ao.cursor
	for {
		n := auditPage
		if ao.limit > 0 && ao.limit-len(res.Entries) < n {
			n = ao.limit - len(res.Entries)
		}
		q.Set("limit", strconv.Itoa(n))
		q.Del("cursor")
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page apiv1.AuditResult
		if err := cl.do(ctx, "GET", "/audit", q, nil, &page); err != nil {
			return err
		}
		res.Entries = append(res.Entries, page.Entries...)
		cursor = page.Next
		if cursor == "" || (ao.limit > 0 && len(res.Entries) >= ao.limit) {
			break
		}
	}
	res.Next = cursor
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		if len(res.Entries) == 0 {
			p.line("No audit log entries.")
			return
		}
		p.row("TIME", "USER", "ACTION", "RESULT", "TARGET", "DETAIL")
		for _, e := range res.Entries {
			result, detail := orDash(e.Result), e.Detail
			if e.Result == "failed" {
				result = e.Code
				detail = strings.TrimSpace(detail + " " + e.Error)
			}
			p.row(ftime(e.Time), e.User, e.Action, result, orDash(e.Target), orDash(detail))
		}
		if res.Next != "" {
			p.line("More entries: add --cursor %s", res.Next)
		}
	})
}
