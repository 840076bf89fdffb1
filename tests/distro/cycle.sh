#!/bin/sh
# A Debian 12 system with systemd on `ivy run`, as TAP-like lines tallied into
# RESULTS-FILE under the label "distro". One cycle per configuration: a fresh
# ext4 image of build/distro/root (scripts/fetch-distro.sh) with
# guests/distro/ivy-check in it, booted with Debian's kernel and initramfs on
# 2 vCPUs and 1 GiB to multi-user; the check's workload (fio on a second disk,
# stress, a sleep, writes and sync), the kernel log, a reboot, a power-off;
# then `ivy run` must have exited 0 and the image must fsck clean on the host.
#   tests/distro/cycle.sh RESULTS-FILE IVY [CONFIG...]
# IVY "qemu" runs the same cycle under qemu-system-aarch64 (TCG) instead.
# CONFIG is v2 (GICv2, the root disk in a device process), v3 (GICv3 + ITS)
# or v3-process (GICv3 + ITS, the root disk in a device process); default
# "v2 v3". DISTRO_KEEP=DIR keeps each run's console log and images there.
results=$1 ivy=$2
shift 2
[ $# -gt 0 ] || set -- v2 v3
d=build/distro
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() {
	echo "[distro] FAILED: $*"
	fail=$((fail + 1))
}
work=$(mktemp -d "${TMPDIR:-/tmp}/ivy-distro.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The check goes into the tree the image is made from, enabled for multi-user
# (under a lock: make check-distro runs two cycles at once).
(
	flock 9
	install -D -m 755 guests/distro/ivy-check "$d/root/usr/local/sbin/ivy-check"
	install -D -m 644 guests/distro/ivy-check.service "$d/root/etc/systemd/system/ivy-check.service"
	mkdir -p "$d/root/etc/systemd/system/multi-user.target.wants"
	ln -sf /etc/systemd/system/ivy-check.service "$d/root/etc/systemd/system/multi-user.target.wants/"
	rm -rf "$d/root/var/lib/ivy-check"
) 9>"$d/.install.lock"

for cfg in "$@"; do
	case $cfg in
	v2) gic=2 proc=,process=separate ;;
	v3) gic=3,its=on proc= ;;
	v3-process) gic=3,its=on proc=,process=separate ;;
	*)
		bad "unknown configuration $cfg"
		continue
		;;
	esac
	root=$work/root.img data=$work/data.img log=$work/console.log
	rm -f "$root" "$data"
	if ! flock "$d/.install.lock" mkfs.ext4 -q -F -L root -d "$d/root" "$root" 2G; then
		bad "$cfg: cannot make the image"
		continue
	fi
	truncate -s 128M "$data"
	t0=$(date +%s)
	if [ "$ivy" = qemu ]; then
		# The same cycle under QEMU's virt machine (TCG), for comparison.
		qgic=${gic%%,*}
		timeout "${DISTRO_TIMEOUT:-900}" qemu-system-aarch64 -M "virt,gic-version=$qgic" -accel tcg \
			-cpu cortex-a57 -smp 2 -m 1024 -nographic -no-user-config -nodefaults -serial stdio \
			-kernel "$d/Image" -initrd "$d/initrd" -append "console=ttyAMA0 root=/dev/vda rw" \
			-drive "file=$root,format=raw,if=none,id=root" -device virtio-blk-pci,drive=root \
			-drive "file=$data,format=raw,if=none,id=data" -device virtio-blk-pci,drive=data \
			</dev/null >"$log" 2>&1
		rc=$?
	else
		# Each console line with the host's time, to hold the guest's clock against.
		{
			"$ivy" run -smp 2 -m 1024 -machine "gic-version=$gic" -kernel "$d/Image" \
				-initrd "$d/initrd" -append "console=ttyAMA0 root=/dev/vda rw" \
				--timeout "${DISTRO_TIMEOUT:-900}" --stats \
				-drive "file=$root,format=raw,if=none,id=root" \
				-device "virtio-blk-pci,drive=root$proc" \
				-drive "file=$data,format=raw,if=none,id=data" -device virtio-blk-pci,drive=data \
				</dev/null 2>&1
			echo $? >"$work/rc"
		} | perl -MTime::HiRes=time -ne '$| = 1; printf "%.3f %s", time, $_' >"$log"
		rc=$(cat "$work/rc")
	fi
	t1=$(date +%s)
	up=$(grep -m1 'ivy-check: boot 1: Startup finished' "$log" | sed 's/.*Startup finished in //')
	echo "[distro] $cfg: exit $rc after $((t1 - t0)) s; first boot: ${up:-?}"
	[ $rc -eq 0 ] && ok || bad "$cfg: ivy run exited $rc"
	grep -q 'ivy-check: boot 1: up, 2 CPUs, system running' "$log" && ok ||
		bad "$cfg: the first boot did not reach a running multi-user system on 2 CPUs"
	for w in "fio ok" "stress ok" "sleep ok" "files written" "done, rebooting"; do
		grep -q "ivy-check: boot 1: $w" "$log" && ok || bad "$cfg: first boot: no \"$w\""
	done
	grep -q 'ivy-check: boot 2: up, 2 CPUs, system running' "$log" && ok ||
		bad "$cfg: the second boot (after the reboot) did not reach multi-user"
	grep -q 'ivy-check: boot 2: files ok' "$log" && ok || bad "$cfg: files lost over the reboot"
	# The guest's clock against the host's over the sleep: within 2% (and 0.2 s).
	if [ "$ivy" != qemu ]; then
		if grep -a 'ivy-check: boot 1: clock ' "$log" | awk '
			{ host[NR] = $1; guest[NR] = $NF }
			END { if (NR != 2) exit 1; h = host[2] - host[1]; g = guest[2] - guest[1]
			      d = g - h; if (d < 0) d = -d
			      printf "[distro] '"$cfg"': %.3f s of guest time over %.3f s of host time\n", g, h
			      exit !(d <= 0.2 && d <= 0.02 * h) }'; then ok; else
			bad "$cfg: the guest's clock and the host's disagree over the sleep"
		fi
	fi
	grep -q 'reboot: Power down' "$log" && ok || bad "$cfg: no clean power-off"
	if grep -q 'ivy-check: .*FAIL' "$log"; then
		bad "$cfg: the guest found trouble:"
		grep 'ivy-check: .*FAIL' "$log" | head -n 20 | sed 's/^/[distro]   /'
	else
		ok
	fi
	if e2fsck -fn "$root" >"$work/fsck.log" 2>&1; then ok; else
		bad "$cfg: the root file system is not clean after the power-off"
		tail -n 10 "$work/fsck.log" | sed 's/^/[distro]   /'
	fi
	if [ $rc -ne 0 ] || [ "$fail" -gt 0 ]; then
		tail -n 25 "$log" | sed 's/^/[distro]   /'
	fi
	if [ -n "${DISTRO_KEEP:-}" ]; then
		mkdir -p "$DISTRO_KEEP"
		n=$(date +%Y%m%d-%H%M%S)-$cfg
		cp "$log" "$DISTRO_KEEP/$n.log"
	fi
done
echo "[distro] $pass passed, $fail failed"
echo "distro $pass $fail" >>"$results"
[ "$fail" -eq 0 ]
