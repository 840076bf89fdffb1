/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 redistributors (IHI 0069 chapter 12.10-12.11): 128 KiB per vCPU,
 * one after the other in vCPU index order, each an RD frame and an SGI frame.
 *
 * RD frame (RD_base):
 *   0x0000 GICR_CTLR      EnableLPIs (set and clear); RWP, UWP 0
 *   0x0004 GICR_IIDR      0x0008 GICR_TYPER (64): affinity, Processor_Number, Last, PLPIS
 *   0x0010 GICR_STATUSR   RAZ/WI      0x0014 GICR_WAKER RAZ/WI (always awake)
 *   0x0070 GICR_PROPBASER (64)        0x0078 GICR_PENDBASER (64): ignore writes while
 *                                     EnableLPIs is set
 *   0x00A0 GICR_INVLPIR (64), 0x00B0 GICR_INVALLR (64): re-read LPI configuration
 *   0x00C0 GICR_SYNCR: 0 (invalidation completes at once)
 *   0xFFD0 ID registers
 * SGI frame (SGI_base = RD_base + 64 KiB), the banked SGI/PPI registers:
 *   0x0080 IGROUPR0  0x0100/0x0180 I[SC]ENABLER0  0x0200/0x0280 I[SC]PENDR0
 *   0x0300/0x0380 I[SC]ACTIVER0  0x0400 IPRIORITYR0-7  0x0C00 ICFGR0 (SGIs edge,
 *   read-only), ICFGR1 (PPIs level, read-only)  0x0D00 IGRPMODR0, 0x0E00 NSACR: RAZ/WI
 *
 * The LPI tables these registers point at are read in vgic_lpi.c.
 */
#include "gic/its.h"
#include "gic/vgic.h"

#include <errno.h>

#define GICR_CTLR      0x0000
#define GICR_IIDR      0x0004
#define GICR_TYPER     0x0008
#define GICR_STATUSR   0x0010
#define GICR_WAKER     0x0014
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078
#define GICR_INVLPIR   0x00a0
#define GICR_INVALLR   0x00b0
#define GICR_SYNCR     0x00c0
#define GICR_PIDR4     0xffd0

#define GICR_SGI_BASE	 0x10000u
#define GICR_IGROUPR0	 0x0080
#define GICR_ISENABLER0	 0x0100
#define GICR_ICENABLER0	 0x0180
#define GICR_ISPENDR0	 0x0200
#define GICR_ICPENDR0	 0x0280
#define GICR_ISACTIVER0	 0x0300
#define GICR_ICACTIVER0	 0x0380
#define GICR_IPRIORITYR0 0x0400
#define GICR_ICFGR0	 0x0c00
#define GICR_IGRPMODR0	 0x0d00
#define GICR_NSACR	 0x0e00

#define GICR_CTLR_ENABLE_LPIS (1u << 0)
#define GICR_TYPER_PLPIS      (1ull << 0)
#define GICR_TYPER_LAST	      (1ull << 4)
#define GICR_IIDR_VALUE	      ((0x49u << 24) | (3u << 12) | 0x43bu)
/* PROPBASER: IDbits, InnerCache, Shareability, PA[51:12], OuterCache. */
#define GICR_PROPBASER_MASK 0x070fffffffffff9full
/* PENDBASER: InnerCache, Shareability, PA[51:16], OuterCache; PTZ is write-only. */
#define GICR_PENDBASER_MASK 0x070fffffffff0f80ull

static uint64_t rd_read_ctlr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return atomic_load(&acc->vc->lpis_enabled) ? GICR_CTLR_ENABLE_LPIS : 0;
}

/*
 * GIC-CHOICES.md: EnableLPIs can be set and cleared. Setting it reads the
 * pending table (unless PTZ); clearing it drops this redistributor's pending
 * LPIs from delivery. After a clear, the ITSes' in-flight MSIs are waited out
 * (a grace period, with no vGIC lock held) before the drop, so an MSI
 * translated before the clear cannot make its LPI pending afterwards.
 */
