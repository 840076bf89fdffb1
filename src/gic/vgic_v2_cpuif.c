/* SPDX-License-Identifier: MIT */
/*
 * The GICv2 virtual CPU interface, in software, on top of the list registers
 * (what a guest sees in GICV_*, IHI 0048B chapter 5.5), and the hypervisor
 * interface model (GICH_*, 5.3) a VMM on GIC hardware would copy.
 *
 * GICC frame, 8 KiB (all registers 32-bit):
 *   0x0000 CTLR   0x0004 PMR    0x0008 BPR    0x000C IAR    0x0010 EOIR
 *   0x0014 RPR    0x0018 HPPIR  0x001C ABPR   0x0020 AIAR   0x0024 AEOIR
 *   0x0028 AHPPIR 0x00D0 APR0 (APR1-3 RAZ/WI)  0x00E0 NSAPR0 (NSAPR1-3 RAZ/WI)
 *   0x00FC IIDR   0x1000 DIR
 * GICH frame (host only):
 *   0x000 HCR  0x004 VTR  0x008 VMCR  0x010 MISR  0x020 EISR0/1  0x030 ELRSR0/1
 *   0x0F0 APR  0x100 LR0..LR63 (LRs beyond the configured number RAZ/WI)
 *
 * Priorities have 5 bits, so there are 32 group priorities and GICH_APR bit n
 * stands for group priority n << 3. The minimum binary points are 2 (BPR) and
 * 3 (ABPR).
 */
#include "gic/vgic.h"

#include <errno.h>

#define GICC_CTLR   0x0000
#define GICC_PMR    0x0004
#define GICC_BPR    0x0008
#define GICC_IAR    0x000c
#define GICC_EOIR   0x0010
#define GICC_RPR    0x0014
#define GICC_HPPIR  0x0018
#define GICC_ABPR   0x001c
#define GICC_AIAR   0x0020
#define GICC_AEOIR  0x0024
#define GICC_AHPPIR 0x0028
#define GICC_APR0   0x00d0
#define GICC_NSAPR0 0x00e0
#define GICC_IIDR   0x00fc
#define GICC_DIR    0x1000

#define GICC_IIDR_VALUE ((0x49u << 20) | (2u << 16) | 0x43bu)
#define GICC_MIN_BPR	2
#define GICC_MIN_ABPR	3

/* GICC_IAR: Group 0, and Group 1 if AckCtl is set (else 1022 for a Group 1 winner). */
static uint64_t cpu_read_iar(const struct vgic_access *acc, uint32_t offset)
{
	struct vgic_cpu *vc = acc->vc;
	int i = vgic_cpuif_highest_pending(vc, -1);

	(void)offset;
	if (i < 0 || !vgic_cpuif_can_signal(vc, &vc->lr[i]))
		return VGIC_INTID_SPURIOUS;
	if (vc->lr[i].group1 && !(vc->ctlr & GICC_CTLR_ACKCTL))
		return VGIC_INTID_NOT_GRP0;
	return vgic_cpuif_ack(vc, i);
}

/* GICC_AIAR: Group 1 only. */
static uint64_t cpu_read_aiar(const struct vgic_access *acc, uint32_t offset)
{
	struct vgic_cpu *vc = acc->vc;
	int i = vgic_cpuif_highest_pending(vc, 1);

	(void)offset;
	if (i < 0 || !vgic_cpuif_can_signal(vc, &vc->lr[i]))
		return VGIC_INTID_SPURIOUS;
	return vgic_cpuif_ack(vc, i);
}

static uint64_t cpu_read_hppir(const struct vgic_access *acc, uint32_t offset)
{
	struct vgic_cpu *vc = acc->vc;
	int i = vgic_cpuif_highest_pending(vc, -1);

	(void)offset;
	if (i < 0)
		return VGIC_INTID_SPURIOUS;
	if (vc->lr[i].group1 && !(vc->ctlr & GICC_CTLR_ACKCTL))
		return VGIC_INTID_NOT_GRP0;
	return vgic_cpuif_lr_id(&vc->lr[i]);
}

static uint64_t cpu_read_ahppir(const struct vgic_access *acc, uint32_t offset)
{
	int i = vgic_cpuif_highest_pending(acc->vc, 1);

	(void)offset;
	return i < 0 ? VGIC_INTID_SPURIOUS : vgic_cpuif_lr_id(&acc->vc->lr[i]);
}

