/* SPDX-License-Identifier: MIT */
/*
 * The ITS command queue (IHI 0069, 5.3 "ITS commands").
 *
 * Commands are processed in order, on the thread that wrote GITS_CWRITER (or
 * set GITS_CTLR.Enabled), with cmd_lock held. Each handler returns 0, an
 * architected error code E_ITS_* (a guest mistake: the command is skipped,
 * the code recorded, processing continues) or a negative errno (host trouble,
 * such as no memory: the command is skipped and logged). The two never mix.
 * A command that cannot be read from guest memory stalls the queue
 * (GITS_CREADR.Stalled) until GITS_CWRITER is written with Retry set.
 *
 * A handler that removes or retargets a translation first changes the
 * published translation, then waits a grace period (its_synchronize), and
 * only then clears or moves pending state: an MSI that was already past the
 * lookup has delivered by then, and any later one sees the new translation.
 */
#include "gic/its_priv.h"

#include <errno.h>
#include <stdlib.h>

/* Command numbers (IHI 0069, 5.3). */
enum its_cmd_nr {
	GITS_CMD_MOVI = 0x01,
	GITS_CMD_INT = 0x03,
	GITS_CMD_CLEAR = 0x04,
	GITS_CMD_SYNC = 0x05,
	GITS_CMD_MAPD = 0x08,
	GITS_CMD_MAPC = 0x09,
	GITS_CMD_MAPTI = 0x0a,
	GITS_CMD_MAPI = 0x0b,
	GITS_CMD_INV = 0x0c,
	GITS_CMD_INVALL = 0x0d,
	GITS_CMD_MOVALL = 0x0e,
	GITS_CMD_DISCARD = 0x0f,
};

/* Command error encodings (IHI 0069, 6.3 "ITS command error encodings"). */
enum its_cmd_error {
	E_ITS_MOVI_DEVICE_OOR = 0x010101,
	E_ITS_MOVI_COLLECTION_OOR = 0x010103,
	E_ITS_MOVI_UNMAPPED_DEVICE = 0x010104,
	E_ITS_MOVI_ID_OOR = 0x010105,
	E_ITS_MOVI_UNMAPPED_INTERRUPT = 0x010107,
	E_ITS_MOVI_UNMAPPED_COLLECTION = 0x010109,
	E_ITS_INT_DEVICE_OOR = 0x010301,
	E_ITS_INT_UNMAPPED_DEVICE = 0x010304,
	E_ITS_INT_ID_OOR = 0x010305,
	E_ITS_INT_UNMAPPED_INTERRUPT = 0x010307,
	E_ITS_CLEAR_DEVICE_OOR = 0x010501,
	E_ITS_CLEAR_UNMAPPED_DEVICE = 0x010504,
	E_ITS_CLEAR_ID_OOR = 0x010505,
	E_ITS_CLEAR_UNMAPPED_INTERRUPT = 0x010507,
	E_ITS_MAPD_DEVICE_OOR = 0x010801,
	E_ITS_MAPD_ITTSIZE_OOR = 0x010802,
	E_ITS_MAPC_PROCNUM_OOR = 0x010902,
	E_ITS_MAPC_COLLECTION_OOR = 0x010903,
	E_ITS_MAPTI_COLLECTION_OOR = 0x010a03,
	E_ITS_MAPTI_UNMAPPED_DEVICE = 0x010a04,
	E_ITS_MAPTI_ID_OOR = 0x010a05,
	E_ITS_MAPTI_PHYSICALID_OOR = 0x010a06,
	E_ITS_INV_DEVICE_OOR = 0x010c01,
	E_ITS_INV_UNMAPPED_DEVICE = 0x010c04,
	E_ITS_INV_ID_OOR = 0x010c05,
	E_ITS_INV_UNMAPPED_INTERRUPT = 0x010c07,
	E_ITS_INVALL_COLLECTION_OOR = 0x010d03,
	E_ITS_INVALL_UNMAPPED_COLLECTION = 0x010d09,
	E_ITS_MOVALL_PROCNUM_OOR = 0x010e01,
	E_ITS_DISCARD_DEVICE_OOR = 0x010f01,
	E_ITS_DISCARD_UNMAPPED_DEVICE = 0x010f04,
	E_ITS_DISCARD_ID_OOR = 0x010f05,
	E_ITS_DISCARD_UNMAPPED_INTERRUPT = 0x010f07,
};

