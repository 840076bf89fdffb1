/* SPDX-License-Identifier: MIT */
/*
 * GICv2 as a guest sees it: one test (at least) per line of GIC-CHOICES.md's
 * "Both versions" and "GICv2" sections, plus the level/edge corners. Every
 * access goes through ivy_vcpu_mmio, with flush/sync where a VMM would call them.
 */
#include "vgic_testutil.h"

#include "gic/vgic.h"

#include <errno.h>

#define SPI 40

/* Both: bad widths, misaligned accesses and reserved offsets are RAZ/WI and counted. */
static void test_bad_access_razwi_counted(void **state)
{
	static const struct {
		uint32_t off;
		unsigned len;
	} cases[] = {
		{ GICD_ISENABLER + 4, 1 },   /* 1-bit bank: word only */
		{ GICD_ISENABLER + 4, 2 },   /* halfword */
		{ GICD_ISENABLER + 4, 8 },   /* doubleword */
		{ GICD_ISENABLER + 5, 4 },   /* misaligned */
		{ GICD_IPRIORITYR + 41, 2 }, /* halfword in a byte bank */
		{ 0x00c, 4 },		     /* reserved */
		{ 0xe00, 4 },		     /* reserved */
		{ GICD_CTLR + 1, 1 },	     /* byte of a word register */
	};
	struct gic g;

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	for (size_t i = 0; i < IVY_ARRAY_SIZE(cases); i++) {
		uint64_t before = ivy_vm_stat(g.vm, IVY_STAT_GIC_BAD_ACCESS);

		assert_int_equal(
			test_mmio_read(g.vcpu[0], GIC_DIST_BASE + cases[i].off, cases[i].len), 0);
		test_mmio_write(g.vcpu[0], GIC_DIST_BASE + cases[i].off, cases[i].len, 0);
		assert_int_equal(ivy_vm_stat(g.vm, IVY_STAT_GIC_BAD_ACCESS), before + 2);
	}
	/* The ignored writes changed nothing. */
	assert_int_equal(gicd_read(&g, 0, GICD_ISENABLER + 4), 1u << (SPI - 32));
	assert_int_equal(gicd_read(&g, 0, GICD_CTLR), 3);
	/* Architected accesses are not counted: byte priority, INTIDs beyond the GIC. */
	{
		uint64_t before = ivy_vm_stat(g.vm, IVY_STAT_GIC_BAD_ACCESS);

		assert_int_equal(
			test_mmio_read(g.vcpu[0], GIC_DIST_BASE + GICD_IPRIORITYR + SPI, 1), 0x80);
		assert_int_equal(gicd_read(&g, 0, GICD_ISENABLER + 0x7c), 0);
		/* The CPU interface has its own bad accesses. */
		assert_int_equal(test_mmio_read(g.vcpu[0], GIC_CPU_BASE + GICC_PMR, 1), 0);
		assert_int_equal(ivy_vm_stat(g.vm, IVY_STAT_GIC_BAD_ACCESS), before + 1);
	}
	gic_free(&g);
}

/* Both: pending = latch OR line for level interrupts. */
static void test_level_latch_and_line(void **state)
{
	struct gic g;
	uint32_t bit = 1u << (SPI - 32);

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & bit, bit);
	/* Clearing the latch does not clear a high line. */
	gicd_write(&g, 0, GICD_ICPENDR + 4, bit);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & bit, bit);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, false), 0);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & bit, 0);
	/* A latched level interrupt stays pending with its line low. */
	gicd_write(&g, 0, GICD_ISPENDR + 4, bit);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & bit, bit);
	assert_int_equal(gic_ack(&g, 0), SPI);
	/* The acknowledge consumed the latch. */
	gic_eoi(&g, 0, SPI);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & bit, 0);
	assert_int_equal(gic_ack(&g, 0), 1023);
	gic_free(&g);
}

/* Both: a level interrupt EOIed while its line is high becomes pending again. */
static void test_level_eoi_line_high_repends(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(gic_ack(&g, 0), SPI);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, false), 0);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(gic_ack(&g, 0), 1023);
	gic_free(&g);
}

static unsigned resample_calls;
static void count_resample(void *opaque)
{
	(void)opaque;
	resample_calls++;
}

