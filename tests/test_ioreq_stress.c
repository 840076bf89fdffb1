/* SPDX-License-Identifier: MIT */
/*
 * Threaded stress: 16 vCPU threads against in-process (asynchronous and
 * synchronous) and out-of-process clients, some of which are killed and
 * re-created mid-request, then the VM is destroyed under load. Every request
 * must return once, with the right value or (only for the clients that die)
 * all-ones, and the unhandled count must match what the vCPUs saw.
 */
#include "ioreq_util.h"

#include <ivy/client.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NR_VCPUS   16
#define RANGE_SIZE 0x1000ull
#define LOAD_MS	   1500
#define KILL_EVERY 97

/* The address ranges, one per client. */
enum {
	R_ASYNC0,  /* in-process, asynchronous, stable */
	R_ASYNC1,  /* in-process, asynchronous, killed and re-created */
	R_SYNC,	   /* in-process, synchronous */
	R_REMOTE0, /* out-of-process, stable */
	R_REMOTE1, /* out-of-process, killed and re-created */
	R_NR
};

static const uint64_t range_base[R_NR] = { 0x100000, 0x200000, 0x300000, 0x400000, 0x500000 };
static const bool range_dies[R_NR] = { false, true, false, false, true };

static uint64_t answer(uint64_t addr)
{
	return addr * 0x9e3779b97f4a7c15ull;
}

struct stress {
	struct ivy_vm *vm;
	char path[108];
	atomic_bool stop_clients;
	atomic_ullong completed_ok[R_NR]; /* completions the client saw accepted */
	atomic_uint ready;
};

struct vcpu_stats {
	struct stress *st;
	uint32_t index;
	uint64_t requests;
	uint64_t exact[R_NR];
	uint64_t ones[R_NR];
	uint64_t wrong;
	pthread_t thread;
};

static void *vcpu_main(void *arg)
{
	struct vcpu_stats *vs = arg;
	struct ivy_vcpu *v = ivy_vm_vcpu(vs->st->vm, vs->index);
	uint64_t i = vs->index;

	for (;; i++) {
		int r = (int)(i % R_NR);
		uint64_t addr = range_base[r] + ((i * 8) & (RANGE_SIZE - 8)), val = 0;
		int ret = ivy_vcpu_mmio(v, addr, 8, false, &val);

		if (ret == -ENODEV)
			break; /* the VM is gone */
		if (ret) {
			vs->wrong++;
			break;
		}
		vs->requests++;
		if (val == answer(addr))
			vs->exact[r]++;
		else if (val == ~0ull)
			vs->ones[r]++;
		else
			vs->wrong++;
	}
	return NULL;
}

/* ---- in-process clients ---- */

static int sync_handle(void *opaque, struct ivy_ioreq *req)
{
	struct stress *st = opaque;

	req->value = answer(req->addr);
	atomic_fetch_add(&st->completed_ok[R_SYNC], 1);
	return 0;
}

static const struct ivy_ioreq_client_ops sync_ops = { .handle = sync_handle };

struct async_arg {
	struct stress *st;
	int range;
	pthread_t thread;
};

static struct ivy_ioreq_client *async_make(struct stress *st, int r)
{
	struct ivy_ioreq_client_config cfg = { .name = "async" };
	struct ivy_ioreq_client *c = NULL;

	if (ivy_ioreq_client_create(st->vm, &cfg, &c))
		return NULL;
	if (ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_MMIO, range_base[r],
				       range_base[r] + RANGE_SIZE - 1)) {
		if (ivy_ioreq_client_destroy(c))
			return NULL;
		return NULL;
	}
	return c;
}

static void *async_main(void *arg)
{
	struct async_arg *a = arg;
	struct stress *st = a->st;
	struct ivy_ioreq_client *c = async_make(st, a->range);
	uint64_t n = 0;

	atomic_fetch_add(&st->ready, 1);
	while (c && !atomic_load(&st->stop_clients)) {
		struct ivy_ioreq req;
		int ret = ivy_ioreq_client_wait(c, 20000000, &req);

		if (ret == -ETIMEDOUT)
			continue;
		if (ret)
			break; /* -ENODEV: the VM's teardown took the client */
		if (range_dies[a->range] && ++n % KILL_EVERY == 0) {
			/* Die holding the request; a successor takes the range over. */
			assert_int_equal(ivy_ioreq_client_destroy(c), 0);
			c = async_make(st, a->range);
			continue;
		}
		req.value = answer(req.addr);
		if (ivy_ioreq_client_complete(c, &req) == 0)
			atomic_fetch_add(&st->completed_ok[a->range], 1);
	}
	if (c)
		assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	return NULL;
}

/* ---- out-of-process clients (over the socket, in threads) ---- */

static struct ivy_client *remote_make(struct stress *st, int r)
{
	struct ivy_client *c;

