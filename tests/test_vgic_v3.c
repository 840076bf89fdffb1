/* SPDX-License-Identifier: MIT */
/*
 * GICv3 distributor and redistributors as a guest sees them (GIC-CHOICES.md
 * "GICv3", the distributor and redistributor lines), and their control API.
 * The system-register CPU interface is not part of this yet: delivery is
 * checked in the list registers that flush fills.
 */
#include "testutil.h"

#include "gic/vgic.h"

#include <errno.h>

#define DIST   0x08000000ull
#define REDIST 0x080a0000ull
#define SGI(n) (REDIST + (n)*0x20000ull + 0x10000)
#define RD(n)  (REDIST + (n)*0x20000ull)

struct gic3 {
	struct ivy_vm *vm;
	struct ivy_device *dev;
	uint32_t nr;
};

static int attr_set(struct gic3 *g, uint32_t group, uint64_t attr, void *val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = val };

	return ivy_device_set_attr(g->dev, &a);
}

static int attr_get(struct gic3 *g, uint32_t group, uint64_t attr, void *val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = val };

	return ivy_device_get_attr(g->dev, &a);
}

static void gic3_new(struct gic3 *g, uint32_t nr)
{
	uint64_t a;

	g->vm = test_vm_new(nr);
	g->nr = nr;
	assert_int_equal(ivy_device_create(g->vm, IVY_DEV_TYPE_ARM_VGIC_V3, &g->dev), 0);
	a = DIST;
	assert_int_equal(attr_set(g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, &a), 0);
	a = REDIST;
	assert_int_equal(attr_set(g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST, &a), 0);
	for (uint32_t i = 0; i < nr; i++)
		assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(g->vm, i)), 0);
}

static struct ivy_vcpu *cpu(struct gic3 *g, uint32_t i)
{
	return ivy_vm_vcpu(g->vm, i);
}

static uint64_t rd(struct gic3 *g, uint32_t c, ivy_gpa_t gpa, unsigned len)
{
	return test_mmio_read(cpu(g, c), gpa, len);
}

static void wr(struct gic3 *g, uint32_t c, ivy_gpa_t gpa, unsigned len, uint64_t v)
{
	test_mmio_write(cpu(g, c), gpa, len, v);
}

/* The INTIDs (and states) in a vCPU's list registers after a fresh flush. */
static bool in_lrs(struct gic3 *g, uint32_t c, uint32_t intid)
{
	struct vgic_cpu *vc = cpu(g, c)->vgic;

	ivy_vcpu_sync(cpu(g, c));
	assert_int_equal(ivy_vcpu_flush(cpu(g, c)), 0);
	for (uint32_t i = 0; i < vc->used_lrs; i++)
		if (vc->lr[i].intid == intid)
			return true;
	return false;
}

/* GICD_CTLR: DS 1, ARE RAO/WI, separate group enables, RWP 0; TYPER; STATUSR RAZ/WI. */
static void test_dist_ctlr_typer(void **state)
{
	struct gic3 g;

	(void)state;
	gic3_new(&g, 2);
	assert_int_equal(rd(&g, 0, DIST, 4), 0x50);
	wr(&g, 0, DIST, 4, 0);
	assert_int_equal(rd(&g, 0, DIST, 4), 0x50);
	wr(&g, 0, DIST, 4, 2);
	assert_int_equal(rd(&g, 0, DIST, 4), 0x52);
	wr(&g, 0, DIST, 4, 0xffffffff);
	assert_int_equal(rd(&g, 0, DIST, 4), 0x53);
	assert_int_equal(rd(&g, 0, DIST + 4, 4),
			 (256 / 32 - 1) | (1u << 17) | (9u << 19) | (1u << 25));
	wr(&g, 0, DIST + 0x10, 4, 0xffffffff);
	assert_int_equal(rd(&g, 0, DIST + 0x10, 4), 0);
	assert_int_equal(rd(&g, 0, DIST + 0xc, 4), 0);
	wr(&g, 0, DIST + 0xd04, 4, 0xffffffff);
	assert_int_equal(rd(&g, 0, DIST + 0xd04, 4), 0);
	assert_int_equal(rd(&g, 0, DIST + 0xffe8, 4), 0x3b);
	/* With affinity routing the SGI/PPI fields of the distributor are RAZ/WI. */
	wr(&g, 0, DIST + 0x100, 4, 0xffffffff);
	assert_int_equal(rd(&g, 0, DIST + 0x100, 4), 0);
	assert_int_equal(rd(&g, 0, SGI(0) + 0x100, 4), 0);
	wr(&g, 0, DIST + 0x400, 4, 0x80808080);
	assert_int_equal(rd(&g, 0, DIST + 0x400, 4), 0);
	ivy_vm_close(g.vm);
}

