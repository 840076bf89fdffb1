/* SPDX-License-Identifier: MIT */
/*
 * A virtio-pci function as an I/O-request client (devices/pcifn.c): its MMIO
 * claims follow BAR programming and memory decoding, refused claims leave a
 * BAR undecoded and are retried on the next configuration write, and the
 * configuration and BAR requests reach the model.
 */
#include "testutil.h"

#include "pcifn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BDF	 0x0010
#define BAR1_REG 0x14
#define BAR4_REG 0x20
#define BAR5_REG 0x24

struct claims {
	struct {
		uint64_t s, e;
	} r[16];
	int n;
	uint64_t forbid_s, forbid_e; /* another device's range */
	int bad_unclaims;
};

static int fake_claim(void *opaque, bool add, uint64_t s, uint64_t e)
{
	struct claims *c = opaque;

	if (add) {
		if (s <= c->forbid_e && c->forbid_s <= e)
			return -EEXIST;
		for (int i = 0; i < c->n; i++)
			if (s <= c->r[i].e && c->r[i].s <= e)
				return -EEXIST;
		c->r[c->n].s = s;
		c->r[c->n++].e = e;
		return 0;
	}
	for (int i = 0; i < c->n; i++) {
		if (c->r[i].s == s && c->r[i].e == e) {
			c->r[i] = c->r[--c->n];
			return 0;
		}
	}
	c->bad_unclaims++;
	return -ENOENT;
}

static bool has_claim(const struct claims *c, uint64_t s, uint64_t size)
{
	for (int i = 0; i < c->n; i++)
		if (c->r[i].s == s && c->r[i].e == s + size - 1)
			return true;
	return false;
}

static int no_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	(void)opaque, (void)gpa, (void)buf, (void)len;
	return -EFAULT;
}

static int no_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	(void)opaque, (void)gpa, (void)buf, (void)len;
	return -EFAULT;
}

static void no_msi(void *opaque, uint64_t addr, uint32_t data, uint16_t rid)
{
	(void)opaque, (void)addr, (void)data, (void)rid;
}

static void no_intx(void *opaque, bool level)
{
	(void)opaque, (void)level;
}

static const struct virtio_mem_ops mem_ops = { .read = no_read, .write = no_write };
static const struct pci_host_ops host_ops = { .msi = no_msi, .intx = no_intx };

static void cfg_write(struct pcifn *f, uint32_t reg, unsigned size, uint64_t val)
{
	struct ivy_ioreq req = { .type = IVY_IOREQ_TYPE_PCI,
				 .dir = IVY_IOREQ_WRITE,
				 .size = size,
				 .pci_bdf = BDF,
				 .addr = reg,
				 .value = val };

	pcifn_cfg(f, &req);
}

static uint64_t cfg_read(struct pcifn *f, uint32_t reg, unsigned size)
{
	struct ivy_ioreq req = { .type = IVY_IOREQ_TYPE_PCI,
				 .dir = IVY_IOREQ_READ,
				 .size = size,
				 .pci_bdf = BDF,
				 .addr = reg };

	pcifn_cfg(f, &req);
	return req.value;
}

static void rng_new(struct pcifn *f, struct claims *c)
{
	struct pcifn_config cfg = { .blk = false };
	char why[128];

	memset(c, 0, sizeof(*c));
	c->forbid_s = 0x09000000;
	c->forbid_e = 0x09000fff;
	assert_int_equal(
		pcifn_init(f, &cfg, BDF, &mem_ops, NULL, &host_ops, NULL, why, sizeof(why)), 0);
	f->claim = fake_claim;
	f->claim_opaque = c;
}

