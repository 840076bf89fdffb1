/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 Interrupt Translation Service: its register frame, the device
 * type "ITS" with KVM's attribute groups, and the MSI path.
 *
 * Register map (IHI 0069, 12.19; GIC-CHOICES.md "ITS"):
 *
 *   0x0000  GITS_CTLR        32  Enabled (RW, refused while CBASER/BASER0/BASER1 not Valid),
 *                                Quiescent (RO)
 *   0x0004  GITS_IIDR        32  RO
 *   0x0008  GITS_TYPER       64  RO: physical LPIs, ITT entry 8 bytes, DevBits 16,
 *                                ID_bits 16, PTA 0, CIL 0
 *   0x0080  GITS_CBASER      64  WI while enabled; a write zeroes CREADR and CWRITER
 *   0x0088  GITS_CWRITER     64  Offset, Retry; an offset beyond the queue is ignored
 *   0x0090  GITS_CREADR      64  RO: Offset, Stalled
 *   0x0100  GITS_BASER0..7   64  0 = Device table, 1 = Collection table, 2..7 RAZ/WI;
 *                                Type, Entry_Size and Page_Size (64 KiB) read-only;
 *                                WI while enabled
 *   0xffd0  GITS_PIDR4..CIDR3 32 ID registers
 *  0x10040  GITS_TRANSLATER  32  WI from a CPU (it has no DeviceID), RAZ; 16- or 32-bit
 *
 * Everything else, and any access of a width or alignment a register does
 * not allow, reads as zero, ignores writes and counts IVY_STAT_GIC_BAD_ACCESS.
 *
 * Lock order and the MSI path's read-side sections: see its_priv.h.
 */
#include "gic/its_priv.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------------------------ */
/* Read-side sections and grace periods.                                                      */

/*
 * MSIs come from any thread, so the read side cannot be per-vCPU. Each
 * thread picks one of ITS_READER_SLOTS cache-line-sized slots and counts
 * itself in the slot's counter for the current epoch parity. A grace period
 * flips the epoch and waits until the old parity's counters are all zero;
 * new readers use the new parity and cannot hold it up. A reader re-checks
 * the epoch after counting itself, so a reader that loaded the epoch just
 * before a flip retries instead of hiding in a counter nobody waits for.
 *
 * Why this is enough (all operations seq_cst): a reader that confirmed epoch
 * e counted itself before the flip to e + 1, so the writer's later loads of
 * the counters see it. A reader that confirmed e + 1 read the flip, so it
 * sees every store the writer made before flipping (the unpublished entry,
 * the new table, the cleared GITS_CTLR.Enabled).
 */
#define ITS_READER_SLOTS 64

struct its_reader_slot {
	atomic_ulong count[2];
} __attribute__((aligned(64)));

static struct its_reader_slot its_readers[ITS_READER_SLOTS];
static atomic_uint its_epoch;
static atomic_uint its_next_slot;
static _Thread_local unsigned its_my_slot = UINT_MAX;
static _Thread_local unsigned its_read_depth;
/* Protects: serialises grace periods, so each flip waits for the parity it retired. */
static pthread_mutex_t its_sync_lock = PTHREAD_MUTEX_INITIALIZER;

unsigned its_read_lock(void)
{
	unsigned s = its_my_slot;

	if (s == UINT_MAX) {
		s = atomic_fetch_add_explicit(&its_next_slot, 1, memory_order_relaxed) %
		    ITS_READER_SLOTS;
		its_my_slot = s;
	}
	its_read_depth++;
	for (;;) {
		unsigned e = atomic_load(&its_epoch) & 1;

		atomic_fetch_add(&its_readers[s].count[e], 1);
		if ((atomic_load(&its_epoch) & 1) == e)
			return s << 1 | e;
		atomic_fetch_sub_explicit(&its_readers[s].count[e], 1, memory_order_release);
	}
}

void its_read_unlock(unsigned token)
{
	its_read_depth--;
	/* Release: the section's loads and its redistributor call come before the writer's wait. */
	atomic_fetch_sub_explicit(&its_readers[token >> 1].count[token & 1], 1,
				  memory_order_release);
}

