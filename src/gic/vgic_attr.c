/* SPDX-License-Identifier: MIT */
/*
 * The GIC's control plane: the "GICv2" device type and its attributes, with
 * KVM's groups, encodings and error numbers (arm-vgic.rst), and the routing
 * ops (vm->irq_ops) through which irqfds and device models raise interrupts.
 *
 * When each error is reported, as KVM does:
 *  - creating a GIC on a VM that has one (of any type): -EEXIST at create;
 *    a GICv2 on a VM with a vCPU index >= 8: -E2BIG at create;
 *  - address attributes: -EEXIST if already set, -EINVAL if misaligned or
 *    wrapping, -E2BIG beyond the VM's IPA size, at set time;
 *  - a missing distributor or CPU interface address: -ENXIO, and overlapping
 *    frames (with each other): -EINVAL, at the first vCPU run (ivy_vcpu_flush),
 *    where KVM's kvm_vgic_map_resources reports them; a frame overlapping RAM or
 *    another MMIO region: -EEXIST, also then;
 *  - a vCPU added after initialisation: -EBUSY (kvm_arch_vcpu_precreate); a
 *    vCPU index >= 8 on GICv2: -EINVAL (beyond KVM's max_vcpus);
 *  - NR_IRQS: -EINVAL out of 64..1024 or not a multiple of 32, -EBUSY if set
 *    already or after initialisation.
 */
#include "gic/its.h"
#include "gic/vgic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GICV2M_SETSPI_NS 0x040

