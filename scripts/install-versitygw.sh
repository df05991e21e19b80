#!/usr/bin/env bash
# Installs versitygw v1.8.0, the S3 server the blob/s3 tests run against,
# into $HOME/.cache/tusk-test/versitygw-v1.8.0 unless it is already there.
# Idempotent. Prints the binary's path. Needs Go and network access to the
# Go module proxy the first time.
set -euo pipefail

version=v1.8.0
dir="${HOME}/.cache/tusk-test/versitygw-${version}"
bin="${dir}/versitygw"

if [ ! -x "${bin}" ]; then
	mkdir -p "${dir}"
	echo "installing versitygw ${version} into ${dir}" >&2
	GOBIN="${dir}" go install "github.com/versity/versitygw/cmd/versitygw@${version}"
fi
if [ ! -x "${bin}" ]; then
	echo "install-versitygw: ${bin} is missing after go install" >&2
	exit 1
fi
echo "${bin}"
