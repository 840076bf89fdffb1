/* SPDX-License-Identifier: MIT */
/*
 * The demo guest (`make run`): two vCPUs tell what happens to them — timer
 * ticks on each vCPU, IPIs bouncing between them, an MSI from a device, all
 * through ivy's GIC and I/O requests — and the machine powers off.
 */
#include "gic.h"

#define TESTDEV	    0x090D0000ul
#define TESTDEV_MSI 0x08

#define SGI_PING 1
#define SGI_PONG 2
#define MSI_SPI	 90
#define TICKS	 5

static volatile unsigned ticks[MAX_CPUS], pings, pongs, msis, up;
static volatile uint64_t tick_period;

static void demo_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();
	uint32_t id = iar & 0x3ff, src = (iar >> 10) & 7;
	unsigned me = cpu_id();

	switch (id) {
	case PPI_VTIMER:
		ticks[me]++;
		printf("  [cpu%u] timer tick %u (virtual timer, PPI 27)\n", me, ticks[me]);
		if (ticks[me] < TICKS)
			sysreg_write(cntv_tval_el0, tick_period);
		else
			sysreg_write(cntv_ctl_el0, 0);
		break;
	case SGI_PING:
		pings++;
		printf("  [cpu%u] IPI: ping %u from cpu%u, sending pong\n", me, pings, src);
		gic_send_sgi(SGI_PONG, 0, (uint8_t)(1u << src));
		break;
	case SGI_PONG:
		pongs++;
		printf("  [cpu%u] IPI: pong %u from cpu%u\n", me, pongs, src);
		break;
	case MSI_SPI:
		msis++;
		printf("  [cpu%u] MSI from the device: GICv2m turned it into SPI %u\n", me, id);
		break;
	default: break;
	}
	if (id < 1020)
		gic_eoi(iar);
}

static void start_ticking(void)
{
	gic_enable_irq(PPI_VTIMER);
	sysreg_write(cntv_tval_el0, tick_period);
	sysreg_write(cntv_ctl_el0, 1);
}

static void secondary(unsigned cpu)
{
	gic_cpu_init();
	set_irq_handler(demo_irq);
	gic_enable_irq(SGI_PING);
	printf("  [cpu%u] up (PSCI CPU_ON), GIC CPU interface on\n", cpu);
	start_ticking();
	irq_enable();
	up = 1;
	for (;;)
		wfi();
}

void guest_main(void)
{
	unsigned n = nr_cpus();

	printf("\nivy demo: %u vCPUs on ivy's GICv2, timer %lu MHz, DTB at %p\n", n,
	       timer_freq() / 1000000, boot_dtb);
	tick_period = timer_freq() / 50; /* 20 ms */
	gic_dist_init();
	gic_cpu_init();
	set_irq_handler(demo_irq);
	gic_enable_irq(SGI_PONG);
	gic_set_target(MSI_SPI, n > 1 ? 2 : 1);
	gic_set_edge(MSI_SPI, true);
	gic_enable_irq(MSI_SPI);
	printf("  [cpu0] distributor on; starting the other vCPUs with PSCI\n");
	for (unsigned c = 1; c < n; c++)
		cpu_start(c, secondary);
	while (n > 1 && !up)
		;
	start_ticking();
	irq_enable();

	for (unsigned i = 0; i < 3 && n > 1; i++) {
		printf("  [cpu0] IPI: ping to cpu1\n");
		unsigned before = pongs;
		gic_send_sgi(SGI_PING, 0, 2);
		while (pongs == before)
			wfi();
	}
	printf("  [cpu0] asking the device (an I/O-request client) to send an MSI\n");
	mmio_write32(TESTDEV + TESTDEV_MSI, MSI_SPI);
	while (!msis)
		wfi();
	for (;;) {
		bool done = true;
		for (unsigned c = 0; c < n; c++)
			if (ticks[c] < TICKS)
				done = false;
		if (done)
			break;
		udelay(1000); /* the other vCPU's ticks do not interrupt this one */
	}
	printf("  [cpu0] every vCPU ticked %u times; %u IPIs each way; %u MSI. Powering off.\n",
	       TICKS, pongs, msis);
	psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
}
