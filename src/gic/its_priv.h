/* SPDX-License-Identifier: MIT */
/*
 * Definitions shared by the ITS's files: its.c (register frame, device type,
 * MSI path), its_cmd.c (command queue) and its_table.c (translation table,
 * devices, collections, guest tables, save/restore).
 *
 * Locks of the ITS, outermost first:
 *
 *   dev->attr_lock (device framework)       attribute calls; ADDR takes vm->config_lock inside
 *   vm->config_lock (device destroy)
 *     its->cmd_lock            registers, command queue, devices, collections, mappings
 *       vm->mem_lock           guest RAM reads and writes (ivy_guest_read/write)
 *       its_sync_lock          serialises grace periods (its_synchronize), leaf
 *       (redistributor locks, inside its_redist_ops members)
 *     its_registry_lock        the process-wide list of ITSes
 *       its_sync_lock
 *
 * cmd_lock is never held while taking vm->config_lock: ADDR registers the
 * MMIO region under attr_lock only, because device destruction takes
 * cmd_lock with config_lock held.
 *
 * The MSI path takes none of them: it runs inside a read-side section
 * (its_read_lock/unlock) and loads the published translation table, which
 * writers replace or change only under cmd_lock and then wait for a grace
 * period before anything that must not race with an older translation.
 */
#ifndef IVY_SRC_GIC_ITS_PRIV_H
#define IVY_SRC_GIC_ITS_PRIV_H

#include "core/core.h"
#include "gic/its.h"

#include <endian.h>

#define ITS_BIT(n)	  (1ull << (n))
#define ITS_GENMASK(h, l) ((~0ull >> (63 - (h))) & ~((1ull << (l)) - 1))

/* What ivy's ITS implements (GITS_TYPER; GIC-CHOICES.md "ITS"). */
#define ITS_DEVBITS    16	  /* DeviceIDs are 16 bits */
#define ITS_EVENTBITS  16	  /* EventIDs are at most 16 bits */
#define ITS_ICIDBITS   16	  /* CIL 0: 16-bit collection IDs */
#define ITS_ENTRY_SIZE 8	  /* DTE, CTE and ITE size (KVM ABI revision 0) */
#define ITS_TABLE_PAGE 0x10000ull /* GITS_BASERn page size: 64 KiB only */
#define ITS_CMD_SIZE   32
#define ITS_MAX_ITES   (1u << 20) /* host memory bound per ITS; MAPTI beyond it is dropped */
#define ITS_NO_TARGET  0xffffu	  /* translation to a collection that is not mapped */

/* GITS_BASERn, CBASER fields. */
#define GITS_BASER_VALID	   ITS_BIT(63)
#define GITS_BASER_INDIRECT	   ITS_BIT(62)
#define GITS_BASER_TYPE_SHIFT	   56
#define GITS_BASER_ESZ_SHIFT	   48
#define GITS_BASER_PS_SHIFT	   8
#define GITS_BASER_PS_64K	   2ull
#define GITS_BASER_TYPE_DEVICE	   1ull
#define GITS_BASER_TYPE_COLLECTION 4ull
#define GITS_CBASER_VALID	   ITS_BIT(63)

enum its_table_kind { ITS_TABLE_DEVICE = 0, ITS_TABLE_COLLECTION = 1 };

/*
 * The translation table: open addressing with linear probing, keyed by
 * (DeviceID << 16 | EventID). Each slot is one 64-bit word, so a reader gets
 * a whole translation with one atomic load and never follows a pointer:
 *   [63:32] key   [31:16] LPI INTID   [15:0] target redistributor (ITS_NO_TARGET)
 * 0 is an empty slot and 1 a deleted one (a real entry has INTID >= 8192).
 * Entries never move while the table is published; deleting leaves a
 * tombstone, so a reader's probe never stops short of a live entry. Growing
 * or cleaning builds a new table, publishes it, waits a grace period and
 * frees the old one. The collection ID of each slot is kept beside it, in
 * icid[], which only the command path reads.
 */
struct its_xlate {
	uint32_t mask; /* slots - 1; slots is a power of two */
	uint32_t live; /* entries */
	uint32_t used; /* entries + tombstones */
	uint16_t *icid;
	_Atomic uint64_t slot[];
};

#define XLATE_EMPTY 0ull
#define XLATE_TOMB  1ull

static inline uint32_t xlate_key(uint32_t devid, uint32_t eventid)
{
	return devid << 16 | eventid;
}
static inline uint64_t xlate_word(uint32_t key, uint32_t intid, uint32_t rd)
{
	return (uint64_t)key << 32 | (uint64_t)intid << 16 | rd;
}
static inline bool xlate_word_live(uint64_t w)
{
	return (w & 0xffff0000ull) != 0;
}
static inline uint32_t xlate_word_key(uint64_t w)
{
	return (uint32_t)(w >> 32);
}
static inline uint32_t xlate_word_intid(uint64_t w)
{
	return (uint32_t)(w >> 16) & 0xffff;
}
static inline uint32_t xlate_word_rd(uint64_t w)
{
	return (uint32_t)w & 0xffff;
}
static inline uint32_t xlate_hash(uint32_t key, uint32_t mask)
{
	uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h ^ (h >> 29) ^ (h >> 41)) & mask;
}

/* The live entry for key, or 0. Safe inside a read-side section. */
static inline uint64_t xlate_lookup(const struct its_xlate *t, uint32_t key)
{
	for (uint32_t i = xlate_hash(key, t->mask);; i = (i + 1) & t->mask) {
		uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_acquire);

		if (w == XLATE_EMPTY)
			return 0;
		if (xlate_word_key(w) == key && xlate_word_live(w))
			return w;
	}
}