void its_synchronize(void)
{
	unsigned old;

	/* A grace period from inside a read-side section would wait for itself. */
	IVY_DEBUG_ASSERT(its_read_depth == 0);
	pthread_mutex_lock(&its_sync_lock);
	old = atomic_fetch_add(&its_epoch, 1) & 1;
	for (unsigned i = 0; i < ITS_READER_SLOTS; i++) {
		unsigned spins = 0;

		while (atomic_load(&its_readers[i].count[old]) != 0)
			if (++spins > 64)
				sched_yield();
	}
	pthread_mutex_unlock(&its_sync_lock);
}

/* ------------------------------------------------------------------------------------------ */
/* The process-wide list of ITSes with an address, for finding one by doorbell.               */

struct its_registry {
	uint32_t nr;
	struct vgic_its *its[];
};

/* Protects: writers of its_registry. Readers use read-side sections. */
static pthread_mutex_t its_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct its_registry *) its_registry;

/* Adds (add = true) or removes an ITS. Returns 0 or -ENOMEM (nothing changed). */
static int its_registry_update(struct vgic_its *its, bool add)
{
	struct its_registry *old, *next;
	uint32_t nr, n = 0;

	pthread_mutex_lock(&its_registry_lock);
	old = atomic_load_explicit(&its_registry, memory_order_relaxed);
	nr = old ? old->nr : 0;
	next = malloc(sizeof(*next) + (nr + 1) * sizeof(next->its[0]));
	if (!next) {
		pthread_mutex_unlock(&its_registry_lock);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nr; i++)
		if (old->its[i] != its)
			next->its[n++] = old->its[i];
	if (add)
		next->its[n++] = its;
	next->nr = n;
	atomic_store_explicit(&its_registry, next, memory_order_release);
	its_synchronize();
	free(old);
	pthread_mutex_unlock(&its_registry_lock);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Redistributor ops.                                                                         */

static uint32_t null_nr_redists(void *ctx)
{
	(void)ctx;
	return 0;
}
static int null_lpi_get(void *ctx, uint32_t intid)
{
	(void)ctx, (void)intid;
	return -ENODEV;
}
static int null_lpi_set_pending(void *ctx, uint32_t rd, uint32_t intid)
{
	(void)ctx, (void)rd, (void)intid;
	return -ENODEV;
}
static void null_lpi_void(void *ctx, uint32_t intid)
{
	(void)ctx, (void)intid;
}
static void null_lpi_move(void *ctx, uint32_t intid, uint32_t rd)
{
	(void)ctx, (void)intid, (void)rd;
}

/* What an ITS without redistributors talks to: no processors, nothing can be mapped. */
static const struct its_redist_ops null_redist_ops = {
	.nr_redists = null_nr_redists,
	.lpi_get = null_lpi_get,
	.lpi_put = null_lpi_void,
	.lpi_set_pending = null_lpi_set_pending,
	.lpi_clear_pending = null_lpi_void,
	.lpi_move = null_lpi_move,
	.lpi_inv = null_lpi_void,
};
static const struct its_redist null_redist = { .ops = &null_redist_ops };

const struct its_redist *its_redist_locked(struct vgic_its *its)
{
	const struct its_redist *rd = atomic_load_explicit(&its->redist, memory_order_relaxed);

	return rd ? rd : &null_redist;
}

uint32_t its_nr_redists_locked(struct vgic_its *its)
{
	const struct its_redist *rd = its_redist_locked(its);
	uint32_t n = rd->ops->nr_redists(rd->ctx);

	/* The translation word has 16 bits for the target, ITS_NO_TARGET excluded. */
	return n < ITS_NO_TARGET ? n : ITS_NO_TARGET;
}

static struct vgic_its *its_from_device(struct ivy_device *dev)
{
	return dev && ivy_device_type(dev) == IVY_DEV_TYPE_ARM_VGIC_ITS ? dev->priv : NULL;
}

int its_set_redist_ops(struct ivy_device *dev, const struct its_redist_ops *ops, void *ctx)
{
	struct vgic_its *its = its_from_device(dev);
	struct its_redist *next = NULL, *old;
	int ret = 0;

	if (!its)
		return -EINVAL;
	if (ops && (!ops->nr_redists || !ops->lpi_get || !ops->lpi_put || !ops->lpi_set_pending ||
		    !ops->lpi_clear_pending || !ops->lpi_move || !ops->lpi_inv))
		return -EINVAL;
	if (ops) {
		next = malloc(sizeof(*next));
		if (!next)
			return -ENOMEM;
		*next = (struct its_redist){ .ops = ops, .ctx = ctx };
	}
	pthread_mutex_lock(&its->cmd_lock);
	old = atomic_load_explicit(&its->redist, memory_order_relaxed);
	if (ops && old && its_xlate_locked(its)->live) {
		ret = -EBUSY;
		free(next);
		goto out;
	}
	if (!ops)
		its_forget_all_locked(its);
	atomic_store_explicit(&its->redist, next, memory_order_release);
	/* MSIs that loaded the old ops have returned before they are freed. */
	its_synchronize();
	free(old);
out:
	pthread_mutex_unlock(&its->cmd_lock);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* The MSI path.                                                                              */

int its_signal_msi(struct ivy_vm *vm, uint64_t doorbell, uint32_t eventid, uint32_t devid)
{
	const struct its_registry *reg;
	struct vgic_its *its = NULL;
	unsigned tok;
	int ret = -ENODEV;

	if (!vm)
		return -EINVAL;
	tok = its_read_lock();
	reg = atomic_load_explicit(&its_registry, memory_order_acquire);
	for (uint32_t i = 0; reg && i < reg->nr; i++) {
		if (reg->its[i]->vm == vm &&
		    atomic_load_explicit(&reg->its[i]->doorbell, memory_order_relaxed) ==
			    doorbell) {
			its = reg->its[i];
			break;
		}
	}
	if (its) {
		const struct its_redist *rd =
			atomic_load_explicit(&its->redist, memory_order_acquire);
		uint64_t w = 0;

		if (!rd)
			ret = -ENODEV;
		else if (!atomic_load_explicit(&its->enabled, memory_order_acquire) ||
			 devid >> ITS_DEVBITS || eventid >> ITS_EVENTBITS)
			ret = 0;
		else if (!(w = xlate_lookup(atomic_load_explicit(&its->xlate, memory_order_acquire),
					    xlate_key(devid, eventid))) ||
			 xlate_word_rd(w) == ITS_NO_TARGET)
			ret = 0;
		else
			ret = rd->ops->lpi_set_pending(rd->ctx, xlate_word_rd(w),
						       xlate_word_intid(w));
	}
	its_read_unlock(tok);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Registers.                                                                                 */

#define GITS_CTLR	    0x0000
#define GITS_IIDR	    0x0004
#define GITS_TYPER	    0x0008
#define GITS_CBASER	    0x0080
#define GITS_CWRITER	    0x0088
#define GITS_CREADR	    0x0090
#define GITS_BASER	    0x0100
#define GITS_PIDR4	    0xffd0
#define GITS_TRANSLATER	    0x10040
#define GITS_CTLR_ENABLED   ITS_BIT(0)
#define GITS_CTLR_QUIESCENT ITS_BIT(31)
#define GITS_CWRITER_RETRY  ITS_BIT(0)
#define GITS_CREADR_STALLED ITS_BIT(0)
#define GITS_OFFSET_MASK    ITS_GENMASK(19, 5)

/* Implementer ARM (0x43b) as KVM reports, ProductID 'I' for ivy, revision 0. */
#define ITS_IIDR_VALUE (0x49u << 24 | 0x43bu)

/* Physical LPIs; ITT entry 8 bytes; ID_bits 16; Devbits 16; PTA 0; CIL 0 (16-bit ICIDs). */
#define ITS_TYPER_VALUE                                                                          \
	(ITS_BIT(0) | (uint64_t)(ITS_ENTRY_SIZE - 1) << 4 | (uint64_t)(ITS_EVENTBITS - 1) << 8 | \
	 (uint64_t)(ITS_DEVBITS - 1) << 13)

/* PIDR4..7, PIDR0..3, CIDR0..3: a GICv3 ITS (PIDR2.ArchRev 3) with a 64 KiB frame. */
static const uint8_t its_id_regs[12] = {
	0x40, 0, 0, 0, 0x92, 0xb4, 0x3b, 0, 0x0d, 0xf0, 0x05, 0xb1
};

#define CBASER_WRITABLE                                                                        \
	(GITS_CBASER_VALID | ITS_GENMASK(61, 59) | ITS_GENMASK(55, 53) | ITS_GENMASK(51, 12) | \
	 ITS_GENMASK(11, 10) | ITS_GENMASK(7, 0))
#define BASER_WRITABLE                                                                        \
	(GITS_BASER_VALID | GITS_BASER_INDIRECT | ITS_GENMASK(61, 59) | ITS_GENMASK(55, 53) | \
	 ITS_GENMASK(47, 12) | ITS_GENMASK(11, 10) | ITS_GENMASK(7, 0))

static uint64_t its_baser_reset(enum its_table_kind kind)
{
	uint64_t type =
		kind == ITS_TABLE_DEVICE ? GITS_BASER_TYPE_DEVICE : GITS_BASER_TYPE_COLLECTION;

	return type << GITS_BASER_TYPE_SHIFT |
	       (uint64_t)(ITS_ENTRY_SIZE - 1) << GITS_BASER_ESZ_SHIFT |
	       GITS_BASER_PS_64K << GITS_BASER_PS_SHIFT;
}

/* With 64 KiB pages, address bits [51:48] live in the field's bits [15:12]. */
ivy_gpa_t its_baser_addr(uint64_t baser)
{
	return (baser & ITS_GENMASK(47, 16)) | ((baser >> 12) & 0xf) << 48;
}

uint64_t its_baser_bytes(uint64_t baser)
{
	return ((baser & 0xff) + 1) * ITS_TABLE_PAGE;
}

static bool its_tables_valid_locked(struct vgic_its *its)
{
	return its->cbaser & GITS_CBASER_VALID && its->baser[0] & GITS_BASER_VALID &&
	       its->baser[1] & GITS_BASER_VALID;
}

static void its_set_enabled_locked(struct vgic_its *its, bool on)
{
	if (on == atomic_load_explicit(&its->enabled, memory_order_relaxed))
		return;
	atomic_store_explicit(&its->enabled, on, memory_order_release);
	if (on) {
		its_cmdq_process_locked(its);
	} else {
		/* An MSI translated before the disable cannot deliver after the write returns. */
		its_synchronize();
	}
}

/* Register handlers. idx is the register's index in its bank; values are whole registers. */

static uint64_t its_read_ctlr(struct vgic_its *its, uint32_t idx)
{
	bool quiescent = its->creadr == its->cwriter && !its->stalled;

	(void)idx;
	return (atomic_load_explicit(&its->enabled, memory_order_relaxed) ? GITS_CTLR_ENABLED : 0) |
	       (quiescent ? GITS_CTLR_QUIESCENT : 0);
}

static void its_write_ctlr(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	(void)idx;
	/* GIC-CHOICES.md: Enabled cannot be set while CBASER, BASER0 or BASER1 is not Valid. */
	if (val & GITS_CTLR_ENABLED && !its_tables_valid_locked(its))
		return;
	its_set_enabled_locked(its, val & GITS_CTLR_ENABLED);
}

static int its_host_write_ctlr(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	if (val & ~(GITS_CTLR_ENABLED | GITS_CTLR_QUIESCENT))
		return -EINVAL;
	if (val & GITS_CTLR_ENABLED && !its_tables_valid_locked(its))
		return -EINVAL;
	its_write_ctlr(its, idx, val);
	return 0;
}

static uint64_t its_read_iidr(struct vgic_its *its, uint32_t idx)
{
	(void)its, (void)idx;
	return ITS_IIDR_VALUE;
}

static uint64_t its_read_typer(struct vgic_its *its, uint32_t idx)
{
	(void)its, (void)idx;
	return ITS_TYPER_VALUE;
}

static uint64_t its_read_cbaser(struct vgic_its *its, uint32_t idx)
{
	(void)idx;
	return its->cbaser;
}

static void its_write_cbaser(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	(void)idx;
	if (atomic_load_explicit(&its->enabled, memory_order_relaxed))
		return;
	its->cbaser = val & CBASER_WRITABLE;
	its->creadr = 0;
	its->cwriter = 0;
	its->stalled = false;
}

static int its_host_write_cbaser(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	if (atomic_load_explicit(&its->enabled, memory_order_relaxed))
		return -EBUSY;
	its_write_cbaser(its, idx, val);
	return 0;
}

static uint64_t its_read_cwriter(struct vgic_its *its, uint32_t idx)
{
	(void)idx;
	return its->cwriter;
}

static void its_write_cwriter(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	uint64_t off = val & GITS_OFFSET_MASK;

	(void)idx;
	/* GIC-CHOICES.md: an offset at or beyond the end of the queue is ignored. */
	if (off >= its_cmdq_size(its->cbaser))
		return;
	its->cwriter = (uint32_t)off;
	/* A stalled queue moves again only when software asks for a retry. */
	if (its->stalled && !(val & GITS_CWRITER_RETRY))
		return;
	its->stalled = false;
	its_cmdq_process_locked(its);
}

static int its_host_write_cwriter(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	if (val & ~(GITS_OFFSET_MASK | GITS_CWRITER_RETRY) ||
	    (val & GITS_OFFSET_MASK) >= its_cmdq_size(its->cbaser))
		return -EINVAL;
	its_write_cwriter(its, idx, val);
	return 0;
}

static uint64_t its_read_creadr(struct vgic_its *its, uint32_t idx)
{
	(void)idx;
	return its->creadr | (its->stalled ? GITS_CREADR_STALLED : 0);
}

static int its_host_write_creadr(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	(void)idx;
	if (atomic_load_explicit(&its->enabled, memory_order_relaxed))
		return -EBUSY;
	if (val & ~(GITS_OFFSET_MASK | GITS_CREADR_STALLED) ||
	    (val & GITS_OFFSET_MASK) >= its_cmdq_size(its->cbaser))
		return -EINVAL;
	its->creadr = (uint32_t)(val & GITS_OFFSET_MASK);
	its->stalled = val & GITS_CREADR_STALLED;
	return 0;
}

static uint64_t its_read_baser(struct vgic_its *its, uint32_t idx)
{
	return idx < 2 ? its->baser[idx] : 0;
}

static void its_write_baser(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	if (idx >= 2 || atomic_load_explicit(&its->enabled, memory_order_relaxed))
		return;
	/* Type, Entry_Size and Page_Size are fixed: 64 KiB pages whatever is written. */
	its->baser[idx] = (val & BASER_WRITABLE) | its_baser_reset(idx);
}

static int its_host_write_baser(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	if (atomic_load_explicit(&its->enabled, memory_order_relaxed))
		return -EBUSY;
	its_write_baser(its, idx, val);
	return 0;
}

static uint64_t its_read_idreg(struct vgic_its *its, uint32_t idx)
{
	(void)its;
	return its_id_regs[idx];
}

static uint64_t its_read_raz(struct vgic_its *its, uint32_t idx)
{
	(void)its, (void)idx;
	return 0;
}

static void its_write_wi(struct vgic_its *its, uint32_t idx, uint64_t val)
{
	(void)its, (void)idx, (void)val;
}

#define W16 (1u << 2)
#define W32 (1u << 4)
#define W64 (1u << 8)

struct its_reg_desc {
	uint32_t offset;
	uint8_t size;	 /* bytes per register: 4 or 8 */
	uint8_t nr;	 /* registers in the bank, at stride `size` */
	uint16_t widths; /* allowed guest access widths: bit n = n bytes */
	bool host;	 /* reachable through IVY_ITS_GRP_ITS_REGS */
	uint64_t (*read)(struct vgic_its *its, uint32_t idx);
	void (*write)(struct vgic_its *its, uint32_t idx, uint64_t val);
	/* Host write; NULL means read-only: only the current value is accepted. */
	int (*host_write)(struct vgic_its *its, uint32_t idx, uint64_t val);
};

/* Sorted by offset; a unit test checks order and overlaps. */
static const struct its_reg_desc its_regs[] = {
	{ .offset = GITS_CTLR,
	  .size = 4,
	  .nr = 1,
	  .widths = W32,
	  .host = true,
	  .read = its_read_ctlr,
	  .write = its_write_ctlr,
	  .host_write = its_host_write_ctlr },
	{ .offset = GITS_IIDR,
	  .size = 4,
	  .nr = 1,
	  .widths = W32,
	  .host = true,
	  .read = its_read_iidr,
	  .write = its_write_wi },
	{ .offset = GITS_TYPER,
	  .size = 8,
	  .nr = 1,
	  .widths = W32 | W64,
	  .host = true,
	  .read = its_read_typer,
	  .write = its_write_wi },
	{ .offset = GITS_CBASER,
	  .size = 8,
	  .nr = 1,
	  .widths = W32 | W64,
	  .host = true,
	  .read = its_read_cbaser,
	  .write = its_write_cbaser,
	  .host_write = its_host_write_cbaser },
	{ .offset = GITS_CWRITER,
	  .size = 8,
	  .nr = 1,
	  .widths = W32 | W64,
	  .host = true,
	  .read = its_read_cwriter,
	  .write = its_write_cwriter,
	  .host_write = its_host_write_cwriter },
	{ .offset = GITS_CREADR,
	  .size = 8,
	  .nr = 1,
	  .widths = W32 | W64,
	  .host = true,
	  .read = its_read_creadr,
	  .write = its_write_wi,
	  .host_write = its_host_write_creadr },
	{ .offset = GITS_BASER,
	  .size = 8,
	  .nr = 8,
	  .widths = W32 | W64,
	  .host = true,
	  .read = its_read_baser,
	  .write = its_write_baser,
	  .host_write = its_host_write_baser },
	{ .offset = GITS_PIDR4,
	  .size = 4,
	  .nr = 12,
	  .widths = W32,
	  .host = true,
	  .read = its_read_idreg,
	  .write = its_write_wi },
	{ .offset = GITS_TRANSLATER,
	  .size = 4,
	  .nr = 1,
	  .widths = W16 | W32,
	  .host = false,
	  .read = its_read_raz,
	  .write = its_write_wi },
};

/* The register bank holding offset, with the register's index in it; or NULL. */
static const struct its_reg_desc *its_reg_find(uint64_t offset, uint32_t *idx)
{
	size_t lo = 0, hi = IVY_ARRAY_SIZE(its_regs);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct its_reg_desc *d = &its_regs[mid];

		if (offset < d->offset) {
			hi = mid;
		} else if (offset - d->offset >= (uint64_t)d->size * d->nr) {
			lo = mid + 1;
		} else {
			*idx = (uint32_t)((offset - d->offset) / d->size);
			return d;
		}
	}
	return NULL;
}

/* The one check of a guest access: a register, an allowed width, naturally aligned. */
static const struct its_reg_desc *its_guest_reg(struct vgic_its *its, uint64_t offset, unsigned len,
						uint32_t *idx)
{
	const struct its_reg_desc *d = its_reg_find(offset, idx);

	if (d && d->widths & (1u << len) && !(offset & (len - 1)))
		return d;
	vm_stat_inc(its->vm, IVY_STAT_GIC_BAD_ACCESS);
	return NULL;
}

static uint64_t its_mmio_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct vgic_its *its = opaque;
	const struct its_reg_desc *d;
	uint32_t idx;
	uint64_t val, shift;

	(void)vcpu;
	d = its_guest_reg(its, offset, len, &idx);
	if (!d)
		return 0;
	shift = (offset - d->offset) % d->size * 8;
	pthread_mutex_lock(&its->cmd_lock);
	val = d->read(its, idx);
	pthread_mutex_unlock(&its->cmd_lock);
	return len == 8 ? val : (val >> shift) & 0xffffffffull;
}

static void its_mmio_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			   uint64_t val)
{
	struct vgic_its *its = opaque;
	const struct its_reg_desc *d;
	uint32_t idx;

	(void)vcpu;
	d = its_guest_reg(its, offset, len, &idx);
	if (!d)
		return;
	pthread_mutex_lock(&its->cmd_lock);
	if (len < d->size) {
		/* A 32-bit half of a 64-bit register: the other half keeps its value. */
		uint64_t shift = (offset - d->offset) % d->size * 8;
		uint64_t mask = 0xffffffffull << shift;

		val = (d->read(its, idx) & ~mask) | (val << shift & mask);
	}
	d->write(its, idx, val);
	pthread_mutex_unlock(&its->cmd_lock);
}