/* GICC_EOIR / AEOIR: priority drop, and deactivation unless EOImode is 1. */
static void cpu_write_eoir(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	/* GICC_EOIR: INTID [9:0], source CPU of an SGI [12:10]. */
	vgic_cpuif_eoi(acc->vc, val & 0x3ff, (val >> 10) & 7);
}

static void cpu_write_dir(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	vgic_cpuif_deactivate(acc->vc, val & 0x3ff, (val >> 10) & 7);
}

static uint64_t cpu_read_ctlr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->ctlr;
}

static void cpu_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	acc->vc->ctlr = val & GICC_CTLR_MASK;
}

static int cpu_host_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val & ~GICC_CTLR_MASK)
		return -EINVAL;
	cpu_write_ctlr(acc, offset, val);
	return 0;
}

static uint64_t cpu_read_pmr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->pmr;
}

static void cpu_write_pmr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	acc->vc->pmr = (uint8_t)(val & VGIC_PRI_MASK);
}

static int cpu_host_write_pmr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val & ~(uint32_t)VGIC_PRI_MASK)
		return -EINVAL;
	cpu_write_pmr(acc, offset, val);
	return 0;
}

static uint64_t cpu_read_bpr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->bpr;
}

static void cpu_write_bpr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	val &= 7;
	acc->vc->bpr = (uint8_t)(val < GICC_MIN_BPR ? GICC_MIN_BPR : val);
}

static int cpu_host_write_bpr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val < GICC_MIN_BPR || val > 7)
		return -EINVAL;
	cpu_write_bpr(acc, offset, val);
	return 0;
}

/* With CBPR set, ABPR reads BPR + 1 (saturated) and ignores writes. */
static uint64_t cpu_read_abpr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	if (acc->vc->ctlr & GICC_CTLR_CBPR)
		return acc->vc->bpr < 7 ? acc->vc->bpr + 1u : 7u;
	return acc->vc->abpr;
}

static void cpu_write_abpr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	if (acc->vc->ctlr & GICC_CTLR_CBPR)
		return;
	val &= 7;
	acc->vc->abpr = (uint8_t)(val < GICC_MIN_ABPR ? GICC_MIN_ABPR : val);
}

static uint64_t cpu_host_read_abpr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->abpr;
}

static int cpu_host_write_abpr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	if (val < GICC_MIN_ABPR || val > 7)
		return -EINVAL;
	acc->vc->abpr = (uint8_t)val;
	return 0;
}

static uint64_t cpu_read_rpr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return vgic_cpuif_running_priority(acc->vc);
}

static uint64_t cpu_read_apr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->apr;
}

static void cpu_write_apr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	acc->vc->apr = val;
	acc->vc->apr_g1 &= val;
}

static uint64_t cpu_read_nsapr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->apr_g1;
}

static void cpu_write_nsapr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	acc->vc->apr_g1 = val & acc->vc->apr;
}

/* Restore APR0 before NSAPR0: the Group 1 bits must be a subset. */
static int cpu_host_write_nsapr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	if (val & ~acc->vc->apr)
		return -EINVAL;
	cpu_write_nsapr(acc, offset, val);
	return 0;
}

static uint64_t cpu_read_iidr(const struct vgic_access *acc, uint32_t offset)
{
	(void)acc;
	(void)offset;
	return GICC_IIDR_VALUE;
}

#define W32 VGIC_W32

