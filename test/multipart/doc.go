// Package multipart holds Tusk's end-to-end tests of S3 multipart uploads
// (issue 3), run without -race (they move hundreds of MiB):
//
//	go test -count=1 ./test/multipart/
//
// Each test starts a real gateway in-process (gatewaytest) and drives it
// with real clients: aws-sdk-go-v2's transfer manager (256 MiB in parallel
// parts with CRC32 checksums over HTTPS, aws-chunked bodies with trailing
// checksums; downloaded back by partNumber GETs; a CRC64NVME full-object
// upload read back with the SDK's checksum validation), a server restart
// in the middle of an upload, the aws CLI v2 (/usr/bin/aws: `s3 cp` of 200
// MiB up and down, and every `s3api` multipart operation) and rclone
// (`copy` of 300 MiB with --s3-upload-concurrency 8); and a gateway over
// the s3 backend (versitygw), whose parts are composed server-side. Big
// files are generated from a seeded generator in a temp dir and never
// kept.
// scripts/install-test-deps.sh installs the CLI clients; tests fail (never
// skip) when one is missing.
package multipart