/* Both: the device behind a level SPI is told once per EOI (resample). */
static void test_level_resample_once_per_eoi(void **state)
{
	struct gic g;
	const struct vm_irq_ops *ops;

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	ops = atomic_load(&g.vm->irq_ops);
	assert_non_null(ops);
	resample_calls = 0;
	assert_int_equal(ops->add_resample(g.vm, SPI, count_resample, NULL), 0);
	assert_int_equal(ops->set_spi(g.vm, SPI, true), 0);
	assert_int_equal(gic_ack(&g, 0), SPI);
	assert_int_equal(resample_calls, 0);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(resample_calls, 1);
	/* Further exits without another EOI do not resample again. */
	gic_reenter(&g, 0);
	gic_reenter(&g, 0);
	assert_int_equal(resample_calls, 1);
	assert_int_equal(ops->set_spi(g.vm, SPI, false), 0);
	ops->del_resample(g.vm, SPI, count_resample, NULL);
	assert_int_equal(ops->set_spi(g.vm, SPI, true), 0);
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(resample_calls, 1);
	gic_free(&g);
}

static void set_edge(struct gic *g, uint32_t intid)
{
	uint32_t off = GICD_ICFGR + (intid / 16) * 4;

	gicd_write(g, 0, off, gicd_read(g, 0, off) | (2u << ((intid % 16) * 2)));
}

/* Both: an edge asserted several times while pending is delivered once. */
static void test_edge_coalesces_while_pending(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 1, 0, 0);
	set_edge(&g, SPI);
	gic_enable_irq(&g, SPI, 0x80, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
		assert_int_equal(ivy_irq_line(g.vm, SPI, 0, false), 0);
		gic_reenter(&g, 0); /* also while it sits in a list register */
	}
	/* A line held high is one edge only. */
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(gic_ack(&g, 0), 1023);
	gic_free(&g);
}

/* Both: asserted while active, an edge becomes active and pending, delivered after deactivation. */
static void test_edge_while_active(void **state)
{
	struct gic g;
	uint32_t bit = 1u << (SPI - 32);

	(void)state;
	gic_new(&g, 1, 0, 0);
	set_edge(&g, SPI);
	gic_enable_irq(&g, SPI, 0x80, 0);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(gic_ack(&g, 0), SPI);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, false), 0);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	gic_reenter(&g, 0);
	assert_int_equal(gicd_read(&g, 0, GICD_ISACTIVER + 4) & bit, bit);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & bit, bit);
	/* Not again while active. */
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 1023);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(gicd_read(&g, 0, GICD_ISACTIVER + 4) & bit, 0);
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(gic_ack(&g, 0), 1023);
	gic_free(&g);
}

/* Both: asserted while disabled, an interrupt stays pending and is delivered when enabled. */
static void test_disabled_stays_pending(void **state)
{
	struct gic g;
	uint32_t bit = 1u << (SPI - 32);

	(void)state;
	gic_new(&g, 1, 0, 0);
	set_edge(&g, SPI);
	gicd_write(&g, 0, GICD_ITARGETSR + SPI, 0x01010101);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & bit, bit);
	assert_int_equal(gic_ack(&g, 0), 1023);
	gicd_write(&g, 0, GICD_ISENABLER + 4, bit);
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_eoi(&g, 0, SPI);
	/* Disabled while in a list register: retired, still pending, back when enabled. */
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, false), 0);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	gic_reenter(&g, 0);
	assert_int_equal(gich_read(&g, 0, GICH_LR(0)) & 0x3ff, SPI);
	gicd_write(&g, 0, GICD_ICENABLER + 4, bit);
	assert_int_equal(gich_read(&g, 0, GICH_ELRSR0) & 1, 1);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 1023);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & bit, bit);
	gicd_write(&g, 0, GICD_ISENABLER + 4, bit);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), SPI);
	gic_free(&g);
}

/* Both: 5 priority bits. */
static void test_priority_five_bits(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 1, 0, 0);
	test_mmio_write(g.vcpu[0], GIC_DIST_BASE + GICD_IPRIORITYR + SPI, 1, 0xff);
	assert_int_equal(test_mmio_read(g.vcpu[0], GIC_DIST_BASE + GICD_IPRIORITYR + SPI, 1), 0xf8);
	gicd_write(&g, 0, GICD_IPRIORITYR + 4, 0xffffffff);
	assert_int_equal(gicd_read(&g, 0, GICD_IPRIORITYR + 4), 0xf8f8f8f8);
	gicc_write(&g, 0, GICC_PMR, 0xff);
	assert_int_equal(gicc_read(&g, 0, GICC_PMR), 0xf8);
	gic_free(&g);
}

