package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/pipelines"
)

// newPipelineCmds returns the pipeline commands: pipeline, job, datum,
// prov and the hidden worker.
func newPipelineCmds(o *rootOptions) []*cobra.Command {
	return []*cobra.Command{newPipelineCmd(o), newJobCmd(o), newDatumCmd(o), newProvCmd(o), newWorkerCmd(o)}
}

// ---- pipeline ----

func newPipelineCmd(o *rootOptions) *cobra.Command {
	var file string
	var reprocess bool
	specCmd := func(use, short string, update bool) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " -f SPEC",
			Short: short,
			Args:  nargs(0, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				f := file
				if len(args) == 1 {
					if f != "" {
						return usagef("give the spec once: -f FILE or FILE")
					}
					f = args[0]
				}
				if f == "" {
					return usagef("%s needs a spec: -f FILE (YAML or JSON; - reads stdin)", cmd.CommandPath())
				}
				return o.run(cmd, func(ctx context.Context, cl *client) error {
					return runPipelinePut(ctx, o, cl, cmd, f, update, reprocess)
				})
			},
		}
		c.Flags().StringVarP(&file, "file", "f", "", "the pipeline spec, YAML or JSON (- reads stdin)")
		if update {
			c.Flags().BoolVar(&reprocess, "reprocess", false, "process every datum again even if the update changes nothing they depend on")
		}
		return c
	}
	var keepRepo bool
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a pipeline, its jobs and (unless --keep-repo) its output repo",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				return runPipelineDelete(ctx, o, cl, cmd, args[0], keepRepo)
			})
		},
	}
	del.Flags().BoolVar(&keepRepo, "keep-repo", false, "keep the output repo (its branch becomes writable)")
	var logJob, logDatum string
	var logFailed bool
	logs := &cobra.Command{
		Use:   "logs NAME",
		Short: "Show the logs of a pipeline's datums (of its newest job, or --job)",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				return runPipelineLogs(ctx, o, cl, cmd, args[0], logJob, logDatum, logFailed)
			})
		},
	}
	logs.Flags().StringVar(&logJob, "job", "", "a job id (default: the newest job that started)")
	logs.Flags().StringVar(&logDatum, "datum", "", "only this datum (id or prefix)")
	logs.Flags().BoolVar(&logFailed, "failed", false, "only failed datums")
	return newGroup("pipeline", "Create, update, list, inspect and delete pipelines; read their logs",
		specCmd("create", "Create a pipeline from a spec (its output repo is created; a first job runs over what its inputs hold)", false),
		specCmd("update", "Update a pipeline's spec (a new version; every datum is reprocessed only if the transform or inputs change, or --reprocess)", true),
		&cobra.Command{
			Use:     "list",
			Aliases: []string{"ls"},
			Short:   "List pipelines",
			Args:    nargs(0, 0),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runPipelineList(ctx, o, cl, cmd) })
			},
		},
		&cobra.Command{
			Use:   "inspect NAME",
			Short: "Show a pipeline: spec, state, newest job",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runPipelineInspect(ctx, o, cl, cmd, args[0]) })
			},
		},
		del,
		logs,
		newPipelineRunCmd(o), // cmd_gate.go
	)
}

// readSpecFile reads and checks a spec locally (errors name the field).
func readSpecFile(cmd *cobra.Command, f string) (*pipelines.Spec, error) {
	var b []byte
	var err error
	if f == "-" {
		b, err = io.ReadAll(cmd.InOrStdin())
	} else {
		b, err = os.ReadFile(f)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the spec: %w", err)
	}
	sp, err := pipelines.Parse(b)
	if err != nil {
		var se *pipelines.SpecError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("spec %s: %s", f, se.Error())
		}
		return nil, fmt.Errorf("spec %s: %w", f, err)
	}
	return sp, nil
}

