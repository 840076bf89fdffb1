#!/bin/sh
# The PCIe host bridge and virtio-pci devices under `ivy run`: the pci_virtio
# guest drives virtio-blk (reading a disk image made here with a known
# pattern) and virtio-rng through MSI-X, on GICv2 (v2m) and GICv3 (ITS), with
# the devices in process and in device processes of their own; then a device
# process is killed while the guest uses it, and the VM must run on and exit
# with the guest's status. Plus the command line's errors.
#   tests/vmm/pci.sh RESULTS-FILE IVY GUEST-DIR
results=$1 ivy=$2 dir=$3
guest="$dir/tests/pci_virtio.bin"
pass=0 fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ivy-pci.XXXXXX")
disk="$tmp/disk.img"
# 64 KiB: 32-bit word k is k * 0x9e3779b1 (little-endian), what the guest checks;
# the last sector holds code instead (mov w0, #42; ret), for the DMA-coherency check.
python3 -c "
import struct, sys
w = [(k * 0x9e3779b1) & 0xffffffff for k in range(16384 - 128)] + [0x52800540, 0xd65f03c0] + [0] * 126
sys.stdout.buffer.write(b''.join(struct.pack('<I', x) for x in w))
" >"$disk"

result() { # NAME OK OUTPUT-FILE
	if [ "$2" = ok ]; then
		echo "[pci] $1: ok ($(sed -n 's/^DONE: //p' "$3"))"
		pass=$((pass + 1))
	else
		echo "[pci] $1: FAILED ($2)"
		# The failed checks and the VMM's words first, then how the run ended.
		grep -E '^(FAIL|ivy: )' "$3" | sed 's/^/[pci]| /'
		sed 's/^/[pci]| /' "$3" | grep -v 'unhandled' | tail -n 15
		fail=$((fail + 1))
	fi
}

guest_ok() { # RC OUTPUT-FILE
	[ "$1" -eq 0 ] && ! grep -q '^FAIL' "$2" && grep -q '^DONE: ' "$2" &&
		grep -q '^PASS: a virtio-rng function was found' "$2"
}

run() { # NAME IVY-OPTIONS...
	name=$1
	shift
	out="$tmp/out"
	timeout 60 "$ivy" run --timeout 40 --stats "$@" "$guest" </dev/null >"$out" 2>&1
	rc=$?
	# --stats lists each function's I/O requests under its name, in process or not.
	if guest_ok $rc "$out" && grep -q '^PASS: virtio-blk: .* pattern is intact' "$out" &&
		grep -q '^  virtio-blk@01.0  *[1-9]' "$out" && grep -q '^  virtio-rng@02.0  *[1-9]' "$out"; then
		result "$name" ok "$out"
	else
		result "$name" "exit $rc" "$out"
	fi
}

both="expect-rng expect-blk"
run "gic-version=2, in process" -machine gic-version=2 -append "$both" \
	-drive "file=$disk,format=raw" -device virtio-rng-pci
run "gic-version=3 its, 2 vCPUs, in process" -smp 2 -machine gic-version=3,its=on -append "$both" \
	-drive "file=$disk,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0 -device virtio-rng-pci
run "gic-version=3 without an ITS, INTx, in process" -machine gic-version=3,its=off -append "$both" \
	-drive "file=$disk" -device virtio-rng-pci
run "gic-version=2, rng in a device process" -machine gic-version=2 -append "$both" \
	-drive "file=$disk,readonly=on" -device virtio-rng-pci,process=separate
run "gic-version=3 its, 2 vCPUs, both in device processes" -smp 2 -machine gic-version=3 -append "$both" \
	-drive "file=$disk,if=none,id=d0" -device virtio-blk-pci,drive=d0,process=separate \
	-device virtio-rng-pci,process=separate

# A device process killed while the guest uses it.
for gic in 2 3; do
	# A file of its own, empty before the VMM starts: the loop below must not see an older run.
	out="$tmp/kill-$gic.out"
	: >"$out"
	IVY_VERBOSE=1 "$ivy" run --timeout 50 -machine gic-version=$gic -append "expect-rng kill-rng" \
		-device virtio-rng-pci,process=separate "$guest" </dev/null >"$out" 2>&1 &
	vmm=$!
	pid=
	i=0
	while [ $i -lt 400 ]; do
		if grep -q '^READY: kill' "$out"; then
			pid=$(sed -n 's/^ivy: virtio-rng@[0-9a-f.]* runs as process \([0-9]*\)$/\1/p' "$out")
			break
		fi
		kill -0 $vmm 2>/dev/null || break
		sleep 0.05
		i=$((i + 1))
	done
	[ -n "$pid" ] && kill -9 "$pid"
	wait $vmm
	rc=$?
	if [ -n "$pid" ] && guest_ok $rc "$out" && grep -q '^PASS: virtio-rng: gone, its BAR' "$out"; then
		result "gic-version=$gic, device process killed mid-use" ok "$out"
	else
		result "gic-version=$gic, device process killed mid-use" "exit $rc, pid '$pid'" "$out"
	fi
done

# The command line: a missing image, a drive nobody uses, an unknown device.
expect_usage() { # NAME IVY-OPTIONS...
	name=$1
	shift
	"$ivy" run "$@" "$guest" </dev/null >"$tmp/out" 2>&1
	rc=$?
	if [ $rc -eq 64 ] && grep -q "^ivy: " "$tmp/out"; then
		echo "[pci] $name: ok ($(head -n 1 "$tmp/out"))"
		pass=$((pass + 1))
	else
		result "$name" "exit $rc, want 64" "$tmp/out"
	fi
}
expect_usage "missing image" -drive file="$tmp/none.img"
expect_usage "unused drive" -drive file="$disk",if=none,id=x
expect_usage "virtio-blk-pci without a drive" -device virtio-blk-pci
expect_usage "unknown device" -device e1000

rm -rf "$tmp"
echo "pci $pass $fail" >>"$results"
