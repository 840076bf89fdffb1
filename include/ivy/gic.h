/* SPDX-License-Identifier: MIT */
/*
 * ivy — the virtual GIC (KVM's ARM vGIC in a library).
 *
 * A GIC is a device created with ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev)
 * and configured through device attributes whose groups, encodings and error
 * numbers are KVM's (Documentation/virt/kvm/devices/arm-vgic.rst). ivy's additions
 * are marked "ivy extension".
 *
 * The run loop of a VMM without GIC virtualization hardware (ivy's software
 * virtual CPU interface):
 *
 *	for (;;) {
 *		ret = ivy_vcpu_flush(vcpu);     // fills the list registers; first call maps the GIC
 *		lines = ivy_vcpu_irq_lines(vcpu);
 *		...take the IRQ/FIQ exception in the guest if lines says so, wake from WFI...
 *		...run the guest; route every trapped access, including GICC, to ivy_vcpu_mmio()...
 *		ivy_vcpu_sync(vcpu);            // folds the list registers back
 *	}
 *
 * Leave the guest (and go round the loop) when the VM's kick hook fires for the
 * vCPU: new interrupts and maintenance interrupts (an EOI that needs a resample,
 * list-register underflow) are signalled that way. flush and sync must be called
 * on the vCPU's own thread. A VMM on real GIC hardware would instead copy the
 * list registers and GICH_* (ivy_vgic_v2_gich_read/write), or ICH_*_EL2
 * (ivy_vgic_v3_ich_read/write), into the hypervisor interface between flush and
 * sync.
 */
#ifndef IVY_GIC_H
#define IVY_GIC_H

#include <ivy/ivy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Attribute groups (KVM_DEV_ARM_VGIC_GRP_*). */
#define IVY_VGIC_GRP_ADDR	 0
#define IVY_VGIC_GRP_DIST_REGS	 1
#define IVY_VGIC_GRP_CPU_REGS	 2
#define IVY_VGIC_GRP_NR_IRQS	 3
#define IVY_VGIC_GRP_CTRL	 4
#define IVY_VGIC_GRP_REDIST_REGS 5
#define IVY_VGIC_GRP_CPU_SYSREGS 6
#define IVY_VGIC_GRP_LEVEL_INFO	 7
#define IVY_VGIC_GRP_ITS_REGS	 8
/*
 * ivy extension: the GICv2m frame's SPI range. attr IVY_VGIC_V2M_SPI_BASE is the
 * first INTID, IVY_VGIC_V2M_NR_SPIS their number (uint32_t values; defaults 80 and
 * 64, QEMU's virt board). Checked against the number of IRQs when the GIC is
 * mapped (first vCPU run). -EBUSY once mapped.
 */
#define IVY_VGIC_GRP_V2M      0x100
#define IVY_VGIC_V2M_SPI_BASE 0
#define IVY_VGIC_V2M_NR_SPIS  1

/* IVY_VGIC_GRP_ADDR attributes (uint64_t guest-physical addresses). */
#define IVY_VGIC_V2_ADDR_TYPE_DIST 0 /* 4 KiB, 4 KiB aligned */
#define IVY_VGIC_V2_ADDR_TYPE_CPU  1 /* 8 KiB, 4 KiB aligned */
/* ivy extension: the GICv2m MSI frame (4 KiB, 4 KiB aligned); optional. */
#define IVY_VGIC_V2_ADDR_TYPE_V2M 0x100

/* GICv3 (IVY_DEV_TYPE_ARM_VGIC_V3): 64 KiB aligned; the redistributors of all vCPUs
 * follow each other from the REDIST address, 128 KiB each, in vCPU index order. */
#define IVY_VGIC_V3_ADDR_TYPE_DIST   2
#define IVY_VGIC_V3_ADDR_TYPE_REDIST 3
/*
 * GICv3 redistributor regions (KVM's REDIST_REGION; does not mix with REDIST): the
 * uint64_t value holds count [63:52], base [51:16] (64 KiB aligned) and index
 * [11:0]; regions are added with index 0, 1, ... and filled with the vCPUs in
 * index order when the GIC is mapped. Reading one passes the index in the value.
 * Errors: -EINVAL (count 0, reserved bits, wrong index, overlap, mixed with
 * REDIST), -E2BIG (beyond the IPA size), -ENOSPC (more than 16 regions),
 * -ENOENT (reading a missing index); at the first run, -ENXIO if the regions
 * hold fewer redistributors than there are vCPUs.
 */
