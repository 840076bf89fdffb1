/* SPDX-License-Identifier: MIT */
/*
 * The per-IRQ fields that the GICv2 distributor, the GICv3 distributor and the
 * GICv3 redistributors' SGI frames share (IGROUPR, I[SC]ENABLER, I[SC]PENDR,
 * I[SC]ACTIVER, IPRIORITYR, ICFGR). Each handler deals with one field of one
 * interrupt; the dispatcher (vgic_mmio.c) walks the banks. Model differences
 * are read from dist->model.
 */
#include "gic/vgic.h"

#include <errno.h>

/* GICv2 SGIs keep their pending state per source CPU and are always enabled. */
static bool is_v2_sgi(const struct vgic_access *acc, const struct vgic_irq *irq)
{
	return irq->intid < VGIC_NR_SGIS && acc->dist->model->sgi_sources;
}

uint64_t vgic_read_group(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return irq->group;
}

void vgic_write_group(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	pthread_mutex_lock(&irq->lock);
	irq->group = (uint8_t)field;
	vgic_queue_irq_unlock(acc->dist, irq);
}

/* Called without the IRQ's lock from guest reads (VGIC_REG_LOCKLESS_READ). */
uint64_t vgic_read_enable(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return atomic_load_explicit(&irq->enabled, memory_order_relaxed);
}

void vgic_write_senable(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (!field || is_v2_sgi(acc, irq))
		return;
	pthread_mutex_lock(&irq->lock);
	irq->enabled = true;
	vgic_queue_irq_unlock(acc->dist, irq);
}

/* GIC-CHOICES.md: SGIs are always enabled; ICENABLER writes to them are ignored. */
void vgic_write_cenable(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (!field || is_v2_sgi(acc, irq))
		return;
	pthread_mutex_lock(&irq->lock);
	irq->enabled = false;
	vgic_queue_irq_unlock(acc->dist, irq);
}

uint64_t vgic_read_pending(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return vgic_irq_is_pending(irq);
}

/* The host saves the latch; the line level travels through LEVEL_INFO. */
uint64_t vgic_host_read_pending(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return irq->pending_latch;
}

void vgic_write_spending(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (!field || is_v2_sgi(acc, irq))
		return;
	pthread_mutex_lock(&irq->lock);
	irq->pending_latch = true;
	vgic_queue_irq_unlock(acc->dist, irq);
}

void vgic_write_cpending(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (!field || is_v2_sgi(acc, irq))
		return;
	pthread_mutex_lock(&irq->lock);
	/* A level interrupt whose line is high stays pending (pending = latch OR line). */
	irq->pending_latch = false;
	vgic_queue_irq_unlock(acc->dist, irq);
}

uint64_t vgic_read_active(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return irq->active;
}

void vgic_write_sactive(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (!field)
		return;
	pthread_mutex_lock(&irq->lock);
	if (!irq->active && is_v2_sgi(acc, irq))
		irq->active_source = (uint8_t)acc->vc->index;
	irq->active = true;
	vgic_queue_irq_unlock(acc->dist, irq);
}

void vgic_write_cactive(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (!field)
		return;
	pthread_mutex_lock(&irq->lock);
	irq->active = false;
	vgic_queue_irq_unlock(acc->dist, irq);
}

uint64_t vgic_read_priority(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return irq->priority;
}

/* GIC-CHOICES.md: 5 priority bits; a field written 0xff reads 0xf8. */
void vgic_write_priority(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	pthread_mutex_lock(&irq->lock);
	irq->priority = (uint8_t)(field & VGIC_PRI_MASK);
	vgic_queue_irq_unlock(acc->dist, irq);
}

int vgic_check_priority(const struct vgic_access *acc, uint32_t intid, uint64_t field)
{
	(void)acc;
	(void)intid;
	return (field & ~VGIC_PRI_MASK) ? -EINVAL : 0;
}

/* GIC-CHOICES.md: SGIs read edge (0b10), PPIs level (0b00), both read-only. */
uint64_t vgic_read_config(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return irq->config == VGIC_CONFIG_EDGE ? 2u : 0u;
}

void vgic_write_config(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (irq->intid < VGIC_NR_PRIVATE_IRQS)
		return;
	pthread_mutex_lock(&irq->lock);
	irq->config = (field & 2u) ? VGIC_CONFIG_EDGE : VGIC_CONFIG_LEVEL;
	vgic_queue_irq_unlock(acc->dist, irq);
}

int vgic_check_config(const struct vgic_access *acc, uint32_t intid, uint64_t field)
{
	(void)acc;
	if (field & 1u)
		return -EINVAL;
	if (intid < VGIC_NR_SGIS)
		return field == 2u ? 0 : -EINVAL;
	if (intid < VGIC_NR_PRIVATE_IRQS)
		return field == 0u ? 0 : -EINVAL;
	return 0;
}