func runPipelinePut(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, f string, update, reprocess bool) error {
	sp, err := readSpecFile(cmd, f)
	if err != nil {
		return err
	}
	var info pipev1.PipelineInfo
	if update {
		var q url.Values
		if reprocess {
			q = url.Values{"reprocess": {"true"}}
		}
		err = cl.do(ctx, "PUT", "/pipelines/"+p(sp.Name), q, sp, &info)
	} else {
		err = cl.do(ctx, "POST", "/pipelines", nil, sp, &info)
	}
	if err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(info, func(pr *printer) {
		verb := "Created"
		if update {
			verb = "Updated"
		}
		pr.line("%s pipeline %s (version %d): %s -> %s", verb, info.Name, info.Version, strings.Join(info.Inputs, ", "), info.Output)
		if update {
			if info.DatumVersion == info.Version {
				pr.line("The next job reprocesses every datum (the transform or inputs changed, or --reprocess).")
			} else {
				pr.line("Updated in place: no datum is reprocessed (datums' outputs are those of version %d).", info.DatumVersion)
			}
		}
		pr.line("Its jobs: tusk job list --pipeline %s; wait for them: tusk job wait --pipeline %s", info.Name, info.Name)
	})
}

func runPipelineList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command) error {
	var list []pipev1.PipelineInfo
	if err := cl.do(ctx, "GET", "/pipelines", nil, nil, &list); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(list, func(pr *printer) {
		if len(list) == 0 {
			pr.line("No pipelines. Create one with tusk pipeline create -f SPEC.")
			return
		}
		pr.row("NAME", "VERSION", "INPUTS", "OUTPUT", "STATE", "LAST JOB")
		for _, pi := range list {
			last := "-"
			if pi.LastJob != nil {
				last = short(pi.LastJob.ID) + " " + pi.LastJob.State
			}
			pr.row(pi.Name, strconv.Itoa(pi.Version), strings.Join(pi.Inputs, ","), pi.Output, pi.State, last)
		}
	})
}