static const struct ivy_mmio_ops its_mmio_ops = {
	.read = its_mmio_read,
	.write = its_mmio_write,
};

/*
 * Host accessors (IVY_ITS_GRP_ITS_REGS). KVM's rule for the offset: 32-bit
 * registers (CTLR, IIDR, ID registers) 4-byte aligned, the rest 8-byte aligned.
 */
static int its_host_reg(uint64_t offset, const struct its_reg_desc **out, uint32_t *idx)
{
	uint64_t align = offset < GITS_TYPER || offset >= GITS_PIDR4 ? 3 : 7;
	const struct its_reg_desc *d;

	if (offset & align)
		return -EINVAL;
	d = its_reg_find(offset, idx);
	if (!d || !d->host || (offset - d->offset) % d->size)
		return -ENXIO;
	*out = d;
	return 0;
}

static int its_regs_access(struct vgic_its *its, uint64_t offset, uint64_t *val, bool is_write)
{
	const struct its_reg_desc *d;
	uint32_t idx;
	int ret = its_host_reg(offset, &d, &idx);

	if (ret)
		return ret;
	pthread_mutex_lock(&its->cmd_lock);
	if (!is_write)
		*val = d->read(its, idx);
	else if (d->host_write)
		ret = d->host_write(its, idx, *val);
	else
		ret = *val == d->read(its, idx) ? 0 : -EINVAL;
	pthread_mutex_unlock(&its->cmd_lock);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* The device type.                                                                           */

static void its_reset_locked(struct vgic_its *its)
{
	its_set_enabled_locked(its, false);
	its_forget_all_locked(its);
	its->cbaser = 0;
	its->creadr = 0;
	its->cwriter = 0;
	its->stalled = false;
	its->baser[ITS_TABLE_DEVICE] = its_baser_reset(ITS_TABLE_DEVICE);
	its->baser[ITS_TABLE_COLLECTION] = its_baser_reset(ITS_TABLE_COLLECTION);
}

static int its_dev_create(struct ivy_device *dev)
{
	struct vgic_its *its = calloc(1, sizeof(*its));
	int ret;

	if (!its)
		return -ENOMEM;
	if (its_xlate_init(its)) {
		free(its);
		return -ENOMEM;
	}
	its->vm = dev->vm;
	its->dev = dev;
	its->base = ~0ull;
	pthread_mutex_init(&its->cmd_lock, NULL);
	its->baser[ITS_TABLE_DEVICE] = its_baser_reset(ITS_TABLE_DEVICE);
	its->baser[ITS_TABLE_COLLECTION] = its_baser_reset(ITS_TABLE_COLLECTION);
	dev->priv = its;
	/* The redistributors: the VM's GICv3 now, or when one is created. */
	ret = vgic_its_attach(dev);
	if (ret) {
		its_table_free(its);
		pthread_mutex_destroy(&its->cmd_lock);
		free(its);
		dev->priv = NULL;
	}
	return ret;
}

static void its_dev_destroy(struct ivy_device *dev)
{
	struct vgic_its *its = dev->priv;

	if (its->region) {
		mmio_remove(its->vm, its->region);
		/* Cannot fail for lack of memory in a way that matters: retry until it is gone. */
		while (its_registry_update(its, false))
			sched_yield();
	}
	pthread_mutex_lock(&its->cmd_lock);
	its_forget_all_locked(its);
	pthread_mutex_unlock(&its->cmd_lock);
	free(atomic_load_explicit(&its->redist, memory_order_relaxed));
	its_table_free(its);
	pthread_mutex_destroy(&its->cmd_lock);
	free(its);
}

/* ADDR: base and region are written only here, under the device's attr_lock. */
static int its_set_addr(struct vgic_its *its, uint64_t base)
{
	int ret;

	if (its->base != ~0ull)
		return -EEXIST;
	if (base & (ITS_TABLE_PAGE - 1))
		return -EINVAL;
	if (!vm_gpa_range_valid(its->vm, base, IVY_ITS_FRAME_SIZE))
		return -E2BIG;
	ret = ivy_mmio_register(its->vm, base, IVY_ITS_FRAME_SIZE, &its_mmio_ops, its,
				&its->region);
	if (ret)
		return ret;
	atomic_store_explicit(&its->doorbell, base + IVY_ITS_TRANSLATER_OFFSET,
			      memory_order_relaxed);
	ret = its_registry_update(its, true);
	if (ret) {
		mmio_remove(its->vm, its->region);
		its->region = NULL;
		return ret;
	}
	its->base = base;
	return 0;
}

static int its_ctrl(struct vgic_its *its, uint64_t attr)
{
	int ret = 0;

	if (attr == IVY_ITS_CTRL_INIT)
		return 0;
	if (attr != IVY_ITS_CTRL_RESET && attr != IVY_ITS_SAVE_TABLES &&
	    attr != IVY_ITS_RESTORE_TABLES)
		return -ENXIO;
	pthread_mutex_lock(&its->cmd_lock);
	if (attr == IVY_ITS_CTRL_RESET)
		its_reset_locked(its);
	else if (attr == IVY_ITS_SAVE_TABLES)
		ret = its_save_tables_locked(its);
	else
		ret = its_restore_tables_locked(its);
	pthread_mutex_unlock(&its->cmd_lock);
	return ret;
}

static int its_dev_set_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	struct vgic_its *its = dev->priv;
	uint64_t *val = attr->addr;

	switch (attr->group) {
	case IVY_ITS_GRP_ADDR:
		if (attr->attr != IVY_ITS_ADDR_TYPE)
			return -ENXIO;
		return its_set_addr(its, *val);
	case IVY_ITS_GRP_CTRL: return its_ctrl(its, attr->attr);
	case IVY_ITS_GRP_ITS_REGS: return its_regs_access(its, attr->attr, val, true);
	default: return -ENXIO;
	}
}

