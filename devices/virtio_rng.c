/* SPDX-License-Identifier: MIT */
/* virtio-rng (virtio 1.2, section 5.4): fills each writable buffer with random bytes. */
#include "virtio.h"

#include <sys/random.h>

static void rng_notify(struct virtio_dev *dev, uint16_t q)
{
	struct virtq *vq = &dev->vq[q];
	struct virtq_elem e;
	bool any = false;

	while (virtq_pop(dev, vq, &e) == 1) {
		uint8_t buf[256];
		uint32_t n = e.in_len < sizeof(buf) ? e.in_len : (uint32_t)sizeof(buf);

		/* A short answer is allowed: the driver asks again for the rest. */
		if (getrandom(buf, n, 0) != (ssize_t)n || virtq_elem_write(dev, &e, 0, buf, n))
			n = 0;
		if (virtq_push(dev, vq, &e, n))
			break;
		any = true;
	}
	if (any)
		virtq_notify(dev, vq);
}

static const struct virtio_dev_ops rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.class_code = 0x00ff00,
	.nr_queues = 1,
	.config_size = 0,
	.queue_notify = rng_notify,
};

int virtio_rng_init(struct virtio_dev *dev, uint16_t bdf, const struct virtio_mem_ops *mem,
		    void *mem_opaque, const struct pci_host_ops *pci_host, void *host_opaque)
{
	return virtio_dev_init(dev, bdf, &rng_ops, mem, mem_opaque, pci_host, host_opaque);
}
