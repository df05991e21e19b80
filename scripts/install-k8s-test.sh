#!/usr/bin/env bash
# Builds the Kubernetes control plane the k8s integration tests start
# (test/k8s/k8stest): kube-apiserver and kube-controller-manager v1.37.2 from
# the module in test/k8s/tools, and kine v0.17.5 (sqlite, cgo) in place of
# etcd. Everything comes from the Go module proxy; nothing lands in the repo.
#
# Installs into $TUSK_K8S_BIN, default $HOME/.cache/tusk-test/k8s-v1.37.2/bin,
# the directory k8stest.Start reads. Idempotent: a binary that is present,
# runs `--version`, and was built from the expected module version is kept.
# Each binary is built in a temporary directory next to its destination and
# renamed into place, so an interrupted build never leaves half a binary.
# Concurrent runs serialize on a lock file. Cold build: about 20 min on 2
# cores; a warm run takes a second.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

kube_version=v1.37.2
kine_version=v0.17.5
bin="${TUSK_K8S_BIN:-${HOME}/.cache/tusk-test/k8s-${kube_version}/bin}"
tools="${ROOT}/test/k8s/tools"

command -v go >/dev/null 2>&1 || { echo "install-k8s-test: go is not on PATH" >&2; exit 1; }
mkdir -p "${bin}"
exec 9>"${bin}/.install.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi

start=${SECONDS}
tmp=$(mktemp -d "${bin}/.build.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT

# ok NAME MODULE VERSION: the installed NAME runs and was built from MODULE at
# VERSION (as the main module or as a dependency, per `go version -m`).
ok() {
	local b="${bin}/$1"
	[ -x "${b}" ] || return 1
	"${b}" --version >/dev/null 2>&1 || return 1
	go version -m "${b}" 2>/dev/null | awk -v m="$2" -v v="$3" \
		'($1 == "mod" || $1 == "dep") && $2 == m && $3 == v { found = 1 } END { exit !found }'
}

# install NAME: renames the freshly built ${tmp}/NAME into place after
# checking that it runs.
install() {
	"${tmp}/$1" --version >/dev/null 2>&1 || {
		echo "install-k8s-test: built $1 does not run --version" >&2
		exit 1
	}
	mv -f "${tmp}/$1" "${bin}/$1"
}

for cmd in kube-apiserver kube-controller-manager; do
	if ok "${cmd}" k8s.io/kubernetes "${kube_version}"; then
		echo "${cmd} ${kube_version}: present"
		continue
	fi
	t0=${SECONDS}
	echo "building ${cmd} ${kube_version} (cold: several minutes)"
	(cd "${tools}" && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=${kube_version}" \
		-o "${tmp}/${cmd}" "k8s.io/kubernetes/cmd/${cmd}")
	install "${cmd}"
	echo "built ${cmd} in $((SECONDS - t0)) s"
done

if ok kine github.com/k3s-io/kine "${kine_version}"; then
	echo "kine ${kine_version}: present"
else
	t0=${SECONDS}
	echo "building kine ${kine_version} (cgo, sqlite)"
	# Outside the repo so that neither module's go.mod is consulted.
	(cd "${tmp}" && GOBIN="${tmp}" CGO_ENABLED=1 GOFLAGS=-buildvcs=false \
		go install "github.com/k3s-io/kine@${kine_version}")
	install kine
	echo "built kine in $((SECONDS - t0)) s"
fi

echo "k8s test binaries ready in ${bin} ($((SECONDS - start)) s)"