static int its_dev_get_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	struct vgic_its *its = dev->priv;
	uint64_t *val = attr->addr;

	switch (attr->group) {
	case IVY_ITS_GRP_ADDR:
		if (attr->attr != IVY_ITS_ADDR_TYPE)
			return -ENXIO;
		*val = its->base;
		return 0;
	case IVY_ITS_GRP_ITS_REGS: return its_regs_access(its, attr->attr, val, false);
	default: return -ENXIO;
	}
}

static int its_dev_has_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	const struct its_reg_desc *d;
	uint32_t idx;

	(void)dev;
	switch (attr->group) {
	case IVY_ITS_GRP_ADDR: return attr->attr == IVY_ITS_ADDR_TYPE ? 0 : -ENXIO;
	case IVY_ITS_GRP_CTRL:
		return attr->attr == IVY_ITS_CTRL_INIT || attr->attr == IVY_ITS_CTRL_RESET ||
				       attr->attr == IVY_ITS_SAVE_TABLES ||
				       attr->attr == IVY_ITS_RESTORE_TABLES
			       ? 0
			       : -ENXIO;
	case IVY_ITS_GRP_ITS_REGS: return its_host_reg(attr->attr, &d, &idx) ? -ENXIO : 0;
	default: return -ENXIO;
	}
}

