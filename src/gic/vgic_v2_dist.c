/* SPDX-License-Identifier: MIT */
/*
 * The GICv2 distributor frame (IHI 0048B chapter 4.3), 4 KiB:
 *
 *   0x000 GICD_CTLR        EnableGrp0, EnableGrp1
 *   0x004 GICD_TYPER       ITLinesNumber, CPUNumber; no Security Extensions
 *   0x008 GICD_IIDR
 *   0x080 GICD_IGROUPRn        1 bit per IRQ
 *   0x100 GICD_ISENABLERn      1 bit      0x180 GICD_ICENABLERn
 *   0x200 GICD_ISPENDRn        1 bit      0x280 GICD_ICPENDRn
 *   0x300 GICD_ISACTIVERn      1 bit      0x380 GICD_ICACTIVERn
 *   0x400 GICD_IPRIORITYRn     8 bits, byte accessible
 *   0x800 GICD_ITARGETSRn      8 bits, byte accessible
 *   0xC00 GICD_ICFGRn          2 bits
 *   0xF00 GICD_SGIR            write only
 *   0xF10 GICD_CPENDSGIRn      8 bits per SGI (one per source CPU), byte accessible
 *   0xF20 GICD_SPENDSGIRn
 *   0xFD0 GICD_PIDR4..7, PIDR0..3, CIDR0..3 (GIC-400's values, ArchRev 2)
 *
 * Everything else is reserved: RAZ/WI and counted (vgic_mmio.c).
 */
#include "gic/vgic.h"

#include <errno.h>

#define GICD_CTLR	0x000
#define GICD_TYPER	0x004
#define GICD_IIDR	0x008
#define GICD_IGROUPR	0x080
#define GICD_ISENABLER	0x100
#define GICD_ICENABLER	0x180
#define GICD_ISPENDR	0x200
#define GICD_ICPENDR	0x280
#define GICD_ISACTIVER	0x300
#define GICD_ICACTIVER	0x380
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR	0x800
#define GICD_ICFGR	0xc00
#define GICD_SGIR	0xf00
#define GICD_CPENDSGIR	0xf10
#define GICD_SPENDSGIR	0xf20
#define GICD_PIDR4	0xfd0

/* Implementer ARM (0x43b), revision 2 (IGROUPR writable, as KVM's), product 'I'. */
#define GICD_IIDR_VALUE ((0x49u << 24) | (2u << 12) | 0x43bu)

static bool is_v2_sgi(const struct vgic_irq *irq)
{
	return irq->intid < VGIC_NR_SGIS;
}

static uint64_t dist_read_ctlr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return atomic_load_explicit(&acc->dist->ctlr, memory_order_relaxed) & 3u;
}

static void dist_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	uint32_t old = atomic_exchange_explicit(&acc->dist->ctlr, val & 3u, memory_order_relaxed);

	(void)offset;
	/* Newly enabled groups may release pending IRQs; disabled ones are retired at flush. */
	if (old != (val & 3u))
		vgic_requeue_all(acc->dist);
}

static int dist_host_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val & ~3u)
		return -EINVAL;
	dist_write_ctlr(acc, offset, val);
	return 0;
}

static uint64_t dist_read_typer(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return (acc->dist->nr_irqs / 32 - 1) | ((acc->dist->nr_cpus - 1) << 5);
}

static uint64_t dist_read_iidr(const struct vgic_access *acc, uint32_t offset)
{
	(void)acc;
	(void)offset;
	return GICD_IIDR_VALUE;
}

/* GIC-CHOICES.md: SGI pending state changes only through SGIR and C/SPENDSGIR. */
/* GIC-CHOICES.md: ITARGETSR0-7 read the accessing CPU's bit in every byte. */
static uint64_t dist_read_target(const struct vgic_access *acc, struct vgic_irq *irq)
{
	if (irq->intid < VGIC_NR_PRIVATE_IRQS)
		return 1u << acc->vc->index;
	return irq->targets;
}

static void dist_write_target(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (irq->intid < VGIC_NR_PRIVATE_IRQS)
		return;
	pthread_mutex_lock(&irq->lock);
	/* Target bits of absent CPUs read as zero. */
	irq->targets = (uint8_t)(field & acc->dist->present_cpus);
	vgic_set_spi_target(irq, acc->dist);
	vgic_queue_irq_unlock(acc->dist, irq);
}

