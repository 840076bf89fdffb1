/* SPDX-License-Identifier: MIT */
/*
 * GICv3 save/restore: a busy GICv3 (routed, pending, active, latched and
 * line-driven interrupts, SGIs, CPU interface state, redistributor LPI
 * registers) saved through DIST_REGS, REDIST_REGS, CPU_SYSREGS and LEVEL_INFO,
 * restored into a fresh VM; the guest sees no difference.
 */
#include "testutil.h"

#include "gic/vgic.h"

#include <errno.h>
#include <string.h>

#define DIST		   0x08000000ull
#define REDIST		   0x080a0000ull
#define NR		   2
#define NR_IRQS		   96
#define ICC(crn, crm, op2) IVY_SYSREG(3, 0, crn, crm, op2)

static const uint32_t icc_state[] = {
	ICC(4, 6, 0),	/* PMR */
	ICC(12, 8, 3),	/* BPR0 */
	ICC(12, 8, 4),	/* AP0R0 */
	ICC(12, 9, 0),	/* AP1R0 */
	ICC(12, 12, 3), /* BPR1 */
	ICC(12, 12, 4), /* CTLR */
	ICC(12, 12, 5), /* SRE */
	ICC(12, 12, 6), /* IGRPEN0 */
	ICC(12, 12, 7), /* IGRPEN1 */
};

struct image {
	uint32_t dist[0x10000 / 4];
	bool dist_ok[0x10000 / 4];
	uint32_t redist[NR][0x20000 / 4];
	bool redist_ok[0x20000 / 4];
	uint64_t icc[NR][sizeof(icc_state) / sizeof(icc_state[0])];
	uint32_t level[NR][NR_IRQS / 32];
};

static struct ivy_device *gic3_create(struct ivy_vm *vm)
{
	struct ivy_device *dev;
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_ADDR };
	uint64_t addr;
	uint32_t n = NR_IRQS;

	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V3, &dev), 0);
	a.addr = &addr;
	addr = DIST;
	a.attr = IVY_VGIC_V3_ADDR_TYPE_DIST;
	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
	addr = REDIST;
	a.attr = IVY_VGIC_V3_ADDR_TYPE_REDIST;
	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
	a = (struct ivy_device_attr){ .group = IVY_VGIC_GRP_NR_IRQS, .addr = &n };
	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
	return dev;
}

static int attr(struct ivy_device *dev, bool set, uint32_t group, uint64_t at, void *val)
{
	struct ivy_device_attr a = { .group = group, .attr = at, .addr = val };

	return set ? ivy_device_set_attr(dev, &a) : ivy_device_get_attr(dev, &a);
}

static uint64_t sysreg(struct ivy_vm *vm, uint32_t c, uint32_t enc, bool write, uint64_t v)
{
	assert_int_equal(ivy_vcpu_sysreg(ivy_vm_vcpu(vm, c), enc, write, &v), 0);
	return v;
}

static void mmio_w(struct ivy_vm *vm, uint32_t c, ivy_gpa_t gpa, unsigned len, uint64_t v)
{
	test_mmio_write(ivy_vm_vcpu(vm, c), gpa, len, v);
}