/* GICD_IROUTER: affinity routing of SPIs, IRM RAZ/WI (No1N), halves and 64-bit accesses. */
static void test_irouter(void **state)
{
	struct gic3 g;
	(void)state;
	gic3_new(&g, 4);
	wr(&g, 0, DIST, 4, 3);
	/* Reset routes to affinity 0.0.0.0, vCPU 0. */
	assert_int_equal(rd(&g, 0, DIST + 0x6000 + 8 * 40, 8), 0);
	wr(&g, 0, DIST + 0x104, 4, 1u << 8);			/* enable SPI 40 */
	wr(&g, 0, DIST + 0x6000 + 8 * 40, 8, (1ull << 31) | 2); /* IRM ignored, Aff0 = 2 */
	assert_int_equal(rd(&g, 0, DIST + 0x6000 + 8 * 40, 8), 2);
	assert_int_equal(ivy_irq_line(g.vm, 40, 0, true), 0);
	assert_false(in_lrs(&g, 0, 40));
	assert_true(in_lrs(&g, 2, 40));
	/* Rerouted by halves: Aff3 in the upper word routes nowhere (no such vCPU). */
	wr(&g, 1, DIST + 0x6000 + 8 * 40 + 4, 4, 0x1);
	assert_int_equal(rd(&g, 1, DIST + 0x6000 + 8 * 40, 8), (1ull << 32) | 2);
	assert_false(in_lrs(&g, 2, 40));
	wr(&g, 1, DIST + 0x6000 + 8 * 40 + 4, 4, 0);
	wr(&g, 1, DIST + 0x6000 + 8 * 40, 4, 3);
	/* It was queued on vCPU 2 again; vCPU 2's next exit (it was kicked) moves it on. */
	assert_false(in_lrs(&g, 2, 40));
	assert_true(in_lrs(&g, 3, 40));
	/* IROUTER of SGIs and PPIs does not exist. */
	wr(&g, 0, DIST + 0x6000 + 8 * 20, 8, 1);
	assert_int_equal(rd(&g, 0, DIST + 0x6000 + 8 * 20, 8), 0);
	ivy_vm_close(g.vm);
}

/* GICR_TYPER: Processor_Number, affinity, PLPIS, Last; WAKER RAZ/WI. */
static void test_redist_typer_waker(void **state)
{
	struct gic3 g;

	(void)state;
	gic3_new(&g, 18);
	for (uint32_t i = 0; i < 18; i++) {
		uint64_t typer = rd(&g, 0, RD(i) + 8, 8);
		uint64_t mpidr = ivy_vcpu_mpidr(cpu(&g, i));

		assert_int_equal((typer >> 8) & 0xffff, i);
		assert_int_equal(typer >> 32, mpidr & 0xffffff);
		assert_int_equal(typer & 1, 1);
		assert_int_equal((typer >> 4) & 1, i == 17);
		/* The same, in 32-bit halves. */
		assert_int_equal(rd(&g, 1, RD(i) + 12, 4), typer >> 32);
	}
	wr(&g, 0, RD(1) + 0x14, 4, 0xffffffff);
	assert_int_equal(rd(&g, 0, RD(1) + 0x14, 4), 0);
	ivy_vm_close(g.vm);
}

