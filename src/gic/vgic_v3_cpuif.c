/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 CPU interface as system registers (ICC_*_EL1, IHI 0069 chapter
 * 12.2), on the same list registers and software interface as GICv2
 * (vgic_cpuif.c). A VMM calls ivy_vcpu_sysreg() from its MRS/MSR trap.
 *
 * The table is a vgic_frame whose "offsets" are encodings times 8, so the one
 * dispatcher finds registers by binary search and every register is a 64-bit
 * access:
 *   ICC_PMR_EL1 3,0,4,6,0            ICC_IAR0/EOIR0/HPPIR0/BPR0 3,0,12,8,0-3
 *   ICC_AP0R0-3 3,0,12,8,4-7         ICC_AP1R0-3 3,0,12,9,0-3
 *   ICC_DIR 3,0,12,11,1  ICC_RPR 3,0,12,11,3  ICC_SGI1R/ASGI1R/SGI0R 3,0,12,11,5-7
 *   ICC_IAR1/EOIR1/HPPIR1/BPR1/CTLR/SRE/IGRPEN0/IGRPEN1 3,0,12,12,0-7
 */
#include "gic/vgic.h"

#include <errno.h>

#define ICC(crn, crm, op2) (IVY_SYSREG(3, 0, crn, crm, op2) * 8u)
#define ICC_PMR_EL1	   ICC(4, 6, 0)
#define ICC_IAR0_EL1	   ICC(12, 8, 0)
#define ICC_EOIR0_EL1	   ICC(12, 8, 1)
#define ICC_HPPIR0_EL1	   ICC(12, 8, 2)
#define ICC_BPR0_EL1	   ICC(12, 8, 3)
#define ICC_AP0R0_EL1	   ICC(12, 8, 4)
#define ICC_AP1R0_EL1	   ICC(12, 9, 0)
#define ICC_DIR_EL1	   ICC(12, 11, 1)
#define ICC_RPR_EL1	   ICC(12, 11, 3)
#define ICC_SGI1R_EL1	   ICC(12, 11, 5)
#define ICC_ASGI1R_EL1	   ICC(12, 11, 6)
#define ICC_SGI0R_EL1	   ICC(12, 11, 7)
#define ICC_IAR1_EL1	   ICC(12, 12, 0)
#define ICC_EOIR1_EL1	   ICC(12, 12, 1)
#define ICC_HPPIR1_EL1	   ICC(12, 12, 2)
#define ICC_BPR1_EL1	   ICC(12, 12, 3)
#define ICC_CTLR_EL1	   ICC(12, 12, 4)
#define ICC_SRE_EL1	   ICC(12, 12, 5)
#define ICC_IGRPEN0_EL1	   ICC(12, 12, 6)
#define ICC_IGRPEN1_EL1	   ICC(12, 12, 7)

#define ICC_CTLR_CBPR	 (1u << 0)
#define ICC_CTLR_EOIMODE (1u << 1)
/* PRIbits - 1 = 4, IDbits 0 (16 bits), A3V, RSS. */
#define ICC_CTLR_RO ((4u << 8) | (1u << 15) | (1u << 18))

/* IAR0 acknowledges only Group 0, IAR1 only Group 1 (GIC-CHOICES.md): 1023 otherwise. */
static uint64_t icc_ack(const struct vgic_access *acc, int group)
{
	struct vgic_cpu *vc = acc->vc;
	int i = vgic_cpuif_highest_pending(vc, group);

	if (i < 0 || !vgic_cpuif_can_signal(vc, &vc->lr[i]))
		return VGIC_INTID_SPURIOUS;
	return vgic_cpuif_ack(vc, i);
}

static uint64_t icc_read_iar0(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return icc_ack(acc, 0);
}

static uint64_t icc_read_iar1(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return icc_ack(acc, 1);
}

static uint64_t icc_hppir(const struct vgic_access *acc, int group)
{
	int i = vgic_cpuif_highest_pending(acc->vc, group);

	return i < 0 ? VGIC_INTID_SPURIOUS : acc->vc->lr[i].intid;
}

static uint64_t icc_read_hppir0(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return icc_hppir(acc, 0);
}

static uint64_t icc_read_hppir1(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return icc_hppir(acc, 1);
}

static void icc_write_eoir(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	vgic_cpuif_eoi(acc->vc, (uint32_t)val & 0xffffff, 0);
}

static void icc_write_dir(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	vgic_cpuif_deactivate(acc->vc, (uint32_t)val & 0xffffff, 0);
}

static uint64_t icc_read_rpr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return vgic_cpuif_running_priority(acc->vc);
}

static uint64_t icc_read_pmr(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->pmr;
}