static bool range_overlap(ivy_gpa_t a, uint64_t alen, ivy_gpa_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void vgic_v2_unmap(struct vgic_dist *dist)
{
	struct ivy_mmio_region **regions[] = { &dist->dist_region, &dist->cpu_region,
					       &dist->v2m_region };

	for (size_t i = 0; i < IVY_ARRAY_SIZE(regions); i++) {
		/* -ENOENT only if VM teardown already released the bus: nothing left to do. */
		if (*regions[i] && ivy_mmio_unregister(dist->vm, *regions[i]))
			vm_log(dist->vm, IVY_LOG_DEBUG, "vgic: %s region already released",
			       i == 0	? "distributor"
			       : i == 1 ? "CPU interface"
					: "v2m");
		*regions[i] = NULL;
	}
}

/* KVM's vgic_v2_map_resources (vm->config_lock and dist->config_lock held). */
static int vgic_v2_map(struct vgic_dist *dist)
{
	struct ivy_vm *vm = dist->vm;
	bool v2m = dist->v2m_base != VGIC_ADDR_UNDEF;
	int ret;

	if (dist->dist_base == VGIC_ADDR_UNDEF || dist->cpu_base == VGIC_ADDR_UNDEF)
		return -ENXIO;
	if (range_overlap(dist->dist_base, IVY_VGIC_V2_DIST_SIZE, dist->cpu_base,
			  IVY_VGIC_V2_CPU_SIZE))
		return -EINVAL;
	if (v2m && (range_overlap(dist->v2m_base, IVY_VGIC_V2M_SIZE, dist->dist_base,
				  IVY_VGIC_V2_DIST_SIZE) ||
		    range_overlap(dist->v2m_base, IVY_VGIC_V2M_SIZE, dist->cpu_base,
				  IVY_VGIC_V2_CPU_SIZE) ||
		    dist->v2m_spi_base < VGIC_NR_PRIVATE_IRQS || dist->v2m_nr_spis == 0 ||
		    dist->v2m_spi_base + dist->v2m_nr_spis > dist->nr_irqs ||
		    dist->v2m_spi_base + dist->v2m_nr_spis > 1020))
		return -EINVAL;
	ret = mmio_register_locked(vm, dist->dist_base, IVY_VGIC_V2_DIST_SIZE,
				   &vgic_v2_dist_mmio_ops, dist, &dist->dist_region);
	if (ret)
		goto err;
	ret = mmio_register_locked(vm, dist->cpu_base, IVY_VGIC_V2_CPU_SIZE, &vgic_v2_cpu_mmio_ops,
				   dist, &dist->cpu_region);
	if (ret)
		goto err;
	if (v2m) {
		ret = mmio_register_locked(vm, dist->v2m_base, IVY_VGIC_V2M_SIZE,
					   &vgic_v2m_mmio_ops, dist, &dist->v2m_region);
		if (ret)
			goto err;
	}
	return 0;
err:
	vgic_v2_unmap(dist);
	return ret;
}

static const struct vgic_addr_desc vgic_v2_addrs[] = {
	{ IVY_VGIC_V2_ADDR_TYPE_DIST, offsetof(struct vgic_dist, dist_base), IVY_VGIC_V2_DIST_SIZE,
	  IVY_PAGE_SIZE },
	{ IVY_VGIC_V2_ADDR_TYPE_CPU, offsetof(struct vgic_dist, cpu_base), IVY_VGIC_V2_CPU_SIZE,
	  IVY_PAGE_SIZE },
	{ IVY_VGIC_V2_ADDR_TYPE_V2M, offsetof(struct vgic_dist, v2m_base), IVY_VGIC_V2M_SIZE,
	  IVY_PAGE_SIZE },
};

const struct vgic_model vgic_v2_model = {
	.type = IVY_DEV_TYPE_ARM_VGIC_V2,
	.max_vcpus = VGIC_V2_MAX_VCPUS,
	.sgi_sources = true,
	.addrs = vgic_v2_addrs,
	.nr_addrs = IVY_ARRAY_SIZE(vgic_v2_addrs),
	.dist_frame = &vgic_v2_dist_frame,
	.cpu_frame = &vgic_v2_cpu_frame,
	.map = vgic_v2_map,
	.unmap = vgic_v2_unmap,
};

static void vgic_v3_unmap(struct vgic_dist *dist)
{
	if (dist->dist_region && ivy_mmio_unregister(dist->vm, dist->dist_region))
		vm_log(dist->vm, IVY_LOG_DEBUG, "vgic: distributor region already released");
	dist->dist_region = NULL;
	for (uint32_t i = 0; i < dist->nr_rdregs; i++) {
		struct vgic_rdreg *r = &dist->rdregs[i];

		if (r->mmio && ivy_mmio_unregister(dist->vm, r->mmio))
			vm_log(dist->vm, IVY_LOG_DEBUG,
			       "vgic: redistributor region already released");
		r->mmio = NULL;
	}
}

static uint64_t rdreg_size(const struct vgic_dist *dist, const struct vgic_rdreg *r)
{
	return (uint64_t)(r->count ? r->count : dist->nr_cpus) * IVY_VGIC_V3_REDIST_SIZE;
}

/*
 * KVM's vgic_v3_map_resources: the distributor, and the redistributors of the
 * vCPUs in index order, filling the regions in index order (the layout
 * GICR_TYPER.Last describes, see vgic_v3_redist.c).
 */
static int vgic_v3_map(struct vgic_dist *dist)
{
	uint32_t next = 0;
	int ret = 0;

	if (dist->dist_base == VGIC_ADDR_UNDEF || dist->nr_rdregs == 0)
		return -ENXIO;
	for (uint32_t i = 0; i < dist->nr_rdregs; i++) {
		struct vgic_rdreg *r = &dist->rdregs[i];
		uint64_t size = rdreg_size(dist, r);

		if (!vm_gpa_range_valid(dist->vm, r->base, size) ||
		    range_overlap(dist->dist_base, IVY_VGIC_V3_DIST_SIZE, r->base, size))
			return -EINVAL;
		r->first_cpu = next;
		r->used = size / IVY_VGIC_V3_REDIST_SIZE;
		if (r->used > dist->nr_cpus - next)
			r->used = dist->nr_cpus - next;
		next += r->used;
	}
	/* A vCPU without a redistributor cannot run (KVM: -ENXIO). */
	if (next < dist->nr_cpus)
		return -ENXIO;
	ret = mmio_register_locked(dist->vm, dist->dist_base, IVY_VGIC_V3_DIST_SIZE,
				   &vgic_v3_dist_mmio_ops, dist, &dist->dist_region);
	for (uint32_t i = 0; !ret && i < dist->nr_rdregs; i++) {
		struct vgic_rdreg *r = &dist->rdregs[i];

		if (!r->used)
			continue;
		ret = mmio_register_locked(dist->vm, r->base,
					   (uint64_t)r->used * IVY_VGIC_V3_REDIST_SIZE,
					   &vgic_v3_redist_mmio_ops, r, &r->mmio);
	}
	if (ret)
		vgic_v3_unmap(dist);
	return ret;
}

static const struct vgic_addr_desc vgic_v3_addrs[] = {
	{ IVY_VGIC_V3_ADDR_TYPE_DIST, offsetof(struct vgic_dist, dist_base), IVY_VGIC_V3_DIST_SIZE,
	  0x10000 },
	{ IVY_VGIC_V3_ADDR_TYPE_REDIST, offsetof(struct vgic_dist, redist_base),
	  IVY_VGIC_V3_REDIST_SIZE, 0x10000 },
};

/*
 * GICv3: IROUTER resets to 0, which routes every SPI to the vCPU with affinity
 * 0.0.0.0. With one security state Group 0 is always signalled as FIQ: the
 * shared CPU interface expresses that as a fixed FIQEn.
 */
static void vgic_v3_init(struct vgic_dist *dist)
{
	for (uint32_t i = 0; i < dist->nr_irqs - VGIC_NR_PRIVATE_IRQS; i++)
		vgic_v3_set_spi_target(&dist->spis[i], dist);
	for (uint32_t i = 0; i < dist->nr_cpus; i++)
		if (dist->cpus[i])
			dist->cpus[i]->ctlr |= GICC_CTLR_FIQEN;
}

const struct vgic_model vgic_v3_model = {
	.type = IVY_DEV_TYPE_ARM_VGIC_V3,
	.max_vcpus = IVY_MAX_VCPUS,
	.cpu_by_mpidr = true,
	.addrs = vgic_v3_addrs,
	.nr_addrs = IVY_ARRAY_SIZE(vgic_v3_addrs),
	.dist_frame = &vgic_v3_dist_frame,
	.redist_frame = vgic_v3_redist_frame,
	.sysreg_frame = &vgic_v3_icc_frame,
	.init = vgic_v3_init,
	.map = vgic_v3_map,
	.unmap = vgic_v3_unmap,
	.lpi_get = vgic_lpi_get,
	.lpi_put = vgic_lpi_put,
};

/* ------------------------------------------------------------------------------------------ */
/* Routing ops for irqfds and device models.                                                  */

static int vgic_ops_set_spi(struct ivy_vm *vm, uint32_t intid, bool level)
{
	struct vgic_dist *dist = vm->vgic;
	int ret;

	if (!dist)
		return -ENODEV;
	if (intid < VGIC_NR_PRIVATE_IRQS)
		return -EINVAL;
	ret = vgic_lazy_init(dist);
	return ret ? ret : vgic_inject(dist, NULL, intid, level);
}

/*
 * An MSI: a write of `data` to `doorbell` by device `devid`. The GICv2m frame
 * takes its SETSPI_NS doorbell (it does not identify devices); on a GICv3 any
 * other doorbell is an ITS's GITS_TRANSLATER, `data` the EventID (-ENODEV if
 * no ITS of the VM has that doorbell).
 */
static int vgic_ops_signal_msi(struct ivy_vm *vm, uint64_t doorbell, uint32_t data, uint32_t devid)
{
	struct vgic_dist *dist = vm->vgic;
	int ret;

	if (!dist)
		return -ENODEV;
	if (dist->v2m_base != VGIC_ADDR_UNDEF && doorbell == dist->v2m_base + GICV2M_SETSPI_NS) {
		ret = vgic_lazy_init(dist);
		return ret ? ret : vgic_v2m_setspi(dist, data & 0x3ff);
	}
	if (dist->model->type == IVY_DEV_TYPE_ARM_VGIC_V3)
		return its_signal_msi(vm, doorbell, data, devid);
	return dist->v2m_base == VGIC_ADDR_UNDEF ? -ENODEV : -EINVAL;
}

static int vgic_ops_add_resample(struct ivy_vm *vm, uint32_t intid, void (*fn)(void *opaque),
				 void *opaque)
{
	struct vgic_dist *dist = vm->vgic;
	int ret = 0;

	if (!dist)
		return -ENODEV;
	if (!fn || intid < VGIC_NR_PRIVATE_IRQS || intid >= 1020)
		return -EINVAL;
	pthread_rwlock_wrlock(&dist->resample_lock);
	if (dist->nr_resample == dist->cap_resample) {
		uint32_t cap = dist->cap_resample ? dist->cap_resample * 2 : 8;
		struct vgic_resample *r = realloc(dist->resample, cap * sizeof(*r));

		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		dist->resample = r;
		dist->cap_resample = cap;
	}
	dist->resample[dist->nr_resample++] =
		(struct vgic_resample){ .intid = intid, .fn = fn, .opaque = opaque };
out:
	pthread_rwlock_unlock(&dist->resample_lock);
	return ret;
}

/* Waits for running hooks (they hold the read lock): fn has returned when this does. */
static void vgic_ops_del_resample(struct ivy_vm *vm, uint32_t intid, void (*fn)(void *opaque),
				  void *opaque)
{
	struct vgic_dist *dist = vm->vgic;

	if (!dist)
		return;
	pthread_rwlock_wrlock(&dist->resample_lock);
	for (uint32_t i = 0; i < dist->nr_resample; i++) {
		struct vgic_resample *r = &dist->resample[i];

		if (r->intid == intid && r->fn == fn && r->opaque == opaque) {
			*r = dist->resample[--dist->nr_resample];
			break;
		}
	}
	pthread_rwlock_unlock(&dist->resample_lock);
}

static const struct vm_irq_ops vgic_irq_ops = {
	.set_spi = vgic_ops_set_spi,
	.signal_msi = vgic_ops_signal_msi,
	.add_resample = vgic_ops_add_resample,
	.del_resample = vgic_ops_del_resample,
};

/* ------------------------------------------------------------------------------------------ */
/* The device type.                                                                           */

static int vgic_create(struct ivy_device *dev, const struct vgic_model *model)
{
	struct ivy_vm *vm = dev->vm;
	struct vgic_dist *dist;

	if (vm->vgic)
		return -EEXIST;
	for (uint32_t i = model->max_vcpus; i < vm->max_vcpus; i++)
		if (ivy_vm_vcpu(vm, i))
			return -E2BIG;
	dist = vgic_dist_alloc(vm, model);
	if (!dist)
		return -ENOMEM;
	dev->priv = dist;
	vm->vgic = dist;
	/* The ITSes created before the GICv3 get their redistributors now. */
	if (model->type == IVY_DEV_TYPE_ARM_VGIC_V3) {
		int ret = vgic_its_attach_all(dist);

		if (ret) {
			vm->vgic = NULL;
			vgic_dist_free(dist);
			return ret;
		}
	}
	vm_irq_ops_publish(vm, &vgic_irq_ops);
	return 0;
}

static int vgic_v2_create(struct ivy_device *dev)
{
	return vgic_create(dev, &vgic_v2_model);
}

static int vgic_v3_create(struct ivy_device *dev)
{
	return vgic_create(dev, &vgic_v3_model);
}

static void vgic_destroy(struct ivy_device *dev)
{
	struct vgic_dist *dist = dev->priv;

	/* Waits for irqfd threads and API callers inside the ops: nothing touches dist after. */
	vm_irq_ops_publish(dev->vm, NULL);
	/* The ITSes put their LPIs while the GIC is still here, then have no redistributors. */
	if (dist->model->type == IVY_DEV_TYPE_ARM_VGIC_V3)
		vgic_its_detach_all(dist);
	dist->model->unmap(dist);
	dev->vm->vgic = NULL;
	vgic_dist_free(dist);
}

static int vgic_vcpu_create(struct ivy_device *dev, struct ivy_vcpu *vcpu)
{
	struct vgic_dist *dist = dev->priv;

	if (atomic_load_explicit(&dist->initialized, memory_order_acquire))
		return -EBUSY;
	return vcpu->index >= dist->model->max_vcpus ? -EINVAL : 0;
}

static int vgic_attr_addr(struct vgic_dist *dist, uint64_t type, ivy_gpa_t **slot,
			  const struct vgic_addr_desc **desc)
{
	for (size_t i = 0; i < dist->model->nr_addrs; i++) {
		if (dist->model->addrs[i].type == type) {
			*desc = &dist->model->addrs[i];
			*slot = (ivy_gpa_t *)((char *)dist + (*desc)->field);
			return 0;
		}
	}
	return -ENXIO;
}

static int vgic_set_addr(struct vgic_dist *dist, uint64_t type, ivy_gpa_t addr)
{
	const struct vgic_addr_desc *desc;
	ivy_gpa_t *slot;
	int ret = vgic_attr_addr(dist, type, &slot, &desc);

	if (ret)
		return ret;
	pthread_mutex_lock(&dist->config_lock);
	if (*slot != VGIC_ADDR_UNDEF)
		ret = -EEXIST;
	else if (atomic_load_explicit(&dist->ready, memory_order_relaxed))
		ret = -EBUSY; /* only the optional v2m frame can still be unset */
	else if ((addr & (desc->align - 1)) || addr + desc->size < addr)
		ret = -EINVAL;
	else if (!vm_gpa_range_valid(dist->vm, addr, desc->size))
		ret = -E2BIG;
	else if (type == IVY_VGIC_V3_ADDR_TYPE_REDIST && dist->model->redist_frame &&
		 dist->nr_rdregs)
		ret = -EINVAL; /* KVM: a legacy REDIST does not mix with REDIST_REGIONs */
	else
		*slot = addr;
	if (!ret && type == IVY_VGIC_V3_ADDR_TYPE_REDIST && dist->model->redist_frame)
		dist->rdregs[dist->nr_rdregs++] = (struct vgic_rdreg){ .dist = dist, .base = addr };
	pthread_mutex_unlock(&dist->config_lock);
	return ret;
}

/*
 * KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION: count [63:52], base [51:16], index [11:0].
 * Regions are added in index order; they may not overlap each other or the
 * distributor, nor mix with a legacy REDIST address (-EINVAL); -E2BIG beyond the
 * IPA size; -ENOSPC beyond VGIC_MAX_RDREGS regions (an ivy limit).
 */
static int vgic_set_rdreg(struct vgic_dist *dist, uint64_t val)
{
	uint32_t count = (uint32_t)(val >> 52), index = (uint32_t)(val & 0xfff);
	ivy_gpa_t base = val & 0x000fffffffff0000ull;
	uint64_t size = (uint64_t)count * IVY_VGIC_V3_REDIST_SIZE;
	int ret = 0;

	if ((val & 0xf000) || count == 0)
		return -EINVAL;
	pthread_mutex_lock(&dist->config_lock);
	if (atomic_load_explicit(&dist->ready, memory_order_relaxed))
		ret = -EBUSY;
	else if (dist->redist_base != VGIC_ADDR_UNDEF || index != dist->nr_rdregs)
		ret = -EINVAL;
	else if (index >= VGIC_MAX_RDREGS)
		ret = -ENOSPC;
	else if (!vm_gpa_range_valid(dist->vm, base, size))
		ret = -E2BIG;
	else if (dist->dist_base != VGIC_ADDR_UNDEF &&
		 range_overlap(dist->dist_base, IVY_VGIC_V3_DIST_SIZE, base, size))
		ret = -EINVAL;
	for (uint32_t i = 0; !ret && i < dist->nr_rdregs; i++)
		if (range_overlap(dist->rdregs[i].base, rdreg_size(dist, &dist->rdregs[i]), base,
				  size))
			ret = -EINVAL;
	if (!ret)
		dist->rdregs[dist->nr_rdregs++] =
			(struct vgic_rdreg){ .dist = dist, .base = base, .count = count };
	pthread_mutex_unlock(&dist->config_lock);
	return ret;
}

/* Reads back region `index` (given in the value's low bits); -ENOENT if there is none. */
static int vgic_get_rdreg(struct vgic_dist *dist, uint64_t *val)
{
	uint32_t index = (uint32_t)(*val & 0xfff);
	int ret = -ENOENT;

	pthread_mutex_lock(&dist->config_lock);
	if (index < dist->nr_rdregs && dist->rdregs[index].count) {
		*val = index | dist->rdregs[index].base |
		       ((uint64_t)dist->rdregs[index].count << 52);
		ret = 0;
	}
	pthread_mutex_unlock(&dist->config_lock);
	return ret;
}

/*
 * The vCPU an attribute names: GICv2 by index in bits [39:32], GICv3 by the
 * affinity packed in bits [63:32] as Aff3.Aff2.Aff1.Aff0 (KVM's encoding).
 */
static struct vgic_cpu *vgic_attr_cpu(struct vgic_dist *dist, uint64_t attr)
{
	if (dist->model->cpu_by_mpidr) {
		uint64_t aff = attr >> 32;
		uint64_t mpidr = (aff & 0xffffff) | ((aff >> 24) << 32);
		struct ivy_vcpu *vcpu = ivy_vm_vcpu_by_mpidr(dist->vm, mpidr);

		return vcpu ? vgic_cpu_of(dist, vcpu->index) : NULL;
	}
	return vgic_cpu_of(dist, (uint32_t)((attr & IVY_VGIC_CPUID_MASK) >> IVY_VGIC_CPUID_SHIFT));
}

static int vgic_parse_cpu(struct vgic_dist *dist, uint64_t attr, bool need_cpu,
			  struct vgic_access *acc)
{
	int ret = vgic_lazy_init(dist);

	if (ret)
		return ret;
	*acc = (struct vgic_access){ .dist = dist, .host = true };
	if (need_cpu) {
		acc->vc = vgic_attr_cpu(dist, attr);
		if (!acc->vc)
			return -EINVAL;
	}
	/* Save/restore needs every vCPU out of the guest with its LRs folded back. */
	return vgic_any_loaded(dist) ? -EBUSY : 0;
}

/* The frame a register attribute addresses, with *offset relative to it; NULL: -ENXIO. */
static const struct vgic_frame *vgic_attr_frame(struct vgic_dist *dist, uint32_t group,
						uint32_t *offset)
{
	const struct vgic_model *m = dist->model;

	switch (group) {
	case IVY_VGIC_GRP_DIST_REGS: return m->dist_frame;
	case IVY_VGIC_GRP_CPU_REGS: return m->cpu_frame;
	case IVY_VGIC_GRP_REDIST_REGS: return m->redist_frame ? m->redist_frame(offset) : NULL;
	case IVY_VGIC_GRP_CPU_SYSREGS:
		/* The system-register table is keyed by encoding * 8 (vgic_v3_cpuif.c). */
		if (*offset > 0xffff)
			return NULL;
		*offset *= 8;
		return m->sysreg_frame;
	default: return NULL;
	}
}

static int vgic_regs_access(struct vgic_dist *dist, const struct ivy_device_attr *attr, bool write)
{
	uint32_t offset = (uint32_t)(attr->attr & IVY_VGIC_OFFSET_MASK);
	const struct vgic_frame *frame = vgic_attr_frame(dist, attr->group, &offset);
	/* GICv3's distributor has no banked registers: no vCPU to name. */
	bool need_cpu = !(dist->model->cpu_by_mpidr && attr->group == IVY_VGIC_GRP_DIST_REGS);
	/* CPU_SYSREGS values are 64 bits (the implemented ICC registers hold 32). */
	bool wide = attr->group == IVY_VGIC_GRP_CPU_SYSREGS;
	struct vgic_access acc;
	uint32_t v32;
	int ret;

	if (!frame)
		return -ENXIO;
	if (!dist->model->cpu_by_mpidr &&
	    (attr->attr & ~(IVY_VGIC_CPUID_MASK | IVY_VGIC_OFFSET_MASK)))
		return -EINVAL;
	ret = vgic_parse_cpu(dist, attr->attr, need_cpu, &acc);
	if (ret)
		return ret;
	if (write) {
		uint64_t v = wide ? *(const uint64_t *)attr->addr : *(const uint32_t *)attr->addr;

		if (v >> 32)
			return -EINVAL;
		return vgic_host_write(frame, &acc, offset, (uint32_t)v);
	}
	ret = vgic_host_read(frame, &acc, offset, &v32);
	if (!ret && wide)
		*(uint64_t *)attr->addr = v32;
	else if (!ret)
		*(uint32_t *)attr->addr = v32;
	return ret;
}

static int vgic_level_info(struct vgic_dist *dist, const struct ivy_device_attr *attr, bool write)
{
	uint32_t intid = (uint32_t)(attr->attr & IVY_VGIC_LEVEL_INFO_INTID_MASK);
	uint64_t info = (attr->attr & IVY_VGIC_LEVEL_INFO_MASK) >> IVY_VGIC_LEVEL_INFO_SHIFT;
	uint32_t *val = attr->addr, out = 0;
	struct vgic_access acc;
	int ret;

	if (info != IVY_VGIC_LEVEL_INFO_LINE_LEVEL || (intid & 31) ||
	    (!dist->model->cpu_by_mpidr && (attr->attr >> 40) != 0))
		return -EINVAL;
	ret = vgic_parse_cpu(dist, attr->attr, true, &acc);
	if (ret)
		return ret;
	if (intid >= dist->nr_irqs)
		return -EINVAL;
	for (uint32_t i = 0; i < 32; i++) {
		struct vgic_irq *irq = vgic_get_irq(dist, acc.vc, intid + i);

		/* SGIs have no input line. */
		if (!irq || irq->intid < VGIC_NR_SGIS)
			continue;
		pthread_mutex_lock(&irq->lock);
		if (write) {
			irq->line_level = (*val >> i) & 1;
			vgic_queue_irq_unlock(dist, irq);
		} else {
			out |= (uint32_t)irq->line_level << i;
			pthread_mutex_unlock(&irq->lock);
		}
		vgic_put_irq(dist, irq);
	}
	if (!write)
		*val = out;
	return 0;
}

static int vgic_ctrl(struct vgic_dist *dist, const struct ivy_device_attr *attr)
{
	struct ivy_vm *vm = dist->vm;
	int ret = 0;

	switch (attr->attr) {
	case IVY_VGIC_CTRL_INIT:
		pthread_mutex_lock(&vm->config_lock);
		pthread_mutex_lock(&dist->config_lock);
		ret = vgic_init_locked(dist);
		pthread_mutex_unlock(&dist->config_lock);
		pthread_mutex_unlock(&vm->config_lock);
		return ret;
	case IVY_VGIC_CTRL_SAVE_PENDING_TABLES:
		if (!dist->model->lpi_get)
			return -ENXIO;
		ret = vgic_lazy_init(dist);
		if (!ret && vgic_any_loaded(dist))
			ret = -EBUSY;
		return ret ? ret : vgic_lpi_save_pending(dist);
	case IVY_VGIC_CTRL_NR_LRS: {
		uint32_t n = *(const uint32_t *)attr->addr;

		if (n < 1 || n > VGIC_MAX_LRS)
			return -EINVAL;
		pthread_mutex_lock(&dist->config_lock);
		if (atomic_load_explicit(&dist->initialized, memory_order_relaxed))
			ret = -EBUSY;
		else
			dist->nr_lrs = n;
		pthread_mutex_unlock(&dist->config_lock);
		return ret;
	}
	default: return -ENXIO;
	}
}

static int vgic_set_u32(struct vgic_dist *dist, uint32_t *field, uint32_t val, bool ready_only)
{
	int ret = 0;

	pthread_mutex_lock(&dist->config_lock);
	if (atomic_load_explicit(ready_only ? &dist->ready : &dist->initialized,
				 memory_order_relaxed))
		ret = -EBUSY;
	else
		*field = val;
	pthread_mutex_unlock(&dist->config_lock);
	return ret;
}

static int vgic_set_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	struct vgic_dist *dist = dev->priv;

	switch (attr->group) {
	case IVY_VGIC_GRP_ADDR:
		if (attr->attr == IVY_VGIC_V3_ADDR_TYPE_REDIST_REGION && dist->model->redist_frame)
			return vgic_set_rdreg(dist, *(const uint64_t *)attr->addr);
		return vgic_set_addr(dist, attr->attr, *(const uint64_t *)attr->addr);
	case IVY_VGIC_GRP_NR_IRQS: {
		uint32_t n = *(const uint32_t *)attr->addr;
		int ret = 0;

		if (attr->attr)
			return -ENXIO;
		if (n < 64 || n > VGIC_MAX_IRQS || (n & 31))
			return -EINVAL;
		pthread_mutex_lock(&dist->config_lock);
		if (dist->nr_irqs || atomic_load_explicit(&dist->initialized, memory_order_relaxed))
			ret = -EBUSY;
		else
			dist->nr_irqs = n;
		pthread_mutex_unlock(&dist->config_lock);
		return ret;
	}
	case IVY_VGIC_GRP_CTRL: return vgic_ctrl(dist, attr);
	case IVY_VGIC_GRP_DIST_REGS:
	case IVY_VGIC_GRP_CPU_REGS:
	case IVY_VGIC_GRP_REDIST_REGS:
	case IVY_VGIC_GRP_CPU_SYSREGS: return vgic_regs_access(dist, attr, true);
	case IVY_VGIC_GRP_LEVEL_INFO: return vgic_level_info(dist, attr, true);
	case IVY_VGIC_GRP_V2M: {
		if (!dist->model->sgi_sources)
			return -ENXIO;
		uint32_t v = *(const uint32_t *)attr->addr;

		if (attr->attr == IVY_VGIC_V2M_SPI_BASE)
			return vgic_set_u32(dist, &dist->v2m_spi_base, v, true);
		if (attr->attr == IVY_VGIC_V2M_NR_SPIS)
			return vgic_set_u32(dist, &dist->v2m_nr_spis, v, true);
		return -ENXIO;
	}
	default: return -ENXIO;
	}
}