const struct device_type its_device_type = {
	.type = IVY_DEV_TYPE_ARM_VGIC_ITS,
	.name = "ITS",
	.create = its_dev_create,
	.destroy = its_dev_destroy,
	.set_attr = its_dev_set_attr,
	.get_attr = its_dev_get_attr,
	.has_attr = its_dev_has_attr,
};

int ivy_its_get_errors(struct ivy_device *dev, uint32_t *last_code, uint64_t *count)
{
	struct vgic_its *its = its_from_device(dev);

	if (!its || !last_code || !count)
		return -EINVAL;
	pthread_mutex_lock(&its->cmd_lock);
	*last_code = its->last_error;
	*count = its->nr_errors;
	pthread_mutex_unlock(&its->cmd_lock);
	return 0;
}

int its_reg_table_check(void)
{
	for (size_t i = 0; i < IVY_ARRAY_SIZE(its_regs); i++) {
		const struct its_reg_desc *d = &its_regs[i];

		if (!d->size || !d->nr || !d->read || !d->write || d->offset % d->size)
			return (int)i + 1;
		if (i &&
		    its_regs[i - 1].offset + (uint32_t)its_regs[i - 1].size * its_regs[i - 1].nr >
			    d->offset)
			return (int)i + 1;
	}
	return 0;
}
