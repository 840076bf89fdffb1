/* SPDX-License-Identifier: MIT */
/*
 * `ivy device virtio-rng|virtio-blk --connect SOCKET --bdf N [--file IMAGE]
 * [--readonly] [--ready-fd FD]`: one virtio-pci function served from a
 * process of its own, an out-of-process client of the VM (ivy/client.h).
 *
 * It claims its BDF, follows the guest's BAR programming with claims of its
 * own, maps guest RAM for its DMA (MAP_RAM), tells the VMM which guest RAM it
 * wrote before each interrupt and each completion (DMA_WRITTEN), and raises
 * MSI-X messages through one MSI irqfd per (address, data) it has seen. It
 * serves requests on one thread until the VMM closes the connection.
 */
#include "vmm.h"

#include "pcifn.h"

#include <ivy/client.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEVICE_MAX_RAM 8
#define DEVICE_MAX_MSI 8 /* irqfds kept; the connection allows 16 */

struct remote_dev {
	struct ivy_client *c;
	struct ivy_client_ram ram[DEVICE_MAX_RAM];
	unsigned nr_ram;
	struct pcifn fn;
	struct {
		uint64_t addr;
		uint32_t data;
		unsigned index;
		bool used;
	} msi[DEVICE_MAX_MSI];
	unsigned msi_next; /* the entry replaced next when all are used */
	/* Guest RAM written since the last DMA_WRITTEN: one range, grown while contiguous. */
	uint64_t dirty_start, dirty_end;
};

static void *remote_ram(struct remote_dev *r, uint64_t gpa, size_t len)
{
	for (unsigned i = 0; i < r->nr_ram; i++) {
		const struct ivy_client_ram *m = &r->ram[i];

		if (gpa >= m->gpa && gpa - m->gpa < m->size && len <= m->size - (gpa - m->gpa))
			return (char *)m->ptr + (gpa - m->gpa);
	}
	return NULL;
}

static void remote_flush_dirty(struct remote_dev *r)
{
	if (r->dirty_end > r->dirty_start)
		IGNORE(ivy_client_dma_written(r->c, r->dirty_start, r->dirty_end - r->dirty_start));
	r->dirty_start = r->dirty_end = 0;
}

