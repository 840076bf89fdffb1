/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 Interrupt Translation Service as a device (KVM_DEV_TYPE_ARM_VGIC_ITS).
 *
 * Create one or more per VM with ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_ITS,
 * &dev) and configure it with the attribute groups below, which keep KVM's
 * numbers, value sizes and errors (Documentation/virt/kvm/devices/arm-vgic-its.rst).
 * Every attribute value is a uint64_t. An ITS delivers through the VM's GICv3,
 * created before or after it: creating one on a VM with a GICv2 fails with
 * -ENODEV, and one without a GICv3 answers MSIs with -ENODEV. MSIs arrive
 * through ivy_signal_msi() (<ivy/gic.h>) or MSI irqfds.
 *
 * IVY_ITS_GRP_ADDR / IVY_ITS_ADDR_TYPE: the guest-physical base of the ITS's
 *   128 KiB register frame (control page, then the translation page holding
 *   GITS_TRANSLATER at base + 0x10040). 64 KiB aligned; set once.
 *   Errors: -EINVAL misaligned, -E2BIG outside the IPA space, -EEXIST already
 *   set or overlapping RAM or another region. Reads as ~0 until set.
 * IVY_ITS_GRP_CTRL: IVY_ITS_CTRL_INIT (accepted, nothing to do),
 *   IVY_ITS_CTRL_RESET (back to the state after creation: disabled, no
 *   tables, no mappings), IVY_ITS_SAVE_TABLES and IVY_ITS_RESTORE_TABLES
 *   (the tables in guest RAM, KVM's ABI revision 0). Set only; addr is unused.
 *   Save errors: -EFAULT (a table entry is not in RAM), -EINVAL (an entry's
 *   place cannot be found: invalid level-1 entry), -ENOSPC (the collection
 *   table is too small). Restore errors: -EBUSY (ITS enabled or mappings
 *   exist), -EFAULT, -EINVAL (inconsistent entries), -ENOMEM; on error the ITS
 *   has no mappings.
 * IVY_ITS_GRP_ITS_REGS: attr = offset of a GITS_* register in the control
 *   frame; 32-bit registers at 4-byte aligned offsets, 64-bit ones at 8-byte
 *   aligned offsets (-EINVAL otherwise, -ENXIO for no register). Host writes
 *   follow KVM's restore rules: GITS_CBASER, GITS_CREADR and GITS_BASERn
 *   are refused with -EBUSY while the ITS is enabled; GITS_CREADR and
 *   GITS_CWRITER values outside the queue are refused with -EINVAL;
 *   read-only registers accept only their current value. Restore order:
 *   GITS_CBASER, the other registers except GITS_CTLR, RESTORE_TABLES,
 *   then GITS_CTLR; the GICv3 initialised (CTRL_INIT) before RESTORE_TABLES
 *   (collections name its redistributors), and GICR_CTLR.EnableLPIs restored
 *   after it (setting it reads the pending tables for the restored LPIs).
 */
#ifndef IVY_ITS_H
#define IVY_ITS_H

#include <ivy/ivy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Attribute groups (KVM_DEV_ARM_VGIC_GRP_*). */
#define IVY_ITS_GRP_ADDR     0
#define IVY_ITS_GRP_CTRL     4
#define IVY_ITS_GRP_ITS_REGS 8

/* IVY_ITS_GRP_ADDR attributes (KVM_VGIC_ITS_ADDR_TYPE). */
#define IVY_ITS_ADDR_TYPE 4

/* IVY_ITS_GRP_CTRL attributes. */
#define IVY_ITS_CTRL_INIT      0
#define IVY_ITS_SAVE_TABLES    1
#define IVY_ITS_RESTORE_TABLES 2
#define IVY_ITS_CTRL_RESET     4

/* Size of the ITS register frame and the offset of GITS_TRANSLATER in it. */
#define IVY_ITS_FRAME_SIZE	  0x20000ull
#define IVY_ITS_TRANSLATER_OFFSET 0x10040ull

/*
 * Command errors the guest caused, for a developer to inspect: the number of
 * commands rejected so far and the architected code of the last one
 * (E_ITS_*, for example 0x010a04 for E_ITS_MAPTI_UNMAPPED_DEVICE; 0 if none).
 * Errors: -EINVAL (NULL argument or not an ITS device).
 */
IVY_MUST_CHECK int ivy_its_get_errors(struct ivy_device *dev, uint32_t *last_code, uint64_t *count);

#ifdef __cplusplus
}
#endif

#endif /* IVY_ITS_H */
