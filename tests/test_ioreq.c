/* SPDX-License-Identifier: MIT */
/* The I/O-request engine: slots, routing, in-process clients, completion rules, teardown. */
#include "ioreq_util.h"

#include "ioreq/ioreq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- hooks that record what the library reports ---- */

struct recorder {
	atomic_int logs;
	char last_log[256];
	char suppressed_log[256];
	atomic_int submits, completes;
	atomic_int blocks, unblocks;
	pthread_mutex_t lock;
};

static void rec_log(void *opaque, enum ivy_log_level level, const char *msg)
{
	struct recorder *r = opaque;

	(void)level;
	pthread_mutex_lock(&r->lock);
	snprintf(r->last_log, sizeof(r->last_log), "%s", msg);
	if (strstr(msg, "suppressed"))
		snprintf(r->suppressed_log, sizeof(r->suppressed_log), "%s", msg);
	pthread_mutex_unlock(&r->lock);
	atomic_fetch_add(&r->logs, 1);
}

static void rec_trace(void *opaque, const struct ivy_trace_event *ev)
{
	struct recorder *r = opaque;

	if (ev->kind == IVY_TRACE_IOREQ_SUBMIT)
		atomic_fetch_add(&r->submits, 1);
	if (ev->kind == IVY_TRACE_IOREQ_COMPLETE)
		atomic_fetch_add(&r->completes, 1);
}

static void rec_block(void *opaque, struct ivy_vcpu *vcpu, bool blocked)
{
	struct recorder *r = opaque;

	(void)vcpu;
	atomic_fetch_add(blocked ? &r->blocks : &r->unblocks, 1);
}

static struct ivy_vm_hooks rec_hooks(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	return (struct ivy_vm_hooks){
		.opaque = r, .log = rec_log, .trace = rec_trace, .vcpu_block = rec_block
	};
}

/* ---- a synchronous client that records the last request ---- */

struct sync_dev {
	struct ivy_ioreq last;
	int calls;
	uint64_t reply;
	int ret;
};

static int sync_handle(void *opaque, struct ivy_ioreq *req)
{
	struct sync_dev *d = opaque;

	d->last = *req;
	d->calls++;
	if (req->dir == IVY_IOREQ_READ)
		req->value = d->reply;
	return d->ret;
}

static const struct ivy_ioreq_client_ops sync_ops = { .handle = sync_handle };

static struct ivy_ioreq_client *sync_client(struct ivy_vm *vm, struct sync_dev *d, uint32_t flags)
{
	struct ivy_ioreq_client_config cfg = {
		.name = "sync", .flags = flags, .ops = &sync_ops, .opaque = d
	};
	struct ivy_ioreq_client *c = NULL;

	assert_int_equal(ivy_ioreq_client_create(vm, &cfg, &c), 0);
	return c;
}

/* ---- tests ---- */

static void test_slot_layout_and_fresh_pages(void **state)
{
	struct ivy_vm_config cfg = { .nr_vcpus = 17 };
	struct ivy_vm *vm;
	struct ivy_ioreq_slot *slots;
	int fd;

	(void)state;
	assert_int_equal(sizeof(struct ivy_ioreq_slot), 256);
	assert_int_equal(IVY_IOREQ_STATE_FREE, 0);
	assert_int_equal(ivy_ioreq_nr_pages(16), 1);
	assert_int_equal(ivy_ioreq_nr_pages(17), 2);
	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	assert_int_equal(ivy_ioreq_pages_fd(vm), -ENODEV);
	assert_int_equal(ivy_ioreq_init(vm), 0);
	assert_int_equal(ivy_ioreq_init(vm), -EEXIST);
	fd = ivy_ioreq_pages_fd(vm);
	assert_true(fd >= 0);
	/* 17 vCPUs need two pages; a fresh page is all FREE slots. */
	assert_int_equal(lseek(fd, 0, SEEK_END), 2 * 4096);
	slots = mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(slots != MAP_FAILED);
	for (int i = 0; i < 32; i++)
		assert_int_equal(slots[i].state, IVY_IOREQ_STATE_FREE);
	munmap(slots, 2 * 4096);
	ivy_vm_close(vm);
}

static void test_no_engine_keeps_unclaimed_behaviour(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	uint64_t val = 0;

	(void)state;
	assert_int_equal(test_mmio_read(v, 0x1000, 4), 0xffffffffull);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_MMIO_UNCLAIMED), 1);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ), 0);
	assert_int_equal(ivy_vcpu_pio(v, 0x60, 1, false, &val), -ENODEV);
	ivy_vm_close(vm);
}