/* GICR_CTLR.EnableLPIs set and clear; PROPBASER/PENDBASER ignore writes while it is set. */
static void test_redist_lpi_controls(void **state)
{
	struct gic3 g;

	(void)state;
	gic3_new(&g, 2);
	wr(&g, 0, RD(1) + 0x70, 8, 0x40001000ull | 0xf);
	assert_int_equal(rd(&g, 0, RD(1) + 0x70, 8), 0x40001000ull | 0xf);
	wr(&g, 0, RD(1) + 0x78, 8, 0x40010000ull | (1ull << 62));
	assert_int_equal(rd(&g, 0, RD(1) + 0x78, 8), 0x40010000ull); /* PTZ reads 0 */
	wr(&g, 0, RD(1), 4, 1);
	assert_int_equal(rd(&g, 0, RD(1), 4), 1);
	wr(&g, 0, RD(1) + 0x70, 8, 0x50000000ull);
	wr(&g, 0, RD(1) + 0x78, 4, 0x50000000u);
	assert_int_equal(rd(&g, 0, RD(1) + 0x70, 8), 0x40001000ull | 0xf);
	assert_int_equal(rd(&g, 0, RD(1) + 0x78, 8), 0x40010000ull);
	wr(&g, 0, RD(1), 4, 0);
	assert_int_equal(rd(&g, 0, RD(1), 4), 0);
	wr(&g, 0, RD(1) + 0x70, 8, 0x50000000ull);
	assert_int_equal(rd(&g, 0, RD(1) + 0x70, 8), 0x50000000ull);
	/* Other redistributors are separate. */
	assert_int_equal(rd(&g, 0, RD(0) + 0x70, 8), 0);
	ivy_vm_close(g.vm);
}

/* SGI frame: ICFGR0 0xAAAAAAAA and ICFGR1 level, read-only; SGIs enable like any IRQ. */
static void test_sgi_frame(void **state)
{
	struct gic3 g;

	(void)state;
	gic3_new(&g, 2);
	wr(&g, 0, DIST, 4, 3);
	assert_int_equal(rd(&g, 0, SGI(1) + 0xc00, 4), 0xaaaaaaaa);
	assert_int_equal(rd(&g, 0, SGI(1) + 0xc04, 4), 0);
	wr(&g, 0, SGI(1) + 0xc00, 4, 0);
	wr(&g, 0, SGI(1) + 0xc04, 4, 0xffffffff);
	assert_int_equal(rd(&g, 0, SGI(1) + 0xc00, 4), 0xaaaaaaaa);
	assert_int_equal(rd(&g, 0, SGI(1) + 0xc04, 4), 0);
	/* Unlike GICv2, SGIs reset disabled and can be disabled. */
	assert_int_equal(rd(&g, 0, SGI(1) + 0x100, 4), 0);
	wr(&g, 0, SGI(1) + 0x100, 4, 0x08000001);
	assert_int_equal(rd(&g, 0, SGI(1) + 0x100, 4), 0x08000001);
	wr(&g, 0, SGI(1) + 0x180, 4, 1);
	assert_int_equal(rd(&g, 0, SGI(1) + 0x100, 4), 0x08000000);
	/* A PPI of vCPU 1, configured through vCPU 1's SGI frame from vCPU 0. */
	test_mmio_write(cpu(&g, 0), SGI(1) + 0x400 + 27, 1, 0xff);
	assert_int_equal(test_mmio_read(cpu(&g, 0), SGI(1) + 0x400 + 27, 1), 0xf8);
	assert_int_equal(ivy_irq_line(g.vm, 27, 1, true), 0);
	assert_int_equal(rd(&g, 0, SGI(1) + 0x200, 4), 1u << 27);
	assert_int_equal(rd(&g, 0, SGI(0) + 0x200, 4), 0);
	assert_true(in_lrs(&g, 1, 27));
	assert_false(in_lrs(&g, 0, 27));
	wr(&g, 0, SGI(1) + 0xd00, 4, 0xffffffff);
	assert_int_equal(rd(&g, 0, SGI(1) + 0xd00, 4), 0);
	ivy_vm_close(g.vm);
}

