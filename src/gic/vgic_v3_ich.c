/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 hypervisor interface model (ICH_*_EL2, IHI 0069 section 12.4):
 * the same list registers and virtual CPU interface state as GICv2's GICH
 * model (vgic_v2_cpuif.c), in the GICv3 formats, for a VMM that copies them
 * to and from GIC hardware and for save/restore. Host access only.
 *
 * The table is a vgic_frame keyed by encoding * 8, as the ICC registers
 * (vgic_v3_cpuif.c); every register is 64 bits:
 *   ICH_AP0R0_EL2 3,4,12,8,0     ICH_AP1R0_EL2 3,4,12,9,0
 *   ICH_HCR/VTR/MISR/EISR 3,4,12,11,0-3   ICH_ELRSR 3,4,12,11,5   ICH_VMCR 3,4,12,11,7
 *   ICH_LR0-7 3,4,12,12,0-7      ICH_LR8-15 3,4,12,13,0-7
 * With 5 priority bits there are 32 group priorities, so AP0R1-3 and AP1R1-3
 * do not exist (PREbits 5), nor LRs beyond the configured number.
 */
#include "gic/vgic.h"

#include <errno.h>

#define ICH(enc) ((enc)*8u)

/* ICH_VTR_EL2: IDbits [25:23] 0 (16 bits), A3V [21], PREbits - 1 [28:26], PRIbits - 1 [31:29]. */
#define ICH_VTR_A3V	   (1ull << 21)
#define ICH_VTR_PREBITS(n) ((uint64_t)((n)-1) << 26)
#define ICH_VTR_PRIBITS(n) ((uint64_t)((n)-1) << 29)

/* ICH_VMCR_EL2.VAckCtl [2] is RES0 and VFIQEn [3] RES1: the interface is system registers only. */
#define ICH_VMCR_VACKCTL GICC_CTLR_ACKCTL
#define ICH_VMCR_VFIQEN	 GICC_CTLR_FIQEN

/* ICH_LR<n>_EL2: vINTID [31:0], EOI [41] (HW = 0), Priority [55:48], Group [60], HW [61], State [63:62]. */
#define ICH_LR_VINTID_MASK 0xffffffffull
#define ICH_LR_EOI	   (1ull << 41)
#define ICH_LR_PRIO_SHIFT  48
#define ICH_LR_GROUP	   (1ull << 60)
#define ICH_LR_STATE_SHIFT 62
#define ICH_LR_VALID                                                                        \
	(ICH_LR_VINTID_MASK | ICH_LR_EOI | ((uint64_t)VGIC_PRI_MASK << ICH_LR_PRIO_SHIFT) | \
	 ICH_LR_GROUP | (3ull << ICH_LR_STATE_SHIFT))
#define VGIC_V3_MAX_INTID (1u << 16) /* IDbits 16 */

static uint64_t ich_read_hcr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->hcr;
}

static int ich_write_hcr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	return vgic_cpuif_set_hcr(acc->vc, val);
}

static uint64_t ich_read_vtr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return (acc->dist->nr_lrs - 1) | ICH_VTR_A3V | ICH_VTR_PREBITS(VGIC_PRI_BITS) |
	       ICH_VTR_PRIBITS(VGIC_PRI_BITS);
}

static uint64_t ich_read_vmcr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return vgic_cpuif_vmcr(acc->vc);
}

static int ich_write_vmcr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	if ((val & ICH_VMCR_VACKCTL) || !(val & ICH_VMCR_VFIQEN))
		return -EINVAL;
	return vgic_cpuif_set_vmcr(acc->vc, val);
}

static uint64_t ich_read_misr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return vgic_cpuif_misr(acc->vc);
}

static uint64_t ich_read_eisr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return vgic_cpuif_eisr(acc->vc);
}

static uint64_t ich_read_elrsr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return vgic_cpuif_elrsr(acc->vc);
}

static uint64_t ich_read_apr(const struct vgic_access *acc, uint32_t offset)
{
	return vgic_cpuif_apr(acc->vc, offset == ICH(IVY_ICH_AP1R0_EL2));
}

/* A bit the other group holds cannot be held by both: restore one group, then the other. */
static int ich_write_apr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	bool group1 = offset == ICH(IVY_ICH_AP1R0_EL2);

	if ((val >> 32) || (val & vgic_cpuif_apr(acc->vc, !group1)))
		return -EINVAL;
	vgic_cpuif_set_apr(acc->vc, group1, (uint32_t)val);
	return 0;
}

