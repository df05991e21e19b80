// Package worker is `tusk worker`: the one piece that runs datums, for
// every runner (the local runner starts it as a subprocess; the kubernetes
// runner will inject it into the user's image).
//
// It reads a pipelines.Task (JSON) on standard input and, for each datum in
// turn: stages the datum's input keys under $TUSK_PFS/<input name>/ (read
// through the S3 API at the input commit), refusing keys that cannot be
// staged safely; runs the command there (when root on Linux, in a private
// mount namespace with that tree bind-mounted at /pfs, so Pachyderm-style
// code works unchanged) with TUSK_JOB_ID, TUSK_DATUM_ID, TUSK_OUTPUT_COMMIT,
// TUSK_PFS, AWS_ENDPOINT_URL and the pipeline's keys; uploads what the
// command wrote under $TUSK_PFS/out/ into the job's staging commit through
// the S3 API; and writes one pipelines.Result per line on standard output
// (exit code, error, the tail of the log). Nothing is written outside the
// datum's directory, which is removed afterwards.
//
// A worker dies with its gateway: the local runner's workers get SIGTERM
// when the gateway dies (Linux) and watch a heartbeat lease on stdin
// (EnvLease); remote workers renew their claim's lease through the task
// board. Either way an orphan kills its command's process group and exits;
// as a child subreaper (Linux) it also kills what a datum left running.
package worker