/* Control API: 64 KiB alignment, one GIC of any type, register groups, >8 vCPUs. */
static void test_v3_control_api(void **state)
{
	struct ivy_vm *vm = test_vm_new(12);
	struct gic3 g = { .vm = vm, .nr = 12 };
	struct ivy_device *other;
	uint64_t a = DIST + 0x1000;
	uint32_t v;

	(void)state;
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V3, &g.dev), 0);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &other), -EEXIST);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V3, &other), -EEXIST);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, &a), -EINVAL);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_CPU, &a), -ENXIO);
	a = DIST;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, &a), 0);
	assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, 0)), -ENXIO);
	/* Redistributors overlapping the distributor: found at the first run. */
	a = DIST;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST, &a), 0);
	assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, 0)), -EINVAL);
	ivy_vm_close(vm);

	gic3_new(&g, 12);
	for (uint32_t i = 0; i < 12; i++)
		ivy_vcpu_sync(cpu(&g, i));
	/* REDIST_REGS by affinity: vCPU 11 has Aff0 11. */
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_REDIST_REGS, (11ull << 32) | 0x8, &v), 0);
	assert_int_equal(v, 11u << 8 | 1 | (1u << 4));
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_REDIST_REGS, (11ull << 32) | 0xc, &v), 0);
	assert_int_equal(v, 11);
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_REDIST_REGS, (99ull << 32) | 0x8, &v), -EINVAL);
	v = 0x80808080;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_REDIST_REGS, (3ull << 32) | 0x10400, &v), 0);
	assert_int_equal(rd(&g, 0, SGI(3) + 0x400, 4), 0x80808080);
	v = 0x81;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_REDIST_REGS, (3ull << 32) | 0x10400, &v),
			 -EINVAL);
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_REDIST_REGS, (3ull << 32) | 0x20000, &v),
			 -ENXIO);
	/* DIST_REGS need no vCPU; IROUTER halves; bad affinity bits refused. */
	v = 5;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_DIST_REGS, 0x6000 + 8 * 50, &v), 0);
	assert_int_equal(rd(&g, 0, DIST + 0x6000 + 8 * 50, 8), 5);
	v = 0x80000000;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_DIST_REGS, 0x6000 + 8 * 50, &v), -EINVAL);
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_CPU_REGS, 0, &v), -ENXIO);
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_V2M, 0, &v), -ENXIO);
	{
		struct ivy_device_attr has = { .group = IVY_VGIC_GRP_REDIST_REGS, .attr = 0x10100 };

		assert_int_equal(ivy_device_has_attr(g.dev, &has), 0);
		has.attr = 0x10104;
		assert_int_equal(ivy_device_has_attr(g.dev, &has), -ENXIO);
	}
	ivy_vm_close(g.vm);
}

#define ICC(crn, crm, op2) IVY_SYSREG(3, 0, crn, crm, op2)
#define ICC_PMR		   ICC(4, 6, 0)
#define ICC_IAR0	   ICC(12, 8, 0)
#define ICC_EOIR0	   ICC(12, 8, 1)
#define ICC_HPPIR0	   ICC(12, 8, 2)
#define ICC_AP0R0	   ICC(12, 8, 4)
#define ICC_AP1R0	   ICC(12, 9, 0)
#define ICC_RPR		   ICC(12, 11, 3)
#define ICC_SGI1R	   ICC(12, 11, 5)
#define ICC_SGI0R	   ICC(12, 11, 7)
#define ICC_IAR1	   ICC(12, 12, 0)
#define ICC_EOIR1	   ICC(12, 12, 1)
#define ICC_HPPIR1	   ICC(12, 12, 2)
#define ICC_CTLR	   ICC(12, 12, 4)
#define ICC_SRE		   ICC(12, 12, 5)
#define ICC_IGRPEN0	   ICC(12, 12, 6)
#define ICC_IGRPEN1	   ICC(12, 12, 7)

static uint64_t icc_rd(struct gic3 *g, uint32_t c, uint32_t enc)
{
	uint64_t v = 0xdead;

	assert_int_equal(ivy_vcpu_sysreg(cpu(g, c), enc, false, &v), 0);
	return v;
}

static void icc_wr(struct gic3 *g, uint32_t c, uint32_t enc, uint64_t v)
{
	assert_int_equal(ivy_vcpu_sysreg(cpu(g, c), enc, true, &v), 0);
}

static void reenter(struct gic3 *g, uint32_t c)
{
	ivy_vcpu_sync(cpu(g, c));
	assert_int_equal(ivy_vcpu_flush(cpu(g, c)), 0);
}

