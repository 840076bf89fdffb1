/* SPDX-License-Identifier: MIT */
/*
 * The PCI function model and the virtio-pci devices, driven the way Linux's
 * virtio_pci and virtio_blk/virtio-rng drivers drive them: BAR programming,
 * MSI-X setup, feature negotiation, queue setup, requests, interrupts; and
 * the same from a driver that breaks every rule.
 */
#include "testutil.h"

#include "virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAM_GPA	     0x40000000ull
#define RAM_SIZE     (1u << 20)
#define BAR4_GPA     0x10000000ull
#define BAR1_GPA     0x10100000ull
#define MSI_DOORBELL 0x08090040ull

#define DESC		 0x1000u
#define AVAIL		 0x2000u
#define USED		 0x3000u
#define DATA		 0x10000u
#define QSIZE		 8
#define IVY_PCI_TEST_BDF 0x0008 /* 00:01.0 */

struct guest {
	uint8_t ram[RAM_SIZE];
	struct virtio_dev dev;
	int nr_msi;
	uint64_t msi_addr;
	uint32_t msi_data;
	uint16_t msi_rid;
	bool intx;
	uint16_t avail_idx;
};

static int ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct guest *g = opaque;

	if (gpa < RAM_GPA || gpa - RAM_GPA > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_GPA))
		return -EFAULT;
	memcpy(buf, g->ram + (gpa - RAM_GPA), len);
	return 0;
}

static int ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct guest *g = opaque;

	if (gpa < RAM_GPA || gpa - RAM_GPA > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_GPA))
		return -EFAULT;
	memcpy(g->ram + (gpa - RAM_GPA), buf, len);
	return 0;
}

static const struct virtio_mem_ops mem_ops = { .read = ram_read, .write = ram_write };

static void host_msi(void *opaque, uint64_t addr, uint32_t data, uint16_t rid)
{
	struct guest *g = opaque;

	g->nr_msi++;
	g->msi_addr = addr;
	g->msi_data = data;
	g->msi_rid = rid;
}

static void host_intx(void *opaque, bool level)
{
	((struct guest *)opaque)->intx = level;
}

static const struct pci_host_ops host_ops = { .msi = host_msi, .intx = host_intx };

static uint64_t mmio_rd(struct guest *g, uint64_t gpa, unsigned len)
{
	uint64_t v = 0;

	assert_true(virtio_mmio(&g->dev, gpa, len, false, &v));
	return v;
}

static void mmio_wr(struct guest *g, uint64_t gpa, unsigned len, uint64_t v)
{
	assert_true(virtio_mmio(&g->dev, gpa, len, true, &v));
}

#define COMMON(off) (BAR4_GPA + VIRTIO_COMMON_OFF + (off))

static void put16(struct guest *g, uint32_t off, uint16_t v)
{
	memcpy(g->ram + off, &v, 2);
}

static uint16_t get16(struct guest *g, uint32_t off)
{
	uint16_t v;

	memcpy(&v, g->ram + off, 2);
	return v;
}