func runPipelineInspect(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, name string) error {
	var pi pipev1.PipelineInfo
	if err := cl.do(ctx, "GET", "/pipelines/"+p(name), nil, nil, &pi); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(pi, func(pr *printer) {
		pr.line("Pipeline %s, version %d (created %s by %s, updated %s)", pi.Name, pi.Version, ftime(pi.Created), orDash(pi.CreatedBy), ftime(pi.Updated))
		pr.line("State:   %s", pi.State)
		if pi.Retry != nil {
			pr.line("Retry:   job %s is retried at %s (attempt %d)", short(pi.Retry.Job), ftime(pi.Retry.At), pi.Retry.Attempt)
		}
		if pi.Stopped != "" {
			pr.line("Stopped: %s (tusk pipeline update restarts it)", pi.Stopped)
		}
		pr.line("Inputs:  %s", strings.Join(pi.Inputs, ", "))
		pr.line("Output:  %s", pi.Output)
		pr.line("Command: %s", strings.Join(pi.Spec.Transform.Cmd, " "))
		pr.line("Runner:  %s, parallelism %d, datum_tries %d, datum_timeout %s", orDefault(pi.Spec.Runner, "local"),
			pi.Spec.Workers(), pi.Spec.Tries(), datumTimeoutText(time.Duration(pi.Spec.DatumTimeout)))
		pr.line("Failure: on_failure %s, job_retries %d", orDefault(pi.Spec.OnFailure, pipelines.OnFailureFail), pi.Spec.Retries())
		if pi.LastJob != nil {
			pr.line("Newest job:")
			printJob(pr, pi.LastJob, "  ")
		}
		if pi.Processed != nil {
			pr.line("Processed: %d datums, by job %s", pi.Processed.Datums, pi.Processed.Job)
		}
	})
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// datumTimeoutText shows a spec's datum_timeout (unset: the gateway's
// --pipeline-datum-timeout applies).
func datumTimeoutText(d time.Duration) string {
	if d == 0 {
		return "gateway default"
	}
	return d.String()
}

func runPipelineDelete(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, name string, keep bool) error {
	q := url.Values{}
	if keep {
		q.Set("keep_repo", "true")
	}
	var res map[string]any
	if err := cl.do(ctx, "DELETE", "/pipelines/"+p(name), q, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(pr *printer) {
		if keep {
			pr.line("Deleted pipeline %s; its output repo %s was kept", name, name)
		} else {
			pr.line("Deleted pipeline %s and its output repo", name)
		}
	})
}

func runPipelineLogs(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, name, job, datum string, failed bool) error {
	q := url.Values{}
	if job != "" {
		q.Set("job", job)
	}
	if datum != "" {
		q.Set("datum", datum)
	}
	if failed {
		q.Set("failed", "true")
	}
	var li pipev1.LogInfo
	if err := cl.do(ctx, "GET", "/pipelines/"+p(name)+"/logs", q, nil, &li); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(li, func(pr *printer) {
		if len(li.Logs) == 0 {
			pr.line("No datum logs (job %s).", orDash(li.Job))
			return
		}
		for _, l := range li.Logs {
			pr.line("=== datum %s (%s): %s, exit code %d", short(l.Datum), strings.Join(l.Inputs, ", "), l.State, l.ExitCode)
			fmt.Fprint(pr.w, l.Log)
			if l.Log != "" && !strings.HasSuffix(l.Log, "\n") {
				fmt.Fprintln(pr.w)
			}
		}
		if li.Truncated {
			pr.line("(the first %d datums; name one with --datum, or see tusk datum list %s)", len(li.Logs), li.Job)
		}
	})
}

// ---- job ----

func newJobCmd(o *rootOptions) *cobra.Command {
	var pipe string
	var limit int
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List jobs, newest first",
		Args:    nargs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runJobList(ctx, o, cl, cmd, pipe, limit) })
		},
	}
	list.Flags().StringVarP(&pipe, "pipeline", "p", "", "only this pipeline's jobs")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	var waitPipes []string
	var timeout time.Duration
	wait := &cobra.Command{
		Use:   "wait [JOB]",
		Short: "Wait until a job ends, or (no JOB) until pipelines have no pending or running job",
		Long: `Wait until JOB ends and print it, or, without JOB, until the pipelines named
with --pipeline (default: every pipeline you can see) have nothing queued or
running, and print each one's newest job. Exits 1 when a job waited for failed.`,
		Args: nargs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				if len(args) == 1 {
					return runJobWait(ctx, o, cl, cmd, args[0], timeout)
				}
				return runJobWaitIdle(ctx, o, cl, cmd, waitPipes, timeout)
			})
		},
	}
	wait.Flags().StringSliceVarP(&waitPipes, "pipeline", "p", nil, "wait for these pipelines (repeat, or a comma-separated list)")
	wait.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long")
	restart := &cobra.Command{
		Use:   "restart JOB",
		Short: "Re-run a failed, partial or killed job now (its pipeline's newest), as a new job",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runJobRestart(ctx, o, cl, cmd, args[0]) })
		},
	}
	stop := &cobra.Command{
		Use:   "stop JOB",
		Short: "Stop a pending or running job: it ends killed, the pipeline and its output repo stay",
		Long: `Stop a pending or running job. Its workers end, its commits are aborted and
it ends killed, saying who stopped it; it is not retried automatically
(tusk job restart re-runs it). The pipeline, its spec and its output repo
stay; the next input commit starts a new job as usual.`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runJobStop(ctx, o, cl, cmd, args[0]) })
		},
	}
	return newGroup("job", "List, inspect, wait for, stop and restart pipeline jobs",
		list,
		restart,
		stop,
		&cobra.Command{
			Use:   "inspect JOB",
			Short: "Show a job: inputs, output commit, datum counts, failed datums with their logs",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runJobInspect(ctx, o, cl, cmd, args[0]) })
			},
		},
		wait,
	)
}