/* A command as four little-endian doublewords, converted to host order. */
struct its_cmd {
	uint64_t dw[4];
};
_Static_assert(sizeof(struct its_cmd) == ITS_CMD_SIZE, "IHI 0069 5.3: a command is 32 bytes");

static uint32_t cmd_devid(const struct its_cmd *c)
{
	return (uint32_t)(c->dw[0] >> 32);
}
static uint32_t cmd_eventid(const struct its_cmd *c)
{
	return (uint32_t)c->dw[1];
}
static uint32_t cmd_pintid(const struct its_cmd *c)
{
	return (uint32_t)(c->dw[1] >> 32);
}
static uint32_t cmd_icid(const struct its_cmd *c)
{
	return (uint32_t)(c->dw[2] & 0xffff);
}
/* RDbase [51:16]; with GITS_TYPER.PTA = 0 it is a processor number. */
static uint64_t cmd_rdbase(uint64_t dw)
{
	return (dw & ITS_GENMASK(51, 16)) >> 16;
}
static bool cmd_valid(const struct its_cmd *c)
{
	return c->dw[2] >> 63;
}

uint32_t its_cmdq_size(uint64_t cbaser)
{
	return (uint32_t)(((cbaser & 0xff) + 1) * 4096);
}

void its_record_error_locked(struct vgic_its *its, uint32_t code, uint8_t cmd)
{
	its->last_error = code;
	its->nr_errors++;
	vm_stat_inc(its->vm, IVY_STAT_ITS_CMD_ERROR);
	vm_log(its->vm, IVY_LOG_DEBUG, "ITS command 0x%02x rejected: error 0x%06x", cmd, code);
}

/*
 * The errors of the commands that name a (DeviceID, EventID) pair share one
 * layout: DEVICE_OOR = base | 1, UNMAPPED_DEVICE = base | 4, ID_OOR = base | 5,
 * UNMAPPED_INTERRUPT = base | 7. Finds the mapping or returns the error.
 */
static int its_cmd_find_ite(struct vgic_its *its, const struct its_cmd *c, uint32_t err_base,
			    uint32_t *slot, struct its_device **devp)
{
	uint32_t devid = cmd_devid(c), eventid = cmd_eventid(c);
	struct its_device *dev;
	int64_t i;

	if (devid >> ITS_DEVBITS)
		return (int)(err_base | 0x01);
	dev = its_device_find_locked(its, devid);
	if (!dev)
		return (int)(err_base | 0x04);
	if (eventid >> dev->bits)
		return (int)(err_base | 0x05);
	i = its_xlate_find_locked(its, xlate_key(devid, eventid));
	if (i < 0)
		return (int)(err_base | 0x07);
	*slot = (uint32_t)i;
	if (devp)
		*devp = dev;
	return 0;
}

static uint64_t its_slot_word(struct vgic_its *its, uint32_t i)
{
	return atomic_load_explicit(&its_xlate_locked(its)->slot[i], memory_order_relaxed);
}

/*
 * Retargets every mapping that matches (by collection, or by redistributor
 * when by_icid is false) to `to`, then waits a grace period and moves the
 * LPIs' pending state: one scan to change, one to move.
 */
static void its_retarget_locked(struct vgic_its *its, bool by_icid, uint32_t match, uint32_t to)
{
	const struct its_redist *rd = its_redist_locked(its);
	struct its_xlate *t = its_xlate_locked(its);
	bool changed = false;

	for (uint32_t i = 0; i <= t->mask; i++) {
		uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

		if (!xlate_word_live(w) || xlate_word_rd(w) == to)
			continue;
		if (by_icid ? t->icid[i] != match : xlate_word_rd(w) != match)
			continue;
		its_xlate_set_rd_locked(its, i, to);
		changed = true;
	}
	if (!changed)
		return;
	its_synchronize();
	if (to == ITS_NO_TARGET)
		return; /* MAPC V=0: pending state stays where it is until remapped or discarded */
	for (uint32_t i = 0; i <= t->mask; i++) {
		uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

		if (xlate_word_live(w) && xlate_word_rd(w) == to &&
		    (!by_icid || t->icid[i] == match))
			rd->ops->lpi_move(rd->ctx, xlate_word_intid(w), to);
	}
}

