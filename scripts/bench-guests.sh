#!/bin/sh
# Side-by-side guest benchmarks: the same guest binaries under `ivy run` and under
# QEMU's virt machine with TCG, on both GIC versions. Prints bench.h's JSON lines
# with QEMU as the baseline (ratio = ivy / QEMU; for rates higher is better, for
# times lower is better). Each number is the median of RUNS runs. The LPI rate
# (ITS INT commands, each LPI taken before the next) is measured on GICv3 only.
#   scripts/bench-guests.sh [IVY] [GUEST-DIR]
ivy=${1:-build/release/ivy} dir=${2:-build/guests}
runs=${RUNS:-5}
if ! command -v qemu-system-aarch64 >/dev/null; then
	echo '{"bench":"guest","error":"qemu-system-aarch64 not installed (scripts/deps.sh bench)"}'
	exit 0
fi

run_ivy() { timeout 60 "$ivy" run -smp 2 -machine gic-version="$1" "$2" </dev/null 2>/dev/null; }
run_qemu() {
	timeout 60 qemu-system-aarch64 -M virt,gic-version="$1" -accel tcg -cpu cortex-a57 -m 256M \
		-smp 2 -nographic -monitor none -serial stdio -kernel "$2" </dev/null 2>/dev/null
}
now_ns() { date +%s%N; }

# median and spread ((p90 - p10) / median) of numbers on stdin
stats() { sort -n | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; lo=v[int(NR*0.1)+1]; hi=v[int(NR*0.9+0.5)];
	if (hi == "") hi = v[NR]; printf "%s %.3f\n", m, (m > 0 ? (hi-lo)/m : 0)}'; }

report() { # bench metric unit ivy-file qemu-file
	set -- "$1" "$2" "$3" "$(stats <"$4")" "$(stats <"$5")"
	iv=${4% *} isp=${4#* } qv=${5% *}
	awk -v b="$1" -v m="$2" -v u="$3" -v v="$iv" -v q="$qv" -v r="$runs" -v s="$isp" 'BEGIN {
		printf "{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%s,\"unit\":\"%s\",\"baseline\":%s,\"ratio\":%.3f,\"runs\":%d,\"spread\":%s}\n",
			b, m, v, u, q, (q > 0 ? v / q : 0), r, s }'
}

tmp=$(mktemp -d)
for gic in 2 3; do
	for vmm in ivy qemu; do
		for i in $(seq "$runs"); do
			run_$vmm "$gic" "$dir/bench/gicbench.bin" >"$tmp/out"
			for m in gic_read timer_irq ipi_rtt lpi_rate ram_store; do
				sed -n "s/^BENCH $m \([0-9]*\) .*/\1/p" "$tmp/out" >>"$tmp/$vmm.$gic.$m"
			done
			t0=$(now_ns)
			run_$vmm "$gic" "$dir/tests/board.bin" >/dev/null
			t1=$(now_ns)
			echo $(((t1 - t0) / 1000000)) >>"$tmp/$vmm.$gic.boot"
		done
	done
	report "guest_gicv$gic" "gic_register_read" "ns" "$tmp/ivy.$gic.gic_read" "$tmp/qemu.$gic.gic_read"
	report "guest_gicv$gic" "timer_interrupt_rate" "irq/s" "$tmp/ivy.$gic.timer_irq" "$tmp/qemu.$gic.timer_irq"
	report "guest_gicv$gic" "ipi_round_trip" "ns" "$tmp/ivy.$gic.ipi_rtt" "$tmp/qemu.$gic.ipi_rtt"
	report "guest_gicv$gic" "boot_to_exit_board_test" "ms" "$tmp/ivy.$gic.boot" "$tmp/qemu.$gic.boot"
	# The engine's own cost: a guest RAM store in a loop with no device involved.
	report "guest_gicv$gic" "ram_store" "ps" "$tmp/ivy.$gic.ram_store" "$tmp/qemu.$gic.ram_store"
	# ITS INT -> LPI: GICv3 only (both VMMs give gic-version=3 an ITS by default).
	[ "$gic" = 3 ] && report "guest_gicv3" "lpi_delivery_rate" "irq/s" "$tmp/ivy.3.lpi_rate" "$tmp/qemu.3.lpi_rate"
done
rm -rf "$tmp"