func jobDuration(j *pipelines.Job) string {
	if j.Started.IsZero() {
		return "-"
	}
	end := j.Finished
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(j.Started).Round(time.Millisecond).String()
}

func jobCounts(j *pipelines.Job) string {
	st := j.Stats
	s := fmt.Sprintf("%d total, %d processed, %d skipped", st.Total, st.Processed, st.Skipped)
	if st.Removed > 0 {
		s += fmt.Sprintf(", %d removed", st.Removed)
	}
	if st.Failed > 0 {
		s += fmt.Sprintf(", %d failed", st.Failed)
	}
	if st.Pending > 0 && !j.Done() {
		s += fmt.Sprintf(", %d to do", st.Pending)
	}
	return s
}

func runJobList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, pipe string, limit int) error {
	q := url.Values{}
	if pipe != "" {
		q.Set("pipeline", pipe)
	}
	q.Set("limit", strconv.Itoa(limit))
	var jl pipev1.JobList
	if err := cl.do(ctx, "GET", "/jobs", q, nil, &jl); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(jl, func(pr *printer) {
		if len(jl.Jobs) == 0 {
			pr.line("No jobs.")
			return
		}
		pr.row("JOB", "PIPELINE", "STATE", "ATTEMPT", "STARTED", "DURATION", "DATUMS")
		for _, j := range jl.Jobs {
			pr.row(short(j.ID), fmt.Sprintf("%s@%d", j.Pipeline, j.Version), j.State, jobAttempt(j), ftime(j.Started), jobDuration(j), jobCounts(j))
		}
	})
}

// jobAttempt renders a job's attempt: "1", "2 (retry)", "3 (restart)".
func jobAttempt(j *pipelines.Job) string {
	s := strconv.Itoa(max(1, j.Attempt))
	if j.Cause != "" {
		s += " (" + j.Cause + ")"
	}
	return s
}

func printJob(pr *printer, j *pipelines.Job, ind string) {
	pr.line("%sJob %s of pipeline %s@%d: %s", ind, j.ID, j.Pipeline, j.Version, j.State)
	if j.Reason != "" {
		pr.line("%s  Reason:  %s", ind, j.Reason)
	}
	if j.Attempt > 1 {
		pr.line("%s  Attempt: %s of job %s", ind, jobAttempt(j), j.RetryOf)
	}
	if j.RetryAt != nil {
		pr.line("%s  Retry:   at %s, as attempt %d (a new input commit or spec update supersedes it)", ind, ftime(*j.RetryAt), max(1, j.Attempt)+1)
	}
	for _, in := range j.Inputs {
		pr.line("%s  Input:   %s (%s@%s) at commit %s", ind, in.Name, in.Repo, in.Branch, in.Commit)
	}
	if j.OutputCommit != "" {
		what := "output commit"
		if !j.Done() {
			what = "open commit"
		} else if j.State != pipelines.JobSuccess && j.State != pipelines.JobPartial {
			what = "aborted commit"
		}
		pr.line("%s  Output:  %s@%s, %s %s", ind, j.OutputRepo, j.OutputBranch, what, j.OutputCommit)
	}
	pr.line("%s  Datums:  %s; %d output keys written", ind, jobCounts(j), j.Stats.Outputs)
	pr.line("%s  Started: %s, took %s", ind, ftime(j.Started), jobDuration(j))
	for _, f := range j.FailedDatums {
		pr.line("%s  Failed datum %s (%s): %d tries, exit code %d", ind, f.ID, strings.Join(f.Inputs, ", "), f.Attempts, f.ExitCode)
		if f.Error != "" {
			pr.line("%s    error: %s", ind, f.Error)
		}
		for _, l := range strings.Split(f.LogTail, "\n") {
			if l != "" {
				pr.line("%s    | %s", ind, l)
			}
		}
	}
}

