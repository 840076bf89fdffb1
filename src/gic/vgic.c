/* SPDX-License-Identifier: MIT */
/*
 * The vGIC core, shared by the GIC models: per-interrupt state, the per-vCPU
 * lists of pending and active interrupts (ap_list), the one queueing function,
 * and the list registers (flush before guest entry, sync after exit).
 *
 * Lock order, outermost first (never take a lock above one you hold):
 *
 *   dev->attr_lock                     attribute calls on the GIC device
 *     vm->config_lock                  vCPU creation, MMIO registration, VM destroy
 *       dist->config_lock              GIC initialisation and configuration
 *         vgic_cpu->ap_list_lock       one vCPU's ap_list
 *           vgic_irq->lock             one interrupt's state
 *       its->cmd_lock                  an ITS's commands (its_priv.h); the redistributor
 *                                      ops (vgic_its.c) take the locks below and the
 *                                      ap_list and IRQ locks under it, never config locks
 *   dist->lpi_lock                     the LPI table: a leaf (nothing is taken under it)
 *   vgic_cpu->rd_lock                  a redistributor's LPI registers: a leaf
 *
 * An ITS's MSIs run in read-side sections (its.c) and take IRQ and ap_list
 * locks; its_synchronize() waits for them, so it is called with no vGIC lock
 * held (after GICR_CTLR.EnableLPIs is cleared).
 *   dist->resample_lock (rwlock)       never taken with another vGIC lock held; the
 *                                      resample hooks run under its read side and may
 *                                      inject (taking the locks above), never add/del
 *
 * Two ap_list locks are never held together: migrating an IRQ to another vCPU
 * takes it off the old list, drops every lock, and queues it again.
 * An IRQ is on at most one ap_list (irq->vcpu) and only its owner's flush/sync
 * takes it off; anyone may add it (vgic_queue_irq_unlock).
 *
 * List registers, GICH_* state and the virtual CPU interface registers belong
 * to the vCPU's thread: flush, the guest's CPU-interface accesses and sync all
 * run there. The host touches them only while the vCPU is not loaded.
 */
#include "gic/vgic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void vgic_irq_init(struct vgic_irq *irq, uint32_t intid)
{
	memset(irq, 0, sizeof(*irq));
	pthread_mutex_init(&irq->lock, NULL);
	vgic_list_init(&irq->ap_node);
	irq->intid = intid;
	/* SGIs are edge (and always enabled on GICv2); PPIs and SPIs start level. */
	irq->config = intid < VGIC_NR_SGIS ? VGIC_CONFIG_EDGE : VGIC_CONFIG_LEVEL;
	atomic_init(&irq->refcount, 0);
}

struct vgic_dist *vgic_dist_alloc(struct ivy_vm *vm, const struct vgic_model *model)
{
	struct vgic_dist *dist = calloc(1, sizeof(*dist));

	if (!dist)
		return NULL;
	dist->vm = vm;
	dist->model = model;
	pthread_mutex_init(&dist->config_lock, NULL);
	pthread_mutex_init(&dist->lpi_lock, NULL);
	pthread_rwlock_init(&dist->resample_lock, NULL);
	atomic_init(&dist->initialized, false);
	atomic_init(&dist->ready, false);
	atomic_init(&dist->ctlr, 0);
	dist->nr_lrs = VGIC_DEFAULT_NR_LRS;
	dist->dist_base = dist->cpu_base = dist->v2m_base = dist->redist_base = VGIC_ADDR_UNDEF;
	/* QEMU's virt board: 64 MSIs from INTID 80. */
	dist->v2m_spi_base = 80;
	dist->v2m_nr_spis = 64;
	return dist;
}

static void vgic_cpu_free(struct vgic_cpu *vc)
{
	if (!vc)
		return;
	for (unsigned i = 0; i < VGIC_NR_PRIVATE_IRQS; i++)
		pthread_mutex_destroy(&vc->private_irqs[i].lock);
	pthread_mutex_destroy(&vc->ap_list_lock);
	pthread_mutex_destroy(&vc->rd_lock);
	free(vc->sort_buf);
	free(vc->migrate_buf);
	free(vc);
}

