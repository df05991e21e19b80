package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
)

// ---- log ----

func newLogCmd(o *rootOptions) *cobra.Command {
	var path string
	var limit int
	cmd := &cobra.Command{
		Use:   "log REPO[@REF] [--path P] [--limit N]",
		Short: "Show the first-parent history of a ref, newest first (of keys under a path with --path)",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runLog(ctx, o, cl, cmd, args[0], path, limit) })
		},
	}
	cmd.Flags().StringVar(&path, "path", "", "only commits that changed a key under this prefix")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many commits (at most 10000)")
	return cmd
}

func runLog(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg, path string, limit int) error {
	t, err := optRef(arg, "REPO[@REF]")
	if err != nil {
		return err
	}
	if limit < 0 {
		return usagef("--limit must be positive")
	}
	q := url.Values{"ref": {t.refOrMain()}, "limit": {strconv.Itoa(limit)}}
	if path != "" {
		q.Set("path", path)
	}
	var res apiv1.LogResult
	if err := cl.do(ctx, "GET", "/repos/"+p(t.Repo)+"/log", q, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.row("COMMIT", "TIME", "AUTHOR", "MESSAGE")
		for _, c := range res.Commits {
			msg := oneLine(c.Message)
			if len(c.Parents) > 1 {
				msg = "(merge) " + msg
			}
			p.row(short(c.ID), ftime(c.Time), orDash(c.Author), msg)
		}
	})
}

// ---- diff ----

func newDiffCmd(o *rootOptions) *cobra.Command {
	var prefix string
	var limit int
	cmd := &cobra.Command{
		Use:   "diff REPO@A REPO@B [--prefix P]",
		Short: "List the keys added, changed and removed from ref A to ref B, with sizes",
		Args:  nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				return runDiff(ctx, o, cl, cmd, args[0], args[1], prefix, limit)
			})
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only keys under this prefix")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many keys (at most 100000)")
	return cmd
}

func runDiff(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, argA, argB, prefix string, limit int) error {
	a, err := optRef(argA, "REPO@A")
	if err != nil {
		return err
	}
	b, err := optRef(argB, "REPO@B")
	if err != nil {
		return err
	}
	if a.Repo != b.Repo {
		return usagef("diff compares two refs of one repo, not %s and %s", a.Repo, b.Repo)
	}
	q := url.Values{"from": {a.refOrMain()}, "to": {b.refOrMain()}, "limit": {strconv.Itoa(limit)}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	var res apiv1.DiffResult
	if err := cl.do(ctx, "GET", "/repos/"+p(a.Repo)+"/diff", q, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		if len(res.Entries) > 0 {
			p.row("CHANGE", "SIZE", "KEY")
		}
		for _, e := range res.Entries {
			var size string
			switch e.Change {
			case "added":
				size = fsize(e.Size)
			case "removed":
				size = fsize(e.OldSize)
			default:
				size = fsize(e.OldSize) + " -> " + fsize(e.Size)
			}
			p.row(e.Change, size, e.Key)
		}
		more := ""
		if res.Truncated {
			more = fmt.Sprintf(" (truncated at %d keys: raise --limit or narrow --prefix)", len(res.Entries))
		}
		p.line("%s..%s: %d added, %d changed, %d removed%s", short(res.FromID), short(res.ToID), res.Added, res.Changed, res.Removed, more)
	})
}

// ---- commit start|finish|abort|list ----

func newCommitCmd(o *rootOptions) *cobra.Command {
	var startMsg, finishMsg string
	start := &cobra.Command{
		Use:   "start REPO@BRANCH [-m MSG]",
		Short: "Open a commit on a branch: write into its S3 bucket, then finish or abort it",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runCommitStart(ctx, o, cl, cmd, args[0], startMsg) })
		},
	}
	start.Flags().StringVarP(&startMsg, "message", "m", "", "commit message")
	finish := &cobra.Command{
		Use:   "finish REPO@COMMIT [-m MSG]",
		Short: "Finish an open commit: its writes land on the branch as one commit",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				return runCommitFinish(ctx, o, cl, cmd, args[0], finishMsg)
			})
		},
	}
	finish.Flags().StringVarP(&finishMsg, "message", "m", "", "commit message (replaces the one given at start)")
	return newGroup("commit", "Open commits: start, finish, abort, list",
		start, finish,
		&cobra.Command{
			Use:   "abort REPO@COMMIT",
			Short: "Abort an open commit: every write made into it is discarded",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runCommitAbort(ctx, o, cl, cmd, args[0]) })
			},
		},
		&cobra.Command{
			Use:     "list REPO",
			Aliases: []string{"ls"},
			Short:   "List a repo's open commits",
			Args:    nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runCommitList(ctx, o, cl, cmd, args[0]) })
			},
		},
	)
}

