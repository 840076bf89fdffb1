/* SPDX-License-Identifier: MIT */
/*
 * Save/restore: a busy GICv2 (pending edge/level/latched interrupts, SGIs from
 * several sources, an acknowledged SPI and an acknowledged SGI not yet ended,
 * priorities, targets, groups, CPU interface state) is saved through the host
 * accessors, restored into a fresh VM, and the guest sees no difference.
 */
#include "vgic_testutil.h"

#include <errno.h>
#include <string.h>

#define NR_CPUS 2
#define NR_IRQS 160

struct saved {
	uint32_t dist[NR_CPUS][0x1000 / 4];
	bool dist_ok[0x1000 / 4];
	uint32_t cpu[NR_CPUS][0x100 / 4];
	bool cpu_ok[0x100 / 4];
	uint32_t level[NR_CPUS][NR_IRQS / 32];
};

static uint64_t reg_attr(unsigned cpu, uint32_t off)
{
	return ((uint64_t)cpu << IVY_VGIC_CPUID_SHIFT) | off;
}

static void gic_save(struct gic *g, struct saved *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned c = 0; c < NR_CPUS; c++) {
		for (uint32_t off = 0; off < 0x1000; off += 4) {
			int ret = gic_get_attr(g, IVY_VGIC_GRP_DIST_REGS, reg_attr(c, off),
					       &s->dist[c][off / 4]);

			assert_true(ret == 0 || ret == -ENXIO);
			s->dist_ok[off / 4] = ret == 0;
		}
		for (uint32_t off = 0; off < 0x100; off += 4) {
			int ret = gic_get_attr(g, IVY_VGIC_GRP_CPU_REGS, reg_attr(c, off),
					       &s->cpu[c][off / 4]);

			assert_true(ret == 0 || ret == -ENXIO);
			s->cpu_ok[off / 4] = ret == 0;
		}
		for (uint32_t i = 0; i < NR_IRQS / 32; i++)
			assert_int_equal(gic_get_attr(g, IVY_VGIC_GRP_LEVEL_INFO,
						      reg_attr(c, i * 32), &s->level[c][i]),
					 0);
	}
}

/* Clear-registers are restored as "clear everything not set", before the set-register. */
static bool is_clear_reg(uint32_t off)
{
	return (off >= 0x180 && off < 0x200) || (off >= 0x280 && off < 0x300) ||
	       (off >= 0x380 && off < 0x400) || (off >= 0xf10 && off < 0xf20);
}

static void gic_restore(struct gic *g, const struct saved *s)
{
	for (unsigned c = 0; c < NR_CPUS; c++) {
		for (uint32_t off = 0; off < 0x1000; off += 4) {
			uint32_t v = s->dist[c][off / 4];

			if (!s->dist_ok[off / 4] || is_clear_reg(off))
				continue;
			if (off >= 0x100 && off < 0x400 && ((off >> 7) & 1) == 0) {
				/* ISENABLER/ISPENDR/ISACTIVER: first the matching clear register. */
				uint32_t inv = ~v;

				assert_int_equal(gic_set_attr(g, IVY_VGIC_GRP_DIST_REGS,
							      reg_attr(c, off + 0x80), &inv),
						 0);
			}
			assert_int_equal(
				gic_set_attr(g, IVY_VGIC_GRP_DIST_REGS, reg_attr(c, off), &v), 0);
		}
		for (uint32_t off = 0; off < 0x100; off += 4) {
			uint32_t v = s->cpu[c][off / 4];

			if (s->cpu_ok[off / 4])
				assert_int_equal(gic_set_attr(g, IVY_VGIC_GRP_CPU_REGS,
							      reg_attr(c, off), &v),
						 0);
		}
		for (uint32_t i = 0; i < NR_IRQS / 32; i++) {
			uint32_t v = s->level[c][i];

			assert_int_equal(
				gic_set_attr(g, IVY_VGIC_GRP_LEVEL_INFO, reg_attr(c, i * 32), &v),
				0);
		}
	}
}

static void make_busy(struct gic *g)
{
	/* Configuration. */
	for (uint32_t i = 40; i < 48; i++)
		gic_enable_irq(g, i, (uint8_t)(0x20 + 8 * (i - 40)), i & 1);
	gicd_write(g, 0, GICD_ICFGR + 8, 0x000aa000); /* 38..41 edge */
	gicd_write(g, 0, GICD_IGROUPR + 4, 1u << (47 - 32));
	gicd_write(g, 0, GICD_ITARGETSR + 64, 0x03020100); /* 64: none, 65: cpu0, ... */
	gic_enable_irq(g, 27, 0x50, 1);
	gicc_write(g, 0, GICC_PMR, 0xf0);
	gicc_write(g, 1, GICC_BPR, 3);
	gicc_write(g, 1, GICC_CTLR, 3 | (1u << 2) | (1u << 9));
	/* An SPI acknowledged by CPU 1 and not yet ended. */
	assert_int_equal(ivy_irq_line(g->vm, 43, 0, true), 0);
	assert_int_equal(gic_ack(g, 1), 43);
	/* SGI 2 from CPU 1, acknowledged by CPU 0; then pending again from CPUs 0 and 1. */
	gicd_write(g, 1, GICD_SGIR, (1u << 16) | 2);
	assert_int_equal(gic_ack(g, 0), 2 | (1u << 10));
	gicd_write(g, 0, GICD_SGIR, (1u << 16) | 2);
	gicd_write(g, 1, GICD_SGIR, (1u << 16) | 2);
	/* Pending: level with line high (42: cpu0), latched level with line low (44),
	 * edge (40, cpu0; 41, cpu1), a PPI line (27 on cpu1), a disabled SPI (50). */
	assert_int_equal(ivy_irq_line(g->vm, 42, 0, true), 0);
	gicd_write(g, 0, GICD_ISPENDR + 4, 1u << (44 - 32));
	assert_int_equal(ivy_irq_line(g->vm, 40, 0, true), 0);
	assert_int_equal(ivy_irq_line(g->vm, 41, 0, true), 0);
	assert_int_equal(ivy_irq_line(g->vm, 27, 1, true), 0);
	assert_int_equal(ivy_irq_line(g->vm, 50, 0, true), 0);
	for (unsigned c = 0; c < NR_CPUS; c++)
		ivy_vcpu_sync(g->vcpu[c]);
}