/* MAPD: DW0 DeviceID; DW1 [4:0] Size (EventID bits - 1); DW2 [63] V, [51:8] ITT_addr. */
static int its_cmd_mapd(struct vgic_its *its, const struct its_cmd *c)
{
	uint32_t devid = cmd_devid(c), bits = (uint32_t)(c->dw[1] & 0x1f) + 1;
	struct its_device *dev;

	if (!its_table_id_valid_locked(its, ITS_TABLE_DEVICE, devid, NULL))
		return E_ITS_MAPD_DEVICE_OOR;
	if (cmd_valid(c) && bits > ITS_EVENTBITS)
		return E_ITS_MAPD_ITTSIZE_OOR;
	/* GIC-CHOICES.md: remapping or unmapping a device discards its translations. */
	dev = its_device_find_locked(its, devid);
	if (dev) {
		its_device_unmap_ites_locked(its, devid);
		dev->valid = false;
	}
	if (!cmd_valid(c))
		return 0;
	dev = its_device_alloc_locked(its, devid);
	if (!dev)
		return -ENOMEM;
	*dev = (struct its_device){ .itt = c->dw[2] & ITS_GENMASK(51, 8),
				    .bits = (uint8_t)bits,
				    .valid = true };
	return 0;
}

/* MAPC: DW2 [63] V, [51:16] RDbase, [15:0] ICID. */
static int its_cmd_mapc(struct vgic_its *its, const struct its_cmd *c)
{
	uint32_t icid = cmd_icid(c);
	uint64_t rdbase = cmd_rdbase(c->dw[2]);
	struct its_collection *coll;

	if (!its_table_id_valid_locked(its, ITS_TABLE_COLLECTION, icid, NULL))
		return E_ITS_MAPC_COLLECTION_OOR;
	if (!cmd_valid(c)) {
		coll = its_coll_find_locked(its, icid);
		if (coll) {
			coll->valid = false;
			its_retarget_locked(its, true, icid, ITS_NO_TARGET);
		}
		return 0;
	}
	if (rdbase >= its_nr_redists_locked(its))
		return E_ITS_MAPC_PROCNUM_OOR;
	coll = its_coll_alloc_locked(its, icid);
	if (!coll)
		return -ENOMEM;
	*coll = (struct its_collection){ .rd = (uint16_t)rdbase, .valid = true };
	/* Mappings made before the collection was mapped become deliverable now. */
	its_retarget_locked(its, true, icid, (uint32_t)rdbase);
	return 0;
}

/* MAPTI: DW0 DeviceID; DW1 EventID, [63:32] pINTID; DW2 ICID. MAPI: pINTID = EventID. */
static int its_cmd_mapti(struct vgic_its *its, const struct its_cmd *c, bool mapi)
{
	uint32_t devid = cmd_devid(c), eventid = cmd_eventid(c), icid = cmd_icid(c);
	uint32_t intid = mapi ? eventid : cmd_pintid(c);
	struct its_device *dev = its_device_find_locked(its, devid);

	if (!dev)
		return E_ITS_MAPTI_UNMAPPED_DEVICE;
	if (eventid >> dev->bits)
		return E_ITS_MAPTI_ID_OOR;
	if (intid < ITS_LPI_FIRST || intid >= ITS_LPI_LIMIT)
		return E_ITS_MAPTI_PHYSICALID_OOR;
	/* GIC-CHOICES.md: an existing mapping is kept (KVM does the same). */
	if (its_xlate_find_locked(its, xlate_key(devid, eventid)) >= 0)
		return 0;
	if (!its_table_id_valid_locked(its, ITS_TABLE_COLLECTION, icid, NULL))
		return E_ITS_MAPTI_COLLECTION_OOR;
	/* GIC-CHOICES.md: a collection not mapped yet is fine; MAPC makes it deliverable. */
	return its_map_event_locked(its, dev, devid, eventid, intid, icid);
}