static void rd_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	struct vgic_cpu *vc = acc->vc;
	bool enable = val & GICR_CTLR_ENABLE_LPIS, changed, ptz;
	uint64_t pendbaser;

	(void)offset;
	pthread_mutex_lock(&vc->rd_lock);
	changed = atomic_load(&vc->lpis_enabled) != enable;
	atomic_store(&vc->lpis_enabled, enable);
	pendbaser = vc->pendbaser;
	ptz = vc->pendbaser_ptz;
	pthread_mutex_unlock(&vc->rd_lock);
	if (!changed)
		return;
	if (!enable && atomic_load(&acc->dist->has_its))
		its_synchronize();
	vgic_lpi_enable_changed(acc->dist, vc, enable, pendbaser, ptz);
}

static int rd_host_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val & ~(uint64_t)GICR_CTLR_ENABLE_LPIS)
		return -EINVAL;
	rd_write_ctlr(acc, offset, val);
	return 0;
}

static uint64_t rd_read_iidr(const struct vgic_access *acc, uint32_t offset)
{
	(void)acc;
	(void)offset;
	return GICR_IIDR_VALUE;
}

/*
 * GICR_TYPER.Last: the last redistributor in use in its region, or the last
 * vCPU's. Computed from the regions as they are laid out when the GIC is mapped
 * (vCPUs in index order filling the regions in index order), so it reads the
 * same before mapping (a restore) as after.
 */
static bool rd_is_last(const struct vgic_dist *dist, uint32_t index)
{
	uint32_t next = 0;

	for (uint32_t i = 0; i < dist->nr_rdregs; i++) {
		uint32_t cap = dist->rdregs[i].count ? dist->rdregs[i].count : dist->nr_cpus;
		uint32_t used = cap < dist->nr_cpus - next ? cap : dist->nr_cpus - next;

		if (index >= next && index < next + used)
			return index + 1 == next + used || index + 1 == dist->nr_cpus;
		next += used;
	}
	return index + 1 == dist->nr_cpus;
}

/* GIC-CHOICES.md: Processor_Number is the vCPU index; Last on the last one of each region. */
static uint64_t rd_read_typer(const struct vgic_access *acc, uint32_t offset)
{
	uint64_t mpidr = ivy_vcpu_mpidr(acc->vc->vcpu);
	uint64_t aff = (mpidr & 0xffffff) | (((mpidr >> 32) & 0xff) << 24);

	(void)offset;
	return (aff << 32) | ((uint64_t)acc->vc->index << 8) | GICR_TYPER_PLPIS |
	       (rd_is_last(acc->dist, acc->vc->index) ? GICR_TYPER_LAST : 0);
}

static uint64_t rd_read_propbaser(const struct vgic_access *acc, uint32_t offset)
{
	uint64_t v;

	(void)offset;
	pthread_mutex_lock(&acc->vc->rd_lock);
	v = acc->vc->propbaser;
	pthread_mutex_unlock(&acc->vc->rd_lock);
	return v;
}

/* GIC-CHOICES.md: PROPBASER and PENDBASER ignore writes while EnableLPIs is set. */
static void rd_write_propbaser(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	pthread_mutex_lock(&acc->vc->rd_lock);
	if (!atomic_load(&acc->vc->lpis_enabled)) {
		acc->vc->propbaser = val & GICR_PROPBASER_MASK;
		atomic_store(&acc->dist->propbaser, acc->vc->propbaser);
	}
	pthread_mutex_unlock(&acc->vc->rd_lock);
}

static uint64_t rd_read_pendbaser(const struct vgic_access *acc, uint32_t offset)
{
	uint64_t v;

	(void)offset;
	pthread_mutex_lock(&acc->vc->rd_lock);
	v = acc->vc->pendbaser;
	pthread_mutex_unlock(&acc->vc->rd_lock);
	return v;
}

static void rd_write_pendbaser(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	pthread_mutex_lock(&acc->vc->rd_lock);
	if (!atomic_load(&acc->vc->lpis_enabled)) {
		acc->vc->pendbaser = val & GICR_PENDBASER_MASK;
		acc->vc->pendbaser_ptz = (val >> 62) & 1;
	}
	pthread_mutex_unlock(&acc->vc->rd_lock);
}

static int rd_host_write_propbaser(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val & ~GICR_PROPBASER_MASK)
		return -EINVAL;
	acc->vc->propbaser = val;
	atomic_store(&acc->dist->propbaser, val);
	(void)offset;
	return 0;
}

