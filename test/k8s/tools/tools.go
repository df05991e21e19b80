//go:build tools

// Package tools pins the Kubernetes commands the k8s integration tests run,
// so that go.mod and go.sum record every module they need. Nothing imports
// it; scripts/install-k8s-test.sh runs `go build` on the commands.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