static void test_unhandled_without_clients(void **state)
{
	struct recorder r;
	struct ivy_vm_hooks hooks = rec_hooks(&r);
	struct ivy_vm *vm = ioreq_test_vm(1, 0, &hooks);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	uint64_t val = 0;

	(void)state;
	assert_int_equal(test_mmio_read(v, 0x10000000, 2), 0xffff);
	test_mmio_write(v, 0x10000000, 8, 42);
	assert_int_equal(ivy_vcpu_pio(v, 0x3f8, 1, false, &val), 0);
	assert_int_equal(val, 0xff);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 3);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_MMIO_UNCLAIMED), 0);
	assert_int_equal(atomic_load(&r.logs), 3);
	assert_non_null(strstr(r.last_log, "PIO"));
	ivy_vm_close(vm);
}

/*
 * A guest that keeps touching addresses nobody handles cannot flood the VMM's
 * log: each access is counted, but only VM_LOG_BURST messages go out in a
 * window, and the next one after it says how many were left out.
 */
static void test_unhandled_messages_are_rate_limited(void **state)
{
	struct recorder r;
	struct ivy_vm_hooks hooks = rec_hooks(&r);
	struct ivy_vm *vm = ioreq_test_vm(1, 0, &hooks);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	char want[64];

	(void)state;
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(test_mmio_read(v, 0x10000000 + 4 * i, 4), 0xffffffffull);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 1000);
	assert_int_equal(atomic_load(&r.logs), VM_LOG_BURST);
	/* The window ends (moved back rather than waited for). */
	pthread_mutex_lock(&vm->log_lock);
	vm->log_window_ns -= VM_LOG_WINDOW_NS;
	pthread_mutex_unlock(&vm->log_lock);
	test_mmio_write(v, 0x20000000, 4, 1);
	assert_int_equal(atomic_load(&r.logs), VM_LOG_BURST + 2);
	assert_non_null(strstr(r.last_log, "write 0x20000000"));
	snprintf(want, sizeof(want), "%u messages suppressed", 1000 - VM_LOG_BURST);
	assert_string_equal(r.suppressed_log, want);
	ivy_vm_close(vm);
}

static void test_pio_arguments(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	uint64_t val = 0;

	(void)state;
	assert_int_equal(ivy_vcpu_pio(v, 0x60, 8, false, &val), -EINVAL);
	assert_int_equal(ivy_vcpu_pio(v, 0x60, 3, false, &val), -EINVAL);
	assert_int_equal(ivy_vcpu_pio(v, 0xffff, 2, false, &val), -EINVAL);
	assert_int_equal(ivy_vcpu_pio(v, 0x60, 1, false, NULL), -EINVAL);
	assert_int_equal(ivy_vcpu_pio(NULL, 0x60, 1, false, &val), -EINVAL);
	assert_int_equal(ivy_vcpu_pio(v, 0xffff, 1, false, &val), 0);
	ivy_vm_close(vm);
}

static void test_sync_client_round_trip(void **state)
{
	struct recorder r;
	struct ivy_vm_hooks hooks = rec_hooks(&r);
	struct ivy_vm *vm = ioreq_test_vm(2, 0, &hooks);
	struct ivy_vcpu *v1 = ivy_vm_vcpu(vm, 1);
	struct sync_dev d = { .reply = 0x1122334455667788ull };
	struct ivy_ioreq_client *c = sync_client(vm, &d, 0);

	(void)state;
	ivy_vm_set_trace(vm, true);
	assert_int_equal(ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_MMIO, 0x9000000, 0x9000fff),
			 0);
	/* The reply is masked to the access width. */
	assert_int_equal(test_mmio_read(v1, 0x9000010, 2), 0x7788);
	assert_int_equal(d.last.vcpu, 1);
	assert_int_equal(d.last.type, IVY_IOREQ_TYPE_MMIO);
	assert_int_equal(d.last.dir, IVY_IOREQ_READ);
	assert_int_equal(d.last.size, 2);
	assert_int_equal(d.last.addr, 0x9000010);
	/* Write data arrives masked too. */
	test_mmio_write(v1, 0x9000ff8, 4, 0xabcdef0123456789ull);
	assert_int_equal(d.last.dir, IVY_IOREQ_WRITE);
	assert_int_equal(d.last.value, 0x23456789);
	/* A handler that fails completes the request as unhandled. */
	d.ret = -EIO;
	assert_int_equal(test_mmio_read(v1, 0x9000000, 4), 0xffffffffull);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 1);
	assert_int_equal(atomic_load(&r.submits), 3);
	assert_int_equal(atomic_load(&r.completes), 3);
	assert_int_equal(d.calls, 3);
	/* The slot is FREE again after every request. */
	assert_int_equal(ioreq_vm_of(vm)->slots[1].state, IVY_IOREQ_STATE_FREE);
	assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	ivy_vm_close(vm);
}

