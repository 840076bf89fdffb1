/* SPDX-License-Identifier: MIT */
/*
 * The register dispatcher of every GIC frame. A frame is a static const table
 * of descriptors sorted by offset; this file finds the descriptor (binary
 * search), checks the access width and alignment, and applies read-as-zero /
 * write-ignored to everything that does not match (GIC-CHOICES.md: such accesses
 * never stop the VM and are counted in IVY_STAT_GIC_BAD_ACCESS). Per-IRQ banks
 * are walked here, one INTID at a time, so each handler deals with one field of
 * one interrupt. Guest accessors cannot fail; host accessors return -errno.
 */
#include "gic/vgic.h"

#include <errno.h>

const struct vgic_reg *vgic_frame_find(const struct vgic_frame *frame, uint32_t offset)
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
			    32 % r->bits_per_irq)
				return -EINVAL;
		} else if (r->irq_read || r->irq_write || r->host_irq_read || r->host_irq_check ||
			   r->host_irq_write) {
			return -EINVAL;
		}
	}
	return 0;
}

/* The descriptor for a guest access, or NULL (after counting it) if it is RAZ/WI. */
static const struct vgic_reg *vgic_mmio_decode(const struct vgic_frame *frame,
					       const struct vgic_access *acc, uint64_t offset,
					       unsigned len)
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

static uint32_t vgic_bank_first_intid(const struct vgic_reg *r, uint32_t offset)
{
	return (offset - r->offset) * 8 / r->bits_per_irq;
}

static uint32_t vgic_bank_read(const struct vgic_reg *r, const struct vgic_access *acc,
			       uint32_t offset, unsigned len,
			       uint32_t (*fn)(const struct vgic_access *, struct vgic_irq *))
{
	uint32_t first = vgic_bank_first_intid(r, offset);
	uint32_t nr = len * 8 / r->bits_per_irq;
	uint32_t mask = r->bits_per_irq == 32 ? ~0u : (1u << r->bits_per_irq) - 1;
	uint32_t val = 0;

	for (uint32_t i = 0; i < nr; i++) {
		/* INTIDs the GIC does not implement read as zero (architected, not counted). */
		struct vgic_irq *irq = vgic_get_irq(acc->dist, acc->vc, first + i);
		uint32_t field;

		if (!irq)
			continue;
		pthread_mutex_lock(&irq->lock);
		field = fn(acc, irq) & mask;
		pthread_mutex_unlock(&irq->lock);
		vgic_put_irq(acc->dist, irq);
		val |= field << (i * r->bits_per_irq);
	}
	return val;
}

static void vgic_bank_write(const struct vgic_reg *r, const struct vgic_access *acc,
			    uint32_t offset, unsigned len, uint32_t val,
			    void (*fn)(const struct vgic_access *, struct vgic_irq *, uint32_t))
{
	uint32_t first = vgic_bank_first_intid(r, offset);
	uint32_t nr = len * 8 / r->bits_per_irq;
	uint32_t mask = r->bits_per_irq == 32 ? ~0u : (1u << r->bits_per_irq) - 1;

	for (uint32_t i = 0; i < nr; i++) {
		struct vgic_irq *irq = vgic_get_irq(acc->dist, acc->vc, first + i);

		if (!irq)
			continue;
		/* Handlers lock the IRQ themselves: most end in vgic_queue_irq_unlock(). */
		fn(acc, irq, (val >> (i * r->bits_per_irq)) & mask);
		vgic_put_irq(acc->dist, irq);
	}
}

uint64_t vgic_mmio_read(const struct vgic_frame *frame, const struct vgic_access *acc,
			uint64_t offset, unsigned len)
{
	const struct vgic_reg *r = vgic_mmio_decode(frame, acc, offset, len);

	if (!r)
		return 0;
	if (r->bits_per_irq)
		return vgic_bank_read(r, acc, (uint32_t)offset, len, r->irq_read);
	if (!r->read)
		return 0;
	/* Plain registers are 32 bits; narrow reads return the addressed bytes. */
	return (r->read(acc, (uint32_t)offset & ~3u) >> ((offset & 3) * 8)) &
	       (len == 4 ? 0xffffffffu : (1u << (len * 8)) - 1);
}

void vgic_mmio_write(const struct vgic_frame *frame, const struct vgic_access *acc, uint64_t offset,
		     unsigned len, uint64_t val)
{
	const struct vgic_reg *r = vgic_mmio_decode(frame, acc, offset, len);

	if (!r)
		return;
	if (r->bits_per_irq) {
		if (r->irq_write)
			vgic_bank_write(r, acc, (uint32_t)offset, len, (uint32_t)val, r->irq_write);
		return;
	}
	/* Plain registers that allow narrow writes handle them by offset (none in GICv2). */
	if (r->write)
		r->write(acc, (uint32_t)offset, (uint32_t)val);
}

/* Host accesses are 32 bits wide and aligned; an offset without a register is -ENXIO. */
static const struct vgic_reg *vgic_host_decode(const struct vgic_frame *frame, uint32_t offset)
{
	const struct vgic_reg *r;

	if (offset & 3 || offset >= frame->size)
		return NULL;
	r = vgic_frame_find(frame, offset);
	if (!r || offset + 4 > r->offset + r->len || (r->flags & VGIC_REG_NO_HOST))
		return NULL;
	return r;
}

int vgic_host_read(const struct vgic_frame *frame, const struct vgic_access *acc, uint32_t offset,
		   uint32_t *val)
{
	const struct vgic_reg *r = vgic_host_decode(frame, offset);

	if (!r)
		return -ENXIO;
	if (r->bits_per_irq)
		*val = vgic_bank_read(r, acc, offset, 4,
				      r->host_irq_read ? r->host_irq_read : r->irq_read);
	else if (r->host_read)
		*val = r->host_read(acc, offset);
	else
		*val = r->read ? r->read(acc, offset) : 0;
	return 0;
}

int vgic_host_write(const struct vgic_frame *frame, const struct vgic_access *acc, uint32_t offset,
		    uint32_t val)
{
	const struct vgic_reg *r = vgic_host_decode(frame, offset);

	if (!r)
		return -ENXIO;
	if (!r->bits_per_irq) {
		if (r->host_write)
			return r->host_write(acc, offset, val);
		if (r->write) {
			r->write(acc, offset, val);
			return 0;
		}
		/* A read-only register accepts its own value back (a restore) and nothing else. */
		return (r->read ? r->read(acc, offset) : 0) == val ? 0 : -EINVAL;
	}
	if (r->host_irq_check) {
		uint32_t first = vgic_bank_first_intid(r, offset);
		uint32_t nr = 32 / r->bits_per_irq;
		uint32_t mask = r->bits_per_irq == 32 ? ~0u : (1u << r->bits_per_irq) - 1;

		for (uint32_t i = 0; i < nr; i++) {
			int ret = r->host_irq_check(acc, first + i,
						    (val >> (i * r->bits_per_irq)) & mask);
			if (ret)
				return ret;
		}
	}
	if (r->host_irq_write)
		vgic_bank_write(r, acc, offset, 4, val, r->host_irq_write);
	else if (r->irq_write)
		vgic_bank_write(r, acc, offset, 4, val, r->irq_write);
	return 0;
}
