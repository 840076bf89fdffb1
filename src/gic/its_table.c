/* SPDX-License-Identifier: MIT */
/*
 * The ITS's state: the translation table the MSI path reads, the devices and
 * collections the commands manage, the validity checks against the guest's
 * Device and Collection tables, and saving/restoring all of it in guest
 * memory in KVM's ABI revision 0 layout.
 *
 * Guest tables are touched only through ivy_guest_read/write, which refuse
 * any range not wholly in RAM: a guest can point GITS_BASERn, a level-1
 * entry or an ITT anywhere and only gets an error code or -EFAULT.
 */
#include "gic/its_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Devices and collections.                                                                   */

struct its_device *its_device_find_locked(struct vgic_its *its, uint32_t devid)
{
	struct its_dev_chunk *c;

	if (devid >> ITS_DEVBITS)
		return NULL;
	c = its->devs[devid / ITS_CHUNK];
	return c && c->dev[devid % ITS_CHUNK].valid ? &c->dev[devid % ITS_CHUNK] : NULL;
}

/* The (possibly invalid) entry for devid, allocating its chunk; NULL on -ENOMEM. */
struct its_device *its_device_alloc_locked(struct vgic_its *its, uint32_t devid)
{
	struct its_dev_chunk **c = &its->devs[devid / ITS_CHUNK];

	if (!*c)
		*c = calloc(1, sizeof(**c));
	return *c ? &(*c)->dev[devid % ITS_CHUNK] : NULL;
}

struct its_collection *its_coll_find_locked(struct vgic_its *its, uint32_t icid)
{
	struct its_coll_chunk *c;

	if (icid >> ITS_ICIDBITS)
		return NULL;
	c = its->colls[icid / ITS_CHUNK];
	return c && c->coll[icid % ITS_CHUNK].valid ? &c->coll[icid % ITS_CHUNK] : NULL;
}

struct its_collection *its_coll_alloc_locked(struct vgic_its *its, uint32_t icid)
{
	struct its_coll_chunk **c = &its->colls[icid / ITS_CHUNK];

	if (!*c)
		*c = calloc(1, sizeof(**c));
	return *c ? &(*c)->coll[icid % ITS_CHUNK] : NULL;
}

/*
 * The first mapped device (or collection) with an ID at or above *id, which
 * is updated; NULL if none. Skips chunks never allocated.
 */
static struct its_device *its_device_next_locked(struct vgic_its *its, uint32_t *id)
{
	for (uint32_t d = *id; d < (1u << ITS_DEVBITS); d++) {
		struct its_dev_chunk *c = its->devs[d / ITS_CHUNK];

		if (!c) {
			d |= ITS_CHUNK - 1;
			continue;
		}
		if (c->dev[d % ITS_CHUNK].valid) {
			*id = d;
			return &c->dev[d % ITS_CHUNK];
		}
	}
	return NULL;
}

static struct its_collection *its_coll_next_locked(struct vgic_its *its, uint32_t *id)
{
	for (uint32_t i = *id; i < (1u << ITS_ICIDBITS); i++) {
		struct its_coll_chunk *c = its->colls[i / ITS_CHUNK];

		if (!c) {
			i |= ITS_CHUNK - 1;
			continue;
		}
		if (c->coll[i % ITS_CHUNK].valid) {
			*id = i;
			return &c->coll[i % ITS_CHUNK];
		}
	}
	return NULL;
}

uint32_t its_coll_target_locked(struct vgic_its *its, uint32_t icid)
{
	struct its_collection *coll = its_coll_find_locked(its, icid);

	return coll ? coll->rd : ITS_NO_TARGET;
}

/*
 * Whether `id` has an entry in the Device or Collection table the guest gave
 * in GITS_BASERn, and where. The architecture makes an ID out of range when
 * the table is not valid, when a flat table is too small, or when a two-level
 * table's level-1 entry for it is not valid (IHI 0069, 5.2 "The ITS tables");
 * a level-1 entry that is not in RAM counts as not valid.
 */