static void icc_write_pmr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	acc->vc->pmr = (uint8_t)(val & VGIC_PRI_MASK);
}

static uint64_t icc_read_bpr0(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return acc->vc->bpr;
}

static void icc_write_bpr0(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	val &= 7;
	acc->vc->bpr = (uint8_t)(val < 2 ? 2 : val);
}

/* With CBPR set, BPR1 reads BPR0 + 1 (saturated) and ignores writes. */
static uint64_t icc_read_bpr1(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	if (acc->vc->ctlr & GICC_CTLR_CBPR)
		return acc->vc->bpr < 7 ? acc->vc->bpr + 1u : 7u;
	return acc->vc->abpr;
}

static void icc_write_bpr1(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	if (acc->vc->ctlr & GICC_CTLR_CBPR)
		return;
	val &= 7;
	acc->vc->abpr = (uint8_t)(val < 3 ? 3 : val);
}

/* AP0R0/AP1R0: the active priorities set by Group 0 and Group 1 acknowledges. */
static uint64_t icc_read_apr(const struct vgic_access *acc, uint32_t offset)
{
	return vgic_cpuif_apr(acc->vc, offset == ICC_AP1R0_EL1);
}

static void icc_write_apr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	vgic_cpuif_set_apr(acc->vc, offset == ICC_AP1R0_EL1, (uint32_t)val);
}

static uint64_t icc_read_ctlr(const struct vgic_access *acc, uint32_t offset)
{
	uint32_t ctlr = acc->vc->ctlr;

	(void)offset;
	return ICC_CTLR_RO | ((ctlr & GICC_CTLR_CBPR) ? ICC_CTLR_CBPR : 0) |
	       ((ctlr & GICC_CTLR_EOIMODE) ? ICC_CTLR_EOIMODE : 0);
}

static void icc_write_ctlr(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	uint32_t keep = acc->vc->ctlr & ~(GICC_CTLR_CBPR | GICC_CTLR_EOIMODE);

	(void)offset;
	acc->vc->ctlr = keep | ((val & ICC_CTLR_CBPR) ? GICC_CTLR_CBPR : 0) |
			((val & ICC_CTLR_EOIMODE) ? GICC_CTLR_EOIMODE : 0);
}

/* GIC-CHOICES.md: SRE, DFB and DIB read 1; writes are ignored. */
static uint64_t icc_read_sre(const struct vgic_access *acc, uint32_t offset)
{
	(void)acc;
	(void)offset;
	return 7;
}

static uint64_t icc_read_igrpen(const struct vgic_access *acc, uint32_t offset)
{
	uint32_t bit = offset == ICC_IGRPEN0_EL1 ? GICC_CTLR_ENABLEGRP0 : GICC_CTLR_ENABLEGRP1;

	return (acc->vc->ctlr & bit) ? 1 : 0;
}

static void icc_write_igrpen(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	uint32_t bit = offset == ICC_IGRPEN0_EL1 ? GICC_CTLR_ENABLEGRP0 : GICC_CTLR_ENABLEGRP1;

	if (val & 1)
		acc->vc->ctlr |= bit;
	else
		acc->vc->ctlr &= ~bit;
}

/*
 * ICC_SGI0R/SGI1R/ASGI1R: TargetList [15:0], Aff1 [23:16], INTID [27:24],
 * Aff2 [39:32], IRM [40], RS [47:44], Aff3 [55:48]. GIC-CHOICES.md: IRM,
 * the affinity target, the target list and RS are honoured, so targets with
 * Aff0 >= 16 are reachable. SGI0R raises only Group 0 SGIs.
 */
static void icc_send_sgi(const struct vgic_access *acc, uint64_t val, bool group1)
{
	struct vgic_dist *dist = acc->dist;
	uint32_t intid = (val >> 24) & 0xf;
	bool irm = (val >> 40) & 1;
	uint64_t aff = (((val >> 48) & 0xff) << 32) | (((val >> 32) & 0xff) << 16) |
		       (((val >> 16) & 0xff) << 8);
	uint32_t rs = (val >> 44) & 0xf;

	for (uint32_t c = 0; c < dist->nr_cpus; c++) {
		struct vgic_cpu *vc = dist->cpus[c];
		struct vgic_irq *irq;
		uint64_t mpidr;

		if (!vc)
			continue;
		mpidr = ivy_vcpu_mpidr(vc->vcpu);
		if (irm) {
			if (vc == acc->vc)
				continue;
		} else {
			uint32_t aff0 = mpidr & 0xff;

			if ((mpidr & 0xff00ffff00ull) != aff || aff0 / 16 != rs ||
			    !((val >> (aff0 % 16)) & 1))
				continue;
		}
		irq = &vc->private_irqs[intid];
		pthread_mutex_lock(&irq->lock);
		if (irq->group && !group1) {
			pthread_mutex_unlock(&irq->lock);
			continue;
		}
		vm_trace(dist->vm, IVY_TRACE_IRQ_INJECT, (int32_t)acc->vc->index, intid, c);
		irq->pending_latch = true;
		vgic_queue_irq_unlock(dist, irq);
	}
}

