/* SPDX-License-Identifier: MIT */
/*
 * The virtual CPU interface in software, on top of the list registers, as
 * both GIC models' CPU interfaces use it (GICv2's GICC frame, GICv3's ICC
 * system registers): the highest pending LR, preemption by priority mask,
 * binary point and running priority, acknowledge, priority drop and
 * deactivation, and the maintenance conditions of GICH_MISR.
 *
 * Priorities have 5 bits, so there are 32 group priorities and the active
 * priorities register has bit n for group priority n << 3. The minimum binary
 * points are 2 (Group 0) and 3 (Group 1).
 */
#include "gic/vgic.h"

#include <errno.h>

static bool cpu_group_enabled(const struct vgic_cpu *vc, const struct vgic_lr *lr)
{
	return vc->ctlr & (lr->group1 ? GICC_CTLR_ENABLEGRP1 : GICC_CTLR_ENABLEGRP0);
}

/* The group priority of an LR under the binary point that applies to its group. */
static uint32_t cpu_group_priority(const struct vgic_cpu *vc, const struct vgic_lr *lr)
{
	uint32_t mask;

	if (!lr->group1 || (vc->ctlr & GICC_CTLR_CBPR))
		mask = 0xffu << (vc->bpr + 1);
	else
		mask = 0xffu << vc->abpr;
	return lr->priority & mask & 0xffu;
}

uint32_t vgic_cpuif_running_priority(const struct vgic_cpu *vc)
{
	return vc->apr ? (uint32_t)__builtin_ctz(vc->apr) << 3 : 0xffu;
}

/* The highest-priority pending LR of an enabled group (group: 0, 1, or -1 for both). */
int vgic_cpuif_highest_pending(const struct vgic_cpu *vc, int group)
{
	int best = -1;

	for (uint32_t i = 0; i < vc->used_lrs; i++) {
		const struct vgic_lr *lr = &vc->lr[i];

		if (lr->state != VGIC_LR_PENDING || !cpu_group_enabled(vc, lr))
			continue;
		if (group >= 0 && lr->group1 != (group == 1))
			continue;
		if (best < 0 || lr->priority < vc->lr[best].priority)
			best = (int)i;
	}
	return best;
}

/* Whether the LR may be signalled now: above the priority mask, and preempting. */
bool vgic_cpuif_can_signal(const struct vgic_cpu *vc, const struct vgic_lr *lr)
{
	return lr->priority < vc->pmr &&
	       cpu_group_priority(vc, lr) < vgic_cpuif_running_priority(vc);
}

uint32_t vgic_cpuif_lr_id(const struct vgic_lr *lr)
{
	return lr->intid < VGIC_NR_SGIS ? lr->intid | ((uint32_t)lr->source << 10) : lr->intid;
}

uint32_t vgic_cpuif_irq_lines(struct vgic_cpu *vc)
{
	int i;

	if (!(vc->hcr & GICH_HCR_EN))
		return 0;
	i = vgic_cpuif_highest_pending(vc, -1);
	if (i < 0 || !vgic_cpuif_can_signal(vc, &vc->lr[i]))
		return 0;
	/* GIC-CHOICES.md: Group 0 is signalled as FIQ only if FIQEn is set. */
	if (!vc->lr[i].group1 && (vc->ctlr & GICC_CTLR_FIQEN))
		return IVY_IRQ_LINE_FIQ;
	return IVY_IRQ_LINE_IRQ;
}

uint32_t vgic_cpuif_eisr(const struct vgic_cpu *vc)
{
	uint32_t eisr = 0;

	for (uint32_t i = 0; i < vc->used_lrs; i++)
		if (!vc->lr[i].state && vc->lr[i].eoi)
			eisr |= 1u << i;
	return eisr;
}

uint32_t vgic_cpuif_elrsr(const struct vgic_cpu *vc)
{
	uint32_t elrsr = 0;

	for (uint32_t i = 0; i < vc->dist->nr_lrs; i++)
		if (i >= vc->used_lrs || (!vc->lr[i].state && !vc->lr[i].eoi))
			elrsr |= 1u << i;
	return elrsr;
}

