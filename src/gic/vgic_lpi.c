/* SPDX-License-Identifier: MIT */
/*
 * LPIs (IHI 0069 chapter 5.1): reference-counted vgic_irqs, found in O(1) by
 * INTID in a table indexed by INTID - 8192, created by whoever maps them (the
 * ITS) and configured from the redistributor's tables in guest memory:
 *  - the configuration table at GICR_PROPBASER, one byte per LPI: priority
 *    [7:2], enable [0], read when an LPI is created and on INVLPIR/INVALLR;
 *  - the pending table at GICR_PENDBASER, one bit per INTID, read when
 *    GICR_CTLR.EnableLPIs goes from 0 to 1 (unless PTZ was written with it).
 * LPIs are edge-triggered Group 1 interrupts with no active state of their own
 * beyond the list register's.
 *
 * References: each mapping holds one (vgic_lpi_create .. vgic_lpi_release),
 * each ap_list membership one, and each vgic_get_irq() caller one until
 * vgic_put_irq(). The last put takes it out of the table and frees it.
 */
#include "gic/vgic.h"

#include <errno.h>
#include <stdlib.h>

#define LPI_IDBITS 16
#define NR_LPIS	   ((1u << LPI_IDBITS) - VGIC_MIN_LPI)

/* The table slot of an INTID, or NULL (lpi_lock held). */
static struct vgic_irq **lpi_slot_locked(struct vgic_dist *dist, uint32_t intid)
{
	if (!dist->lpis || intid < VGIC_MIN_LPI || intid - VGIC_MIN_LPI >= NR_LPIS)
		return NULL;
	return &dist->lpis[intid - VGIC_MIN_LPI];
}

struct vgic_irq *vgic_lpi_get(struct vgic_dist *dist, uint32_t intid)
{
	struct vgic_irq **slot, *irq = NULL;

	pthread_mutex_lock(&dist->lpi_lock);
	slot = lpi_slot_locked(dist, intid);
	if (slot && *slot) {
		irq = *slot;
		atomic_fetch_add_explicit(&irq->refcount, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&dist->lpi_lock);
	return irq;
}

void vgic_lpi_put(struct vgic_dist *dist, struct vgic_irq *irq)
{
	bool last;

	pthread_mutex_lock(&dist->lpi_lock);
	last = atomic_fetch_sub_explicit(&irq->refcount, 1, memory_order_acq_rel) == 1;
	if (last) {
		struct vgic_irq **slot = lpi_slot_locked(dist, irq->intid);

		if (slot && *slot == irq)
			*slot = NULL;
	}
	pthread_mutex_unlock(&dist->lpi_lock);
	if (last) {
		pthread_mutex_destroy(&irq->lock);
		free(irq);
	}
}

/*
 * Reads the LPI's configuration byte from the VM's LPI configuration table
 * (dist->propbaser, see vgic.h). A table that is not in guest RAM, or none
 * yet, leaves the LPI disabled.
 */
static void lpi_read_config(struct vgic_dist *dist, struct vgic_irq *irq)
{
	uint64_t propbaser = atomic_load(&dist->propbaser);
	uint32_t idbits = (uint32_t)(propbaser & 0x1f) + 1;
	uint8_t cfg = 0;

	if (idbits < 14 || irq->intid >= (1ull << idbits) ||
	    ivy_guest_read(dist->vm,
			   (propbaser & 0x000ffffffffff000ull) + irq->intid - VGIC_MIN_LPI, &cfg,
			   1))
		cfg = 0;
	pthread_mutex_lock(&irq->lock);
	irq->priority = cfg & VGIC_PRI_MASK;
	irq->enabled = cfg & 1;
	vgic_queue_irq_unlock(dist, irq);
}

int vgic_lpi_create(struct vgic_dist *dist, uint32_t intid, struct vgic_cpu *target,
		    struct vgic_irq **out)
{
	struct vgic_irq **slot, *irq;
	int ret = 0;