/* GICv2: SGIs always enabled; SGI bits of ISPENDR/ICPENDR ignored. */
static void test_sgi_enable_and_pending_bits(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 2, 0, 0);
	assert_int_equal(gicd_read(&g, 0, GICD_ISENABLER) & 0xffff, 0xffff);
	gicd_write(&g, 0, GICD_ICENABLER, 0xffffffff);
	assert_int_equal(gicd_read(&g, 0, GICD_ISENABLER), 0xffff);
	gicd_write(&g, 0, GICD_ISPENDR, 0xffff);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR), 0);
	assert_int_equal(gic_ack(&g, 0), 1023);
	/* Through SPENDSGIR it works, and ICPENDR cannot clear it. */
	test_mmio_write(g.vcpu[0], GIC_DIST_BASE + GICD_SPENDSGIR + 3, 1, 0x02);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR), 1u << 3);
	gicd_write(&g, 0, GICD_ICPENDR, 0xffff);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR), 1u << 3);
	assert_int_equal(gicd_read(&g, 0, GICD_SPENDSGIR), 0x02000000);
	/* Absent source CPUs are ignored. */
	test_mmio_write(g.vcpu[0], GIC_DIST_BASE + GICD_SPENDSGIR + 3, 1, 0xf0);
	assert_int_equal(gicd_read(&g, 0, GICD_SPENDSGIR), 0x02000000);
	gicd_write(&g, 0, GICD_CPENDSGIR, 0x02000000);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR), 0);
	gic_free(&g);
}

/* GICv2: an SGI from CPUs 1 and 3 to CPU 0 is acknowledged twice, lowest source first. */
static void test_sgi_sources(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 4, 0, 0);
	gicd_write(&g, 3, GICD_SGIR, (1u << 16) | 5);
	gicd_write(&g, 1, GICD_SGIR, (1u << 16) | 5);
	assert_int_equal(gicd_read(&g, 0, GICD_SPENDSGIR + 4), 0x0a << 8);
	assert_int_equal(gic_ack(&g, 0), 5 | (1u << 10));
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 1023); /* same priority: no preemption */
	gicc_write(&g, 0, GICC_EOIR, 5 | (1u << 10));
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 5 | (3u << 10));
	gic_eoi(&g, 0, 5 | (3u << 10));
	assert_int_equal(gic_ack(&g, 0), 1023);
	assert_int_equal(gicd_read(&g, 0, GICD_SPENDSGIR + 4), 0);
	gic_free(&g);
}

/* GICv2: SGIR target filters; 0b11 sends nothing; absent CPUs ignored. */
static void test_sgir_filters(void **state)
{
	static const struct {
		uint32_t sgir;
		uint32_t pending_cpus; /* which CPUs get SGI 2 from CPU 1 */
	} cases[] = {
		{ (0u << 24) | (0x05u << 16) | 2, 0x5 },
		{ (0u << 24) | (0xf8u << 16) | 2, 0x8 }, /* CPUs 4-7 absent */
		{ (1u << 24) | 2, 0xd },		 /* all but self */
		{ (2u << 24) | 2, 0x2 },		 /* self */
		{ (3u << 24) | (0xffu << 16) | 2, 0x0 }, /* reserved: nothing */
	};
	struct gic g;

	(void)state;
	gic_new(&g, 4, 0, 0);
	for (size_t i = 0; i < IVY_ARRAY_SIZE(cases); i++) {
		gicd_write(&g, 1, GICD_SGIR, cases[i].sgir);
		for (unsigned c = 0; c < 4; c++) {
			uint32_t src = gicd_read(&g, c, GICD_SPENDSGIR) >> 16 & 0xff;

			assert_int_equal(src, (cases[i].pending_cpus >> c) & 1 ? 0x2 : 0);
			gicd_write(&g, c, GICD_CPENDSGIR, 0xffffffff);
		}
	}
	gic_free(&g);
}