static int remote_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	void *p = remote_ram(opaque, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

static int remote_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct remote_dev *r = opaque;
	void *p = remote_ram(r, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	if (r->dirty_end > r->dirty_start && (gpa > r->dirty_end || gpa + len < r->dirty_start))
		remote_flush_dirty(r);
	if (r->dirty_end <= r->dirty_start) {
		r->dirty_start = gpa;
		r->dirty_end = gpa + len;
	} else {
		if (gpa < r->dirty_start)
			r->dirty_start = gpa;
		if (gpa + len > r->dirty_end)
			r->dirty_end = gpa + len;
	}
	return 0;
}

static const struct virtio_mem_ops remote_mem_ops = { .read = remote_dma_read,
						      .write = remote_dma_write };

static void remote_msi(void *opaque, uint64_t addr, uint32_t data, uint16_t rid)
{
	struct remote_dev *r = opaque;
	unsigned slot = DEVICE_MAX_MSI;

	/* What the guest is told about must be seen by the VMM first. */
	remote_flush_dirty(r);
	for (unsigned i = 0; i < DEVICE_MAX_MSI; i++)
		if (r->msi[i].used && r->msi[i].addr == addr && r->msi[i].data == data)
			slot = i;
	if (slot == DEVICE_MAX_MSI) {
		slot = r->msi_next;
		r->msi_next = (r->msi_next + 1) % DEVICE_MAX_MSI;
		if (r->msi[slot].used)
			IGNORE(ivy_client_irqfd_deassign(r->c, r->msi[slot].index));
		r->msi[slot].used = false;
		if (ivy_client_irqfd_msi(r->c, addr, data, rid, &r->msi[slot].index))
			return;
		r->msi[slot].addr = addr;
		r->msi[slot].data = data;
		r->msi[slot].used = true;
	}
	IGNORE(ivy_client_irq_raise(r->c, r->msi[slot].index));
}

static void remote_intx(void *opaque, bool level)
{
	/* Device processes have MSI-X only: the protocol has no level line for them. */
	(void)opaque;
	(void)level;
}

static const struct pci_host_ops remote_host_ops = { .msi = remote_msi, .intx = remote_intx };

static int remote_claim(void *opaque, bool add, uint64_t start, uint64_t end)
{
	struct remote_dev *r = opaque;

	return add ? ivy_client_claim(r->c, IVY_IOREQ_TYPE_MMIO, start, end)
		   : ivy_client_unclaim(r->c, IVY_IOREQ_TYPE_MMIO, start, end);
}

static int device_usage(const char *why)
{
	fprintf(stderr,
		"ivy device: %s\n"
		"usage: ivy device virtio-rng|virtio-blk --connect SOCKET --bdf N\n"
		"                  [--file IMAGE] [--readonly] [--ready-fd FD]\n",
		why);
	return VMM_EXIT_USAGE;
}

static void device_serve(struct remote_dev *r)
{
	struct ivy_ioreq req;

	for (;;) {
		int err = ivy_client_wait(r->c, -1, &req);

		if (err == -EPIPE)
			return;
		if (err)
			continue;
		if (req.type == IVY_IOREQ_TYPE_PCI && req.pci_bdf == r->fn.bdf)
			pcifn_cfg(&r->fn, &req);
		else if (req.type != IVY_IOREQ_TYPE_MMIO || !pcifn_mmio(&r->fn, &req))
			req.value = ~0ull;
		remote_flush_dirty(r);
		/* -EPERM: the VMM gave up on this request meanwhile. */
		IGNORE(ivy_client_complete(r->c, &req));
	}
}

int device_main(int argc, char **argv)
{
	static struct remote_dev dev;
	struct remote_dev *r = &dev;
	struct pcifn_config fc = { 0 };
	const char *sock = NULL;
	char why[256], name[32];
	long bdf = -1;
	int ready_fd = -1, err;

	if (argc < 1)
		return device_usage("which device?");
	if (!strcmp(argv[0], "virtio-blk"))
		fc.blk = true;
	else if (strcmp(argv[0], "virtio-rng"))
		return device_usage("unknown device type");
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--readonly")) {
			fc.read_only = true;
			continue;
		}
		if (!v)
			return device_usage("option needs an argument");
		if (!strcmp(argv[i], "--connect"))
			sock = v;
		else if (!strcmp(argv[i], "--bdf"))
			bdf = strtol(v, NULL, 0);
		else if (!strcmp(argv[i], "--file"))
			fc.file = v;
		else if (!strcmp(argv[i], "--queues"))
			fc.num_queues = (uint16_t)strtoul(v, NULL, 0);
		else if (!strcmp(argv[i], "--ready-fd"))
			ready_fd = atoi(v);
		else
			return device_usage("unknown option");
		i++;
	}
	if (!sock || bdf < 0 || bdf > 0xffff || (fc.blk && !fc.file))
		return device_usage("--connect, --bdf (and --file for virtio-blk) are needed");

	snprintf(name, sizeof(name), "%s@%02lx.%lx", argv[0], (bdf >> 3) & 31, bdf & 7);
	err = ivy_client_connect(sock, name, &r->c);
	if (err) {
		fprintf(stderr, "ivy device: cannot connect to '%s': %s\n", sock, strerror(-err));
		return VMM_EXIT_VMM_ERROR;
	}
	while (r->nr_ram < DEVICE_MAX_RAM &&
	       !ivy_client_map_ram(r->c, r->nr_ram, &r->ram[r->nr_ram]))
		r->nr_ram++;
	if (!r->nr_ram) {
		fprintf(stderr, "ivy device: the VMM shares no guest RAM\n");
		return VMM_EXIT_VMM_ERROR;
	}
	err = pcifn_init(&r->fn, &fc, (uint16_t)bdf, &remote_mem_ops, r, &remote_host_ops, r, why,
			 sizeof(why));
	if (err) {
		fprintf(stderr, "ivy device: %s\n", why);
		return VMM_EXIT_USAGE;
	}
	r->fn.claim = remote_claim;
	r->fn.claim_opaque = r;
	err = ivy_client_claim(r->c, IVY_IOREQ_TYPE_PCI, (uint64_t)bdf, (uint64_t)bdf);
	if (err) {
		fprintf(stderr, "ivy device: cannot claim PCI function %s: %s\n", name,
			strerror(-err));
		return VMM_EXIT_VMM_ERROR;
	}
	if (ready_fd >= 0) {
		/* "R" and the client id, which names us in the VMM's statistics. */
		char msg[16];
		int n = snprintf(msg, sizeof(msg), "R%u", ivy_client_id(r->c));

		if (write(ready_fd, msg, (size_t)n) != n) {
			/* The VMM stopped waiting: it will find out. */
		}
		close(ready_fd);
	}
	device_serve(r);
	ivy_client_close(r->c);
	return 0;
}