void vgic_dist_free(struct vgic_dist *dist)
{
	if (!dist)
		return;
	for (uint32_t i = 0; i < dist->nr_cpus; i++) {
		struct vgic_cpu *vc = dist->cpus[i];

		if (vc)
			vc->vcpu->vgic = NULL;
		vgic_cpu_free(vc);
	}
	free(dist->cpus);
	if (dist->spis)
		for (uint32_t i = 0; i < dist->nr_irqs - VGIC_NR_PRIVATE_IRQS; i++)
			pthread_mutex_destroy(&dist->spis[i].lock);
	free(dist->spis);
	free(dist->resample);
	vgic_lpi_free_all(dist);
	pthread_mutex_destroy(&dist->lpi_lock);
	pthread_rwlock_destroy(&dist->resample_lock);
	pthread_mutex_destroy(&dist->config_lock);
	free(dist);
}

static struct vgic_cpu *vgic_cpu_alloc(struct vgic_dist *dist, struct ivy_vcpu *vcpu)
{
	struct vgic_cpu *vc = calloc(1, sizeof(*vc));

	if (!vc)
		return NULL;
	vc->sort_buf = calloc(dist->nr_irqs, sizeof(*vc->sort_buf));
	vc->migrate_buf = calloc(dist->nr_irqs, sizeof(*vc->migrate_buf));
	if (!vc->sort_buf || !vc->migrate_buf) {
		free(vc->sort_buf);
		free(vc->migrate_buf);
		free(vc);
		return NULL;
	}
	vc->vcpu = vcpu;
	vc->dist = dist;
	vc->index = vcpu->index;
	pthread_mutex_init(&vc->ap_list_lock, NULL);
	pthread_mutex_init(&vc->rd_lock, NULL);
	vgic_list_init(&vc->ap_list);
	for (uint32_t i = 0; i < VGIC_NR_PRIVATE_IRQS; i++) {
		struct vgic_irq *irq = &vc->private_irqs[i];

		vgic_irq_init(irq, i);
		irq->target = vc;
		/* GIC-CHOICES.md: SGIs are always enabled on GICv2. */
		irq->enabled = i < VGIC_NR_SGIS && dist->model->sgi_sources;
	}
	vc->hcr = GICH_HCR_EN;
	vc->pmr = 0;
	vc->bpr = 2;
	vc->abpr = 3;
	atomic_init(&vc->loaded, false);
	return vc;
}

/*
 * KVM's vgic_init: allocates the IRQ state for the vCPUs that exist now. From
 * here on no vCPU can be added (-EBUSY from vgic_v2_vcpu_create) and the number
 * of IRQs is fixed. Needs vm->config_lock and dist->config_lock.
 */
int vgic_init_locked(struct vgic_dist *dist)
{
	struct ivy_vm *vm = dist->vm;
	uint32_t nr_cpus = 0;
	int ret = -ENOMEM;

	if (atomic_load_explicit(&dist->initialized, memory_order_relaxed))
		return 0;
	if (!dist->nr_irqs)
		dist->nr_irqs = VGIC_DEFAULT_NR_IRQS;
	for (uint32_t i = 0; i < vm->max_vcpus; i++)
		if (ivy_vm_vcpu(vm, i))
			nr_cpus = i + 1;
	if (nr_cpus == 0 || nr_cpus > dist->model->max_vcpus)
		return nr_cpus ? -E2BIG : -ENODEV;
	dist->cpus = calloc(nr_cpus, sizeof(*dist->cpus));
	dist->spis = calloc(dist->nr_irqs - VGIC_NR_PRIVATE_IRQS, sizeof(*dist->spis));
	if (!dist->cpus || !dist->spis)
		goto err_alloc;
	dist->nr_cpus = nr_cpus;
	for (uint32_t i = 0; i < nr_cpus; i++) {
		struct ivy_vcpu *vcpu = ivy_vm_vcpu(vm, i);

		if (!vcpu)
			continue;
		dist->cpus[i] = vgic_cpu_alloc(dist, vcpu);
		if (!dist->cpus[i])
			goto err_cpus;
		dist->present_cpus |= 1u << (i & 31);
	}
	for (uint32_t i = 0; i < dist->nr_irqs - VGIC_NR_PRIVATE_IRQS; i++)
		vgic_irq_init(&dist->spis[i], i + VGIC_NR_PRIVATE_IRQS);
	for (uint32_t i = 0; i < nr_cpus; i++)
		if (dist->cpus[i])
			dist->cpus[i]->vcpu->vgic = dist->cpus[i];
	if (dist->model->init)
		dist->model->init(dist);
	atomic_store_explicit(&dist->initialized, true, memory_order_release);
	return 0;

err_cpus:
	for (uint32_t i = 0; i < nr_cpus; i++)
		vgic_cpu_free(dist->cpus[i]);
err_alloc:
	free(dist->cpus);
	free(dist->spis);
	dist->cpus = NULL;
	dist->spis = NULL;
	dist->nr_cpus = 0;
	dist->present_cpus = 0;
	return ret;
}