static void test_ranges_wholly_inside_and_overlaps(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct sync_dev a = { .reply = 0xaa }, b = { .reply = 0xbb };
	struct ivy_ioreq_client *ca = sync_client(vm, &a, 0), *cb = sync_client(vm, &b, 0);
	uint64_t val = 0;

	(void)state;
	assert_int_equal(ivy_ioreq_client_add_range(ca, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x10ff), 0);
	/* Overlaps, at either end and inside, with any client. */
	assert_int_equal(ivy_ioreq_client_add_range(cb, IVY_IOREQ_TYPE_MMIO, 0x10ff, 0x2000),
			 -EEXIST);
	assert_int_equal(ivy_ioreq_client_add_range(cb, IVY_IOREQ_TYPE_MMIO, 0x0, 0x1000), -EEXIST);
	assert_int_equal(ivy_ioreq_client_add_range(ca, IVY_IOREQ_TYPE_MMIO, 0x1010, 0x1010),
			 -EEXIST);
	assert_int_equal(ivy_ioreq_client_add_range(cb, IVY_IOREQ_TYPE_MMIO, 0x1100, 0x11ff), 0);
	assert_int_equal(ivy_ioreq_client_add_range(cb, IVY_IOREQ_TYPE_MMIO, 0x2000, 0x1000),
			 -EINVAL);
	assert_int_equal(ivy_ioreq_client_add_range(cb, 7, 0, 1), -EINVAL);
	assert_int_equal(ivy_ioreq_client_add_range(cb, IVY_IOREQ_TYPE_PIO, 0xfff0, 0x10000),
			 -EINVAL);
	/* Port ranges have inclusive ends; the same numbers in another space do not clash. */
	assert_int_equal(ivy_ioreq_client_add_range(ca, IVY_IOREQ_TYPE_PIO, 0x1000, 0x1003), 0);
	assert_int_equal(ivy_ioreq_client_add_range(cb, IVY_IOREQ_TYPE_PIO, 0x1004, 0x1004), 0);

	assert_int_equal(test_mmio_read(v, 0x10fc, 4), 0xaa); /* last 4 bytes of a */
	assert_int_equal(test_mmio_read(v, 0x1100, 1), 0xbb); /* first byte of b */
	/* Straddling the boundary belongs to neither; no default client: unhandled. */
	assert_int_equal(test_mmio_read(v, 0x10fe, 4), 0xffffffffull);
	assert_int_equal(ivy_vcpu_pio(v, 0x1003, 1, false, &val), 0);
	assert_int_equal(val, 0xaa);
	assert_int_equal(ivy_vcpu_pio(v, 0x1003, 2, false, &val), 0);
	assert_int_equal(val, 0xffff);
	assert_int_equal(ivy_vcpu_pio(v, 0x1004, 1, false, &val), 0);
	assert_int_equal(val, 0xbb);
	/* Removing needs the exact bounds and the owner. */
	assert_int_equal(ivy_ioreq_client_del_range(cb, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x10ff),
			 -ENOENT);
	assert_int_equal(ivy_ioreq_client_del_range(ca, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x10fe),
			 -ENOENT);
	assert_int_equal(ivy_ioreq_client_del_range(ca, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x10ff), 0);
	assert_int_equal(test_mmio_read(v, 0x1000, 4), 0xffffffffull);
	assert_int_equal(ivy_ioreq_client_add_range(cb, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x10ff), 0);
	assert_int_equal(test_mmio_read(v, 0x1000, 4), 0xbb);
	assert_int_equal(ivy_ioreq_client_destroy(ca), 0);
	assert_int_equal(ivy_ioreq_client_destroy(cb), 0);
	ivy_vm_close(vm);
}

static void test_default_client(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct sync_dev d = { .reply = 0x5 }, e = { .reply = 0x6 };
	struct ivy_ioreq_client *def = sync_client(vm, &d, IVY_IOREQ_CLIENT_F_DEFAULT);
	struct ivy_ioreq_client_config cfg = { .flags = IVY_IOREQ_CLIENT_F_DEFAULT,
					       .ops = &sync_ops,
					       .opaque = &e };
	struct ivy_ioreq_client *other = NULL, *claimer = sync_client(vm, &e, 0);
	uint64_t val = 0;

	(void)state;
	assert_int_equal(ivy_ioreq_client_create(vm, &cfg, &other), -EEXIST);
	cfg.flags = 0x80;
	assert_int_equal(ivy_ioreq_client_create(vm, &cfg, &other), -EINVAL);
	assert_int_equal(ivy_ioreq_client_add_range(claimer, IVY_IOREQ_TYPE_MMIO, 0x2000, 0x2fff),
			 0);
	assert_int_equal(test_mmio_read(v, 0x2000, 4), 0x6);
	assert_int_equal(test_mmio_read(v, 0x3000, 4), 0x5);
	assert_int_equal(ivy_vcpu_pio(v, 0x70, 1, false, &val), 0);
	assert_int_equal(val, 0x5);
	assert_int_equal(d.last.type, IVY_IOREQ_TYPE_PIO);
	/* A straddling access goes to the default client. */
	assert_int_equal(test_mmio_read(v, 0x2ffe, 4), 0x5);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 0);
	/* Once the default client goes, a new one may take its place. */
	assert_int_equal(ivy_ioreq_client_destroy(def), 0);
	assert_int_equal(test_mmio_read(v, 0x3000, 4), 0xffffffffull);
	cfg.flags = IVY_IOREQ_CLIENT_F_DEFAULT;
	assert_int_equal(ivy_ioreq_client_create(vm, &cfg, &other), 0);
	assert_int_equal(test_mmio_read(v, 0x3000, 4), 0x6);
	assert_int_equal(ivy_ioreq_client_destroy(other), 0);
	assert_int_equal(ivy_ioreq_client_destroy(claimer), 0);
	ivy_vm_close(vm);
}

