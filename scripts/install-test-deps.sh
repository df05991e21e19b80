#!/usr/bin/env bash
# Installs the real S3 clients the tests drive, only when missing, and checks
# the ones it cannot install. Idempotent. Fails (non-zero, saying what is
# missing) rather than leaving a test to skip.
#
# From Debian (apt): the aws CLI v2 (/usr/bin/aws, awscli), boto3 1.26 for
# /usr/bin/python3 (python3-boto3), s3cmd, rclone, curl.
# From the machine image: the aws CLI v1 and a second python3 with boto3 1.43,
# pip packages under pyenv (test/lib/clients.sh finds them). Only the Go
# module proxy, Debian and npm are reachable here, so pip cannot install them
# when they are missing: this script then tries pip once (it works where a
# package index is reachable) and fails with what to do.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../test/lib/clients.sh
source "$ROOT/test/lib/clients.sh"

need=()
command -v /usr/bin/aws >/dev/null 2>&1 || need+=(awscli)
/usr/bin/python3 -c 'import boto3' >/dev/null 2>&1 || need+=(python3-boto3)
command -v s3cmd >/dev/null 2>&1 || need+=(s3cmd)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v curl >/dev/null 2>&1 || need+=(curl)
# Debian's headless Chromium for the console's browser tests (test/console).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The pyenv clients: aws CLI v1 and boto3 for a python3 other than Debian's.
pip_need=()
aws1=$(second_tool aws)
[ -n "$aws1" ] && "$aws1" --version >/dev/null 2>&1 || pip_need+=(awscli)
py=$(second_tool python3)
[ -n "$py" ] && has_boto3 "$py" || pip_need+=(boto3)
if [ ${#pip_need[@]} -gt 0 ]; then
  echo "missing from the pyenv python: ${pip_need[*]}; trying pip" >&2
  if [ -z "$py" ] || ! "$py" -m pip install -q "${pip_need[@]}" >&2; then
    echo "install-test-deps: cannot install ${pip_need[*]} for the pyenv python3 (${py:-none found in $PYENV_SHIMS}):" >&2
    echo "  no package index is reachable; test/clients.sh and test/conformance/run.sh need the aws CLI v1" >&2
    echo "  and boto3 1.43 that the machine image ships under pyenv" >&2
    exit 1
  fi
  hash -r
  aws1=$(second_tool aws)
fi
echo "test clients present: aws v2 (/usr/bin/aws), boto3 $(/usr/bin/python3 -c 'import boto3; print(boto3.__version__)') (/usr/bin/python3), aws v1 ($aws1), boto3 $("$py" -c 'import boto3; print(boto3.__version__)') ($py), s3cmd, rclone"
echo "browser for test/console: $(chromium --version 2>/dev/null)"
