/* SPDX-License-Identifier: MIT */
/*
 * The generic timer. Unicorn discards writes to CNTV_* and CNTP_* CTL/CVAL, so
 * the VMM emulates both EL1 timers: the counter is host monotonic time at
 * BOARD_TIMER_FREQ (CNTFRQ_EL0 reads the same frequency, so guests that
 * compute delays from it agree with the counter), CNTVOFF is 0, and each timer
 * drives its PPI (27 virtual, 30 physical) as a level: ISTATUS && !IMASK.
 */
#include "vmm.h"

#define CNT_CTL_ENABLE	(1ull << 0)
#define CNT_CTL_IMASK	(1ull << 1)
#define CNT_CTL_ISTATUS (1ull << 2)

/* Encodings (op0 3, op1 3, CRn 14). */
#define CNT_CRM_COUNTER 0 /* op2 0 CNTFRQ, 1 CNTPCT, 2 CNTVCT */
#define CNT_CRM_PHYS	2
#define CNT_CRM_VIRT	3
#define CNT_OP2_TVAL	0
#define CNT_OP2_CTL	1
#define CNT_OP2_CVAL	2

static const uint32_t timer_ppi[2] = { BOARD_PPI_VTIMER, BOARD_PPI_PTIMER };

static bool timer_fired(const struct vtimer *t, uint64_t now)
{
	return (t->ctl & CNT_CTL_ENABLE) && now >= t->cval;
}

/* The level of the timer's PPI: ISTATUS and not IMASK. */
static bool timer_level(const struct vtimer *t, uint64_t now)
{
	return timer_fired(t, now) && !(t->ctl & CNT_CTL_IMASK);
}

uint64_t timer_update(struct vmm_cpu *cpu)
{
	struct vmm *vmm = cpu->vmm;
	uint64_t now = vmm_counter(vmm);
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < 2; i++) {
		struct vtimer *t = &cpu->timer[i];
		bool fired = timer_fired(t, now);
		bool line = timer_level(t, now);

		if (line != t->line) {
			t->line = line;
			gic_set_ppi(cpu, timer_ppi[i], line);
		}
		if ((t->ctl & CNT_CTL_ENABLE) && !fired && !(t->ctl & CNT_CTL_IMASK)) {
			uint64_t ns = vmm->boot_ns + vmm_counter_to_ns(vmm, t->cval) + 1;

			if (ns < next)
				next = ns;
		}
	}
	return next;
}

bool timer_sysreg(struct vmm_cpu *cpu, const uc_arm64_cp_reg *r, bool is_read, uint64_t *val)
{
	struct vmm *vmm = cpu->vmm;
	struct vtimer *t;
	uint64_t now;

	if (r->op0 != 3 || r->op1 != 3 || r->crn != 14)
		return false;
	now = vmm_counter(vmm);
	if (r->crm == CNT_CRM_COUNTER) {
		if (!is_read)
			return false;
		switch (r->op2) {
		case 0: *val = BOARD_TIMER_FREQ; return true;
		case 1:
		case 2: *val = now; return true;
		default: return false;
		}
	}
	if (r->crm == CNT_CRM_PHYS)
		t = &cpu->timer[1];
	else if (r->crm == CNT_CRM_VIRT)
		t = &cpu->timer[0];
	else
		return false;
	switch (r->op2) {
	case CNT_OP2_TVAL:
		if (is_read)
			*val = (uint64_t)(int64_t)(int32_t)(uint32_t)(t->cval - now);
		else
			t->cval = now + (uint64_t)(int64_t)(int32_t)(uint32_t)*val;
		break;
	case CNT_OP2_CTL:
		if (is_read)
			*val = t->ctl | (timer_fired(t, now) ? CNT_CTL_ISTATUS : 0);
		else
			t->ctl = *val & (CNT_CTL_ENABLE | CNT_CTL_IMASK);
		break;
	case CNT_OP2_CVAL:
		if (is_read)
			*val = t->cval;
		else
			t->cval = *val;
		break;
	default: return false;
	}
	/*
	 * A new level reaches the GIC from the next block hook (not from inside this
	 * one). A write that leaves the level as it is needs nothing: re-arming a
	 * timer that keeps firing (TVAL = 0 in a tick handler) would otherwise cost
	 * a fold and refill of the list registers per tick. A later deadline is
	 * found by the block hook's periodic check or bounds the WFI sleep.
	 */
	if (!is_read && timer_level(t, now) != t->line)
		atomic_store_explicit(&cpu->kick, true, memory_order_relaxed);
	return true;
}