int vgic_lazy_init(struct vgic_dist *dist)
{
	struct ivy_vm *vm = dist->vm;
	int ret;

	if (atomic_load_explicit(&dist->initialized, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&vm->config_lock);
	pthread_mutex_lock(&dist->config_lock);
	ret = vm_is_destroyed(vm) ? -ENODEV : vgic_init_locked(dist);
	pthread_mutex_unlock(&dist->config_lock);
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

/* KVM's kvm_vgic_map_resources, run at the first vCPU run. */
int vgic_map(struct vgic_dist *dist)
{
	struct ivy_vm *vm = dist->vm;
	int ret = 0;

	pthread_mutex_lock(&vm->config_lock);
	pthread_mutex_lock(&dist->config_lock);
	if (vm_is_destroyed(vm)) {
		ret = -ENODEV;
		goto out;
	}
	if (atomic_load_explicit(&dist->ready, memory_order_relaxed))
		goto out;
	ret = vgic_init_locked(dist);
	if (ret)
		goto out;
	ret = dist->model->map(dist);
	if (ret)
		goto out;
	atomic_store_explicit(&dist->ready, true, memory_order_release);
out:
	pthread_mutex_unlock(&dist->config_lock);
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

struct vgic_cpu *vgic_cpu_of(struct vgic_dist *dist, uint32_t index)
{
	if (!atomic_load_explicit(&dist->initialized, memory_order_acquire) ||
	    index >= dist->nr_cpus)
		return NULL;
	return dist->cpus[index];
}

struct vgic_cpu *vgic_cpu_lookup(struct vgic_dist *dist, uint32_t index)
{
	return index < dist->nr_cpus ? dist->cpus[index] : NULL;
}

struct vgic_irq *vgic_get_irq(struct vgic_dist *dist, struct vgic_cpu *vc, uint32_t intid)
{
	if (intid < VGIC_NR_PRIVATE_IRQS)
		return vc ? &vc->private_irqs[intid] : NULL;
	if (intid < dist->nr_irqs && intid < 1020)
		return &dist->spis[intid - VGIC_NR_PRIVATE_IRQS];
	/* LPIs are reference counted and found by the model (GICv3). */
	if (intid >= VGIC_MIN_LPI && dist->model->lpi_get)
		return dist->model->lpi_get(dist, intid);
	return NULL;
}

void vgic_put_irq(struct vgic_dist *dist, struct vgic_irq *irq)
{
	if (irq && irq->intid >= VGIC_MIN_LPI && dist->model->lpi_put)
		dist->model->lpi_put(dist, irq);
}

bool vgic_irq_is_pending(const struct vgic_irq *irq)
{
	if (irq->config == VGIC_CONFIG_LEVEL)
		return irq->pending_latch || irq->line_level;
	return irq->pending_latch;
}

void vgic_kick(struct vgic_dist *dist, struct vgic_cpu *vc)
{
	vm_kick(dist->vm, vc->vcpu);
}

/*
 * Where the IRQ belongs right now (irq->lock held): an active IRQ stays with the
 * vCPU that has it (it must be deactivated there); a pending, enabled IRQ whose
 * group the distributor forwards goes to its target; anything else nowhere.
 */
static struct vgic_cpu *vgic_target_oracle(struct vgic_dist *dist, struct vgic_irq *irq)
{
	if (irq->active)
		return irq->vcpu ? irq->vcpu : irq->target;
	if (irq->enabled && vgic_irq_is_pending(irq) &&
	    (atomic_load_explicit(&dist->ctlr, memory_order_relaxed) & (1u << irq->group)))
		return irq->target;
	return NULL;
}

/*
 * The one queueing function. Called with irq->lock held; returns with it
 * released. Taking the ap_list lock means dropping the IRQ lock first (lock
 * order), so the decision is re-checked once both are held.
 */
void vgic_queue_irq_unlock(struct vgic_dist *dist, struct vgic_irq *irq)
{
	struct vgic_cpu *vc;

retry:
	vc = vgic_target_oracle(dist, irq);
	if (irq->vcpu || !vc) {
		/*
		 * Already on a list, or nowhere to go. The owner re-reads the IRQ at
		 * its next flush (to deliver, retire or migrate it): kick it.
		 */
		struct vgic_cpu *owner = irq->vcpu;

		pthread_mutex_unlock(&irq->lock);
		if (owner)
			vgic_kick(dist, owner);
		return;
	}
	pthread_mutex_unlock(&irq->lock);

	pthread_mutex_lock(&vc->ap_list_lock);
	pthread_mutex_lock(&irq->lock);
	if (irq->vcpu || vc != vgic_target_oracle(dist, irq)) {
		pthread_mutex_unlock(&vc->ap_list_lock);
		goto retry;
	}
	if (irq->intid >= VGIC_MIN_LPI)
		atomic_fetch_add_explicit(&irq->refcount, 1, memory_order_relaxed);
	vgic_list_add_tail(&vc->ap_list, &irq->ap_node);
	irq->vcpu = vc;
	pthread_mutex_unlock(&irq->lock);
	pthread_mutex_unlock(&vc->ap_list_lock);
	vgic_kick(dist, vc);
}

void vgic_requeue_all(struct vgic_dist *dist)
{
	for (uint32_t c = 0; c < dist->nr_cpus; c++) {
		struct vgic_cpu *vc = dist->cpus[c];

		if (!vc)
			continue;
		for (uint32_t i = 0; i < VGIC_NR_PRIVATE_IRQS; i++) {
			pthread_mutex_lock(&vc->private_irqs[i].lock);
			vgic_queue_irq_unlock(dist, &vc->private_irqs[i]);
		}
	}
	for (uint32_t i = 0; i < dist->nr_irqs - VGIC_NR_PRIVATE_IRQS; i++) {
		pthread_mutex_lock(&dist->spis[i].lock);
		vgic_queue_irq_unlock(dist, &dist->spis[i]);
	}
}

/* GICv2: an SPI goes to the lowest-numbered present CPU among its targets (GIC-CHOICES.md). */
void vgic_set_spi_target(struct vgic_irq *irq, struct vgic_dist *dist)
{
	uint32_t t = irq->targets & dist->present_cpus;

	irq->target = t ? dist->cpus[__builtin_ctz(t)] : NULL;
}

int vgic_inject(struct vgic_dist *dist, struct vgic_cpu *vc, uint32_t intid, bool level)
{
	struct vgic_irq *irq = vgic_get_irq(dist, vc, intid);

	if (!irq)
		return -EINVAL;
	vm_trace(dist->vm, IVY_TRACE_IRQ_INJECT, vc ? (int32_t)vc->index : -1, intid, level);
	pthread_mutex_lock(&irq->lock);
	/* KVM_IRQ_LINE: edge-triggered inputs latch on a rising edge; levels follow the line. */
	if (irq->config == VGIC_CONFIG_EDGE && level && !irq->line_level)
		irq->pending_latch = true;
	irq->line_level = level;
	vgic_queue_irq_unlock(dist, irq);
	vgic_put_irq(dist, irq);
	return 0;
}

void vgic_pulse(struct vgic_dist *dist, struct vgic_irq *irq)
{
	vm_trace(dist->vm, IVY_TRACE_IRQ_INJECT, -1, irq->intid, 1);
	pthread_mutex_lock(&irq->lock);
	irq->pending_latch = true;
	vgic_queue_irq_unlock(dist, irq);
}

/*
 * Takes IRQs that are neither pending nor active off the list, and IRQs that now
 * belong to another vCPU (their target changed) are queued there.
 */
static void vgic_prune_ap_list(struct vgic_cpu *vc)
{
	struct vgic_dist *dist = vc->dist;
	uint32_t nr_migrate = 0;
	struct vgic_list *n, *next;

	pthread_mutex_lock(&vc->ap_list_lock);
	for (n = vc->ap_list.next; n != &vc->ap_list; n = next) {
		struct vgic_irq *irq = vgic_irq_of_node(n);
		struct vgic_cpu *target;

		next = n->next;
		pthread_mutex_lock(&irq->lock);
		target = vgic_target_oracle(dist, irq);
		/* Stays here, or must move but the scratch is full: the next prune moves it. */
		if (target == vc || (target && nr_migrate == dist->nr_irqs)) {
			pthread_mutex_unlock(&irq->lock);
			continue;
		}
		vgic_list_del(&irq->ap_node);
		irq->vcpu = NULL;
		pthread_mutex_unlock(&irq->lock);
		if (target)
			vc->migrate_buf[nr_migrate++] = irq;
		else
			vgic_put_irq(dist, irq);
	}
	pthread_mutex_unlock(&vc->ap_list_lock);
	for (uint32_t i = 0; i < nr_migrate; i++) {
		struct vgic_irq *irq = vc->migrate_buf[i];

		pthread_mutex_lock(&irq->lock);
		vgic_queue_irq_unlock(dist, irq);
		vgic_put_irq(dist, irq);
	}
}

static void vgic_sort(struct vgic_sort_ent *e, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		struct vgic_sort_ent x = e[i];
		uint32_t j = i;

		for (; j > 0 && e[j - 1].key > x.key; j--)
			e[j] = e[j - 1];
		e[j] = x;
	}
}

static bool vgic_lr_add(struct vgic_cpu *vc, struct vgic_irq *irq, uint8_t source, uint8_t state)
{
	struct vgic_lr *lr;

	if (vc->used_lrs >= vc->dist->nr_lrs)
		return false;
	lr = &vc->lr[vc->used_lrs++];
	lr->intid = irq->intid;
	lr->source = source;
	lr->priority = irq->priority;
	lr->state = state;
	lr->flushed = state;
	lr->group1 = irq->group;
	/* Level interrupts ask for an EOI maintenance interrupt so they are resampled. */
	lr->eoi = irq->config == VGIC_CONFIG_LEVEL;
	vm_trace(vc->dist->vm, IVY_TRACE_IRQ_DELIVER, (int32_t)vc->index, irq->intid, source);
	return true;
}

/* Fills LRs from one IRQ (its lock held); false if they ran out. */
static bool vgic_populate_lrs(struct vgic_cpu *vc, struct vgic_irq *irq)
{
	struct vgic_dist *dist = vc->dist;
	bool deliverable =
		irq->enabled && vgic_irq_is_pending(irq) &&
		(atomic_load_explicit(&dist->ctlr, memory_order_relaxed) & (1u << irq->group));

	if (dist->model->sgi_sources && irq->intid < VGIC_NR_SGIS) {
		/* GICv2 SGIs: one LR per source CPU, lowest source first (GIC-CHOICES.md). */
		if (irq->active) {
			uint8_t bit = (uint8_t)(1u << irq->active_source);
			uint8_t pend = (deliverable && (irq->source & bit)) ? VGIC_LR_PENDING : 0;

			if (!vgic_lr_add(vc, irq, irq->active_source, VGIC_LR_ACTIVE | pend))
				return false;
			if (pend)
				irq->source &= (uint8_t)~bit;
		}
		while (deliverable && irq->source) {
			uint8_t src = (uint8_t)__builtin_ctz(irq->source);

			if (!vgic_lr_add(vc, irq, src, VGIC_LR_PENDING))
				break;
			irq->source &= (uint8_t) ~(1u << src);
		}
		irq->pending_latch = irq->source != 0;
		return !(deliverable && irq->source);
	}
	/*
	 * An active level interrupt goes into its LR without the pending bit (KVM
	 * does the same): with active+pending, the guest's EOI would leave the LR
	 * pending and the guest could acknowledge it again before the EOI is folded
	 * back and the device resampled (and its line lowered) - a spurious second
	 * delivery. The EOI maintenance makes it pending again if the line is high.
	 */
	if (irq->config == VGIC_CONFIG_LEVEL && irq->active)
		deliverable = false;
	if (!vgic_lr_add(vc, irq, 0,
			 (uint8_t)((irq->active ? VGIC_LR_ACTIVE : 0) |
				   (deliverable ? VGIC_LR_PENDING : 0))))
		return false;
	/* An edge's pending state now lives in the LR; sync puts it back if not acknowledged. */
	if (deliverable && irq->config == VGIC_CONFIG_EDGE)
		irq->pending_latch = false;
	return true;
}

void vgic_flush_cpu(struct vgic_cpu *vc)
{
	struct vgic_dist *dist = vc->dist;
	uint32_t n = 0;
	bool overflow = false;
	struct vgic_list *node;

	vgic_prune_ap_list(vc);
	pthread_mutex_lock(&vc->ap_list_lock);
	for (node = vc->ap_list.next; node != &vc->ap_list && n < dist->nr_irqs;
	     node = node->next) {
		struct vgic_irq *irq = vgic_irq_of_node(node);

		pthread_mutex_lock(&irq->lock);
		/* Active first, so active IRQs are never starved of LRs; then by priority. */
		vc->sort_buf[n].key = ((uint64_t)!irq->active << 40) |
				      ((uint64_t)irq->priority << 32) | irq->intid;
		vc->sort_buf[n].irq = irq;
		n++;
		pthread_mutex_unlock(&irq->lock);
	}
	/* Entries beyond the scratch (only possible with LPIs) wait for the next flush. */
	overflow = node != &vc->ap_list;
	vgic_sort(vc->sort_buf, n);
	vc->used_lrs = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct vgic_irq *irq = vc->sort_buf[i].irq;

		pthread_mutex_lock(&irq->lock);
		if (vgic_target_oracle(dist, irq) == vc && !vgic_populate_lrs(vc, irq))
			overflow = true;
		pthread_mutex_unlock(&irq->lock);
	}
	pthread_mutex_unlock(&vc->ap_list_lock);
	/* More than fit: ask for an underflow maintenance interrupt to refill. */
	vc->overflow = overflow;
	if (overflow)
		vc->hcr |= GICH_HCR_UIE;
	else
		vc->hcr &= ~GICH_HCR_UIE;
	atomic_store_explicit(&vc->loaded, true, memory_order_release);
}

static void vgic_resample_run(struct vgic_dist *dist, uint32_t intid)
{
	pthread_rwlock_rdlock(&dist->resample_lock);
	for (uint32_t i = 0; i < dist->nr_resample; i++)
		if (dist->resample[i].intid == intid)
			dist->resample[i].fn(dist->resample[i].opaque);
	pthread_rwlock_unlock(&dist->resample_lock);
}

/* Folds one LR back into its IRQ; returns true if the device must be resampled. */
static bool vgic_fold_lr(struct vgic_cpu *vc, const struct vgic_lr *lr)
{
	struct vgic_dist *dist = vc->dist;
	struct vgic_irq *irq = vgic_get_irq(dist, vc, lr->intid);
	bool resample = false;

	if (!irq)
		return false;
	pthread_mutex_lock(&irq->lock);
	if (lr->state & VGIC_LR_ACTIVE) {
		irq->active = true;
		irq->active_source = lr->source;
	} else if ((lr->flushed & VGIC_LR_ACTIVE) || (lr->flushed && !lr->state)) {
		/* This LR held the active instance (or was acknowledged), now deactivated. */
		if (!dist->model->sgi_sources || irq->intid >= VGIC_NR_SGIS ||
		    irq->active_source == lr->source)
			irq->active = false;
	}
	if (irq->config == VGIC_CONFIG_EDGE) {
		/*
		 * Not acknowledged yet: pending again (merging with any new edge),
		 * unless it is an LPI whose redistributor had EnableLPIs cleared
		 * meanwhile, which drops it (GIC-CHOICES.md) from the LRs too.
		 */
		if ((lr->state & VGIC_LR_PENDING) && !(irq->intid >= VGIC_MIN_LPI && irq->target &&
						       !atomic_load(&irq->target->lpis_enabled))) {
			irq->pending_latch = true;
			if (dist->model->sgi_sources && irq->intid < VGIC_NR_SGIS)
				irq->source |= (uint8_t)(1u << lr->source);
		}
	} else if (!(lr->state & VGIC_LR_PENDING) && (lr->flushed & VGIC_LR_PENDING)) {
		/* Acknowledged level interrupt: the latch is consumed, the line remains. */
		irq->pending_latch = false;
	}
	/* EOIed level interrupt: it is pending again by itself if its line is still high. */
	if (lr->eoi && !lr->state && lr->flushed && irq->intid >= VGIC_NR_PRIVATE_IRQS)
		resample = true;
	pthread_mutex_unlock(&irq->lock);
	vgic_put_irq(dist, irq);
	return resample;
}

void vgic_sync_cpu(struct vgic_cpu *vc)
{
	uint32_t resample[VGIC_MAX_LRS];
	uint32_t nr_resample = 0;

	if (!atomic_load_explicit(&vc->loaded, memory_order_relaxed))
		return;
	for (uint32_t i = 0; i < vc->used_lrs; i++)
		if (vgic_fold_lr(vc, &vc->lr[i]))
			resample[nr_resample++] = vc->lr[i].intid;
	memset(vc->lr, 0, sizeof(vc->lr));
	vc->used_lrs = 0;
	vc->hcr &= ~(0x1fu << GICH_HCR_EOICOUNT_SHIFT);
	atomic_store_explicit(&vc->loaded, false, memory_order_release);
	vgic_prune_ap_list(vc);
	for (uint32_t i = 0; i < nr_resample; i++)
		vgic_resample_run(vc->dist, resample[i]);
}

/*
 * A distributor or redistributor access leaves the guest on KVM, so the
 * accessing vCPU's list registers are folded back first and refilled after:
 * the guest reads state that includes its own acknowledges and EOIs, and sees
 * its own changes (an SGI to itself, a disabled interrupt retired) at once.
 * Other vCPUs fold theirs at their next exit.
 */
bool vgic_mmio_enter(struct vgic_cpu *vc)
{
	bool loaded = atomic_load_explicit(&vc->loaded, memory_order_relaxed);

	if (loaded)
		vgic_sync_cpu(vc);
	return loaded;
}

bool vgic_any_loaded(struct vgic_dist *dist)
{
	for (uint32_t i = 0; i < dist->nr_cpus; i++)
		if (dist->cpus[i] &&
		    atomic_load_explicit(&dist->cpus[i]->loaded, memory_order_acquire))
			return true;
	return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Public entry points.                                                                       */

int ivy_irq_line(struct ivy_vm *vm, uint32_t intid, uint32_t vcpu_for_ppi, bool level)
{
	struct vgic_dist *dist;
	struct vgic_cpu *vc = NULL;
	int ret;

	if (!vm)
		return -EINVAL;
	dist = vm->vgic;
	if (!dist || vm_is_destroyed(vm))
		return -ENODEV;
	if (intid < VGIC_NR_SGIS || intid >= VGIC_MIN_LPI)
		return -EINVAL;
	ret = vgic_lazy_init(dist);
	if (ret)
		return ret;
	if (intid < VGIC_NR_PRIVATE_IRQS) {
		vc = vgic_cpu_of(dist, vcpu_for_ppi);
		if (!vc)
			return -EINVAL;
	}
	return vgic_inject(dist, vc, intid, level);
}

int ivy_vcpu_flush(struct ivy_vcpu *vcpu)
{
	struct vgic_dist *dist;
	int ret;

	if (!vcpu)
		return -EINVAL;
	dist = vcpu->vm->vgic;
	if (!dist)
		return -ENODEV;
	if (!atomic_load_explicit(&dist->ready, memory_order_acquire)) {
		ret = vgic_map(dist);
		if (ret)
			return ret;
	}
	if (!vcpu->vgic)
		return -ENODEV;
	/* Flushing twice without a sync would lose the first LRs: fold them first. */
	vgic_sync_cpu(vcpu->vgic);
	vgic_flush_cpu(vcpu->vgic);
	return 0;
}

void ivy_vcpu_sync(struct ivy_vcpu *vcpu)
{
	if (vcpu && vcpu->vgic)
		vgic_sync_cpu(vcpu->vgic);
}

uint32_t ivy_vcpu_irq_lines(struct ivy_vcpu *vcpu)
{
	if (!vcpu || !vcpu->vgic)
		return 0;
	return vgic_cpuif_irq_lines(vcpu->vgic);
}
