#!/bin/sh
# An out-of-process device model under `ivy run`: ivy-regfile (client/examples)
# connects to --device-socket, serves guest accesses as I/O requests in its own
# process and raises an SPI through an irqfd. Runs on both GIC versions.
#   tests/vmm/remote.sh RESULTS-FILE IVY GUEST-DIR REGFILE-BINARY
results=$1 ivy=$2 dir=$3 regfile=$4
pass=0 fail=0
for gic in 2 3; do
	sock=$(mktemp -u "${TMPDIR:-/tmp}/ivy-remote.XXXXXX")
	out=$(mktemp)
	"$ivy" run -machine gic-version=$gic --timeout 30 --device-socket "$sock" "$dir/cli/remote.bin" \
		</dev/null >"$out" 2>&1 &
	vmm=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	"$regfile" "$sock" 0x0a000000 48 >/dev/null 2>&1 &
	dev=$!
	wait $vmm
	rc=$?
	wait $dev
	if [ "$rc" -eq 0 ] && ! grep -q '^FAIL' "$out" && grep -q '^DONE: ' "$out"; then
		echo "[remote] gic-version=$gic: ok ($(sed -n 's/^DONE: //p' "$out"))"
		pass=$((pass + 1))
	else
		echo "[remote] gic-version=$gic: FAILED (exit $rc)"
		sed 's/^/[remote]| /' "$out" | tail -n 20
		fail=$((fail + 1))
	fi
	rm -f "$out" "$sock"
done
echo "remote $pass $fail" >>"$results"