func startCommit(ctx context.Context, cl *client, repo, branch, msg string) (*apiv1.OpenCommitInfo, error) {
	var oc apiv1.OpenCommitInfo
	err := cl.do(ctx, "POST", "/repos/"+p(repo)+"/commits", nil, apiv1.StartCommitRequest{Branch: branch, Message: msg}, &oc)
	if err != nil {
		return nil, err
	}
	return &oc, nil
}

func finishCommit(ctx context.Context, cl *client, repo, id, msg string) (*apiv1.CommitInfo, error) {
	var c apiv1.CommitInfo
	err := cl.do(ctx, "POST", "/repos/"+p(repo)+"/commits/"+p(id)+"/finish", nil, apiv1.FinishCommitRequest{Message: msg}, &c)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func abortCommit(ctx context.Context, cl *client, repo, id string) (map[string]string, error) {
	var res map[string]string
	err := cl.do(ctx, "POST", "/repos/"+p(repo)+"/commits/"+p(id)+"/abort", nil, nil, &res)
	return res, err
}

func runCommitStart(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg, msg string) error {
	t, err := optRef(arg, "REPO@BRANCH")
	if err != nil {
		return err
	}
	oc, err := startCommit(ctx, cl, t.Repo, t.refOrMain(), msg)
	if err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(oc, func(p *printer) {
		p.line("Started commit %s on %s@%s", oc.ID, oc.Repo, oc.Branch)
		p.line("Write to S3 bucket %s, then: tusk commit finish %s@%s (or abort)", oc.Bucket, oc.Repo, oc.ID)
	})
}

func runCommitFinish(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg, msg string) error {
	t, err := needRef(arg, "REPO@COMMIT")
	if err != nil {
		return err
	}
	c, err := finishCommit(ctx, cl, t.Repo, t.Ref, msg)
	if err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(c, func(p *printer) {
		p.line("Finished commit %s of %s", c.ID, c.Repo)
	})
}

func runCommitAbort(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string) error {
	t, err := needRef(arg, "REPO@COMMIT")
	if err != nil {
		return err
	}
	res, err := abortCommit(ctx, cl, t.Repo, t.Ref)
	if err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.line("Aborted commit %s of %s on branch %s: every write made into it was discarded", res["aborted"], t.Repo, res["branch"])
	})
}

func runCommitList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string) error {
	repo, err := needRepo(arg, "commit list")
	if err != nil {
		return err
	}
	var ocs []apiv1.OpenCommitInfo
	if err := cl.do(ctx, "GET", "/repos/"+p(repo)+"/commits", nil, nil, &ocs); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(ocs, func(p *printer) {
		if len(ocs) == 0 {
			p.line("Repo %s has no open commits.", repo)
			return
		}
		p.row("COMMIT", "BRANCH", "AUTHOR", "STARTED", "BUCKET", "MESSAGE")
		for _, c := range ocs {
			p.row(c.ID, c.Branch, orDash(c.Author), ftime(c.Started), c.Bucket, oneLine(c.Message))
		}
	})
}

// ---- merge, revert, reset ----

func newMergeCmd(o *rootOptions) *cobra.Command {
	var strategy, msg string
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "merge REPO@SRC REPO@DST [--strategy fail|ours|theirs] [-m MSG] [--wait [--timeout D]]",
		Short: "Merge ref SRC into branch DST (three-way on keys; fast-forward when DST is an ancestor)",
		Long: `Merge ref SRC into branch DST, three-way on keys against their merge base. A key
changed differently on both sides is a conflict: with --strategy fail (the
default) nothing is written and the conflicting keys are listed; ours keeps
DST's version, theirs takes SRC's. When DST is an ancestor of SRC, DST
fast-forwards to SRC. Merges are accepted by protected branches.

A protected branch may require pipelines (tusk branch protect --require-pipeline):
the merge is refused (MergeGate) until each has succeeded on SRC's head commit;
a refused merge starts the gate jobs it needs (the pipeline on SRC, writing to a
branch of its output repo named after SRC). --wait waits for them, then merges
(or says why not).`,
		Args: nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				if !wait {
					timeout = 0
				}
				return runMerge(ctx, o, cl, cmd, args[0], args[1], strategy, msg, timeout)
			})
		},
	}
	cmd.Flags().StringVar(&strategy, "strategy", "fail", "conflict strategy: fail, ours (keep DST's) or theirs (take SRC's)")
	cmd.Flags().StringVarP(&msg, "message", "m", "", "merge commit message")
	cmd.Flags().BoolVar(&wait, "wait", false, "when DST's merge gate has not passed on SRC, wait for its gate jobs, then merge")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: how long to wait for the gate jobs")
	return cmd
}