/* GICv2: ITARGETSR0-7 read the accessing CPU's bit; SPI targets of absent CPUs read zero. */
static void test_itargetsr(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 3, 0, 0);
	for (unsigned c = 0; c < 3; c++)
		for (uint32_t r = 0; r < 8; r++)
			assert_int_equal(gicd_read(&g, c, GICD_ITARGETSR + 4 * r),
					 0x01010101u << c);
	gicd_write(&g, 2, GICD_ITARGETSR, 0);
	assert_int_equal(gicd_read(&g, 2, GICD_ITARGETSR), 0x04040404);
	gicd_write(&g, 0, GICD_ITARGETSR + SPI, 0xff);
	assert_int_equal(gicd_read(&g, 0, GICD_ITARGETSR + SPI), 0x07);
	gic_free(&g);
	/* Also with a single vCPU. */
	gic_new(&g, 1, 0, 0);
	gicd_write(&g, 0, GICD_ITARGETSR + SPI, 0xffffffff);
	assert_int_equal(gicd_read(&g, 0, GICD_ITARGETSR + SPI), 0x01010101);
	gic_free(&g);
}

/* GICv2: an SPI with several targets goes to the lowest-numbered one. */
static void test_spi_lowest_target(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 4, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	test_mmio_write(g.vcpu[0], GIC_DIST_BASE + GICD_ITARGETSR + SPI, 1, 0x0c);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(gic_ack(&g, 3), 1023);
	assert_int_equal(gic_ack(&g, 2), SPI);
	gic_eoi(&g, 2, SPI);
	/* Retargeted while pending: it follows. */
	test_mmio_write(g.vcpu[0], GIC_DIST_BASE + GICD_ITARGETSR + SPI, 1, 0x08);
	gic_reenter(&g, 2);
	assert_int_equal(gic_ack(&g, 2), 1023);
	assert_int_equal(gic_ack(&g, 3), SPI);
	gic_free(&g);
}

/* GICv2: ICFGR: SGIs edge, PPIs level, read-only; SPIs configurable. */
static void test_icfgr(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 1, 0, 0);
	assert_int_equal(gicd_read(&g, 0, GICD_ICFGR), 0xaaaaaaaa);
	assert_int_equal(gicd_read(&g, 0, GICD_ICFGR + 4), 0);
	gicd_write(&g, 0, GICD_ICFGR, 0);
	gicd_write(&g, 0, GICD_ICFGR + 4, 0xffffffff);
	assert_int_equal(gicd_read(&g, 0, GICD_ICFGR), 0xaaaaaaaa);
	assert_int_equal(gicd_read(&g, 0, GICD_ICFGR + 4), 0);
	gicd_write(&g, 0, GICD_ICFGR + 8, 0xffffffff);
	assert_int_equal(gicd_read(&g, 0, GICD_ICFGR + 8), 0xaaaaaaaa);
	gic_free(&g);
}

/* GICv2: IGROUPR writable; Group 0 is FIQ only with FIQEn; AckCtl and AIAR for Group 1. */
static void test_groups_fiq_and_ack(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	gicd_write(&g, 0, GICD_IGROUPR + 4, 0xffffffff);
	assert_int_equal(gicd_read(&g, 0, GICD_IGROUPR + 4), 0xffffffff);
	gicd_write(&g, 0, GICD_IGROUPR + 4, 0);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	gic_reenter(&g, 0);
	assert_int_equal(ivy_vcpu_irq_lines(g.vcpu[0]), IVY_IRQ_LINE_IRQ);
	gicc_write(&g, 0, GICC_CTLR, 3 | (1u << 3));
	assert_int_equal(ivy_vcpu_irq_lines(g.vcpu[0]), IVY_IRQ_LINE_FIQ);
	/* Group 1: IAR answers 1022 unless AckCtl; AIAR acknowledges it. */
	gicd_write(&g, 0, GICD_IGROUPR + 4, 1u << (SPI - 32));
	gic_reenter(&g, 0);
	assert_int_equal(ivy_vcpu_irq_lines(g.vcpu[0]), IVY_IRQ_LINE_IRQ);
	assert_int_equal(gicc_read(&g, 0, GICC_HPPIR), 1022);
	assert_int_equal(gicc_read(&g, 0, GICC_AHPPIR), SPI);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 1022);
	assert_int_equal(gicc_read(&g, 0, GICC_AIAR), SPI);
	assert_int_equal(gicc_read(&g, 0, GICC_NSAPR0), gicc_read(&g, 0, GICC_APR0));
	assert_int_not_equal(gicc_read(&g, 0, GICC_APR0), 0);
	gicc_write(&g, 0, GICC_AEOIR, SPI);
	assert_int_equal(gicc_read(&g, 0, GICC_APR0), 0);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, false), 0);
	/* Group 1 disabled at the CPU interface: not signalled. */
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	gicc_write(&g, 0, GICC_CTLR, 1);
	gic_reenter(&g, 0);
	assert_int_equal(ivy_vcpu_irq_lines(g.vcpu[0]), 0);
	gicc_write(&g, 0, GICC_CTLR, 2 | (1u << 2));
	gic_reenter(&g, 0);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), SPI);
	gic_free(&g);
}