static int rd_host_write_pendbaser(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val & ~GICR_PENDBASER_MASK)
		return -EINVAL;
	acc->vc->pendbaser = val;
	(void)offset;
	return 0;
}

/* GICR_INVLPIR: re-read one LPI's configuration; GICR_INVALLR: all of this redistributor's. */
static void rd_write_invlpir(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	if ((uint32_t)val >= VGIC_MIN_LPI)
		vgic_lpi_invalidate(acc->dist, acc->vc, (uint32_t)val);
}

static void rd_write_invallr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	(void)val;
	vgic_lpi_invalidate(acc->dist, acc->vc, 0);
}

static uint64_t rd_read_id(const struct vgic_access *acc, uint32_t offset)
{
	static const uint8_t id[12] = {
		0x04, 0, 0, 0, 0x93, 0xb4, 0x3b, 0, 0x0d, 0xf0, 0x05, 0xb1
	};

	(void)acc;
	return id[(offset - GICR_PIDR4) / 4];
}

#define W32   VGIC_W32
#define W64   (VGIC_W32 | VGIC_W64)
#define W8_32 (VGIC_W8 | VGIC_W32)

static const struct vgic_reg rd_regs[] = {
	{ .offset = GICR_CTLR,
	  .len = 4,
	  .widths = W32,
	  .read = rd_read_ctlr,
	  .write = rd_write_ctlr,
	  .host_write = rd_host_write_ctlr },
	{ .offset = GICR_IIDR, .len = 4, .widths = W32, .read = rd_read_iidr },
	{ .offset = GICR_TYPER,
	  .len = 8,
	  .widths = W64,
	  .flags = VGIC_REG_64,
	  .read = rd_read_typer },
	{ .offset = GICR_STATUSR, .len = 4, .widths = W32 },
	{ .offset = GICR_WAKER, .len = 4, .widths = W32 },
	{ .offset = GICR_PROPBASER,
	  .len = 8,
	  .widths = W64,
	  .flags = VGIC_REG_64,
	  .read = rd_read_propbaser,
	  .write = rd_write_propbaser,
	  .host_write = rd_host_write_propbaser },
	{ .offset = GICR_PENDBASER,
	  .len = 8,
	  .widths = W64,
	  .flags = VGIC_REG_64,
	  .read = rd_read_pendbaser,
	  .write = rd_write_pendbaser,
	  .host_write = rd_host_write_pendbaser },
	{ .offset = GICR_INVLPIR,
	  .len = 8,
	  .widths = W64,
	  .flags = VGIC_REG_64 | VGIC_REG_NO_HOST,
	  .write = rd_write_invlpir },
	{ .offset = GICR_INVALLR,
	  .len = 8,
	  .widths = W64,
	  .flags = VGIC_REG_64 | VGIC_REG_NO_HOST,
	  .write = rd_write_invallr },
	{ .offset = GICR_SYNCR, .len = 4, .widths = W32, .flags = VGIC_REG_NO_HOST },
	{ .offset = GICR_PIDR4, .len = 0x30, .widths = W32, .read = rd_read_id },
};