static int vgic_get_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	struct vgic_dist *dist = dev->priv;
	const struct vgic_addr_desc *desc;
	ivy_gpa_t *slot;
	int ret;

	switch (attr->group) {
	case IVY_VGIC_GRP_ADDR:
		if (attr->attr == IVY_VGIC_V3_ADDR_TYPE_REDIST_REGION && dist->model->redist_frame)
			return vgic_get_rdreg(dist, attr->addr);
		ret = vgic_attr_addr(dist, attr->attr, &slot, &desc);
		if (ret)
			return ret;
		pthread_mutex_lock(&dist->config_lock);
		*(uint64_t *)attr->addr = *slot;
		pthread_mutex_unlock(&dist->config_lock);
		return 0;
	case IVY_VGIC_GRP_NR_IRQS:
		if (attr->attr)
			return -ENXIO;
		pthread_mutex_lock(&dist->config_lock);
		*(uint32_t *)attr->addr = dist->nr_irqs ? dist->nr_irqs : VGIC_DEFAULT_NR_IRQS;
		pthread_mutex_unlock(&dist->config_lock);
		return 0;
	case IVY_VGIC_GRP_CTRL:
		if (attr->attr != IVY_VGIC_CTRL_NR_LRS)
			return -ENXIO;
		pthread_mutex_lock(&dist->config_lock);
		*(uint32_t *)attr->addr = dist->nr_lrs;
		pthread_mutex_unlock(&dist->config_lock);
		return 0;
	case IVY_VGIC_GRP_DIST_REGS:
	case IVY_VGIC_GRP_CPU_REGS:
	case IVY_VGIC_GRP_REDIST_REGS:
	case IVY_VGIC_GRP_CPU_SYSREGS: return vgic_regs_access(dist, attr, false);
	case IVY_VGIC_GRP_LEVEL_INFO: return vgic_level_info(dist, attr, false);
	case IVY_VGIC_GRP_V2M:
		if (attr->attr > IVY_VGIC_V2M_NR_SPIS || !dist->model->sgi_sources)
			return -ENXIO;
		pthread_mutex_lock(&dist->config_lock);
		*(uint32_t *)attr->addr = attr->attr == IVY_VGIC_V2M_SPI_BASE ? dist->v2m_spi_base
									      : dist->v2m_nr_spis;
		pthread_mutex_unlock(&dist->config_lock);
		return 0;
	default: return -ENXIO;
	}
}

