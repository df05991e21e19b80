# test/lib/tap.sh: count the "ok - " / "not ok - " / "# skip - " lines a
# check script printed (test/clients.sh, test/conformance/run.sh).
# Source it; the caller sets PASS, FAIL and SKIP to 0 first.

# tap_count OUT RC LABEL: echoes OUT's lines (anything else indented as a
# comment), adds them to PASS, FAIL, SKIP, and counts a non-zero RC without a
# "not ok" line as one failure.
tap_count() {
	local out=$1 rc=$2 label=$3 line
	while IFS= read -r line; do
		case $line in
		"ok - "*) PASS=$((PASS + 1)); echo "$line" ;;
		"not ok - "*) FAIL=$((FAIL + 1)); echo "$line" ;;
		"# skip - "*) SKIP=$((SKIP + 1)); echo "$line" ;;
		"#"*) echo "$line" ;;
		*) echo "#   $line" ;;
		esac
	done <"$out"
	if ((rc != 0)) && ! grep -q '^not ok - ' "$out"; then
		FAIL=$((FAIL + 1))
		echo "not ok - $label: exited $rc without reporting a failed check"
	fi
}
