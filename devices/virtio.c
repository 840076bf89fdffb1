/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci modern transport and split virtqueues.
 *
 * Register map of the common configuration structure (4.1.4.3), at
 * VIRTIO_COMMON_OFF in BAR 4:
 *   0x00 device_feature_select  0x04 device_feature (RO)  0x08 driver_feature_select
 *   0x0c driver_feature         0x10 config_msix_vector   0x12 num_queues (RO)
 *   0x14 device_status (8)      0x15 config_generation (8, RO)
 *   0x16 queue_select           0x18 queue_size           0x1a queue_msix_vector
 *   0x1c queue_enable           0x1e queue_notify_off (RO)
 *   0x20 queue_desc (64)        0x28 queue_driver (64)    0x30 queue_device (64)
 */
#include "virtio.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#define COMMON_SIZE 0x38

/* virtio_pci_cap (4.1.4), as laid out after the generic id/next bytes. */
enum {
	VIRTIO_PCI_CAP_COMMON_CFG = 1,
	VIRTIO_PCI_CAP_NOTIFY_CFG = 2,
	VIRTIO_PCI_CAP_ISR_CFG = 3,
	VIRTIO_PCI_CAP_DEVICE_CFG = 4
};

static int add_virtio_cap(struct pci_func *fn, uint8_t type, uint32_t off, uint32_t len,
			  bool notify)
{
	uint8_t cap[20] = { 0 };
	size_t size = notify ? 20 : 16;

	cap[2] = (uint8_t)size; /* cap_len */
	cap[3] = type;
	cap[4] = VIRTIO_BAR;
	for (int i = 0; i < 4; i++) {
		cap[8 + i] = (uint8_t)(off >> (8 * i));
		cap[12 + i] = (uint8_t)(len >> (8 * i));
		cap[16 + i] = notify ? (uint8_t)(VIRTIO_NOTIFY_MULT >> (8 * i)) : 0;
	}
	return pci_func_add_cap(fn, PCI_CAP_ID_VNDR, cap, size);
}

static uint64_t virtio_bar_read(struct pci_func *fn, int bar, uint64_t off, unsigned len);
static void virtio_bar_write(struct pci_func *fn, int bar, uint64_t off, unsigned len,
			     uint64_t val);

static const struct pci_bar_ops virtio_bar_ops = { .read = virtio_bar_read,
						   .write = virtio_bar_write };

static uint64_t offered_features(const struct virtio_dev *dev)
{
	return dev->ops->features | 1ull << VIRTIO_F_VERSION_1;
}

int virtio_dev_init(struct virtio_dev *dev, uint16_t bdf, const struct virtio_dev_ops *ops,
		    const struct virtio_mem_ops *mem, void *mem_opaque,
		    const struct pci_host_ops *pci_host, void *host_opaque)
{
	struct pci_id id;
	struct pci_func *fn = &dev->pci;
	int ret;

	if (!dev || !ops || !mem || !mem->read || !mem->write || ops->nr_queues == 0 ||
	    ops->nr_queues > VIRTIO_MAX_QUEUES || ops->config_size > VIRTIO_CONFIG_MAX ||
	    !ops->queue_notify)
		return -EINVAL;
	memset(dev, 0, sizeof(*dev));
	id = (struct pci_id){ .vendor = VIRTIO_PCI_VENDOR,
			      .device = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id),
			      .subsys_vendor = VIRTIO_PCI_VENDOR,
			      .subsys = 0x40, /* modern-only devices: >= 0x40 (4.1.2.1) */
			      .revision = 1,
			      .class_code = ops->class_code };
	ret = pci_func_init(fn, bdf, &id, &virtio_bar_ops, pci_host, host_opaque, dev);
	if (ret)
		return ret;
	dev->ops = ops;
	dev->mem = mem;
	dev->mem_opaque = mem_opaque;
	dev->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->vq[q] = (struct virtq){ .size = VIRTQ_MAX_SIZE,
					     .msix_vector = VIRTIO_MSI_NO_VECTOR };
	if ((ret = pci_func_add_bar(fn, VIRTIO_MSIX_BAR, 0x1000, false)) ||
	    (ret = pci_func_add_bar(fn, VIRTIO_BAR, VIRTIO_BAR_SIZE, true)) ||
	    (ret = pci_func_add_msix(fn, (uint16_t)(ops->nr_queues + 1), VIRTIO_MSIX_BAR, 0,
				     0x800)))
		goto err;
	if ((ret = add_virtio_cap(fn, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_COMMON_OFF, COMMON_SIZE,
				  false)) < 0 ||
	    (ret = add_virtio_cap(fn, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_ISR_OFF, 1, false)) < 0 ||
	    (ret = add_virtio_cap(fn, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_DEVICE_OFF,
				  ops->config_size ? ops->config_size : 1, false)) < 0 ||
	    (ret = add_virtio_cap(fn, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_NOTIFY_OFF,
				  VIRTIO_NOTIFY_MULT * ops->nr_queues, true)) < 0)
		goto err;
	pthread_mutex_init(&dev->lock, NULL);
	return 0;