/* ICC: group separation of IAR0/IAR1, FIQ for Group 0, IGRPEN gating, SRE, CTLR. */
static void test_icc_groups(void **state)
{
	struct gic3 g;
	uint64_t v;

	(void)state;
	gic3_new(&g, 1);
	wr(&g, 0, DIST, 4, 3);
	wr(&g, 0, DIST + 0x104, 4, 3u << 8);			 /* enable SPIs 40, 41 */
	wr(&g, 0, DIST + 0x84, 4, 1u << 8);			 /* SPI 40 Group 1 */
	test_mmio_write(cpu(&g, 0), DIST + 0x400 + 40, 1, 0x10); /* Group 1 higher priority */
	test_mmio_write(cpu(&g, 0), DIST + 0x400 + 41, 1, 0x80);
	icc_wr(&g, 0, ICC_PMR, 0xff);
	icc_wr(&g, 0, ICC_IGRPEN0, 1);
	assert_int_equal(icc_rd(&g, 0, ICC_SRE), 7);
	icc_wr(&g, 0, ICC_SRE, 0);
	assert_int_equal(icc_rd(&g, 0, ICC_SRE), 7);
	assert_int_equal(icc_rd(&g, 0, ICC_CTLR) & 0x700, 0x400);
	assert_int_equal(ivy_irq_line(g.vm, 40, 0, true), 0);
	assert_int_equal(ivy_irq_line(g.vm, 41, 0, true), 0);
	reenter(&g, 0);
	/* Group 1 disabled at the CPU interface does not hide the Group 0 interrupt. */
	assert_int_equal(icc_rd(&g, 0, ICC_HPPIR0), 41);
	assert_int_equal(icc_rd(&g, 0, ICC_HPPIR1), 1023);
	assert_int_equal(ivy_vcpu_irq_lines(cpu(&g, 0)), IVY_IRQ_LINE_FIQ);
	icc_wr(&g, 0, ICC_IGRPEN1, 1);
	assert_int_equal(ivy_vcpu_irq_lines(cpu(&g, 0)), IVY_IRQ_LINE_IRQ);
	/* IAR0 never acknowledges Group 1 and vice versa. */
	assert_int_equal(icc_rd(&g, 0, ICC_IAR0), 41);
	assert_int_equal(icc_rd(&g, 0, ICC_AP0R0), 1u << (0x80 >> 3));
	assert_int_equal(icc_rd(&g, 0, ICC_IAR1), 40); /* preempts: higher priority */
	assert_int_equal(icc_rd(&g, 0, ICC_AP1R0), 1u << (0x10 >> 3));
	assert_int_equal(icc_rd(&g, 0, ICC_RPR), 0x10);
	assert_int_equal(icc_rd(&g, 0, ICC_IAR1), 1023);
	assert_int_equal(ivy_irq_line(g.vm, 40, 0, false), 0);
	assert_int_equal(ivy_irq_line(g.vm, 41, 0, false), 0);
	icc_wr(&g, 0, ICC_EOIR1, 40);
	icc_wr(&g, 0, ICC_EOIR0, 41);
	assert_int_equal(icc_rd(&g, 0, ICC_RPR), 0xff);
	reenter(&g, 0);
	assert_int_equal(rd(&g, 0, DIST + 0x304, 4), 0);
	/* Not a GIC register: the VMM treats it as undefined. */
	v = 0;
	assert_int_equal(ivy_vcpu_sysreg(cpu(&g, 0), ICC(12, 10, 0), false, &v), -ENOENT);
	/* Save/restore through CPU_SYSREGS (vCPU 0: affinity 0). */
	ivy_vcpu_sync(cpu(&g, 0));
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_CPU_SYSREGS, ICC_PMR, &v), 0);
	assert_int_equal(v, 0xf8);
	v = 0x80;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_CPU_SYSREGS, ICC_PMR, &v), 0);
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_CPU_SYSREGS, ICC_IAR1, &v), -ENXIO);
	v = 1ull << 40;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_CPU_SYSREGS, ICC_PMR, &v), -EINVAL);
	assert_int_equal(ivy_vcpu_flush(cpu(&g, 0)), 0);
	assert_int_equal(icc_rd(&g, 0, ICC_PMR), 0x80);
	ivy_vm_close(g.vm);
}

