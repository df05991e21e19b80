// Package k8s holds the tests that run against a real Kubernetes control
// plane (kine, kube-apiserver, kube-controller-manager) started on loopback
// by k8stest.Start. The binaries are built once from the Go module proxy by
// scripts/install-k8s-test.sh (`make test-deps`) and cached outside the
// repository; a missing binary fails the tests, naming the script.
//
// These tests start and kill processes: run them without -race (the
// Makefile lists them in NORACE).
//
// Run: go test -count=1 ./test/k8s/...
package k8s
