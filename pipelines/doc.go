// Package pipelines runs user commands on every new commit of their input
// branches, incrementally, and records the provenance of every output
// (SPEC §7 and §8).
//
// A Spec (YAML or JSON, Parse) names the input repos and branches, the glob
// that splits each input commit into datums, how inputs combine (cross,
// union, join on glob capture groups), the command, and the runner. The
// Service watches meta for branch moves (meta.Store.Watch) and keeps, per
// pipeline, a persisted queue of jobs in meta's store (meta.Records "pl/"):
// commits that arrive while a job is pending or running coalesce into the
// next job, which takes the newest heads.
//
// A job diffs each input against the commit the last successful job
// processed (meta.Store.Diff, O(changed)), maps changed keys to the datums
// that hold them, and compares each affected datum's content hash with what
// was processed before: identical datums are skipped (their outputs stay,
// or are carried over from an earlier job), datums whose inputs vanished
// have their outputs removed, and the rest run through a Runner. The job
// writes into its own open commit on the output branch and ends in exactly
// one output commit, or none when a datum fails all its tries or two datums
// write the same key.
//
// Failures (failure.go): with on_failure commit_partial a job whose datums
// failed commits the others' outputs and ends partial, and the next job
// processes the failed datums again; a failed or partial job is retried by
// itself with backoff (job_retries); RestartJob re-runs one now. An update
// reprocesses datums only when it changes what they depend on (the datum
// version follows Spec.Fingerprint), or when asked to.
//
// Runners execute datums: the local runner (NewLocal) starts `tusk worker`
// subprocesses (package pipelines/worker), which stage a datum's inputs
// under $TUSK_PFS/<input>/ (and at /pfs in a private mount namespace when
// root on Linux), run the command, and upload $TUSK_PFS/out/ into the job's
// staging commit through the S3 API with the pipeline's own key. Package
// pipelines/runnertest is the conformance suite every Runner must pass.
//
// Provenance: every output entry names a meta.ProvRecord (Entry.Prov) with
// the exact input objects of its datum; Upstream and Downstream walk them.
package pipelines
