# test/lib/clients.sh: where the shell test scripts (test/clients.sh,
# test/conformance/run.sh) find the S3 clients they drive. Source it.
#
# Two generations of each Python client are checked, and both are required:
#   - Debian's: /usr/bin/aws (aws CLI v2, package awscli) and /usr/bin/python3
#     with boto3 1.26 (package python3-boto3), installed by
#     scripts/install-test-deps.sh;
#   - the machine image's pip ones under pyenv: the aws CLI v1 and a python3
#     with boto3 1.43. They cannot be installed here (pip reaches no package
#     index), so scripts/install-test-deps.sh only checks them.
# A missing client is reported as a failed check, never skipped.

PYENV_SHIMS=${PYENV_ROOT:-$HOME/.pyenv}/shims

# second_tool NAME: the NAME that is not Debian's /usr/bin/NAME: the first
# other one on PATH, else pyenv's shim. Prints nothing when there is none.
second_tool() {
	local name=$1 p
	while IFS= read -r p; do
		if [[ -x $p && $(realpath "$p") != $(realpath "/usr/bin/$name" 2>/dev/null) ]]; then
			echo "$p"
			return
		fi
	done < <(type -aP "$name"; echo "$PYENV_SHIMS/$name")
}

# has_boto3 PYTHON: PYTHON imports boto3.
has_boto3() { "$1" -c 'import boto3' >/dev/null 2>&1; }
