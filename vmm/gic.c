/* SPDX-License-Identifier: MIT */
/*
 * The board's interrupt controller, created and placed through ivy's
 * KVM-style device attributes, exactly as a VMM on KVM would do it.
 */
#include "vmm.h"

#include <ivy/gic.h>
#include <ivy/its.h>

#include <errno.h>

static int gic_set_u64(struct ivy_device *dev, uint32_t group, uint64_t attr, uint64_t val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = &val };

	return ivy_device_set_attr(dev, &a);
}

static int gic_set_u32(struct ivy_device *dev, uint32_t group, uint64_t attr, uint32_t val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = &val };

	return ivy_device_set_attr(dev, &a);
}

static int gic_create_v3(struct vmm *vmm)
{
	int err;

	err = ivy_device_create(vmm->vm, IVY_DEV_TYPE_ARM_VGIC_V3, &vmm->gic);
	if (err)
		return err;
	err = gic_set_u64(vmm->gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, BOARD_GICD_BASE);
	if (!err)
		err = gic_set_u64(vmm->gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST,
				  BOARD_GICR_BASE);
	if (!err)
		err = gic_set_u32(vmm->gic, IVY_VGIC_GRP_NR_IRQS, 0, 32 + BOARD_NR_SPIS);
	if (err || !vmm->opts.its)
		return err;
	/* The ITS is its own device, placed and initialised like KVM's. */
	err = ivy_device_create(vmm->vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &vmm->its);
	if (!err)
		err = gic_set_u64(vmm->its, IVY_ITS_GRP_ADDR, IVY_ITS_ADDR_TYPE, BOARD_ITS_BASE);
	if (!err)
		err = gic_set_u64(vmm->its, IVY_ITS_GRP_CTRL, IVY_ITS_CTRL_INIT, 0);
	return err;
}

int gic_create(struct vmm *vmm)
{
	int err;

	if (vmm->opts.gic_version == 3)
		return gic_create_v3(vmm);
	err = ivy_device_create(vmm->vm, IVY_DEV_TYPE_ARM_VGIC_V2, &vmm->gic);
	if (err)
		return err;
	err = gic_set_u64(vmm->gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_DIST, BOARD_GICD_BASE);
	if (!err)
		err = gic_set_u64(vmm->gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_CPU,
				  BOARD_GICC_BASE);
	if (!err)
		err = gic_set_u64(vmm->gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_V2M,
				  BOARD_V2M_BASE);
	if (!err)
		err = gic_set_u32(vmm->gic, IVY_VGIC_GRP_NR_IRQS, 0, 32 + BOARD_NR_SPIS);
	if (!err)
		err = gic_set_u32(vmm->gic, IVY_VGIC_GRP_V2M, IVY_VGIC_V2M_SPI_BASE,
				  BOARD_V2M_INTID_BASE);
	if (!err)
		err = gic_set_u32(vmm->gic, IVY_VGIC_GRP_V2M, IVY_VGIC_V2M_NR_SPIS,
				  BOARD_V2M_NR_SPIS);
	return err;
}

int gic_init(struct vmm *vmm)
{
	return gic_set_u64(vmm->gic, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_INIT, 0);
}

/*
 * KVM has no reset for a vGIC either: a VMM writes every register back. Here
 * the devices are simply replaced; the library waits for injections in flight
 * (irqfds, MSIs) before it frees the old ones.
 */
int gic_reset(struct vmm *vmm)
{
	int err = 0;

	if (vmm->its)
		err = ivy_device_destroy(vmm->its);
	vmm->its = NULL;
	if (!err)
		err = ivy_device_destroy(vmm->gic);
	vmm->gic = NULL;
	if (!err)
		err = gic_create(vmm);
	return err ? err : gic_init(vmm);
}

void gic_set_ppi(struct vmm_cpu *cpu, uint32_t intid, bool level)
{
	int err = ivy_irq_line(cpu->vmm->vm, intid, cpu->index, level);

	if (err)
		vmm_request_exit(cpu->vmm, VMM_EXIT_VMM_ERROR, "PPI %u: %s", intid,
				 ivy_strerror(err));
}

void gic_set_spi(struct vmm *vmm, uint32_t intid, bool level)
{
	int err = ivy_irq_line(vmm->vm, intid, 0, level);

	if (err)
		vmm_request_exit(vmm, VMM_EXIT_VMM_ERROR, "SPI %u: %s", intid, ivy_strerror(err));
}

int gic_refresh(struct vmm_cpu *cpu, bool refill, bool *irq, bool *fiq)
{
	if (refill) {
		int err;

		ivy_vcpu_sync(cpu->vcpu);
		err = ivy_vcpu_flush(cpu->vcpu);
		if (err)
			return err;
	}
	uint32_t lines = ivy_vcpu_irq_lines(cpu->vcpu);
	*irq = lines & IVY_IRQ_LINE_IRQ;
	*fiq = lines & IVY_IRQ_LINE_FIQ;
	return 0;
}

void gic_sync(struct vmm_cpu *cpu)
{
	ivy_vcpu_sync(cpu->vcpu);
}

/*
 * The ICC_*_EL1 registers, by exact encoding: op0 3, op1 0, and CRn 12 with CRm
 * 8 (group 0: IAR0, EOIR0, HPPIR0, BPR0, AP0Rn), 9 (AP1Rn), 11 (DIR, RPR, SGI1R,
 * ASGI1R, SGI0R) or 12 (IAR1, EOIR1, HPPIR1, BPR1, CTLR, SRE, IGRPEN0, IGRPEN1),
 * or CRn 4 CRm 6 op2 0 (PMR). Nothing else is claimed.
 */
bool gic_is_icc(const uc_arm64_cp_reg *r)
{
	if (r->op0 != 3 || r->op1 != 0)
		return false;
	if (r->crn == 4)
		return r->crm == 6 && r->op2 == 0;
	return r->crn == 12 && (r->crm == 8 || r->crm == 9 || r->crm == 11 || r->crm == 12);
}

bool gic_sysreg(struct vmm_cpu *cpu, const uc_arm64_cp_reg *r, bool is_read, uint64_t *val)
{
	if (cpu->vmm->opts.gic_version != 3)
		return false;
	uint32_t enc = IVY_SYSREG(r->op0, r->op1, r->crn, r->crm, r->op2);
	int err = ivy_vcpu_sysreg(cpu->vcpu, enc, !is_read, val);

	/* -ENOENT: not a register of this GIC; the engine makes the instruction undefined. */
	return err == 0;
}
