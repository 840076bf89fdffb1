/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 distributor frame (IHI 0069 chapter 12.9), 64 KiB, one security
 * state, affinity routing always on:
 *
 *   0x0000 GICD_CTLR      EnableGrp0, EnableGrp1; ARE and DS read 1 (RAO/WI); RWP 0
 *   0x0004 GICD_TYPER     ITLinesNumber, LPIS, IDbits (16 with an ITS, else 10), No1N
 *   0x0008 GICD_IIDR      0x000C GICD_TYPER2 (RAZ)   0x0010 GICD_STATUSR (RAZ/WI)
 *   0x0080 GICD_IGROUPRn  0x0100/0x0180 I[SC]ENABLERn  0x0200/0x0280 I[SC]PENDRn
 *   0x0300/0x0380 I[SC]ACTIVERn  0x0400 IPRIORITYRn  0x0C00 ICFGRn
 *   0x0D00 GICD_IGRPMODRn (RAZ/WI: one security state)
 *   0x6000 GICD_IROUTERn  64 bits per SPI: Aff3.Aff2.Aff1.Aff0; IRM RAZ/WI (No1N)
 *   0xFFD0 ID registers (PIDR2.ArchRev 3)
 *
 * With affinity routing the fields of SGIs and PPIs live in the redistributors:
 * here they are RAZ/WI, which the dispatcher gives for free because accesses
 * carry no vCPU (vgic_get_irq() has no private IRQ to return).
 */
#include "gic/vgic.h"

#include <errno.h>

#define GICD_CTLR	0x0000
#define GICD_TYPER	0x0004
#define GICD_IIDR	0x0008
#define GICD_TYPER2	0x000c
#define GICD_STATUSR	0x0010
#define GICD_IGROUPR	0x0080
#define GICD_ISENABLER	0x0100
#define GICD_ICENABLER	0x0180
#define GICD_ISPENDR	0x0200
#define GICD_ICPENDR	0x0280
#define GICD_ISACTIVER	0x0300
#define GICD_ICACTIVER	0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR	0x0c00
#define GICD_IGRPMODR	0x0d00
#define GICD_IROUTER	0x6000
#define GICD_PIDR4	0xffd0

#define GICD_CTLR_ARE		(1u << 4)
#define GICD_CTLR_DS		(1u << 6)
#define GICD_TYPER_LPIS		(1u << 17)
#define GICD_TYPER_IDBITS_SHIFT 19
#define GICD_TYPER_NO1N		(1u << 25)
#define GICD_IIDR_VALUE		((0x49u << 24) | (3u << 12) | 0x43bu)
/* IROUTER: Aff3 [39:32], Aff2..Aff0 [23:0]. */
#define GICD_IROUTER_AFF_MASK 0xff00ffffffull

/* GIC-CHOICES.md: DS reads 1, ARE is RAO/WI, the group enables are separate, RWP reads 0. */
static uint64_t v3_dist_read_ctlr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return (atomic_load_explicit(&acc->dist->ctlr, memory_order_relaxed) & 3u) | GICD_CTLR_ARE |
	       GICD_CTLR_DS;
}

static void v3_dist_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	uint32_t old = atomic_exchange_explicit(&acc->dist->ctlr, (uint32_t)val & 3u,
						memory_order_relaxed);

	(void)offset;
	if (old != (val & 3u))
		vgic_requeue_all(acc->dist);
}

static int v3_dist_host_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val & ~(uint64_t)(3u | GICD_CTLR_ARE | GICD_CTLR_DS))
		return -EINVAL;
	v3_dist_write_ctlr(acc, offset, val);
	return 0;
}

static uint64_t v3_dist_read_typer(const struct vgic_access *acc, uint32_t offset)
{
	uint32_t idbits = atomic_load(&acc->dist->has_its) ? 16 : 10;

	(void)offset;
	return (acc->dist->nr_irqs / 32 - 1) | GICD_TYPER_LPIS |
	       ((idbits - 1) << GICD_TYPER_IDBITS_SHIFT) | GICD_TYPER_NO1N;
}

static uint64_t v3_dist_read_iidr(const struct vgic_access *acc, uint32_t offset)
{
	(void)acc;
	(void)offset;
	return GICD_IIDR_VALUE;
}

void vgic_v3_set_spi_target(struct vgic_irq *irq, struct vgic_dist *dist)
{
	struct ivy_vcpu *vcpu = ivy_vm_vcpu_by_mpidr(dist->vm, irq->mpidr);

	irq->target = vcpu ? vgic_cpu_lookup(dist, vcpu->index) : NULL;
}

