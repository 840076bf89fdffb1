/* SPDX-License-Identifier: MIT */
/*
 * One virtio-pci function as an I/O-request client sees it, whether it is
 * served in the VMM's process (vmm/pci.c) or in a device process of its own
 * (vmm/device.c): configuration requests by register, BAR requests by
 * address, and the MMIO claims that follow what the guest programmed into
 * the BARs and the command register. The caller supplies the claim function
 * (ivy_ioreq_client_add_range/del_range, or ivy_client_claim/unclaim).
 */
#ifndef IVY_VMM_PCIFN_H
#define IVY_VMM_PCIFN_H

#include <ivy/ioreq.h>

#include "virtio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Discards a result that only says the event was already moot (warn_unused_result). */
#define IGNORE(x)                   \
	do {                        \
		if (x) { /* moot */ \
		}                   \
	} while (0)

struct pcifn {
	struct virtio_dev vdev;
	uint16_t bdf;
	int fd; /* virtio-blk's image, or -1 */
	/* What each BAR's claim covers now (0: not decoded); the serving thread's own. */
	uint64_t claimed[PCI_NR_BARS];
	/* Claims (add) or drops an inclusive MMIO range; returns 0 or -errno. */
	int (*claim)(void *opaque, bool add, uint64_t start, uint64_t end);
	void *claim_opaque;
};

/* What kind of function, and its backing. */
struct pcifn_config {
	bool blk; /* virtio-blk, else virtio-rng */
	const char *file;
	bool read_only;
	uint16_t num_queues; /* virtio-blk request queues; 0 means 1 */
};

/*
 * Builds the function at `bdf`; opens the image for virtio-blk. On failure
 * returns -errno and writes the reason into err.
 */
int pcifn_init(struct pcifn *f, const struct pcifn_config *cfg, uint16_t bdf,
	       const struct virtio_mem_ops *mem, void *mem_opaque, const struct pci_host_ops *host,
	       void *host_opaque, char *err, size_t errlen);

/*
 * A configuration request (req->type PCI): fills req->value for reads. After a
 * write, the BAR claims follow the BARs and the command register: ranges
 * that stopped decoding are dropped first, then new ones claimed; a refused
 * claim (overlap, beyond the address space) leaves that BAR undecoded.
 */
void pcifn_cfg(struct pcifn *f, struct ivy_ioreq *req);

/* A BAR request (req->type MMIO); false if no BAR of the function decodes it. */
bool pcifn_mmio(struct pcifn *f, struct ivy_ioreq *req);

/* Drops every claim (the function is going away). */
void pcifn_unclaim_all(struct pcifn *f);
/* A board reset: no BAR decoded any more, the device at its power-on state. */
void pcifn_reset(struct pcifn *f);

#endif
