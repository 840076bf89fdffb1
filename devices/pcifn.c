/* SPDX-License-Identifier: MIT */
/* A virtio-pci function served as an I/O-request client (see pcifn.h). */
#include "pcifn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pcifn_init(struct pcifn *f, const struct pcifn_config *cfg, uint16_t bdf,
	       const struct virtio_mem_ops *mem, void *mem_opaque, const struct pci_host_ops *host,
	       void *host_opaque, char *err, size_t errlen)
{
	int ret;

	memset(f, 0, sizeof(*f));
	f->bdf = bdf;
	f->fd = -1;
	if (!cfg->blk) {
		ret = virtio_rng_init(&f->vdev, bdf, mem, mem_opaque, host, host_opaque);
		if (ret)
			snprintf(err, errlen, "cannot create virtio-rng: %s", strerror(-ret));
		return ret;
	}

	struct stat st;
	f->fd = open(cfg->file, (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open disk image '%s'%s: %s", cfg->file,
			 cfg->read_only ? "" : " for writing (readonly=on opens it read-only)",
			 strerror(errno));
		return ret;
	}
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 512) {
		snprintf(err, errlen, "disk image '%s' must be a regular file of 512 bytes or more",
			 cfg->file);
		close(f->fd);
		f->fd = -1;
		return -EINVAL;
	}
	struct virtio_blk_config bc = { .fd = f->fd,
					.size = (uint64_t)st.st_size,
					.read_only = cfg->read_only,
					.serial = "ivy",
					.num_queues = cfg->num_queues };
	ret = virtio_blk_init(&f->vdev, bdf, &bc, mem, mem_opaque, host, host_opaque);
	if (ret) {
		snprintf(err, errlen, "cannot create virtio-blk: %s", strerror(-ret));
		close(f->fd);
		f->fd = -1;
	}
	return ret;
}

/* Where each BAR decodes now: its address while memory decoding is on, else 0. */
static void pcifn_decoding(struct pcifn *f, uint64_t want[PCI_NR_BARS])
{
	struct pci_func *fn = &f->vdev.pci;

	pthread_mutex_lock(&f->vdev.lock);
	for (int b = 0; b < PCI_NR_BARS; b++) {
		uint64_t size = fn->bars[b].size, base = size ? pci_bar_addr(fn, b) : 0;

		/* A BAR that wraps around the address space decodes nothing. */
		want[b] = base && base + size - 1 > base ? base : 0;
	}
	pthread_mutex_unlock(&f->vdev.lock);
}

static void pcifn_sync_claims(struct pcifn *f)
{
	const struct pci_bar *bars = f->vdev.pci.bars;
	uint64_t want[PCI_NR_BARS];

	pcifn_decoding(f, want);
	/* Drops first, so that two BARs trading places do not collide. */
	for (int b = 0; b < PCI_NR_BARS; b++) {
		if (!f->claimed[b] || f->claimed[b] == want[b])
			continue;
		IGNORE(f->claim(f->claim_opaque, false, f->claimed[b],
				f->claimed[b] + bars[b].size - 1));
		f->claimed[b] = 0;
	}
	for (int b = 0; b < PCI_NR_BARS; b++) {
		if (!want[b] || f->claimed[b] == want[b])
			continue;
		if (!f->claim(f->claim_opaque, true, want[b], want[b] + bars[b].size - 1))
			f->claimed[b] = want[b];
	}
}

void pcifn_unclaim_all(struct pcifn *f)
{
	for (int b = 0; b < PCI_NR_BARS; b++) {
		if (!f->claimed[b])
			continue;
		IGNORE(f->claim(f->claim_opaque, false, f->claimed[b],
				f->claimed[b] + f->vdev.pci.bars[b].size - 1));
		f->claimed[b] = 0;
	}
}

void pcifn_reset(struct pcifn *f)
{
	pcifn_unclaim_all(f);
	virtio_dev_reset(&f->vdev);
}

void pcifn_cfg(struct pcifn *f, struct ivy_ioreq *req)
{
	uint32_t reg = (uint32_t)req->addr;
	unsigned len = req->size == 8 ? 4 : req->size;

	if (req->addr >= PCI_CFG_SIZE || (len != 1 && len != 2 && len != 4)) {
		req->value = ~0ull;
		return;
	}
	if (req->dir == IVY_IOREQ_READ) {
		uint64_t v = virtio_cfg_read(&f->vdev, reg, len);

		if (req->size == 8)
			v |= (uint64_t)virtio_cfg_read(&f->vdev, reg + 4, 4) << 32;
		req->value = v;
		return;
	}
	virtio_cfg_write(&f->vdev, reg, len, (uint32_t)req->value);
	if (req->size == 8)
		virtio_cfg_write(&f->vdev, reg + 4, 4, (uint32_t)(req->value >> 32));
	pcifn_sync_claims(f);
}

bool pcifn_mmio(struct pcifn *f, struct ivy_ioreq *req)
{
	uint64_t v = req->value;

	if (!virtio_mmio(&f->vdev, req->addr, req->size, req->dir == IVY_IOREQ_WRITE, &v))
		return false;
	if (req->dir == IVY_IOREQ_READ)
		req->value = v;
	return true;
}