	if (intid < VGIC_MIN_LPI || intid - VGIC_MIN_LPI >= NR_LPIS || !target)
		return -EINVAL;
	pthread_mutex_lock(&dist->lpi_lock);
	if (!dist->lpis) {
		dist->lpis = calloc(NR_LPIS, sizeof(*dist->lpis));
		if (!dist->lpis) {
			ret = -ENOMEM;
			goto out;
		}
	}
	slot = lpi_slot_locked(dist, intid);
	if (*slot) {
		/* Already mapped: another reference to the same interrupt. */
		irq = *slot;
		atomic_fetch_add_explicit(&irq->refcount, 1, memory_order_relaxed);
		*out = irq;
		goto out;
	}
	irq = calloc(1, sizeof(*irq));
	if (!irq) {
		ret = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&irq->lock, NULL);
	vgic_list_init(&irq->ap_node);
	irq->intid = intid;
	irq->config = VGIC_CONFIG_EDGE;
	irq->group = 1;
	irq->target = target;
	/* The mapping's reference, given back by vgic_lpi_release(). */
	atomic_init(&irq->refcount, 1);
	*slot = irq;
	*out = irq;
out:
	pthread_mutex_unlock(&dist->lpi_lock);
	if (!ret)
		lpi_read_config(dist, *out);
	return ret;
}

void vgic_lpi_release(struct vgic_dist *dist, struct vgic_irq *irq)
{
	/* Unmapped: no longer pending; queued copies go at the owner's next flush. */
	pthread_mutex_lock(&irq->lock);
	irq->pending_latch = false;
	vgic_queue_irq_unlock(dist, irq);
	vgic_lpi_put(dist, irq);
}

/*
 * GIC-CHOICES.md: an LPI whose target redistributor has LPIs disabled is
 * dropped. EnableLPIs is read under the LPI's lock: a redistributor clearing
 * it (vgic_lpi_enable_changed) takes the same lock afterwards to drop what is
 * pending, so an LPI is either made pending before that drop (and dropped) or
 * sees EnableLPIs clear (and is not made pending).
 */
int vgic_lpi_inject_to(struct vgic_dist *dist, struct vgic_irq *irq, struct vgic_cpu *vc)
{
	pthread_mutex_lock(&irq->lock);
	if (vc)
		irq->target = vc;
	vc = irq->target;
	if (!vc || !atomic_load(&vc->lpis_enabled)) {
		pthread_mutex_unlock(&irq->lock);
		return 0;
	}
	vm_trace(dist->vm, IVY_TRACE_IRQ_INJECT, (int32_t)vc->index, irq->intid, 1);
	irq->pending_latch = true;
	vgic_queue_irq_unlock(dist, irq);
	return 1;
}

int vgic_lpi_inject(struct vgic_dist *dist, struct vgic_irq *irq)
{
	return vgic_lpi_inject_to(dist, irq, NULL);
}

struct vgic_irq *vgic_lpi_peek(struct vgic_dist *dist, uint32_t intid)
{
	/*
	 * No lock: the caller's reference keeps the slot and the table from
	 * changing, and the caller's own synchronisation with whoever took that
	 * reference (for the ITS, publishing the translation with release
	 * ordering after lpi_get) orders these loads after the stores that made
	 * them.
	 */
	struct vgic_irq **lpis = dist->lpis;

	if (!lpis || intid < VGIC_MIN_LPI || intid - VGIC_MIN_LPI >= NR_LPIS)
		return NULL;
	return lpis[intid - VGIC_MIN_LPI];
}

void vgic_lpi_move(struct vgic_dist *dist, struct vgic_irq *irq, struct vgic_cpu *target)
{
	/*
	 * The pending state moves with the LPI (and is dropped if the new
	 * redistributor has LPIs disabled); an active one finishes where it is.
	 */
	pthread_mutex_lock(&irq->lock);
	irq->target = target;
	if (target && !atomic_load(&target->lpis_enabled))
		irq->pending_latch = false;
	vgic_queue_irq_unlock(dist, irq);
}

/*
 * References to the LPIs targeting vc (all of them if vc is NULL), in *out;
 * the caller puts each. Returns how many, or -ENOMEM.
 */
static int lpi_collect(struct vgic_dist *dist, struct vgic_cpu *vc, struct vgic_irq ***out)
{
	struct vgic_irq **list = NULL;
	uint32_t n = 0, cap = 0;

	pthread_mutex_lock(&dist->lpi_lock);
	for (uint32_t i = 0; dist->lpis && i < NR_LPIS; i++) {
		struct vgic_irq *irq = dist->lpis[i];

		if (!irq)
			continue;
		if (n == cap) {
			struct vgic_irq **grown;

			cap = cap ? cap * 2 : 64;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				pthread_mutex_unlock(&dist->lpi_lock);
				for (uint32_t k = 0; k < n; k++)
					vgic_lpi_put(dist, list[k]);
				free(list);
				return -ENOMEM;
			}
			list = grown;
		}
		atomic_fetch_add_explicit(&irq->refcount, 1, memory_order_relaxed);
		list[n++] = irq;
	}
	pthread_mutex_unlock(&dist->lpi_lock);
	/* Filter by target outside the table lock (the IRQ lock is taken per LPI). */
	uint32_t kept = 0;