/* A mapped device (MAPD V=1). */
struct its_device {
	ivy_gpa_t itt;	  /* ITT address, 256-byte aligned */
	uint32_t nr_ites; /* mappings of this device */
	uint8_t bits;	  /* EventID bits (MAPD Size + 1) */
	bool valid;
};

/* A collection: mapped (MAPC V=1) to redistributor rd. */
struct its_collection {
	uint16_t rd;
	bool valid;
};

/* Devices and collections live in 256-entry chunks allocated on first use. */
#define ITS_CHUNK 256
struct its_dev_chunk {
	struct its_device dev[ITS_CHUNK];
};
struct its_coll_chunk {
	struct its_collection coll[ITS_CHUNK];
};

/* The redistributor ops installed by its_set_redist_ops(), published as one pointer. */
struct its_redist {
	const struct its_redist_ops *ops;
	void *ctx;
};

struct vgic_its {
	struct ivy_vm *vm;
	struct ivy_device *dev;
	struct ivy_mmio_region *region;

	/* Read by the MSI path without locks; written under cmd_lock. */
	_Atomic uint64_t doorbell; /* GITS_TRANSLATER address, or 0 until ADDR is set */
	atomic_bool enabled;	   /* GITS_CTLR.Enabled */
	_Atomic(struct its_xlate *) xlate;
	_Atomic(struct its_redist *) redist; /* NULL until its_set_redist_ops() */

	/*
	 * Protects: every field below, the writers of the fields above, and the
	 * guest's view of the ITS (register writes and command processing are
	 * serialised).
	 */
	pthread_mutex_t cmd_lock;
	/* base and region are written once, by the ADDR attribute under dev->attr_lock. */
	ivy_gpa_t base; /* ~0 until ADDR is set */
	uint64_t cbaser;
	uint64_t baser[2]; /* GITS_BASER0 (devices) and GITS_BASER1 (collections) */
	uint32_t creadr;   /* byte offset into the queue */
	uint32_t cwriter;  /* byte offset into the queue */
	bool stalled;	   /* GITS_CREADR.Stalled */
	struct its_dev_chunk *devs[(1u << ITS_DEVBITS) / ITS_CHUNK];
	struct its_coll_chunk *colls[(1u << ITS_ICIDBITS) / ITS_CHUNK];
	uint32_t last_error;
	uint64_t nr_errors;
};

/* Locking helpers that document the precondition. */
#define its_assert_locked(its) IVY_DEBUG_ASSERT(pthread_mutex_trylock(&(its)->cmd_lock) != 0)

/* Read-side sections and grace periods (its.c). */
unsigned its_read_lock(void);
void its_read_unlock(unsigned token);

/* The redistributor ops under cmd_lock (never NULL: a placeholder without redistributors). */
const struct its_redist *its_redist_locked(struct vgic_its *its);
uint32_t its_nr_redists_locked(struct vgic_its *its);

/* Register state helpers (its.c). */
ivy_gpa_t its_baser_addr(uint64_t baser);
uint64_t its_baser_bytes(uint64_t baser);

/* Command queue (its_cmd.c). */
void its_cmdq_process_locked(struct vgic_its *its);
uint32_t its_cmdq_size(uint64_t cbaser);
void its_record_error_locked(struct vgic_its *its, uint32_t code, uint8_t cmd);

/* Devices, collections and mappings (its_table.c); all need cmd_lock. */
struct its_device *its_device_find_locked(struct vgic_its *its, uint32_t devid);
struct its_device *its_device_alloc_locked(struct vgic_its *its, uint32_t devid);
struct its_collection *its_coll_find_locked(struct vgic_its *its, uint32_t icid);
struct its_collection *its_coll_alloc_locked(struct vgic_its *its, uint32_t icid);
/* The target of collection icid for a translation: its redistributor, or ITS_NO_TARGET. */
uint32_t its_coll_target_locked(struct vgic_its *its, uint32_t icid);
bool its_table_id_valid_locked(struct vgic_its *its, enum its_table_kind kind, uint32_t id,
			       ivy_gpa_t *entry);
struct its_xlate *its_xlate_locked(struct vgic_its *its);
/* Slot index of the live entry for key, or -1. */
int64_t its_xlate_find_locked(struct vgic_its *its, uint32_t key);
int its_xlate_insert_locked(struct vgic_its *its, uint32_t key, uint32_t intid, uint32_t rd,
			    uint16_t icid);
/*
 * Maps (devid, eventid) of a mapped device to LPI intid in collection icid:
 * takes the LPI reference and publishes the translation. 0 or -errno.
 */
int its_map_event_locked(struct vgic_its *its, struct its_device *dev, uint32_t devid,
			 uint32_t eventid, uint32_t intid, uint32_t icid);
/* Deletes the entry in slot i (caller waits a grace period before acting on its removal). */
void its_xlate_remove_locked(struct vgic_its *its, uint32_t i);
void its_xlate_set_rd_locked(struct vgic_its *its, uint32_t i, uint32_t rd);
/* Unmaps every ITE of a device: delete, grace period, clear pending and put. */
void its_device_unmap_ites_locked(struct vgic_its *its, uint32_t devid);
/* Forgets every mapping, device and collection (reset, detach, failed restore). */
void its_forget_all_locked(struct vgic_its *its);
int its_xlate_init(struct vgic_its *its);
void its_table_free(struct vgic_its *its);
int its_save_tables_locked(struct vgic_its *its);
int its_restore_tables_locked(struct vgic_its *its);

/* 0 if the register table is sorted, without overlaps and complete; else 1 + the bad index. */
int its_reg_table_check(void);

#endif /* IVY_SRC_GIC_ITS_PRIV_H */