bool its_table_id_valid_locked(struct vgic_its *its, enum its_table_kind kind, uint32_t id,
			       ivy_gpa_t *entry)
{
	uint64_t baser = its->baser[kind], bytes = its_baser_bytes(baser), l1, e;
	ivy_gpa_t base = its_baser_addr(baser);
	const uint64_t per_page = ITS_TABLE_PAGE / ITS_ENTRY_SIZE;

	if (!(baser & GITS_BASER_VALID) || id >> 16)
		return false;
	if (!(baser & GITS_BASER_INDIRECT)) {
		if (id >= bytes / ITS_ENTRY_SIZE)
			return false;
		if (entry)
			*entry = base + (uint64_t)id * ITS_ENTRY_SIZE;
		return true;
	}
	l1 = id / per_page;
	if (l1 >= bytes / 8 || ivy_guest_read(its->vm, base + l1 * 8, &e, sizeof(e)))
		return false;
	e = le64toh(e);
	if (!(e & GITS_BASER_VALID))
		return false;
	if (entry)
		*entry = (e & ITS_GENMASK(51, 16)) + (id % per_page) * ITS_ENTRY_SIZE;
	return true;
}

/* ------------------------------------------------------------------------------------------ */
/* The translation table.                                                                     */

struct its_xlate *its_xlate_locked(struct vgic_its *its)
{
	return atomic_load_explicit(&its->xlate, memory_order_relaxed);
}

static struct its_xlate *xlate_alloc(uint32_t slots)
{
	struct its_xlate *t = calloc(1, sizeof(*t) + slots * sizeof(t->slot[0]));

	if (!t)
		return NULL;
	t->icid = calloc(slots, sizeof(t->icid[0]));
	if (!t->icid) {
		free(t);
		return NULL;
	}
	t->mask = slots - 1;
	return t;
}

static void xlate_free(struct its_xlate *t)
{
	if (t)
		free(t->icid);
	free(t);
}

int its_xlate_init(struct vgic_its *its)
{
	struct its_xlate *t = xlate_alloc(16);

	if (!t)
		return -ENOMEM;
	atomic_init(&its->xlate, t);
	return 0;
}

static void xlate_put_raw(struct its_xlate *t, uint64_t w, uint16_t icid)
{
	uint32_t i = xlate_hash(xlate_word_key(w), t->mask);

	while (atomic_load_explicit(&t->slot[i], memory_order_relaxed) != XLATE_EMPTY)
		i = (i + 1) & t->mask;
	t->icid[i] = icid;
	atomic_store_explicit(&t->slot[i], w, memory_order_relaxed);
	t->live++;
	t->used++;
}

/*
 * Replaces the table by one with room for `want` entries and no tombstones.
 * Readers may still be probing the old one: it is freed after a grace period.
 */
static int xlate_rebuild_locked(struct vgic_its *its, uint32_t want)
{
	struct its_xlate *old = its_xlate_locked(its), *t;
	uint32_t slots = 16;

	/* At most a quarter full after the rebuild: probes stay short and memory per LPI small. */
	while (slots < 4ull * want)
		slots <<= 1;
	t = xlate_alloc(slots);
	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i <= old->mask; i++) {
		uint64_t w = atomic_load_explicit(&old->slot[i], memory_order_relaxed);

		if (xlate_word_live(w))
			xlate_put_raw(t, w, old->icid[i]);
	}
	/* Release: the new table's slots are written before readers can find it. */
	atomic_store_explicit(&its->xlate, t, memory_order_release);
	its_synchronize();
	xlate_free(old);
	return 0;
}

int64_t its_xlate_find_locked(struct vgic_its *its, uint32_t key)
{
	struct its_xlate *t = its_xlate_locked(its);

	for (uint32_t i = xlate_hash(key, t->mask);; i = (i + 1) & t->mask) {
		uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

		if (w == XLATE_EMPTY)
			return -1;
		if (xlate_word_key(w) == key && xlate_word_live(w))
			return i;
	}
}

