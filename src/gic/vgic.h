/* SPDX-License-Identifier: MIT */
/*
 * Private definitions of the vGIC: the interrupt state shared by every GIC model
 * (vgic.c), the register-descriptor dispatcher (vgic_mmio.c) and the frames.
 * The lock order is at the top of vgic.c.
 */
#ifndef IVY_SRC_GIC_VGIC_H
#define IVY_SRC_GIC_VGIC_H

#include "core/core.h"

#include <ivy/gic.h>

#define VGIC_NR_SGIS	     16
#define VGIC_NR_PRIVATE_IRQS 32
#define VGIC_MAX_IRQS	     1024 /* INTIDs 1020-1023 are special: the bank stops at 1020 */
#define VGIC_MIN_LPI	     8192
#define VGIC_V2_MAX_VCPUS    8
#define VGIC_MAX_LRS	     16
#define VGIC_DEFAULT_NR_IRQS 256 /* KVM's VGIC_NR_IRQS_LEGACY */
#define VGIC_DEFAULT_NR_LRS  4
#define VGIC_PRI_BITS	     5
#define VGIC_PRI_MASK	     0xf8 /* 5 implemented priority bits (GIC-CHOICES.md) */
#define VGIC_INTID_SPURIOUS  1023
#define VGIC_INTID_NOT_GRP0  1022
#define VGIC_ADDR_UNDEF	     (~0ull)

enum vgic_config { VGIC_CONFIG_EDGE = 0, VGIC_CONFIG_LEVEL = 1 };

/* A doubly linked list node (the per-vCPU ap_list). */
struct vgic_list {
	struct vgic_list *next, *prev;
};

struct vgic_cpu;
struct vgic_dist;

/* One interrupt. SGIs/PPIs live in their vCPU, SPIs in the distributor. */
struct vgic_irq {
	/* Protects: every field below except intid and ap_node. */
	pthread_mutex_t lock;
	/* Linked on vcpu->ap_list; Protects: that vCPU's ap_list_lock. */
	struct vgic_list ap_node;
	struct vgic_cpu *vcpu;	 /* the ap_list the IRQ is on, or NULL */
	struct vgic_cpu *target; /* where it is delivered when pending; NULL: nowhere */
	uint32_t intid;
	/*
	 * Atomic so that GICD_I[SC]ENABLER reads can take a snapshot without the
	 * lock (VGIC_REG_LOCKLESS_READ); changed under the lock like the rest.
	 */
	atomic_bool enabled;
	bool pending_latch; /* edge events and GICD_ISPENDR writes; for v2 SGIs: source != 0 */
	bool line_level;    /* the input line; level interrupts are pending while it is high */
	bool active;
	uint8_t group;	       /* 0 or 1 (GICD_IGROUPR) */
	uint8_t config;	       /* enum vgic_config */
	uint8_t priority;      /* upper VGIC_PRI_BITS bits only */
	uint8_t targets;       /* GICv2 GICD_ITARGETSR byte, absent CPUs masked out */
	uint8_t source;	       /* GICv2 SGIs: one bit per source CPU with a pending instance */
	uint8_t active_source; /* GICv2 SGIs: the source CPU of the active instance */
	uint64_t mpidr;	       /* GICv3 GICD_IROUTER (issue 5) */
	atomic_uint refcount;  /* LPIs only (issue 5); 0 for the static IRQs */
	uint32_t mappings;     /* LPIs: ITS mappings (ITEs) naming it (vgic_its.c) */
};

/* A list register, model-neutral (GICv2's GICH_LR and GICv3's ICH_LR encode it). */
#define VGIC_LR_PENDING 1u
#define VGIC_LR_ACTIVE	2u
struct vgic_lr {
	uint32_t intid;
	uint8_t source;	  /* GICv2 SGIs: CPUID */
	uint8_t priority; /* 8-bit priority, low bits zero */
	uint8_t state;	  /* VGIC_LR_* */
	uint8_t flushed;  /* state when flush wrote it; sync compares */
	bool group1;
	bool eoi; /* EOI maintenance requested (level interrupts) */
};