uint32_t vgic_cpuif_misr(const struct vgic_cpu *vc)
{
	uint32_t hcr = vc->hcr, misr = 0, valid = 0;
	bool pending = false;

	for (uint32_t i = 0; i < vc->used_lrs; i++) {
		valid += vc->lr[i].state != 0;
		pending |= (vc->lr[i].state & VGIC_LR_PENDING) != 0;
	}
	if (vgic_cpuif_eisr(vc))
		misr |= GICH_MISR_EOI;
	if ((hcr & GICH_HCR_UIE) && valid <= 1)
		misr |= GICH_MISR_U;
	if ((hcr & GICH_HCR_LRENPIE) && (hcr >> GICH_HCR_EOICOUNT_SHIFT))
		misr |= GICH_MISR_LRENP;
	if ((hcr & GICH_HCR_NPIE) && !pending)
		misr |= GICH_MISR_NP;
	if ((hcr & GICH_HCR_VGRP0EIE) && (vc->ctlr & GICC_CTLR_ENABLEGRP0))
		misr |= GICH_MISR_VGRP0E;
	if ((hcr & GICH_HCR_VGRP0DIE) && !(vc->ctlr & GICC_CTLR_ENABLEGRP0))
		misr |= GICH_MISR_VGRP0D;
	if ((hcr & GICH_HCR_VGRP1EIE) && (vc->ctlr & GICC_CTLR_ENABLEGRP1))
		misr |= GICH_MISR_VGRP1E;
	if ((hcr & GICH_HCR_VGRP1DIE) && !(vc->ctlr & GICC_CTLR_ENABLEGRP1))
		misr |= GICH_MISR_VGRP1D;
	return misr;
}

/*
 * A maintenance interrupt goes to the hypervisor: here it makes the VMM leave
 * the guest, so sync resamples EOIed level interrupts and flush refills LRs.
 */
void vgic_cpuif_maintenance(struct vgic_cpu *vc)
{
	if ((vc->hcr & GICH_HCR_EN) && vgic_cpuif_misr(vc))
		vgic_kick(vc->dist, vc);
}

uint32_t vgic_cpuif_ack(struct vgic_cpu *vc, int i)
{
	struct vgic_lr *lr = &vc->lr[i];
	uint32_t bit = 1u << (cpu_group_priority(vc, lr) >> 3);

	lr->state = VGIC_LR_ACTIVE;
	vc->apr |= bit;
	if (lr->group1)
		vc->apr_g1 |= bit;
	vm_trace(vc->dist->vm, IVY_TRACE_IRQ_ACK, (int32_t)vc->index, lr->intid, lr->source);
	return vgic_cpuif_lr_id(lr);
}

/*
 * Deactivation. An interrupt that is not in an LR (it did not fit) is counted
 * in GICH_HCR.EOICount as hardware does, and deactivated in the distributor
 * state directly, which software can do.
 */
void vgic_cpuif_deactivate(struct vgic_cpu *vc, uint32_t intid, uint32_t source)
{
	struct vgic_irq *irq;

	if (intid >= 1020 && intid < VGIC_MIN_LPI)
		return;
	for (uint32_t i = 0; i < vc->used_lrs; i++) {
		struct vgic_lr *lr = &vc->lr[i];

		if (lr->intid == intid && (lr->state & VGIC_LR_ACTIVE) &&
		    (intid >= VGIC_NR_SGIS || lr->source == source)) {
			lr->state &= (uint8_t)~VGIC_LR_ACTIVE;
			return;
		}
	}
	vc->hcr = (vc->hcr + (1u << GICH_HCR_EOICOUNT_SHIFT)) | (vc->hcr & 0x07ffffffu);
	irq = vgic_get_irq(vc->dist, vc, intid);
	if (!irq)
		return;
	pthread_mutex_lock(&irq->lock);
	if (irq->active && (intid >= VGIC_NR_SGIS || irq->active_source == source)) {
		irq->active = false;
		vgic_queue_irq_unlock(vc->dist, irq);
	} else {
		pthread_mutex_unlock(&irq->lock);
	}
	vgic_put_irq(vc->dist, irq);
}

/*
 * Priority drop, and deactivation unless EOImode is 1 (GICv2 EOIR, GICv3
 * ICC_EOIRn). The caller decodes the ID: GICv2 carries the SGI source CPU in
 * bits [12:10], GICv3 has 24-bit INTIDs and no source.
 */
