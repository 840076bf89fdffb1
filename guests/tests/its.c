/* SPDX-License-Identifier: MIT */
/*
 * LPIs through the GICv3 ITS (needs -machine gic-version=3,its=on and 2 vCPUs):
 * tables and command queue in guest RAM, MAPD/MAPC/MAPTI, INT, a configuration
 * change made visible by INV and by INVALL, MOVI between vCPUs, DISCARD, an MSI
 * from ivy's test device (DeviceID 0x10) through an irqfd, and MAPD V=0.
 */
#include "gic.h"

#define GITS_BASE    0x08080000ul
#define GITS_CTLR    0x0000
#define GITS_CBASER  0x0080
#define GITS_CWRITER 0x0088
#define GITS_CREADR  0x0090
#define GITS_BASER0  0x0100

#define GICR_CTLR      0x0000
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078

#define TESTDEV	    0x090D0000ul
#define TESTDEV_MSI 0x08
#define DEV_GUEST   1
#define DEV_TESTDEV 0x10
#define LPI0	    8192
#define LPI_MSI	    8200

static uint8_t prop_table[65536] __attribute__((aligned(65536)));
static uint8_t pend_table[MAX_CPUS][65536] __attribute__((aligned(65536)));
static uint8_t dev_table[65536] __attribute__((aligned(65536)));
static uint8_t coll_table[65536] __attribute__((aligned(65536)));
static uint64_t cmdq[4096 / 8] __attribute__((aligned(65536)));
static uint8_t itt[2][4096] __attribute__((aligned(4096)));
static unsigned cmd_wr;

static volatile unsigned lpi_count[MAX_CPUS][16];
static volatile unsigned cpu1_up;

static uintptr_t my_redist(void)
{
	uint64_t aff = sysreg_read(mpidr_el1) & 0xff;

	return GICR_BASE + 0x20000 * aff;
}

static void lpi_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();

	if (iar >= LPI0 && iar < LPI0 + 16)
		lpi_count[cpu_id()][iar - LPI0]++;
	if (iar < 1020 || iar >= LPI0)
		gic_eoi(iar);
}

static void its_cmd(uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3)
{
	uint64_t *c = &cmdq[cmd_wr / 8];

	c[0] = d0;
	c[1] = d1;
	c[2] = d2;
	c[3] = d3;
	cmd_wr = (cmd_wr + 32) % sizeof(cmdq);
	dsb();
	mmio_write64(GITS_BASE + GITS_CWRITER, cmd_wr);
	uint64_t end = timer_count() + timer_freq();
	while (mmio_read64(GITS_BASE + GITS_CREADR) != cmd_wr && timer_count() < end)
		;
}

static void its_sync(unsigned rd)
{
	its_cmd(0x05, 0, (uint64_t)rd << 16, 0);
}

static void redist_enable_lpis(void)
{
	uintptr_t rd = my_redist();

	mmio_write64(rd + GICR_PROPBASER, (uintptr_t)prop_table | 15); /* 16 ID bits */
	mmio_write64(rd + GICR_PENDBASER, (uintptr_t)pend_table[cpu_id()] | (1ull << 62)); /* PTZ */
	mmio_write32(rd + GICR_CTLR, mmio_read32(rd + GICR_CTLR) | 1);
	dsb();
}

