#!/bin/sh
# Builds a Debian 12 arm64 root filesystem with systemd, with Debian's own tools
# (mmdebstrap, and qemu-user-static to run the arm64 maintainer scripts), into
# build/distro/ (never committed):
#   build/distro/root/     the root filesystem (systemd, udev, kmod, fio, stress-ng,
#                          Debian's cloud kernel and the initramfs made for it)
#   build/distro/Image     that kernel (an arm64 Image)
#   build/distro/initrd    that initramfs
# Downloads and builds only once (a few minutes). The check service of
# guests/distro/ is copied into the image each time tests/distro/cycle.sh makes one.
# Needs root (or sudo).
set -eu
out=build/distro
if [ -f "$out/Image" ] && [ -f "$out/initrd" ] && [ -f "$out/root/.ivy-complete" ]; then
	exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
need=""
for p in mmdebstrap qemu-user-static binfmt-support e2fsprogs arch-test; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
	$sudo apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $need
fi
# The arm64 maintainer scripts run through binfmt_misc and qemu-aarch64-static.
[ -e /proc/sys/fs/binfmt_misc/register ] ||
	$sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || $sudo update-binfmts --enable qemu-aarch64 || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || {
	echo "fetch-distro: arm64 binaries cannot run here (binfmt_misc with qemu-aarch64)" >&2
	exit 1
}

$sudo rm -rf "$out/root" "$out/root.tmp"
mkdir -p "$out"
pkgs=systemd-sysv,udev,kmod,procps,util-linux,e2fsprogs,fio,stress-ng,linux-image-cloud-arm64,initramfs-tools
$sudo mmdebstrap --arch=arm64 --variant=minbase --include="$pkgs" \
	--customize-hook='echo ivy-guest >"$1/etc/hostname"' \
	--customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
	--customize-hook='chroot "$1" passwd -d root' \
	--customize-hook='rm -f "$1"/etc/machine-id "$1"/var/lib/dbus/machine-id; : >"$1/etc/machine-id"' \
	bookworm "$out/root.tmp" http://deb.debian.org/debian
k=$(ls "$out"/root.tmp/boot/vmlinuz-* | sort -V | tail -n 1)
i=$(ls "$out"/root.tmp/boot/initrd.img-* | sort -V | tail -n 1)
$sudo cp "$k" "$out/Image"
$sudo cp "$i" "$out/initrd"
$sudo touch "$out/root.tmp/.ivy-complete"
$sudo mv "$out/root.tmp" "$out/root"
echo "fetch-distro: $(basename "$k") -> $out/Image, $out/initrd, $out/root"