void vgic_cpuif_eoi(struct vgic_cpu *vc, uint32_t intid, uint32_t source)
{
	if (intid >= 1020 && intid < VGIC_MIN_LPI)
		return;
	if (vc->apr) {
		uint32_t lowest = vc->apr & -vc->apr;

		vc->apr &= ~lowest;
		vc->apr_g1 &= ~lowest;
	}
	vm_trace(vc->dist->vm, IVY_TRACE_IRQ_EOI, (int32_t)vc->index, intid, source);
	if (!(vc->ctlr & GICC_CTLR_EOIMODE))
		vgic_cpuif_deactivate(vc, intid, source);
}

#define VGIC_HCR_MASK (0xffull | (0x1full << GICH_HCR_EOICOUNT_SHIFT))

int vgic_cpuif_set_hcr(struct vgic_cpu *vc, uint64_t val)
{
	/* Trap controls (ICH_HCR_EL2.TC, TALL0/1, TSEI, TDIR, DVIM) have nothing to trap here. */
	if (val & ~VGIC_HCR_MASK)
		return -EINVAL;
	vc->hcr = (uint32_t)val;
	return 0;
}

uint64_t vgic_cpuif_vmcr(const struct vgic_cpu *vc)
{
	return (vc->ctlr & VGIC_VMCR_CTLR_MASK) | ((uint64_t)vc->abpr << VGIC_VMCR_ABPR_SHIFT) |
	       ((uint64_t)vc->bpr << VGIC_VMCR_BPR_SHIFT) |
	       ((uint64_t)vc->pmr << VGIC_VMCR_PMR_SHIFT);
}

int vgic_cpuif_set_vmcr(struct vgic_cpu *vc, uint64_t val)
{
	const uint64_t valid = VGIC_VMCR_CTLR_MASK | (7ull << VGIC_VMCR_ABPR_SHIFT) |
			       (7ull << VGIC_VMCR_BPR_SHIFT) |
			       ((uint64_t)VGIC_PRI_MASK << VGIC_VMCR_PMR_SHIFT);
	uint32_t abpr = (val >> VGIC_VMCR_ABPR_SHIFT) & 7, bpr = (val >> VGIC_VMCR_BPR_SHIFT) & 7;

	/* The minimum binary points are 2 and 3 (5 priority bits); lower ones cannot be held. */
	if ((val & ~valid) || bpr < 2 || abpr < 3)
		return -EINVAL;
	vc->ctlr = (uint32_t)(val & VGIC_VMCR_CTLR_MASK);
	vc->abpr = (uint8_t)abpr;
	vc->bpr = (uint8_t)bpr;
	vc->pmr = (uint8_t)(val >> VGIC_VMCR_PMR_SHIFT);
	return 0;
}

uint32_t vgic_cpuif_apr(const struct vgic_cpu *vc, bool group1)
{
	return group1 ? vc->apr_g1 : vc->apr & ~vc->apr_g1;
}

void vgic_cpuif_set_apr(struct vgic_cpu *vc, bool group1, uint32_t val)
{
	uint32_t g0 = vc->apr & ~vc->apr_g1, g1 = vc->apr_g1;

	if (group1)
		g1 = val & ~g0;
	else
		g0 = val & ~g1;
	vc->apr = g0 | g1;
	vc->apr_g1 = g1;
}

struct vgic_lr vgic_cpuif_lr(const struct vgic_cpu *vc, uint32_t n)
{
	return n < vc->used_lrs ? vc->lr[n] : (struct vgic_lr){ 0 };
}

/*
 * An LR beyond those flush filled is new to sync: its flushed state is what
 * was written, so sync folds back only what the guest changed afterwards.
 */
void vgic_cpuif_set_lr(struct vgic_cpu *vc, uint32_t n, const struct vgic_lr *lr)
{
	uint8_t flushed = lr->state;

	if (n >= vc->used_lrs) {
		for (uint32_t i = vc->used_lrs; i < n; i++)
			vc->lr[i] = (struct vgic_lr){ 0 };
		vc->used_lrs = n + 1;
	} else {
		flushed = vc->lr[n].flushed;
	}
	vc->lr[n] = *lr;
	vc->lr[n].flushed = flushed;
}
