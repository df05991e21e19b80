// Package pipelines holds the end-to-end tests of pipelines (SPEC §7, §8):
// a real gateway in-process (gatewaytest) runs pipelines with the local
// runner, whose workers are the real `tusk worker` binary (built once by
// TestMain, or TUSK_BIN), driven through S3 clients (aws-sdk-go-v2, the aws
// CLI, boto3) and the tusk CLI. Pachyderm's beginner tutorial runs here as
// in examples/edges-montage/, with its Go programs.
//
// These tests start many processes and kill servers mid-job: run them
// without -race (the Makefile lists them in NORACE).
//
// Run: go test -count=1 ./test/pipelines/
package pipelines