static void test_claims_follow_bars(void **state)
{
	static struct pcifn f;
	struct claims c;

	(void)state;
	rng_new(&f, &c);
	cfg_write(&f, BAR1_REG, 4, 0x10100000);
	cfg_write(&f, BAR4_REG, 4, 0x10000000);
	cfg_write(&f, BAR5_REG, 4, 0);
	assert_int_equal(c.n, 0); /* decoding is off */
	cfg_write(&f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(c.n, 2);
	assert_true(has_claim(&c, 0x10100000, 0x1000));
	assert_true(has_claim(&c, 0x10000000, VIRTIO_BAR_SIZE));

	/* The common configuration answers at the BAR's address. */
	struct ivy_ioreq req = { .type = IVY_IOREQ_TYPE_MMIO,
				 .dir = IVY_IOREQ_READ,
				 .size = 2,
				 .addr = 0x10000000 + 0x12 };
	assert_true(pcifn_mmio(&f, &req));
	assert_int_equal(req.value, 1); /* num_queues */
	req.addr = 0x10800000;
	assert_false(pcifn_mmio(&f, &req));

	/* A move with decoding on: the old claim goes, the new one comes. */
	cfg_write(&f, BAR4_REG, 4, 0x10200000);
	assert_int_equal(c.n, 2);
	assert_true(has_claim(&c, 0x10200000, VIRTIO_BAR_SIZE));
	assert_false(has_claim(&c, 0x10000000, VIRTIO_BAR_SIZE));

	/*
	 * Trading places one register at a time: BAR 1 onto BAR 4's range is
	 * refused (undecoded), then succeeds once BAR 4 has moved away.
	 */
	cfg_write(&f, BAR1_REG, 4, 0x10200000);
	assert_int_equal(c.n, 1);
	assert_int_equal(f.claimed[1], 0);
	cfg_write(&f, BAR4_REG, 4, 0x10100000);
	assert_int_equal(c.n, 2);
	assert_true(has_claim(&c, 0x10200000, 0x1000));
	assert_true(has_claim(&c, 0x10100000, VIRTIO_BAR_SIZE));

	/* Onto another device: refused, the BAR stays undecoded. */
	cfg_write(&f, BAR4_REG, 4, 0x09000000);
	assert_int_equal(c.n, 1);
	assert_int_equal(f.claimed[4], 0);
	/* The upper half of the 64-bit BAR moves it too. */
	cfg_write(&f, BAR4_REG, 4, 0x10100000);
	cfg_write(&f, BAR5_REG, 4, 0x1);
	assert_true(has_claim(&c, 0x110100000ull, VIRTIO_BAR_SIZE));
	/* An 8-byte configuration write programs both halves at once. */
	cfg_write(&f, BAR4_REG, 8, 0x10300000);
	assert_true(has_claim(&c, 0x10300000, VIRTIO_BAR_SIZE));

	/* Decoding off: every claim goes; on again, they come back. */
	cfg_write(&f, PCI_COMMAND, 2, 0);
	assert_int_equal(c.n, 0);
	cfg_write(&f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(c.n, 2);
	pcifn_unclaim_all(&f);
	assert_int_equal(c.n, 0);
	assert_int_equal(c.bad_unclaims, 0);
	virtio_dev_free(&f.vdev);
}

/* A board reset: no claims left, registers and the virtio device at their power-on values. */
static void test_reset(void **state)
{
	static struct pcifn f;
	struct claims c;

	(void)state;
	rng_new(&f, &c);
	uint64_t bar4_flags = cfg_read(&f, BAR4_REG, 4);
	uint8_t msix = f.vdev.pci.msix_cap;
	assert_int_not_equal(msix, 0);
	cfg_write(&f, BAR1_REG, 4, 0x10100000);
	cfg_write(&f, BAR4_REG, 4, 0x10000000);
	cfg_write(&f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cfg_write(&f, msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	struct ivy_ioreq st = { .type = IVY_IOREQ_TYPE_MMIO,
				.dir = IVY_IOREQ_WRITE,
				.size = 1,
				.addr = 0x10000000 + 0x14, /* device_status */
				.value = 3 };		   /* ACKNOWLEDGE | DRIVER */
	assert_true(pcifn_mmio(&f, &st));
	assert_int_equal(c.n, 2);

	pcifn_reset(&f);
	assert_int_equal(c.n, 0);
	assert_int_equal(c.bad_unclaims, 0);
	assert_int_equal(cfg_read(&f, BAR4_REG, 4), bar4_flags);
	assert_int_equal(cfg_read(&f, BAR1_REG, 4), 0);
	assert_int_equal(cfg_read(&f, PCI_COMMAND, 2), 0);
	assert_int_equal(cfg_read(&f, msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE, 0);
	/* Decoding again where it was: the driver finds a device that was reset. */
	cfg_write(&f, BAR4_REG, 4, 0x10000000);
	cfg_write(&f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	st.dir = IVY_IOREQ_READ;
	st.value = 0xff;
	assert_true(pcifn_mmio(&f, &st));
	assert_int_equal(st.value, 0);
	pcifn_unclaim_all(&f);
	virtio_dev_free(&f.vdev);
}

static void test_cfg_requests(void **state)
{
	static struct pcifn f;
	struct claims c;

	(void)state;
	rng_new(&f, &c);
	assert_int_equal(cfg_read(&f, PCI_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	assert_int_equal(cfg_read(&f, PCI_DEVICE_ID, 2), VIRTIO_PCI_DEVICE_BASE + VIRTIO_ID_RNG);
	assert_int_equal(cfg_read(&f, 0, 8), cfg_read(&f, 0, 4) | (uint64_t)cfg_read(&f, 4, 4)
									  << 32);
	assert_int_equal(cfg_read(&f, 4096, 4), ~0ull);
	assert_int_equal(cfg_read(&f, 0, 3), ~0ull);
	assert_int_equal(cfg_read(&f, 4094, 4), 0xffffffffull);
	assert_int_equal(c.n, 0);
	virtio_dev_free(&f.vdev);
}

static void test_blk_images(void **state)
{
	static struct pcifn f;
	struct pcifn_config cfg = { .blk = true };
	char why[256], path[] = "/tmp/ivy-pcifn-XXXXXX";
	int fd = mkstemp(path);
	char buf[4096] = { 0 };

	(void)state;
	assert_true(fd >= 0);
	cfg.file = "/nonexistent/disk.img";
	assert_int_equal(
		pcifn_init(&f, &cfg, BDF, &mem_ops, NULL, &host_ops, NULL, why, sizeof(why)),
		-ENOENT);
	assert_non_null(strstr(why, "/nonexistent/disk.img"));
	cfg.file = "/tmp";
	assert_true(pcifn_init(&f, &cfg, BDF, &mem_ops, NULL, &host_ops, NULL, why, sizeof(why)) <
		    0);
	cfg.file = path;
	assert_int_equal(write(fd, buf, 100), 100);
	assert_int_equal(
		pcifn_init(&f, &cfg, BDF, &mem_ops, NULL, &host_ops, NULL, why, sizeof(why)),
		-EINVAL);
	assert_non_null(strstr(why, "512 bytes"));
	assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	cfg.read_only = true;
	assert_int_equal(
		pcifn_init(&f, &cfg, BDF, &mem_ops, NULL, &host_ops, NULL, why, sizeof(why)), 0);
	assert_true(f.fd >= 0);
	assert_int_equal(fcntl(f.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(cfg_read(&f, PCI_DEVICE_ID, 2), VIRTIO_PCI_DEVICE_BASE + VIRTIO_ID_BLOCK);
	virtio_dev_free(&f.vdev);
	close(f.fd);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims_follow_bars),
		cmocka_unit_test(test_cfg_requests),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_blk_images),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