err:
	pci_func_free(fn);
	return ret < 0 ? ret : -EINVAL;
}

void virtio_dev_free(struct virtio_dev *dev)
{
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
	pci_func_free(&dev->pci);
	pthread_mutex_destroy(&dev->lock);
}

static void virtio_reset_locked(struct virtio_dev *dev)
{
	dev->device_feature_select = dev->driver_feature_select = 0;
	dev->driver_features = 0;
	dev->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
	dev->status = 0;
	dev->queue_select = 0;
	dev->isr = 0;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->vq[q] = (struct virtq){ .size = VIRTQ_MAX_SIZE,
					     .msix_vector = VIRTIO_MSI_NO_VECTOR };
	pci_intx_set(&dev->pci, false);
	if (dev->ops->reset)
		dev->ops->reset(dev);
}

void virtio_dev_reset(struct virtio_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	virtio_reset_locked(dev);
	pci_func_reset(&dev->pci);
	pthread_mutex_unlock(&dev->lock);
}

/* Interrupts the driver: its MSI-X vector, or the ISR bit and INTx. */
static void virtio_interrupt(struct virtio_dev *dev, uint16_t vector, uint8_t isr_bit)
{
	if (pci_msix_enabled(&dev->pci)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			pci_msix_notify(&dev->pci, vector);
		return;
	}
	dev->isr |= isr_bit;
	pci_intx_set(&dev->pci, true);
}