/* Everything a guest can read without side effects, from every CPU. */
static void guest_view(struct gic *g, uint32_t *out, size_t n)
{
	size_t k = 0;

	for (unsigned c = 0; c < NR_CPUS; c++) {
		assert_int_equal(ivy_vcpu_flush(g->vcpu[c]), 0);
		for (uint32_t off = 0; off < 0x1000; off += 4) {
			if (off == GICD_SGIR)
				continue;
			assert_true(k < n);
			out[k++] = gicd_read(g, c, off);
		}
		static const uint32_t cpu_regs[] = { GICC_CTLR,	  GICC_PMR,   GICC_BPR,
						     GICC_RPR,	  GICC_HPPIR, GICC_ABPR,
						     GICC_AHPPIR, GICC_APR0,  GICC_NSAPR0 };
		for (size_t i = 0; i < sizeof(cpu_regs) / sizeof(cpu_regs[0]); i++)
			out[k++] = gicc_read(g, c, cpu_regs[i]);
		for (uint32_t l = 0; l < 4; l++)
			out[k++] = gich_read(g, c, GICH_LR(l));
		out[k++] = ivy_vcpu_irq_lines(g->vcpu[c]);
	}
}

/* What the guest then does: end what is active, acknowledge everything, in order. */
static void guest_drain(struct gic *g, uint32_t *out, size_t n)
{
	size_t k = 0;

	gicc_write(g, 0, GICC_EOIR, 2 | (1u << 10));
	gicc_write(g, 1, GICC_EOIR, 43);
	gicc_write(g, 1, GICC_DIR, 43);
	assert_int_equal(ivy_irq_line(g->vm, 42, 0, false), 0);
	for (unsigned round = 0; round < 6; round++) {
		for (unsigned c = 0; c < NR_CPUS; c++) {
			uint32_t id = gic_ack(g, c);

			if (id == 1023)
				id = gicc_read(g, c, GICC_AIAR);
			assert_true(k < n);
			out[k++] = id;
			if (id < 1020) {
				gicc_write(g, c, GICC_EOIR, id);
				gicc_write(g, c, GICC_DIR, id);
			}
		}
	}
	out[k++] = gicd_read(g, 0, GICD_ISPENDR + 4);
	out[k++] = gicd_read(g, 0, GICD_ISACTIVER + 4);
}

static void test_save_restore_busy_gic(void **state)
{
	static struct saved s;
	static uint32_t view_a[2200], view_b[2200];
	uint32_t drain_a[16] = { 0 }, drain_b[16] = { 0 };
	struct gic a, b;

	(void)state;
	gic_new(&a, NR_CPUS, NR_IRQS, 0);
	make_busy(&a);
	gic_save(&a, &s);

	gic_new_bare(&b, NR_CPUS);
	{
		uint32_t n = NR_IRQS, dummy = 0;

		assert_int_equal(gic_set_attr(&b, IVY_VGIC_GRP_NR_IRQS, 0, &n), 0);
		assert_int_equal(gic_set_attr(&b, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_INIT, &dummy),
				 0);
	}
	gic_restore(&b, &s);
	/* Saving the restored GIC gives the same image. */
	{
		static struct saved s2;

		gic_save(&b, &s2);
		assert_memory_equal(&s, &s2, sizeof(s));
	}

	memset(view_a, 0, sizeof(view_a));
	memset(view_b, 0, sizeof(view_b));
	guest_view(&a, view_a, 2200);
	guest_view(&b, view_b, 2200);
	for (size_t i = 0; i < 2200; i++)
		if (view_a[i] != view_b[i])
			fail_msg("guest view differs at %zu: %#x vs %#x", i, view_a[i], view_b[i]);
	guest_drain(&a, drain_a, 16);
	guest_drain(&b, drain_b, 16);
	assert_memory_equal(drain_a, drain_b, sizeof(drain_a));
	/* The drain did see the interrupts (the comparison is not of two empty GICs). */
	assert_int_not_equal(drain_a[0], 1023);
	gic_free(&a);
	gic_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_restore_busy_gic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
