#!/usr/bin/env bash
# test/conformance/run.sh: S3 conformance with boto3 (test/conformance/versioning.py,
# then test/conformance/objects.py; shared helpers in conform.py) against a fresh
# `tusk serve`, the way test/clients.sh starts one: a temp data dir, a free port
# on 127.0.0.1, test keys via TUSK_TEST_ACCESS_KEY/SECRET_KEY.
# Builds nothing: uses bin/tusk (or $TUSK_BIN).
#
#   bash test/conformance/run.sh                 # from the repo root, after `make build`
#   TUSK_BIN=/path/to/tusk bash test/conformance/run.sh
#   CONFORMANCE_ONLY='DeleteObjects' bash test/conformance/run.sh   # checks whose name contains it
#   KEEP_TMP=1 bash test/conformance/run.sh      # keep the temp dir (server log)
#
# Runs the checks with the pyenv `python3` (boto3 1.43) and with /usr/bin/python3
# (Debian boto3 1.26); both are required (test/lib/clients.sh). Prints "ok - " /
# "not ok - " per check ("# skip - " for a check one boto3 cannot express: not
# counted as a pass, and a check that no boto3 ran is a failure), ends with
# "N passed, M failed, K skipped", exits non-zero when any failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/gateway.sh
source "$ROOT/test/lib/gateway.sh"
# shellcheck source=/dev/null
source "$ROOT/test/lib/tap.sh"
# shellcheck source=../lib/clients.sh
source "$ROOT/test/lib/clients.sh"
TUSK_BIN=${TUSK_BIN:-bin/tusk}
if [[ $TUSK_BIN != /* ]]; then
	if [[ -x $TUSK_BIN ]]; then TUSK_BIN=$(pwd)/$TUSK_BIN; else TUSK_BIN=$ROOT/$TUSK_BIN; fi
fi
if [[ ! -x $TUSK_BIN ]]; then
	echo "run.sh: gateway binary $TUSK_BIN not found: run make build (or set TUSK_BIN)" >&2
	exit 2
fi
cd "$ROOT"
HERE=$ROOT/test/conformance
START=$SECONDS

# No real credentials, profiles, CA bundles or endpoints leak into boto3.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^AWS_' || true)
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export BOTO_DISABLE_CRT=true AWS_EC2_METADATA_DISABLED=true

T=$(mktemp -d "${TMPDIR:-/tmp}/tusk-conformance.XXXXXX")
SPID=""
cleanup() {
	local rc=$?
	stop_server
	if [[ ${KEEP_TMP:-} == 1 ]]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOG=$T/server.log
AK=TKCNF$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
SK=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export TUSK_TEST_ACCESS_KEY=$AK TUSK_TEST_SECRET_KEY=$SK

PY=$(second_tool python3)
[[ -n $PY ]] || { echo "run.sh: no python3 but /usr/bin/python3 on PATH or in $PYENV_SHIMS: run bash scripts/install-test-deps.sh" >&2; exit 2; }
has_boto3 "$PY" || { echo "run.sh: $PY cannot import boto3: run bash scripts/install-test-deps.sh" >&2; exit 2; }
has_boto3 /usr/bin/python3 || { echo "run.sh: /usr/bin/python3 cannot import boto3 (Debian python3-boto3): run bash scripts/install-test-deps.sh" >&2; exit 2; }

ME=run.sh
start_server
echo "# gateway $TUSK_BIN on $EP, data dir $T/data"

PASS=0
FAIL=0
SKIP=0
# run_tap LABEL CMD...: runs a script printing its own ok/not ok lines and
# counts them; a crash counts as one failure.
ALL=$T/all.out
: >"$ALL"
run_tap() {
	local label=$1 rc out=$T/tap.out
	shift
	set +e
	"$@" >"$out" 2>&1
	rc=$?
	set -e
	tap_count "$out" "$rc" "$label"
	cat "$out" >>"$ALL"
}

SCRIPTS=(versioning.py objects.py buckets.py)
for py in "$PY" /usr/bin/python3; do
	for script in "${SCRIPTS[@]}"; do
		run_tap "boto3 ($py) $script" timeout -k 5 600 "$py" "$HERE/$script" "$EP" "boto3 $("$py" -c 'import boto3; print(boto3.__version__)')"
	done
done

# A check one boto3 cannot express must pass with the other: a check that
# every boto3 skipped tested nothing, and counts as a failure.
unran=$("$PY" - "$ALL" <<'PYEOF'
import re, sys
passed, skipped = set(), {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"ok - boto3 [^:]*: (.*) \([0-9.]+s\)$", line)
    if m:
        passed.add(m.group(1))
        continue
    m = re.match(r"# skip - boto3 [^:]*: (.*)$", line)
    if m:
        skipped[m.group(1)] = True
for rest in skipped:
    if not any(rest.startswith(desc + " (") for desc in passed):
        print(rest)
PYEOF
)
while IFS= read -r check; do
	[[ -n $check ]] || continue
	FAIL=$((FAIL + 1))
	echo "not ok - skipped by every boto3, so never checked: $check"
done <<<"$unran"

if ! server_alive; then
	echo "not ok - gateway still running at the end"
	FAIL=$((FAIL + 1))
	echo "#   server log tail:"; tail -n 20 "$LOG" | cut -c1-400 | sed 's/^/#   | /'
fi
echo "# runtime $((SECONDS - START))s"
echo "$PASS passed, $FAIL failed, $SKIP skipped"
((FAIL == 0))