int its_xlate_insert_locked(struct vgic_its *its, uint32_t key, uint32_t intid, uint32_t rd,
			    uint16_t icid)
{
	struct its_xlate *t = its_xlate_locked(its);
	uint32_t i;

	its_assert_locked(its);
	if (t->live >= ITS_MAX_ITES)
		return -ENOSPC;
	/* Keep at least half the slots empty, counting tombstones, so misses end quickly. */
	if (2ull * (t->used + 1) > t->mask + 1ull) {
		int ret = xlate_rebuild_locked(its, t->live + 1);

		if (ret)
			return ret;
		t = its_xlate_locked(its);
	}
	/* The key is absent (callers check), so the first free slot on its probe path is its home. */
	i = xlate_hash(key, t->mask);
	for (;;) {
		uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

		if (w == XLATE_EMPTY || w == XLATE_TOMB) {
			if (w == XLATE_EMPTY)
				t->used++;
			break;
		}
		i = (i + 1) & t->mask;
	}
	t->icid[i] = icid;
	t->live++;
	/* Release: pairs with the reader's acquire load; the LPI reference is taken already. */
	atomic_store_explicit(&t->slot[i], xlate_word(key, intid, rd), memory_order_release);
	return 0;
}

void its_xlate_remove_locked(struct vgic_its *its, uint32_t i)
{
	struct its_xlate *t = its_xlate_locked(its);

	atomic_store_explicit(&t->slot[i], XLATE_TOMB, memory_order_release);
	t->live--;
}

void its_xlate_set_rd_locked(struct vgic_its *its, uint32_t i, uint32_t rd)
{
	struct its_xlate *t = its_xlate_locked(its);
	uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

	atomic_store_explicit(&t->slot[i], (w & ~0xffffull) | rd, memory_order_release);
}