const struct vgic_frame vgic_v3_rd_frame = {
	.name = "GICR RD",
	.size = GICR_SGI_BASE,
	.regs = rd_regs,
	.nr_regs = IVY_ARRAY_SIZE(rd_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

static const struct vgic_reg sgi_regs[] = {
	{ .offset = GICR_IGROUPR0,
	  .len = 4,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_group,
	  .irq_write = vgic_write_group },
	{ .offset = GICR_ISENABLER0,
	  .len = 4,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .flags = VGIC_REG_LOCKLESS_READ,
	  .irq_read = vgic_read_enable,
	  .irq_write = vgic_write_senable },
	{ .offset = GICR_ICENABLER0,
	  .len = 4,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .flags = VGIC_REG_LOCKLESS_READ,
	  .irq_read = vgic_read_enable,
	  .irq_write = vgic_write_cenable },
	{ .offset = GICR_ISPENDR0,
	  .len = 4,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_pending,
	  .irq_write = vgic_write_spending,
	  .host_irq_read = vgic_host_read_pending },
	{ .offset = GICR_ICPENDR0,
	  .len = 4,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_pending,
	  .irq_write = vgic_write_cpending,
	  .host_irq_read = vgic_host_read_pending },
	{ .offset = GICR_ISACTIVER0,
	  .len = 4,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_active,
	  .irq_write = vgic_write_sactive },
	{ .offset = GICR_ICACTIVER0,
	  .len = 4,
	  .bits_per_irq = 1,
	  .widths = W32,
	  .irq_read = vgic_read_active,
	  .irq_write = vgic_write_cactive },
	{ .offset = GICR_IPRIORITYR0,
	  .len = 32,
	  .bits_per_irq = 8,
	  .widths = W8_32,
	  .irq_read = vgic_read_priority,
	  .irq_write = vgic_write_priority,
	  .host_irq_check = vgic_check_priority },
	{ .offset = GICR_ICFGR0,
	  .len = 8,
	  .bits_per_irq = 2,
	  .widths = W32,
	  .irq_read = vgic_read_config,
	  .irq_write = vgic_write_config,
	  .host_irq_check = vgic_check_config },
	{ .offset = GICR_IGRPMODR0, .len = 4, .widths = W32 },
	{ .offset = GICR_NSACR, .len = 4, .widths = W32 },
};

/*
 * The banks of the SGI frame start at offsets 0x80, 0x100, ... like the
 * distributor's, and cover INTIDs 0-31 of the redistributor's vCPU.
 */
const struct vgic_frame vgic_v3_sgi_frame = {
	.name = "GICR SGI",
	.size = GICR_SGI_BASE,
	.regs = sgi_regs,
	.nr_regs = IVY_ARRAY_SIZE(sgi_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

const struct vgic_frame *vgic_v3_redist_frame(uint32_t *offset)
{
	if (*offset < GICR_SGI_BASE)
		return &vgic_v3_rd_frame;
	if (*offset < 2 * GICR_SGI_BASE) {
		*offset -= GICR_SGI_BASE;
		return &vgic_v3_sgi_frame;
	}
	return NULL;
}

/*
 * Each redistributor region is one MMIO region of consecutive redistributors:
 * the offset names the vCPU (whose registers are accessed, not necessarily the
 * accessing one) and the frame.
 */
static const struct vgic_frame *redist_decode(struct vgic_rdreg *rdreg, uint64_t offset,
					      struct vgic_access *acc, uint32_t *frame_off)
{
	uint64_t idx = rdreg->first_cpu + offset / IVY_VGIC_V3_REDIST_SIZE;

	*frame_off = (uint32_t)(offset % IVY_VGIC_V3_REDIST_SIZE);
	*acc = (struct vgic_access){ .dist = rdreg->dist,
				     .vc = vgic_cpu_of(rdreg->dist, (uint32_t)idx) };
	if (!acc->vc)
		return NULL;
	return vgic_v3_redist_frame(frame_off);
}

static uint64_t redist_mmio_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct vgic_cpu *self = vcpu ? vcpu->vgic : NULL;
	const struct vgic_frame *frame;
	struct vgic_access acc;
	uint32_t off;
	bool loaded;
	uint64_t val;

	if (!self)
		return 0;
	frame = redist_decode(opaque, offset, &acc, &off);
	if (!frame) {
		vm_stat_inc(((struct vgic_rdreg *)opaque)->dist->vm, IVY_STAT_GIC_BAD_ACCESS);
		return 0;
	}
	loaded = vgic_mmio_enter(self);
	val = vgic_mmio_read(frame, &acc, off, len);
	vgic_mmio_leave(self, loaded);
	return val;
}

static void redist_mmio_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			      uint64_t val)
{
	struct vgic_cpu *self = vcpu ? vcpu->vgic : NULL;
	const struct vgic_frame *frame;
	struct vgic_access acc;
	uint32_t off;
	bool loaded;

	if (!self)
		return;
	frame = redist_decode(opaque, offset, &acc, &off);
	if (!frame) {
		vm_stat_inc(((struct vgic_rdreg *)opaque)->dist->vm, IVY_STAT_GIC_BAD_ACCESS);
		return;
	}
	loaded = vgic_mmio_enter(self);
	vgic_mmio_write(frame, &acc, off, len, val);
	vgic_mmio_leave(self, loaded);
}

const struct ivy_mmio_ops vgic_v3_redist_mmio_ops = {
	.read = redist_mmio_read,
	.write = redist_mmio_write,
};
