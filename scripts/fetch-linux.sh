#!/bin/sh
# Fetches Debian's arm64 cloud kernel and busybox and builds the Linux test
# initramfs, into build/linux/ (never committed):
#   build/linux/Image          the kernel (an arm64 Image)
#   build/linux/initrd.cpio.gz busybox, guests/linux/init, the virtio modules
# Downloads only once; the initramfs is rebuilt when guests/linux/init changes.
# Needs root (or sudo) the first time, to enable the arm64 architecture in apt.
set -eu
out=build/linux
root=$out/root
pack() {
	cp guests/linux/init "$root/init"
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$out/initrd.cpio.gz.tmp"
	mv "$out/initrd.cpio.gz.tmp" "$out/initrd.cpio.gz"
}
if [ -f "$out/Image" ] && [ -x "$root/bin/busybox" ]; then
	[ -f "$out/initrd.cpio.gz" ] && [ "$out/initrd.cpio.gz" -nt guests/linux/init ] || pack
	exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	$sudo dpkg --add-architecture arm64
	$sudo apt-get update -q
fi
for p in cpio gzip; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		$sudo apt-get install -y -q --no-install-recommends "$p"
done
kpkg=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-arm64-unsigned$' |
	awk '{print $1}' | sort -V | tail -n 1)
[ -n "$kpkg" ] || { echo "fetch-linux: no linux-image-*-cloud-arm64-unsigned in apt" >&2; exit 1; }
rm -rf "$out/dl" "$out/k" "$out/bb" "$out/root"
mkdir -p "$out/dl"
(cd "$out/dl" && apt-get download "$kpkg" busybox-static:arm64 2>/dev/null)
dpkg-deb -x "$out"/dl/linux-image-*.deb "$out/k"
dpkg-deb -x "$out"/dl/busybox-static_*.deb "$out/bb"
cp "$out"/k/boot/vmlinuz-* "$out/Image"

mkdir -p "$root/bin" "$root/lib/modules"
cp "$out/bb/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
chmod 755 "$root/bin/busybox"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio-rng; do
	f=$(find "$out/k/lib/modules" -name "$m.ko*" | head -n 1)
	[ -n "$f" ] && cp "$f" "$root/lib/modules/"
done
pack
rm -rf "$out/dl" "$out/k" "$out/bb"
echo "fetch-linux: $kpkg -> $out/Image, $out/initrd.cpio.gz"