/* GICv2: PMR, BPR/ABPR, RPR, HPPIR, preemption, EOImode 1 with DIR, IIDR. */
static void test_cpu_interface(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	gic_enable_irq(&g, SPI + 1, 0x70, 0);
	gic_enable_irq(&g, SPI + 2, 0x60, 0);
	assert_int_equal(gicc_read(&g, 0, GICC_IIDR), (0x49u << 20) | (2u << 16) | 0x43bu);
	assert_int_equal(gicc_read(&g, 0, GICC_RPR), 0xff);
	/* Binary points: minimum 2 and 3; CBPR makes ABPR follow BPR. */
	gicc_write(&g, 0, GICC_BPR, 0);
	assert_int_equal(gicc_read(&g, 0, GICC_BPR), 2);
	gicc_write(&g, 0, GICC_ABPR, 0);
	assert_int_equal(gicc_read(&g, 0, GICC_ABPR), 3);
	gicc_write(&g, 0, GICC_CTLR, 3 | (1u << 4));
	gicc_write(&g, 0, GICC_BPR, 4);
	assert_int_equal(gicc_read(&g, 0, GICC_ABPR), 5);
	gicc_write(&g, 0, GICC_CTLR, 3);
	gicc_write(&g, 0, GICC_BPR, 2);
	/* Priority mask: only priorities below PMR are signalled. */
	gicc_write(&g, 0, GICC_PMR, 0x80);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	gic_reenter(&g, 0);
	assert_int_equal(gicc_read(&g, 0, GICC_HPPIR), SPI);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 1023);
	gicc_write(&g, 0, GICC_PMR, 0xf8);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), SPI);
	assert_int_equal(gicc_read(&g, 0, GICC_RPR), 0x80);
	/* Higher priority preempts; binary point 4 (group priority [7:5]) puts 0x70 with 0x60. */
	gicc_write(&g, 0, GICC_BPR, 4);
	assert_int_equal(ivy_irq_line(g.vm, SPI + 1, 0, true), 0);
	assert_int_equal(gic_ack(&g, 0), SPI + 1);
	assert_int_equal(gicc_read(&g, 0, GICC_RPR), 0x60);
	assert_int_equal(ivy_irq_line(g.vm, SPI + 2, 0, true), 0);
	gic_reenter(&g, 0);
	assert_int_equal(gicc_read(&g, 0, GICC_HPPIR), SPI + 2);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 1023);
	/* EOImode 1: EOIR drops the priority only, DIR deactivates. */
	gicc_write(&g, 0, GICC_CTLR, 3 | (1u << 9));
	assert_int_equal(ivy_irq_line(g.vm, SPI + 1, 0, false), 0);
	gicc_write(&g, 0, GICC_EOIR, SPI + 1);
	assert_int_equal(gicc_read(&g, 0, GICC_RPR), 0x80);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), SPI + 2);
	gic_reenter(&g, 0);
	assert_int_equal(gicd_read(&g, 0, GICD_ISACTIVER + 4) & (2u << (SPI - 32)),
			 2u << (SPI - 32));
	gicc_write(&g, 0, GICC_DIR, SPI + 1);
	gic_reenter(&g, 0);
	assert_int_equal(gicd_read(&g, 0, GICD_ISACTIVER + 4) & (2u << (SPI - 32)), 0);
	gicc_write(&g, 0, GICC_CTLR, 3);
	assert_int_equal(ivy_irq_line(g.vm, SPI + 2, 0, false), 0);
	gic_eoi(&g, 0, SPI + 2);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, false), 0);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(gicc_read(&g, 0, GICC_RPR), 0xff);
	assert_int_equal(gicd_read(&g, 0, GICD_ISACTIVER + 4), 0);
	/* Spurious IDs are ignored by EOIR. */
	gicc_write(&g, 0, GICC_EOIR, 1023);
	gic_free(&g);
}