#define IVY_VGIC_V3_ADDR_TYPE_REDIST_REGION 5

/* IVY_VGIC_GRP_CTRL attributes. */
#define IVY_VGIC_CTRL_INIT 0
/*
 * GICv3 (KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES): writes every LPI's pending bit
 * into its redistributor's pending table in guest memory, so a snapshot of RAM
 * carries it. -EBUSY while a vCPU is between flush and sync; -EFAULT if a table
 * is not in guest RAM.
 */
#define IVY_VGIC_CTRL_SAVE_PENDING_TABLES 3
/*
 * ivy extension: number of list registers per vCPU (uint32_t, 1..16, default 4);
 * -EBUSY after initialisation.
 */
#define IVY_VGIC_CTRL_NR_LRS 0x100

/*
 * IVY_VGIC_GRP_DIST_REGS / CPU_REGS attribute: the vCPU index in bits [39:32]
 * and the register's offset in its frame in bits [31:0]; the value is a uint32_t
 * (registers are accessed 32 bits at a time, byte-per-IRQ banks 4 IRQs at a time).
 * -EBUSY before initialisation or while any vCPU is between flush and sync;
 * -EINVAL for a bad vCPU index or a value the register cannot hold; -ENXIO for an
 * offset with no register.
 * One ivy addition to KVM's layout: for SGIs the host view of GICD_ITARGETSR0-3
 * holds, per SGI, the one-hot source CPU of the active instance, so an SGI that
 * the guest acknowledged but not yet ended survives save/restore.
 * The host view of GICD_ISPENDR/ICPENDR is the pending latch only; the line level
 * of level-triggered interrupts travels through IVY_VGIC_GRP_LEVEL_INFO.
 */
#define IVY_VGIC_CPUID_SHIFT 32
#define IVY_VGIC_CPUID_MASK  (0xffull << IVY_VGIC_CPUID_SHIFT)
#define IVY_VGIC_OFFSET_MASK 0xffffffffull

/*
 * IVY_VGIC_GRP_LEVEL_INFO attribute: vCPU index in [39:32] (for PPIs), info type
 * in [31:10] (IVY_VGIC_LEVEL_INFO_LINE_LEVEL), first INTID (a multiple of 32) in
 * [9:0]; the uint32_t value has one bit per INTID: the input line level.
 */
#define IVY_VGIC_LEVEL_INFO_SHIFT      10
#define IVY_VGIC_LEVEL_INFO_MASK       (0x3fffffull << IVY_VGIC_LEVEL_INFO_SHIFT)
#define IVY_VGIC_LEVEL_INFO_INTID_MASK 0x3ffull
#define IVY_VGIC_LEVEL_INFO_LINE_LEVEL 0

/* Frame sizes. */
#define IVY_VGIC_V2_DIST_SIZE	0x1000ull
#define IVY_VGIC_V2_CPU_SIZE	0x2000ull
#define IVY_VGIC_V2M_SIZE	0x1000ull
#define IVY_VGIC_V3_DIST_SIZE	0x10000ull
#define IVY_VGIC_V3_REDIST_SIZE 0x20000ull

/*
 * GICv3 IVY_VGIC_GRP_REDIST_REGS (and LEVEL_INFO) attributes name the vCPU by its
 * affinity in bits [63:32], packed as Aff3[31:24] Aff2[23:16] Aff1[15:8] Aff0[7:0];
 * the offset in [31:0] is within the vCPU's 128 KiB (SGI frame from 0x10000).
 * GICv3 DIST_REGS ignore bits [63:32].
 */
#define IVY_VGIC_V3_MPIDR_SHIFT 32