static const struct vgic_reg cpu_regs[] = {
	{ .offset = GICC_CTLR,
	  .len = 4,
	  .widths = W32,
	  .read = cpu_read_ctlr,
	  .write = cpu_write_ctlr,
	  .host_write = cpu_host_write_ctlr },
	{ .offset = GICC_PMR,
	  .len = 4,
	  .widths = W32,
	  .read = cpu_read_pmr,
	  .write = cpu_write_pmr,
	  .host_write = cpu_host_write_pmr },
	{ .offset = GICC_BPR,
	  .len = 4,
	  .widths = W32,
	  .read = cpu_read_bpr,
	  .write = cpu_write_bpr,
	  .host_write = cpu_host_write_bpr },
	{ .offset = GICC_IAR,
	  .len = 4,
	  .widths = W32,
	  .flags = VGIC_REG_NO_HOST,
	  .read = cpu_read_iar },
	{ .offset = GICC_EOIR,
	  .len = 4,
	  .widths = W32,
	  .flags = VGIC_REG_NO_HOST,
	  .write = cpu_write_eoir },
	{ .offset = GICC_RPR,
	  .len = 4,
	  .widths = W32,
	  .flags = VGIC_REG_NO_HOST,
	  .read = cpu_read_rpr },
	{ .offset = GICC_HPPIR,
	  .len = 4,
	  .widths = W32,
	  .flags = VGIC_REG_NO_HOST,
	  .read = cpu_read_hppir },
	{ .offset = GICC_ABPR,
	  .len = 4,
	  .widths = W32,
	  .read = cpu_read_abpr,
	  .write = cpu_write_abpr,
	  .host_read = cpu_host_read_abpr,
	  .host_write = cpu_host_write_abpr },
	{ .offset = GICC_AIAR,
	  .len = 4,
	  .widths = W32,
	  .flags = VGIC_REG_NO_HOST,
	  .read = cpu_read_aiar },
	{ .offset = GICC_AEOIR,
	  .len = 4,
	  .widths = W32,
	  .flags = VGIC_REG_NO_HOST,
	  .write = cpu_write_eoir },
	{ .offset = GICC_AHPPIR,
	  .len = 4,
	  .widths = W32,
	  .flags = VGIC_REG_NO_HOST,
	  .read = cpu_read_ahppir },
	{ .offset = GICC_APR0,
	  .len = 4,
	  .widths = W32,
	  .read = cpu_read_apr,
	  .write = cpu_write_apr },
	/* APR1-3: with 32 group priorities only APR0 is implemented (RAZ/WI). */
	{ .offset = GICC_APR0 + 4, .len = 12, .widths = W32, .flags = VGIC_REG_NO_HOST },
	{ .offset = GICC_NSAPR0,
	  .len = 4,
	  .widths = W32,
	  .read = cpu_read_nsapr,
	  .write = cpu_write_nsapr,
	  .host_write = cpu_host_write_nsapr },
	{ .offset = GICC_NSAPR0 + 4, .len = 12, .widths = W32, .flags = VGIC_REG_NO_HOST },
	{ .offset = GICC_IIDR, .len = 4, .widths = W32, .read = cpu_read_iidr },
	{ .offset = GICC_DIR,
	  .len = 4,
	  .widths = W32,
	  .flags = VGIC_REG_NO_HOST,
	  .write = cpu_write_dir },
};

const struct vgic_frame vgic_v2_cpu_frame = {
	.name = "GICC",
	.size = (uint32_t)IVY_VGIC_V2_CPU_SIZE,
	.regs = cpu_regs,
	.nr_regs = IVY_ARRAY_SIZE(cpu_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

static uint64_t cpu_mmio_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct vgic_access acc = { .dist = opaque, .vc = vcpu ? vcpu->vgic : NULL };
	uint64_t val;

	if (!acc.vc)
		return 0;
	val = vgic_mmio_read(&vgic_v2_cpu_frame, &acc, offset, len);
	vgic_cpuif_maintenance(acc.vc);
	return val;
}

static void cpu_mmio_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			   uint64_t val)
{
	struct vgic_access acc = { .dist = opaque, .vc = vcpu ? vcpu->vgic : NULL };

	if (!acc.vc)
		return;
	vgic_mmio_write(&vgic_v2_cpu_frame, &acc, offset, len, val);
	vgic_cpuif_maintenance(acc.vc);
}

const struct ivy_mmio_ops vgic_v2_cpu_mmio_ops = {
	.read = cpu_mmio_read,
	.write = cpu_mmio_write,
};

/* ------------------------------------------------------------------------------------------ */
/* GICH: the hypervisor interface model.                                                      */

#define GICH_HCR    0x000
#define GICH_VTR    0x004
#define GICH_VMCR   0x008
#define GICH_MISR   0x010
#define GICH_EISR0  0x020
#define GICH_ELRSR0 0x030
#define GICH_APR    0x0f0
#define GICH_LR0    0x100

static uint64_t gich_read_hcr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->hcr;
}

static int gich_write_hcr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	return vgic_cpuif_set_hcr(acc->vc, val);
}

/* ListRegs - 1, PREbits - 1 = 4, PRIbits - 1 = 4. */
static uint64_t gich_read_vtr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return (acc->dist->nr_lrs - 1) | (4u << 26) | (4u << 29);
}

static uint64_t gich_read_vmcr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return vgic_cpuif_vmcr(acc->vc);
}

static int gich_write_vmcr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	return vgic_cpuif_set_vmcr(acc->vc, val);
}

static uint64_t gich_read_misr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return vgic_cpuif_misr(acc->vc);
}

static uint64_t gich_read_eisr(const struct vgic_access *acc, uint32_t offset)
{
	return offset == GICH_EISR0 ? vgic_cpuif_eisr(acc->vc) : 0;
}

