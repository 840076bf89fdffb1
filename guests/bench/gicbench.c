/* SPDX-License-Identifier: MIT */
/*
 * Guest-side measurements for `make bench`, timed with the guest's own counter
 * so the same binary measures ivy and QEMU alike. Prints "BENCH name value unit".
 *   gic_read      ns per GIC distributor register read (GICD_TYPER)
 *   timer_irq     timer interrupts per second (virtual timer re-armed at once)
 *   ipi_rtt       ns for an SGI to vCPU 1 and its SGI answer (needs 2 vCPUs)
 *   lpi_rate      LPIs per second raised by ITS INT commands and taken one by
 *                 one on this vCPU (needs a GICv3 with an ITS)
 *   ram_store     ps per store to guest RAM in a loop that touches no device:
 *                 the emulator's own store path, which every interrupt pays for
 *                 in the exception entry's register saves
 */
#include "its.h"

#define N_READS 20000
#define N_TIMER 2000
#define N_IPI	500
#define N_LPI	1000
#define N_STORE 200000
#define LPI_DEV 1

static volatile unsigned timer_ticks, pongs, pings, lpis;
static struct its_tables its_tables;
static volatile uint64_t store_sink[8];

static uint64_t ns(uint64_t ticks)
{
	return ticks * 1000000000ull / timer_freq();
}

static void bench_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();
	uint32_t id = iar & 0x3ff;

	if (gic_version == 3 && iar >= LPI_BASE) {
		lpis++;
		gic_eoi(iar);
		return;
	}

	if (id == PPI_VTIMER) {
		timer_ticks++;
		if (timer_ticks < N_TIMER)
			sysreg_write(cntv_tval_el0, 0);
		else
			sysreg_write(cntv_ctl_el0, 0);
	} else if (id == 1) {
		pings++;
		gic_send_sgi(2, 0, 1);
	} else if (id == 2) {
		pongs++;
	}
	if (id < 1020)
		gic_eoi(iar);
}

static void secondary(unsigned cpu)
{
	(void)cpu;
	gic_cpu_init();
	gic_enable_irq(1);
	set_irq_handler(bench_irq);
	irq_enable();
	for (;;)
		wfi();
}

void guest_main(void)
{
	unsigned n = nr_cpus();

	gic_dist_init();
	gic_cpu_init();
	gic_enable_irq(2);
	gic_enable_irq(PPI_VTIMER);
	set_irq_handler(bench_irq);

	uint64_t t0 = timer_count();
	for (unsigned i = 0; i < N_STORE; i++)
		store_sink[i & 7] = i;
	uint64_t t1 = timer_count();
	printf("BENCH ram_store %lu ps\n", ns((t1 - t0) * 1000) / N_STORE);

	t0 = timer_count();
	for (unsigned i = 0; i < N_READS; i++)
		(void)mmio_read32(GICD_BASE + GICD_TYPER);
	t1 = timer_count();
	printf("BENCH gic_read %lu ns\n", ns(t1 - t0) / N_READS);

	irq_enable();
	t0 = timer_count();
	sysreg_write(cntv_tval_el0, 0);
	sysreg_write(cntv_ctl_el0, 1);
	wfi_until(timer_ticks >= N_TIMER);
	t1 = timer_count();
	printf("BENCH timer_irq %lu irq/s\n", (uint64_t)N_TIMER * timer_freq() / (t1 - t0));

	if (its_present()) {
		its_init(&its_tables);
		its_redist_enable_lpis();
		its_mapd(LPI_DEV, its_tables.itt[0]);
		its_mapc(0, 0);
		its_mapti(LPI_DEV, 0, LPI_BASE, 0);
		its_sync(0);
		uint64_t end = timer_count() + 10 * timer_freq();
		t0 = timer_count();
		for (unsigned i = 0; i < N_LPI && timer_count() < end; i++) {
			unsigned before = lpis;
			its_int(LPI_DEV, 0);
			/* Spin, not WFI: the LPI may be taken before the WFI would start. */
			while (lpis == before && timer_count() < end)
				;
		}
		t1 = timer_count();
		check(lpis == N_LPI, "every ITS INT delivered its LPI (%u of %u)", lpis, N_LPI);
		if (lpis == N_LPI)
			printf("BENCH lpi_rate %lu irq/s\n",
			       (uint64_t)N_LPI * timer_freq() / (t1 - t0));
	}

	if (n >= 2) {
		cpu_start(1, secondary);
		udelay(10000);
		t0 = timer_count();
		for (unsigned i = 0; i < N_IPI; i++) {
			unsigned before = pongs;
			gic_send_sgi(1, 0, 2);
			wfi_until(pongs != before);
		}
		t1 = timer_count();
		printf("BENCH ipi_rtt %lu ns\n", ns(t1 - t0) / N_IPI);
	}

	irq_disable();
	check(true, "benchmarks ran");
}