/* GICv2m: MSI_TYPER, 16- and 32-bit SETSPI_NS, out-of-range IDs ignored, irq_ops MSIs. */
static void test_v2m(void **state)
{
	struct gic g;
	const struct vm_irq_ops *ops;
	uint32_t base = 80, bit = 1u << (base % 32);

	(void)state;
	gic_new(&g, 1, 0, 0);
	assert_int_equal(test_mmio_read(g.vcpu[0], GIC_V2M_BASE + 0x8, 4), (80u << 16) | 64);
	assert_int_equal(test_mmio_read(g.vcpu[0], GIC_V2M_BASE + 0xfcc, 4), (0x49u << 20) | 0x43b);
	set_edge(&g, base);
	gic_enable_irq(&g, base, 0x80, 0);
	test_mmio_write(g.vcpu[0], GIC_V2M_BASE + 0x40, 4, base);
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + (base / 32) * 4) & bit, bit);
	assert_int_equal(gic_ack(&g, 0), base);
	gic_eoi(&g, 0, base);
	test_mmio_write(g.vcpu[0], GIC_V2M_BASE + 0x40, 2, base);
	assert_int_equal(gic_ack(&g, 0), base);
	gic_eoi(&g, 0, base);
	/* Outside the range: ignored. */
	gic_enable_irq(&g, 79, 0x80, 0);
	gic_enable_irq(&g, 144, 0x80, 0);
	test_mmio_write(g.vcpu[0], GIC_V2M_BASE + 0x40, 4, 79);
	test_mmio_write(g.vcpu[0], GIC_V2M_BASE + 0x40, 4, 144);
	assert_int_equal(gic_ack(&g, 0), 1023);
	ops = atomic_load(&g.vm->irq_ops);
	assert_int_equal(ops->signal_msi(g.vm, GIC_V2M_BASE + 0x40, base, 0), 1);
	assert_int_equal(ops->signal_msi(g.vm, GIC_V2M_BASE + 0x40, 144, 0), 0);
	assert_int_equal(ops->signal_msi(g.vm, GIC_V2M_BASE + 0x44, base, 0), -EINVAL);
	assert_int_equal(gic_ack(&g, 0), base);
	gic_free(&g);
}

/* TYPER, IIDR and the ID registers. */
static void test_id_registers(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 3, 160, 0);
	assert_int_equal(gicd_read(&g, 0, GICD_TYPER), 4 | (2u << 5));
	assert_int_equal(gicd_read(&g, 0, GICD_IIDR), (0x49u << 24) | (2u << 12) | 0x43b);
	assert_int_equal(gicd_read(&g, 0, GICD_PIDR2), 0x2b);
	assert_int_equal(gicd_read(&g, 0, 0xff0), 0x0d);
	assert_int_equal(gicd_read(&g, 0, 0xffc), 0xb1);
	/* IRQs beyond the configured 160 are RAZ/WI. */
	gicd_write(&g, 0, GICD_ISENABLER + 20, 0xffffffff);
	assert_int_equal(gicd_read(&g, 0, GICD_ISENABLER + 20), 0);
	assert_int_equal(ivy_irq_line(g.vm, 160, 0, true), -EINVAL);
	gic_free(&g);
}

/* GICD_CTLR gates delivery per group; enabling releases what was pending. */
static void test_dist_enable(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	gicd_write(&g, 0, GICD_CTLR, 2);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(gic_ack(&g, 0), 1023);
	gicd_write(&g, 0, GICD_CTLR, 1);
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_free(&g);
}

/* PPIs go to the named vCPU only. */
static void test_ppi_per_vcpu(void **state)
{
	struct gic g;

	(void)state;
	gic_new(&g, 2, 0, 0);
	gic_enable_irq(&g, 27, 0x80, 1);
	assert_int_equal(ivy_irq_line(g.vm, 27, 1, true), 0);
	assert_int_equal(gic_ack(&g, 0), 1023);
	assert_int_equal(gic_ack(&g, 1), 27);
	assert_true(g.kicks[1] > 0);
	assert_int_equal(ivy_irq_line(g.vm, 27, 7, true), -EINVAL);
	assert_int_equal(ivy_irq_line(g.vm, 3, 0, true), -EINVAL);
	gic_free(&g);
}