static void icc_write_sgi1r(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	icc_send_sgi(acc, val, true);
}

static void icc_write_sgi0r(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	icc_send_sgi(acc, val, false);
}

/* A 64-bit system register; ACTION: one with side effects or nothing to save (no host access). */
#define REG(enc, ...)                                                                            \
	{                                                                                        \
		.offset = (enc), .len = 8, .widths = VGIC_W64, .flags = VGIC_REG_64, __VA_ARGS__ \
	}
#define ACTION(enc, ...)                                             \
	{                                                            \
		.offset = (enc), .len = 8, .widths = VGIC_W64,       \
		.flags = VGIC_REG_64 | VGIC_REG_NO_HOST, __VA_ARGS__ \
	}

static const struct vgic_reg icc_regs[] = {
	REG(ICC_PMR_EL1, .read = icc_read_pmr, .write = icc_write_pmr),
	ACTION(ICC_IAR0_EL1, .read = icc_read_iar0),
	ACTION(ICC_EOIR0_EL1, .write = icc_write_eoir),
	ACTION(ICC_HPPIR0_EL1, .read = icc_read_hppir0),
	REG(ICC_BPR0_EL1, .read = icc_read_bpr0, .write = icc_write_bpr0),
	REG(ICC_AP0R0_EL1, .read = icc_read_apr, .write = icc_write_apr),
	/* AP0R1-3, AP1R1-3: 32 group priorities fit in the first register (RAZ/WI). */
	{ .offset = ICC_AP0R0_EL1 + 8, .len = 24, .widths = VGIC_W64, .flags = VGIC_REG_64 },
	REG(ICC_AP1R0_EL1, .read = icc_read_apr, .write = icc_write_apr),
	{ .offset = ICC_AP1R0_EL1 + 8, .len = 24, .widths = VGIC_W64, .flags = VGIC_REG_64 },
	ACTION(ICC_DIR_EL1, .write = icc_write_dir),
	ACTION(ICC_RPR_EL1, .read = icc_read_rpr),
	ACTION(ICC_SGI1R_EL1, .write = icc_write_sgi1r),
	ACTION(ICC_ASGI1R_EL1, .write = icc_write_sgi1r),
	ACTION(ICC_SGI0R_EL1, .write = icc_write_sgi0r),
	ACTION(ICC_IAR1_EL1, .read = icc_read_iar1),
	ACTION(ICC_EOIR1_EL1, .write = icc_write_eoir),
	ACTION(ICC_HPPIR1_EL1, .read = icc_read_hppir1),
	REG(ICC_BPR1_EL1, .read = icc_read_bpr1, .write = icc_write_bpr1),
	REG(ICC_CTLR_EL1, .read = icc_read_ctlr, .write = icc_write_ctlr),
	REG(ICC_SRE_EL1, .read = icc_read_sre),
	REG(ICC_IGRPEN0_EL1, .read = icc_read_igrpen, .write = icc_write_igrpen),
	REG(ICC_IGRPEN1_EL1, .read = icc_read_igrpen, .write = icc_write_igrpen),
};

const struct vgic_frame vgic_v3_icc_frame = {
	.name = "ICC",
	.size = 0x10000u * 8,
	.regs = icc_regs,
	.nr_regs = IVY_ARRAY_SIZE(icc_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

int ivy_vcpu_sysreg(struct ivy_vcpu *vcpu, uint32_t encoding, bool is_write, uint64_t *val)
{
	struct vgic_dist *dist;
	struct vgic_access acc;

	if (!vcpu || !val || encoding > 0xffff)
		return -EINVAL;
	dist = vcpu->vm->vgic;
	if (!dist || dist->model != &vgic_v3_model || !vcpu->vgic)
		return -ENODEV;
	if (!vgic_frame_find(&vgic_v3_icc_frame, encoding * 8))
		return -ENOENT;
	acc = (struct vgic_access){ .dist = dist, .vc = vcpu->vgic };
	if (is_write)
		vgic_mmio_write(&vgic_v3_icc_frame, &acc, encoding * 8u, 8, *val);
	else
		*val = vgic_mmio_read(&vgic_v3_icc_frame, &acc, encoding * 8u, 8);
	vgic_cpuif_maintenance(vcpu->vgic);
	return 0;
}