static uint64_t gich_read_elrsr(const struct vgic_access *acc, uint32_t offset)
{
	return offset == GICH_ELRSR0 ? vgic_cpuif_elrsr(acc->vc) : 0;
}

static uint64_t gich_read_apr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->apr;
}

static int gich_write_apr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	cpu_write_apr(acc, offset, val);
	return 0;
}

/* GICH_LR (IHI 0048B 5.3.11): VirtualID, CPUID, EOI, Priority[7:3], State, Grp1, HW. */
static uint64_t gich_read_lr(const struct vgic_access *acc, uint32_t offset)
{
	uint32_t n = (offset - GICH_LR0) / 4;
	struct vgic_lr lr;

	if (n >= acc->dist->nr_lrs)
		return 0;
	lr = vgic_cpuif_lr(acc->vc, n);
	return lr.intid | ((uint32_t)lr.source << 10) | ((uint32_t)lr.eoi << 19) |
	       ((uint32_t)(lr.priority >> 3) << 23) | ((uint32_t)lr.state << 28) |
	       ((uint32_t)lr.group1 << 30);
}

static int gich_write_lr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	uint32_t n = (offset - GICH_LR0) / 4, intid = val & 0x3ff;
	struct vgic_lr lr;

	if (n >= acc->dist->nr_lrs)
		return val ? -EINVAL : 0;
	/* No physical interrupts behind virtual ones; INTIDs must exist. */
	if ((val & (1u << 31)) || (val & 0x00760000u) || intid >= acc->dist->nr_irqs ||
	    (intid >= VGIC_NR_SGIS && (val & 0x1c00u)))
		return -EINVAL;
	lr = (struct vgic_lr){
		.intid = intid,
		.source = (uint8_t)((val >> 10) & 7),
		.eoi = (val >> 19) & 1,
		.priority = (uint8_t)(((val >> 23) & 0x1f) << 3),
		.state = (uint8_t)((val >> 28) & 3),
		.group1 = (val >> 30) & 1,
	};
	vgic_cpuif_set_lr(acc->vc, n, &lr);
	return 0;
}

static const struct vgic_reg gich_regs[] = {
	{ .offset = GICH_HCR,
	  .len = 4,
	  .widths = W32,
	  .read = gich_read_hcr,
	  .host_write = gich_write_hcr },
	{ .offset = GICH_VTR, .len = 4, .widths = W32, .read = gich_read_vtr },
	{ .offset = GICH_VMCR,
	  .len = 4,
	  .widths = W32,
	  .read = gich_read_vmcr,
	  .host_write = gich_write_vmcr },
	{ .offset = GICH_MISR, .len = 4, .widths = W32, .read = gich_read_misr },
	{ .offset = GICH_EISR0, .len = 8, .widths = W32, .read = gich_read_eisr },
	{ .offset = GICH_ELRSR0, .len = 8, .widths = W32, .read = gich_read_elrsr },
	{ .offset = GICH_APR,
	  .len = 4,
	  .widths = W32,
	  .read = gich_read_apr,
	  .host_write = gich_write_apr },
	{ .offset = GICH_LR0,
	  .len = 0x100,
	  .widths = W32,
	  .read = gich_read_lr,
	  .host_write = gich_write_lr },
};

const struct vgic_frame vgic_v2_gich_frame = {
	.name = "GICH",
	.size = 0x200,
	.regs = gich_regs,
	.nr_regs = IVY_ARRAY_SIZE(gich_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

static int gich_access(struct ivy_vcpu *vcpu, uint32_t offset, uint32_t *val, bool write)
{
	struct vgic_dist *dist;
	struct vgic_access acc;

	if (!vcpu || !val)
		return -EINVAL;
	dist = vcpu->vm->vgic;
	if (!dist || dist->model != &vgic_v2_model || !vcpu->vgic)
		return -ENODEV;
	acc = (struct vgic_access){ .dist = dist, .vc = vcpu->vgic, .host = true };
	if (write)
		return vgic_host_write(&vgic_v2_gich_frame, &acc, offset, *val);
	return vgic_host_read(&vgic_v2_gich_frame, &acc, offset, val);
}

int ivy_vgic_v2_gich_read(struct ivy_vcpu *vcpu, uint32_t offset, uint32_t *val)
{
	return gich_access(vcpu, offset, val, false);
}

int ivy_vgic_v2_gich_write(struct ivy_vcpu *vcpu, uint32_t offset, uint32_t val)
{
	return gich_access(vcpu, offset, &val, true);
}
