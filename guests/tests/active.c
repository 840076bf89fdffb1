/* SPDX-License-Identifier: MIT */
/*
 * Active state and priorities: GICD_ISACTIVER shows an acknowledged interrupt,
 * GICD_ICACTIVER clears it (and a pending+active edge interrupt then runs
 * again); a higher-priority interrupt preempts a running handler, an equal or
 * lower one waits for its EOI; GICC_RPR follows the running priority; with
 * EOImode 1 GICC_DIR deactivates.
 */
#include "gic.h"

#define SGI_LOW	 5
#define SGI_HIGH 6
#define SGI_SAME 7

static volatile unsigned order[16], norder;
static volatile unsigned count[16];
static volatile uint32_t rpr_in_high;
static volatile bool nest;

static void record(unsigned id)
{
	if (norder < 16)
		order[norder++] = id;
}

static void prio_irq(struct exc_frame *f)
{
	uint32_t iar = gic_ack();
	uint32_t id = iar & 0x3ff;

	if (id >= 1020)
		return;
	count[id]++;
	record(id);
	if (id == SGI_LOW && nest) {
		nest = false;
		uint64_t elr = sysreg_read(elr_el1), spsr = sysreg_read(spsr_el1);
		/* Let higher priorities in while this handler runs. */
		gic_send_sgi(SGI_SAME, 2, 0);
		gic_send_sgi(SGI_HIGH, 2, 0);
		irq_enable();
		udelay(2000);
		irq_disable();
		record(100); /* the low handler's end */
		sysreg_write(elr_el1, elr);
		sysreg_write(spsr_el1, spsr);
	}
	if (id == SGI_HIGH)
		rpr_in_high = gic_rpr();
	(void)f;
	gic_eoi(iar);
}

void guest_main(void)
{
	printf("active/priority test\n");
	gic_dist_init();
	gic_cpu_init();

	/* ISACTIVER / ICACTIVER on an SGI acknowledged by hand. */
	gic_enable_irq(3);
	gic_send_sgi(3, 2, 0);
	udelay(1000);
	uint32_t iar = gic_ack();
	check((iar & 0x3ff) == 3, "IAR returns the pending SGI 3 (%x)", iar);
	check(gic_is_active(3), "ISACTIVER shows SGI 3 active after acknowledge");
	gic_clear_active(3);
	check(!gic_is_active(3), "ICACTIVER clears the active state");
	gic_eoi(iar); /* priority drop; the interrupt is no longer active */
	check(gic_rpr() == 0xff, "RPR idle after EOI (%x)", gic_rpr());

	/* An SPI made active and pending by hand; ICACTIVER lets it be taken again. */
	gic_set_target(50, 1);
	gic_set_edge(50, true);
	gic_enable_irq(50);
	gic_set_pending(50);
	udelay(500);
	iar = gic_ack();
	check((iar & 0x3ff) == 50, "SPI 50 set pending through ISPENDR is acknowledged (%x)", iar);
	gic_set_pending(50);
	check(gic_is_active(50) && gic_is_pending(50), "SPI 50 active and pending");
	uint32_t none = gic_ack();
	check((none & 0x3ff) == 1023, "an active interrupt is not acknowledged again (%x)", none);
	gic_clear_active(50);
	gic_eoi(iar);
	udelay(500);
	uint32_t again = gic_ack();
	check((again & 0x3ff) == 50, "after ICACTIVER the pending SPI 50 is taken again (%x)",
	      again);
	gic_eoi(again);
	gic_disable_irq(50);

	/* Preemption: low (0xc0) runs, then same (0xc0) and high (0x40) are sent. */
	gic_set_priority(SGI_LOW, 0xc0);
	gic_set_priority(SGI_SAME, 0xc0);
	gic_set_priority(SGI_HIGH, 0x40);
	gic_enable_irq(SGI_LOW);
	gic_enable_irq(SGI_SAME);
	gic_enable_irq(SGI_HIGH);
	set_irq_handler(prio_irq);
	nest = true;
	gic_send_sgi(SGI_LOW, 2, 0);
	irq_enable();
	udelay(5000);
	irq_disable();
	check(count[SGI_LOW] == 1 && count[SGI_HIGH] == 1 && count[SGI_SAME] == 1,
	      "each SGI taken once (%u %u %u)", count[SGI_LOW], count[SGI_HIGH], count[SGI_SAME]);
	check(norder >= 4 && order[0] == SGI_LOW && order[1] == SGI_HIGH && order[2] == 100 &&
		      order[3] == SGI_SAME,
	      "high priority preempted the low handler, equal priority waited (%u %u %u %u)",
	      order[0], order[1], order[2], order[3]);
	check(rpr_in_high == 0x40, "RPR is the running priority in the nested handler (%x)",
	      rpr_in_high);

	/* EOImode 1: EOIR drops priority, DIR deactivates. */
	gic_set_eoimode(true);
	gic_send_sgi(3, 2, 0);
	udelay(500);
	iar = gic_ack();
	gic_eoi(iar);
	check((iar & 0x3ff) == 3 && gic_is_active(3), "EOImode 1: still active after EOIR");
	gic_deactivate(iar);
	check(!gic_is_active(3), "EOImode 1: GICC_DIR deactivates");
	gic_set_eoimode(false);
}
