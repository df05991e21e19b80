// Package k8stest starts a real Kubernetes control plane for tests: kine
// (an etcd API over sqlite), kube-apiserver and kube-controller-manager, on
// free loopback ports, in the test's temporary directory, stopped by the
// test's cleanup. There is no scheduler and no kubelet: the controllers make
// Pods, which stay Pending until a test plays the kubelet through the
// pods/status subresource.
//
// Start builds nothing. The binaries come from scripts/install-k8s-test.sh
// (run by `make test-deps`), which builds kube-apiserver and
// kube-controller-manager v1.37.2 and kine v0.17.5 from the Go module proxy
// into ~/.cache/tusk-test/k8s-v1.37.2/bin, or $TUSK_K8S_BIN. A test whose
// binaries are missing fails, saying to run the script: it never skips.
//
// The cluster's authorizer is RBAC, so a client built with TokenConfig from
// a ServiceAccount token can do exactly what the Roles bound to that
// ServiceAccount allow; Cluster.Admin is in system:masters.
package k8stest
