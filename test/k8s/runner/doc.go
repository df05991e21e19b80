// Package runner holds the integration tests of the kubernetes runner
// (pipelines/kubernetes) and of Tusk's own manifests (deploy/kubernetes)
// against a real control plane: kine, kube-apiserver and
// kube-controller-manager started on loopback by k8stest.Start (binaries
// cached by scripts/install-k8s-test.sh; a missing one fails the tests).
//
// The gateway runs in-process with the kubernetes runner, authenticated
// with the token of deploy/'s ServiceAccount, so deploy/'s Role is what the
// runner is allowed. There is no kubelet: the tests play it. They execute
// each Pod as the Job controller created it (the init container's copy into
// a temporary directory standing for the emptyDir, then the main
// container's command, args and env, its secretKeyRefs read through the API
// with the runner's token), and report the real exit code through
// pods/status.
//
// These tests start and kill processes: run them without -race (the
// Makefile lists test/k8s in NORACE).
//
// Run: go test -count=1 ./test/k8s/runner/
package runner