static void make_busy(struct ivy_vm *vm)
{
	mmio_w(vm, 0, DIST, 4, 3);
	mmio_w(vm, 0, DIST + 0x104, 4, 0xff00);	  /* SPIs 40-47 enabled */
	mmio_w(vm, 0, DIST + 0x84, 4, 0x0f00);	  /* 40-43 Group 1 */
	mmio_w(vm, 0, DIST + 0xc08, 4, 0xaa0000); /* 40-43 edge */
	for (uint32_t i = 40; i < 48; i++) {
		test_mmio_write(ivy_vm_vcpu(vm, 0), DIST + 0x400 + i, 1, 0x20 + 8 * (i - 40));
		mmio_w(vm, 0, DIST + 0x6000 + 8 * i, 8, i & 1);
	}
	for (uint32_t c = 0; c < NR; c++) {
		ivy_gpa_t sgi = REDIST + c * 0x20000ull + 0x10000;

		mmio_w(vm, c, sgi + 0x80, 4, 0x0800000f); /* SGIs 0-3, PPI 27 Group 1 */
		mmio_w(vm, c, sgi + 0x100, 4, 0x0800000f);
		sysreg(vm, c, ICC(4, 6, 0), true, 0xf0);
		sysreg(vm, c, ICC(12, 12, 6), true, 1);
		sysreg(vm, c, ICC(12, 12, 7), true, 1);
	}
	sysreg(vm, 1, ICC(12, 12, 4), true, 2); /* EOImode 1 on vCPU 1 */
	sysreg(vm, 1, ICC(12, 8, 3), true, 4);
	mmio_w(vm, 1, REDIST + 0x70, 8, 0x40001000ull | 13);
	mmio_w(vm, 1, REDIST + 0x78, 8, 0x40020000ull);
	mmio_w(vm, 1, REDIST, 4, 1);
	/* An SPI acknowledged on vCPU 1 and not ended, an SGI pending on vCPU 1. */
	assert_int_equal(ivy_irq_line(vm, 41, 0, true), 0);
	ivy_vcpu_sync(ivy_vm_vcpu(vm, 1));
	assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, 1)), 0);
	assert_int_equal(sysreg(vm, 1, ICC(12, 12, 0), false, 0), 41);
	sysreg(vm, 0, ICC(12, 11, 5), true, (2ull << 24) | 2); /* SGI 2 to Aff0 1 */
	/* Level with line high, latched level, edge, a PPI line, a Group 0 SPI. */
	assert_int_equal(ivy_irq_line(vm, 46, 0, true), 0);
	mmio_w(vm, 0, DIST + 0x204, 4, 1u << (44 - 32));
	assert_int_equal(ivy_irq_line(vm, 40, 0, true), 0);
	assert_int_equal(ivy_irq_line(vm, 27, 1, true), 0);
	assert_int_equal(ivy_irq_line(vm, 45, 0, true), 0);
	for (uint32_t c = 0; c < NR; c++)
		ivy_vcpu_sync(ivy_vm_vcpu(vm, c));
}

static uint64_t mpidr_attr(uint32_t c)
{
	return (uint64_t)c << 32; /* Aff0 = index */
}

static void save(struct ivy_device *dev, struct image *im)
{
	memset(im, 0, sizeof(*im));
	for (uint32_t off = 0; off < 0x10000; off += 4) {
		int ret = attr(dev, false, IVY_VGIC_GRP_DIST_REGS, off, &im->dist[off / 4]);

		assert_true(ret == 0 || ret == -ENXIO);
		im->dist_ok[off / 4] = !ret;
	}
	for (uint32_t c = 0; c < NR; c++) {
		for (uint32_t off = 0; off < 0x20000; off += 4) {
			int ret = attr(dev, false, IVY_VGIC_GRP_REDIST_REGS, mpidr_attr(c) | off,
				       &im->redist[c][off / 4]);

			assert_true(ret == 0 || ret == -ENXIO);
			im->redist_ok[off / 4] = !ret;
		}
		for (size_t i = 0; i < sizeof(icc_state) / sizeof(icc_state[0]); i++)
			assert_int_equal(attr(dev, false, IVY_VGIC_GRP_CPU_SYSREGS,
					      mpidr_attr(c) | icc_state[i], &im->icc[c][i]),
					 0);
		for (uint32_t i = 0; i < NR_IRQS / 32; i++)
			assert_int_equal(attr(dev, false, IVY_VGIC_GRP_LEVEL_INFO,
					      mpidr_attr(c) | (i * 32), &im->level[c][i]),
					 0);
	}
}

/* Set/clear pairs: the clear register gets the complement first (as QEMU restores KVM). */
static void restore_reg(struct ivy_device *dev, uint32_t group, uint64_t at, uint32_t off,
			uint32_t v)
{
	uint32_t inv = ~v;

	if (off >= 0x180 && off < 0x400 && ((off >> 7) & 1))
		return; /* a clear register: handled with its set register */
	if (off >= 0x100 && off < 0x400)
		assert_int_equal(attr(dev, true, group, at + 0x80, &inv), 0);
	if (attr(dev, true, group, at, &v))
		fail_msg("restoring group %u attr %#llx = %#x refused", group,
			 (unsigned long long)at, v);
}