static uint64_t ich_read_lr(const struct vgic_access *acc, uint32_t offset)
{
	struct vgic_lr lr = vgic_cpuif_lr(acc->vc, (offset - ICH(IVY_ICH_LR_EL2(0))) / 8);

	return lr.intid | (lr.eoi ? ICH_LR_EOI : 0) | ((uint64_t)lr.priority << ICH_LR_PRIO_SHIFT) |
	       (lr.group1 ? ICH_LR_GROUP : 0) | ((uint64_t)lr.state << ICH_LR_STATE_SHIFT);
}

static int ich_write_lr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	uint32_t n = (offset - ICH(IVY_ICH_LR_EL2(0))) / 8;
	uint64_t intid = val & ICH_LR_VINTID_MASK;
	struct vgic_lr lr;

	/*
	 * No physical interrupt behind a virtual one (HW = 0, so pINTID holds only
	 * EOI), and only INTIDs the GIC implements: SGIs, PPIs and SPIs below
	 * nr_irqs, and LPIs within the 16 ID bits ICH_VTR_EL2 reports.
	 */
	if ((val & ~ICH_LR_VALID) || (intid >= acc->dist->nr_irqs && intid < VGIC_MIN_LPI) ||
	    intid >= VGIC_V3_MAX_INTID)
		return -EINVAL;
	lr = (struct vgic_lr){
		.intid = (uint32_t)intid,
		.eoi = (val & ICH_LR_EOI) != 0,
		.priority = (uint8_t)(val >> ICH_LR_PRIO_SHIFT),
		.state = (uint8_t)(val >> ICH_LR_STATE_SHIFT),
		.group1 = (val & ICH_LR_GROUP) != 0,
	};
	vgic_cpuif_set_lr(acc->vc, n, &lr);
	return 0;
}

#define REG(enc, ...)                                                                   \
	{                                                                               \
		.offset = ICH(enc), .len = 8, .widths = VGIC_W64, .flags = VGIC_REG_64, \
		__VA_ARGS__                                                             \
	}

static const struct vgic_reg ich_regs[] = {
	REG(IVY_ICH_AP0R0_EL2, .read = ich_read_apr, .host_write = ich_write_apr),
	REG(IVY_ICH_AP1R0_EL2, .read = ich_read_apr, .host_write = ich_write_apr),
	REG(IVY_ICH_HCR_EL2, .read = ich_read_hcr, .host_write = ich_write_hcr),
	REG(IVY_ICH_VTR_EL2, .read = ich_read_vtr),
	REG(IVY_ICH_MISR_EL2, .read = ich_read_misr),
	REG(IVY_ICH_EISR_EL2, .read = ich_read_eisr),
	REG(IVY_ICH_ELRSR_EL2, .read = ich_read_elrsr),
	REG(IVY_ICH_VMCR_EL2, .read = ich_read_vmcr, .host_write = ich_write_vmcr),
	{ .offset = ICH(IVY_ICH_LR_EL2(0)),
	  .len = VGIC_MAX_LRS * 8,
	  .widths = VGIC_W64,
	  .flags = VGIC_REG_64,
	  .read = ich_read_lr,
	  .host_write = ich_write_lr },
};

const struct vgic_frame vgic_v3_ich_frame = {
	.name = "ICH",
	.size = 0x10000u * 8,
	.regs = ich_regs,
	.nr_regs = IVY_ARRAY_SIZE(ich_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

static int ich_access(struct ivy_vcpu *vcpu, uint32_t reg, uint64_t *val, bool write)
{
	struct vgic_dist *dist;
	struct vgic_access acc;

	if (!vcpu || !val)
		return -EINVAL;
	dist = vcpu->vm->vgic;
	if (!dist || dist->model != &vgic_v3_model || !vcpu->vgic)
		return -ENODEV;
	if (reg > 0xffff)
		return -ENXIO;
	/* ICH_LR<n>_EL2 exists for the configured LRs only (ICH_VTR_EL2.ListRegs). */
	if (reg >= IVY_ICH_LR_EL2(0) && reg < IVY_ICH_LR_EL2(0) + VGIC_MAX_LRS &&
	    reg - IVY_ICH_LR_EL2(0) >= dist->nr_lrs)
		return -ENXIO;
	acc = (struct vgic_access){ .dist = dist, .vc = vcpu->vgic, .host = true };
	if (write)
		return vgic_host_write64(&vgic_v3_ich_frame, &acc, reg * 8u, *val);
	return vgic_host_read64(&vgic_v3_ich_frame, &acc, reg * 8u, val);
}

int ivy_vgic_v3_ich_read(struct ivy_vcpu *vcpu, uint32_t reg, uint64_t *val)
{
	return ich_access(vcpu, reg, val, false);
}

int ivy_vgic_v3_ich_write(struct ivy_vcpu *vcpu, uint32_t reg, uint64_t val)
{
	return ich_access(vcpu, reg, &val, true);
}