static int vgic_has_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	struct vgic_dist *dist = dev->priv;
	const struct vgic_addr_desc *desc;
	const struct vgic_frame *frame;
	const struct vgic_reg *r;
	ivy_gpa_t *slot;
	uint32_t offset;

	switch (attr->group) {
	case IVY_VGIC_GRP_ADDR:
		if (attr->attr == IVY_VGIC_V3_ADDR_TYPE_REDIST_REGION && dist->model->redist_frame)
			return 0;
		return vgic_attr_addr(dist, attr->attr, &slot, &desc);
	case IVY_VGIC_GRP_NR_IRQS: return attr->attr ? -ENXIO : 0;
	case IVY_VGIC_GRP_CTRL:
		return attr->attr == IVY_VGIC_CTRL_INIT || attr->attr == IVY_VGIC_CTRL_NR_LRS ||
				       (attr->attr == IVY_VGIC_CTRL_SAVE_PENDING_TABLES &&
					dist->model->lpi_get)
			       ? 0
			       : -ENXIO;
	case IVY_VGIC_GRP_DIST_REGS:
	case IVY_VGIC_GRP_CPU_REGS:
	case IVY_VGIC_GRP_REDIST_REGS:
	case IVY_VGIC_GRP_CPU_SYSREGS:
		offset = (uint32_t)(attr->attr & IVY_VGIC_OFFSET_MASK);
		frame = vgic_attr_frame(dist, attr->group, &offset);
		r = (!frame || (offset & 3)) ? NULL : vgic_frame_find(frame, offset);
		return r && !(r->flags & VGIC_REG_NO_HOST) ? 0 : -ENXIO;
	case IVY_VGIC_GRP_LEVEL_INFO:
		return ((attr->attr & IVY_VGIC_LEVEL_INFO_MASK) >> IVY_VGIC_LEVEL_INFO_SHIFT) ==
				       IVY_VGIC_LEVEL_INFO_LINE_LEVEL
			       ? 0
			       : -ENXIO;
	case IVY_VGIC_GRP_V2M:
		return attr->attr <= IVY_VGIC_V2M_NR_SPIS && dist->model->sgi_sources ? 0 : -ENXIO;
	default: return -ENXIO;
	}
}

const struct device_type vgic_v2_device_type = {
	.type = IVY_DEV_TYPE_ARM_VGIC_V2,
	.name = "GICv2",
	.create = vgic_v2_create,
	.destroy = vgic_destroy,
	.set_attr = vgic_set_attr,
	.get_attr = vgic_get_attr,
	.has_attr = vgic_has_attr,
	.vcpu_create = vgic_vcpu_create,
};

const struct device_type vgic_v3_device_type = {
	.type = IVY_DEV_TYPE_ARM_VGIC_V3,
	.name = "GICv3",
	.create = vgic_v3_create,
	.destroy = vgic_destroy,
	.set_attr = vgic_set_attr,
	.get_attr = vgic_get_attr,
	.has_attr = vgic_has_attr,
	.vcpu_create = vgic_vcpu_create,
};
