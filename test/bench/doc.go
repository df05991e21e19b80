// Package bench holds Tusk's end-to-end benchmarks (`make bench`):
//
//	go test -run '^$' -bench . -benchtime 1x ./test/bench/...
//
// Every benchmark runs a fixed workload against an in-process gateway over
// real HTTP with aws-sdk-go-v2, reports its numbers with b.ReportMetric,
// and adds them to one markdown table that TestMain prints at the end.
package bench
