/* SPDX-License-Identifier: MIT */
/*
 * The demo guest (`make run`): two vCPUs tell what happens to them — timer
 * ticks on each vCPU, IPIs bouncing between them, an MSI from a device, all
 * through ivy's GIC and I/O requests — and the machine powers off. It runs on
 * GICv3 + ITS (the MSI becomes an LPI) and on GICv2 + v2m (it becomes an SPI).
 */
#include "its.h"

#define TESTDEV	    0x090D0000ul
#define TESTDEV_MSI 0x08

#define SGI_PING  1
#define SGI_PONG  2
#define MSI_SPI	  90
#define MSI_EVENT 0
#define MSI_LPI	  8200
#define TICKS	  5

static volatile unsigned ticks[MAX_CPUS], pings, pongs, msis, up;
static volatile uint64_t tick_period;
static bool has_its;
static unsigned msi_cpu;
static struct its_tables its_tables;

static void demo_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();
	/* GICv3 IARs are the bare INTID (LPIs are >= 8192) and carry no SGI source. */
	uint32_t id = gic_has_sgi_source() ? iar & 0x3ff : iar;
	/* Without a source in the IAR: cpu0 sends the pings, cpu1 the pongs. */
	uint32_t src = gic_has_sgi_source() ? (iar >> 10) & 7 : id == SGI_PING ? 0 : 1;
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
	case MSI_LPI:
		msis++;
		printf("  [cpu%u] MSI from the device: the ITS translated DeviceID 0x%x EventID %u "
		       "into LPI %u on cpu%u\n",
		       me, ITS_TESTDEV_DEVID, MSI_EVENT, id, me);
		break;
	default: break;
	}
	if (id < 1020 || id >= LPI_BASE)
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
	if (has_its)
		its_redist_enable_lpis();
	set_irq_handler(demo_irq);
	gic_enable_irq(SGI_PING);
	printf("  [cpu%u] up (PSCI CPU_ON), GIC CPU interface on%s\n", cpu,
	       has_its ? ", LPIs on in its redistributor" : "");
	start_ticking();
	irq_enable();
	__atomic_fetch_add(&up, 1, __ATOMIC_RELEASE);
	for (;;)
		wfi();
}

/*
 * GICv3: the ITS maps the device's event to an LPI on the last vCPU. Done once
 * every vCPU has set up its redistributor: an LPI's configuration is read from
 * its target redistributor's property table when it is mapped (and again only
 * on INV/INVALL), as Linux orders it too.
 */
static void its_setup(unsigned n)
{
	msi_cpu = n - 1;
	its_mapd(ITS_TESTDEV_DEVID, its_tables.itt[0]);
	its_mapc(0, msi_cpu);
	its_mapti(ITS_TESTDEV_DEVID, MSI_EVENT, MSI_LPI, 0);
	its_sync(msi_cpu);
	printf("  [cpu0] ITS on: MAPD DeviceID 0x%x, MAPC collection 0 -> cpu%u, "
	       "MAPTI EventID %u -> LPI %u\n",
	       ITS_TESTDEV_DEVID, msi_cpu, MSI_EVENT, MSI_LPI);
}

/* The MSI's data: the EventID through the ITS, the SPI number through GICv2m. */
static uint32_t msi_data(void)
{
	return has_its ? MSI_EVENT : MSI_SPI;
}

void guest_main(void)
{
	unsigned n = nr_cpus();

	gic_dist_init();
	has_its = its_present();
	printf("\nivy demo: %u vCPUs on ivy's %s, timer %lu MHz, DTB at %p\n", n,
	       gic_version == 2 ? "GICv2 + v2m"
	       : has_its	? "GICv3 + ITS"
				: "GICv3",
	       timer_freq() / 1000000, boot_dtb);
	tick_period = timer_freq() / 50; /* 20 ms */
	gic_cpu_init();
	set_irq_handler(demo_irq);
	gic_enable_irq(SGI_PONG);
	if (has_its) {
		its_init(&its_tables);
		its_redist_enable_lpis();
	} else if (gic_version == 2) {
		msi_cpu = n > 1 ? 1 : 0;
		gic_set_target(MSI_SPI, (uint8_t)(1u << msi_cpu));
		gic_set_edge(MSI_SPI, true);
		gic_enable_irq(MSI_SPI);
	}
	printf("  [cpu0] distributor on; starting the other vCPUs with PSCI\n");
	for (unsigned c = 1; c < n; c++)
		cpu_start(c, secondary);
	while (__atomic_load_n(&up, __ATOMIC_ACQUIRE) < n - 1)
		;
	if (has_its)
		its_setup(n);
	start_ticking();
	irq_enable();

	for (unsigned i = 0; i < 3 && n > 1; i++) {
		printf("  [cpu0] IPI: ping to cpu1\n");
		unsigned before = pongs;
		gic_send_sgi(SGI_PING, 0, 2);
		wfi_until(pongs != before);
	}
	if (gic_version == 2 || has_its) {
		printf("  [cpu0] asking the device (an I/O-request client) to send an MSI\n");
		mmio_write32(TESTDEV + TESTDEV_MSI, msi_data());
		wfi_until(msis);
	} else {
		printf("  [cpu0] no ITS on this board (-machine gic-version=3,its=on adds one): "
		       "no MSI\n");
	}
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