	for (uint32_t i = 0; i < n; i++) {
		bool mine;

		pthread_mutex_lock(&list[i]->lock);
		mine = !vc || list[i]->target == vc;
		pthread_mutex_unlock(&list[i]->lock);
		if (mine)
			list[kept++] = list[i];
		else
			vgic_lpi_put(dist, list[i]);
	}
	*out = list;
	return (int)kept;
}

void vgic_lpi_invalidate(struct vgic_dist *dist, struct vgic_cpu *vc, uint32_t intid)
{
	struct vgic_irq **list;
	int n;

	if (intid) {
		struct vgic_irq *irq = vgic_lpi_get(dist, intid);

		if (irq) {
			lpi_read_config(dist, irq);
			vgic_lpi_put(dist, irq);
		}
		return;
	}
	n = lpi_collect(dist, vc, &list);
	for (int i = 0; i < n; i++) {
		lpi_read_config(dist, list[i]);
		vgic_lpi_put(dist, list[i]);
	}
	if (n >= 0)
		free(list);
}

/*
 * GICR_CTLR.EnableLPIs changed on vc. Enabling reads the pending table (unless
 * PTZ said it is zero); disabling drops the pending LPIs of this redistributor
 * from delivery (GIC-CHOICES.md).
 */
void vgic_lpi_enable_changed(struct vgic_dist *dist, struct vgic_cpu *vc, bool enabled,
			     uint64_t pendbaser, bool ptz)
{
	ivy_gpa_t table = pendbaser & 0x000fffffffff0000ull;
	struct vgic_irq **list;
	int n = lpi_collect(dist, vc, &list);

	for (int i = 0; i < n; i++) {
		struct vgic_irq *irq = list[i];
		uint8_t byte = 0;

		if (enabled && !ptz && ivy_guest_read(dist->vm, table + irq->intid / 8, &byte, 1))
			byte = 0;
		pthread_mutex_lock(&irq->lock);
		if (!enabled)
			irq->pending_latch = false;
		else if ((byte >> (irq->intid % 8)) & 1)
			irq->pending_latch = true;
		vgic_queue_irq_unlock(dist, irq);
		vgic_lpi_put(dist, irq);
	}
	if (n >= 0)
		free(list);
}

void vgic_lpi_free_all(struct vgic_dist *dist)
{
	if (!dist->lpis)
		return;
	for (uint32_t i = 0; i < NR_LPIS; i++) {
		struct vgic_irq *irq = dist->lpis[i];

		if (irq) {
			pthread_mutex_destroy(&irq->lock);
			free(irq);
		}
	}
	free(dist->lpis);
	dist->lpis = NULL;
}

int vgic_lpi_save_pending(struct vgic_dist *dist)
{
	struct vgic_irq **list;
	int n = lpi_collect(dist, NULL, &list), ret = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct vgic_irq *irq = list[i];
		struct vgic_cpu *vc;
		bool pending;
		ivy_gpa_t byte_gpa;
		uint8_t byte;

		pthread_mutex_lock(&irq->lock);
		vc = irq->target;
		pending = irq->pending_latch;
		pthread_mutex_unlock(&irq->lock);
		if (vc && !ret) {
			pthread_mutex_lock(&vc->rd_lock);
			byte_gpa = (vc->pendbaser & 0x000fffffffff0000ull) + irq->intid / 8;
			pthread_mutex_unlock(&vc->rd_lock);
			ret = ivy_guest_read(dist->vm, byte_gpa, &byte, 1);
			if (!ret) {
				byte = (uint8_t)((byte & ~(1u << (irq->intid % 8))) |
						 ((uint32_t)pending << (irq->intid % 8)));
				ret = ivy_guest_write(dist->vm, byte_gpa, &byte, 1);
			}
		}
		vgic_lpi_put(dist, irq);
	}
	free(list);
	return ret;
}
