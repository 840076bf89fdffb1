/* SPDX-License-Identifier: MIT */
/*
 * The generic timer through the GIC: the virtual (PPI 27) and physical (PPI 30)
 * timers interrupt on time, ISTATUS and IMASK behave, WFI wakes up on the
 * deadline, and CNTFRQ agrees with the counter's rate.
 */
#include "gic.h"

static volatile unsigned ticks[32];
static volatile uint64_t ctl_seen[32];

#define CNTV 0
#define CNTP 1

static void timer_write_ctl(int t, uint64_t v)
{
	if (t == CNTV)
		sysreg_write(cntv_ctl_el0, v);
	else
		sysreg_write(cntp_ctl_el0, v);
	isb();
}

static uint64_t timer_read_ctl(int t)
{
	return t == CNTV ? sysreg_read(cntv_ctl_el0) : sysreg_read(cntp_ctl_el0);
}

static void timer_write_tval(int t, uint64_t v)
{
	if (t == CNTV)
		sysreg_write(cntv_tval_el0, v);
	else
		sysreg_write(cntp_tval_el0, v);
	isb();
}

static void timer_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();
	uint32_t id = iar & 0x3ff;

	if (id == PPI_VTIMER || id == PPI_PTIMER) {
		int t = id == PPI_VTIMER ? CNTV : CNTP;
		ctl_seen[id] = timer_read_ctl(t);
		ticks[id]++;
		timer_write_ctl(t, 3); /* mask: the level drops */
	}
	if (id < 1020)
		gic_eoi(iar);
}

static void one_timer(int t, unsigned ppi, const char *name)
{
	uint64_t freq = timer_freq();

	/* Interrupt on time, woken from WFI. */
	ticks[ppi] = 0;
	uint64_t t0 = timer_count();
	timer_write_tval(t, freq / 1000); /* 1 ms */
	timer_write_ctl(t, 1);
	wfi_until(ticks[ppi] || timer_count() - t0 >= freq);
	uint64_t dt = timer_count() - t0;
	check(ticks[ppi] == 1, "%s timer: one interrupt (%u)", name, ticks[ppi]);
	check(dt >= freq / 1000, "%s timer: not early (%lu us)", name, dt * 1000000 / freq);
	check(dt < freq / 10, "%s timer: on time from WFI (%lu us)", name, dt * 1000000 / freq);
	check((ctl_seen[ppi] & 5) == 5, "%s timer: ISTATUS set in the handler (ctl %lx)", name,
	      ctl_seen[ppi]);

	/* IMASK: condition met, status visible, no interrupt. */
	ticks[ppi] = 0;
	timer_write_tval(t, 0);
	timer_write_ctl(t, 3);
	udelay(2000);
	check((timer_read_ctl(t) & 4) != 0, "%s timer: ISTATUS reads 1 while masked", name);
	check(ticks[ppi] == 0 && !gic_is_pending(ppi), "%s timer: IMASK keeps the PPI quiet", name);
	/* Disabled: ISTATUS reads 0. */
	timer_write_ctl(t, 0);
	check((timer_read_ctl(t) & 4) == 0, "%s timer: ISTATUS 0 when disabled", name);

	/* A train of 20 ticks of 500 us each, each waited for with WFI. */
	ticks[ppi] = 0;
	t0 = timer_count();
	for (unsigned i = 0; i < 20; i++) {
		unsigned before = ticks[ppi];
		timer_write_tval(t, freq / 2000);
		timer_write_ctl(t, 1);
		wfi_until(ticks[ppi] != before || timer_count() - t0 >= 2 * freq);
	}
	dt = timer_count() - t0;
	check(ticks[ppi] == 20, "%s timer: 20 periodic ticks (%u)", name, ticks[ppi]);
	check(dt >= 20 * freq / 2000 && dt < freq, "%s timer: 20 ticks took %lu us", name,
	      dt * 1000000 / freq);
	timer_write_ctl(t, 0);
}

void guest_main(void)
{
	uint64_t freq = timer_freq();

	printf("timer test, CNTFRQ %lu Hz\n", freq);
	check(freq >= 1000000, "CNTFRQ_EL0 is set (%lu)", freq);
	/* The counter advances at about CNTFRQ: compare with itself over a busy wait. */
	uint64_t c0 = timer_count();
	udelay(10000);
	uint64_t c1 = timer_count();
	check(c1 - c0 >= freq / 100, "counter advanced 10 ms worth (%lu ticks)", c1 - c0);

	gic_dist_init();
	gic_cpu_init();
	gic_enable_irq(PPI_VTIMER);
	gic_enable_irq(PPI_PTIMER);
	set_irq_handler(timer_irq);
	irq_enable();
	one_timer(CNTV, PPI_VTIMER, "virtual");
	one_timer(CNTP, PPI_PTIMER, "physical");
	irq_disable();
}