int its_map_event_locked(struct vgic_its *its, struct its_device *dev, uint32_t devid,
			 uint32_t eventid, uint32_t intid, uint32_t icid)
{
	const struct its_redist *rd = its_redist_locked(its);
	uint32_t target = its_coll_target_locked(its, icid);
	int ret = rd->ops->lpi_get(rd->ctx, intid);

	if (ret)
		return ret < 0 ? ret : -EIO;
	ret = its_xlate_insert_locked(its, xlate_key(devid, eventid), intid, target,
				      (uint16_t)icid);
	if (ret) {
		rd->ops->lpi_put(rd->ctx, intid);
		return ret;
	}
	/* Tell the redistributors where the LPI lives (its pending table is there). */
	if (target != ITS_NO_TARGET)
		rd->ops->lpi_move(rd->ctx, intid, target);
	dev->nr_ites++;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Removing mappings in bulk.                                                                 */

/* Whether a table slot belongs to device devid (live entries only). */
static bool slot_of_device(uint64_t w, uint32_t devid)
{
	return xlate_word_live(w) && xlate_word_key(w) >> 16 == devid;
}

/*
 * Calls fn(its, slot, arg) for every mapping of device devid: probes its
 * EventIDs when the device's range is smaller than the table, else scans the
 * table. fn may delete the slot it is given.
 */
static void its_device_for_each_slot_locked(
	struct vgic_its *its, uint32_t devid, const struct its_device *dev,
	void (*fn)(struct vgic_its *its, uint32_t slot, void *arg), void *arg)
{
	struct its_xlate *t = its_xlate_locked(its);

	if ((1ull << dev->bits) <= t->mask + 1ull) {
		for (uint32_t ev = 0; ev < (1u << dev->bits); ev++) {
			int64_t i = its_xlate_find_locked(its, xlate_key(devid, ev));

			if (i >= 0)
				fn(its, (uint32_t)i, arg);
		}
		return;
	}
	for (uint32_t i = 0; i <= t->mask; i++)
		if (slot_of_device(atomic_load_explicit(&t->slot[i], memory_order_relaxed), devid))
			fn(its, i, arg);
}

struct unmap_ctx {
	uint32_t *intids;
	uint32_t n, cap;
};

static void unmap_slot(struct vgic_its *its, uint32_t slot, void *arg)
{
	struct unmap_ctx *u = arg;
	const struct its_redist *rd = its_redist_locked(its);
	uint32_t intid = xlate_word_intid(
		atomic_load_explicit(&its_xlate_locked(its)->slot[slot], memory_order_relaxed));

	its_xlate_remove_locked(its, slot);
	if (u->n < u->cap) {
		u->intids[u->n++] = intid;
		return;
	}
	/* No room to remember it: wait for this one now. */
	its_synchronize();
	rd->ops->lpi_clear_pending(rd->ctx, intid);
	rd->ops->lpi_put(rd->ctx, intid);
}

void its_device_unmap_ites_locked(struct vgic_its *its, uint32_t devid)
{
	struct its_device *dev = its_device_find_locked(its, devid);
	const struct its_redist *rd = its_redist_locked(its);
	struct unmap_ctx u = { 0 };

	if (!dev || !dev->nr_ites)
		return;
	/*
	 * Remember the INTIDs while deleting, so that their pending state is
	 * cleared after one grace period for all of them.
	 */
	u.intids = malloc(dev->nr_ites * sizeof(*u.intids));
	u.cap = u.intids ? dev->nr_ites : 0;
	its_device_for_each_slot_locked(its, devid, dev, unmap_slot, &u);
	dev->nr_ites = 0;
	/* No MSI translated before the deletions can still deliver after this. */
	its_synchronize();
	for (uint32_t k = 0; k < u.n; k++) {
		rd->ops->lpi_clear_pending(rd->ctx, u.intids[k]);
		rd->ops->lpi_put(rd->ctx, u.intids[k]);
	}
	free(u.intids);
}

void its_forget_all_locked(struct vgic_its *its)
{
	struct its_xlate *t = its_xlate_locked(its), *empty = xlate_alloc(16);
	const struct its_redist *rd = its_redist_locked(its);

	its_assert_locked(its);
	for (uint32_t i = 0; !empty && i <= t->mask; i++) {
		/* Out of memory for an empty table: delete in place, one grace period each. */
		uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

		if (!xlate_word_live(w))
			continue;
		its_xlate_remove_locked(its, i);
		its_synchronize();
		rd->ops->lpi_clear_pending(rd->ctx, xlate_word_intid(w));
		rd->ops->lpi_put(rd->ctx, xlate_word_intid(w));
	}
	if (empty) {
		atomic_store_explicit(&its->xlate, empty, memory_order_release);
		its_synchronize();
		for (uint32_t i = 0; i <= t->mask; i++) {
			uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

			if (xlate_word_live(w)) {
				rd->ops->lpi_clear_pending(rd->ctx, xlate_word_intid(w));
				rd->ops->lpi_put(rd->ctx, xlate_word_intid(w));
			}
		}
		xlate_free(t);
	}
	for (size_t i = 0; i < IVY_ARRAY_SIZE(its->devs); i++) {
		free(its->devs[i]);
		its->devs[i] = NULL;
	}
	for (size_t i = 0; i < IVY_ARRAY_SIZE(its->colls); i++) {
		free(its->colls[i]);
		its->colls[i] = NULL;
	}
}

void its_table_free(struct vgic_its *its)
{
	xlate_free(its_xlate_locked(its));
	for (size_t i = 0; i < IVY_ARRAY_SIZE(its->devs); i++)
		free(its->devs[i]);
	for (size_t i = 0; i < IVY_ARRAY_SIZE(its->colls); i++)
		free(its->colls[i]);
}

/* ------------------------------------------------------------------------------------------ */
/* Save and restore (KVM's ITS table ABI revision 0; every entry 8 bytes, little-endian).     */
/*                                                                                            */
/*   DTE  [63] V  [62:49] next DeviceID offset  [48:5] ITT address [51:8]  [4:0] EventID bits-1 */
/*   ITE  [63:48] next EventID offset  [47:16] pINTID (0: no entry)  [15:0] ICID              */
/*   CTE  [63] V  [51:16] RDbase (processor number)  [15:0] ICID                              */
/*                                                                                            */
/* The Device table and ITTs are indexed by DeviceID and EventID; "next" is the distance to   */
/* the next valid entry (0: last; capped at the field's maximum, in which case the reader     */
/* scans on). CTEs are packed from the start of the Collection table, ended by an invalid one */
/* (from its base address also when it is two-level, as KVM does).                           */

#define DTE_VALID      ITS_BIT(63)
#define DTE_NEXT_SHIFT 49
#define DTE_NEXT_MAX   0x3fffu
#define DTE_ITT_SHIFT  5
#define DTE_ITT_MASK   ITS_GENMASK(43, 0)
#define ITE_NEXT_SHIFT 48
#define ITE_NEXT_MAX   0xffffu
#define CTE_VALID      ITS_BIT(63)

static int its_write_entry(struct vgic_its *its, ivy_gpa_t gpa, uint64_t val)
{
	val = htole64(val);
	return ivy_guest_write(its->vm, gpa, &val, sizeof(val));
}

struct its_ite_rec {
	uint32_t eventid;
	uint32_t intid;
	uint16_t icid;
};

static int ite_rec_cmp(const void *a, const void *b)
{
	const struct its_ite_rec *x = a, *y = b;

	return (x->eventid > y->eventid) - (x->eventid < y->eventid);
}

struct ites_ctx {
	struct its_ite_rec *recs;
	uint32_t n, cap;
};

static void collect_slot(struct vgic_its *its, uint32_t slot, void *arg)
{
	struct ites_ctx *c = arg;
	struct its_xlate *t = its_xlate_locked(its);
	uint64_t w = atomic_load_explicit(&t->slot[slot], memory_order_relaxed);

	if (c->n < c->cap)
		c->recs[c->n++] = (struct its_ite_rec){ xlate_word_key(w) & 0xffff,
							xlate_word_intid(w), t->icid[slot] };
}

/* The mappings of one device, sorted by EventID, in a new array (*out, to free). */
static int its_device_ites_locked(struct vgic_its *its, uint32_t devid,
				  const struct its_device *dev, struct its_ite_rec **out)
{
	struct ites_ctx c = { .cap = dev->nr_ites };

	c.recs = malloc((dev->nr_ites + 1) * sizeof(*c.recs));
	if (!c.recs)
		return -ENOMEM;
	its_device_for_each_slot_locked(its, devid, dev, collect_slot, &c);
	qsort(c.recs, c.n, sizeof(*c.recs), ite_rec_cmp);
	*out = c.recs;
	return (int)c.n;
}

static int its_save_itt_locked(struct vgic_its *its, uint32_t devid, const struct its_device *dev)
{
	struct its_ite_rec *recs;
	int n = its_device_ites_locked(its, devid, dev, &recs), ret = 0;

	if (n < 0)
		return n;
	for (int k = 0; k < n && !ret; k++) {
		uint64_t next = k + 1 < n ? recs[k + 1].eventid - recs[k].eventid : 0;

		if (next > ITE_NEXT_MAX)
			next = ITE_NEXT_MAX;
		ret = its_write_entry(its, dev->itt + (uint64_t)recs[k].eventid * ITS_ENTRY_SIZE,
				      next << ITE_NEXT_SHIFT | (uint64_t)recs[k].intid << 16 |
					      recs[k].icid);
	}
	free(recs);
	return ret;
}

static int its_save_devices_locked(struct vgic_its *its)
{
	uint32_t devid = 0;
	struct its_device *dev;

	if (!(its->baser[ITS_TABLE_DEVICE] & GITS_BASER_VALID))
		return 0;
	for (dev = its_device_next_locked(its, &devid); dev;) {
		uint32_t next_id = devid + 1;
		struct its_device *next = its_device_next_locked(its, &next_id);
		uint64_t offset = next ? next_id - devid : 0;
		ivy_gpa_t dte;
		int ret;

		if (!its_table_id_valid_locked(its, ITS_TABLE_DEVICE, devid, &dte))
			return -EINVAL;
		ret = its_save_itt_locked(its, devid, dev);
		if (ret)
			return ret;
		if (offset > DTE_NEXT_MAX)
			offset = DTE_NEXT_MAX;
		ret = its_write_entry(its, dte,
				      DTE_VALID | offset << DTE_NEXT_SHIFT |
					      (dev->itt >> 8 & DTE_ITT_MASK) << DTE_ITT_SHIFT |
					      (uint64_t)(dev->bits - 1));
		if (ret)
			return ret;
		dev = next;
		devid = next_id;
	}
	return 0;
}

static int its_save_collections_locked(struct vgic_its *its)
{
	uint64_t baser = its->baser[ITS_TABLE_COLLECTION], bytes = its_baser_bytes(baser), n = 0;
	ivy_gpa_t base = its_baser_addr(baser);

	if (!(baser & GITS_BASER_VALID))
		return 0;
	for (uint32_t icid = 0;; icid++) {
		struct its_collection *coll = its_coll_next_locked(its, &icid);
		int ret;

		if (!coll)
			break;
		if ((n + 1) * ITS_ENTRY_SIZE > bytes)
			return -ENOSPC;
		ret = its_write_entry(its, base + n * ITS_ENTRY_SIZE,
				      CTE_VALID | (uint64_t)coll->rd << 16 | icid);
		if (ret)
			return ret;
		n++;
	}
	/* The list ends at an invalid entry, or at the end of the table. */
	if ((n + 1) * ITS_ENTRY_SIZE <= bytes)
		return its_write_entry(its, base + n * ITS_ENTRY_SIZE, 0);
	return 0;
}

int its_save_tables_locked(struct vgic_its *its)
{
	int ret = its_save_devices_locked(its);

	return ret ? ret : its_save_collections_locked(its);
}

/*
 * Walks `nr` 8-byte entries at gpa, reading them in chunks. fn returns 0 for
 * an invalid entry (the walk goes on with the next one), 1 for a valid one
 * with *next set (0 ends the walk), or -errno.
 */
typedef int (*its_scan_fn)(struct vgic_its *its, uint32_t id, uint64_t entry, uint32_t *next,
			   void *arg);

static int its_scan_table(struct vgic_its *its, ivy_gpa_t gpa, uint32_t first, uint32_t nr,
			  its_scan_fn fn, void *arg)
{
	uint64_t buf[512];
	uint32_t start = 0, have = 0;

	for (uint32_t i = 0; i < nr;) {
		uint32_t next = 0;
		int ret;

		if (i < start || i >= start + have) {
			have = nr - i < IVY_ARRAY_SIZE(buf) ? nr - i : IVY_ARRAY_SIZE(buf);
			start = i;
			if (ivy_guest_read(its->vm, gpa + (uint64_t)i * ITS_ENTRY_SIZE, buf,
					   have * sizeof(buf[0])))
				return -EFAULT;
		}
		ret = fn(its, first + i, le64toh(buf[i - start]), &next, arg);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			i++;
			continue;
		}
		if (next == 0)
			return 0;
		i += next;
	}
	return 0;
}

