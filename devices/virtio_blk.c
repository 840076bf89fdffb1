/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2, section 5.2) backed by a file descriptor.
 *
 * A request is a chain: a 16-byte header {le32 type, le32 reserved, le64
 * sector} in the readable part, data (readable for writes, writable for
 * reads), and a one-byte status at the very end of the writable part.
 * Requests are served synchronously on the notifying thread. With several
 * request queues (VIRTIO_BLK_F_MQ) a driver gives each its own MSI-X vector,
 * which Linux spreads over the CPUs.
 */
#include "virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO	      5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_BLK_F_MQ	      12

#define VIRTIO_BLK_T_IN	    0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define SECTOR	     512u
#define BLK_ID_BYTES 20
#define CHUNK	     (64u * 1024)

struct virtio_blk {
	int fd;
	uint64_t sectors;
	bool read_only;
	char serial[BLK_ID_BYTES];
	uint8_t *bounce;	   /* CHUNK bytes between the file and guest memory */
	struct virtio_dev_ops ops; /* this device's: the queue count is per device */
};

/* Moves `len` bytes between the file at `pos` and the chain's data part. */
static uint8_t blk_transfer(struct virtio_dev *dev, struct virtio_blk *b,
			    const struct virtq_elem *e, bool to_guest, uint64_t pos, uint32_t len)
{
	for (uint32_t done = 0; done < len;) {
		uint32_t n = len - done < CHUNK ? len - done : CHUNK;
		ssize_t got;

		if (to_guest) {
			got = pread(b->fd, b->bounce, n, (off_t)(pos + done));
			if (got != (ssize_t)n || virtq_elem_write(dev, e, done, b->bounce, n))
				return VIRTIO_BLK_S_IOERR;
		} else {
			if (virtq_elem_read(dev, e, 16 + done, b->bounce, n))
				return VIRTIO_BLK_S_IOERR;
			got = pwrite(b->fd, b->bounce, n, (off_t)(pos + done));
			if (got != (ssize_t)n)
				return VIRTIO_BLK_S_IOERR;
		}
		done += n;
	}
	return VIRTIO_BLK_S_OK;
}

/* Serves one request; returns the bytes written into the chain (data + status). */
static uint32_t blk_request(struct virtio_dev *dev, struct virtio_blk *b,
			    const struct virtq_elem *e)
{
	uint8_t hdr[16], status;
	uint32_t type, data_in, data_out;
	uint64_t sector;

	/* No room for the status byte: nothing can be reported, so nothing is done. */
	if (e->in_len < 1)
		return 0;
	data_in = e->in_len - 1;
	if (e->out_len < sizeof(hdr) || virtq_elem_read(dev, e, 0, hdr, sizeof(hdr))) {
		status = VIRTIO_BLK_S_IOERR;
		goto out;
	}
	data_out = e->out_len - (uint32_t)sizeof(hdr);
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = type == VIRTIO_BLK_T_IN;
		uint32_t len = in ? data_in : data_out;

		if (!in && b->read_only) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		/* Whole sectors, wholly inside the disk. */
		if (len % SECTOR || sector > b->sectors || len / SECTOR > b->sectors - sector) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		status = blk_transfer(dev, b, e, in, sector * SECTOR, len);
		if (in && status == VIRTIO_BLK_S_OK) {
			if (virtq_elem_write(dev, e, data_in, &status, 1))
				return 0;
			return data_in + 1;
		}
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		status =
			fsync(b->fd) == 0 || errno == EINVAL ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint32_t n = data_in < BLK_ID_BYTES ? data_in : BLK_ID_BYTES;

		status = virtq_elem_write(dev, e, 0, b->serial, n) ? VIRTIO_BLK_S_IOERR
								   : VIRTIO_BLK_S_OK;
		if (status == VIRTIO_BLK_S_OK && !virtq_elem_write(dev, e, data_in, &status, 1))
			return n + 1;
		break;
	}
	default: status = VIRTIO_BLK_S_UNSUPP; break;
	}
out:
	return virtq_elem_write(dev, e, data_in, &status, 1) ? 0 : 1;
}

static void blk_notify(struct virtio_dev *dev, uint16_t q)
{
	struct virtio_blk *b = dev->priv;
	struct virtq *vq = &dev->vq[q];
	struct virtq_elem e;
	bool any = false;

	while (virtq_pop(dev, vq, &e) == 1) {
		if (virtq_push(dev, vq, &e, blk_request(dev, b, &e)))
			break;
		any = true;
	}
	if (any)
		virtq_notify(dev, vq);
}

static void blk_destroy(struct virtio_dev *dev)
{
	struct virtio_blk *b = dev->priv;

	free(b->bounce);
	free(b);
}

static const struct virtio_dev_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.class_code = 0x018000, /* mass storage, other */
	.features = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		    1ull << VIRTIO_BLK_F_FLUSH,
	.nr_queues = 1,
	.config_size = 36, /* up to num_queues */
	.queue_notify = blk_notify,
	.destroy = blk_destroy,
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int virtio_blk_init(struct virtio_dev *dev, uint16_t bdf, const struct virtio_blk_config *cfg,
		    const struct virtio_mem_ops *mem, void *mem_opaque,
		    const struct pci_host_ops *pci_host, void *host_opaque)
{
	struct virtio_blk *b;
	int ret;

	if (!cfg || cfg->fd < 0 || cfg->num_queues > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->bounce = malloc(CHUNK);
	if (!b->bounce) {
		free(b);
		return -ENOMEM;
	}
	b->ops = blk_ops;
	if (cfg->read_only)
		b->ops.features =
			(b->ops.features & ~(1ull << VIRTIO_BLK_F_FLUSH)) | 1ull << VIRTIO_BLK_F_RO;
	if (cfg->num_queues > 1) {
		b->ops.features |= 1ull << VIRTIO_BLK_F_MQ;
		b->ops.nr_queues = cfg->num_queues;
	}
	/* b->ops lives until virtio_dev_free() calls blk_destroy(), its last use. */
	ret = virtio_dev_init(dev, bdf, &b->ops, mem, mem_opaque, pci_host, host_opaque);
	if (ret) {
		free(b->bounce);
		free(b);
		return ret;
	}
	b->fd = cfg->fd;
	b->sectors = cfg->size / SECTOR;
	b->read_only = cfg->read_only;
	if (cfg->serial)
		memcpy(b->serial, cfg->serial, strnlen(cfg->serial, sizeof(b->serial)));
	dev->priv = b;
	put_le(&dev->config[0], b->sectors, 8);		/* capacity */
	put_le(&dev->config[12], VIRTQ_MAX_SEG - 2, 4); /* seg_max: header and status aside */
	put_le(&dev->config[20], SECTOR, 4);		/* blk_size */
	put_le(&dev->config[34], b->ops.nr_queues, 2);	/* num_queues */
	return 0;
}