/* MOVI: DW0 DeviceID; DW1 EventID; DW2 ICID (the new collection). */
static int its_cmd_movi(struct vgic_its *its, const struct its_cmd *c)
{
	const struct its_redist *rd = its_redist_locked(its);
	uint32_t icid = cmd_icid(c), slot, to;
	struct its_xlate *t;
	uint64_t w;
	int ret = its_cmd_find_ite(its, c, 0x010100, &slot, NULL);

	if (ret)
		return ret;
	if (!its_table_id_valid_locked(its, ITS_TABLE_COLLECTION, icid, NULL))
		return E_ITS_MOVI_COLLECTION_OOR;
	t = its_xlate_locked(its);
	to = its_coll_target_locked(its, icid);
	if (to == ITS_NO_TARGET || its_coll_target_locked(its, t->icid[slot]) == ITS_NO_TARGET)
		return E_ITS_MOVI_UNMAPPED_COLLECTION;
	t->icid[slot] = (uint16_t)icid;
	w = its_slot_word(its, slot);
	if (xlate_word_rd(w) == to)
		return 0;
	/* GIC-CHOICES.md: the pending state moves with the LPI. */
	its_xlate_set_rd_locked(its, slot, to);
	its_synchronize();
	rd->ops->lpi_move(rd->ctx, xlate_word_intid(w), to);
	return 0;
}

/* DISCARD: DW0 DeviceID; DW1 EventID. */
static int its_cmd_discard(struct vgic_its *its, const struct its_cmd *c)
{
	const struct its_redist *rd = its_redist_locked(its);
	struct its_device *dev;
	uint32_t slot, intid;
	int ret = its_cmd_find_ite(its, c, 0x010f00, &slot, &dev);

	if (ret)
		return ret;
	intid = xlate_word_intid(its_slot_word(its, slot));
	its_xlate_remove_locked(its, slot);
	dev->nr_ites--;
	its_synchronize();
	rd->ops->lpi_clear_pending(rd->ctx, intid);
	rd->ops->lpi_put(rd->ctx, intid);
	return 0;
}

/* INT, CLEAR, INV: DW0 DeviceID; DW1 EventID. */
static int its_cmd_int(struct vgic_its *its, const struct its_cmd *c)
{
	const struct its_redist *rd = its_redist_locked(its);
	uint32_t slot;
	uint64_t w;
	int ret = its_cmd_find_ite(its, c, 0x010300, &slot, NULL);

	if (ret)
		return ret;
	w = its_slot_word(its, slot);
	/* As KVM: an interrupt whose collection is not mapped has nowhere to go. */
	if (xlate_word_rd(w) == ITS_NO_TARGET)
		return E_ITS_INT_UNMAPPED_INTERRUPT;
	ret = rd->ops->lpi_set_pending(rd->ctx, xlate_word_rd(w), xlate_word_intid(w));
	return ret < 0 ? ret : 0; /* 0: the redistributor has LPIs disabled; not a command error */
}

static int its_cmd_clear(struct vgic_its *its, const struct its_cmd *c)
{
	const struct its_redist *rd = its_redist_locked(its);
	uint32_t slot;
	int ret = its_cmd_find_ite(its, c, 0x010500, &slot, NULL);

	if (ret)
		return ret;
	rd->ops->lpi_clear_pending(rd->ctx, xlate_word_intid(its_slot_word(its, slot)));
	return 0;
}

static int its_cmd_inv(struct vgic_its *its, const struct its_cmd *c)
{
	const struct its_redist *rd = its_redist_locked(its);
	uint32_t slot;
	int ret = its_cmd_find_ite(its, c, 0x010c00, &slot, NULL);

	if (ret)
		return ret;
	rd->ops->lpi_inv(rd->ctx, xlate_word_intid(its_slot_word(its, slot)));
	return 0;
}

