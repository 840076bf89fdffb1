/* SPDX-License-Identifier: MIT */
/*
 * List registers and maintenance: overflow with 4 LRs, active before pending,
 * EOI maintenance of level interrupts, the GICH_* model, and a VMM that copies
 * LRs to "hardware" and back.
 */
#include "vgic_testutil.h"

#include <errno.h>

/* 20 pending SPIs through 4 LRs: all delivered, highest priority first. */
static void test_overflow_20_through_4(void **state)
{
	static const uint8_t prio[20] = { 0x90, 0x18, 0x40, 0xa8, 0x08, 0x70, 0x30,
					  0xc0, 0x58, 0x20, 0x98, 0x60, 0x10, 0xb0,
					  0x48, 0x78, 0x38, 0xe0, 0x88, 0x28 };
	struct gic g;
	unsigned delivered = 0, rounds = 0, last_prio = 0;

	(void)state;
	gic_new(&g, 1, 0, 4);
	for (uint32_t i = 0; i < 20; i++) {
		gic_enable_irq(&g, 40 + i, prio[i], 0);
		gicd_write(&g, 0, GICD_ICFGR + ((40 + i) / 16) * 4,
			   gicd_read(&g, 0, GICD_ICFGR + ((40 + i) / 16) * 4) |
				   (2u << (((40 + i) % 16) * 2)));
		assert_int_equal(ivy_irq_line(g.vm, 40 + i, 0, true), 0);
	}
	gic_reenter(&g, 0);
	/* Overflow armed the underflow interrupt. */
	assert_int_equal(gich_read(&g, 0, GICH_HCR) & 2, 2);
	while (delivered < 20 && rounds++ < 50) {
		unsigned kicks = g.kicks[0];

		for (;;) {
			uint32_t id = gicc_read(&g, 0, GICC_IAR);
			unsigned p;

			if (id == 1023)
				break;
			assert_true(id >= 40 && id < 60);
			p = prio[id - 40];
			assert_true(p > last_prio || delivered == 0);
			last_prio = p;
			delivered++;
			gicc_write(&g, 0, GICC_EOIR, id);
		}
		/* Draining the LRs raised the underflow maintenance interrupt (a kick). */
		if (delivered < 20)
			assert_true(g.kicks[0] > kicks);
		gic_reenter(&g, 0);
	}
	assert_int_equal(delivered, 20);
	assert_int_equal(gich_read(&g, 0, GICH_HCR) & 2, 0);
	gic_free(&g);
}

/* When LRs overflow, active interrupts get them before pending ones. */
static void test_overflow_active_first(void **state)
{
	struct gic g;
	unsigned active = 0, pending = 0;

	(void)state;
	gic_new(&g, 1, 0, 4);
	for (uint32_t i = 0; i < 6; i++) {
		gic_enable_irq(&g, 40 + i, (uint8_t)(0x10 + 8 * i), 0);
		assert_int_equal(ivy_irq_line(g.vm, 40 + i, 0, true), 0);
	}
	for (uint32_t i = 0; i < 3; i++)
		gic_enable_irq(&g, 50 + i, 0xe0, 0);
	gicd_write(&g, 0, GICD_ISACTIVER + 4, 7u << (50 - 32));
	gic_reenter(&g, 0);
	for (uint32_t n = 0; n < 4; n++) {
		uint32_t lr = gich_read(&g, 0, GICH_LR(n));
		uint32_t st = (lr >> 28) & 3;

		if (st == 2) {
			assert_true((lr & 0x3ff) >= 50 && (lr & 0x3ff) < 53);
			active++;
		} else {
			assert_int_equal(st, 1);
			assert_int_equal(lr & 0x3ff, 40); /* the highest-priority pending one */
			pending++;
		}
	}
	assert_int_equal(active, 3);
	assert_int_equal(pending, 1);
	gic_free(&g);
}

