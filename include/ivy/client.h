/* SPDX-License-Identifier: MIT */
/*
 * ivy-client: the library an out-of-process device model links to serve a
 * VM's I/O requests (libivy-client.a; it does not need libivy). The protocol
 * underneath is described in docs/ioreq-protocol.md.
 *
 *	struct ivy_client *c;
 *	struct ivy_ioreq req;
 *
 *	ivy_client_connect("/run/vm1.sock", "uart", &c);
 *	ivy_client_claim(c, IVY_IOREQ_TYPE_MMIO, 0x09000000, 0x09000fff);
 *	while (ivy_client_wait(c, -1, &req) == 0) {
 *		if (req.dir == IVY_IOREQ_READ)
 *			req.value = my_read(req.addr, req.size);
 *		else
 *			my_write(req.addr, req.size, req.value);
 *		ivy_client_complete(c, &req);
 *	}
 *
 * A connection is used by one thread at a time for set-up calls; wait and
 * complete may be called from any thread, and several threads may wait.
 */
#ifndef IVY_CLIENT_H
#define IVY_CLIENT_H

#include <ivy/ioreq.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ivy_client;

/*
 * Connects to the VM's socket at `path` as client `name`, receives and maps
 * the client's request pages. Errors: -ENAMETOOLONG, -EPROTO (the VMM speaks
 * another protocol version or sent a malformed reply), the VMM's refusal, or
 * the errno of socket/connect/mmap.
 */
IVY_MUST_CHECK int ivy_client_connect(const char *path, const char *name, struct ivy_client **out);
/* Disconnects: the VMM completes whatever this client still holds as unhandled. */
void ivy_client_close(struct ivy_client *c);

uint32_t ivy_client_id(const struct ivy_client *c);
/* The eventfd the VMM writes when it posts a request while the client sleeps (for poll()). */
int ivy_client_kick_fd(const struct ivy_client *c);
/* The socket, readable with a hang-up when the VMM goes away (for poll()). */
int ivy_client_socket(const struct ivy_client *c);

/*
 * The client's own request pages (slot v belongs to vCPU v) and control page,
 * for device models that manage their slots without ivy_client_wait/complete.
 */
struct ivy_ioreq_slot *ivy_client_slots(const struct ivy_client *c);
struct ivy_ioreq_ctl *ivy_client_ctl(const struct ivy_client *c);
uint32_t ivy_client_nr_slots(const struct ivy_client *c);

/* Claims or drops an inclusive range, as ivy_ioreq_client_add_range/del_range. */
IVY_MUST_CHECK int ivy_client_claim(struct ivy_client *c, uint32_t type, uint64_t start,
				    uint64_t end);
IVY_MUST_CHECK int ivy_client_unclaim(struct ivy_client *c, uint32_t type, uint64_t start,
				      uint64_t end);
/* Becomes the VM's default client. Errors: -EEXIST (another client is). */
IVY_MUST_CHECK int ivy_client_set_default(struct ivy_client *c);

/*
 * Creates an eventfd and registers it as an irqfd for SPI `spi`; *index names
 * it for ivy_client_irq_raise(). Errors: the VMM's (-ENODEV without an
 * interrupt controller, -EINVAL for a bad SPI), or the errno of eventfd.
 */
IVY_MUST_CHECK int ivy_client_irqfd_spi(struct ivy_client *c, uint32_t spi, unsigned *index);
/*
 * Creates an eventfd and registers it as an MSI irqfd: raising it signals the
 * message (doorbell address, data) from device `devid` (a PCI function's
 * requester ID), as ivy_signal_msi() does in the VMM. A device whose vectors
 * change (MSI-X) registers one per message it sends. Errors: the VMM's
 * (-ENODEV without an interrupt controller, -ENOSPC when the connection has
 * 16 irqfds), or the errno of eventfd.
 */
IVY_MUST_CHECK int ivy_client_irqfd_msi(struct ivy_client *c, uint64_t doorbell, uint32_t data,
					uint32_t devid, unsigned *index);
/* Raises (pulses) the interrupt of irqfd `index`. Errors: -ENOENT, -errno of write. */
IVY_MUST_CHECK int ivy_client_irq_raise(struct ivy_client *c, unsigned index);
/* Unregisters irqfd `index` and closes its eventfd. Errors: -ENOENT, the VMM's. */
IVY_MUST_CHECK int ivy_client_irqfd_deassign(struct ivy_client *c, unsigned index);

/* A piece of guest RAM mapped into this process. */
struct ivy_client_ram {
	uint64_t gpa;  /* guest-physical address of ptr[0] */
	uint64_t size; /* bytes */
	void *ptr;
};

/*
 * Maps region `index` (0, 1, ...) of the guest RAM the VMM shares
 * (ivy_ioreq_share_ram), for the device's DMA; unmap it with munmap(ptr, size).
 * Errors: -ENOENT (no such region: the VMM shares fewer, or none), -EPROTO,
 * or the errno of mmap.
 */
IVY_MUST_CHECK int ivy_client_map_ram(struct ivy_client *c, unsigned index,
				      struct ivy_client_ram *out);
/*
 * Tells the VMM that the device wrote guest RAM [gpa, gpa + len), before the
 * interrupt that makes the guest look at it: a VMM that caches translated
 * guest code drops those pages. Errors: -EINVAL (not in shared RAM), -EPIPE.
 */
IVY_MUST_CHECK int ivy_client_dma_written(struct ivy_client *c, uint64_t gpa, uint64_t len);

/*
 * Takes the next request. timeout_ms 0 polls once, negative waits forever.
 * Returns 0 with *req filled, -EAGAIN (polling, nothing there), -ETIMEDOUT,
 * -EPIPE (the VMM closed the connection).
 */
IVY_MUST_CHECK int ivy_client_wait(struct ivy_client *c, int timeout_ms, struct ivy_ioreq *req);

/*
 * Answers a request taken with ivy_client_wait(): req->value is the read
 * result (ignored for writes). Errors: -EINVAL (bad vCPU index), -EPERM (the
 * slot no longer holds that request, for example because the VMM completed it
 * as unhandled).
 */
IVY_MUST_CHECK int ivy_client_complete(struct ivy_client *c, const struct ivy_ioreq *req);

#ifdef __cplusplus
}
#endif

#endif /* IVY_CLIENT_H */