static uint64_t v3_dist_read_irouter(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return irq->mpidr;
}

/* An SPI routed to an affinity no vCPU has stays pending until it is rerouted. */
static void v3_dist_write_irouter(const struct vgic_access *acc, struct vgic_irq *irq,
				  uint64_t field)
{
	pthread_mutex_lock(&irq->lock);
	irq->mpidr = field & GICD_IROUTER_AFF_MASK;
	vgic_v3_set_spi_target(irq, acc->dist);
	vgic_queue_irq_unlock(acc->dist, irq);
}

static int v3_dist_check_irouter(const struct vgic_access *acc, uint32_t intid, uint64_t field)
{
	(void)acc;
	(void)intid;
	return (field & ~GICD_IROUTER_AFF_MASK) ? -EINVAL : 0;
}

/* PIDR4-7, PIDR0-3, CIDR0-3 (ArchRev 3 in PIDR2). */
static uint64_t v3_dist_read_id(const struct vgic_access *acc, uint32_t offset)
{
	static const uint8_t id[12] = {
		0x04, 0, 0, 0, 0x92, 0xb4, 0x3b, 0, 0x0d, 0xf0, 0x05, 0xb1
	};

	(void)acc;
	return id[(offset - GICD_PIDR4) / 4];
}

#define W32   VGIC_W32
#define W8_32 (VGIC_W8 | VGIC_W32)
#define BANK1 (VGIC_MAX_IRQS / 8)
#define BANK2 (VGIC_MAX_IRQS / 4)
#define BANK8 1020

static const struct vgic_reg v3_dist_regs[] = {
	{ .offset = GICD_CTLR,
	  .len = 4,
	  .widths = W32,
	  .read = v3_dist_read_ctlr,
	  .write = v3_dist_write_ctlr,
	  .host_write = v3_dist_host_write_ctlr },
	{ .offset = GICD_TYPER, .len = 4, .widths = W32, .read = v3_dist_read_typer },
	{ .offset = GICD_IIDR, .len = 4, .widths = W32, .read = v3_dist_read_iidr },
	{ .offset = GICD_TYPER2, .len = 4, .widths = W32 },
	{ .offset = GICD_STATUSR, .len = 4, .widths = W32 },
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
	{ .offset = GICD_ICFGR,
	  .len = BANK2,
	  .bits_per_irq = 2,
	  .widths = W32,
	  .irq_read = vgic_read_config,
	  .irq_write = vgic_write_config,
	  .host_irq_check = vgic_check_config },
	{ .offset = GICD_IGRPMODR, .len = BANK1, .widths = W32 },
	{ .offset = GICD_IROUTER,
	  .len = BANK8 * 8,
	  .bits_per_irq = 64,
	  .widths = VGIC_W32 | VGIC_W64,
	  .irq_read = v3_dist_read_irouter,
	  .irq_write = v3_dist_write_irouter,
	  .host_irq_check = v3_dist_check_irouter },
	{ .offset = GICD_PIDR4, .len = 0x30, .widths = W32, .read = v3_dist_read_id },
};

const struct vgic_frame vgic_v3_dist_frame = {
	.name = "GICD(v3)",
	.size = (uint32_t)IVY_VGIC_V3_DIST_SIZE,
	.regs = v3_dist_regs,
	.nr_regs = IVY_ARRAY_SIZE(v3_dist_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

static uint64_t v3_dist_mmio_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset,
				  unsigned len)
{
	struct vgic_access acc = { .dist = opaque };
	struct vgic_cpu *vc = vcpu ? vcpu->vgic : NULL;
	bool loaded;
	uint64_t val;

	if (!vc)
		return 0;
	loaded = vgic_mmio_enter_read(vc);
	val = vgic_mmio_read(&vgic_v3_dist_frame, &acc, offset, len);
	vgic_mmio_leave(vc, loaded);
	return val;
}

static void v3_dist_mmio_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			       uint64_t val)
{
	struct vgic_access acc = { .dist = opaque };
	struct vgic_cpu *vc = vcpu ? vcpu->vgic : NULL;
	bool loaded;

	if (!vc)
		return;
	loaded = vgic_mmio_enter(vc);
	vgic_mmio_write(&vgic_v3_dist_frame, &acc, offset, len, val);
	vgic_mmio_leave(vc, loaded);
}

const struct ivy_mmio_ops vgic_v3_dist_mmio_ops = {
	.read = v3_dist_mmio_read,
	.write = v3_dist_mmio_write,
};