	if (ivy_client_connect(st->path, "remote", &c))
		return NULL;
	/* The predecessor's death may not be processed yet: its range is still taken. */
	for (int tries = 0; tries < 2000; tries++) {
		int ret = ivy_client_claim(c, IVY_IOREQ_TYPE_MMIO, range_base[r],
					   range_base[r] + RANGE_SIZE - 1);

		if (ret == 0)
			return c;
		if (ret != -EEXIST)
			break;
		ioreq_test_sleep_ms(1);
	}
	ivy_client_close(c);
	return NULL;
}

static void *remote_main(void *arg)
{
	struct async_arg *a = arg;
	struct stress *st = a->st;
	struct ivy_client *c = remote_make(st, a->range);
	uint64_t n = 0;

	atomic_fetch_add(&st->ready, 1);
	while (c && !atomic_load(&st->stop_clients)) {
		struct ivy_ioreq req;
		int ret = ivy_client_wait(c, 20, &req);

		if (ret == -ETIMEDOUT)
			continue;
		if (ret)
			break; /* -EPIPE: the VM went away */
		if (range_dies[a->range] && ++n % KILL_EVERY == 0) {
			ivy_client_close(c);
			c = remote_make(st, a->range);
			continue;
		}
		req.value = answer(req.addr);
		if (ivy_client_complete(c, &req) == 0)
			atomic_fetch_add(&st->completed_ok[a->range], 1);
	}
	if (c)
		ivy_client_close(c);
	return NULL;
}

static void test_stress(void **state)
{
	static struct stress st;
	static struct vcpu_stats vs[NR_VCPUS];
	struct async_arg clients[4] = {
		{ &st, R_ASYNC0, 0 },
		{ &st, R_ASYNC1, 0 },
		{ &st, R_REMOTE0, 0 },
		{ &st, R_REMOTE1, 0 },
	};
	struct ivy_ioreq_client_config scfg = { .name = "sync", .ops = &sync_ops, .opaque = &st };
	struct ivy_ioreq_client *sc;
	uint64_t total = 0, ones = 0, exact_async = 0, sync_exact = 0;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.vm = ioreq_test_vm(NR_VCPUS, 0, NULL);
	snprintf(st.path, sizeof(st.path), "/tmp/ivy-stress-%d.sock", getpid());
	unlink(st.path);
	assert_int_equal(ivy_ioreq_server_start(st.vm, st.path), 0);
	assert_int_equal(ivy_ioreq_client_create(st.vm, &scfg, &sc), 0);
	assert_int_equal(ivy_ioreq_client_add_range(sc, IVY_IOREQ_TYPE_MMIO, range_base[R_SYNC],
						    range_base[R_SYNC] + RANGE_SIZE - 1),
			 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&clients[i].thread, NULL,
						i < 2 ? async_main : remote_main, &clients[i]),
				 0);
	while (atomic_load(&st.ready) < 4)
		ioreq_test_sleep_ms(1);
	for (uint32_t v = 0; v < NR_VCPUS; v++) {
		vs[v] = (struct vcpu_stats){ .st = &st, .index = v };
		assert_int_equal(pthread_create(&vs[v].thread, NULL, vcpu_main, &vs[v]), 0);
	}
	ioreq_test_sleep_ms(LOAD_MS);
	/* Destroyed under load: every vCPU must come back, and no handler runs afterwards. */
	assert_int_equal(ivy_vm_destroy(st.vm), 0);
	for (uint32_t v = 0; v < NR_VCPUS; v++)
		assert_int_equal(pthread_join(vs[v].thread, NULL), 0);
	atomic_store(&st.stop_clients, true);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(clients[i].thread, NULL), 0);

	for (uint32_t v = 0; v < NR_VCPUS; v++) {
		assert_int_equal(vs[v].wrong, 0);
		assert_true(vs[v].requests > 0);
		total += vs[v].requests;
		for (int r = 0; r < R_NR; r++) {
			ones += vs[v].ones[r];
			/* Only a dying client (or the final teardown) may leave all-ones. */
			if (!range_dies[r])
				assert_true(vs[v].ones[r] <= 1);
		}
		exact_async += vs[v].exact[R_ASYNC0] + vs[v].exact[R_ASYNC1];
		sync_exact += vs[v].exact[R_SYNC];
	}
	/* Each accepted in-process completion produced exactly one right answer, and vice versa. */
	assert_int_equal(exact_async, atomic_load(&st.completed_ok[R_ASYNC0]) +
					      atomic_load(&st.completed_ok[R_ASYNC1]));
	assert_int_equal(sync_exact, atomic_load(&st.completed_ok[R_SYNC]));
	assert_int_equal(ones, ivy_vm_stat(st.vm, IVY_STAT_IOREQ_UNHANDLED));
	assert_int_equal(total, ivy_vm_stat(st.vm, IVY_STAT_IOREQ));
	assert_int_equal(ivy_ioreq_client_destroy(sc), 0);
	ivy_vm_close(st.vm);
	printf("# %llu requests, %llu unhandled\n", (unsigned long long)total,
	       (unsigned long long)ones);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
