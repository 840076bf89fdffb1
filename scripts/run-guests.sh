#!/bin/sh
# Runs every guest test through `ivy run` and tallies them like run-tests.sh.
#   scripts/run-guests.sh RESULTS-FILE IVY GUEST-DIR
# Each line of guests/tests.list is "NAME OPTIONS..."; one run is one test. A run
# passes when ivy exits 0 and the guest printed no FAIL line and its closing line
# ("DONE: ..." for tests, "... Powering off." for the demo).
results=$1 ivy=$2 dir=$3
pass=0 fail=0
while read -r name opts; do
	case "$name" in '' | '#'*) continue ;; esac
	bin="$dir/$name.bin"
	[ -f "$bin" ] || bin="$dir/../$name.bin"
	out=$(mktemp)
	# shellcheck disable=SC2086
	timeout 120 "$ivy" run $opts --timeout 60 "$bin" </dev/null >"$out" 2>&1
	rc=$?
	closing='^DONE: '
	[ "$name" = demo ] && closing='Powering off\.$'
	if [ "$rc" -eq 0 ] && ! grep -q '^FAIL' "$out" && grep -q "$closing" "$out"; then
		echo "[guest] $name $opts: ok ($(grep "$closing" "$out" | sed 's/^DONE: //'))"
		pass=$((pass + 1))
	else
		echo "[guest] $name $opts: FAILED (exit $rc)"
		tail -n 30 "$out" | sed "s/^/[guest] $name| /"
		fail=$((fail + 1))
	fi
	rm -f "$out"
done <guests/tests.list
echo "guest $pass $fail" >>"$results"
exit 0
