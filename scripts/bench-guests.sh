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

. "$(dirname "$0")/bench-lib.sh"

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

# virtio-pci through the whole path (notify, device, used ring, MSI-X, interrupt): the same guest
# under ivy (functions in process, and in device processes) and under QEMU (highmem=off: the same
# PCI layout). KiB/s of 32 KiB virtio-blk reads, virtio-rng requests per second.
disk="$tmp/disk.img"
python3 -c "
import struct, sys
w = [(k * 0x9e3779b1) & 0xffffffff for k in range(16384 - 128)] + [0x52800540, 0xd65f03c0] + [0] * 126
sys.stdout.buffer.write(b''.join(struct.pack('<I', x) for x in w))
" >"$disk"
for gic in 2 3; do
	for i in $(seq "$runs"); do
		for mode in same separate; do
			timeout 60 "$ivy" run -machine gic-version=$gic -append "expect-rng expect-blk bench" \
				-drive file="$disk",format=raw,if=none,id=d0 \
				-device virtio-blk-pci,drive=d0,process=$mode -device virtio-rng-pci,process=$mode \
				"$dir/tests/pci_virtio.bin" </dev/null >"$tmp/out" 2>/dev/null
			for m in virtio_blk_read virtio_rng_requests; do
				sed -n "s/^BENCH $m \([0-9]*\) .*/\1/p" "$tmp/out" >>"$tmp/ivy-$mode.$gic.$m"
			done
		done
		timeout 60 qemu-system-aarch64 -M virt,highmem=off,gic-version=$gic -accel tcg -cpu cortex-a57 \
			-m 256M -nic none -nographic -monitor none -serial stdio \
			-append "expect-rng expect-blk bench" -drive file="$disk",if=none,id=d0,format=raw \
			-device virtio-blk-pci,drive=d0,addr=1 -device virtio-rng-pci,addr=2 \
			-kernel "$dir/tests/pci_virtio.bin" </dev/null >"$tmp/out" 2>/dev/null
		for m in virtio_blk_read virtio_rng_requests; do
			sed -n "s/^BENCH $m \([0-9]*\) .*/\1/p" "$tmp/out" >>"$tmp/qemu.$gic.$m"
		done
	done
	for mode in same separate; do
		report "guest_pci_gicv${gic}_process_$mode" "virtio_blk_read_32k" "KiB/s" \
			"$tmp/ivy-$mode.$gic.virtio_blk_read" "$tmp/qemu.$gic.virtio_blk_read"
		report "guest_pci_gicv${gic}_process_$mode" "virtio_rng_request_rate" "req/s" \
			"$tmp/ivy-$mode.$gic.virtio_rng_requests" "$tmp/qemu.$gic.virtio_rng_requests"
	done
done
rm -rf "$tmp"
