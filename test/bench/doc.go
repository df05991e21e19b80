// Package bench holds Tusk's end-to-end benchmarks (`make bench`):
//
//	go test -run '^$' -bench . -benchtime 1x ./test/bench/...
//
// Every benchmark runs a fixed workload against an in-process gateway over
// real HTTP with aws-sdk-go-v2, reports its numbers with b.ReportMetric,
// and adds them to one markdown table that TestMain prints at the end.
//
// BenchmarkSideBySide (side_test.go, issue 12) runs the same load generator
// against `tusk serve` and versitygw (scripts/install-versitygw.sh, posix
// backend) one after the other and prints a second table with both figures
// and their ratio per row; TestMain also writes it, with the other rows, as
// JSON to $TUSK_BENCH_JSON or bin/bench.json. TUSK_BENCH_VGW_VERSIONING=1
// runs versitygw with bucket versioning enabled.
package bench
