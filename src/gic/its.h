/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 ITS as seen by the rest of the interrupt controller.
 *
 * The ITS translates an MSI (DeviceID, EventID) into an LPI INTID and a target
 * redistributor, and tells that redistributor to make the LPI pending. In
 * hardware the path from the ITS to the redistributors is a message interface;
 * here it is struct its_redist_ops, which the GICv3 redistributor side
 * implements and hands to every ITS of the VM with its_set_redist_ops().
 *
 * The ITS keeps its own state (devices, collections, translations) in host
 * memory, as KVM does; the guest's Device and Collection tables are only read
 * to check IDs (two-level tables) and written on SAVE_TABLES.
 */
#ifndef IVY_SRC_GIC_ITS_H
#define IVY_SRC_GIC_ITS_H

#include <ivy/its.h>

#include <stdbool.h>
#include <stdint.h>

struct ivy_vm;
struct ivy_device;
struct device_type;

/* The first LPI INTID, and one past the last one the ITS maps (GICD_TYPER.IDbits = 16). */
#define ITS_LPI_FIRST 8192u
#define ITS_LPI_LIMIT 65536u

/*
 * The redistributors, as the ITS needs them. `rd` is a redistributor number:
 * GITS_TYPER.PTA is 0, so it is the processor number (the vCPU index), always
 * below nr_redists(). An INTID is always in [ITS_LPI_FIRST, ITS_LPI_LIMIT).
 *
 * Threads and locks: lpi_set_pending() is called from any thread (MSIs) and
 * concurrently with every other member; the other members are called with
 * the calling ITS's command lock held, so calls from one ITS are serialised
 * but calls from two ITSes of a VM are not. No member may call back into the
 * ITS (its_* functions) or sleep for long: MSI delivery and command
 * processing wait for each other (see its_synchronize()).
 *
 * Reference counting: the ITS takes one reference per mapping (ITE) on the
 * LPI it maps to with lpi_get() and drops it with lpi_put() when the mapping
 * goes away. Two ITEs may map the same INTID (the architecture calls this
 * UNPREDICTABLE; KVM shares one LPI); then the LPI has two references.
 */
struct its_redist_ops {
	/* Number of redistributors; MAPC and MOVALL reject RDbase values at or above it. */
	uint32_t (*nr_redists)(void *ctx);
	/*
	 * Takes a reference on LPI `intid`, creating it if it has none: a new LPI
	 * is not pending and has the priority and enable bit of its entry in the
	 * LPI configuration table (PROPBASER). Returns 0 or -errno (-ENOMEM);
	 * on error no reference is taken.
	 */
	int (*lpi_get)(void *ctx, uint32_t intid);
	/* Drops a reference taken by lpi_get(). The last one forgets the LPI and its pending state. */
	void (*lpi_put)(void *ctx, uint32_t intid);
	/*
	 * Makes LPI `intid` (referenced) pending on redistributor `rd`, as an MSI or
	 * an INT command does. Returns 1 if it was made pending (or already was),
	 * 0 if the guest's configuration drops it (GICR_CTLR.EnableLPIs of `rd` is
	 * clear), or -errno. Whether it is then signalled to the vCPU depends on
	 * the LPI's enable bit and priority, as for any pending interrupt. Must
	 * be safe from any thread, concurrently with everything else here.
	 */
	int (*lpi_set_pending)(void *ctx, uint32_t rd, uint32_t intid);
	/* Clears the pending state of LPI `intid`, wherever it is pending (CLEAR, DISCARD). */
	void (*lpi_clear_pending)(void *ctx, uint32_t intid);
	/*
	 * The ITS has retargeted LPI `intid` to redistributor `rd` (MOVI, MOVALL,
	 * MAPC to a new RDbase), or has just mapped it (MAPTI, MAPI, RESTORE_TABLES)
	 * in a collection mapped to `rd`, so the redistributor side knows where the
	 * LPI belongs (for its pending table) before any MSI. If it is pending on another redistributor, its
	 * pending state moves to `rd` (and is dropped if `rd` has EnableLPIs
	 * clear); if it is pending on `rd` already or not pending, nothing changes.
	 * An active LPI stays active where it is.
	 */
	void (*lpi_move)(void *ctx, uint32_t intid, uint32_t rd);
	/* Re-reads LPI `intid`'s priority and enable bit from the configuration table (INV, INVALL). */
	void (*lpi_inv)(void *ctx, uint32_t intid);
};

/*
 * Installs the redistributor ops on an ITS device (type IVY_DEV_TYPE_ARM_VGIC_ITS).
 * Until it is called the ITS has no redistributors: MAPC fails with
 * E_ITS_MAPC_PROCNUM_OOR and MSIs return -ENODEV. ops == NULL detaches: every
 * mapping's reference is put with the old ops and the mappings are forgotten.
 * Replacing non-NULL ops while mappings exist fails with -EBUSY.
 * Errors: -EINVAL (not an ITS device, or ops incomplete), -EBUSY.
 */
int its_set_redist_ops(struct ivy_device *dev, const struct its_redist_ops *ops, void *ctx);

/*
 * An MSI: a write of `eventid` to `doorbell` (the GITS_TRANSLATER address of
 * one of the VM's ITSes) by device `devid`. Translated without the command
 * lock, safe from any thread. Returns 1 if the LPI was made pending, 0 if the
 * guest's configuration blocked it (ITS disabled, no mapping, collection not
 * mapped, redistributor with LPIs disabled), -ENODEV if no ITS of the VM has
 * that doorbell or the ITS has no redistributors, -EINVAL for a NULL vm.
 * This is what the GIC's vm_irq_ops.signal_msi calls.
 */
int its_signal_msi(struct ivy_vm *vm, uint64_t doorbell, uint32_t eventid, uint32_t devid);

/*
 * Waits until every MSI translation that started before the call has finished
 * (a grace period). The redistributor side calls it after clearing
 * GICR_CTLR.EnableLPIs, so that no MSI translated before the clear delivers
 * afterwards. Must not be called from inside a redistributor op, nor while
 * holding a lock that lpi_set_pending() takes (an MSI waiting for that lock
 * would never finish its read-side section).
 */
void its_synchronize(void);

/*
 * Provided by the GICv3 side (vgic_its.c): connects a new ITS device to the
 * VM's GICv3, if it has one, with its_set_redist_ops(). The ITS's create calls
 * it with vm->config_lock held. Errors: -ENODEV (the VM's GIC is not a GICv3:
 * there is no ITS without one), -ENOMEM.
 */
int vgic_its_attach(struct ivy_device *its_dev);

/* The device type "ITS", listed in builtin_types[] (src/core/device.c). */
extern const struct device_type its_device_type;

#endif /* IVY_SRC_GIC_ITS_H */
