#!/bin/sh
# Debian's arm64 kernel under `ivy run` and under QEMU's virt machine with TCG,
# side by side, on the same kernel, initramfs and disk image: boot to init and
# to power-off on 1, 2 and 4 vCPUs (GICv3 + ITS), and, when the VMM has a
# virtio-blk disk, the time to read 64 MiB from it (with O_DIRECT, then through
# the page cache) and the interrupt rate during the cached read. Times are
# taken on the host from the moment each marker line appears on the console.
# Prints bench.h's JSON lines (ratio = ivy/QEMU), medians of RUNS runs.
#   scripts/bench-linux.sh [IVY]
ivy=${1:-build/release/ivy}
runs=${RUNS:-3}
. "$(dirname "$0")/bench-lib.sh"
if ! command -v qemu-system-aarch64 >/dev/null; then
	echo '{"bench":"linux","error":"qemu-system-aarch64 not installed (scripts/deps.sh bench)"}'
	exit 0
fi
scripts/fetch-linux.sh >/dev/null || exit 0
img=build/linux/Image initrd=build/linux/initrd.cpio.gz
tmp=$(mktemp -d)
disk=$tmp/disk.img
dd if=/dev/urandom of="$disk" bs=1M count=64 2>/dev/null
append="console=ttyAMA0 rdinit=/init quiet panic=-1 ivy.bench=1"

# Prefixes every console line with the host time in ns since $1.
stamp() { while IFS= read -r l; do echo "$(($(now_ns) - $1)) $l"; done; }

run_ivy() { # smp disk?
	set -- "$1" "${2:+-drive file=$disk,format=raw}"
	# shellcheck disable=SC2086
	timeout 300 "$ivy" run -smp "$1" -m 512 -machine gic-version=3,its=on -kernel "$img" \
		-initrd "$initrd" -append "$append" -no-reboot $2 </dev/null 2>/dev/null
}
run_qemu() { # smp disk?
	set -- "$1" "${2:+-drive file=$disk,format=raw,if=none,id=d0 -device virtio-blk-pci,drive=d0}"
	# shellcheck disable=SC2086
	timeout 300 qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a57 -smp "$1" -m 512 \
		-accel tcg -kernel "$img" -initrd "$initrd" -append "$append" -nographic \
		-monitor none -no-reboot $2 </dev/null 2>/dev/null
}
# The ms at which a line matching $2 appeared in stamped output $1.
at_ms() { awk -v re="$2" '$0 ~ re { printf "%d\n", $1 / 1000000; exit }' "$1"; }

has_disk=""
"$ivy" run --help 2>&1 | grep -q -- '-drive' && has_disk=1
for smp in 1 2 4; do
	for vmm in ivy qemu; do
		for i in $(seq "$runs"); do
			d=""
			[ "$smp" = 1 ] && [ -n "$has_disk" ] && d=1
			t0=$(now_ns)
			run_$vmm "$smp" "$d" | stamp "$t0" >"$tmp/out"
			at_ms "$tmp/out" '^[0-9]+ ivy-init: up' >>"$tmp/$vmm.$smp.init"
			at_ms "$tmp/out" 'reboot: Power down' >>"$tmp/$vmm.$smp.off"
			[ -n "$d" ] || continue
			s=$(at_ms "$tmp/out" 'ivy-bench: read start')
			e=$(at_ms "$tmp/out" 'ivy-bench: read done')
			n=$(sed -n 's/.*ivy-bench: read done, \([0-9]*\) interrupts.*/\1/p' "$tmp/out")
			[ -n "$s" ] && [ -n "$e" ] && [ -n "$n" ] && [ "$e" -gt "$s" ] || continue
			echo $((e - s)) >>"$tmp/$vmm.read"
			echo $((n * 1000 / (e - s))) >>"$tmp/$vmm.irqs"
			s=$(at_ms "$tmp/out" 'ivy-bench: direct start')
			e=$(at_ms "$tmp/out" 'ivy-bench: direct done')
			[ -n "$s" ] && [ -n "$e" ] && echo $((e - s)) >>"$tmp/$vmm.direct"
		done
	done
	report "linux_smp$smp" "boot_to_init" "ms" "$tmp/ivy.$smp.init" "$tmp/qemu.$smp.init"
	report "linux_smp$smp" "boot_to_poweroff" "ms" "$tmp/ivy.$smp.off" "$tmp/qemu.$smp.off"
done
if [ -n "$has_disk" ]; then
	report "linux_virtio_blk" "read_64MiB" "ms" "$tmp/ivy.read" "$tmp/qemu.read"
	report "linux_virtio_blk" "interrupts_during_read" "irq/s" "$tmp/ivy.irqs" "$tmp/qemu.irqs"
	report "linux_virtio_blk" "read_64MiB_direct" "ms" "$tmp/ivy.direct" "$tmp/qemu.direct"
fi
rm -rf "$tmp"
