/* SPDX-License-Identifier: MIT */
/*
 * GICv2 SGIs on every vCPU: to self, to a target list and to all but self, from
 * every vCPU in turn. Each target must take each SGI exactly once, with the
 * sender's CPU number in GICC_IAR[12:10]; non-targets must take nothing.
 */
#include "gic.h"

#define ROUNDS 3

static volatile uint32_t got[MAX_CPUS][16][MAX_CPUS]; /* [target][sgi][source] */
static volatile unsigned ready, phase_done[MAX_CPUS], phase;
/*
 * GICv3 keeps one pending bit per SGI, not one per source: senders take turns
 * (turn = the CPU allowed to send) so that each SGI lands before the next is sent.
 * GICv2 senders all send at once.
 */
static volatile unsigned turn, received;
static bool take_turns;
static volatile uint32_t spurious[MAX_CPUS];
static unsigned ncpu;

static void sgi_irq(struct exc_frame *f)
{
	(void)f;
	for (;;) {
		uint32_t iar = gic_ack();
		uint32_t id = iar & 0x3ff, src = (iar >> 10) & 7;

		if (id >= 1020)
			break;
		/* GICv3 does not report the source: count those under source 0. */
		if (id < 16) {
			got[cpu_id()][id][gic_has_sgi_source() ? src : 0]++;
			__atomic_fetch_add(&received, 1, __ATOMIC_SEQ_CST);
		} else
			spurious[cpu_id()]++;
		gic_eoi(iar);
	}
}

static void cpu_setup_irqs(void)
{
	gic_cpu_init();
	/* GICv2 SGIs are always enabled; GICv3 ones are enabled in the redistributor. */
	for (unsigned id = 1; id <= 4; id++)
		gic_enable_irq(id);
	set_irq_handler(sgi_irq);
	irq_enable();
}

/* The SGIs each sender sends in one phase. */
static void send_phase(unsigned me, unsigned p)
{
	uint8_t all = (uint8_t)((1u << ncpu) - 1);

	switch (p) {
	case 0: gic_send_sgi(1, 2, 0); break;				 /* self */
	case 1: gic_send_sgi(2, 0, (uint8_t)(all & ~(1u << me))); break; /* list: everyone else */
	case 2: gic_send_sgi(3, 1, 0); break;				 /* all but self */
	case 3: gic_send_sgi(4, 0, (uint8_t)(1u << ((me + 1) % ncpu))); break; /* next CPU */
	default: break;
	}
}

static void secondary(unsigned cpu)
{
	cpu_setup_irqs();
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	for (unsigned p = 0; p < 4 * ROUNDS; p++) {
		while (phase <= p || (take_turns && turn != cpu))
			;
		send_phase(cpu, p % 4);
		__atomic_fetch_add(&phase_done[cpu], 1, __ATOMIC_SEQ_CST);
	}
	for (;;)
		wfi();
}

static bool wait_until(volatile unsigned *v, unsigned want)
{
	for (unsigned i = 0; i < 200000000; i++)
		if (*v >= want)
			return true;
	return false;
}

void guest_main(void)
{
	ncpu = nr_cpus();
	printf("sgi test on %u vCPUs\n", ncpu);
	gic_dist_init();
	cpu_setup_irqs();
	for (unsigned c = 1; c < ncpu; c++)
		cpu_start(c, secondary);
	check(wait_until(&ready, ncpu - 1), "all %u secondaries are up", ncpu - 1);

	take_turns = !gic_has_sgi_source();
	unsigned expect = 0;
	for (unsigned p = 0; p < 4 * ROUNDS; p++) {
		/* SGIs each sender's phase delivers: self and next 1, list and all-but-self n-1. */
		unsigned per_sender = (p % 4 == 0 || p % 4 == 3) ? 1 : ncpu - 1;
		turn = 0;
		phase = p + 1;
		send_phase(0, p % 4);
		phase_done[0]++;
		for (unsigned c = 1; c < ncpu; c++) {
			if (take_turns) {
				/* The previous sender's SGIs must have landed before the next is sent. */
				expect += per_sender;
				wait_until(&received, expect);
				turn = c;
			}
			wait_until(&phase_done[c], p + 1);
		}
		if (take_turns)
			expect += per_sender;
		else
			expect += per_sender * ncpu;
		wait_until(&received, expect);
	}
	udelay(5000);
	irq_disable();

	bool self_ok = true, list_ok = true, abs_ok = true, next_ok = true;
	bool by_source = gic_has_sgi_source();
	for (unsigned t = 0; t < ncpu; t++) {
		for (unsigned s = 0; s < ncpu; s++) {
			uint32_t want_self = t == s ? ROUNDS : 0;
			uint32_t want_other = (t != s) ? ROUNDS : 0;
			uint32_t want_next = ((s + 1) % ncpu == t) ? ROUNDS : 0;

			if (!by_source) {
				/* Without sources, every SGI to t is counted under source 0. */
				if (s != 0)
					continue;
				want_self = ROUNDS;
				want_other = ROUNDS * (ncpu - 1);
				want_next = ROUNDS;
			}

			if (got[t][1][s] != want_self) {
				self_ok = false;
				printf("  self: target %u source %u got %u\n", t, s, got[t][1][s]);
			}
			if (got[t][2][s] != want_other) {
				list_ok = false;
				printf("  list: target %u source %u got %u\n", t, s, got[t][2][s]);
			}
			if (got[t][3][s] != want_other) {
				abs_ok = false;
				printf("  all-but-self: target %u source %u got %u\n", t, s,
				       got[t][3][s]);
			}
			if (got[t][4][s] != want_next) {
				next_ok = false;
				printf("  next: target %u source %u got %u\n", t, s, got[t][4][s]);
			}
		}
	}
	printf("GICv%u: %s\n", gic_version,
	       by_source ? "checking sources from GICC_IAR" : "ICC_IAR1_EL1 carries no source");
	check(self_ok, "SGI 1 to self: every CPU took its own, %u times, source = self", ROUNDS);
	check(list_ok, "SGI 2 to a target list: each target once per sender, right source");
	check(abs_ok, "SGI 3 to all but self: each other CPU once per sender, right source");
	check(next_ok, "SGI 4 to one CPU: only the target took it, right source");
	unsigned sp = 0;
	for (unsigned c = 0; c < ncpu; c++)
		sp += spurious[c];
	check(sp == 0, "no unexpected interrupts (%u)", sp);
}
