#!/bin/sh
# Debian's arm64 kernel on `ivy run`, as TAP-like lines tallied into RESULTS-FILE
# under the label "linux": boot to init on 2 vCPUs on GICv2 and GICv3+ITS with a
# virtio-blk disk and a virtio-rng (one of them in a device process), the
# guest's own /proc/interrupts (timer, IPIs and MSIs on every vCPU), the disk's
# contents as the guest reads them, a reboot (GICv3: the board reset with its
# ITS, LPIs and devices), a clean power-off, and a kernel panic that ends the
# run with the crash status.
#   tests/linux/boot.sh RESULTS-FILE IVY
# The kernel and initramfs come from scripts/fetch-linux.sh (Debian packages).
results=$1 ivy=$2
pass=0 fail=0
img=build/linux/Image initrd=build/linux/initrd.cpio.gz
out=$(mktemp) err=$(mktemp) disk=$(mktemp)
head -c $((8 << 20)) /dev/urandom >"$disk"
want_md5=$(head -c $((1 << 20)) "$disk" | md5sum | cut -d' ' -f1)
ok() { pass=$((pass + 1)); }
bad() {
	echo "[linux] FAILED: $*"
	fail=$((fail + 1))
}
# A row of /proc/interrupts whose label matches $1 has a non-zero count on every vCPU.
every_cpu() { # label-regex ncpus
	awk -v re="$1" -v n="$2" '
		$0 ~ re { seen = 1; for (i = 2; i <= n + 1; i++) if ($i + 0 == 0) bad = 1 }
		END { exit !(seen && !bad) }' "$out"
}
# Per vCPU, the MSIs of the last /proc/interrupts dump (after the disk reads) are all non-zero.
msi_every_cpu() { # ncpus
	awk -v n="$1" '/ivy-init: vda md5/ { after = 1; for (i = 2; i <= n + 1; i++) s[i] = 0 }
		after && /MSI/ { for (i = 2; i <= n + 1; i++) s[i] += $i; seen = 1 }
		END { for (i = 2; i <= n + 1; i++) if (!s[i]) exit 1; exit !seen }' "$out"
}
boot() { # gic-version extra-append [device options...]
	gic=$1 extra=$2
	shift 2
	"$ivy" run -smp 2 -m 512 -machine "gic-version=$gic" -kernel "$img" -initrd "$initrd" \
		-append "console=ttyAMA0 rdinit=/init quiet panic=-1 $extra" --timeout 240 \
		"$@" </dev/null >"$out" 2>"$err"
}

# The disk in process and the rng in a device process on GICv3, the other way round on GICv2.
for gic in 2 3,its=on; do
	if [ "$gic" = 2 ]; then
		set -- -drive "file=$disk,format=raw,if=none,id=d0" \
			-device virtio-blk-pci,drive=d0,process=separate -device virtio-rng-pci
	else
		set -- -drive "file=$disk,format=raw" -device virtio-rng-pci,process=separate
	fi
	extra=ivy.test=1
	[ "$gic" = 2 ] || extra="$extra ivy.reboot=1"
	t0=$(date +%s.%N)
	boot "$gic" "$extra" "$@"
	rc=$?
	t1=$(date +%s.%N)
	echo "[linux] gic-version=$gic: exit $rc after $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
	if [ $rc -eq 0 ] && grep -q 'reboot: Power down' "$out"; then ok; else
		bad "gic-version=$gic: did not power off cleanly (exit $rc)"
		tail -n 15 "$out" "$err" | sed 's/^/[linux]   /'
	fi
	grep -q '^ivy-init: up, 2 CPUs' "$out" && ok || bad "gic-version=$gic: init did not see 2 CPUs"
	if [ "$gic" != 2 ]; then
		grep -q '^ivy-init: rebooting' "$out" && grep -q '^ivy-init: back after a reboot' "$out" &&
			[ "$(grep -c '^ivy-init: up, 2 CPUs' "$out")" = 2 ] && ok ||
			bad "gic-version=$gic: reboot did not bring the guest back"
	fi
	every_cpu 'arch_timer' 2 && ok || bad "gic-version=$gic: timer interrupts not on every vCPU"
	every_cpu '^ *IPI0:' 2 && every_cpu '^ *IPI1:' 2 && ok ||
		bad "gic-version=$gic: rescheduling/function-call IPIs not on every vCPU"
	msi_every_cpu 2 && ok || bad "gic-version=$gic: MSIs (virtio-blk queues) not on every vCPU"
	grep -q "^ivy-init: vda md5 $want_md5" "$out" && ok ||
		bad "gic-version=$gic: the guest read other data than the disk holds"
	grep -q '^ivy-init: hwrng\( [0-9a-f][0-9a-f]\)\{16\}' "$out" && ok || bad "gic-version=$gic: no bytes from /dev/hwrng"
done

boot 3,its=on ivy.panic=1
rc=$?
if [ $rc -eq 125 ] && grep -q 'guest kernel panic: sysrq triggered crash' "$err" &&
	grep -q "the guest's last console output" "$err"; then ok; else
	bad "a kernel panic: exit $rc, wanted 125 with the panic and the console tail on stderr"
fi

rm -f "$out" "$err" "$disk"
echo "[linux] $pass passed, $fail failed"
echo "linux $pass $fail" >>"$results"
