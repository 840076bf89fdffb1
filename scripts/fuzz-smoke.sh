#!/bin/sh
# Runs each libFuzzer target for a short time on its checked-in corpus.
#   scripts/fuzz-smoke.sh RESULTS-FILE SECONDS FUZZER...
# New inputs go to build/fuzz/corpus-NAME so the checked-in corpus stays as it is.
results=$1 secs=$2
shift 2
pass=0 fail=0
for f in "$@"; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	work=build/fuzz/corpus-$name
	mkdir -p "$work" "fuzz/corpus/$name"
	log=build/fuzz/$name.log
	if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		"$work" "fuzz/corpus/$name" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "[fuzz] $name: ok (${execs:-?} inputs in ${secs}s)"
		pass=$((pass + 1))
	else
		echo "[fuzz] $name: FAILED, see $log"
		tail -n 30 "$log" | sed "s/^/[fuzz] $name| /"
		fail=$((fail + 1))
	fi
done
echo "fuzz $pass $fail" >> "$results"
exit 0
