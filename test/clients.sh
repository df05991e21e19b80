#!/usr/bin/env bash
# test/clients.sh: drive a fresh Tusk gateway with the real S3 clients found on
# this machine (aws CLI v2 and v1, boto3 1.26 and 1.43, s3cmd, rclone) and check
# every answer byte for byte.
#
#   bash test/clients.sh            # from the repo root, after `make build`
#   TUSK_BIN=/path/to/tusk bash test/clients.sh
#   KEEP_TMP=1 bash test/clients.sh # keep the temp dir (server log, configs)
#
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M failed";
# exits non-zero when any check failed. Every client is required: a missing
# one is a failed check, not a skip (test/lib/clients.sh says where each comes
# from; scripts/install-test-deps.sh installs or checks them).
# Traps (docs: /work/shared/notes/s3-clients.md): AWS_CA_BUNDLE breaks rclone,
# the pyenv aws v1 shadows /usr/bin/aws (v2), boto3 needs 127.0.0.1 (not
# localhost) for path-style, and Debian's awscrt breaks botocore 1.43 uploads.
#
# The default aws profile sets multipart_threshold = 5GB so that one 20 MiB
# `aws s3 cp` is a single PUT; the `mpu` profile keeps the CLI's default
# 8 MiB threshold, so the same file also goes up as a multipart upload.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/gateway.sh
source "$ROOT/test/lib/gateway.sh"
# shellcheck source=/dev/null
source "$ROOT/test/lib/tap.sh"
# shellcheck source=lib/clients.sh
source "$ROOT/test/lib/clients.sh"
TUSK_BIN=${TUSK_BIN:-bin/tusk}
if [[ $TUSK_BIN != /* ]]; then
	if [[ -x $TUSK_BIN ]]; then TUSK_BIN=$(pwd)/$TUSK_BIN; else TUSK_BIN=$ROOT/$TUSK_BIN; fi
fi
if [[ ! -x $TUSK_BIN ]]; then
	echo "clients.sh: gateway binary $TUSK_BIN not found: run make build (or set TUSK_BIN)" >&2
	exit 2
fi
cd "$ROOT"
HERE=$ROOT/test/clients
START=$SECONDS

for tool in /usr/bin/aws /usr/bin/python3 s3cmd rclone curl timeout sha256sum cmp diff; do
	if ! command -v "$tool" >/dev/null; then
		echo "clients.sh: $tool is missing: run bash scripts/install-test-deps.sh" >&2
		exit 2
	fi
done

# The environment must not leak real credentials, profiles, CA bundles or
# endpoints into the clients.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(AWS_|RCLONE_|S3CMD_)' || true)
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export BOTO_DISABLE_CRT=true AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""

T=$(mktemp -d "${TMPDIR:-/tmp}/tusk-clients.XXXXXX")
SPID=""
cleanup() {
	local rc=$?
	stop_server
	if [[ ${KEEP_TMP:-} == 1 ]]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$T/state" "$T/work"
LOG=$T/server.log
AK=TKCLI$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
SK=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export TUSK_TEST_ACCESS_KEY=$AK TUSK_TEST_SECRET_KEY=$SK

ME=clients.sh
PY=/usr/bin/python3
start_server
echo "# gateway $TUSK_BIN on $EP, data dir $T/data"

# ---------------------------------------------------------------- configs
export AWS_CONFIG_FILE=$T/aws.config AWS_SHARED_CREDENTIALS_FILE=$T/aws.credentials
cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = us-east-1
output = json
cli_pager =
max_attempts = 1
retry_mode = standard
s3 =
  addressing_style = path
  multipart_threshold = 5GB
  max_concurrent_requests = 8

[profile mpu]
region = us-east-1
output = json
cli_pager =
max_attempts = 1
s3 =
  addressing_style = path
EOF
cat >"$AWS_SHARED_CREDENTIALS_FILE" <<EOF
[default]
aws_access_key_id = $AK
aws_secret_access_key = $SK

[mpu]
aws_access_key_id = $AK
aws_secret_access_key = $SK
EOF
cat >"$T/s3cmd.cfg" <<EOF
[default]
access_key = $AK
secret_key = $SK
host_base = 127.0.0.1:$PORT
host_bucket = 127.0.0.1:$PORT
bucket_location = us-east-1
use_https = False
signature_v2 = False
check_ssl_certificate = False
socket_timeout = 30
progress_meter = False
EOF
cat >"$T/rclone.conf" <<EOF
[tusk]
type = s3
provider = Other
access_key_id = $AK
secret_access_key = $SK
endpoint = $EP
region = us-east-1
force_path_style = true
EOF

aws2() { timeout -k 5 120 /usr/bin/aws --endpoint-url "$EP" --cli-read-timeout 20 --cli-connect-timeout 5 "$@"; }
s3c() { timeout -k 5 120 s3cmd -c "$T/s3cmd.cfg" "$@"; }
rcl() {
	timeout -k 5 120 rclone --config "$T/rclone.conf" --retries 1 --low-level-retries 2 \
		--contimeout 5s --timeout 60s --transfers 4 --checkers 8 "$@"
}

# ---------------------------------------------------------------- harness
PASS=0
FAIL=0
SKIP=0
# log_tail [FROM_LINE]: the server log's error answers (status >= 400, or
# not level info) since FROM_LINE, and its last lines.
log_tail() {
	local from=${1:-1}
	if ! server_alive; then echo "#   !! the gateway process is gone"; fi
	echo "#   -- server log, errors since the check started (last 10):"
	tail -n "+$from" "$LOG" | grep -E '"status":[45][0-9][0-9]|"level":"(warn|error|fatal|panic)"|panic|goroutine ' |
		tail -n 10 | cut -c1-500 | sed 's/^/#   | /' || true
	echo "#   -- server log, last 4 lines:"
	tail -n 4 "$LOG" | cut -c1-500 | sed 's/^/#   | /'
}
log_lines() { echo $(($(wc -l <"$LOG") + 1)); }
bc_sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
# check DESC FUNC ARGS...: runs FUNC in a subshell with errexit on; it
# passes when FUNC returns 0. Output is shown only on failure.
check() {
	local desc=$1 rc out=$T/check.out t0=$EPOCHREALTIME took l0
	l0=$(log_lines)
	shift
	set +e
	(set -e; "$@") >"$out" 2>&1
	rc=$?
	set -e
	took=$(LC_ALL=C printf '%.1fs' "$(bc_sub "$EPOCHREALTIME" "$t0")")
	if ((rc == 0)); then
		PASS=$((PASS + 1))
		echo "ok - $desc ($took)"
	else
		FAIL=$((FAIL + 1))
		echo "not ok - $desc (exit $rc, $took)"
		tail -n 25 "$out" | cut -c1-400 | sed 's/^/#   /'
		log_tail "$l0"
	fi
}
# missing WHAT: a client that is not here counts as a failed check.
missing() {
	FAIL=$((FAIL + 1))
	echo "not ok - $* (run bash scripts/install-test-deps.sh)"
}
# run_tap LABEL CMD...: runs a command that prints its own ok/not ok lines
# (the boto3 checks) and counts them; a crash counts as one failure.
run_tap() {
	local label=$1 rc out=$T/tap.out t0=$EPOCHREALTIME l0
	l0=$(log_lines)
	shift
	set +e
	"$@" >"$out" 2>&1
	rc=$?
	set -e
	tap_count "$out" "$rc" "$label"
	if ((rc != 0)); then log_tail "$l0"; fi
	echo "# $label: $(LC_ALL=C printf '%.1fs' "$(bc_sub "$EPOCHREALTIME" "$t0")")"
}

fail() { echo "FAIL: $*" >&2; return 1; }
same() { # same FILE1 FILE2: byte-equal
	cmp -s "$1" "$2" || fail "$1 and $2 differ: $(sha256sum "$1" | cut -c1-16) vs $(sha256sum "$2" | cut -c1-16), sizes $(stat -c %s "$1") vs $(stat -c %s "$2")"
}
eq() { # eq GOT WANT WHAT
	[[ $1 == "$2" ]] || fail "$3: expected [$2], got [$1]"
}
has() { # has TEXT NEEDLE WHAT
	[[ $1 == *"$2"* ]] || fail "$3: [$2] not found in: $1"
}
hasnt() {
	[[ $1 != *"$2"* ]] || fail "$3: [$2] unexpectedly found in: $1"
}
# jx PYEXPR: evaluate PYEXPR over the JSON document d read from stdin (the
# aws CLI's output); lists print space-separated, booleans as true/false,
# None as nothing.
jx() {
	/usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read() or "{}")
def f(v):
    if isinstance(v, bool): return str(v).lower()
    if v is None: return ""
    if isinstance(v, tuple): return "(" + " ".join(f(x) for x in v) + ")"
    return str(v)
r = eval(sys.argv[1])
print(" ".join(f(x) for x in r) if isinstance(r, list) else f(r))' "$1"
}
put_state() { printf '%s' "$2" >"$T/state/$1"; }
get_state() { cat "$T/state/$1"; }
md5of() { md5sum "$1" | cut -d' ' -f1; }
# expect_missing BUCKET KEY: head-object answers 404
expect_missing() {
	local out
	if out=$(aws2 s3api head-object --bucket "$1" --key "$2" 2>&1); then
		fail "head-object $1/$2 succeeded, expected 404: $out"
	fi
	has "$out" "404" "head-object $1/$2"
}
# tree_list DIR: the relative file paths under DIR, sorted
tree_list() { (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort); }

# ---------------------------------------------------------------- fixtures
W=$T/work
head -c 1234 /dev/urandom >"$W/small.bin"
: >"$W/empty.bin"
head -c $((20 << 20)) /dev/urandom >"$W/big.bin"
printf 'version one\n' >"$W/v1.txt"
printf 'version two, longer\n' >"$W/v2.txt"
/usr/bin/python3 "$HERE/mktree.py" "$W/tree" 300 1
/usr/bin/python3 "$HERE/mktree.py" "$W/rtree" 300 2 --odd
NTREE=$(tree_list "$W/tree" | wc -l)
echo "# fixtures: tree of $NTREE files, rclone tree of $(tree_list "$W/rtree" | wc -l) files, 20 MiB file"

# ================================================================ awscli v2
echo "# aws CLI v2: $(/usr/bin/aws --version 2>&1)"
B=awscli

t_mb() {
	local out
	out=$(aws2 s3 mb "s3://$B")
	has "$out" "make_bucket: $B" "mb output"
	out=$(aws2 s3 ls)
	has "$out" " $B" "aws s3 ls (bucket list)"
}
check "awscli v2: s3 mb s3://$B, listed by s3 ls" t_mb

t_cp_small() {
	aws2 s3 cp "$W/small.bin" "s3://$B/small.bin"
	aws2 s3 cp "$W/empty.bin" "s3://$B/empty.bin"
	aws2 s3 cp "$W/small.bin" "s3://$B/dir/nested.bin"
	aws2 s3 cp "s3://$B/small.bin" "$W/small.down"
	aws2 s3 cp "s3://$B/empty.bin" "$W/empty.down"
	aws2 s3 cp "s3://$B/dir/nested.bin" "$W/nested.down"
	same "$W/small.bin" "$W/small.down"
	same "$W/empty.bin" "$W/empty.down"
	same "$W/small.bin" "$W/nested.down"
}
check "awscli v2: s3 cp small and empty files up and down" t_cp_small

t_cp_big() {
	aws2 s3 cp "$W/big.bin" "s3://$B/big.bin"
	aws2 s3 cp "s3://$B/big.bin" "$W/big.down"
	same "$W/big.bin" "$W/big.down"
}
check "awscli v2: s3 cp 20 MiB file up and down (single PUT, multipart_threshold=5GB)" t_cp_big

t_cp_mpu() {
	aws2 --profile mpu s3 cp "$W/big.bin" "s3://$B/big-mpu.bin"
	aws2 --profile mpu s3 cp "s3://$B/big-mpu.bin" "$W/big-mpu.down"
	same "$W/big.bin" "$W/big-mpu.down"
}
check "awscli v2: s3 cp 20 MiB file with multipart (8 MiB threshold)" t_cp_mpu

t_ls() {
	local out
	out=$(aws2 s3 ls "s3://$B/")
	has "$out" "PRE dir/" "ls s3://$B/"
	has "$out" " 1234 small.bin" "ls s3://$B/"
	has "$out" " 20971520 big.bin" "ls s3://$B/"
	has "$out" " 0 empty.bin" "ls s3://$B/"
	hasnt "$out" "nested.bin" "ls s3://$B/ (not recursive)"
	out=$(aws2 s3 ls "s3://$B/dir/")
	has "$out" " 1234 nested.bin" "ls s3://$B/dir/"
	out=$(aws2 s3 ls --recursive "s3://$B")
	eq "$(awk '{print $4}' <<<"$out" | LC_ALL=C sort | tr '\n' ' ')" "big-mpu.bin big.bin dir/nested.bin empty.bin small.bin " "ls --recursive keys"
}
check "awscli v2: s3 ls and s3 ls --recursive" t_ls

t_sync_up() {
	if ! aws2 s3 sync --no-progress "$W/tree" "s3://$B/tree" >"$T/sync.out" 2>&1; then
		grep -v '^upload: ' "$T/sync.out" | tail -n 10
		echo "hint: a read timeout on a PUT after the empty file's (d5/f0005.bin) on the same connection is botocore#3755,"
		echo "      triggered by answering 'Expect: 100-continue' + 'Content-Length: 0' without '100 Continue' first"
		return 1
	fi
	local n
	n=$(aws2 s3 ls --recursive "s3://$B/tree/" | wc -l)
	eq "$n" "$NTREE" "keys under tree/ after sync"
}
check "awscli v2: s3 sync of a $NTREE-file nested tree up" t_sync_up

t_sync_down() {
	aws2 s3 sync --no-progress "s3://$B/tree" "$W/tree.down" >/dev/null
	diff -r "$W/tree" "$W/tree.down"
}
check "awscli v2: s3 sync down, diff -r equal" t_sync_down

t_sync_noop() {
	local out
	out=$(aws2 s3 sync --no-progress "$W/tree" "s3://$B/tree")
	eq "$out" "" "second sync up (nothing changed) output"
	out=$(aws2 s3 sync --no-progress "s3://$B/tree" "$W/tree.down")
	eq "$out" "" "second sync down (nothing changed) output"
}
check "awscli v2: s3 sync again up and down transfers nothing" t_sync_noop

# ---- s3api: versions
t_put_v1() {
	local out vid etag
	out=$(aws2 s3api put-object --bucket "$B" --key ver/obj --body "$W/v1.txt")
	vid=$(jx 'd.get("VersionId")' <<<"$out")
	etag=$(jx 'd.get("ETag")' <<<"$out")
	[[ $vid =~ ^[0-9a-f]{12,64}$ ]] || fail "put-object VersionId [$vid] is not a commit id: $out"
	eq "$etag" "\"$(md5of "$W/v1.txt")\"" "put-object ETag"
	put_state v1 "$vid"
	out=$(aws2 s3api put-object --bucket "$B" --key ver/obj --body "$W/v2.txt")
	vid=$(jx 'd.get("VersionId")' <<<"$out")
	[[ -n $vid && $vid != "$(get_state v1)" ]] || fail "second put-object VersionId [$vid] not new: $out"
	put_state v2 "$vid"
}
check "awscli v2: s3api put-object returns VersionId (commit) and ETag" t_put_v1

t_get_old() {
	local out
	out=$(aws2 s3api get-object --bucket "$B" --key ver/obj --version-id "$(get_state v1)" "$W/old.down")
	same "$W/v1.txt" "$W/old.down"
	eq "$(jx 'd.get("VersionId")' <<<"$out")" "$(get_state v1)" "get-object --version-id v1: VersionId"
	out=$(aws2 s3api get-object --bucket "$B" --key ver/obj "$W/new.down")
	same "$W/v2.txt" "$W/new.down"
	eq "$(jx 'd.get("VersionId")' <<<"$out")" "$(get_state v2)" "get-object (latest): VersionId"
}
check "awscli v2: s3api get-object --version-id of the old version returns old bytes" t_get_old

t_head() {
	local out
	out=$(aws2 s3api head-object --bucket "$B" --key ver/obj)
	eq "$(jx 'd.get("ContentLength")' <<<"$out")" "$(stat -c %s "$W/v2.txt")" "head-object ContentLength"
	eq "$(jx 'd.get("ETag")' <<<"$out")" "\"$(md5of "$W/v2.txt")\"" "head-object ETag"
	eq "$(jx 'd.get("VersionId")' <<<"$out")" "$(get_state v2)" "head-object VersionId"
	[[ $(jx 'd.get("LastModified")' <<<"$out") != "" ]] || fail "head-object has no LastModified: $out"
	out=$(aws2 s3api head-object --bucket "$B" --key ver/obj --version-id "$(get_state v1)")
	eq "$(jx 'd.get("ContentLength")' <<<"$out")" "$(stat -c %s "$W/v1.txt")" "head-object --version-id v1 ContentLength"
	expect_missing "$B" ver/nope
}
check "awscli v2: s3api head-object (latest, --version-id, missing key 404)" t_head

t_versioning() {
	local out
	out=$(aws2 s3api get-bucket-versioning --bucket "$B")
	eq "$(jx 'd.get("Status")' <<<"$out")" "Enabled" "get-bucket-versioning Status"
}
check "awscli v2: s3api get-bucket-versioning = Enabled" t_versioning

t_delete_marker() {
	local out dm
	out=$(aws2 s3api delete-object --bucket "$B" --key ver/obj)
	eq "$(jx 'd.get("DeleteMarker")' <<<"$out")" "true" "delete-object DeleteMarker"
	dm=$(jx 'd.get("VersionId")' <<<"$out")
	[[ -n $dm ]] || fail "delete-object returned no VersionId: $out"
	put_state dm "$dm"
	expect_missing "$B" ver/obj
	out=$(aws2 s3api list-object-versions --bucket "$B" --prefix ver/obj)
	eq "$(jx '[v["VersionId"] for v in d.get("Versions", [])]' <<<"$out")" "$(get_state v2) $(get_state v1)" "Versions"
	eq "$(jx '[v["IsLatest"] for v in d.get("Versions", [])]' <<<"$out")" "false false" "Versions IsLatest"
	eq "$(jx '[(m["Key"], m["VersionId"], m["IsLatest"]) for m in d.get("DeleteMarkers", [])]' <<<"$out")" \
		"(ver/obj $dm true)" "DeleteMarkers"
}
check "awscli v2: s3api delete-object makes a delete marker; list-object-versions shows it" t_delete_marker

t_restore() {
	local out
	aws2 s3api delete-object --bucket "$B" --key ver/obj --version-id "$(get_state dm)" >"$T/restore.out"
	aws2 s3api get-object --bucket "$B" --key ver/obj "$W/restored.down" >/dev/null
	same "$W/v2.txt" "$W/restored.down"
	out=$(aws2 s3api list-object-versions --bucket "$B" --prefix ver/obj)
	eq "$(jx 'len([v for v in d.get("Versions", []) if v["IsLatest"]])' <<<"$out")" "1" "one latest version after restore"
}
check "awscli v2: s3api delete-object --version-id of the delete marker restores" t_restore

t_branch() {
	local out
	out=$(aws2 s3api create-bucket --bucket "dev.$B")
	aws2 s3api put-object --bucket "dev.$B" --key devonly.txt --body "$W/v1.txt" >/dev/null
	aws2 s3api get-object --bucket "dev.$B" --key devonly.txt "$W/devonly.down" >/dev/null
	same "$W/v1.txt" "$W/devonly.down"
	expect_missing "$B" devonly.txt
	# the branch starts at main's head
	aws2 s3api get-object --bucket "dev.$B" --key ver/obj "$W/devver.down" >/dev/null
	same "$W/v2.txt" "$W/devver.down"
}
check "awscli v2: create-bucket dev.$B makes a branch; a put there is not visible on main" t_branch

t_copy() {
	local out
	out=$(aws2 s3api copy-object --bucket "dev.$B" --key copied.txt --copy-source "$B/ver/obj")
	[[ -n $(jx 'd.get("VersionId")' <<<"$out") ]] || fail "copy-object returned no VersionId: $out"
	aws2 s3api get-object --bucket "dev.$B" --key copied.txt "$W/copied.down" >/dev/null
	same "$W/v2.txt" "$W/copied.down"
	expect_missing "$B" copied.txt
	aws2 s3api copy-object --bucket "dev.$B" --key copied-v1.txt \
		--copy-source "$B/ver/obj?versionId=$(get_state v1)" >/dev/null
	aws2 s3api get-object --bucket "dev.$B" --key copied-v1.txt "$W/copied-v1.down" >/dev/null
	same "$W/v1.txt" "$W/copied-v1.down"
}
check "awscli v2: s3api copy-object from main to dev (latest and ?versionId=)" t_copy

t_rm() {
	local out
	aws2 s3 rm "s3://$B/small.bin" >/dev/null
	expect_missing "$B" small.bin
	out=$(aws2 s3 rm --recursive "s3://$B/tree/")
	eq "$(grep -c '^delete: ' <<<"$out")" "$NTREE" "delete lines from rm --recursive"
	out=$(aws2 s3api list-objects-v2 --no-paginate --bucket "$B" --prefix tree/)
	eq "$(jx 'd.get("KeyCount")' <<<"$out")" "0" "keys left under tree/"
	out=$(aws2 s3 ls "s3://$B/")
	hasnt "$out" "small.bin" "ls after rm"
	hasnt "$out" "tree/" "ls after rm --recursive"
	has "$out" "big.bin" "ls after rm"
}
check "awscli v2: s3 rm and s3 rm --recursive" t_rm

# ================================================================ odd keys
OB=oddkeys
ODD_KEYS=(a a/ a/b a//b x/../y)
t_odd() {
	local k i=0 out
	aws2 s3api create-bucket --bucket "$OB" >/dev/null
	for k in "${ODD_KEYS[@]}"; do
		printf 'body of key [%s]\n' "$k" >"$W/odd.$i"
		aws2 s3api put-object --bucket "$OB" --key "$k" --body "$W/odd.$i" >/dev/null
		i=$((i + 1))
	done
	i=0
	for k in "${ODD_KEYS[@]}"; do
		aws2 s3api get-object --bucket "$OB" --key "$k" "$W/odd.$i.down" >/dev/null ||
			fail "get-object key [$k] failed"
		same "$W/odd.$i" "$W/odd.$i.down" || fail "get-object key [$k]: wrong bytes: $(cat "$W/odd.$i.down")"
		i=$((i + 1))
	done
	out=$(aws2 s3api list-objects-v2 --bucket "$OB")
	eq "$(jx '[o["Key"] for o in d.get("Contents", [])]' <<<"$out")" "a a/ a//b a/b x/../y" "listed keys"
	eq "$(jx '[o["Size"] for o in d.get("Contents", [])]' <<<"$out")" "$(for i in 0 1 3 2 4; do stat -c %s "$W/odd.$i"; done | tr '\n' ' ' | sed 's/ $//')" "listed sizes"
	out=$(aws2 s3api list-objects-v2 --bucket "$OB" --prefix a/ --delimiter /)
	eq "$(jx '[o["Key"] for o in d.get("Contents", [])]' <<<"$out")" "a/ a/b" "list prefix a/ delimiter /: keys"
	eq "$(jx '[c["Prefix"] for c in d.get("CommonPrefixes", [])]' <<<"$out")" "a//" "list prefix a/ delimiter /: prefixes"
}
check "awscli v2: odd keys a, a/, a/b, a//b, x/../y round-trip through put/get/list" t_odd

# ================================================================ aws CLI v1 (pyenv)
V1=$(second_tool aws)
if [[ -n $V1 ]] && V1VER=$("$V1" --version 2>&1); then
	echo "# aws CLI (PATH, $V1): $V1VER"
	aws1() { timeout -k 5 120 "$V1" --endpoint-url "$EP" --cli-read-timeout 20 --cli-connect-timeout 5 "$@"; }
	t_v1() {
		local out
		aws1 s3 mb s3://awsv1 >/dev/null
		aws1 s3 cp "$W/small.bin" s3://awsv1/small.bin
		aws1 s3 cp "$W/big.bin" s3://awsv1/sub/big.bin
		aws1 s3 cp s3://awsv1/small.bin "$W/v1small.down"
		aws1 s3 cp s3://awsv1/sub/big.bin "$W/v1big.down"
		same "$W/small.bin" "$W/v1small.down"
		same "$W/big.bin" "$W/v1big.down"
		out=$(aws1 s3 ls s3://awsv1/)
		has "$out" " 1234 small.bin" "ls"
		has "$out" "PRE sub/" "ls"
		out=$(aws1 s3 ls --recursive s3://awsv1/)
		eq "$(awk '{print $4}' <<<"$out" | LC_ALL=C sort | tr '\n' ' ')" "small.bin sub/big.bin " "ls --recursive keys"
	}
	check "aws CLI v1 (${V1VER%% *}): s3 mb, cp up/down (1 KiB, 20 MiB), ls" t_v1
else
	missing "aws CLI v1: no aws but /usr/bin/aws (v2) on PATH or in $PYENV_SHIMS, or it does not run: ${V1VER:-}"
fi

# ================================================================ boto3
run_tap "boto3 (/usr/bin/python3)" timeout -k 5 150 /usr/bin/python3 "$HERE/boto3_check.py" "$EP" boto3-deb "boto3 /usr/bin/python3"
PY=$(second_tool python3)
if [[ -n $PY ]] && has_boto3 "$PY"; then
	run_tap "boto3 ($PY)" timeout -k 5 150 "$PY" "$HERE/boto3_check.py" "$EP" boto3-pyenv "boto3 $PY"
else
	missing "boto3 with a second python3 (pyenv): ${PY:-no python3 but /usr/bin/python3 on PATH or in $PYENV_SHIMS} cannot import boto3"
fi

# ================================================================ s3cmd
echo "# s3cmd: $(s3cmd --version 2>&1)"
SB=s3cmd
t_s3cmd_basic() {
	local out
	out=$(s3c mb "s3://$SB")
	has "$out" "s3://$SB/" "mb"
	s3c put "$W/small.bin" "s3://$SB/small.bin" >/dev/null
	s3c put "$W/v1.txt" "s3://$SB/dir/v1.txt" >/dev/null
	s3c get --force "s3://$SB/small.bin" "$W/s3cmd.small.down" >/dev/null
	same "$W/small.bin" "$W/s3cmd.small.down"
	out=$(s3c ls "s3://$SB")
	has "$out" "s3://$SB/small.bin" "ls"
	has "$out" "DIR  s3://$SB/dir/" "ls"
	out=$(s3c ls)
	has "$out" "s3://$SB" "ls (buckets)"
}
check "s3cmd: mb (new repo), put, get, ls" t_s3cmd_basic

t_s3cmd_sync() {
	local n
	s3c sync --no-preserve "$W/tree/" "s3://$SB/tree/" >/dev/null
	n=$(s3c ls -r "s3://$SB/tree/" | wc -l)
	eq "$n" "$NTREE" "keys under tree/"
	s3c sync "s3://$SB/tree/" "$W/s3cmd.tree.down/" >/dev/null
	diff -r "$W/tree" "$W/s3cmd.tree.down"
}
check "s3cmd: sync of the $NTREE-file tree up (and down, diff -r)" t_s3cmd_sync

t_s3cmd_info() {
	local out
	out=$(s3c info "s3://$SB/small.bin")
	has "$out" "File size: 1234" "info object"
	has "$out" "MD5 sum:   $(md5of "$W/small.bin")" "info object"
	out=$(s3c info "s3://$SB")
	has "$out" "s3://$SB/ (bucket)" "info bucket"
}
check "s3cmd: info of an object and of the bucket" t_s3cmd_info

t_s3cmd_del() {
	local out
	s3c del "s3://$SB/small.bin" >/dev/null
	out=$(s3c ls "s3://$SB")
	hasnt "$out" "small.bin" "ls after del"
	s3c del --recursive --force "s3://$SB/tree/" >/dev/null
	out=$(s3c ls -r "s3://$SB/tree/")
	eq "$out" "" "ls -r tree/ after del --recursive"
}
check "s3cmd: del and del --recursive" t_s3cmd_del

# ================================================================ rclone
echo "# rclone: $(rclone version 2>&1 | head -n1)"
R=tusk:rclone/tree
t_rclone_copy() {
	rcl copy "$W/rtree" "$R"
	rcl check "$W/rtree" "$R"
}
check "rclone: copy of a $(tree_list "$W/rtree" | wc -l)-file tree (spaces, unicode), rclone check" t_rclone_copy

t_rclone_lsf() {
	diff <(tree_list "$W/rtree") <(rcl lsf -R --files-only "$R" | LC_ALL=C sort)
}
check "rclone: lsf -R lists exactly the local files" t_rclone_lsf

t_rclone_sync() {
	local out
	# nothing changed: sync transfers nothing
	out=$(rcl sync -v "$W/rtree" "$R" 2>&1)
	has "$out" "There was nothing to transfer" "unchanged sync -v output"
	! grep -E 'Copied|Updated|Deleted' <<<"$out" || fail "unchanged sync changed files: $out"
	# change content (same size and new size), delete, add
	head -c 100 /dev/urandom | dd of="$W/rtree/d0/f0007.bin" conv=notrunc status=none
	head -c 777 /dev/urandom >"$W/rtree/d1/s1/f0001.bin"
	head -c 50 /dev/urandom >>"$W/rtree/ünïcödé/naïve café.txt"
	printf 'changed\n' >"$W/rtree/with space.txt"
	rm "$W/rtree/f0000.bin" "$W/rtree/d2/s2/f0002.bin" "$W/rtree/emoji/✓ done.txt"
	rmdir "$W/rtree/emoji"
	mkdir -p "$W/rtree/new dir/ß"
	printf 'new one\n' >"$W/rtree/new dir/ß/neu.txt"
	head -c 3000 /dev/urandom >"$W/rtree/d3/new.bin"
	rcl sync "$W/rtree" "$R"
	rcl check "$W/rtree" "$R"
	diff <(tree_list "$W/rtree") <(rcl lsf -R --files-only "$R" | LC_ALL=C sort)
	rcl copy "$R" "$W/rtree.down"
	diff -r "$W/rtree" "$W/rtree.down"
}
check "rclone: sync after local changes (edit, delete, add), rclone check, copy down + diff -r" t_rclone_sync

# ================================================================ summary
echo "# runtime $((SECONDS - START))s"
if ! server_alive; then
	echo "not ok - gateway still running at the end"
	FAIL=$((FAIL + 1))
	log_tail 1
fi
echo "$PASS passed, $FAIL failed"
((FAIL == 0))