func runJobInspect(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, id string) error {
	var j pipelines.Job
	if err := cl.do(ctx, "GET", "/jobs/"+p(id), nil, nil, &j); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(&j, func(pr *printer) { printJob(pr, &j, "") })
}

func runJobWait(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var j pipelines.Job
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("job %s did not end within %s (it is %s)", id, timeout, j.State)
		}
		q := url.Values{"timeout": {min(left, time.Minute).Round(time.Second).String()}}
		if err := cl.do(ctx, "GET", "/jobs/"+p(id)+"/wait", q, nil, &j); err != nil {
			return err
		}
		if j.Done() {
			break
		}
	}
	if err := o.printer(stdout(cmd)).print(&j, func(pr *printer) { printJob(pr, &j, "") }); err != nil {
		return err
	}
	if j.State != pipelines.JobSuccess {
		return fmt.Errorf("job %s %s: %s", j.ID, j.State, j.Reason)
	}
	return nil
}

func runJobRestart(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, id string) error {
	var res pipev1.JobRestart
	if err := cl.do(ctx, "POST", "/jobs/"+p(id)+"/restart", nil, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(pr *printer) {
		pr.line("Restarted job %s as job %s (attempt %d) of pipeline %s", res.Restarted, res.Job.ID, res.Job.Attempt, res.Job.Pipeline)
		pr.line("Wait for it: tusk job wait %s", res.Job.ID)
	})
}

func runJobStop(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, id string) error {
	var j pipelines.Job
	if err := cl.do(ctx, "POST", "/jobs/"+p(id)+"/stop", nil, nil, &j); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(&j, func(pr *printer) {
		switch {
		case j.State == pipelines.JobKilled:
			pr.line("Stopped job %s of pipeline %s: %s", j.ID, j.Pipeline, j.Reason)
			pr.line("Re-run it: tusk job restart %s", j.ID)
		case j.Done():
			pr.line("Job %s of pipeline %s ended %s before it could be stopped", j.ID, j.Pipeline, j.State)
		default:
			pr.line("Job %s of pipeline %s is stopping (%s); check it with tusk job wait %s", j.ID, j.Pipeline, j.State, j.ID)
		}
	})
}

func runJobWaitIdle(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, pipes []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var res pipev1.IdleInfo
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("pipelines still busy after %s", timeout)
		}
		q := url.Values{"timeout": {min(left, time.Minute).Round(time.Second).String()}}
		if len(pipes) > 0 {
			q.Set("pipeline", strings.Join(pipes, ","))
		}
		if err := cl.do(ctx, "GET", "/jobs/wait", q, nil, &res); err != nil {
			return err
		}
		if res.Idle {
			break
		}
	}
	if err := o.printer(stdout(cmd)).print(res, func(pr *printer) {
		if len(res.Jobs) == 0 {
			pr.line("No jobs.")
			return
		}
		pr.row("JOB", "PIPELINE", "STATE", "DURATION", "DATUMS")
		for _, j := range res.Jobs {
			pr.row(short(j.ID), fmt.Sprintf("%s@%d", j.Pipeline, j.Version), j.State, jobDuration(j), jobCounts(j))
		}
	}); err != nil {
		return err
	}
	var failed []string
	for _, j := range res.Jobs {
		if j.State == pipelines.JobFailure || j.State == pipelines.JobKilled || j.State == pipelines.JobPartial {
			failed = append(failed, fmt.Sprintf("%s (job %s: %s)", j.Pipeline, short(j.ID), j.Reason))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("newest job failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// ---- datum ----

func newDatumCmd(o *rootOptions) *cobra.Command {
	var failed bool
	list := &cobra.Command{
		Use:     "list JOB",
		Aliases: []string{"ls"},
		Short:   "List a job's datums that needed work (processed, carried over, removed, failed)",
		Args:    nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runDatumList(ctx, o, cl, cmd, args[0], failed) })
		},
	}
	list.Flags().BoolVar(&failed, "failed", false, "only failed datums")
	return newGroup("datum", "List the datums of a job", list)
}