/* ICC_SGI1R: affinity target list with RS (Aff0 >= 16 reachable), IRM; SGI0R only Group 0. */
static void test_icc_sgi(void **state)
{
	struct gic3 g;
	uint64_t a;

	(void)state;
	g.vm = test_vm_new(3);
	g.nr = 3;
	/* vCPU 2 at Aff0 20 (Aff1 0): only RS = 1 reaches it. */
	assert_int_equal(ivy_vcpu_set_mpidr(cpu(&g, 2), 20), 0);
	assert_int_equal(ivy_device_create(g.vm, IVY_DEV_TYPE_ARM_VGIC_V3, &g.dev), 0);
	a = DIST;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, &a), 0);
	a = REDIST;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST, &a), 0);
	for (uint32_t c = 0; c < 3; c++)
		assert_int_equal(ivy_vcpu_flush(cpu(&g, c)), 0);
	wr(&g, 0, DIST, 4, 3);
	for (uint32_t c = 0; c < 3; c++) {
		wr(&g, 0, SGI(c) + 0x80, 4, 1u << 5); /* SGI 5 Group 1 */
		wr(&g, 0, SGI(c) + 0x100, 4, (1u << 5) | (1u << 6));
	}
	icc_wr(&g, 0, ICC_SGI1R, (1ull << 44) | (5ull << 24) | (1u << 4)); /* RS 1, Aff0 20 */
	assert_int_equal(rd(&g, 0, SGI(2) + 0x200, 4), 1u << 5);
	assert_int_equal(rd(&g, 0, SGI(1) + 0x200, 4), 0);
	icc_wr(&g, 0, ICC_SGI1R, (5ull << 24) | (1u << 4)); /* RS 0, Aff0 4: nobody */
	assert_int_equal(rd(&g, 0, SGI(1) + 0x200, 4) | rd(&g, 0, SGI(0) + 0x200, 4), 0);
	icc_wr(&g, 1, ICC_SGI1R, (1ull << 40) | (6ull << 24)); /* IRM: all but self */
	assert_int_equal(rd(&g, 0, SGI(0) + 0x200, 4), 1u << 6);
	assert_int_equal(rd(&g, 0, SGI(1) + 0x200, 4), 0);
	assert_int_equal(rd(&g, 0, SGI(2) + 0x200, 4), (1u << 5) | (1u << 6));
	/* SGI0R does not raise a Group 1 SGI. */
	icc_wr(&g, 2, ICC_SGI0R, (1ull << 40) | (5ull << 24));
	assert_int_equal(rd(&g, 0, SGI(0) + 0x200, 4), 1u << 6);
	/* Delivered to vCPU 2 and acknowledged there (no source CPU in the ID on GICv3). */
	icc_wr(&g, 2, ICC_PMR, 0xff);
	icc_wr(&g, 2, ICC_IGRPEN1, 1);
	icc_wr(&g, 2, ICC_IGRPEN0, 1);
	reenter(&g, 2);
	assert_int_equal(icc_rd(&g, 2, ICC_IAR1), 5);
	assert_int_equal(icc_rd(&g, 2, ICC_IAR0), 1023); /* SGI 6 is Group 0 but preempted */
	icc_wr(&g, 2, ICC_EOIR1, 5);
	assert_int_equal(icc_rd(&g, 2, ICC_IAR0), 6);
	ivy_vm_close(g.vm);
}

static uint64_t rdreg(uint64_t count, uint64_t base, uint64_t index)
{
	return (count << 52) | base | index;
}