/* GICH_HCR / GICH_MISR bits (IHI 0048B 5.3.2, 5.3.5). */
#define GICH_HCR_EN		(1u << 0)
#define GICH_HCR_UIE		(1u << 1)
#define GICH_HCR_LRENPIE	(1u << 2)
#define GICH_HCR_NPIE		(1u << 3)
#define GICH_HCR_VGRP0EIE	(1u << 4)
#define GICH_HCR_VGRP0DIE	(1u << 5)
#define GICH_HCR_VGRP1EIE	(1u << 6)
#define GICH_HCR_VGRP1DIE	(1u << 7)
#define GICH_HCR_EOICOUNT_SHIFT 27
#define GICH_MISR_EOI		(1u << 0)
#define GICH_MISR_U		(1u << 1)
#define GICH_MISR_LRENP		(1u << 2)
#define GICH_MISR_NP		(1u << 3)
#define GICH_MISR_VGRP0E	(1u << 4)
#define GICH_MISR_VGRP0D	(1u << 5)
#define GICH_MISR_VGRP1E	(1u << 6)
#define GICH_MISR_VGRP1D	(1u << 7)

/* GICC_CTLR as the virtual CPU interface implements it (GICV_CTLR, IHI 0048B 5.5.1). */
#define GICC_CTLR_ENABLEGRP0 (1u << 0)
#define GICC_CTLR_ENABLEGRP1 (1u << 1)
#define GICC_CTLR_ACKCTL     (1u << 2)
#define GICC_CTLR_FIQEN	     (1u << 3)
#define GICC_CTLR_CBPR	     (1u << 4)
#define GICC_CTLR_EOIMODE    (1u << 9)
#define GICC_CTLR_MASK	     0x21fu

/* An ap_list entry with its flush order key, taken under the IRQ's lock. */
struct vgic_sort_ent {
	uint64_t key;
	struct vgic_irq *irq;
};

/* Per-vCPU GIC state. */
struct vgic_cpu {
	struct ivy_vcpu *vcpu;
	struct vgic_dist *dist;
	uint32_t index;

	/* Protects: ap_list (membership and order). */
	pthread_mutex_t ap_list_lock;
	struct vgic_list ap_list; /* IRQs pending or active for this vCPU */

	struct vgic_irq private_irqs[VGIC_NR_PRIVATE_IRQS];

	/*
	 * The virtual CPU interface. Owned by the vCPU's thread (flush, guest
	 * accesses to the CPU interface, sync), or by the host while no vCPU is
	 * between flush and sync (save/restore).
	 */
	struct vgic_lr lr[VGIC_MAX_LRS];
	uint32_t used_lrs; /* LRs [0, used_lrs) are meaningful */
	uint32_t hcr;	   /* GICH_HCR */
	uint32_t ctlr;	   /* GICV_CTLR (GICC_CTLR_*) */
	uint8_t pmr;	   /* GICV_PMR */
	uint8_t bpr;	   /* GICV_BPR, 2..7 */
	uint8_t abpr;	   /* GICV_ABPR, 3..7 */
	uint32_t apr;	   /* GICH_APR: one bit per active group priority (priority >> 3) */
	uint32_t apr_g1;   /* the bits of apr set by Group 1 acknowledges (GICC_NSAPR0) */
	bool overflow;	   /* the last flush left interrupts out */

	/* GICv3 redistributor (RD frame). Protects: rd_lock. */
	pthread_mutex_t rd_lock;
	/*
	 * GICR_CTLR.EnableLPIs. Written under rd_lock; also read under an LPI's
	 * lock without rd_lock, so that making an LPI pending and dropping the
	 * pending LPIs of a redistributor whose EnableLPIs was cleared are
	 * ordered by the LPI's lock (vgic_lpi.c).
	 */
	atomic_bool lpis_enabled;
	bool pendbaser_ptz; /* PENDBASER was last written with PTZ: the pending table is zero */
	uint64_t propbaser, pendbaser;
	/* True between flush and sync; other threads read it to refuse save/restore. */
	atomic_bool loaded;

	/* flush's scratch, one slot per IRQ each; used with ap_list_lock held. */
	struct vgic_sort_ent *sort_buf;
	struct vgic_irq **migrate_buf;
};