/* INVALL: DW2 ICID. Re-reads the configuration of every LPI this ITS maps to the collection. */
static int its_cmd_invall(struct vgic_its *its, const struct its_cmd *c)
{
	const struct its_redist *rd = its_redist_locked(its);
	struct its_xlate *t = its_xlate_locked(its);
	uint32_t icid = cmd_icid(c);

	if (!its_table_id_valid_locked(its, ITS_TABLE_COLLECTION, icid, NULL))
		return E_ITS_INVALL_COLLECTION_OOR;
	if (!its_coll_find_locked(its, icid))
		return E_ITS_INVALL_UNMAPPED_COLLECTION;
	for (uint32_t i = 0; i <= t->mask; i++) {
		uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

		if (xlate_word_live(w) && t->icid[i] == icid)
			rd->ops->lpi_inv(rd->ctx, xlate_word_intid(w));
	}
	return 0;
}

/* MOVALL: DW2 [51:16] RDbase1; DW3 [51:16] RDbase2. */
static int its_cmd_movall(struct vgic_its *its, const struct its_cmd *c)
{
	uint64_t from = cmd_rdbase(c->dw[2]), to = cmd_rdbase(c->dw[3]);
	uint32_t nr = its_nr_redists_locked(its);

	if (from >= nr || to >= nr)
		return E_ITS_MOVALL_PROCNUM_OOR;
	/*
	 * GIC-CHOICES.md: only the LPIs targeting RDbase1 move; the collections
	 * keep their mapping, as in KVM (software remaps them with MAPC).
	 */
	if (from != to)
		its_retarget_locked(its, false, (uint32_t)from, (uint32_t)to);
	return 0;
}

/* One command; see the top of the file for what the return value means. */
static int its_cmd_handle_locked(struct vgic_its *its, const struct its_cmd *c)
{
	switch (c->dw[0] & 0xff) {
	case GITS_CMD_MAPD: return its_cmd_mapd(its, c);
	case GITS_CMD_MAPC: return its_cmd_mapc(its, c);
	case GITS_CMD_MAPTI: return its_cmd_mapti(its, c, false);
	case GITS_CMD_MAPI: return its_cmd_mapti(its, c, true);
	case GITS_CMD_MOVI: return its_cmd_movi(its, c);
	case GITS_CMD_DISCARD: return its_cmd_discard(its, c);
	case GITS_CMD_INT: return its_cmd_int(its, c);
	case GITS_CMD_CLEAR: return its_cmd_clear(its, c);
	case GITS_CMD_INV: return its_cmd_inv(its, c);
	case GITS_CMD_INVALL: return its_cmd_invall(its, c);
	case GITS_CMD_MOVALL: return its_cmd_movall(its, c);
	/* Every command takes effect before the next one is read, so SYNC has nothing to wait for. */
	case GITS_CMD_SYNC: return 0;
	default:
		/* GICv4 and unknown commands: ignored, as KVM does. */
		vm_log(its->vm, IVY_LOG_DEBUG, "ITS command 0x%02x ignored",
		       (unsigned)(c->dw[0] & 0xff));
		return 0;
	}
}

void its_cmdq_process_locked(struct vgic_its *its)
{
	ivy_gpa_t base = its->cbaser & ITS_GENMASK(51, 12);
	uint32_t size = its_cmdq_size(its->cbaser);

	its_assert_locked(its);
	if (!atomic_load_explicit(&its->enabled, memory_order_relaxed) || its->stalled)
		return;
	while (its->creadr != its->cwriter) {
		struct its_cmd c;
		int ret;

		if (ivy_guest_read(its->vm, base + its->creadr, &c, sizeof(c))) {
			/* GIC-CHOICES.md: stall at this command until CWRITER.Retry. */
			its->stalled = true;
			vm_log(its->vm, IVY_LOG_DEBUG, "ITS command queue stalled at 0x%llx",
			       (unsigned long long)(base + its->creadr));
			return;
		}
		for (int i = 0; i < 4; i++)
			c.dw[i] = le64toh(c.dw[i]);
		ret = its_cmd_handle_locked(its, &c);
		if (ret > 0)
			its_record_error_locked(its, (uint32_t)ret, (uint8_t)c.dw[0]);
		else if (ret < 0)
			vm_log(its->vm, IVY_LOG_WARN, "ITS command 0x%02x dropped: %s",
			       (unsigned)(c.dw[0] & 0xff), ivy_strerror(ret));
		its->creadr = (its->creadr + ITS_CMD_SIZE) % size;
	}
}