/* The host view of SGI targets is the active instance's source (see ivy/gic.h). */
static uint64_t dist_host_read_target(const struct vgic_access *acc, struct vgic_irq *irq)
{
	if (is_v2_sgi(irq))
		return irq->active ? 1u << irq->active_source : 0;
	return dist_read_target(acc, irq);
}

static int dist_check_target(const struct vgic_access *acc, uint32_t intid, uint64_t field)
{
	uint32_t present = acc->dist->present_cpus;

	if (intid < VGIC_NR_SGIS)
		return (field & (field - 1)) || (field & ~present) ? -EINVAL : 0;
	if (intid < VGIC_NR_PRIVATE_IRQS)
		return field == (1u << acc->vc->index) ? 0 : -EINVAL;
	return (field & ~present) ? -EINVAL : 0;
}

static void dist_host_write_target(const struct vgic_access *acc, struct vgic_irq *irq,
				   uint64_t field)
{
	if (is_v2_sgi(irq)) {
		pthread_mutex_lock(&irq->lock);
		if (field)
			irq->active_source = (uint8_t)__builtin_ctz(field);
		pthread_mutex_unlock(&irq->lock);
		return;
	}
	dist_write_target(acc, irq, field);
}

/*
 * GICD_SGIR (IHI 0048B 4.3.15). GIC-CHOICES.md: TargetListFilter 0b11 sends
 * nothing; target bits of absent CPUs are ignored.
 */
static void dist_write_sgir(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	struct vgic_dist *dist = acc->dist;
	uint32_t self = acc->vc->index;
	uint32_t intid = val & 0xf;
	uint32_t targets;

	(void)offset;
	switch ((val >> 24) & 3) {
	case 0: targets = (val >> 16) & 0xff; break;
	case 1: targets = 0xffu & ~(1u << self); break;
	case 2: targets = 1u << self; break;
	default: return;
	}
	targets &= dist->present_cpus;
	while (targets) {
		uint32_t c = (uint32_t)__builtin_ctz(targets);
		struct vgic_irq *irq = &dist->cpus[c]->private_irqs[intid];

		targets &= targets - 1;
		vm_trace(dist->vm, IVY_TRACE_IRQ_INJECT, (int32_t)self, intid, c);
		pthread_mutex_lock(&irq->lock);
		irq->source |= (uint8_t)(1u << self);
		irq->pending_latch = true;
		vgic_queue_irq_unlock(dist, irq);
	}
}

static int dist_host_write_sgir(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	/* Write-only and stateless: nothing to restore. */
	(void)acc;
	(void)offset;
	(void)val;
	return 0;
}

static uint64_t dist_read_sgi_sources(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return irq->source;
}

static void dist_write_cpendsgi(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	if (!field)
		return;
	pthread_mutex_lock(&irq->lock);
	irq->source &= (uint8_t)~field;
	irq->pending_latch = irq->source != 0;
	vgic_queue_irq_unlock(acc->dist, irq);
}

static void dist_write_spendsgi(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	field &= acc->dist->present_cpus;
	if (!field)
		return;
	pthread_mutex_lock(&irq->lock);
	irq->source |= (uint8_t)field;
	irq->pending_latch = true;
	vgic_queue_irq_unlock(acc->dist, irq);
}

static int dist_check_sgi_sources(const struct vgic_access *acc, uint32_t intid, uint64_t field)
{
	(void)intid;
	return (field & ~acc->dist->present_cpus) ? -EINVAL : 0;
}

/* PIDR4-7, PIDR0-3, CIDR0-3: GIC-400's identification (ArchRev 2 in PIDR2). */
static uint64_t dist_read_id(const struct vgic_access *acc, uint32_t offset)
{
	static const uint8_t id[12] = {
		0x04, 0, 0, 0, 0x90, 0xb4, 0x2b, 0, 0x0d, 0xf0, 0x05, 0xb1
	};

	(void)acc;
	return id[(offset - GICD_PIDR4) / 4];
}

#define W32   VGIC_W32
#define W8_32 (VGIC_W8 | VGIC_W32)
#define BANK1 (VGIC_MAX_IRQS / 8)
#define BANK2 (VGIC_MAX_IRQS / 4)
#define BANK8 1020 /* INTIDs 1020-1023 have no priority or target byte */

