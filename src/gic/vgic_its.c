/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 end of the ITS: struct its_redist_ops (src/gic/its.h) over the
 * core's reference-counted LPIs (vgic_lpi.c), installed on every ITS of a VM
 * with a GICv3, and the MSI entry points.
 *
 * The ops' context is the vgic_dist. A redistributor number is the vCPU index
 * (GITS_TYPER.PTA = 0). Until the GIC is initialised there are no
 * redistributors: nr_redists() is 0, so MAPC fails and nothing can be mapped.
 *
 * Who connects whom (all under vm->config_lock, which device creation and
 * destruction hold):
 *  - a GICv3 being created attaches every ITS the VM already has
 *    (vgic_its_attach_all), an ITS being created attaches itself to the VM's
 *    GICv3 (vgic_its_attach), so the order of creation does not matter;
 *  - a GICv3 being destroyed detaches every ITS first (vgic_its_detach_all):
 *    the ITS forgets its mappings, putting their LPIs while the GIC exists;
 *  - KVM has no ITS without a GICv3 (vgic_has_its() is false for any other
 *    model, and its MSI path answers -ENODEV): creating an ITS on a VM with a
 *    GICv2 fails with -ENODEV; an ITS created before any GIC, or left behind
 *    by a destroyed GICv3, has no redistributors (MSIs return -ENODEV).
 *
 * Locks: the ops other than lpi_set_pending() run under the calling ITS's
 * cmd_lock and take, inside it, dist->lpi_lock, an LPI's lock, an ap_list
 * lock and a redistributor's rd_lock, in the order written in vgic.c; never
 * vm->config_lock or dist->config_lock (device destruction holds
 * vm->config_lock while it takes cmd_lock). lpi_set_pending() runs inside the
 * ITS's read-side section, from any thread.
 */
#include "gic/its.h"
#include "gic/vgic.h"

#include <errno.h>

static uint32_t vgic_its_nr_redists(void *ctx)
{
	struct vgic_dist *dist = ctx;

	return atomic_load_explicit(&dist->initialized, memory_order_acquire) ? dist->nr_cpus : 0;
}

/*
 * A new LPI needs a redistributor to read its configuration from before the
 * ITS says where it goes: the first one. The ITS retargets it with lpi_move()
 * as soon as the mapping is made, which re-reads the configuration there.
 */
static struct vgic_cpu *vgic_its_home(struct vgic_dist *dist)
{
	uint32_t n = vgic_its_nr_redists(dist);

	for (uint32_t i = 0; i < n; i++)
		if (dist->cpus[i])
			return dist->cpus[i];
	return NULL;
}

static int vgic_its_lpi_get(void *ctx, uint32_t intid)
{
	struct vgic_dist *dist = ctx;
	struct vgic_cpu *home = vgic_its_home(dist);
	struct vgic_irq *irq;
	int ret;

	if (!home)
		return -ENODEV;
	ret = vgic_lpi_create(dist, intid, home, &irq);
	if (ret)
		return ret;
	pthread_mutex_lock(&irq->lock);
	irq->mappings++;
	pthread_mutex_unlock(&irq->lock);
	return 0;
}

/*
 * Drops one mapping's reference. The last mapping takes the pending state
 * with it even if the LPI lives on for a while (an ap_list or a reader still
 * holds it), so an unmapped LPI is never delivered.
 */
static void vgic_its_lpi_put(void *ctx, uint32_t intid)
{
	struct vgic_dist *dist = ctx;
	struct vgic_irq *irq = vgic_lpi_get(dist, intid);
	bool mapped;

	if (!irq)
		return;
	pthread_mutex_lock(&irq->lock);
	mapped = irq->mappings > 0;
	if (mapped && --irq->mappings == 0)
		irq->pending_latch = false;
	vgic_queue_irq_unlock(dist, irq);
	if (mapped)
		vgic_lpi_put(dist, irq); /* the mapping's reference */
	vgic_lpi_put(dist, irq);
}

/*
 * The MSI path. The ITS holds a mapping reference on the LPI for as long as
 * the translation that led here can be used (it puts it only after a grace
 * period), so the LPI is looked up without a reference or the table's lock.
 * The translation names the redistributor: the LPI is retargeted to it, which
 * agrees with the last lpi_move() since the ITS moves LPIs only after the
 * grace period that retires older translations.
 */