/*
 * Drives an interrupt input, with KVM_IRQ_LINE's meaning: a level-triggered
 * interrupt's line follows `level`; an edge-triggered one becomes pending on a
 * rising edge. intid 16..31 are PPIs of vCPU `vcpu_for_ppi` (ignored for SPIs).
 * Initialises the GIC if needed (as KVM does for GICv2).
 * Errors: -ENODEV (no GIC), -EINVAL (SGI, INTID beyond the GIC, bad vCPU), and
 * the errors of initialisation.
 */
IVY_MUST_CHECK int ivy_irq_line(struct ivy_vm *vm, uint32_t intid, uint32_t vcpu_for_ppi,
				bool level);

/*
 * An MSI from device `deviceid`: a write of `eventid` to `doorbell`, as KVM_SIGNAL_MSI
 * with a device ID. On a GICv3 the doorbell is an ITS's GITS_TRANSLATER (its base
 * + IVY_ITS_TRANSLATER_OFFSET): the ITS translates (deviceid, eventid) and makes the
 * LPI pending on its redistributor. On a GICv2 with the v2m frame it is SETSPI_NS
 * and eventid the SPI (deviceid unused). Safe from any thread.
 * Returns 1 if the interrupt was made pending, 0 if the guest's configuration
 * blocked it (ITS disabled, no mapping, collection not mapped, EnableLPIs clear on
 * the target redistributor, an SPI outside the v2m range), or an error: -ENODEV
 * (no GIC, no ITS or v2m frame with that doorbell, or an ITS without a GICv3),
 * -EINVAL (NULL vm, or a GICv2 doorbell that is not SETSPI_NS).
 */
IVY_MUST_CHECK int ivy_signal_msi(struct ivy_vm *vm, uint64_t doorbell, uint32_t eventid,
				  uint32_t deviceid);

/*
 * Before entering the guest: fills the vCPU's list registers from its pending
 * and active interrupts, highest priority first. The first call on any vCPU
 * initialises the GIC if needed and maps its frames on the MMIO bus.
 * Errors: -ENODEV (no GIC), -ENXIO (distributor or CPU interface address not
 * set), -EINVAL (frames overlap, or the v2m SPI range is beyond the IRQs),
 * -EEXIST (a frame overlaps RAM or another MMIO region).
 */
IVY_MUST_CHECK int ivy_vcpu_flush(struct ivy_vcpu *vcpu);
/* After leaving the guest: folds the list registers back. Does nothing if not flushed. */
void ivy_vcpu_sync(struct ivy_vcpu *vcpu);

/*
 * A system-register encoding as the MRS/MSR instruction carries it (and as
 * KVM's CPU_SYSREGS attributes do): op0 [15:14], op1 [13:11], CRn [10:7],
 * CRm [6:3], op2 [2:0].
 */
#define IVY_SYSREG(op0, op1, crn, crm, op2) \
	((uint32_t)(((op0) << 14) | ((op1) << 11) | ((crn) << 7) | ((crm) << 3) | (op2)))

/*
 * GICv3: a trapped MRS (is_write false: *val receives the value) or MSR of an
 * ICC_*_EL1 register on `vcpu`'s thread, between flush and sync, like a GICC
 * access on GICv2. Errors: -ENOENT (not an ICC register this GIC implements:
 * the VMM treats the instruction as undefined), -ENODEV (no GICv3, or not
 * initialised), -EINVAL (NULL arguments).
 * GICv3 IVY_VGIC_GRP_CPU_SYSREGS attributes name the vCPU by affinity in bits
 * [63:32] (as REDIST_REGS) and the register by IVY_SYSREG() in [15:0]; the value
 * is a uint64_t.
 */
IVY_MUST_CHECK int ivy_vcpu_sysreg(struct ivy_vcpu *vcpu, uint32_t encoding, bool is_write,
				   uint64_t *val);

#define IVY_IRQ_LINE_IRQ (1u << 0)
#define IVY_IRQ_LINE_FIQ (1u << 1)
/*
 * Which of the vCPU's interrupt lines the virtual CPU interface asserts
 * (IVY_IRQ_LINE_*), from the list registers filled by the last flush. Cheap; call
 * it on the vCPU's thread, after flush and after each guest access to the CPU
 * interface. See docs/vgic.md for save/restore and ivy's remaining choices.
 */