static const struct vgic_reg dist_regs[] = {
	{ .offset = GICD_CTLR,
	  .len = 4,
	  .widths = W32,
	  .read = dist_read_ctlr,
	  .write = dist_write_ctlr,
	  .host_write = dist_host_write_ctlr },
	{ .offset = GICD_TYPER, .len = 4, .widths = W32, .read = dist_read_typer },
	{ .offset = GICD_IIDR, .len = 4, .widths = W32, .read = dist_read_iidr },
	{ .offset = GICD_IGROUPR,
	  .len = BANK1,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_group,
	  .irq_write = vgic_write_group },
	{ .offset = GICD_ISENABLER,
	  .len = BANK1,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .flags = VGIC_REG_LOCKLESS_READ,
	  .irq_read = vgic_read_enable,
	  .irq_write = vgic_write_senable },
	{ .offset = GICD_ICENABLER,
	  .len = BANK1,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .flags = VGIC_REG_LOCKLESS_READ,
	  .irq_read = vgic_read_enable,
	  .irq_write = vgic_write_cenable },
	{ .offset = GICD_ISPENDR,
	  .len = BANK1,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_pending,
	  .irq_write = vgic_write_spending,
	  .host_irq_read = vgic_host_read_pending },
	{ .offset = GICD_ICPENDR,
	  .len = BANK1,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_pending,
	  .irq_write = vgic_write_cpending,
	  .host_irq_read = vgic_host_read_pending },
	{ .offset = GICD_ISACTIVER,
	  .len = BANK1,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_active,
	  .irq_write = vgic_write_sactive },
	{ .offset = GICD_ICACTIVER,
	  .len = BANK1,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_active,
	  .irq_write = vgic_write_cactive },
	{ .offset = GICD_IPRIORITYR,
	  .len = BANK8,
	  .bits_per_irq = 8,
	  .widths = W8_32,
	  .irq_read = vgic_read_priority,
	  .irq_write = vgic_write_priority,
	  .host_irq_check = vgic_check_priority },
	{ .offset = GICD_ITARGETSR,
	  .len = BANK8,
	  .bits_per_irq = 8,
	  .widths = W8_32,
	  .irq_read = dist_read_target,
	  .irq_write = dist_write_target,
	  .host_irq_read = dist_host_read_target,
	  .host_irq_check = dist_check_target,
	  .host_irq_write = dist_host_write_target },
	{ .offset = GICD_ICFGR,
	  .len = BANK2,
	  .bits_per_irq = 2,
	  .widths = W32,
	  .irq_read = vgic_read_config,
	  .irq_write = vgic_write_config,
	  .host_irq_check = vgic_check_config },
	{ .offset = GICD_SGIR,
	  .len = 4,
	  .widths = W32,
	  .write = dist_write_sgir,
	  .host_write = dist_host_write_sgir },
	{ .offset = GICD_CPENDSGIR,
	  .len = VGIC_NR_SGIS,
	  .bits_per_irq = 8,
	  .widths = W8_32,
	  .irq_read = dist_read_sgi_sources,
	  .irq_write = dist_write_cpendsgi,
	  .host_irq_check = dist_check_sgi_sources },
	{ .offset = GICD_SPENDSGIR,
	  .len = VGIC_NR_SGIS,
	  .bits_per_irq = 8,
	  .widths = W8_32,
	  .irq_read = dist_read_sgi_sources,
	  .irq_write = dist_write_spendsgi,
	  .host_irq_check = dist_check_sgi_sources },
	{ .offset = GICD_PIDR4, .len = 0x30, .widths = W32, .read = dist_read_id },
};

const struct vgic_frame vgic_v2_dist_frame = {
	.name = "GICD",
	.size = (uint32_t)IVY_VGIC_V2_DIST_SIZE,
	.regs = dist_regs,
	.nr_regs = IVY_ARRAY_SIZE(dist_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

static uint64_t dist_mmio_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct vgic_access acc = { .dist = opaque, .vc = vcpu ? vcpu->vgic : NULL };
	bool loaded;
	uint64_t val;

	if (!acc.vc)
		return 0;
	loaded = vgic_mmio_enter_read(acc.vc);
	val = vgic_mmio_read(&vgic_v2_dist_frame, &acc, offset, len);
	vgic_mmio_leave(acc.vc, loaded);
	return val;
}

static void dist_mmio_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			    uint64_t val)
{
	struct vgic_access acc = { .dist = opaque, .vc = vcpu ? vcpu->vgic : NULL };
	bool loaded;

	if (!acc.vc)
		return;
	loaded = vgic_mmio_enter(acc.vc);
	vgic_mmio_write(&vgic_v2_dist_frame, &acc, offset, len, val);
	vgic_mmio_leave(acc.vc, loaded);
}

const struct ivy_mmio_ops vgic_v2_dist_mmio_ops = {
	.read = dist_mmio_read,
	.write = dist_mmio_write,
};