/* ---- asynchronous clients ---- */

struct serve_arg {
	struct ivy_ioreq_client *c;
	uint64_t xor ;
	int served;
	int stop_after;
};

static void *serve_thread(void *arg)
{
	struct serve_arg *s = arg;
	struct ivy_ioreq req;

	while (s->served < s->stop_after && ivy_ioreq_client_wait(s->c, -1, &req) == 0) {
		req.value = req.addr ^ s->xor ;
		assert_int_equal(ivy_ioreq_client_complete(s->c, &req), 0);
		s->served++;
	}
	return NULL;
}

static void run_async_round_trips(uint32_t vm_flags)
{
	struct recorder r;
	struct ivy_vm_hooks hooks = rec_hooks(&r);
	struct ivy_vm *vm = ioreq_test_vm(1, vm_flags, &hooks);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct serve_arg s = { .xor = 0x5a5a, .stop_after = 50 };
	pthread_t t;

	s.c = ioreq_test_client(vm, "async", 0, IVY_IOREQ_TYPE_MMIO, 0x100000, 0x1fffff);
	assert_int_equal(pthread_create(&t, NULL, serve_thread, &s), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(test_mmio_read(v, 0x100000 + i * 8, 8),
				 (0x100000 + i * 8) ^ 0x5a5a);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.served, 50);
	/* Blocking waits hand the vCPU's execution over through the hook; polling never sleeps. */
	assert_int_equal(atomic_load(&r.blocks), atomic_load(&r.unblocks));
	if (vm_flags & IVY_VM_F_IOREQ_POLLING)
		assert_int_equal(atomic_load(&r.blocks), 0);
	assert_int_equal(ivy_ioreq_client_destroy(s.c), 0);
	ivy_vm_close(vm);
}

static void test_async_blocking(void **state)
{
	(void)state;
	run_async_round_trips(0);
}

static void test_async_polling(void **state)
{
	(void)state;
	run_async_round_trips(IVY_VM_F_IOREQ_POLLING);
}