/* Inject, deliver, acknowledge and EOI are traced through the VM's hook. */
static void test_trace_events(void **state)
{
	static const struct {
		enum ivy_trace_kind kind;
		int32_t vcpu;
		uint64_t a;
	} want[] = {
		{ IVY_TRACE_IRQ_INJECT, -1, SPI },
		{ IVY_TRACE_IRQ_DELIVER, 1, SPI },
		{ IVY_TRACE_IRQ_ACK, 1, SPI },
		{ IVY_TRACE_IRQ_EOI, 1, SPI },
	};
	struct gic g;

	(void)state;
	gic_new(&g, 2, 0, 0);
	gic_enable_irq(&g, SPI, 0x80, 1);
	set_edge(&g, SPI);
	ivy_vcpu_sync(g.vcpu[1]);
	ivy_vm_set_trace(g.vm, true);
	assert_int_equal(ivy_irq_line(g.vm, SPI, 0, true), 0);
	assert_int_equal(ivy_vcpu_flush(g.vcpu[1]), 0);
	assert_int_equal(gicc_read(&g, 1, GICC_IAR), SPI);
	gicc_write(&g, 1, GICC_EOIR, SPI);
	ivy_vm_set_trace(g.vm, false);
	assert_int_equal(g.nr_trace, IVY_ARRAY_SIZE(want));
	for (size_t i = 0; i < IVY_ARRAY_SIZE(want); i++) {
		assert_int_equal(g.trace[i].kind, want[i].kind);
		assert_int_equal(g.trace[i].vcpu, want[i].vcpu);
		assert_int_equal(g.trace[i].a, want[i].a);
	}
	gic_free(&g);
}

/* Descriptor tables: sorted, no overlaps, coherent. */
static void test_descriptor_tables(void **state)
{
	const struct vgic_frame *frames[] = { &vgic_v2_dist_frame, &vgic_v2_cpu_frame,
					      &vgic_v2_gich_frame, &vgic_v2m_frame };
	static const struct vgic_reg bad_order[] = {
		{ .offset = 8, .len = 4, .widths = VGIC_W32 },
		{ .offset = 4, .len = 4, .widths = VGIC_W32 },
	};
	static const struct vgic_reg bad_overlap[] = {
		{ .offset = 0, .len = 8, .widths = VGIC_W32 },
		{ .offset = 4, .len = 4, .widths = VGIC_W32 },
	};
	const struct vgic_frame f1 = { .size = 0x100, .regs = bad_order, .nr_regs = 2 };
	const struct vgic_frame f2 = { .size = 0x100, .regs = bad_overlap, .nr_regs = 2 };

	(void)state;
	for (size_t i = 0; i < IVY_ARRAY_SIZE(frames); i++)
		assert_int_equal(vgic_frame_check(frames[i]), 0);
	/* The check itself catches what it claims to. */
	assert_int_equal(vgic_frame_check(&f1), -EINVAL);
	assert_int_equal(vgic_frame_check(&f2), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_access_razwi_counted),
		cmocka_unit_test(test_level_latch_and_line),
		cmocka_unit_test(test_level_eoi_line_high_repends),
		cmocka_unit_test(test_level_resample_once_per_eoi),
		cmocka_unit_test(test_edge_coalesces_while_pending),
		cmocka_unit_test(test_edge_while_active),
		cmocka_unit_test(test_disabled_stays_pending),
		cmocka_unit_test(test_priority_five_bits),
		cmocka_unit_test(test_sgi_enable_and_pending_bits),
		cmocka_unit_test(test_sgi_sources),
		cmocka_unit_test(test_sgir_filters),
		cmocka_unit_test(test_itargetsr),
		cmocka_unit_test(test_spi_lowest_target),
		cmocka_unit_test(test_icfgr),
		cmocka_unit_test(test_groups_fiq_and_ack),
		cmocka_unit_test(test_cpu_interface),
		cmocka_unit_test(test_v2m),
		cmocka_unit_test(test_id_registers),
		cmocka_unit_test(test_dist_enable),
		cmocka_unit_test(test_ppi_per_vcpu),
		cmocka_unit_test(test_trace_events),
		cmocka_unit_test(test_descriptor_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