func runDatumList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, job string, failed bool) error {
	q := url.Values{}
	if failed {
		q.Set("failed", "true")
	}
	var dl pipev1.DatumList
	if err := cl.do(ctx, "GET", "/jobs/"+p(job)+"/datums", q, nil, &dl); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(dl, func(pr *printer) {
		pr.line("Job %s: %d datums, %d processed, %d skipped (%d carried over), %d removed, %d failed",
			dl.Job, dl.Stats.Total, dl.Stats.Processed, dl.Stats.Skipped, dl.Stats.Carried, dl.Stats.Removed, dl.Stats.Failed)
		if len(dl.Datums) == 0 {
			return
		}
		pr.row("DATUM", "ACTION", "STATE", "TRIES", "EXIT", "OUTPUTS", "INPUTS")
		for _, d := range dl.Datums {
			exit := "-"
			if d.Action == pipelines.ActProcess && d.State != pipelines.DatumPending {
				exit = strconv.Itoa(d.ExitCode)
			}
			pr.row(short(d.ID), d.Action, d.State, strconv.Itoa(d.Attempts), exit, strconv.Itoa(len(d.Outputs)), strings.Join(d.Inputs, ", "))
		}
	})
}

// ---- prov ----

func newProvCmd(o *rootOptions) *cobra.Command {
	var down bool
	cmd := &cobra.Command{
		Use:   "prov REPO@REF:PATH",
		Short: "Show what made an object (upstream, to raw inputs) or, with --downstream, everything derived from it",
		Long: `Show the provenance of an object. Upstream (the default): the pipeline, job and
exact input objects (repo, commit, key) of the datum that wrote it, and theirs,
transitively, down to raw inputs. --downstream: every object, in every repo,
derived from it.`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runProv(ctx, o, cl, cmd, args[0], down) })
		},
	}
	cmd.Flags().BoolVar(&down, "downstream", false, "show what was derived from the object instead")
	return cmd
}

func runProv(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string, down bool) error {
	t, err := optPath(arg, "REPO@REF:PATH")
	if err != nil {
		return err
	}
	if !t.HasPath || t.Path == "" {
		return usagef("tusk prov needs an object: REPO@REF:PATH, not %q", arg)
	}
	q := url.Values{"key": {t.Path}, "ref": {t.refOrMain()}}
	if down {
		q.Set("downstream", "true")
	}
	var pi pipev1.ProvInfo
	if err := cl.do(ctx, "GET", "/repos/"+p(t.Repo)+"/prov", q, nil, &pi); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(pi, func(pr *printer) {
		root := pi.Root
		pr.line("%s", provLine(root))
		flat := pipelines.Flatten(root)
		if len(flat) == 0 {
			if down {
				pr.line("  nothing was derived from it")
			} else {
				pr.line("  a raw input: no pipeline wrote it")
			}
			return
		}
		arrow := "<-"
		if down {
			arrow = "->"
		}
		for _, f := range flat {
			pr.line("%s%s %s", strings.Repeat("  ", f.Depth), arrow, provLine(f.Node))
		}
	})
}

func provLine(n *pipelines.ProvNode) string {
	s := n.Repo + "@" + n.Commit
	if n.Key != "" {
		s += ":" + n.Key
	}
	if n.Version != "" && n.Version != n.Commit {
		s += "  version " + n.Version
	}
	if n.Content != "" {
		s += "  sha256 " + short(n.Content)
	}
	if n.Pipeline != "" {
		s += fmt.Sprintf("  [%s, job %s]", n.Pipeline, short(n.Job))
	}
	if n.Missing != "" {
		s += "  (" + n.Missing + ")"
	}
	if n.Repeat {
		s += "  (shown above)"
	}
	return s
}