static void test_vcpu_block_hook(void **state)
{
	struct recorder r;
	struct ivy_vm_hooks hooks = rec_hooks(&r);
	struct ivy_vm *vm = ioreq_test_vm(1, 0, &hooks);
	struct ivy_ioreq_client *c = ioreq_test_client(vm, "c", 0, IVY_IOREQ_TYPE_MMIO, 0, 0xfff);
	struct ioreq_async_access a;
	struct ivy_ioreq req;

	(void)state;
	ioreq_async_start(&a, ivy_vm_vcpu(vm, 0), false, 0x10, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	/* Give the vCPU time to go to sleep: it must have announced it first. */
	for (int i = 0; i < 1000 && atomic_load(&r.blocks) == 0; i++)
		ioreq_test_sleep_ms(1);
	assert_int_equal(atomic_load(&r.blocks), 1);
	assert_int_equal(atomic_load(&r.unblocks), 0);
	req.value = 7;
	assert_int_equal(ivy_ioreq_client_complete(c, &req), 0);
	assert_int_equal(ioreq_async_join(&a), 7);
	assert_int_equal(atomic_load(&r.unblocks), 1);
	assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	ivy_vm_close(vm);
}

static void test_completion_rules(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(2, 0, NULL);
	struct ivy_ioreq_client *a = ioreq_test_client(vm, "a", 0, IVY_IOREQ_TYPE_MMIO, 0, 0xfff);
	struct ivy_ioreq_client *b =
		ioreq_test_client(vm, "b", 0, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x1fff);
	struct ioreq_async_access acc;
	struct ivy_ioreq req, forged;

	(void)state;
	assert_int_equal(ivy_ioreq_client_wait(a, 0, &req), -EAGAIN);
	assert_int_equal(ivy_ioreq_client_wait(a, 1000000, &req), -ETIMEDOUT);
	ioreq_async_start(&acc, ivy_vm_vcpu(vm, 1), false, 0x20, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(a, -1, &req), 0);
	assert_int_equal(req.vcpu, 1);
	assert_int_equal(req.addr, 0x20);
	/* The shared slot shows the assignment. */
	assert_int_equal(ioreq_vm_of(vm)->slots[1].state, IVY_IOREQ_STATE_PROCESSING);
	assert_int_equal(ioreq_vm_of(vm)->slots[1].client_id, ivy_ioreq_client_id(a));
	/* Another client cannot complete it, nor can a wrong sequence or vCPU. */
	forged = req;
	forged.value = 0xbad;
	assert_int_equal(ivy_ioreq_client_complete(b, &forged), -EPERM);
	forged.seq++;
	assert_int_equal(ivy_ioreq_client_complete(a, &forged), -EPERM);
	forged = req;
	forged.vcpu = 2;
	assert_int_equal(ivy_ioreq_client_complete(a, &forged), -EINVAL);
	forged.vcpu = 0;
	assert_int_equal(ivy_ioreq_client_complete(a, &forged), -EPERM);
	assert_int_equal(ivy_ioreq_client_complete(a, NULL), -EINVAL);
	req.value = 0x12345678;
	assert_int_equal(ivy_ioreq_client_complete(a, &req), 0);
	/* A second completion is refused and changes nothing. */
	req.value = 0x9999;
	assert_int_equal(ivy_ioreq_client_complete(a, &req), -EALREADY);
	assert_int_equal(ioreq_async_join(&acc), 0x12345678);
	assert_int_equal(ivy_ioreq_client_complete(a, &req), -EALREADY);
	/* A synchronous client has no queue. */
	assert_int_equal(ivy_ioreq_client_wait(NULL, 0, &req), -EINVAL);
	assert_int_equal(ivy_ioreq_client_destroy(a), 0);
	assert_int_equal(ivy_ioreq_client_destroy(b), 0);
	assert_int_equal(ivy_ioreq_client_destroy(NULL), -EINVAL);
	ivy_vm_close(vm);
}

struct waiter_arg {
	struct ivy_ioreq_client *c;
	int ret;
};

static void *waiter_thread(void *arg)
{
	struct waiter_arg *w = arg;
	struct ivy_ioreq req;

	w->ret = ivy_ioreq_client_wait(w->c, -1, &req);
	return NULL;
}

static void test_client_destroy_in_flight(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(2, 0, NULL);
	struct ivy_ioreq_client *c = ioreq_test_client(vm, "c", 0, IVY_IOREQ_TYPE_MMIO, 0, 0xfff);
	struct ioreq_async_access a0, a1;
	struct waiter_arg w = { .c = c };
	struct ivy_ioreq req;
	pthread_t t;

	(void)state;
	ioreq_async_start(&a0, ivy_vm_vcpu(vm, 0), false, 0x10, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	/* The second request stays queued; a thread sleeps in wait. */
	ioreq_async_start(&a1, ivy_vm_vcpu(vm, 1), false, 0x20, 2, true, 0x55);
	while (ivy_vm_stat(vm, IVY_STAT_IOREQ) < 2)
		ioreq_test_sleep_ms(1);
	assert_int_equal(pthread_create(&t, NULL, waiter_thread, &w), 0);
	ioreq_test_sleep_ms(5);
	assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	/* Both vCPUs got their answer (unhandled), and the waiter left. */
	assert_int_equal(ioreq_async_join(&a0), 0xffffffffull);
	ioreq_async_join(&a1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(w.ret == -ENODEV || w.ret == 0);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 2);
	/* The address is unclaimed now. */
	assert_int_equal(test_mmio_read(ivy_vm_vcpu(vm, 0), 0x10, 1), 0xff);
	ivy_vm_close(vm);
}

static void test_vm_destroy_in_flight(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	struct ivy_ioreq_client *c = ioreq_test_client(vm, "c", 0, IVY_IOREQ_TYPE_MMIO, 0, 0xfff);
	struct ioreq_async_access a;
	struct ivy_ioreq req;
	uint64_t val = 0;

	(void)state;
	ioreq_async_start(&a, ivy_vm_vcpu(vm, 0), false, 0x10, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	assert_int_equal(ivy_vm_destroy(vm), 0);
	assert_int_equal(ioreq_async_join(&a), 0xffffffffull);
	/* The client's late answer is refused; new accesses fail; the handle is still valid. */
	assert_int_equal(ivy_ioreq_client_complete(c, &req), -EALREADY);
	assert_int_equal(ivy_ioreq_client_wait(c, 0, &req), -ENODEV);
	assert_int_equal(ivy_vcpu_mmio(ivy_vm_vcpu(vm, 0), 0x10, 4, false, &val), -ENODEV);
	assert_int_equal(ivy_vcpu_pio(ivy_vm_vcpu(vm, 0), 0x10, 4, false, &val), -ENODEV);
	assert_int_equal(ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_PIO, 0, 1), -ENODEV);
	assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	ivy_vm_close(vm);
}

static void test_vm_destroy_frees_parked_clients(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	struct sync_dev d = { 0 };

	(void)state;
	/* Never destroyed by the caller: the VM's last reference frees them (ASan checks). */
	ioreq_test_client(vm, "c", 0, IVY_IOREQ_TYPE_MMIO, 0, 0xfff);
	sync_client(vm, &d, IVY_IOREQ_CLIENT_F_DEFAULT);
	ivy_vm_close(vm);
}

/* A synchronous handler still running when its client or the VM goes: destroy waits for it. */
struct slow_dev {
	atomic_int inside;
	atomic_int calls;
};

static int slow_handle(void *opaque, struct ivy_ioreq *req)
{
	struct slow_dev *d = opaque;

	atomic_store(&d->inside, 1);
	ioreq_test_sleep_ms(50);
	req->value = 1;
	atomic_fetch_add(&d->calls, 1);
	atomic_store(&d->inside, 0);
	return 0;
}

static const struct ivy_ioreq_client_ops slow_ops = { .handle = slow_handle };

static void test_destroy_waits_for_sync_handler(void **state)
{
	for (int vm_level = 0; vm_level < 2; vm_level++) {
		struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
		struct slow_dev d = { 0 };
		struct ivy_ioreq_client_config cfg = { .ops = &slow_ops, .opaque = &d };
		struct ivy_ioreq_client *c;
		struct ioreq_async_access a;
		uint64_t val = 0;

		(void)state;
		assert_int_equal(ivy_ioreq_client_create(vm, &cfg, &c), 0);
		assert_int_equal(ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_MMIO, 0, 0xfff), 0);
		ioreq_async_start(&a, ivy_vm_vcpu(vm, 0), false, 0x10, 4, false, 0);
		while (!atomic_load(&d.inside))
			ioreq_test_sleep_ms(1);
		if (vm_level)
			assert_int_equal(ivy_vm_destroy(vm), 0);
		else
			assert_int_equal(ivy_ioreq_client_destroy(c), 0);
		/* When destroy returns the handler has finished, and it never runs again. */
		assert_int_equal(atomic_load(&d.inside), 0);
		assert_int_equal(atomic_load(&d.calls), 1);
		ioreq_async_join(&a);
		if (!vm_level) {
			assert_int_equal(test_mmio_read(ivy_vm_vcpu(vm, 0), 0x10, 4),
					 0xffffffffull);
		} else {
			assert_int_equal(ivy_vcpu_mmio(ivy_vm_vcpu(vm, 0), 0x10, 4, false, &val),
					 -ENODEV);
			assert_int_equal(ivy_ioreq_client_destroy(c), 0);
		}
		assert_int_equal(atomic_load(&d.calls), 1);
		ivy_vm_close(vm);
	}
}

static void test_clear(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(2, 0, NULL);
	struct ivy_ioreq_client *c = ioreq_test_client(vm, "c", 0, IVY_IOREQ_TYPE_MMIO, 0, 0xfff);
	struct ioreq_async_access a;
	struct ivy_ioreq req;

	(void)state;
	assert_int_equal(ivy_ioreq_clear(vm), 0);
	ioreq_async_start(&a, ivy_vm_vcpu(vm, 1), false, 0x10, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	assert_int_equal(ivy_ioreq_clear(vm), 0);
	assert_int_equal(ioreq_async_join(&a), 0xffffffffull);
	assert_int_equal(ioreq_vm_of(vm)->slots[1].state, IVY_IOREQ_STATE_FREE);
	assert_int_equal(ivy_ioreq_client_complete(c, &req), -EALREADY);
	/* The client keeps serving after a clear. */
	ioreq_async_start(&a, ivy_vm_vcpu(vm, 1), false, 0x10, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	req.value = 3;
	assert_int_equal(ivy_ioreq_client_complete(c, &req), 0);
	assert_int_equal(ioreq_async_join(&a), 3);
	assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	ivy_vm_close(vm);
}

/* ---- PCI configuration routing ---- */

static void test_pci_cf8_cfc(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct sync_dev dev = { .reply = 0x12345678 }, io = { .reply = 0x77 };
	struct ivy_ioreq_client *c = sync_client(vm, &dev, 0);
	struct ivy_ioreq_client *pio = sync_client(vm, &io, 0);
	uint64_t val = 0;

	(void)state;
	assert_int_equal(ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_PCI, IVY_PCI_BDF(0, 3, 0),
						    IVY_PCI_BDF(0, 3, 7)),
			 0);
	assert_int_equal(ivy_ioreq_client_add_range(pio, IVY_IOREQ_TYPE_PIO, 0xcf8, 0xd03), 0);
	/* CONFIG_ADDRESS reads back; bus 0 dev 3 fn 1 reg 0x44, extended bits 0x2 -> 0x244. */
	val = 0x80000000u | (0x2u << 24) | (3u << 11) | (1u << 8) | 0x44;
	assert_int_equal(ivy_vcpu_pio(v, 0xcf8, 4, true, &val), 0);
	assert_int_equal(ivy_vcpu_pio(v, 0xcf8, 4, false, &val), 0);
	assert_int_equal(val, 0x82001944u);
	assert_int_equal(ivy_vcpu_pio(v, 0xcfe, 2, false, &val), 0);
	assert_int_equal(val, 0x5678);
	assert_int_equal(dev.last.type, IVY_IOREQ_TYPE_PCI);
	assert_int_equal(dev.last.pci_bdf, IVY_PCI_BDF(0, 3, 1));
	assert_int_equal(dev.last.addr, 0x246);
	assert_int_equal(dev.last.size, 2);
	val = 0xabcd;
	assert_int_equal(ivy_vcpu_pio(v, 0xcfc, 4, true, &val), 0);
	assert_int_equal(dev.last.dir, IVY_IOREQ_WRITE);
	assert_int_equal(dev.last.addr, 0x244);
	assert_int_equal(dev.last.value, 0xabcd);
	/* An unclaimed function reads all-ones (no default client). */
	val = 0x80000000u | (4u << 11);
	assert_int_equal(ivy_vcpu_pio(v, 0xcf8, 4, true, &val), 0);
	assert_int_equal(ivy_vcpu_pio(v, 0xcfc, 4, false, &val), 0);
	assert_int_equal(val, 0xffffffffull);
	/* Narrow accesses to 0xCF8 and accesses with the enable bit clear are plain port I/O. */
	assert_int_equal(ivy_vcpu_pio(v, 0xcf9, 1, false, &val), 0);
	assert_int_equal(val, 0x77);
	assert_int_equal(io.last.addr, 0xcf9);
	val = 3u << 11;
	assert_int_equal(ivy_vcpu_pio(v, 0xcf8, 4, true, &val), 0);
	assert_int_equal(ivy_vcpu_pio(v, 0xcfc, 4, false, &val), 0);
	assert_int_equal(val, 0x77);
	assert_int_equal(io.last.type, IVY_IOREQ_TYPE_PIO);
	/* A data access that runs past 0xCFF is plain port I/O as well. */
	val = 0x80000000u | (3u << 11);
	assert_int_equal(ivy_vcpu_pio(v, 0xcf8, 4, true, &val), 0);
	assert_int_equal(ivy_vcpu_pio(v, 0xcfe, 4, false, &val), 0);
	assert_int_equal(io.last.addr, 0xcfe);
	assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	assert_int_equal(ivy_ioreq_client_destroy(pio), 0);
	ivy_vm_close(vm);
}

static void test_pci_ecam(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct sync_dev dev = { .reply = 0x1af4 }, other = { .reply = 1 };
	struct ivy_ioreq_client *c = sync_client(vm, &dev, 0), *o = sync_client(vm, &other, 0);
	const uint64_t base = 0x3f000000;

	(void)state;
	assert_int_equal(ivy_ioreq_set_ecam(vm, base, 0x123, 0), -EINVAL);
	assert_int_equal(ivy_ioreq_set_ecam(vm, base + 0x1000, 1 << 20, 0), -EINVAL);
	assert_int_equal(ivy_ioreq_set_ecam(vm, base, 16 << 20, 250), -EINVAL);
	assert_int_equal(ivy_ioreq_set_ecam(vm, 1ull << 45, 16 << 20, 0), -E2BIG);
	assert_int_equal(ivy_ioreq_set_ecam(vm, base, 16 << 20, 0x10), 0);
	/* The window is not claimable as plain MMIO. */
	assert_int_equal(ivy_ioreq_client_add_range(o, IVY_IOREQ_TYPE_MMIO, base + 0x100000,
						    base + 0x100fff),
			 -EEXIST);
	assert_int_equal(ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_PCI, IVY_PCI_BDF(0x11, 2, 0),
						    IVY_PCI_BDF(0x11, 2, 0)),
			 0);
	/* Bus 0x10 + 1, device 2, function 0, register 0x10. */
	assert_int_equal(test_mmio_read(v, base + (1u << 20) + (2u << 15) + 0x10, 4), 0x1af4);
	assert_int_equal(dev.last.pci_bdf, IVY_PCI_BDF(0x11, 2, 0));
	assert_int_equal(dev.last.addr, 0x10);
	assert_int_equal(dev.last.type, IVY_IOREQ_TYPE_PCI);
	/* Function 1 of the same device is not claimed. */
	assert_int_equal(test_mmio_read(v, base + (1u << 20) + (2u << 15) + (1u << 12), 2), 0xffff);
	/* Crossing into the next function is nobody's. */
	assert_int_equal(test_mmio_read(v, base + (1u << 20) + (2u << 15) + 0xffe, 4),
			 0xffffffffull);
	assert_int_equal(dev.calls, 1);
	/* Removing the window turns it into plain MMIO again. */
	assert_int_equal(ivy_ioreq_set_ecam(vm, 0, 0, 0), 0);
	assert_int_equal(ivy_ioreq_client_add_range(o, IVY_IOREQ_TYPE_MMIO, base, base + 0xfff), 0);
	assert_int_equal(test_mmio_read(v, base + 0x10, 4), 1);
	assert_int_equal(ivy_ioreq_set_ecam(vm, base, 1 << 20, 0), -EEXIST);
	assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	assert_int_equal(ivy_ioreq_client_destroy(o), 0);
	ivy_vm_close(vm);
}

/* A client that takes a request and never answers cannot wedge the vCPU. */
static void run_timeout(uint32_t vm_flags)
{
	struct ivy_vm *vm = ioreq_test_vm(1, vm_flags, NULL);
	struct ivy_ioreq_client *c =
		ioreq_test_client(vm, "mute", 0, IVY_IOREQ_TYPE_MMIO, 0, 0xfff);
	struct ioreq_async_access a;
	struct ivy_ioreq req;

	assert_int_equal(ivy_ioreq_set_timeout(NULL, 1), -EINVAL);
	assert_int_equal(ivy_ioreq_set_timeout(vm, 50 * 1000000ull), 0);
	ioreq_async_start(&a, ivy_vm_vcpu(vm, 0), false, 0x10, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	/* ... and says nothing: the read completes as unhandled. */
	assert_int_equal(ioreq_async_join(&a), 0xffffffffull);
	assert_int_equal(ivy_ioreq_timeouts(vm), 1);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 1);
	/* The late answer is refused and changes nothing. */
	req.value = 7;
	assert_int_equal(ivy_ioreq_client_complete(c, &req), -EALREADY);
	/* The client keeps its claim, and an answer in time is taken as usual. */
	ioreq_async_start(&a, ivy_vm_vcpu(vm, 0), false, 0x10, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	req.value = 0x1234;
	assert_int_equal(ivy_ioreq_client_complete(c, &req), 0);
	assert_int_equal(ioreq_async_join(&a), 0x1234);
	assert_int_equal(ivy_ioreq_timeouts(vm), 1);
	ivy_vm_close(vm);
}

static void test_request_timeout_blocking(void **state)
{
	(void)state;
	run_timeout(0);
}

static void test_request_timeout_polling(void **state)
{
	(void)state;
	run_timeout(IVY_VM_F_IOREQ_POLLING);
}

static void test_timeout_needs_engine(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);

	(void)state;
	assert_int_equal(ivy_ioreq_set_timeout(vm, 1), -ENODEV);
	assert_int_equal(ivy_ioreq_timeouts(vm), 0);
	ivy_vm_close(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_layout_and_fresh_pages),
		cmocka_unit_test(test_no_engine_keeps_unclaimed_behaviour),
		cmocka_unit_test(test_unhandled_without_clients),
		cmocka_unit_test(test_unhandled_messages_are_rate_limited),
		cmocka_unit_test(test_pio_arguments),
		cmocka_unit_test(test_sync_client_round_trip),
		cmocka_unit_test(test_ranges_wholly_inside_and_overlaps),
		cmocka_unit_test(test_default_client),
		cmocka_unit_test(test_async_blocking),
		cmocka_unit_test(test_async_polling),
		cmocka_unit_test(test_vcpu_block_hook),
		cmocka_unit_test(test_completion_rules),
		cmocka_unit_test(test_client_destroy_in_flight),
		cmocka_unit_test(test_vm_destroy_in_flight),
		cmocka_unit_test(test_vm_destroy_frees_parked_clients),
		cmocka_unit_test(test_destroy_waits_for_sync_handler),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_pci_cf8_cfc),
		cmocka_unit_test(test_pci_ecam),
		cmocka_unit_test(test_request_timeout_blocking),
		cmocka_unit_test(test_request_timeout_polling),
		cmocka_unit_test(test_timeout_needs_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
