// Package test holds Tusk's end-to-end tests: each test starts a real
// gateway in-process (gatewaytest.Start, real HTTP on a random loopback
// port) and drives it with real S3 clients — aws-sdk-go-v2 (path-style and
// virtual-hosted, plain HTTP with signed payloads and HTTPS with aws-chunked
// bodies and CRC32 trailers), minio-go v7 (path and DNS lookup, streaming
// SigV4 chunks) — and with raw SigV4-signed HTTP where SDKs refuse the input
// client-side. They check the S3 contract of SPEC §2-§5: addressing,
// versioning, reads, writes, listings, checksums, conditions and auth.
//
// Run: go test -race -count=1 ./test/
package test