/* An address attribute of the ADDR group: where it is stored and how it is checked. */
struct vgic_addr_desc {
	uint64_t type; /* IVY_VGIC_V*_ADDR_TYPE_* */
	size_t field;  /* offsetof(struct vgic_dist, ...) of the ivy_gpa_t */
	uint64_t size; /* checked at set time (one redistributor for REDIST) */
	uint64_t align;
};

/* What differs between GIC models; the core and the control plane call through this table. */
struct vgic_model {
	uint32_t type; /* IVY_DEV_TYPE_ARM_VGIC_* */
	uint32_t max_vcpus;
	bool sgi_sources;  /* GICv2: SGIs keep one pending bit per source CPU */
	bool cpu_by_mpidr; /* attributes name vCPUs by MPIDR (GICv3) rather than index */
	const struct vgic_addr_desc *addrs;
	size_t nr_addrs;
	const struct vgic_frame *dist_frame;   /* DIST_REGS */
	const struct vgic_frame *cpu_frame;    /* CPU_REGS (GICv2), or NULL */
	const struct vgic_frame *sysreg_frame; /* CPU_SYSREGS (GICv3), or NULL */
	/* REDIST_REGS (GICv3): the frame holding *offset, made relative to it; NULL if none. */
	const struct vgic_frame *(*redist_frame)(uint32_t *offset);
	/* Called once the IRQs exist (dist->config_lock held): model-specific reset values. */
	void (*init)(struct vgic_dist *dist);
	/* Maps the frames on the MMIO bus (config_lock held). */
	int (*map)(struct vgic_dist *dist);
	void (*unmap)(struct vgic_dist *dist);
	/* LPIs (GICv3): returns a referenced IRQ or NULL; put drops the reference. */
	struct vgic_irq *(*lpi_get)(struct vgic_dist *dist, uint32_t intid);
	void (*lpi_put)(struct vgic_dist *dist, struct vgic_irq *irq);
};

/* A GICv3 redistributor region (KVM's REDIST / REDIST_REGION address attributes). */
#define VGIC_MAX_RDREGS 16
struct vgic_rdreg {
	struct vgic_dist *dist;
	ivy_gpa_t base;
	uint32_t count;	    /* redistributors it can hold; 0: legacy REDIST, one per vCPU */
	uint32_t first_cpu; /* vCPU index of its first redistributor (set when mapped) */
	uint32_t used;	    /* redistributors in use (set when mapped) */
	struct ivy_mmio_region *mmio;
};

struct vgic_resample {
	uint32_t intid;
	void (*fn)(void *opaque);
	void *opaque;
};

struct vgic_dist {
	struct ivy_vm *vm;
	const struct vgic_model *model;

	/*
	 * Protects: initialisation and configuration (nr_irqs, nr_lrs, addresses,
	 * cpus[], spis[]). Readers on the fast paths check `initialized` /
	 * `ready` (acquire) instead.
	 */
	pthread_mutex_t config_lock;
	atomic_bool initialized; /* IRQ state allocated (CTRL_INIT, or lazily) */
	atomic_bool ready;	 /* frames mapped (first vCPU run) */
	uint32_t nr_irqs;	 /* 0 until set or initialised */
	uint32_t nr_lrs;
	uint32_t nr_cpus;	/* cpus[] entries: highest vCPU index + 1 */
	uint32_t present_cpus;	/* GICv2: bit per existing vCPU */
	struct vgic_cpu **cpus; /* by vCPU index; NULL for absent indices */
	struct vgic_irq *spis;	/* nr_irqs - 32 entries */

	ivy_gpa_t dist_base, cpu_base, v2m_base, redist_base;
	uint32_t v2m_spi_base, v2m_nr_spis;
	struct ivy_mmio_region *dist_region, *cpu_region, *v2m_region;
	/* GICv3 redistributor regions: one legacy REDIST (count 0) or REDIST_REGIONs. */
	struct vgic_rdreg rdregs[VGIC_MAX_RDREGS];
	uint32_t nr_rdregs;
	atomic_bool has_its; /* GICv3: an ITS was attached (GICD_TYPER.IDbits); never cleared */
	/*
	 * GICv3: the last GICR_PROPBASER value a redistributor accepted. The LPI
	 * configuration table is one per VM (the architecture makes differing
	 * PROPBASERs UNPREDICTABLE); like KVM, ivy reads LPI configuration from it,
	 * whichever redistributor the LPI targets and whether that one has
	 * programmed its own PROPBASER yet.
	 */
	_Atomic uint64_t propbaser;

