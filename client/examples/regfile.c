/* SPDX-License-Identifier: MIT */
#include "regfile.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

void regfile_access(struct regfile *rf, struct ivy_client *c, uint64_t base, struct ivy_ioreq *req)
{
	uint64_t off = req->addr - base;
	uint64_t mask = req->size >= 8 ? ~0ull : (1ull << (req->size * 8)) - 1;

	/* The VMM only routes accesses wholly inside our claim, but a device checks anyway. */
	if (req->type != IVY_IOREQ_TYPE_MMIO || req->addr < base || off >= REGFILE_SIZE ||
	    req->size > REGFILE_SIZE - off) {
		req->value = req->dir == IVY_IOREQ_READ ? ~0ull : 0;
		return;
	}
	if (req->dir == IVY_IOREQ_READ) {
		uint64_t v = 0;

		if (off == REGFILE_IRQ && req->size == 4)
			v = rf->irqs;
		else if (off == REGFILE_ID_REG && req->size == 4)
			v = REGFILE_ID;
		else
			memcpy(&v, &rf->regs[off], req->size);
		req->value = v & mask;
		return;
	}
	if (off == REGFILE_IRQ) {
		rf->irqs++;
		if (rf->has_irq && ivy_client_irq_raise(c, rf->irq_index))
			rf->irqs--;
		return;
	}
	if (off == REGFILE_ID_REG)
		return;
	memcpy(&rf->regs[off], &req->value, req->size);
}

int regfile_serve(struct regfile *rf, struct ivy_client *c, uint64_t base, atomic_bool *stop,
		  int timeout_ms)
{
	for (unsigned idle = 1; !stop || !atomic_load_explicit(stop, memory_order_relaxed);
	     idle++) {
		struct ivy_ioreq req;
		int ret = ivy_client_wait(c, timeout_ms, &req);

		if (ret == -EAGAIN && !(idle & 0xffff)) {
			/* Polling never sleeps on the socket: look for a hang-up now and then. */
			struct pollfd pfd = { .fd = ivy_client_socket(c), .events = POLLIN };

			if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
				return -EPIPE;
		}
		if (ret == -EAGAIN || ret == -ETIMEDOUT)
			continue;
		if (ret)
			return ret;
		regfile_access(rf, c, base, &req);
		rf->served++;
		/* -EPERM: the VMM gave up on this request meanwhile; nothing to answer. */
		ret = ivy_client_complete(c, &req);
		(void)ret;
	}
	return 0;
}