uint32_t ivy_vcpu_irq_lines(struct ivy_vcpu *vcpu);

/*
 * The GICv2 hypervisor interface (GICH_*, IHI 0048B section 5.3) of a vCPU, for a
 * VMM that copies it to and from GIC hardware, and for inspection: `offset` is
 * the GICH frame offset (GICH_HCR 0x0 ... GICH_LRn 0x100 + 4n).
 * Errors: -ENODEV (no GICv2 or not initialised), -ENXIO (no such register),
 * -EINVAL (a value the model cannot hold, e.g. an INTID beyond the GIC).
 * Call it on the vCPU's own thread, between ivy_vcpu_flush() and ivy_vcpu_sync()
 * (list registers written outside that window are replaced by the next flush);
 * the same holds for ivy_vgic_v3_ich_read/write below.
 */
IVY_MUST_CHECK int ivy_vgic_v2_gich_read(struct ivy_vcpu *vcpu, uint32_t offset, uint32_t *val);
IVY_MUST_CHECK int ivy_vgic_v2_gich_write(struct ivy_vcpu *vcpu, uint32_t offset, uint32_t val);

/*
 * The GICv3 hypervisor interface (ICH_*_EL2, IHI 0069 section 12.4) of a vCPU,
 * over the same list registers: what a VMM on GIC hardware copies to and from
 * the hardware between flush and sync, and a view for inspection and migration.
 * `reg` is an IVY_ICH_* encoding (IVY_SYSREG() form); values are 64 bits.
 * ICH_VTR_EL2 reports ListRegs = LRs - 1, IDbits 16, A3V, PREbits and PRIbits 5;
 * ICH_LR<n>_EL2 exists for n below the number of LRs. LRs are refilled by each
 * flush and folded back by sync, so a restore writes them after the flush.
 * Read-only registers (VTR, MISR, EISR, ELRSR) accept their current value back.
 * Errors: -EINVAL (NULL vcpu or val, or a value the model cannot hold: HW = 1,
 * a vINTID that is neither an implemented SGI/PPI/SPI nor an LPI below 2^16,
 * priority or VPMR bits below the 5 implemented, binary points below 2 (BPR0)
 * and 3 (BPR1), VFIQEn clear or VAckCtl set, trap controls in ICH_HCR_EL2,
 * active-priority bits held by the other group, reserved bits); -ENODEV (no
 * GICv3, or not initialised); -ENXIO (no such register).
 */
#define IVY_ICH_AP0R0_EL2 IVY_SYSREG(3, 4, 12, 8, 0)
#define IVY_ICH_AP1R0_EL2 IVY_SYSREG(3, 4, 12, 9, 0)
#define IVY_ICH_HCR_EL2	  IVY_SYSREG(3, 4, 12, 11, 0)
#define IVY_ICH_VTR_EL2	  IVY_SYSREG(3, 4, 12, 11, 1)
#define IVY_ICH_MISR_EL2  IVY_SYSREG(3, 4, 12, 11, 2)
#define IVY_ICH_EISR_EL2  IVY_SYSREG(3, 4, 12, 11, 3)
#define IVY_ICH_ELRSR_EL2 IVY_SYSREG(3, 4, 12, 11, 5)
#define IVY_ICH_VMCR_EL2  IVY_SYSREG(3, 4, 12, 11, 7)
#define IVY_ICH_LR_EL2(n) IVY_SYSREG(3, 4, 12, 12 + ((n) >> 3), (n)&7)
IVY_MUST_CHECK int ivy_vgic_v3_ich_read(struct ivy_vcpu *vcpu, uint32_t reg, uint64_t *val);
IVY_MUST_CHECK int ivy_vgic_v3_ich_write(struct ivy_vcpu *vcpu, uint32_t reg, uint64_t val);

#ifdef __cplusplus
}
#endif

#endif /* IVY_GIC_H */