	atomic_uint ctlr; /* GICD_CTLR: EnableGrp0 (bit 0), EnableGrp1 (bit 1) */

	/* Protects: lpis[] slots and LPI reference counts reaching zero (vgic_lpi.c). */
	pthread_mutex_t lpi_lock;
	struct vgic_irq **lpis; /* by INTID - 8192; allocated with the first LPI */

	/* Protects: resample[]; readers run the hooks under the read lock. */
	pthread_rwlock_t resample_lock;
	struct vgic_resample *resample;
	uint32_t nr_resample, cap_resample;
};

/* Core (vgic.c). */
struct vgic_dist *vgic_dist_alloc(struct ivy_vm *vm, const struct vgic_model *model);
void vgic_dist_free(struct vgic_dist *dist);
int vgic_init_locked(struct vgic_dist *dist);
int vgic_lazy_init(struct vgic_dist *dist);
int vgic_map(struct vgic_dist *dist);
/*
 * The IRQ for intid as seen by vCPU vc (private IRQs), or NULL if there is none.
 * The caller must vgic_put_irq() it (a no-op except for LPIs).
 */
struct vgic_irq *vgic_get_irq(struct vgic_dist *dist, struct vgic_cpu *vc, uint32_t intid);
void vgic_put_irq(struct vgic_dist *dist, struct vgic_irq *irq);
bool vgic_irq_is_pending(const struct vgic_irq *irq);
/* Called with irq->lock held; releases it. Puts the IRQ on its target's ap_list and kicks. */
void vgic_queue_irq_unlock(struct vgic_dist *dist, struct vgic_irq *irq);
/* Re-evaluates every IRQ (after GICD_CTLR changes). */
void vgic_requeue_all(struct vgic_dist *dist);
void vgic_kick(struct vgic_dist *dist, struct vgic_cpu *vc);
int vgic_inject(struct vgic_dist *dist, struct vgic_cpu *vc, uint32_t intid, bool level);
/* One edge on an interrupt (GICv2m SETSPI, MSIs). */
void vgic_pulse(struct vgic_dist *dist, struct vgic_irq *irq);
void vgic_flush_cpu(struct vgic_cpu *vc);
void vgic_sync_cpu(struct vgic_cpu *vc);
bool vgic_any_loaded(struct vgic_dist *dist);
struct vgic_cpu *vgic_cpu_of(struct vgic_dist *dist, uint32_t index);
/* Same without the initialisation check, for initialisation itself and after it. */
struct vgic_cpu *vgic_cpu_lookup(struct vgic_dist *dist, uint32_t index);
void vgic_set_spi_target(struct vgic_irq *irq, struct vgic_dist *dist);

/* Register descriptors and the dispatcher (vgic_mmio.c). */
#define VGIC_W8	 (1u << 0)
#define VGIC_W16 (1u << 1)
#define VGIC_W32 (1u << 2)
#define VGIC_W64 (1u << 3)

/* The register has side effects on read (GICC_IAR) or none to save: no host access. */
#define VGIC_REG_NO_HOST (1u << 0)
/* A plain register 64 bits wide (narrower accesses read or merge into part of it). */
#define VGIC_REG_64 (1u << 1)
/*
 * A per-IRQ bank whose irq_read loads one atomic field: a read takes no IRQ
 * lock. Each field is read once, as with the locks (which were taken one IRQ
 * at a time and never gave a snapshot of the whole register either), and
 * a 32-bit read no longer takes and drops 32 locks.
 */
#define VGIC_REG_LOCKLESS_READ (1u << 2)

/* Who is accessing: the guest on a vCPU, or the host (save/restore) naming a vCPU. */
struct vgic_access {
	struct vgic_dist *dist;
	struct vgic_cpu *vc;
	bool host;
};

