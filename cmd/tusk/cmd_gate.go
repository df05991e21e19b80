package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/pipelines"
)

// newPipelineRunCmd is `tusk pipeline run NAME --branch B`: a gate job.
func newPipelineRunCmd(o *rootOptions) *cobra.Command {
	var repo, branch string
	var force, wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "run NAME --branch BRANCH [--repo REPO] [--force] [--wait [--timeout D]]",
		Short: "Run a pipeline on another branch of its input as a gate job (outputs go to a branch of its output repo named after it)",
		Long: `Run pipeline NAME on BRANCH (a branch, tag or commit) of its input repo REPO
(needed when it reads several repos) instead of the branch it reads: a gate job.
Its outputs go to a branch of the output repo named after BRANCH, so the
pipeline's own outputs are untouched; datums whose content it processed before,
on any branch, are carried over, not run again. Its success on BRANCH's head is
what a merge into a branch that requires the pipeline checks (tusk branch
protect --require-pipeline). A gate that already succeeded or failed on the head
is not run again unless --force.`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if branch == "" {
				return usagef("name the branch to run on: --branch BRANCH")
			}
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				var j pipelines.Job
				req := apiv1.RunGateRequest{Repo: repo, Branch: branch, Force: force}
				if err := cl.do(ctx, "POST", "/pipelines/"+p(args[0])+"/run", nil, req, &j); err != nil {
					return err
				}
				if wait && !j.Done() {
					return runJobWait(ctx, o, cl, cmd, j.ID, timeout)
				}
				return o.printer(stdout(cmd)).print(j, func(p *printer) {
					p.line("Gate job %s of pipeline %s on %s@%s: %s (outputs on %s@%s)", j.ID, j.Pipeline, j.Gate.Repo, j.Gate.Source, j.State, j.OutputRepo, j.OutputBranch)
				})
			})
		},
	}
	cmd.Flags().StringVar(&repo, "repo", "", "the input repo BRANCH is in (default: the pipeline's only input repo)")
	cmd.Flags().StringVar(&branch, "branch", "", "the branch, tag or commit to run on")
	cmd.Flags().BoolVar(&force, "force", false, "run again even if it already succeeded or failed on the branch's head")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the job to end")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: how long to wait")
	return cmd
}
