// Package runnertest is the conformance suite of pipelines.Runner: every
// runner (local, kubernetes) must pass Run. It starts a real gateway (S3
// API over meta and blobs, pipelines disabled), makes an input repo and a
// staging commit, and hands tasks to the runner under test, checking what
// it reports and what lands in the staging commit.
//
// Commands are POSIX sh scripts (sh, cat, cp, env, sleep, ls): a runner
// whose workers run in an image needs one with a shell.
package runnertest
