/* SPDX-License-Identifier: MIT */
/*
 * Routing: which client serves an address, and which writes are ioeventfds.
 *
 * The table is an immutable snapshot (one sorted array of disjoint inclusive
 * ranges per address space, the default client, the ioeventfds and the ECAM
 * window) published through one atomic pointer. vCPUs read it without a lock;
 * a writer copies it, changes the copy, publishes it and waits for every vCPU
 * that may still hold the old one before freeing it.
 */
#include "ioreq/ioreq.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ioreq_routes *ioreq_routes_clone(const struct ioreq_routes *old)
{
	struct ioreq_routes *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (!old)
		return r;
	*r = *old;
	for (int s = 0; s < IOREQ_NR_SPACES; s++) {
		r->ranges[s] = NULL;
		if (!old->nr_ranges[s])
			continue;
		r->ranges[s] = malloc(old->nr_ranges[s] * sizeof(*r->ranges[s]));
		if (!r->ranges[s])
			goto err;
		memcpy(r->ranges[s], old->ranges[s], old->nr_ranges[s] * sizeof(*r->ranges[s]));
	}
	r->evs = NULL;
	if (old->nr_evs) {
		r->evs = malloc(old->nr_evs * sizeof(*r->evs));
		if (!r->evs)
			goto err;
		memcpy(r->evs, old->evs, old->nr_evs * sizeof(*r->evs));
	}
	return r;
err:
	r->nr_evs = 0;
	ioreq_routes_free(r);
	return NULL;
}

void ioreq_routes_free(struct ioreq_routes *r)
{
	if (!r)
		return;
	for (int s = 0; s < IOREQ_NR_SPACES; s++)
		free(r->ranges[s]);
	free(r->evs);
	free(r);
}

void ioreq_routes_synchronize(struct ioreq_vm *io)
{
	/* Pairs with the fence in the vCPU's read-side entry: it sees the new table or we see it. */
	vm_writer_fence();
	for (uint32_t i = 0; i < io->nr_slots; i++) {
		struct ioreq_vcpu *iv = &io->vcpus[i];
		unsigned gen = atomic_load_explicit(&iv->gen, memory_order_acquire);

		if (!(gen & 1))
			continue;
		while (atomic_load_explicit(&iv->gen, memory_order_acquire) == gen)
			sched_yield();
	}
}

void ioreq_routes_publish_locked(struct ioreq_vm *io, struct ioreq_routes *next)
{
	struct ioreq_routes *old = atomic_load_explicit(&io->routes, memory_order_relaxed);

	/* Release: the table's contents are visible to a vCPU that loads the pointer. */
	atomic_store_explicit(&io->routes, next, memory_order_release);
	ioreq_routes_synchronize(io);
	ioreq_routes_free(old);
}

/* Index of the last range whose start is <= key, or -1. */
static int64_t range_floor(const struct ioreq_range *v, uint32_t n, uint64_t key)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid].start <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int64_t)lo - 1;
}

struct ivy_ioreq_client *ioreq_route_lookup(const struct ioreq_routes *r, uint32_t type,
					    uint64_t addr, unsigned size)
{
	uint32_t s = type - 1;
	uint64_t last;
	int64_t i;

	if (!r)
		return NULL;
	if (s < IOREQ_NR_SPACES) {
		/* PCI requests are routed by function (addr is the BDF here), whatever the register. */
		if (type == IVY_IOREQ_TYPE_PCI)
			size = 1;
		last = addr + size - 1;
		i = range_floor(r->ranges[s], r->nr_ranges[s], addr);
		/* Wholly inside only: an access straddling a range's end is not the range's. */
		if (i >= 0 && last >= addr && last <= r->ranges[s][i].end)
			return r->ranges[s][i].client;
	}
	return r->dflt;
}

static bool range_overlaps(const struct ioreq_routes *r, uint32_t s, uint64_t start, uint64_t end)
{
	for (uint32_t i = 0; i < r->nr_ranges[s]; i++)
		if (start <= r->ranges[s][i].end && r->ranges[s][i].start <= end)
			return true;
	return false;
}

int ioreq_range_insert(struct ioreq_routes *r, uint32_t type, uint64_t start, uint64_t end,
		       struct ivy_ioreq_client *client)
{
	uint32_t s = type - 1, n, pos;
	struct ioreq_range *v;

	if (s >= IOREQ_NR_SPACES || start > end)
		return -EINVAL;
	if (type != IVY_IOREQ_TYPE_MMIO && end > 0xffff)
		return -EINVAL;
	if (range_overlaps(r, s, start, end))
		return -EEXIST;
	if (type == IVY_IOREQ_TYPE_MMIO && r->ecam_size && start < r->ecam_base + r->ecam_size &&
	    r->ecam_base <= end)
		return -EEXIST;
	n = r->nr_ranges[s];
	v = realloc(r->ranges[s], (n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (pos = 0; pos < n && v[pos].start < start; pos++)
		;
	memmove(&v[pos + 1], &v[pos], (n - pos) * sizeof(*v));
	v[pos] = (struct ioreq_range){ .start = start, .end = end, .client = client };
	r->ranges[s] = v;
	r->nr_ranges[s] = n + 1;
	return 0;
}

int ioreq_range_remove(struct ioreq_routes *r, uint32_t type, uint64_t start, uint64_t end,
		       struct ivy_ioreq_client *client)
{
	uint32_t s = type - 1;

	if (s >= IOREQ_NR_SPACES)
		return -EINVAL;
	for (uint32_t i = 0; i < r->nr_ranges[s]; i++) {
		struct ioreq_range *v = r->ranges[s];

		if (v[i].start == start && v[i].end == end && v[i].client == client) {
			memmove(&v[i], &v[i + 1], (r->nr_ranges[s] - i - 1) * sizeof(*v));
			r->nr_ranges[s]--;
			return 0;
		}
	}
	return -ENOENT;
}

void ioreq_routes_forget_client(struct ioreq_routes *r, struct ivy_ioreq_client *client)
{
	if (r->dflt == client)
		r->dflt = NULL;
	for (int s = 0; s < IOREQ_NR_SPACES; s++) {
		uint32_t k = 0;

		for (uint32_t i = 0; i < r->nr_ranges[s]; i++)
			if (r->ranges[s][i].client != client)
				r->ranges[s][k++] = r->ranges[s][i];
		r->nr_ranges[s] = k;
	}
}

bool ioreq_ioeventfd_signal(const struct ioreq_routes *r, bool pio, uint64_t addr, unsigned len,
			    uint64_t val)
{
	for (uint32_t i = 0; r && i < r->nr_evs; i++) {
		const struct ioreq_ioeventfd *ev = &r->evs[i];
		uint64_t one = 1;

		/* KVM's ioeventfd_in_range(): same space, address and length, then the data. */
		if (!!(ev->flags & IVY_IOEVENTFD_F_PIO) != pio || ev->addr != addr ||
		    ev->len != len)
			continue;
		if ((ev->flags & IVY_IOEVENTFD_F_DATAMATCH) &&
		    (val & ioreq_width_mask(len)) != (ev->datamatch & ioreq_width_mask(len)))
			continue;
		/* A full counter (EAGAIN) still means "signalled": the reader has work pending. */
		if (write(ev->fd, &one, sizeof(one)) < 0) {
			/* Nothing useful to do: the guest's write is consumed either way. */
		}
		return true;
	}
	return false;
}