/* REDIST_REGION: KVM's rules, the layout of vCPUs over regions, and GICR_TYPER.Last. */
static void test_redist_regions(void **state)
{
	struct gic3 g = { .vm = test_vm_new(5), .nr = 5 };
	uint64_t v;

	(void)state;
	assert_int_equal(ivy_device_create(g.vm, IVY_DEV_TYPE_ARM_VGIC_V3, &g.dev), 0);
	v = DIST;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, &v), 0);
	v = rdreg(2, REDIST, 1);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), -EINVAL); /* index 0 first */
	v = rdreg(0, REDIST, 0);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), -EINVAL); /* count 0 */
	v = rdreg(2, REDIST, 0) | 0x1000;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), -EINVAL); /* reserved bits */
	v = rdreg(2, DIST, 0);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), -EINVAL); /* over the GICD */
	v = rdreg(2, 1ull << 44, 0);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), -E2BIG);
	v = rdreg(2, REDIST, 0);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), 0);
	v = rdreg(4, REDIST + 0x20000, 1);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), -EINVAL); /* overlaps */
	v = rdreg(4, 0x10000000, 1);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), 0);
	v = 0x20000000;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST, &v),
			 -EINVAL); /* no mixing */
	v = 1;
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_ADDR, 5, &v), 0);
	assert_int_equal(v, rdreg(4, 0x10000000, 1));
	v = 2;
	assert_int_equal(attr_get(&g, IVY_VGIC_GRP_ADDR, 5, &v), -ENOENT);
	for (uint32_t c = 0; c < 5; c++)
		assert_int_equal(ivy_vcpu_flush(cpu(&g, c)), 0);
	/* vCPUs 0-1 in region 0 (Last on 1), 2-4 in region 1 (Last on 4). */
	static const struct {
		ivy_gpa_t rd;
		uint32_t index;
		bool last;
	} layout[] = {
		{ REDIST, 0, false },	  { REDIST + 0x20000, 1, true }, { 0x10000000, 2, false },
		{ 0x10020000, 3, false }, { 0x10040000, 4, true },
	};
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		uint64_t typer = rd(&g, 0, layout[i].rd + 8, 8);

		assert_int_equal((typer >> 8) & 0xffff, layout[i].index);
		assert_int_equal((typer >> 4) & 1, layout[i].last);
	}
	ivy_vm_close(g.vm);

	/* Fewer redistributors than vCPUs: the first run fails. */
	g.vm = test_vm_new(3);
	assert_int_equal(ivy_device_create(g.vm, IVY_DEV_TYPE_ARM_VGIC_V3, &g.dev), 0);
	v = DIST;
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, &v), 0);
	v = rdreg(2, REDIST, 0);
	assert_int_equal(attr_set(&g, IVY_VGIC_GRP_ADDR, 5, &v), 0);
	assert_int_equal(ivy_vcpu_flush(cpu(&g, 0)), -ENXIO);
	ivy_vm_close(g.vm);
}

/* 512 vCPUs: redistributors, affinity routing and SGIs reach the last one. */
static void test_512_vcpus(void **state)
{
	struct gic3 g;
	uint64_t mpidr, v;

	(void)state;
	gic3_new(&g, 512);
	mpidr = ivy_vcpu_mpidr(cpu(&g, 511)); /* Aff1 31, Aff0 15 */
	assert_int_equal(rd(&g, 0, RD(511) + 8, 8) >> 32, mpidr & 0xffffff);
	assert_int_equal((rd(&g, 0, RD(511) + 8, 8) >> 8) & 0xffff, 511);
	wr(&g, 0, DIST, 4, 3);
	/* SPI 40 routed to vCPU 300 (Aff1 18, Aff0 12). */
	wr(&g, 0, DIST + 0x104, 4, 1u << 8);
	wr(&g, 0, DIST + 0x6000 + 8 * 40, 8, ivy_vcpu_mpidr(cpu(&g, 300)) & 0xffffff);
	assert_int_equal(ivy_irq_line(g.vm, 40, 0, true), 0);
	assert_true(in_lrs(&g, 300, 40));
	/* SGI 3 from vCPU 0 to Aff1 31, target list bit 15. */
	wr(&g, 0, SGI(511) + 0x100, 4, 1u << 3);
	v = (31ull << 16) | (3ull << 24) | (1u << 15);
	assert_int_equal(ivy_vcpu_sysreg(cpu(&g, 0), IVY_SYSREG(3, 0, 12, 11, 5), true, &v), 0);
	assert_true(in_lrs(&g, 511, 3));
	assert_false(in_lrs(&g, 510, 3));
	ivy_vm_close(g.vm);
}

static void test_v3_descriptor_tables(void **state)
{
	(void)state;
	assert_int_equal(vgic_frame_check(&vgic_v3_dist_frame), 0);
	assert_int_equal(vgic_frame_check(&vgic_v3_rd_frame), 0);
	assert_int_equal(vgic_frame_check(&vgic_v3_sgi_frame), 0);
	assert_int_equal(vgic_frame_check(&vgic_v3_icc_frame), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dist_ctlr_typer),
		cmocka_unit_test(test_irouter),
		cmocka_unit_test(test_redist_typer_waker),
		cmocka_unit_test(test_redist_lpi_controls),
		cmocka_unit_test(test_sgi_frame),
		cmocka_unit_test(test_v3_control_api),
		cmocka_unit_test(test_icc_groups),
		cmocka_unit_test(test_icc_sgi),
		cmocka_unit_test(test_redist_regions),
		cmocka_unit_test(test_512_vcpus),
		cmocka_unit_test(test_v3_descriptor_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