struct vgic_reg {
	uint32_t offset;
	uint32_t len;	      /* bytes covered: one register, or a whole per-IRQ bank */
	uint8_t bits_per_irq; /* 0: a plain register; else a bank indexed by INTID from 0 */
	uint8_t widths;	      /* VGIC_W* the guest may use */
	uint8_t flags;	      /* VGIC_REG_* */
	/* Plain registers (32 bits, or 64 with VGIC_REG_64). NULL read: RAZ; NULL write: WI. */
	uint64_t (*read)(const struct vgic_access *acc, uint32_t offset);
	void (*write)(const struct vgic_access *acc, uint32_t offset, uint64_t val);
	/* Per-IRQ banks: one INTID's field. */
	uint64_t (*irq_read)(const struct vgic_access *acc, struct vgic_irq *irq);
	void (*irq_write)(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
	/*
	 * Host (save/restore) accessors; NULL means the guest's. host_irq_check
	 * validates every field of a write before anything is written (all or nothing).
	 */
	uint64_t (*host_read)(const struct vgic_access *acc, uint32_t offset);
	int (*host_write)(const struct vgic_access *acc, uint32_t offset, uint64_t val);
	uint64_t (*host_irq_read)(const struct vgic_access *acc, struct vgic_irq *irq);
	int (*host_irq_check)(const struct vgic_access *acc, uint32_t intid, uint64_t field);
	void (*host_irq_write)(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
};

/*
 * A frame's direct lookup, built from its table on first use and kept, like
 * the table, for the life of the process: one byte per granule of
 * [lo, lo + (nr << shift)) holding the index + 1 of the descriptor that covers
 * it, or 0. The granule divides every descriptor's offset and length, so a
 * granule never straddles two registers.
 */
struct vgic_frame_map {
	uint32_t lo, nr;
	unsigned shift;
	uint8_t slot[];
};

/* Where a frame keeps its map; NULL map until built (or if it could not be). */
struct vgic_frame_lookup {
	_Atomic(const struct vgic_frame_map *) map;
};

/* The mutable lookup of a `static const` frame: a file-scope compound literal has static storage. */
#define VGIC_FRAME_LOOKUP (&(struct vgic_frame_lookup){ NULL })

struct vgic_frame {
	const char *name;
	uint32_t size;
	const struct vgic_reg *regs;
	size_t nr_regs;
	/* Optional (VGIC_FRAME_LOOKUP): without one, descriptors are found by binary search. */
	struct vgic_frame_lookup *lookup;
};

/* 0 if the table is sorted, without overlaps, and each descriptor is coherent. */
int vgic_frame_check(const struct vgic_frame *frame);
/* vgic_frame_find() before the frame's map exists, or without one. */
const struct vgic_reg *vgic_frame_find_slow(const struct vgic_frame *frame, uint32_t offset);

/*
 * The descriptor covering `offset`, or NULL. Every trapped register access
 * comes here, so the frame's map answers in one load where a binary search
 * would visit descriptors that each sit on their own cache line.
 */
static inline const struct vgic_reg *vgic_frame_find(const struct vgic_frame *frame,
						     uint32_t offset)
{
	/* Acquire: pairs with the release that publishes the map's contents. */
	const struct vgic_frame_map *m =
		frame->lookup ? atomic_load_explicit(&frame->lookup->map, memory_order_acquire)
			      : NULL;
	uint32_t g;

	if (!m)
		return vgic_frame_find_slow(frame, offset);
	g = (offset - m->lo) >> m->shift;
	if (offset < m->lo || g >= m->nr || !m->slot[g])
		return NULL;
	return &frame->regs[m->slot[g] - 1];
}
/* Guest accesses other than to one whole plain register: banks, parts, RAZ/WI. */
uint64_t vgic_mmio_read_any(const struct vgic_frame *frame, const struct vgic_access *acc,
			    uint64_t offset, unsigned len);
void vgic_mmio_write_any(const struct vgic_frame *frame, const struct vgic_access *acc,
			 uint64_t offset, unsigned len, uint64_t val);

/* The width of a plain register: 32 bits, or 64 with VGIC_REG_64. */
static inline unsigned vgic_reg_bytes(const struct vgic_reg *r)
{
	return (r->flags & VGIC_REG_64) ? 8 : 4;
}

/*
 * The descriptor of the plain register a guest access covers exactly (aligned,
 * the register's width, a width the register allows), or NULL. Plain
 * registers start at a multiple of their width (vgic_frame_check()), so the
 * access's offset is the register's.
 */
static inline const struct vgic_reg *vgic_mmio_whole(const struct vgic_frame *frame,
						     uint64_t offset, unsigned len)
{
	const struct vgic_reg *r;

	if (offset >= frame->size || (offset & (len - 1)))
		return NULL;
	r = vgic_frame_find(frame, (uint32_t)offset);
	if (!r || r->bits_per_irq || !(r->widths & len) || len != vgic_reg_bytes(r) ||
	    offset + len > (uint64_t)r->offset + r->len)
		return NULL;
	return r;
}

/*
 * A guest access to a frame. Whole plain registers, most of what guests do
 * (acknowledge, EOI, control and ID registers), are dispatched inline in each
 * frame's handler; everything else goes through the _any functions, which
 * give the same answer for these too.
 */
static inline uint64_t vgic_mmio_read(const struct vgic_frame *frame, const struct vgic_access *acc,
				      uint64_t offset, unsigned len)
{
	const struct vgic_reg *r = vgic_mmio_whole(frame, offset, len);

	if (r && r->read)
		return r->read(acc, (uint32_t)offset) & (len == 8 ? ~0ull : 0xffffffffull);
	return vgic_mmio_read_any(frame, acc, offset, len);
}

static inline void vgic_mmio_write(const struct vgic_frame *frame, const struct vgic_access *acc,
				   uint64_t offset, unsigned len, uint64_t val)
{
	const struct vgic_reg *r = vgic_mmio_whole(frame, offset, len);

	if (r && r->write)
		r->write(acc, (uint32_t)offset, val);
	else
		vgic_mmio_write_any(frame, acc, offset, len, val);
}
int vgic_host_read(const struct vgic_frame *frame, const struct vgic_access *acc, uint32_t offset,
		   uint32_t *val);
int vgic_host_write(const struct vgic_frame *frame, const struct vgic_access *acc, uint32_t offset,
		    uint32_t val);
/* The same, 64 bits at a time, for plain VGIC_REG_64 registers (system registers). */
int vgic_host_read64(const struct vgic_frame *frame, const struct vgic_access *acc, uint32_t offset,
		     uint64_t *val);
int vgic_host_write64(const struct vgic_frame *frame, const struct vgic_access *acc,
		      uint32_t offset, uint64_t val);

/* Per-IRQ fields shared by the frames (vgic_irq_regs.c). */
uint64_t vgic_read_group(const struct vgic_access *acc, struct vgic_irq *irq);
void vgic_write_group(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
uint64_t vgic_read_enable(const struct vgic_access *acc, struct vgic_irq *irq);
void vgic_write_senable(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
void vgic_write_cenable(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
uint64_t vgic_read_pending(const struct vgic_access *acc, struct vgic_irq *irq);
uint64_t vgic_host_read_pending(const struct vgic_access *acc, struct vgic_irq *irq);
void vgic_write_spending(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
void vgic_write_cpending(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
uint64_t vgic_read_active(const struct vgic_access *acc, struct vgic_irq *irq);
void vgic_write_sactive(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
void vgic_write_cactive(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
uint64_t vgic_read_priority(const struct vgic_access *acc, struct vgic_irq *irq);
void vgic_write_priority(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
int vgic_check_priority(const struct vgic_access *acc, uint32_t intid, uint64_t field);
uint64_t vgic_read_config(const struct vgic_access *acc, struct vgic_irq *irq);
void vgic_write_config(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field);
int vgic_check_config(const struct vgic_access *acc, uint32_t intid, uint64_t field);

/* The GICv2 frames. */
extern const struct vgic_frame vgic_v2_dist_frame;
extern const struct vgic_frame vgic_v2_cpu_frame;
extern const struct vgic_frame vgic_v2_gich_frame;
extern const struct vgic_frame vgic_v2m_frame;
extern const struct vgic_model vgic_v2_model;
extern const struct vgic_model vgic_v3_model;
extern const struct vgic_frame vgic_v3_dist_frame;
extern const struct vgic_frame vgic_v3_rd_frame;
extern const struct vgic_frame vgic_v3_sgi_frame;
extern const struct vgic_frame vgic_v3_icc_frame;
extern const struct vgic_frame vgic_v3_ich_frame;
extern const struct ivy_mmio_ops vgic_v3_dist_mmio_ops;
extern const struct ivy_mmio_ops vgic_v3_redist_mmio_ops;
extern const struct device_type vgic_v3_device_type;
void vgic_v3_set_spi_target(struct vgic_irq *irq, struct vgic_dist *dist);
const struct vgic_frame *vgic_v3_redist_frame(uint32_t *offset);
/*
 * The MMIO bracket of KVM's exits: a loaded vCPU's LRs are folded back around
 * an access (vgic.c).
 */
bool vgic_mmio_enter(struct vgic_cpu *vc);

/*
 * The same for a read, which changes nothing: with no list register in use
 * there is nothing to fold, so the distributor state is already what the guest
 * must see and the round trip through sync and flush is skipped (it was most of
 * the cost of a distributor read).
 */
static inline bool vgic_mmio_enter_read(struct vgic_cpu *vc)
{
	return vc->used_lrs != 0 && vgic_mmio_enter(vc);
}

static inline void vgic_mmio_leave(struct vgic_cpu *vc, bool loaded)
{
	if (loaded)
		vgic_flush_cpu(vc);
}
extern const struct ivy_mmio_ops vgic_v2_dist_mmio_ops;
extern const struct ivy_mmio_ops vgic_v2_cpu_mmio_ops;
extern const struct ivy_mmio_ops vgic_v2m_mmio_ops;
extern const struct device_type vgic_v2_device_type;

/* The software virtual CPU interface on the LRs (vgic_cpuif.c). */
uint32_t vgic_cpuif_running_priority(const struct vgic_cpu *vc);
int vgic_cpuif_highest_pending(const struct vgic_cpu *vc, int group);
bool vgic_cpuif_can_signal(const struct vgic_cpu *vc, const struct vgic_lr *lr);
uint32_t vgic_cpuif_lr_id(const struct vgic_lr *lr);
uint32_t vgic_cpuif_irq_lines(struct vgic_cpu *vc);
uint32_t vgic_cpuif_eisr(const struct vgic_cpu *vc);
uint32_t vgic_cpuif_elrsr(const struct vgic_cpu *vc);
uint32_t vgic_cpuif_misr(const struct vgic_cpu *vc);
/*
 * The hypervisor-interface state both models expose (GICH_* and ICH_*_EL2).
 * The setters validate first and change nothing on -EINVAL.
 * HCR: En, UIE, LRENPIE, NPIE, VGrp0EIE/DIE, VGrp1EIE/DIE [7:0] and EOICount [31:27].
 */
int vgic_cpuif_set_hcr(struct vgic_cpu *vc, uint64_t val);
/*
 * GICH_VMCR and ICH_VMCR_EL2 have one layout: the CPU interface's CTLR bits
 * [4:0] and [9], BPR1/ABPR [20:18], BPR0/BPR [23:21], and the priority mask in
 * [31:24] (GICv2's VMPriMask [31:27] is the same 5 implemented bits).
 */
#define VGIC_VMCR_CTLR_MASK  0x21full
#define VGIC_VMCR_ABPR_SHIFT 18
#define VGIC_VMCR_BPR_SHIFT  21
#define VGIC_VMCR_PMR_SHIFT  24
uint64_t vgic_cpuif_vmcr(const struct vgic_cpu *vc);
int vgic_cpuif_set_vmcr(struct vgic_cpu *vc, uint64_t val);
/* The active priorities set by acknowledges of one group (GICv3 AP0R0 / AP1R0). */
uint32_t vgic_cpuif_apr(const struct vgic_cpu *vc, bool group1);
/* Replaces them; bits that the other group holds are left to it. */
void vgic_cpuif_set_apr(struct vgic_cpu *vc, bool group1, uint32_t val);
/* LR n as last written or flushed (a zero LR beyond used_lrs); n < nr_lrs. */
struct vgic_lr vgic_cpuif_lr(const struct vgic_cpu *vc, uint32_t n);
/* Writes LR n (n < nr_lrs), extending used_lrs with empty LRs as needed. */
void vgic_cpuif_set_lr(struct vgic_cpu *vc, uint32_t n, const struct vgic_lr *lr);
void vgic_cpuif_maintenance(struct vgic_cpu *vc);
uint32_t vgic_cpuif_ack(struct vgic_cpu *vc, int i);
void vgic_cpuif_deactivate(struct vgic_cpu *vc, uint32_t intid, uint32_t source);
void vgic_cpuif_eoi(struct vgic_cpu *vc, uint32_t intid, uint32_t source);
/*
 * LPIs (vgic_lpi.c), for the ITS: create maps an INTID to a new (or the existing)
 * LPI targeting `target`; the pointer stays valid until the mapping is given back
 * with vgic_lpi_release(). inject returns 1 if made pending, 0 if the target
 * redistributor has LPIs disabled (dropped).
 */
int vgic_lpi_create(struct vgic_dist *dist, uint32_t intid, struct vgic_cpu *target,
		    struct vgic_irq **out);
void vgic_lpi_release(struct vgic_dist *dist, struct vgic_irq *irq);
int vgic_lpi_inject(struct vgic_dist *dist, struct vgic_irq *irq);
/* Same, first retargeting the LPI to vc (the redistributor an ITS translation names). */
int vgic_lpi_inject_to(struct vgic_dist *dist, struct vgic_irq *irq, struct vgic_cpu *vc);
/*
 * The LPI for intid without taking a reference, for a caller that holds one by
 * contract for as long as it uses the pointer (an ITS mapping, see vgic_its.c);
 * NULL if there is none.
 */
struct vgic_irq *vgic_lpi_peek(struct vgic_dist *dist, uint32_t intid);
void vgic_lpi_move(struct vgic_dist *dist, struct vgic_irq *irq, struct vgic_cpu *target);
struct vgic_irq *vgic_lpi_get(struct vgic_dist *dist, uint32_t intid);
void vgic_lpi_put(struct vgic_dist *dist, struct vgic_irq *irq);
/* Re-reads the configuration of LPI intid, or of all of vc's LPIs if intid is 0. */
void vgic_lpi_invalidate(struct vgic_dist *dist, struct vgic_cpu *vc, uint32_t intid);
void vgic_lpi_enable_changed(struct vgic_dist *dist, struct vgic_cpu *vc, bool enabled,
			     uint64_t pendbaser, bool ptz);
void vgic_lpi_free_all(struct vgic_dist *dist);
/* SAVE_PENDING_TABLES: every LPI's pending bit into its redistributor's table. */
int vgic_lpi_save_pending(struct vgic_dist *dist);

/*
 * The ITS connection (vgic_its.c). vgic_its_attach_all() installs the
 * redistributor ops on every ITS of the VM when a GICv3 is created;
 * vgic_its_detach_all() takes them back before it is destroyed. Both need
 * vm->config_lock.
 */
int vgic_its_attach_all(struct vgic_dist *dist);
void vgic_its_detach_all(struct vgic_dist *dist);

/* GICv2m (vgic_v2m.c): 1 delivered, 0 outside the frame's range. */
int vgic_v2m_setspi(struct vgic_dist *dist, uint32_t intid);

static inline void vgic_list_init(struct vgic_list *l)
{
	l->next = l->prev = l;
}

static inline bool vgic_list_empty(const struct vgic_list *l)
{
	return l->next == l;
}

static inline void vgic_list_add_tail(struct vgic_list *l, struct vgic_list *n)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}

static inline void vgic_list_del(struct vgic_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define vgic_irq_of_node(n) ((struct vgic_irq *)((char *)(n)-offsetof(struct vgic_irq, ap_node)))

#endif /* IVY_SRC_GIC_VGIC_H */