static int its_restore_ite(struct vgic_its *its, uint32_t eventid, uint64_t ite, uint32_t *next,
			   void *arg)
{
	uint32_t devid = *(uint32_t *)arg, intid = (uint32_t)(ite >> 16), icid = ite & 0xffff;
	struct its_device *dev = its_device_find_locked(its, devid);
	int ret;

	if (intid == 0)
		return 0;
	if (intid < ITS_LPI_FIRST || intid >= ITS_LPI_LIMIT ||
	    !its_table_id_valid_locked(its, ITS_TABLE_COLLECTION, icid, NULL))
		return -EINVAL;
	ret = its_map_event_locked(its, dev, devid, eventid, intid, icid);
	if (ret)
		return ret;
	*next = (uint32_t)(ite >> ITE_NEXT_SHIFT);
	return 1;
}

static int its_restore_dte(struct vgic_its *its, uint32_t devid, uint64_t dte, uint32_t *next,
			   void *arg)
{
	struct its_device *dev;
	uint32_t bits = (uint32_t)(dte & 0x1f) + 1;
	int ret;

	(void)arg;
	if (!(dte & DTE_VALID))
		return 0;
	if (bits > ITS_EVENTBITS || devid >> ITS_DEVBITS)
		return -EINVAL;
	dev = its_device_alloc_locked(its, devid);
	if (!dev)
		return -ENOMEM;
	*dev = (struct its_device){ .itt = (dte >> DTE_ITT_SHIFT & DTE_ITT_MASK) << 8,
				    .bits = (uint8_t)bits,
				    .valid = true };
	ret = its_scan_table(its, dev->itt, 0, 1u << bits, its_restore_ite, &devid);
	if (ret)
		return ret;
	*next = (uint32_t)(dte >> DTE_NEXT_SHIFT) & DTE_NEXT_MAX;
	return 1;
}

