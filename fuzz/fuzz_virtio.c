/* SPDX-License-Identifier: MIT */
/*
 * A hostile virtio driver: random configuration-space and BAR accesses, with
 * guest RAM (rings, descriptors, requests) filled from the input, against
 * virtio-blk and virtio-rng. The device must neither crash nor touch memory
 * outside the guest RAM it was given.
 */
#include "virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAM_GPA	 0x40000000ull
#define RAM_SIZE 0x10000u

static uint8_t ram[RAM_SIZE];

static int ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	(void)opaque;
	if (gpa < RAM_GPA || gpa - RAM_GPA > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_GPA))
		return -EFAULT;
	memcpy(buf, ram + (gpa - RAM_GPA), len);
	return 0;
}

static int ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	(void)opaque;
	if (gpa < RAM_GPA || gpa - RAM_GPA > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_GPA))
		return -EFAULT;
	memcpy(ram + (gpa - RAM_GPA), buf, len);
	return 0;
}

static void host_msi(void *opaque, uint64_t addr, uint32_t data, uint16_t rid)
{
	(void)opaque, (void)addr, (void)data, (void)rid;
}

static void host_intx(void *opaque, bool level)
{
	(void)opaque, (void)level;
}

static const struct virtio_mem_ops mem_ops = { .read = ram_read, .write = ram_write };
static const struct pci_host_ops host_ops = { .msi = host_msi, .intx = host_intx };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtio_dev dev;
	static int disk = -1;
	size_t i = 0;

	if (disk < 0) {
		char path[] = "/tmp/ivy-fuzz-disk-XXXXXX";

		disk = mkstemp(path);
		if (disk < 0 || ftruncate(disk, 64 * 512))
			abort();
		unlink(path);
	}
	if (size < 1)
		return 0;
	struct virtio_blk_config cfg = { .fd = disk, .size = 64 * 512, .read_only = data[0] & 2 };
	int ret = data[0] & 1 ? virtio_blk_init(&dev, 8, &cfg, &mem_ops, NULL, &host_ops, NULL)
			      : virtio_rng_init(&dev, 8, &mem_ops, NULL, &host_ops, NULL);
	if (ret)
		abort();
	/* Half the input becomes guest RAM, the rest a stream of accesses. */
	size_t ram_part = (size - 1) / 2 < RAM_SIZE ? (size - 1) / 2 : RAM_SIZE;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 1, ram_part);
	i = 1 + ram_part;
	/* Give the driver a head start: BARs placed, decoding on. */
	virtio_cfg_write(&dev, PCI_BASE_ADDRESS_0 + 16, 4, 0x10000000);
	virtio_cfg_write(&dev, PCI_BASE_ADDRESS_0 + 4, 4, 0x10100000);
	virtio_cfg_write(&dev, PCI_COMMAND, 2, 6);
	while (i + 6 <= size) {
		uint8_t op = data[i];
		uint16_t off = (uint16_t)(data[i + 1] | data[i + 2] << 8);
		uint32_t val =
			(uint32_t)(data[i + 3] | data[i + 4] << 8 | (uint32_t)data[i + 5] << 16);
		static const unsigned widths[] = { 1, 2, 4, 8 };
		unsigned len = widths[(op >> 2) & 3];
		uint64_t v = val;

		i += 6;
		switch (op & 3) {
		case 0: virtio_cfg_write(&dev, off & 0xfff, len > 4 ? 4 : len, val); break;
		case 1: (void)virtio_cfg_read(&dev, off & 0xfff, len > 4 ? 4 : len); break;
		case 2: (void)virtio_mmio(&dev, 0x10000000 + (off & 0x3fff), len, true, &v); break;
		default:
			(void)virtio_mmio(&dev, 0x10100000 + (off & 0xfff), len, op & 0x10, &v);
			break;
		}
	}
	virtio_dev_free(&dev);
	return 0;
}