/* Level interrupts ask for EOI maintenance; the EOI raises it and sync resamples. */
static void test_eoi_maintenance(void **state)
{
	struct gic g;
	uint32_t lr;
	unsigned kicks;

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, 40, 0x80, 0);
	assert_int_equal(ivy_irq_line(g.vm, 40, 0, true), 0);
	gic_reenter(&g, 0);
	lr = gich_read(&g, 0, GICH_LR(0));
	assert_int_equal(lr & 0x3ff, 40);
	assert_int_equal((lr >> 19) & 1, 1);		/* EOI */
	assert_int_equal((lr >> 23) & 0x1f, 0x80 >> 3); /* priority */
	assert_int_equal((lr >> 28) & 3, 1);		/* pending */
	assert_int_equal(gich_read(&g, 0, GICH_ELRSR0) & 1, 0);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 40);
	assert_int_equal((gich_read(&g, 0, GICH_LR(0)) >> 28) & 3, 2);
	assert_int_equal(gich_read(&g, 0, GICH_MISR), 0);
	kicks = g.kicks[0];
	gicc_write(&g, 0, GICC_EOIR, 40);
	assert_int_equal(gich_read(&g, 0, GICH_EISR0), 1);
	assert_int_equal(gich_read(&g, 0, GICH_MISR) & 1, 1);
	assert_int_equal(g.kicks[0], kicks + 1);
	/* Line still high: after sync it is pending again. */
	gic_reenter(&g, 0);
	assert_int_equal(gich_read(&g, 0, GICH_EISR0), 0);
	assert_int_equal(gicc_read(&g, 0, GICC_IAR), 40);
	/* Edge interrupts do not ask for it. */
	gicd_write(&g, 0, GICD_ICFGR + 8, 2u << ((41 % 16) * 2));
	gic_enable_irq(&g, 41, 0x10, 0);
	assert_int_equal(ivy_irq_line(g.vm, 41, 0, true), 0);
	gic_reenter(&g, 0);
	for (uint32_t n = 0; n < 2; n++) {
		lr = gich_read(&g, 0, GICH_LR(n));
		if ((lr & 0x3ff) == 41)
			assert_int_equal((lr >> 19) & 1, 0);
	}
	gic_free(&g);
}

/* GICH_VTR/VMCR/APR mirror the virtual CPU interface; HCR/VMCR writes are checked. */
static void test_gich_model(void **state)
{
	struct gic g;
	uint32_t v;

	(void)state;
	gic_new(&g, 1, 0, 0);
	assert_int_equal(gich_read(&g, 0, GICH_VTR), 3 | (4u << 26) | (4u << 29));
	gicc_write(&g, 0, GICC_PMR, 0xf0);
	assert_int_equal(gich_read(&g, 0, GICH_VMCR),
			 3 | (3u << 18) | (2u << 21) | ((0xf0u >> 3) << 27));
	assert_int_equal(gich_read(&g, 0, GICH_ELRSR0), 0xf);
	assert_int_equal(gich_read(&g, 0, GICH_HCR) & 1, 1);
	/* Writes: a VMM restoring VMCR from hardware. */
	assert_int_equal(ivy_vgic_v2_gich_write(g.vcpu[0], GICH_VMCR,
						1 | (4u << 18) | (3u << 21) | (0x10u << 27)),
			 0);
	assert_int_equal(gicc_read(&g, 0, GICC_PMR), 0x80);
	assert_int_equal(gicc_read(&g, 0, GICC_BPR), 3);
	assert_int_equal(gicc_read(&g, 0, GICC_CTLR), 1);
	assert_int_equal(ivy_vgic_v2_gich_write(g.vcpu[0], GICH_VMCR, 0), -EINVAL); /* BPR 0 */
	assert_int_equal(ivy_vgic_v2_gich_write(g.vcpu[0], GICH_VTR, 0), -EINVAL);
	assert_int_equal(ivy_vgic_v2_gich_write(g.vcpu[0], GICH_LR(0), 1u << 31), -EINVAL);
	assert_int_equal(ivy_vgic_v2_gich_write(g.vcpu[0], GICH_LR(0), 1000), -EINVAL);
	assert_int_equal(ivy_vgic_v2_gich_read(g.vcpu[0], 0x0c, &v), -ENXIO);
	gic_free(&g);
}

/*
 * A VMM on GIC hardware: copies the LRs out after flush, lets "hardware" run the
 * guest (here: the guest acknowledged the interrupt, so the LR is active), copies
 * them back and syncs. The distributor sees the interrupt active.
 */
static void test_lr_copy_round_trip(void **state)
{
	struct gic g;
	uint32_t lr;

	(void)state;
	gic_new(&g, 1, 0, 0);
	gic_enable_irq(&g, 40, 0x80, 0);
	assert_int_equal(ivy_irq_line(g.vm, 40, 0, true), 0);
	gic_reenter(&g, 0);
	lr = gich_read(&g, 0, GICH_LR(0));
	assert_int_equal((lr >> 28) & 3, 1);
	lr = (lr & ~(3u << 28)) | (2u << 28);
	assert_int_equal(ivy_vgic_v2_gich_write(g.vcpu[0], GICH_LR(0), lr), 0);
	ivy_vcpu_sync(g.vcpu[0]);
	assert_int_equal(gicd_read(&g, 0, GICD_ISACTIVER + 4), 1u << 8);
	gic_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overflow_20_through_4),
		cmocka_unit_test(test_overflow_active_first),
		cmocka_unit_test(test_eoi_maintenance),
		cmocka_unit_test(test_gich_model),
		cmocka_unit_test(test_lr_copy_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
