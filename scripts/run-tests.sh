#!/bin/sh
# Runs cmocka test binaries with TAP output and tallies them.
#   scripts/run-tests.sh LABEL RESULTS-FILE BINARY...
# Each binary prints "ok"/"not ok" lines; a binary that dies before running all
# the tests it planned has the missing ones counted as failed.
label=$1 results=$2
shift 2
total_pass=0 total_fail=0
for bin in "$@"; do
	[ -x "$bin" ] || continue
	out=$(mktemp)
	run=""
	[ "$label" = tsan ] && command -v setarch >/dev/null && run="setarch $(uname -m) -R"
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 600 $run "$bin" >"$out" 2>&1
	rc=$?
	planned=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	pass=$(grep -c '^ok ' "$out")
	fail=$(grep -c '^not ok ' "$out")
	missing=$((planned - pass - fail))
	[ "$missing" -lt 0 ] && missing=0
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && [ "$missing" -eq 0 ]; then
		missing=1 # died after its last test, or planned nothing
	fi
	fail=$((fail + missing))
	name=$(basename "$bin")
	if [ "$fail" -gt 0 ]; then
		echo "[$label] $name: $pass passed, $fail failed (exit $rc)"
		grep -v '^ok ' "$out" | tail -n 40 | sed "s/^/[$label] $name| /"
	else
		echo "[$label] $name: $pass passed"
	fi
	rm -f "$out"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
done
echo "$label $total_pass $total_fail" >> "$results"
exit 0