static void restore(struct ivy_device *dev, const struct image *im)
{
	/* Routing first: an interrupt active at save time is restored on its vCPU. */
	for (uint32_t off = 0x6000; off < 0x8000; off += 4)
		if (im->dist_ok[off / 4])
			restore_reg(dev, IVY_VGIC_GRP_DIST_REGS, off, off, im->dist[off / 4]);
	for (uint32_t off = 0; off < 0x10000; off += 4)
		if (im->dist_ok[off / 4] && (off < 0x6000 || off >= 0x8000))
			restore_reg(dev, IVY_VGIC_GRP_DIST_REGS, off, off, im->dist[off / 4]);
	for (uint32_t c = 0; c < NR; c++) {
		for (uint32_t off = 0; off < 0x20000; off += 4)
			if (im->redist_ok[off / 4])
				restore_reg(dev, IVY_VGIC_GRP_REDIST_REGS, mpidr_attr(c) | off,
					    off & 0xffff, im->redist[c][off / 4]);
		for (size_t i = 0; i < sizeof(icc_state) / sizeof(icc_state[0]); i++) {
			uint64_t v = im->icc[c][i];

			assert_int_equal(attr(dev, true, IVY_VGIC_GRP_CPU_SYSREGS,
					      mpidr_attr(c) | icc_state[i], &v),
					 0);
		}
		for (uint32_t i = 0; i < NR_IRQS / 32; i++) {
			uint32_t v = im->level[c][i];

			assert_int_equal(attr(dev, true, IVY_VGIC_GRP_LEVEL_INFO,
					      mpidr_attr(c) | (i * 32), &v),
					 0);
		}
	}
}

/* What the guest sees, then what it acknowledges when it ends what is active. */
static void guest_run(struct ivy_vm *vm, uint64_t *out, size_t n)
{
	size_t k = 0;

	for (uint32_t c = 0; c < NR; c++) {
		struct vgic_cpu *vc;

		assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, c)), 0);
		vc = ivy_vm_vcpu(vm, c)->vgic;
		for (uint32_t off = 0; off < 0x1000; off += 4)
			out[k++] = test_mmio_read(ivy_vm_vcpu(vm, c), DIST + off, 4);
		for (uint32_t off = 0; off < 0x1000; off += 4)
			out[k++] = test_mmio_read(ivy_vm_vcpu(vm, c),
						  REDIST + c * 0x20000ull + 0x10000 + off, 4);
		out[k++] = test_mmio_read(ivy_vm_vcpu(vm, c), REDIST + c * 0x20000ull + 0x70, 8);
		for (size_t i = 0; i < sizeof(icc_state) / sizeof(icc_state[0]); i++)
			out[k++] = sysreg(vm, c, icc_state[i], false, 0);
		out[k++] = sysreg(vm, c, ICC(12, 11, 3), false, 0); /* RPR */
		out[k++] = ivy_vcpu_irq_lines(ivy_vm_vcpu(vm, c));
		for (uint32_t i = 0; i < vc->used_lrs; i++)
			out[k++] = ((uint64_t)vc->lr[i].intid << 16) | vc->lr[i].state;
	}
	sysreg(vm, 1, ICC(12, 12, 1), true, 41); /* EOImode 1: drop ... */
	sysreg(vm, 1, ICC(12, 11, 1), true, 41); /* ... and deactivate */
	assert_int_equal(ivy_irq_line(vm, 46, 0, false), 0);
	for (unsigned round = 0; round < 8; round++) {
		for (uint32_t c = 0; c < NR; c++) {
			uint64_t id;

			ivy_vcpu_sync(ivy_vm_vcpu(vm, c));
			assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, c)), 0);
			id = sysreg(vm, c, ICC(12, 12, 0), false, 0);
			if (id == 1023)
				id = sysreg(vm, c, ICC(12, 8, 0), false, 0) | 0x10000;
			assert_true(k < n);
			out[k++] = id;
			if ((id & 0xffff) < 1020) {
				sysreg(vm, c, ICC(12, 12, 1), true, id & 0xffff);
				sysreg(vm, c, ICC(12, 11, 1), true, id & 0xffff);
			}
		}
	}
}

static void test_v3_save_restore(void **state)
{
	static struct image a_img, b_img;
	static uint64_t out_a[4400], out_b[4400];
	struct ivy_vm *a = test_vm_new(NR), *b = test_vm_new(NR);
	struct ivy_device *da = gic3_create(a), *db = gic3_create(b);
	uint32_t dummy = 0;

	(void)state;
	for (uint32_t c = 0; c < NR; c++)
		assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(a, c)), 0);
	make_busy(a);
	save(da, &a_img);
	assert_int_equal(attr(db, true, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_INIT, &dummy), 0);
	restore(db, &a_img);
	save(db, &b_img);
	assert_memory_equal(&a_img, &b_img, sizeof(a_img));
	memset(out_a, 0, sizeof(out_a));
	memset(out_b, 0, sizeof(out_b));
	guest_run(a, out_a, 4400);
	guest_run(b, out_b, 4400);
	for (size_t i = 0; i < 4400; i++)
		if (out_a[i] != out_b[i])
			fail_msg("guest view differs at %zu: %#llx vs %#llx", i,
				 (unsigned long long)out_a[i], (unsigned long long)out_b[i]);
	ivy_vm_close(a);
	ivy_vm_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v3_save_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