/* Places BARs, enables decoding and bus mastering, and (optionally) MSI-X with 2 vectors. */
static void pci_setup(struct guest *g, bool msix)
{
	struct pci_func *fn = &g->dev.pci;

	virtio_cfg_write(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_BAR, 4, (uint32_t)BAR4_GPA);
	virtio_cfg_write(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_BAR + 4, 4, 0);
	virtio_cfg_write(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_MSIX_BAR, 4, (uint32_t)BAR1_GPA);
	virtio_cfg_write(&g->dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (!msix)
		return;
	for (unsigned v = 0; v < 2; v++) {
		mmio_wr(g, BAR1_GPA + 16 * v, 4, (uint32_t)MSI_DOORBELL);
		mmio_wr(g, BAR1_GPA + 16 * v + 4, 4, MSI_DOORBELL >> 32);
		mmio_wr(g, BAR1_GPA + 16 * v + 8, 4, 0x100 + v);
		mmio_wr(g, BAR1_GPA + 16 * v + 12, 4, 0); /* unmask */
	}
	virtio_cfg_write(&g->dev, fn->msix_cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

/* The driver's initialisation sequence (3.1.1). Returns the status read back. */
static uint8_t virtio_driver_init(struct guest *g, uint64_t features)
{
	mmio_wr(g, COMMON(0x14), 1, 0);
	mmio_wr(g, COMMON(0x14), 1, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(g, COMMON(0x14), 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(g, COMMON(0x08), 4, 0);
	mmio_wr(g, COMMON(0x0c), 4, (uint32_t)features);
	mmio_wr(g, COMMON(0x08), 4, 1);
	mmio_wr(g, COMMON(0x0c), 4, (uint32_t)(features >> 32));
	mmio_wr(g, COMMON(0x14), 1,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(mmio_rd(g, COMMON(0x14), 1) & VIRTIO_STATUS_FEATURES_OK))
		return (uint8_t)mmio_rd(g, COMMON(0x14), 1);
	mmio_wr(g, COMMON(0x10), 2, 0); /* configuration changes on vector 0 */
	mmio_wr(g, COMMON(0x16), 2, 0);
	assert_int_equal(mmio_rd(g, COMMON(0x18), 2), VIRTQ_MAX_SIZE);
	mmio_wr(g, COMMON(0x18), 2, QSIZE);
	mmio_wr(g, COMMON(0x20), 8, RAM_GPA + DESC);
	mmio_wr(g, COMMON(0x28), 4, (uint32_t)(RAM_GPA + AVAIL));
	mmio_wr(g, COMMON(0x2c), 4, (RAM_GPA + AVAIL) >> 32);
	mmio_wr(g, COMMON(0x30), 8, RAM_GPA + USED);
	mmio_wr(g, COMMON(0x1a), 2, 1); /* queue 0 on vector 1 */
	mmio_wr(g, COMMON(0x1c), 2, 1);
	mmio_wr(g, COMMON(0x14), 1,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			VIRTIO_STATUS_DRIVER_OK);
	g->avail_idx = 0;
	return (uint8_t)mmio_rd(g, COMMON(0x14), 1);
}

static void set_desc(struct guest *g, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = g->ram + DESC + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Makes chain `head` available and notifies queue 0. */
static void submit(struct guest *g, uint16_t head)
{
	put16(g, AVAIL + 4 + 2 * (g->avail_idx % QSIZE), head);
	g->avail_idx++;
	put16(g, AVAIL + 2, g->avail_idx);
	mmio_wr(g, BAR4_GPA + VIRTIO_NOTIFY_OFF, 2, 0);
}

static const uint64_t VERSION_1 = 1ull << VIRTIO_F_VERSION_1;

static void test_pci_config_space(void **state)
{
	struct guest *g = calloc(1, sizeof(*g));
	struct pci_func *fn = &g->dev.pci;
	int types_seen = 0;
	(void)state;

	assert_int_equal(virtio_rng_init(&g->dev, IVY_PCI_TEST_BDF, &mem_ops, g, &host_ops, g), 0);
	assert_int_equal(virtio_cfg_read(&g->dev, PCI_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	assert_int_equal(virtio_cfg_read(&g->dev, PCI_DEVICE_ID, 2), 0x1044);
	/* IDs are read-only. */
	virtio_cfg_write(&g->dev, PCI_VENDOR_ID, 4, 0x12345678);
	assert_int_equal(virtio_cfg_read(&g->dev, PCI_VENDOR_ID, 4), 0x10441af4);
	/* BAR sizing: all-ones reads back the size mask with the type bits. */
	virtio_cfg_write(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_BAR, 4, 0xffffffff);
	virtio_cfg_write(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_BAR + 4, 4, 0xffffffff);
	assert_int_equal(virtio_cfg_read(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_BAR, 4),
			 (uint32_t) ~(VIRTIO_BAR_SIZE - 1) | 0x4);
	assert_int_equal(virtio_cfg_read(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_BAR + 4, 4),
			 0xffffffff);
	virtio_cfg_write(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_MSIX_BAR, 4, 0xffffffff);
	assert_int_equal(virtio_cfg_read(&g->dev, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_MSIX_BAR, 4),
			 0xfffff000);
	/* Unimplemented BARs read zero. */
	virtio_cfg_write(&g->dev, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(virtio_cfg_read(&g->dev, PCI_BASE_ADDRESS_0, 4), 0);
	/* Decoding is off until the command register enables it. */
	assert_int_equal(pci_bar_addr(fn, VIRTIO_BAR), 0);
	/* The capability list: MSI-X and the four virtio structures, terminated. */
	assert_true(virtio_cfg_read(&g->dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (uint32_t p = virtio_cfg_read(&g->dev, PCI_CAPABILITY_LIST, 1), n = 0; p;
	     p = virtio_cfg_read(&g->dev, p + 1, 1), n++) {
		assert_true(n < 8 && p >= 0x40 && p < 0x100);
		if (virtio_cfg_read(&g->dev, p, 1) == PCI_CAP_ID_VNDR)
			types_seen |= 1 << virtio_cfg_read(&g->dev, p + 3, 1);
		else
			assert_int_equal(virtio_cfg_read(&g->dev, p, 1), PCI_CAP_ID_MSIX);
	}
	assert_int_equal(types_seen, 0x1e);
	/* Out-of-range and odd-width accesses are harmless. */
	assert_int_equal(virtio_cfg_read(&g->dev, 4094, 4), 0xffffffff);
	assert_int_equal(virtio_cfg_read(&g->dev, 0, 3), 0xffffff);
	virtio_cfg_write(&g->dev, 4095, 2, 0xffff);
	virtio_dev_free(&g->dev);
	free(g);
}

static int make_disk(unsigned sectors)
{
	char path[] = "/tmp/ivy-test-disk-XXXXXX";
	int fd = mkstemp(path);
	uint8_t sector[512];

	assert_true(fd >= 0);
	unlink(path);
	for (unsigned s = 0; s < sectors; s++) {
		memset(sector, (int)s, sizeof(sector));
		assert_int_equal(write(fd, sector, sizeof(sector)), (ssize_t)sizeof(sector));
	}
	return fd;
}

static void test_virtio_blk_requests(void **state)
{
	struct guest *g = calloc(1, sizeof(*g));
	int fd = make_disk(16);
	struct virtio_blk_config cfg = { .fd = fd, .size = 16 * 512, .serial = "ivy-disk-0" };
	uint8_t buf[512];
	(void)state;

	assert_int_equal(
		virtio_blk_init(&g->dev, IVY_PCI_TEST_BDF, &cfg, &mem_ops, g, &host_ops, g), 0);
	pci_setup(g, true);
	/* Capacity in the device configuration. */
	assert_int_equal(mmio_rd(g, BAR4_GPA + VIRTIO_DEVICE_OFF, 8), 16);
	assert_int_equal(virtio_driver_init(g, VERSION_1) & VIRTIO_STATUS_DRIVER_OK,
			 VIRTIO_STATUS_DRIVER_OK);

	/* Read sector 3: header, data (2 descriptors), status. */
	uint32_t hdr[4] = { 0 /* IN */, 0, 3, 0 };
	memcpy(g->ram + DATA, hdr, 16);
	g->ram[DATA + 0x1000] = 0xee;
	set_desc(g, 0, RAM_GPA + DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(g, 1, RAM_GPA + DATA + 0x100, 256, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	set_desc(g, 2, RAM_GPA + DATA + 0x300, 256, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	set_desc(g, 3, RAM_GPA + DATA + 0x1000, 1, VIRTQ_DESC_F_WRITE, 0);
	submit(g, 0);
	assert_int_equal(get16(g, USED + 2), 1);
	assert_int_equal(get16(g, USED + 4), 0);    /* id */
	assert_int_equal(get16(g, USED + 8), 513);  /* written: data + status */
	assert_int_equal(g->ram[DATA + 0x1000], 0); /* VIRTIO_BLK_S_OK */
	assert_int_equal(g->ram[DATA + 0x100], 3);
	assert_int_equal(g->ram[DATA + 0x3ff], 3);
	assert_int_equal(g->nr_msi, 1);
	assert_int_equal(g->msi_addr, MSI_DOORBELL);
	assert_int_equal(g->msi_data, 0x101);
	assert_int_equal(g->msi_rid, IVY_PCI_TEST_BDF);

	/* Write sector 5 from one descriptor. */
	hdr[0] = 1;
	hdr[2] = 5;
	memcpy(g->ram + DATA, hdr, 16);
	memset(g->ram + DATA + 0x100, 0xab, 512);
	set_desc(g, 4, RAM_GPA + DATA, 16, VIRTQ_DESC_F_NEXT, 5);
	set_desc(g, 5, RAM_GPA + DATA + 0x100, 512, VIRTQ_DESC_F_NEXT, 6);
	set_desc(g, 6, RAM_GPA + DATA + 0x1000, 1, VIRTQ_DESC_F_WRITE, 0);
	submit(g, 4);
	assert_int_equal(get16(g, USED + 2), 2);
	assert_int_equal(g->ram[DATA + 0x1000], 0);
	assert_int_equal(pread(fd, buf, 512, 5 * 512), 512);
	assert_int_equal(buf[0], 0xab);
	assert_int_equal(buf[511], 0xab);

	/* Beyond the end of the disk: an I/O error, the file untouched. */
	hdr[2] = 16;
	memcpy(g->ram + DATA, hdr, 16);
	submit(g, 4);
	assert_int_equal(g->ram[DATA + 0x1000], 1);
	hdr[2] = ~0u; /* a sector number that overflows when multiplied */
	hdr[3] = ~0u;
	memcpy(g->ram + DATA, hdr, 16);
	g->ram[DATA + 0x1000] = 0;
	submit(g, 4);
	assert_int_equal(g->ram[DATA + 0x1000], 1);

	/* GET_ID and an unknown type. */
	uint32_t id_hdr[4] = { 8, 0, 0, 0 };
	memcpy(g->ram + DATA, id_hdr, 16);
	set_desc(g, 5, RAM_GPA + DATA + 0x100, 20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 6);
	submit(g, 4);
	assert_int_equal(g->ram[DATA + 0x1000], 0);
	assert_memory_equal(g->ram + DATA + 0x100, "ivy-disk-0", 10);
	id_hdr[0] = 99;
	memcpy(g->ram + DATA, id_hdr, 16);
	submit(g, 4);
	assert_int_equal(g->ram[DATA + 0x1000], 2); /* UNSUPP */
	assert_int_equal(g->nr_msi, 6);
	virtio_dev_free(&g->dev);
	close(fd);
	free(g);
}

static void test_virtio_rng_and_intx(void **state)
{
	struct guest *g = calloc(1, sizeof(*g));
	uint8_t zero[64] = { 0 };
	(void)state;

	assert_int_equal(virtio_rng_init(&g->dev, IVY_PCI_TEST_BDF, &mem_ops, g, &host_ops, g), 0);
	pci_setup(g, false); /* no MSI-X: the legacy interrupt and ISR */
	assert_int_equal(virtio_driver_init(g, VERSION_1) & VIRTIO_STATUS_DRIVER_OK,
			 VIRTIO_STATUS_DRIVER_OK);
	set_desc(g, 0, RAM_GPA + DATA, 64, VIRTQ_DESC_F_WRITE, 0);
	submit(g, 0);
	assert_int_equal(get16(g, USED + 2), 1);
	assert_int_equal(get16(g, USED + 8), 64);
	assert_memory_not_equal(g->ram + DATA, zero, 64);
	assert_true(g->intx);
	assert_int_equal(g->nr_msi, 0);
	assert_true(virtio_cfg_read(&g->dev, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* Reading ISR acknowledges. */
	assert_int_equal(mmio_rd(g, BAR4_GPA + VIRTIO_ISR_OFF, 1), 1);
	assert_false(g->intx);
	assert_int_equal(mmio_rd(g, BAR4_GPA + VIRTIO_ISR_OFF, 1), 0);
	/* INTx disabled by the command register stays low. */
	virtio_cfg_write(&g->dev, PCI_COMMAND, 2,
			 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	submit(g, 0);
	assert_false(g->intx);
	virtio_dev_free(&g->dev);
	free(g);
}

static void test_msix_masking(void **state)
{
	struct guest *g = calloc(1, sizeof(*g));
	(void)state;

	assert_int_equal(virtio_rng_init(&g->dev, IVY_PCI_TEST_BDF, &mem_ops, g, &host_ops, g), 0);
	pci_setup(g, true);
	assert_int_equal(virtio_driver_init(g, VERSION_1) & VIRTIO_STATUS_DRIVER_OK,
			 VIRTIO_STATUS_DRIVER_OK);
	/* Mask vector 1: the interrupt becomes pending in the PBA instead. */
	mmio_wr(g, BAR1_GPA + 16 + 12, 4, 1);
	set_desc(g, 0, RAM_GPA + DATA, 16, VIRTQ_DESC_F_WRITE, 0);
	submit(g, 0);
	assert_int_equal(g->nr_msi, 0);
	assert_int_equal(mmio_rd(g, BAR1_GPA + 0x800, 8), 2);
	/* The PBA is read-only; odd widths on the table read zero. */
	mmio_wr(g, BAR1_GPA + 0x800, 8, 0);
	assert_int_equal(mmio_rd(g, BAR1_GPA + 0x800, 8), 2);
	assert_int_equal(mmio_rd(g, BAR1_GPA + 16 + 8, 2), 0);
	/* Unmasking delivers the pending message. */
	mmio_wr(g, BAR1_GPA + 16 + 12, 4, 0);
	assert_int_equal(g->nr_msi, 1);
	assert_int_equal(g->msi_data, 0x101);
	assert_int_equal(mmio_rd(g, BAR1_GPA + 0x800, 8), 0);
	/* Function mask works the same way. */
	struct pci_func *fn = &g->dev.pci;
	virtio_cfg_write(&g->dev, fn->msix_cap + PCI_MSIX_FLAGS, 2,
			 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	submit(g, 0);
	assert_int_equal(g->nr_msi, 1);
	virtio_cfg_write(&g->dev, fn->msix_cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(g->nr_msi, 2);
	/* Without bus mastering the function cannot send. */
	virtio_cfg_write(&g->dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	submit(g, 0);
	assert_int_equal(g->nr_msi, 2);
	virtio_dev_free(&g->dev);
	free(g);
}

static void test_feature_negotiation(void **state)
{
	struct guest *g = calloc(1, sizeof(*g));
	(void)state;

	assert_int_equal(virtio_rng_init(&g->dev, IVY_PCI_TEST_BDF, &mem_ops, g, &host_ops, g), 0);
	pci_setup(g, true);
	/* VERSION_1 offered in the high word. */
	mmio_wr(g, COMMON(0x00), 4, 1);
	assert_int_equal(mmio_rd(g, COMMON(0x04), 4), 1);
	/* A legacy driver (no VERSION_1) and one asking for unoffered bits are refused. */
	assert_int_equal(virtio_driver_init(g, 0) & VIRTIO_STATUS_FEATURES_OK, 0);
	assert_int_equal(virtio_driver_init(g, VERSION_1 | 1ull << 28) & VIRTIO_STATUS_FEATURES_OK,
			 0);
	assert_int_equal(virtio_driver_init(g, VERSION_1) & VIRTIO_STATUS_FEATURES_OK,
			 VIRTIO_STATUS_FEATURES_OK);
	/* Features are frozen after FEATURES_OK. */
	mmio_wr(g, COMMON(0x08), 4, 0);
	mmio_wr(g, COMMON(0x0c), 4, 0xffffffff);
	assert_int_equal(mmio_rd(g, COMMON(0x0c), 4), 0);
	/* A queue beyond num_queues reports size 0; its registers ignore writes. */
	mmio_wr(g, COMMON(0x16), 2, 5);
	assert_int_equal(mmio_rd(g, COMMON(0x18), 2), 0);
	mmio_wr(g, COMMON(0x1c), 2, 1);
	assert_int_equal(mmio_rd(g, COMMON(0x1c), 2), 0);
	virtio_dev_free(&g->dev);
	free(g);
}

/* Hostile rings: each must end in DEVICE_NEEDS_RESET, without hanging or touching host memory. */
static void ring_loop(struct guest *g)
{
	set_desc(g, 0, RAM_GPA + DATA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(g, 1, RAM_GPA + DATA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	submit(g, 0);
}

static void ring_next_out_of_range(struct guest *g)
{
	set_desc(g, 0, RAM_GPA + DATA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, QSIZE);
	submit(g, 0);
}

static void ring_head_out_of_range(struct guest *g)
{
	submit(g, 0xffff);
}

static void ring_avail_jump(struct guest *g)
{
	set_desc(g, 0, RAM_GPA + DATA, 16, VIRTQ_DESC_F_WRITE, 0);
	g->avail_idx = 1000;
	submit(g, 0);
}

static void ring_indirect(struct guest *g)
{
	set_desc(g, 0, RAM_GPA + DATA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	submit(g, 0);
}

static void ring_readable_after_writable(struct guest *g)
{
	set_desc(g, 0, RAM_GPA + DATA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(g, 1, RAM_GPA + DATA, 16, 0, 0);
	submit(g, 0);
}

static void ring_outside_ram(struct guest *g)
{
	/* The descriptor table itself lies beyond guest RAM. */
	mmio_wr(g, COMMON(0x14), 1, 0);
	mmio_wr(g, COMMON(0x14), 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(g, COMMON(0x08), 4, 1);
	mmio_wr(g, COMMON(0x0c), 4, 1);
	mmio_wr(g, COMMON(0x14), 1,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	mmio_wr(g, COMMON(0x10), 2, 0);
	mmio_wr(g, COMMON(0x18), 2, QSIZE);
	mmio_wr(g, COMMON(0x20), 8, 0xfffffffffffff000ull);
	mmio_wr(g, COMMON(0x28), 8, RAM_GPA + AVAIL);
	mmio_wr(g, COMMON(0x30), 8, RAM_GPA + USED);
	mmio_wr(g, COMMON(0x1c), 2, 1);
	mmio_wr(g, COMMON(0x14), 1, 0x0f);
	submit(g, 0);
}

static void ring_huge_lengths(struct guest *g)
{
	set_desc(g, 0, RAM_GPA + DATA, 0xffffffff, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(g, 1, RAM_GPA + DATA, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
	submit(g, 0);
}

static void test_hostile_driver(void **state)
{
	static const struct {
		const char *what;
		void (*play)(struct guest *g);
	} cases[] = {
		{ "descriptor loop", ring_loop },
		{ "next beyond the ring", ring_next_out_of_range },
		{ "head beyond the ring", ring_head_out_of_range },
		{ "avail index jumps", ring_avail_jump },
		{ "indirect not negotiated", ring_indirect },
		{ "readable after writable", ring_readable_after_writable },
		{ "ring outside RAM", ring_outside_ram },
		{ "lengths overflow", ring_huge_lengths },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct guest *g = calloc(1, sizeof(*g));

		print_message("case: %s\n", cases[i].what);
		assert_int_equal(
			virtio_rng_init(&g->dev, IVY_PCI_TEST_BDF, &mem_ops, g, &host_ops, g), 0);
		pci_setup(g, true);
		assert_int_equal(virtio_driver_init(g, VERSION_1) & VIRTIO_STATUS_DRIVER_OK,
				 VIRTIO_STATUS_DRIVER_OK);
		cases[i].play(g);
		assert_true(mmio_rd(g, COMMON(0x14), 1) & VIRTIO_STATUS_NEEDS_RESET);
		assert_int_equal(get16(g, USED + 2), 0);
		/* The driver hears about it on the configuration vector (0). */
		assert_int_equal(g->nr_msi, 1);
		assert_int_equal(g->msi_data, 0x100);
		/* The queue stays dead until reset; after a reset the device works again. */
		set_desc(g, 0, RAM_GPA + DATA, 16, VIRTQ_DESC_F_WRITE, 0);
		submit(g, 0);
		assert_int_equal(get16(g, USED + 2), 0);
		memset(g->ram + USED, 0, 16);
		assert_int_equal(virtio_driver_init(g, VERSION_1), 0x0f);
		submit(g, 0);
		assert_int_equal(get16(g, USED + 2), 1);
		assert_int_equal(g->dev.stat_bad_chain, 1);
		virtio_dev_free(&g->dev);
		free(g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pci_config_space),
		cmocka_unit_test(test_virtio_blk_requests),
		cmocka_unit_test(test_virtio_rng_and_intx),
		cmocka_unit_test(test_msix_masking),
		cmocka_unit_test(test_feature_negotiation),
		cmocka_unit_test(test_hostile_driver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
