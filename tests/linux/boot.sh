#!/bin/sh
# Debian's arm64 kernel on `ivy run`, as TAP-like lines tallied into RESULTS-FILE
# under the label "linux": boot to init on 2 vCPUs on GICv2 and GICv3+ITS, the
# guest's own /proc/interrupts, a clean power-off, and a kernel panic that ends
# the run with the crash status.
#   tests/linux/boot.sh RESULTS-FILE IVY
# The kernel and initramfs come from scripts/fetch-linux.sh (Debian packages).
results=$1 ivy=$2
pass=0 fail=0
img=build/linux/Image initrd=build/linux/initrd.cpio.gz
out=$(mktemp) err=$(mktemp)
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
boot() { # gic-version extra-append
	"$ivy" run -smp 2 -m 512 -machine "gic-version=$1" -kernel "$img" -initrd "$initrd" \
		-append "console=ttyAMA0 rdinit=/init quiet panic=-1 $2" -no-reboot --timeout 240 \
		</dev/null >"$out" 2>"$err"
}

for gic in 2 3,its=on; do
	t0=$(date +%s.%N)
	boot "$gic" ivy.test=1
	rc=$?
	t1=$(date +%s.%N)
	echo "[linux] gic-version=$gic: exit $rc after $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
	if [ $rc -eq 0 ] && grep -q 'reboot: Power down' "$out"; then ok; else
		bad "gic-version=$gic: did not power off cleanly (exit $rc)"
		tail -n 15 "$out" "$err" | sed 's/^/[linux]   /'
	fi
	grep -q '^ivy-init: up, 2 CPUs' "$out" && ok || bad "gic-version=$gic: init did not see 2 CPUs"
	every_cpu 'arch_timer' 2 && ok || bad "gic-version=$gic: timer interrupts not on every vCPU"
	every_cpu '^ *IPI0:' 2 && every_cpu '^ *IPI1:' 2 && ok ||
		bad "gic-version=$gic: rescheduling/function-call IPIs not on every vCPU"
done

boot 3,its=on ivy.panic=1
rc=$?
if [ $rc -eq 125 ] && grep -q 'guest kernel panic: sysrq triggered crash' "$err" &&
	grep -q "the guest's last console output" "$err"; then ok; else
	bad "a kernel panic: exit $rc, wanted 125 with the panic and the console tail on stderr"
fi

rm -f "$out" "$err"
echo "[linux] $pass passed, $fail failed"
echo "linux $pass $fail" >>"$results"
