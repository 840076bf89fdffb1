#!/bin/sh
# Runs guest tests under `ivy run` and under QEMU's virt machine (TCG) and checks
# that both print the same PASS/FAIL lines (numbers, which are measurements, are
# masked). Needs qemu-system-aarch64 (scripts/deps.sh bench); not part of make check.
#   scripts/qemu-compare.sh [IVY] [GUEST-DIR]
ivy=${1:-build/release/ivy} dir=${2:-build/guests/tests}
command -v qemu-system-aarch64 >/dev/null || { echo "qemu-compare: qemu-system-aarch64 not installed"; exit 0; }
status=0
# Compares the PASS/FAIL/DONE lines of one guest under ivy ($2) and under QEMU ($3), then removes both files.
compare() { # label ivy-lines qemu-lines
	if [ -s "$2" ] && cmp -s "$2" "$3"; then
		echo "[qemu] $1: same results under ivy and QEMU ($(grep -c '^PASS' "$2") PASS, $(grep -c '^FAIL' "$2") FAIL)"
	else
		echo "[qemu] $1: results differ (ivy < > QEMU):"
		diff "$2" "$3" | sed 's/^/[qemu]   /'
		status=1
	fi
	rm -f "$2" "$3"
}
# Guests that use only what QEMU's virt has (no ivy test device), with their vCPU counts.
# psci is left out: QEMU answers a second CPU_ON of a starting CPU with SUCCESS.
# its: the checks of MSIs from ivy's test device run under ivy only and are not compared.
for t in "sgi 1 2" "sgi 4 2" "timer 1 2" "active 1 2" "sgi 2 3" "timer 1 3" "active 1 3" \
	"its 2 3" "its 4 3" "codeflush 2 2" "codeflush 2 3" "dbgbp 1 2"; do
	set -- $t
	name=$1 smp=$2 gic=$3 only_ivy='^$'
	[ "$name" = its ] && only_ivy=' MSI '
	a=$(mktemp) b=$(mktemp)
	timeout 60 "$ivy" run -smp "$smp" -machine gic-version="$gic" "$dir/$name.bin" </dev/null 2>/dev/null |
		grep -E '^(PASS|FAIL|DONE)' | grep -v -e "$only_ivy" | sed 's/[0-9][0-9]*/N/g' >"$a"
	timeout 60 qemu-system-aarch64 -M virt,gic-version="$gic" -accel tcg -cpu cortex-a57 -m 256M \
		-smp "$smp" -nic none -nographic -monitor none -serial stdio -kernel "$dir/$name.bin" </dev/null 2>/dev/null |
		grep -E '^(PASS|FAIL|DONE)' | sed 's/[0-9][0-9]*/N/g' >"$b"
	compare "$name -smp $smp gic-version=$gic" "$a" "$b"
done

# pci_virtio: the same virtio-blk and virtio-rng, ivy's (modern) and QEMU's (transitional), on the
# same PCI layout (QEMU's virt with highmem=off has the low ECAM and MMIO window ivy uses).
disk=$(mktemp)
python3 -c "
import struct, sys
w = [(k * 0x9e3779b1) & 0xffffffff for k in range(16384 - 128)] + [0x52800540, 0xd65f03c0] + [0] * 126
sys.stdout.buffer.write(b''.join(struct.pack('<I', x) for x in w))
" >"$disk"
for gic in 2 3; do
	a=$(mktemp) b=$(mktemp)
	timeout 60 "$ivy" run -machine gic-version=$gic -append "expect-rng expect-blk" \
		-drive file="$disk",format=raw -device virtio-rng-pci "$dir/pci_virtio.bin" </dev/null 2>/dev/null |
		grep -E '^(PASS|FAIL|DONE)' | sed 's/[0-9a-f][0-9a-f]*/N/g' >"$a"
	timeout 60 qemu-system-aarch64 -M virt,highmem=off,gic-version=$gic -accel tcg -cpu cortex-a57 \
		-m 256M -nic none -nographic -monitor none -serial stdio -append "expect-rng expect-blk" \
		-drive file="$disk",if=none,id=d0,format=raw -device virtio-blk-pci,drive=d0,addr=1 \
		-device virtio-rng-pci,addr=2 -kernel "$dir/pci_virtio.bin" </dev/null 2>/dev/null |
		grep -E '^(PASS|FAIL|DONE)' | sed 's/[0-9a-f][0-9a-f]*/N/g' >"$b"
	compare "pci_virtio gic-version=$gic" "$a" "$b"
done
rm -f "$disk"
exit $status
