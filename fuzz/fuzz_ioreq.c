/* SPDX-License-Identifier: MIT */
/*
 * The I/O-request engine against a hostile client. The input is a program of
 * operations: vCPUs start requests; an out-of-process client writes arbitrary
 * words anywhere in its pages (state words, values, sizes, types, the control
 * page) and "completes" whatever it likes; in-process clients complete with
 * arbitrary vCPU/sequence numbers; clients die; the VM is cleared. Invariants:
 * nothing crashes or hangs, a read's result never has bits beyond its width,
 * a request assigned to a client that died or was cleared is complete at once,
 * and a finished slot is FREE.
 */
#include "ioreq/ioreq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NR_VCPUS 4

#define REMOTE_BASE 0x10000ull
#define ASYNC_BASE  0x20000ull

struct fuzz_state {
	struct ivy_vm *vm;
	struct ioreq_vm *io;
	struct ivy_ioreq_client *remote, *async;
	bool in_flight[NR_VCPUS];
	unsigned size[NR_VCPUS];
	bool is_read[NR_VCPUS];
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static uint64_t take(const uint8_t **p, size_t *n, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
		v |= (uint64_t) * *p << (8 * i);
	return v;
}

static void finish(struct fuzz_state *st, uint32_t v)
{
	uint64_t val = ioreq_request_finish(st->io, v);

	if (st->is_read[v])
		check(val <= ioreq_width_mask(st->size[v]));
	check(st->io->slots[v].state == IVY_IOREQ_STATE_FREE);
	st->in_flight[v] = false;
}

/* Every request in flight must be complete now (after a death or a clear). */
static void drain(struct fuzz_state *st)
{
	for (uint32_t v = 0; v < NR_VCPUS; v++) {
		if (!st->in_flight[v])
			continue;
		check(ioreq_request_poll(st->io, v));
		finish(st, v);
	}
}

static void start(struct fuzz_state *st, uint32_t v, uint64_t sel, uint64_t off)
{
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	static const uint64_t bases[4] = { REMOTE_BASE, ASYNC_BASE, 0x30000, REMOTE_BASE + 0xff0 };
	struct ioreq_access acc = {
		.type = (sel & 0x40) ? IVY_IOREQ_TYPE_PIO : IVY_IOREQ_TYPE_MMIO,
		.dir = (sel & 0x10) ? IVY_IOREQ_WRITE : IVY_IOREQ_READ,
		.size = sizes[sel & 3],
		.addr = bases[(sel >> 2) & 3] + (off & 0xff),
		.value = off * 0x0101010101010101ull,
	};
	uint64_t val = 0;

	if (acc.type == IVY_IOREQ_TYPE_PIO) {
		acc.addr &= 0xffff;
		if (acc.size == 8)
			acc.size = 4;
	}
	st->size[v] = acc.size;
	st->is_read[v] = acc.dir == IVY_IOREQ_READ;
	if (ioreq_request_start(st->io, v, &acc, &val)) {
		if (st->is_read[v])
			check(val <= ioreq_width_mask(acc.size));
		check(st->io->slots[v].state == IVY_IOREQ_STATE_FREE);
		return;
	}
	st->in_flight[v] = true;
}

static struct ivy_ioreq_client *make_async(struct fuzz_state *st)
{
	struct ivy_ioreq_client_config cfg = { .name = "async" };
	struct ivy_ioreq_client *c = NULL;

	check(ivy_ioreq_client_create(st->vm, &cfg, &c) == 0);
	check(ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_MMIO, ASYNC_BASE, ASYNC_BASE + 0xfff) ==
	      0);
	check(ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_PIO, 0x0, 0x7ff) == 0);
	return c;
}

static struct ivy_ioreq_client *make_remote(struct fuzz_state *st)
{
	struct ivy_ioreq_client *c = NULL;

	check(ioreq_client_create_remote(st->io, "remote", &c) == 0);
	check(ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_MMIO, REMOTE_BASE,
					 REMOTE_BASE + 0xfff) == 0);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ivy_vm_config cfg = { .nr_vcpus = NR_VCPUS, .flags = IVY_VM_F_IOREQ_POLLING };
	struct fuzz_state st = { 0 };
	const uint8_t *p = data;
	size_t n = size;

	if (ivy_vm_create(&cfg, &st.vm) || ivy_ioreq_init(st.vm))
		abort();
	st.io = ioreq_vm_of(st.vm);
	st.remote = make_remote(&st);
	st.async = make_async(&st);

	while (n) {
		uint8_t op = (uint8_t)take(&p, &n, 1);
		uint32_t v = (op >> 4) % NR_VCPUS;

		switch (op & 0xf) {
		case 0:
		case 1: {
			uint64_t sel = take(&p, &n, 1), off = take(&p, &n, 1);

			if (!st.in_flight[v])
				start(&st, v, sel, off);
			break;
		}
		case 2: { /* the hostile client writes a word anywhere in its pages */
			uint64_t where = take(&p, &n, 2), what = take(&p, &n, 8);
			size_t words = st.remote->map_size / 8;

			__atomic_store_n((uint64_t *)st.remote->slots + (where % words), what,
					 __ATOMIC_RELEASE);
			break;
		}
		case 3: { /* ... or a 32-bit word of one slot, typically its state */
			uint64_t field = take(&p, &n, 1), what = take(&p, &n, 4);
			uint32_t *w = (uint32_t *)&st.remote->slots[v] + (field % 16);

			__atomic_store_n(w, (uint32_t)(what % 8 == 7 ? what : what % 5),
					 __ATOMIC_RELEASE);
			break;
		}
		case 4: { /* an in-process completion with made-up numbers */
			struct ivy_ioreq req = { .vcpu = (uint32_t)take(&p, &n, 1) % (NR_VCPUS + 2),
						 .seq = (uint32_t)take(&p, &n, 2),
						 .value = take(&p, &n, 8) };
			int ret = ivy_ioreq_client_complete(st.async, &req);

			check(ret == 0 || ret == -EPERM || ret == -EALREADY || ret == -EINVAL);
			break;
		}
		case 5: { /* the in-process client serves honestly */
			struct ivy_ioreq req;

			if (ivy_ioreq_client_wait(st.async, 0, &req) == 0) {
				req.value = take(&p, &n, 8);
				check(ivy_ioreq_client_complete(st.async, &req) == 0);
				check(ivy_ioreq_client_complete(st.async, &req) == -EALREADY);
			}
			break;
		}
		case 6:
		case 7: /* the vCPU looks */
			if (st.in_flight[v] && ioreq_request_poll(st.io, v))
				finish(&st, v);
			break;
		case 8: /* the hostile client dies */
			check(ivy_ioreq_client_destroy(st.remote) == 0);
			st.remote = make_remote(&st);
			break;
		case 9:
			check(ivy_ioreq_client_destroy(st.async) == 0);
			st.async = make_async(&st);
			break;
		case 10:
			check(ivy_ioreq_clear(st.vm) == 0);
			drain(&st);
			break;
		default: break;
		}
	}
	/* Whatever the client did, destroying it releases every vCPU. */
	check(ivy_ioreq_client_destroy(st.remote) == 0);
	check(ivy_ioreq_client_destroy(st.async) == 0);
	drain(&st);
	ivy_vm_close(st.vm);
	return 0;
}
