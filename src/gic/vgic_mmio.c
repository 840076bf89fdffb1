/* SPDX-License-Identifier: MIT */
/*
 * The register dispatcher of every GIC frame. A frame is a static const table
 * of descriptors sorted by offset; this file finds the descriptor (through the
 * frame's map, vgic_frame_find(), or by binary search before the map exists),
 * checks the access width and alignment, and applies read-as-zero /
 * write-ignored to everything that does not match (GIC-CHOICES.md: such accesses
 * never stop the VM and are counted in IVY_STAT_GIC_BAD_ACCESS). Per-IRQ banks
 * are walked here, one INTID at a time, so each handler deals with one field of
 * one interrupt. Guest accessors cannot fail; host accessors return -errno.
 */
#include "gic/vgic.h"

#include <errno.h>
#include <stdlib.h>

static const struct vgic_reg *vgic_frame_search(const struct vgic_frame *frame, uint32_t offset)
{
	size_t lo = 0, hi = frame->nr_regs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vgic_reg *r = &frame->regs[mid];

		if (offset < r->offset)
			hi = mid;
		else if (offset >= r->offset + r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* Largest map built: a frame's registers span at most this many granules. */
#define VGIC_FRAME_MAP_MAX 0x10000u

/* The frame's direct lookup (struct vgic_frame_map), or NULL if it has too many registers. */
static struct vgic_frame_map *vgic_frame_map_build(const struct vgic_frame *frame)
{
	const struct vgic_reg *last = &frame->regs[frame->nr_regs - 1];
	uint32_t lo = frame->regs[0].offset, hi = last->offset + last->len;
	unsigned shift = 12;
	struct vgic_frame_map *m;

	if (frame->nr_regs >= UINT8_MAX)
		return NULL;
	for (size_t i = 0; i < frame->nr_regs; i++) {
		unsigned tz = (unsigned)__builtin_ctz(frame->regs[i].offset | frame->regs[i].len |
						      (1u << 12));

		shift = tz < shift ? tz : shift;
	}
	if ((hi - lo) >> shift > VGIC_FRAME_MAP_MAX)
		return NULL;
	m = calloc(1, sizeof(*m) + ((hi - lo) >> shift));
	if (!m)
		return NULL;
	*m = (struct vgic_frame_map){ .lo = lo, .nr = (hi - lo) >> shift, .shift = shift };
	for (size_t i = 0; i < frame->nr_regs; i++) {
		const struct vgic_reg *r = &frame->regs[i];

		for (uint32_t g = (r->offset - lo) >> shift; g < (r->offset + r->len - lo) >> shift;
		     g++)
			m->slot[g] = (uint8_t)(i + 1);
	}
	return m;
}

/* Builds and publishes the frame's map on first use; a racing builder frees its copy. */
const struct vgic_reg *vgic_frame_find_slow(const struct vgic_frame *frame, uint32_t offset)
{
	const struct vgic_frame_map *m = NULL;
	struct vgic_frame_map *built;

	if (!frame->lookup || frame->nr_regs == 0)
		return vgic_frame_search(frame, offset);
	built = vgic_frame_map_build(frame);
	if (!built)
		return vgic_frame_search(frame, offset);
	/* Release: publishes the map's contents to vgic_frame_find(). */
	if (!atomic_compare_exchange_strong_explicit(&frame->lookup->map, &m, built,
						     memory_order_release, memory_order_relaxed))
		free(built);
	return vgic_frame_find(frame, offset);
}

int vgic_frame_check(const struct vgic_frame *frame)
{
	for (size_t i = 0; i < frame->nr_regs; i++) {
		const struct vgic_reg *r = &frame->regs[i];

		if (r->len == 0 || r->offset + r->len > frame->size || r->widths == 0)
			return -EINVAL;
		if (i > 0 && frame->regs[i - 1].offset + frame->regs[i - 1].len > r->offset)
			return -EINVAL;
		if (r->bits_per_irq) {
			if (r->read || r->write || r->host_read || r->host_write || !r->irq_read ||
			    64 % r->bits_per_irq || (r->flags & VGIC_REG_64))
				return -EINVAL;
		} else if (r->irq_read || r->irq_write || r->host_irq_read || r->host_irq_check ||
			   r->host_irq_write || r->offset % vgic_reg_bytes(r)) {
			return -EINVAL;
		}
	}
	return 0;
}

/* The descriptor for a guest access, or NULL (after counting it) if it is RAZ/WI. */
static inline const struct vgic_reg *vgic_mmio_decode(const struct vgic_frame *frame,
						      const struct vgic_access *acc,
						      uint64_t offset, unsigned len)
{
	const struct vgic_reg *r = NULL;

	if (offset < frame->size && (offset & (len - 1)) == 0)
		r = vgic_frame_find(frame, (uint32_t)offset);
	/* A bank allows narrower accesses only within one register's worth of bytes. */
	if (!r || !(r->widths & len) || offset + len > (uint64_t)r->offset + r->len) {
		vm_stat_inc(acc->dist->vm, IVY_STAT_GIC_BAD_ACCESS);
		return NULL;
	}
	return r;
}

static uint64_t vgic_width_mask(unsigned bits)
{
	return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

/*
 * The INTIDs an access covers: `nr` whole fields from `first`, or, when the
 * access is narrower than one field (32-bit halves of GICD_IROUTER), one field
 * of which bits [shift, shift + len * 8) are accessed.
 */
struct vgic_bank_span {
	uint32_t first, nr, shift;
	bool partial;
};

static struct vgic_bank_span vgic_bank_span(const struct vgic_reg *r, uint32_t offset, unsigned len)
{
	uint32_t bit = (offset - r->offset) * 8;
	struct vgic_bank_span sp = { .first = bit / r->bits_per_irq };

	if (len * 8 >= r->bits_per_irq) {
		sp.nr = len * 8 / r->bits_per_irq;
	} else {
		sp.nr = 1;
		sp.partial = true;
		sp.shift = bit % r->bits_per_irq;
	}
	return sp;
}

static uint64_t vgic_field_get(const struct vgic_access *acc, struct vgic_irq *irq,
			       uint64_t (*fn)(const struct vgic_access *, struct vgic_irq *))
{
	uint64_t v;

	pthread_mutex_lock(&irq->lock);
	v = fn(acc, irq);
	pthread_mutex_unlock(&irq->lock);
	return v;
}

static uint64_t vgic_bank_read(const struct vgic_reg *r, const struct vgic_access *acc,
			       uint32_t offset, unsigned len,
			       uint64_t (*fn)(const struct vgic_access *, struct vgic_irq *))
{
	struct vgic_bank_span sp = vgic_bank_span(r, offset, len);
	uint64_t mask = vgic_width_mask(r->bits_per_irq), val = 0;

	for (uint32_t i = 0; i < sp.nr; i++) {
		/* INTIDs the GIC does not implement read as zero (architected, not counted). */
		struct vgic_irq *irq = vgic_get_irq(acc->dist, acc->vc, sp.first + i);
		uint64_t field;

		if (!irq)
			continue;
		field = ((r->flags & VGIC_REG_LOCKLESS_READ) ? fn(acc, irq)
							     : vgic_field_get(acc, irq, fn)) &
			mask;
		vgic_put_irq(acc->dist, irq);
		if (sp.partial)
			return (field >> sp.shift) & vgic_width_mask(len * 8);
		val |= field << (i * r->bits_per_irq);
	}
	return val;
}

/*
 * Writes a bank: with `check`, every field is validated first and nothing is
 * written unless all pass. Handlers lock the IRQ themselves (most end in
 * vgic_queue_irq_unlock()).
 */
static int vgic_bank_write(const struct vgic_reg *r, const struct vgic_access *acc, uint32_t offset,
			   unsigned len, uint64_t val,
			   void (*fn)(const struct vgic_access *, struct vgic_irq *, uint64_t),
			   int (*check)(const struct vgic_access *, uint32_t, uint64_t))
{
	struct vgic_bank_span sp = vgic_bank_span(r, offset, len);
	uint64_t mask = vgic_width_mask(r->bits_per_irq);
	uint64_t fields[64];

	for (uint32_t i = 0; i < sp.nr; i++) {
		fields[i] = (val >> (i * r->bits_per_irq)) & mask;
		if (sp.partial) {
			/* Merge the accessed half into the rest of the field. */
			struct vgic_irq *irq = vgic_get_irq(acc->dist, acc->vc, sp.first);
			uint64_t part = vgic_width_mask(len * 8) << sp.shift;

			if (!irq)
				return 0;
			fields[i] = (vgic_field_get(acc, irq, r->irq_read) & ~part) |
				    ((val << sp.shift) & part);
			vgic_put_irq(acc->dist, irq);
		}
		if (check) {
			/* INTIDs without an IRQ are RAZ/WI: there is nothing to check. */
			struct vgic_irq *irq = vgic_get_irq(acc->dist, acc->vc, sp.first + i);
			int ret = irq ? check(acc, sp.first + i, fields[i]) : 0;

			vgic_put_irq(acc->dist, irq);
			if (ret)
				return ret;
		}
	}
	for (uint32_t i = 0; i < sp.nr; i++) {
		struct vgic_irq *irq = vgic_get_irq(acc->dist, acc->vc, sp.first + i);

		if (!irq)
			continue;
		fn(acc, irq, fields[i]);
		vgic_put_irq(acc->dist, irq);
	}
	return 0;
}

static inline uint64_t vgic_plain_read(const struct vgic_reg *r, const struct vgic_access *acc,
				       uint32_t offset, unsigned len,
				       uint64_t (*fn)(const struct vgic_access *, uint32_t))
{
	unsigned size = vgic_reg_bytes(r);
	uint32_t reg = r->offset + ((offset - r->offset) & ~(size - 1));

	if (!fn)
		return 0;
	/* Narrow reads return the addressed bytes. */
	return (fn(acc, reg) >> ((offset - reg) * 8)) & vgic_width_mask(len * 8);
}

/* The full-register value a narrow write produces (merged with the current one). */
static uint64_t vgic_plain_merge(const struct vgic_reg *r, const struct vgic_access *acc,
				 uint32_t offset, unsigned len, uint64_t val, uint32_t *reg)
{
	unsigned size = vgic_reg_bytes(r), shift;
	uint64_t part;

	*reg = r->offset + ((offset - r->offset) & ~(size - 1));
	if (len >= size)
		return val;
	shift = (offset - *reg) * 8;
	part = vgic_width_mask(len * 8) << shift;
	if (!r->read)
		return (val << shift) & part;
	return (r->read(acc, *reg) & ~part) | ((val << shift) & part);
}

uint64_t vgic_mmio_read_any(const struct vgic_frame *frame, const struct vgic_access *acc,
			    uint64_t offset, unsigned len)
{
	const struct vgic_reg *r = vgic_mmio_decode(frame, acc, offset, len);

	if (!r)
		return 0;
	if (r->bits_per_irq)
		return vgic_bank_read(r, acc, (uint32_t)offset, len, r->irq_read);
	return vgic_plain_read(r, acc, (uint32_t)offset, len, r->read);
}

void vgic_mmio_write_any(const struct vgic_frame *frame, const struct vgic_access *acc,
			 uint64_t offset, unsigned len, uint64_t val)
{
	const struct vgic_reg *r = vgic_mmio_decode(frame, acc, offset, len);
	uint32_t reg;

	if (!r)
		return;
	if (r->bits_per_irq) {
		if (r->irq_write)
			(void)vgic_bank_write(r, acc, (uint32_t)offset, len, val, r->irq_write,
					      NULL);
		return;
	}
	if (r->write) {
		val = vgic_plain_merge(r, acc, (uint32_t)offset, len, val, &reg);
		r->write(acc, reg, val);
	}
}

/*
 * Host accesses are aligned and 32 bits wide, or 64 on a plain VGIC_REG_64
 * register; an offset without a register is -ENXIO.
 */
static const struct vgic_reg *vgic_host_decode(const struct vgic_frame *frame, uint32_t offset,
					       unsigned len)
{
	const struct vgic_reg *r;

	if (offset & (len - 1) || offset >= frame->size)
		return NULL;
	r = vgic_frame_find(frame, offset);
	if (!r || offset + len > r->offset + r->len || (r->flags & VGIC_REG_NO_HOST))
		return NULL;
	if (len == 8 && (r->bits_per_irq || !(r->flags & VGIC_REG_64)))
		return NULL;
	return r;
}

static int vgic_host_read_len(const struct vgic_frame *frame, const struct vgic_access *acc,
			      uint32_t offset, unsigned len, uint64_t *val)
{
	const struct vgic_reg *r = vgic_host_decode(frame, offset, len);

	if (!r)
		return -ENXIO;
	if (r->bits_per_irq)
		*val = vgic_bank_read(r, acc, offset, len,
				      r->host_irq_read ? r->host_irq_read : r->irq_read);
	else
		*val = vgic_plain_read(r, acc, offset, len, r->host_read ? r->host_read : r->read);
	return 0;
}

static int vgic_host_write_len(const struct vgic_frame *frame, const struct vgic_access *acc,
			       uint32_t offset, unsigned len, uint64_t val)
{
	const struct vgic_reg *r = vgic_host_decode(frame, offset, len);
	uint64_t full;
	uint32_t reg;

	if (!r)
		return -ENXIO;
	if (r->bits_per_irq) {
		void (*fn)(const struct vgic_access *, struct vgic_irq *, uint64_t) =
			r->host_irq_write ? r->host_irq_write : r->irq_write;

		if (!fn)
			return 0;
		return vgic_bank_write(r, acc, offset, len, val, fn, r->host_irq_check);
	}
	full = vgic_plain_merge(r, acc, offset, len, val, &reg);
	if (r->host_write)
		return r->host_write(acc, reg, full);
	if (r->write) {
		r->write(acc, reg, full);
		return 0;
	}
	/* A read-only register accepts its own value back (a restore) and nothing else. */
	return vgic_plain_read(r, acc, offset, len, r->read) == val ? 0 : -EINVAL;
}

int vgic_host_read(const struct vgic_frame *frame, const struct vgic_access *acc, uint32_t offset,
		   uint32_t *val)
{
	uint64_t v = 0;
	int ret = vgic_host_read_len(frame, acc, offset, 4, &v);

	if (!ret)
		*val = (uint32_t)v;
	return ret;
}

int vgic_host_write(const struct vgic_frame *frame, const struct vgic_access *acc, uint32_t offset,
		    uint32_t val)
{
	return vgic_host_write_len(frame, acc, offset, 4, val);
}

int vgic_host_read64(const struct vgic_frame *frame, const struct vgic_access *acc, uint32_t offset,
		     uint64_t *val)
{
	return vgic_host_read_len(frame, acc, offset, 8, val);
}

int vgic_host_write64(const struct vgic_frame *frame, const struct vgic_access *acc,
		      uint32_t offset, uint64_t val)
{
	return vgic_host_write_len(frame, acc, offset, 8, val);
}
