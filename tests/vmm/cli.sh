#!/bin/sh
# The `ivy run` command line: options, errors and exit statuses, as TAP-like lines
# tallied into RESULTS-FILE under the label "cli".
#   tests/vmm/cli.sh RESULTS-FILE IVY GUEST-DIR
results=$1 ivy=$2 dir=$3
pass=0 fail=0
expect() { # description wanted-status command...
	desc=$1 want=$2
	shift 2
	"$@" </dev/null >/dev/null 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass=$((pass + 1))
	else
		echo "[cli] FAILED: $desc: exit $rc, wanted $want"
		fail=$((fail + 1))
	fi
}
expect "no command" 64 "$ivy"
expect "--help" 0 "$ivy" run --help
expect "unknown option" 64 "$ivy" run --bogus "$dir/cli/exit42.bin"
expect "-smp out of range" 64 "$ivy" run -smp 9 "$dir/cli/exit42.bin"
expect "bad -m" 64 "$ivy" run -m 3X "$dir/cli/exit42.bin"
expect "bad -machine" 64 "$ivy" run -machine gic-version=4 "$dir/cli/exit42.bin"
for t in nan inf 1e12 0 -1 5x ""; do
	expect "--timeout '$t'" 64 "$ivy" run --timeout "$t" "$dir/cli/exit42.bin"
done
expect "missing kernel file" 64 "$ivy" run /nonexistent/kernel
expect "missing initrd file" 64 "$ivy" run -initrd /nonexistent/initrd "$dir/cli/exit42.bin"
expect "two kernels" 64 "$ivy" run "$dir/cli/exit42.bin" "$dir/cli/exit42.bin"
expect "test-exit status" 42 "$ivy" run "$dir/cli/exit42.bin"
expect "test-exit status, -kernel, GICv3" 42 "$ivy" run -machine gic-version=3 -kernel "$dir/cli/exit42.elf"
expect "SYSTEM_OFF is 0" 0 "$ivy" run -smp 2 "$dir/tests/psci.bin"
expect "--timeout" 124 "$ivy" run --timeout 0.5 "$dir/cli/hang.bin"
if "$ivy" run --timeout 0.5 "$dir/cli/hang.bin" </dev/null 2>&1 >/dev/null |
	grep -q '^hang: waiting forever'; then
	pass=$((pass + 1))
else
	echo "[cli] FAILED: --timeout does not show the end of the guest's console on stderr"
	fail=$((fail + 1))
fi
expect "guest exception" 125 "$ivy" run "$dir/cli/crash.bin"
# More translated code than the engine's buffer holds: it flushes it (1 GiB) while
# chaining blocks, which must neither crash ivy nor harm the guest (faults are still
# reported at the right instruction, on both vCPUs): the vCPU moves to a new engine.
# By default the engine is replaced before its buffer fills (no flush, no stall);
# IVY_CODE_BUFFER_MIB=0 lets it fill and flush, and replaces it after the flush.
flush_out=$(mktemp)
for want in "0 full code buffer flushes" "[1-9][0-9]* full code buffer flushes"; do
	limit=
	[ "$want" = "0 full code buffer flushes" ] || limit=0
	if IVY_CODE_BUFFER_MIB=$limit "$ivy" run -smp 2 --stats --timeout 120 "$dir/tests/codeflush.bin" \
		</dev/null >"$flush_out" 2>&1 && grep -q '^DONE: 4 passed, 0 failed' "$flush_out" &&
		grep -q "^translated code: $want, [1-9][0-9]* engines replaced" "$flush_out"; then
		pass=$((pass + 1))
	else
		echo "[cli] FAILED: a full code buffer (guests/tests/codeflush, IVY_CODE_BUFFER_MIB=$limit):"
		tail -n 5 "$flush_out" | sed 's/^/[cli]   /'
		fail=$((fail + 1))
	fi
done
rm -f "$flush_out"
# A panic report without panic=: the run ends at its last line, well before --timeout.
expect "kernel panic report" 125 "$ivy" run --timeout 20 "$dir/cli/panic.bin"
# With -no-reboot the reset guest's first boot ends the run: no second boot, no DONE line.
if "$ivy" run -no-reboot -smp 2 "$dir/tests/reset.bin" </dev/null 2>&1 | grep -q '^DONE'; then
	echo "[cli] FAILED: -no-reboot still rebooted"
	fail=$((fail + 1))
else
	pass=$((pass + 1))
fi
if printf 'ivy\n' | "$ivy" run "$dir/cli/uart.bin" >/dev/null 2>&1; then
	pass=$((pass + 1))
else
	echo "[cli] FAILED: PL011 input from stdin"
	fail=$((fail + 1))
fi
initrd=$(mktemp)
printf 'IVYINITRD and some more bytes\n' >"$initrd"
expect "-append and -initrd reach /chosen" 0 "$ivy" run -append ivy-bootargs-check -initrd "$initrd" \
	"$dir/cli/chosen.bin"
rm -f "$initrd"
expect "--stats and --trace" 0 "$ivy" run --stats --trace "${TMPDIR:-/tmp}/ivy-cli-trace.json" -smp 2 "$dir/tests/psci.bin"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d["traceEvents"]) > 2 else 1)' \
	"${TMPDIR:-/tmp}/ivy-cli-trace.json" 2>/dev/null; then
	pass=$((pass + 1))
else
	echo "[cli] FAILED: --trace did not write valid Chrome trace JSON"
	fail=$((fail + 1))
fi
rm -f "${TMPDIR:-/tmp}/ivy-cli-trace.json"
echo "[cli] $pass passed, $fail failed"
echo "cli $pass $fail" >>"$results"