static void secondary(unsigned cpu)
{
	(void)cpu;
	gic_cpu_init();
	redist_enable_lpis();
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

void guest_main(void)
{
	gic_dist_init();
	if (gic_version != 3 || !dt_mentions("arm,gic-v3-its") || nr_cpus() < 2) {
		check(false, "needs GICv3 with an ITS and 2 vCPUs");
		return;
	}
	gic_cpu_init();
	for (unsigned i = 0; i < 16; i++)
		prop_table[i] = 0xa0 | 1; /* priority 0xa0, enabled */
	dsb();
	redist_enable_lpis();
	set_irq_handler(lpi_irq);
	cpu_start(1, secondary);
	while (!cpu1_up)
		;

	/* Tables: flat, one 64 KiB page each; a 4 KiB command queue. */
	mmio_write64(GITS_BASE + GITS_BASER0, (1ull << 63) | (uintptr_t)dev_table | (2ull << 8));
	mmio_write64(GITS_BASE + GITS_BASER0 + 8,
		     (1ull << 63) | (uintptr_t)coll_table | (2ull << 8));
	mmio_write64(GITS_BASE + GITS_CBASER, (1ull << 63) | (uintptr_t)cmdq);
	mmio_write32(GITS_BASE + GITS_CTLR, 1);
	check(mmio_read32(GITS_BASE + GITS_CTLR) & 1, "ITS enabled");
	irq_enable();

	/* MAPD (8 EventID bits), MAPC collections 0 -> vCPU 0 and 1 -> vCPU 1, MAPTI. */
	its_cmd(0x08 | ((uint64_t)DEV_GUEST << 32), 7, (1ull << 63) | (uintptr_t)itt[0], 0);
	its_cmd(0x08 | ((uint64_t)DEV_TESTDEV << 32), 7, (1ull << 63) | (uintptr_t)itt[1], 0);
	its_cmd(0x09, 0, (1ull << 63) | (0ull << 16) | 0, 0);
	its_cmd(0x09, 0, (1ull << 63) | (1ull << 16) | 1, 0);
	its_cmd(0x0a | ((uint64_t)DEV_GUEST << 32), 0 | ((uint64_t)LPI0 << 32), 0, 0);
	its_sync(0);
	check(mmio_read64(GITS_BASE + GITS_CREADR) == cmd_wr, "the command queue was consumed");

	/* INT: the LPI on vCPU 0. */
	its_cmd(0x03 | ((uint64_t)DEV_GUEST << 32), 0, 0, 0);
	settle();
	check(lpi_count[0][0] == 1, "INT delivers LPI %u to vCPU 0 (%u)", LPI0, lpi_count[0][0]);

	/* Disable it in the property table: after INV an INT is not delivered... */
	prop_table[0] = 0xa0;
	dsb();
	its_cmd(0x0c | ((uint64_t)DEV_GUEST << 32), 0, 0, 0);
	its_cmd(0x03 | ((uint64_t)DEV_GUEST << 32), 0, 0, 0);
	settle();
	check(lpi_count[0][0] == 1, "after a disable and INV, INT is held back (%u)",
	      lpi_count[0][0]);
	/* ...and re-enabled with INVALL, the pending LPI arrives. */
	prop_table[0] = 0xa0 | 1;
	dsb();
	its_cmd(0x0d, 0, 0, 0);
	settle();
	check(lpi_count[0][0] == 2, "after re-enable and INVALL, the pending LPI arrives (%u)",
	      lpi_count[0][0]);

	/* MOVI to collection 1: the next INT lands on vCPU 1. */
	its_cmd(0x01 | ((uint64_t)DEV_GUEST << 32), 0, 1, 0);
	its_cmd(0x03 | ((uint64_t)DEV_GUEST << 32), 0, 0, 0);
	settle();
	check(lpi_count[1][0] == 1 && lpi_count[0][0] == 2,
	      "after MOVI the LPI goes to vCPU 1 (%u %u)", lpi_count[0][0], lpi_count[1][0]);

	/* DISCARD: INT on the discarded event delivers nothing. */
	its_cmd(0x0f | ((uint64_t)DEV_GUEST << 32), 0, 0, 0);
	its_cmd(0x03 | ((uint64_t)DEV_GUEST << 32), 0, 0, 0);
	settle();
	check(lpi_count[0][0] == 2 && lpi_count[1][0] == 1, "after DISCARD nothing is delivered");

	/* An MSI from the test device: DeviceID 0x10, EventID 5 -> LPI 8200 on vCPU 0. */
	its_cmd(0x0a | ((uint64_t)DEV_TESTDEV << 32), 5 | ((uint64_t)LPI_MSI << 32), 0, 0);
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
	its_cmd(0x08 | ((uint64_t)DEV_TESTDEV << 32), 0, 0, 0);
	its_sync(0);
	mmio_write32(TESTDEV + TESTDEV_MSI, 5);
	udelay(20000);
	check(lpi_count[0][LPI_MSI - LPI0] == 1, "after MAPD V=0 the device's MSI is dropped");
	irq_disable();
}