/* The driver broke a rule of the ring: stop using the queues until reset (2.1.2). */
static void virtio_needs_reset(struct virtio_dev *dev)
{
	dev->stat_bad_chain++;
	if (dev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;
	dev->config_generation++;
	virtio_interrupt(dev, dev->config_msix_vector, 2);
}

static bool virtio_running(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static uint64_t common_read(struct virtio_dev *dev, uint64_t off)
{
	struct virtq *vq =
		dev->queue_select < dev->ops->nr_queues ? &dev->vq[dev->queue_select] : NULL;

	switch (off) {
	case 0x00: return dev->device_feature_select;
	case 0x04:
		return dev->device_feature_select < 2
			       ? (uint32_t)(offered_features(dev) >>
					    (32 * dev->device_feature_select))
			       : 0;
	case 0x08: return dev->driver_feature_select;
	case 0x0c:
		return dev->driver_feature_select < 2
			       ? (uint32_t)(dev->driver_features >>
					    (32 * dev->driver_feature_select))
			       : 0;
	case 0x10: return dev->config_msix_vector;
	case 0x12: return dev->ops->nr_queues;
	case 0x14: return dev->status;
	case 0x15: return dev->config_generation;
	case 0x16: return dev->queue_select;
	/* A queue_select beyond num_queues reads queue_size 0: "not available" (4.1.4.3). */
	case 0x18: return vq ? vq->size : 0;
	case 0x1a: return vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR;
	case 0x1c: return vq ? vq->enabled : 0;
	case 0x1e: return vq ? dev->queue_select : 0;
	case 0x20: return vq ? vq->desc : 0;
	case 0x28: return vq ? vq->avail : 0;
	case 0x30: return vq ? vq->used : 0;
	default: return 0;
	}
}

static void set_status(struct virtio_dev *dev, uint8_t val)
{
	if (val == 0) {
		virtio_reset_locked(dev);
		return;
	}
	/* FEATURES_OK sticks only if the driver accepted a subset including VERSION_1 (3.1.1). */
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(dev->status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((dev->driver_features & ~offered_features(dev)) ||
	     !(dev->driver_features >> VIRTIO_F_VERSION_1 & 1)))
		val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	/* NEEDS_RESET is the device's to set; the driver cannot clear it without a reset. */
	dev->status = (uint8_t)((val & ~VIRTIO_STATUS_NEEDS_RESET) |
				(dev->status & VIRTIO_STATUS_NEEDS_RESET));
}

static uint64_t *queue_addr_field(struct virtq *vq, uint64_t off)
{
	switch (off & ~7ull) {
	case 0x20: return &vq->desc;
	case 0x28: return &vq->avail;
	default: return &vq->used;
	}
}

static void common_write(struct virtio_dev *dev, uint64_t off, unsigned len, uint64_t val)
{
	struct virtq *vq =
		dev->queue_select < dev->ops->nr_queues ? &dev->vq[dev->queue_select] : NULL;

	switch (off) {
	case 0x00: dev->device_feature_select = (uint32_t)val; return;
	case 0x08: dev->driver_feature_select = (uint32_t)val; return;
	case 0x0c:
		/* Features are fixed once FEATURES_OK is set (3.1.1). */
		if (dev->driver_feature_select < 2 && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * dev->driver_feature_select;

			dev->driver_features = (dev->driver_features & ~(0xffffffffull << sh)) |
					       ((val & 0xffffffffull) << sh);
		}
		return;
	case 0x10: dev->config_msix_vector = (uint16_t)val; return;
	case 0x14: set_status(dev, (uint8_t)val); return;
	case 0x16: dev->queue_select = (uint16_t)val; return;
	case 0x18:
		if (vq && !vq->enabled)
			vq->size = (uint16_t)val;
		return;
	case 0x1a:
		if (vq)
			vq->msix_vector = (uint16_t)val;
		return;
	case 0x1c:
		/* Only a power-of-two size up to the maximum makes a usable ring (2.7). */
		if (vq && val == 1 && vq->size && vq->size <= VIRTQ_MAX_SIZE &&
		    !(vq->size & (vq->size - 1))) {
			vq->enabled = true;
			vq->last_avail = vq->used_idx = 0;
		}
		return;
	case 0x20:
	case 0x24:
	case 0x28:
	case 0x2c:
	case 0x30:
	case 0x34:
		if (vq && !vq->enabled && (len == 4 || (len == 8 && !(off & 4)))) {
			uint64_t *f = queue_addr_field(vq, off);
			unsigned sh = (off & 4) * 8;
			uint64_t m = len == 8 ? ~0ull : 0xffffffffull << sh;

			*f = (*f & ~m) | ((val << sh) & m);
		}
		return;
	default: return;
	}
}

static uint64_t virtio_bar_read(struct pci_func *fn, int bar, uint64_t off, unsigned len)
{
	struct virtio_dev *dev = fn->dev;
	uint64_t v = 0;

	if (bar != VIRTIO_BAR)
		return 0;
	if (off < VIRTIO_COMMON_OFF + COMMON_SIZE) {
		/* Each field has one natural width; others read as zero. */
		static const uint8_t width[COMMON_SIZE] = {
			[0x00] = 4, [0x04] = 4, [0x08] = 4, [0x0c] = 4, [0x10] = 2,
			[0x12] = 2, [0x14] = 1, [0x15] = 1, [0x16] = 2, [0x18] = 2,
			[0x1a] = 2, [0x1c] = 2, [0x1e] = 2, [0x20] = 8, [0x24] = 4,
			[0x28] = 8, [0x2c] = 4, [0x30] = 8, [0x34] = 4,
		};
		uint64_t field = off - VIRTIO_COMMON_OFF;

		if (field >= 0x20 && (width[field] == len || (len == 4 && !(field & 3)))) {
			/* The 64-bit queue addresses may be read whole or in 32-bit halves. */
			v = common_read(dev, field & ~7ull);
			if (len == 4)
				v = (uint32_t)(v >> ((field & 4) * 8));
		} else if (width[field] == len) {
			v = common_read(dev, field);
		}
	} else if (off == VIRTIO_ISR_OFF) {
		/* Reading ISR acknowledges the interrupt (4.1.4.5). */
		v = dev->isr;
		dev->isr = 0;
		pci_intx_set(&dev->pci, false);
	} else if (off >= VIRTIO_DEVICE_OFF && off - VIRTIO_DEVICE_OFF < dev->ops->config_size) {
		uint64_t o = off - VIRTIO_DEVICE_OFF;

		for (unsigned i = 0; i < len && o + i < dev->ops->config_size; i++)
			v |= (uint64_t)dev->config[o + i] << (8 * i);
	}
	return v;
}

static void virtio_bar_write(struct pci_func *fn, int bar, uint64_t off, unsigned len, uint64_t val)
{
	struct virtio_dev *dev = fn->dev;

	if (bar != VIRTIO_BAR)
		return;
	if (off < VIRTIO_COMMON_OFF + COMMON_SIZE) {
		common_write(dev, off - VIRTIO_COMMON_OFF, len, val);
	} else if (off >= VIRTIO_NOTIFY_OFF &&
		   off - VIRTIO_NOTIFY_OFF < (uint64_t)VIRTIO_NOTIFY_MULT * dev->ops->nr_queues) {
		uint16_t q = (uint16_t)((off - VIRTIO_NOTIFY_OFF) / VIRTIO_NOTIFY_MULT);

		if (virtio_running(dev) && dev->vq[q].enabled)
			dev->ops->queue_notify(dev, q);
	}
	/* The device configuration of ivy's devices is read-only; ISR is read-only. */
}

uint32_t virtio_cfg_read(struct virtio_dev *dev, uint32_t reg, unsigned len)
{
	uint32_t v;

	pthread_mutex_lock(&dev->lock);
	v = pci_cfg_read(&dev->pci, reg, len);
	pthread_mutex_unlock(&dev->lock);
	return v;
}

void virtio_cfg_write(struct virtio_dev *dev, uint32_t reg, unsigned len, uint32_t val)
{
	pthread_mutex_lock(&dev->lock);
	pci_cfg_write(&dev->pci, reg, len, val);
	pthread_mutex_unlock(&dev->lock);
}

bool virtio_mmio(struct virtio_dev *dev, uint64_t gpa, unsigned len, bool is_write, uint64_t *val)
{
	bool hit;

	pthread_mutex_lock(&dev->lock);
	hit = pci_bar_access(&dev->pci, gpa, len, is_write, val);
	pthread_mutex_unlock(&dev->lock);
	return hit;
}

static int mem_read16(struct virtio_dev *dev, uint64_t gpa, uint16_t *v)
{
	uint8_t b[2];
	int ret = dev->mem->read(dev->mem_opaque, gpa, b, 2);

	*v = (uint16_t)(b[0] | b[1] << 8);
	return ret;
}

static int mem_write16(struct virtio_dev *dev, uint64_t gpa, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	return dev->mem->write(dev->mem_opaque, gpa, b, 2);
}

int virtq_pop(struct virtio_dev *dev, struct virtq *vq, struct virtq_elem *elem)
{
	uint16_t avail_idx, head, idx;
	unsigned walked = 0;

	if (!virtio_running(dev) || !vq->enabled)
		return 0;
	if (mem_read16(dev, vq->avail + 2, &avail_idx))
		goto bad;
	if (avail_idx == vq->last_avail)
		return 0;
	/* More new entries than the ring holds means the index is garbage (2.7.6). */
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size)
		goto bad;
	/* Read the ring entry only after seeing the index that covers it. */
	atomic_thread_fence(memory_order_acquire);
	if (mem_read16(dev, vq->avail + 4 + 2ull * (vq->last_avail % vq->size), &head))
		goto bad;
	if (head >= vq->size)
		goto bad;
	memset(elem, 0, offsetof(struct virtq_elem, seg));
	elem->head = head;
	idx = head;
	for (;;) {
		uint8_t d[16];
		struct virtq_seg *s;
		uint16_t flags;

		/* A chain longer than the ring loops; a longer one than we carry is refused. */
		if (++walked > vq->size || elem->nr_seg == VIRTQ_MAX_SEG)
			goto bad;
		if (dev->mem->read(dev->mem_opaque, vq->desc + 16ull * idx, d, sizeof(d)))
			goto bad;
		s = &elem->seg[elem->nr_seg++];
		memcpy(&s->addr, d, 8);
		memcpy(&s->len, d + 8, 4);
		flags = (uint16_t)(d[12] | d[13] << 8);
		s->write = flags & VIRTQ_DESC_F_WRITE;
		/* ivy does not offer VIRTIO_F_INDIRECT_DESC. */
		if (flags & VIRTQ_DESC_F_INDIRECT)
			goto bad;
		/* Readable descriptors come before writable ones (2.7.4.2). */
		if (!s->write && elem->in_len)
			goto bad;
		if (s->write) {
			if (s->len > UINT32_MAX - elem->in_len)
				goto bad;
			elem->in_len += s->len;
		} else {
			if (s->len > UINT32_MAX - elem->out_len)
				goto bad;
			elem->out_len += s->len;
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
		idx = (uint16_t)(d[14] | d[15] << 8);
		if (idx >= vq->size)
			goto bad;
	}
	vq->last_avail++;
	return 1;
bad:
	virtio_needs_reset(dev);
	return -EIO;
}

int virtq_push(struct virtio_dev *dev, struct virtq *vq, const struct virtq_elem *elem,
	       uint32_t written)
{
	uint8_t e[8];
	uint32_t id = elem->head;

	for (int i = 0; i < 4; i++) {
		e[i] = (uint8_t)(id >> (8 * i));
		e[4 + i] = (uint8_t)(written >> (8 * i));
	}
	if (dev->mem->write(dev->mem_opaque, vq->used + 4 + 8ull * (vq->used_idx % vq->size), e,
			    sizeof(e)))
		goto bad;
	/* The element is visible before the index that publishes it. */
	atomic_thread_fence(memory_order_release);
	vq->used_idx++;
	if (mem_write16(dev, vq->used + 2, vq->used_idx))
		goto bad;
	return 0;
bad:
	virtio_needs_reset(dev);
	return -EIO;
}

void virtq_notify(struct virtio_dev *dev, struct virtq *vq)
{
	uint16_t flags = 0;

	/*
	 * VIRTQ_AVAIL_F_NO_INTERRUPT is only a hint, but honouring it saves
	 * interrupts. The flag is read after the used index is published: a
	 * driver that clears it and then looks at the index (2.7.10) must see
	 * either the new index or an interrupt, whatever thread serves the queue.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (!mem_read16(dev, vq->avail, &flags) && (flags & 1))
		return;
	virtio_interrupt(dev, vq->msix_vector, 1);
}

static int elem_copy(struct virtio_dev *dev, const struct virtq_elem *elem, bool to_guest,
		     uint32_t off, uint8_t *buf, uint32_t len)
{
	for (uint16_t i = 0; i < elem->nr_seg && len; i++) {
		const struct virtq_seg *s = &elem->seg[i];
		uint32_t n;
		int ret;

		if (s->write != to_guest)
			continue;
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off < len ? s->len - off : len;
		ret = to_guest ? dev->mem->write(dev->mem_opaque, s->addr + off, buf, n)
			       : dev->mem->read(dev->mem_opaque, s->addr + off, buf, n);
		if (ret)
			return ret;
		buf += n;
		len -= n;
		off = 0;
	}
	return len ? -EFAULT : 0;
}

int virtq_elem_read(struct virtio_dev *dev, const struct virtq_elem *elem, uint32_t off, void *buf,
		    uint32_t len)
{
	return elem_copy(dev, elem, false, off, buf, len);
}

int virtq_elem_write(struct virtio_dev *dev, const struct virtq_elem *elem, uint32_t off,
		     const void *buf, uint32_t len)
{
	return elem_copy(dev, elem, true, off, (uint8_t *)buf, len);
}