func runMerge(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, argSrc, argDst, strategy, msg string, wait time.Duration) error {
	src, err := needRef(argSrc, "REPO@SRC")
	if err != nil {
		return err
	}
	dst, err := needRef(argDst, "REPO@DST")
	if err != nil {
		return err
	}
	if src.Repo != dst.Repo {
		return usagef("merge works within one repo, not from %s into %s", src.Repo, dst.Repo)
	}
	switch strategy {
	case "fail", "ours", "theirs":
	default:
		return usagef("bad --strategy %q: use fail, ours or theirs", strategy)
	}
	var res apiv1.MergeResult
	req := apiv1.MergeRequest{Source: src.Ref, Destination: dst.Ref, Strategy: strategy, Message: msg}
	deadline := time.Now().Add(wait)
	for {
		// Each call waits up to a few minutes (the answer must come before
		// the client's response timeout); a gate still running is asked
		// again until the deadline.
		left := time.Until(deadline)
		req.Wait, req.Timeout = left > 0, max(min(left, 5*time.Minute), time.Second).Round(time.Second).String()
		err := cl.do(ctx, "POST", "/repos/"+p(src.Repo)+"/merge", nil, req, &res)
		if err == nil {
			break
		}
		var ae *apiv1.APIError
		if !errors.As(err, &ae) || ae.Code != "MergeGate" || time.Until(deadline) <= 0 || !gateRunning(ae.Gate) {
			return err
		}
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		switch {
		case res.UpToDate:
			p.line("%s@%s is already up to date with %s", res.Repo, res.Destination, res.Source)
		case res.FastForward:
			p.line("Fast-forwarded %s@%s to %s (%s)", res.Repo, res.Destination, res.Commit, res.Source)
		default:
			p.line("Merged %s into %s@%s as commit %s (%s changed, strategy %s)", res.Source, res.Repo, res.Destination, res.Commit, plural(res.Changed, "key"), res.Strategy)
		}
		for _, g := range res.Gate {
			p.line("  gate: pipeline %s passed on %s (job %s)", g.Pipeline, short(g.Commit), g.Job)
		}
	})
}

func newRevertCmd(o *rootOptions) *cobra.Command {
	var branch string
	cmd := &cobra.Command{
		Use:   "revert REPO@COMMIT [--branch BRANCH] | revert REPO@BRANCH COMMIT",
		Short: "Make a commit on a branch that undoes what COMMIT changed (relative to its first parent)",
		Long: `Make a new commit on a branch (--branch, default main) that undoes the changes
COMMIT made relative to its first parent. The second form names the branch
first. A key changed again since COMMIT is a conflict: nothing is written and
the keys are listed.`,
		Args: nargs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				target, commit := args[0], ""
				if len(args) == 2 {
					if cmd.Flags().Changed("branch") {
						return usageError{fmt.Errorf("give the branch either as REPO@BRANCH or with --branch, not both")}
					}
					commit = args[1]
				} else {
					t, err := needRef(args[0], "REPO@COMMIT")
					if err != nil {
						return err
					}
					target, commit = t.Repo+"@"+branch, t.Ref
				}
				return runRevert(ctx, o, cl, cmd, target, commit)
			})
		},
	}
	cmd.Flags().StringVar(&branch, "branch", "main", "the branch that gets the revert commit (with REPO@COMMIT)")
	return cmd
}

func runRevert(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg, commit string) error {
	t, err := needRef(arg, "REPO@BRANCH")
	if err != nil {
		return err
	}
	var c apiv1.CommitInfo
	if err := cl.do(ctx, "POST", "/repos/"+p(t.Repo)+"/branches/"+p(t.Ref)+"/revert", nil, apiv1.RevertRequest{Commit: commit}, &c); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(c, func(p *printer) {
		p.line("Reverted %s on %s@%s as commit %s", commit, t.Repo, t.Ref, c.ID)
	})
}

func newResetCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "reset REPO@BRANCH REF",
		Short: "Move a branch to the commit REF points at (O(1)); later commits leave the branch",
		Args:  nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runReset(ctx, o, cl, cmd, args[0], args[1]) })
		},
	}
}

func runReset(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg, ref string) error {
	t, err := needRef(arg, "REPO@BRANCH")
	if err != nil {
		return err
	}
	var c apiv1.CommitInfo
	if err := cl.do(ctx, "POST", "/repos/"+p(t.Repo)+"/branches/"+p(t.Ref)+"/reset", nil, apiv1.ResetRequest{Ref: ref}, &c); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(c, func(p *printer) {
		p.line("Reset %s@%s to %s (%s)", t.Repo, t.Ref, c.ID, ref)
	})
}

// gateRunning reports whether a pipeline of a refused merge's gate is
// still running on the source.
func gateRunning(gate []apiv1.GateInfo) bool {
	for _, g := range gate {
		if g.State == "running" {
			return true
		}
	}
	return false
}
