/* SPDX-License-Identifier: MIT */
/*
 * LPIs through the GICv3 ITS (needs -machine gic-version=3,its=on and 2 vCPUs):
 * tables and command queue in guest RAM, MAPD/MAPC/MAPTI, INT, a configuration
 * change made visible by INV and by INVALL, MOVI between vCPUs, DISCARD, an MSI
 * from ivy's test device (DeviceID 0x10) through an irqfd, and MAPD V=0.
 */
#include "its.h"

#define TESTDEV	    0x090D0000ul
#define TESTDEV_MSI 0x08
#define DEV_GUEST   1
#define LPI0	    LPI_BASE
#define LPI_MSI	    8200

static struct its_tables tables;
static volatile unsigned lpi_count[MAX_CPUS][16];
static volatile unsigned cpu1_up;

static void lpi_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();

	if (iar >= LPI0 && iar < LPI0 + 16)
		lpi_count[cpu_id()][iar - LPI0]++;
	if (iar < 1020 || iar >= LPI0)
		gic_eoi(iar);
}

static void secondary(unsigned cpu)
{
	(void)cpu;
	gic_cpu_init();
	its_redist_enable_lpis();
	set_irq_handler(lpi_irq);
	irq_enable();
	cpu1_up = 1;
	for (;;)
		wfi();
}

static void settle(void)
{
	udelay(5000);
}

/*
 * Delivery to another vCPU needs that vCPU's host thread to run, which a busy
 * host may delay well past settle(): wait up to a second for the expected
 * count, then settle so that a duplicate would still be seen.
 */
static void settle_until(volatile unsigned *count, unsigned want)
{
	for (unsigned i = 0; i < 1000 && *count < want; i++)
		udelay(1000);
	settle();
}

void guest_main(void)
{
	gic_dist_init();
	if (!its_present() || nr_cpus() < 2) {
		check(false, "needs GICv3 with an ITS and 2 vCPUs");
		return;
	}
	gic_cpu_init();
	its_init(&tables);
	check(mmio_read32(GITS_BASE + GITS_CTLR) & 1, "ITS enabled");
	its_redist_enable_lpis();
	set_irq_handler(lpi_irq);
	cpu_start(1, secondary);
	while (!cpu1_up)
		;
	irq_enable();

	/* Devices, collections 0 -> vCPU 0 and 1 -> vCPU 1, one event. */
	its_mapd(DEV_GUEST, tables.itt[0]);
	its_mapd(ITS_TESTDEV_DEVID, tables.itt[1]);
	its_mapc(0, 0);
	its_mapc(1, 1);
	its_mapti(DEV_GUEST, 0, LPI0, 0);
	its_sync(0);
	check(its_idle(), "the command queue was consumed");

	/* INT: the LPI on vCPU 0. */
	its_int(DEV_GUEST, 0);
	settle();
	check(lpi_count[0][0] == 1, "INT delivers LPI %u to vCPU 0 (%u)", LPI0, lpi_count[0][0]);

	/* Disable it in the property table: after INV an INT is not delivered... */
	its_lpi_set_enabled(LPI0, false);
	its_inv(DEV_GUEST, 0);
	its_int(DEV_GUEST, 0);
	settle();
	check(lpi_count[0][0] == 1, "after a disable and INV, INT is held back (%u)",
	      lpi_count[0][0]);
	/* ...and re-enabled with INVALL, the pending LPI arrives. */
	its_lpi_set_enabled(LPI0, true);
	its_invall(0);
	settle();
	check(lpi_count[0][0] == 2, "after re-enable and INVALL, the pending LPI arrives (%u)",
	      lpi_count[0][0]);

	/* MOVI to collection 1: the next INT lands on vCPU 1. */
	its_movi(DEV_GUEST, 0, 1);
	its_int(DEV_GUEST, 0);
	settle_until(&lpi_count[1][0], 1);
	check(lpi_count[1][0] == 1 && lpi_count[0][0] == 2,
	      "after MOVI the LPI goes to vCPU 1 (%u %u)", lpi_count[0][0], lpi_count[1][0]);

	/* DISCARD: INT on the discarded event delivers nothing. */
	its_discard(DEV_GUEST, 0);
	its_int(DEV_GUEST, 0);
	settle();
	check(lpi_count[0][0] == 2 && lpi_count[1][0] == 1, "after DISCARD nothing is delivered");

	/* The rest needs ivy's test device (QEMU's virt has none: scripts/qemu-compare.sh). */
	if (!dt_mentions("ivy,test-irq")) {
		irq_disable();
		return;
	}

	/* An MSI from the test device: DeviceID 0x10, EventID 5 -> LPI 8200 on vCPU 0. */
	its_mapti(ITS_TESTDEV_DEVID, 5, LPI_MSI, 0);
	its_sync(0);
	mmio_write32(TESTDEV + TESTDEV_MSI, 5);
	uint64_t end = timer_count() + timer_freq();
	while (!lpi_count[0][LPI_MSI - LPI0] && timer_count() < end)
		;
	settle();
	check(lpi_count[0][LPI_MSI - LPI0] == 1,
	      "a device MSI through the ITS delivers LPI %u (%u)", LPI_MSI,
	      lpi_count[0][LPI_MSI - LPI0]);

	/* MAPD V=0: the device's MSIs go nowhere. */
	its_mapd(ITS_TESTDEV_DEVID, NULL);
	its_sync(0);
	mmio_write32(TESTDEV + TESTDEV_MSI, 5);
	udelay(20000);
	check(lpi_count[0][LPI_MSI - LPI0] == 1, "after MAPD V=0 the device's MSI is dropped");
	irq_disable();
}