static int vgic_its_lpi_set_pending(void *ctx, uint32_t rd, uint32_t intid)
{
	struct vgic_dist *dist = ctx;
	struct vgic_cpu *vc = vgic_cpu_of(dist, rd);
	struct vgic_irq *irq;

	if (!vc)
		return 0;
	irq = vgic_lpi_peek(dist, intid);
	if (!irq)
		return -ENOENT;
	return vgic_lpi_inject_to(dist, irq, vc);
}

static void vgic_its_lpi_clear_pending(void *ctx, uint32_t intid)
{
	struct vgic_dist *dist = ctx;
	struct vgic_irq *irq = vgic_lpi_get(dist, intid);

	if (!irq)
		return;
	pthread_mutex_lock(&irq->lock);
	irq->pending_latch = false;
	vgic_queue_irq_unlock(dist, irq);
	vgic_lpi_put(dist, irq);
}

static void vgic_its_lpi_move(void *ctx, uint32_t intid, uint32_t rd)
{
	struct vgic_dist *dist = ctx;
	struct vgic_cpu *vc = vgic_cpu_of(dist, rd);
	struct vgic_irq *irq;
	bool moved;

	if (!vc)
		return;
	irq = vgic_lpi_get(dist, intid);
	if (!irq)
		return;
	pthread_mutex_lock(&irq->lock);
	moved = irq->target != vc;
	pthread_mutex_unlock(&irq->lock);
	vgic_lpi_move(dist, irq, vc);
	/*
	 * The configuration comes from the new redistributor's table (they are
	 * normally all the same); re-reading it is a permitted cache refill.
	 */
	if (moved)
		vgic_lpi_invalidate(dist, NULL, intid);
	vgic_lpi_put(dist, irq);
}

static void vgic_its_lpi_inv(void *ctx, uint32_t intid)
{
	vgic_lpi_invalidate(ctx, NULL, intid);
}

static const struct its_redist_ops vgic_its_redist_ops = {
	.nr_redists = vgic_its_nr_redists,
	.lpi_get = vgic_its_lpi_get,
	.lpi_put = vgic_its_lpi_put,
	.lpi_set_pending = vgic_its_lpi_set_pending,
	.lpi_clear_pending = vgic_its_lpi_clear_pending,
	.lpi_move = vgic_its_lpi_move,
	.lpi_inv = vgic_its_lpi_inv,
};

static bool vgic_is_v3(const struct vgic_dist *dist)
{
	return dist && dist->model->type == IVY_DEV_TYPE_ARM_VGIC_V3;
}

int vgic_its_attach(struct ivy_device *its_dev)
{
	struct vgic_dist *dist = its_dev->vm->vgic;
	int ret;

	if (!dist)
		return 0; /* a GICv3 created later attaches it */
	if (!vgic_is_v3(dist))
		return -ENODEV;
	ret = its_set_redist_ops(its_dev, &vgic_its_redist_ops, dist);
	if (!ret)
		atomic_store(&dist->has_its, true);
	return ret;
}

int vgic_its_attach_all(struct vgic_dist *dist)
{
	for (struct ivy_device *dev = dist->vm->devices; dev; dev = dev->next) {
		int ret;

		if (ivy_device_type(dev) != IVY_DEV_TYPE_ARM_VGIC_ITS)
			continue;
		ret = its_set_redist_ops(dev, &vgic_its_redist_ops, dist);
		if (ret) {
			vgic_its_detach_all(dist);
			return ret;
		}
		atomic_store(&dist->has_its, true);
	}
	return 0;
}

void vgic_its_detach_all(struct vgic_dist *dist)
{
	for (struct ivy_device *dev = dist->vm->devices; dev; dev = dev->next)
		if (ivy_device_type(dev) == IVY_DEV_TYPE_ARM_VGIC_ITS)
			(void)its_set_redist_ops(dev, NULL, NULL); /* cannot fail on an ITS */
}

int ivy_signal_msi(struct ivy_vm *vm, uint64_t doorbell, uint32_t eventid, uint32_t deviceid)
{
	const struct vm_irq_ops *ops;
	unsigned stripe;
	int ret = -ENODEV;

	if (!vm)
		return -EINVAL;
	if (vm_is_destroyed(vm))
		return -ENODEV;
	ops = vm_irq_enter(vm, &stripe);
	if (ops && ops->signal_msi)
		ret = ops->signal_msi(vm, doorbell, eventid, deviceid);
	vm_irq_exit(vm, stripe);
	return ret;
}