static int its_restore_devices_locked(struct vgic_its *its)
{
	uint64_t baser = its->baser[ITS_TABLE_DEVICE], bytes = its_baser_bytes(baser);
	ivy_gpa_t base = its_baser_addr(baser);
	const uint32_t per_page = ITS_TABLE_PAGE / ITS_ENTRY_SIZE;

	if (!(baser & GITS_BASER_VALID))
		return 0;
	if (!(baser & GITS_BASER_INDIRECT)) {
		uint64_t nr = bytes / ITS_ENTRY_SIZE;

		return its_scan_table(its, base, 0,
				      nr < (1u << ITS_DEVBITS) ? (uint32_t)nr : 1u << ITS_DEVBITS,
				      its_restore_dte, NULL);
	}
	/* Two-level: each valid level-1 entry names one 64 KiB page of DTEs, scanned on its own. */
	for (uint64_t l1 = 0; l1 < bytes / 8 && l1 * per_page < (1u << ITS_DEVBITS); l1++) {
		uint64_t e;
		int ret;

		if (ivy_guest_read(its->vm, base + l1 * 8, &e, sizeof(e)))
			return -EFAULT;
		e = le64toh(e);
		if (!(e & GITS_BASER_VALID))
			continue;
		ret = its_scan_table(its, e & ITS_GENMASK(51, 16), (uint32_t)l1 * per_page,
				     per_page, its_restore_dte, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

static int its_restore_collections_locked(struct vgic_its *its)
{
	uint64_t baser = its->baser[ITS_TABLE_COLLECTION], bytes = its_baser_bytes(baser);
	ivy_gpa_t base = its_baser_addr(baser);
	uint32_t nr = its_nr_redists_locked(its);

	if (!(baser & GITS_BASER_VALID))
		return 0;
	for (uint64_t off = 0; off + ITS_ENTRY_SIZE <= bytes; off += ITS_ENTRY_SIZE) {
		struct its_collection *coll;
		uint64_t cte, rd;
		uint32_t icid;

		if (ivy_guest_read(its->vm, base + off, &cte, sizeof(cte)))
			return -EFAULT;
		cte = le64toh(cte);
		if (!(cte & CTE_VALID))
			break;
		icid = cte & 0xffff;
		rd = (cte & ITS_GENMASK(51, 16)) >> 16;
		if (rd >= nr || its_coll_find_locked(its, icid) ||
		    !its_table_id_valid_locked(its, ITS_TABLE_COLLECTION, icid, NULL))
			return -EINVAL;
		coll = its_coll_alloc_locked(its, icid);
		if (!coll)
			return -ENOMEM;
		*coll = (struct its_collection){ .rd = (uint16_t)rd, .valid = true };
	}
	return 0;
}

static bool its_has_state_locked(struct vgic_its *its)
{
	uint32_t d = 0, c = 0;

	return its_xlate_locked(its)->live || its_device_next_locked(its, &d) ||
	       its_coll_next_locked(its, &c);
}

int its_restore_tables_locked(struct vgic_its *its)
{
	int ret;

	if (atomic_load_explicit(&its->enabled, memory_order_relaxed) || its_has_state_locked(its))
		return -EBUSY;
	ret = its_restore_collections_locked(its);
	if (!ret)
		ret = its_restore_devices_locked(its);
	if (ret)
		its_forget_all_locked(its);
	return ret;
}
