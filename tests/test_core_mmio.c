/* SPDX-License-Identifier: MIT */
/* The in-process MMIO bus and ivy_vcpu_mmio(). */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A device that remembers its last write and answers reads with base-tagged values. */
struct fake_dev {
	uint64_t tag;
	uint64_t last_offset, last_val;
	unsigned last_len;
	atomic_int calls;
	/* Set when the device is freed, so a late call is caught even without ASan. */
	atomic_int dead;
};

static uint64_t fake_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct fake_dev *d = opaque;

	(void)vcpu;
	assert_false(atomic_load(&d->dead));
	atomic_fetch_add(&d->calls, 1);
	d->last_offset = offset;
	d->last_len = len;
	return d->tag | offset;
}

static void fake_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
		       uint64_t val)
{
	struct fake_dev *d = opaque;

	(void)vcpu;
	assert_false(atomic_load(&d->dead));
	atomic_fetch_add(&d->calls, 1);
	d->last_offset = offset;
	d->last_len = len;
	d->last_val = val;
}

static const struct ivy_mmio_ops fake_ops = { .read = fake_read, .write = fake_write };

static void test_register_rejects_bad_regions(void **state)
{
	struct ivy_vm_config cfg = { .nr_vcpus = 1, .ipa_bits = 32 };
	struct ivy_vm *vm;
	struct fake_dev d = { 0 };
	struct ivy_mmio_region *r = NULL, *keep;
	static const struct ivy_mmio_ops half_ops = { .read = fake_read };
	(void)state;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	assert_int_equal(ivy_mmio_register(vm, 0x1000, 0x1000, &fake_ops, &d, &keep), 0);
	assert_int_equal(ivy_mmio_register(vm, 0x1000, 0, &fake_ops, &d, &r), -EINVAL);
	assert_int_equal(ivy_mmio_register(vm, 0x3000, 0x10, NULL, &d, &r), -EINVAL);
	assert_int_equal(ivy_mmio_register(vm, 0x3000, 0x10, &half_ops, &d, &r), -EINVAL);
	assert_int_equal(ivy_mmio_register(vm, ~0ull - 4, 0x10, &fake_ops, &d, &r), -EINVAL);
	assert_int_equal(ivy_mmio_register(vm, 0xfffffff0ull, 0x20, &fake_ops, &d, &r), -E2BIG);
	assert_int_equal(ivy_mmio_register(vm, 0x0fff, 2, &fake_ops, &d, &r), -EEXIST);
	assert_int_equal(ivy_mmio_register(vm, 0x1fff, 2, &fake_ops, &d, &r), -EEXIST);
	assert_int_equal(ivy_mmio_register(vm, 0x1800, 1, &fake_ops, &d, &r), -EEXIST);
	assert_null(r);
	/* The bus still has exactly the first region: its neighbours fit. */
	assert_int_equal(ivy_mmio_register(vm, 0x0000, 0x1000, &fake_ops, &d, &r), 0);
	assert_int_equal(ivy_mmio_register(vm, 0x2000, 0x1000, &fake_ops, &d, NULL), 0);
	assert_int_equal(ivy_mmio_unregister(vm, keep), 0);
	assert_int_equal(ivy_mmio_unregister(vm, r), 0);
	assert_int_equal(ivy_mmio_unregister(vm, r), -ENOENT); /* already gone */
	ivy_vm_close(vm);
}

static void test_lookup_routes_to_the_right_device(void **state)
{
	enum { N = 64 };
	struct ivy_vm *vm = test_vm_new(1);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct fake_dev devs[N];
	struct ivy_mmio_region *regs[N];
	(void)state;

	/* Registered out of order, each 0x100 long with a 0x100 hole after it. */
	for (int i = 0; i < N; i++) {
		int k = (i * 37) % N;

		memset(&devs[k], 0, sizeof(devs[k]));
		devs[k].tag = (uint64_t)(k + 1) << 32;
		assert_int_equal(ivy_mmio_register(vm, 0x10000000 + (uint64_t)k * 0x200, 0x100,
						   &fake_ops, &devs[k], &regs[k]),
				 0);
	}
	for (int k = 0; k < N; k++) {
		ivy_gpa_t base = 0x10000000 + (uint64_t)k * 0x200;

		assert_int_equal(test_mmio_read(v, base + 0x10, 4),
				 ((uint64_t)(k + 1) << 32 | 0x10) & 0xffffffffull);
		assert_int_equal(test_mmio_read(v, base + 0xf8, 8), (uint64_t)(k + 1) << 32 | 0xf8);
		test_mmio_write(v, base + 0x20, 2, 0x12345678);
		assert_int_equal(devs[k].last_offset, 0x20);
		assert_int_equal(devs[k].last_len, 2);
		assert_int_equal(devs[k].last_val, 0x5678); /* truncated to the access width */
		/* The hole after each device is unclaimed. */
		assert_int_equal(test_mmio_read(v, base + 0x100, 4), 0xffffffffull);
	}
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_MMIO_UNCLAIMED), N);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_MMIO_BUS), 3 * N);
	ivy_vm_close(vm);
}

static void test_access_must_lie_inside_a_region(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct fake_dev d = { .tag = 0 };
	uint64_t val = 0;
	(void)state;

	assert_int_equal(ivy_mmio_register(vm, 0x9000000, 0x1000, &fake_ops, &d, NULL), 0);
	/* Straddling the end (or the start) is not the device's access. */
	assert_int_equal(test_mmio_read(v, 0x9000ffc, 8), ~0ull);
	assert_int_equal(test_mmio_read(v, 0x8ffffff, 2), 0xffff);
	assert_int_equal(atomic_load(&d.calls), 0);
	/* Unclaimed writes vanish but are counted. */
	test_mmio_write(v, 0x1000, 1, 0xff);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_MMIO_UNCLAIMED), 3);
	/* Bad widths are API errors. */
	assert_int_equal(ivy_vcpu_mmio(v, 0x9000000, 3, false, &val), -EINVAL);
	assert_int_equal(ivy_vcpu_mmio(v, 0x9000000, 16, false, &val), -EINVAL);
	for (unsigned len = 0; len <= 9; len++)
		if (len != 1 && len != 2 && len != 4 && len != 8)
			assert_int_equal(ivy_vcpu_mmio(v, 0x9000000, len, true, &val), -EINVAL);
	assert_int_equal(ivy_vcpu_mmio(v, 0x9000000, 4, false, NULL), -EINVAL);
	assert_int_equal(ivy_vcpu_mmio(NULL, 0x9000000, 4, false, &val), -EINVAL);
	assert_int_equal(atomic_load(&d.calls), 0);
	ivy_vm_close(vm);
}

/*
 * A vCPU tries the bus entry it hit last before searching. After the bus
 * changes, that index names another region (or none): the access must still
 * reach the region that covers it, and only that one.
 */
static void test_last_hit_follows_bus_changes(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct fake_dev a = { .tag = 0xa00000000ull }, b = { .tag = 0xb00000000ull },
			c = { .tag = 0xc00000000ull };
	struct ivy_mmio_region *ra;
	(void)state;

	assert_int_equal(ivy_mmio_register(vm, 0x1000, 0x1000, &fake_ops, &a, &ra), 0);
	assert_int_equal(ivy_mmio_register(vm, 0x3000, 0x1000, &fake_ops, &b, NULL), 0);
	assert_int_equal(test_mmio_read(v, 0x3010, 8), 0xb00000010ull);
	/* The last hit covers the address but not the whole access. */
	assert_int_equal(test_mmio_read(v, 0x3ffc, 8), ~0ull);
	assert_int_equal(test_mmio_read(v, 0x1008, 8), 0xa00000008ull);
	assert_int_equal(test_mmio_read(v, 0x3020, 8), 0xb00000020ull);
	/* [a, b] becomes [b, c]: the second entry is now c. */
	assert_int_equal(ivy_mmio_unregister(vm, ra), 0);
	assert_int_equal(ivy_mmio_register(vm, 0x5000, 0x1000, &fake_ops, &c, NULL), 0);
	assert_int_equal(test_mmio_read(v, 0x3030, 8), 0xb00000030ull);
	assert_int_equal(test_mmio_read(v, 0x5040, 8), 0xc00000040ull);
	assert_int_equal(test_mmio_read(v, 0x1008, 8), ~0ull);
	assert_int_equal(test_mmio_read(v, 0x5050, 8), 0xc00000050ull);
	assert_int_equal(atomic_load(&a.calls), 1);
	assert_int_equal(atomic_load(&b.calls), 3);
	assert_int_equal(atomic_load(&c.calls), 2);
	ivy_vm_close(vm);
}

/* A handler that unregisters its own region, as a device being switched off might. */
struct self_remover {
	struct ivy_vm *vm;
	struct ivy_mmio_region *region;
	int ret;
};

static uint64_t self_remove_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct self_remover *s = opaque;

	(void)vcpu, (void)offset, (void)len;
	s->ret = ivy_mmio_unregister(s->vm, s->region);
	return 7;
}

static const struct ivy_mmio_ops self_remove_ops = { .read = self_remove_read,
						     .write = fake_write };

static void test_handler_may_unregister_itself(void **state)
{
	struct ivy_vm *vm = test_vm_new(2);
	struct self_remover s = { .vm = vm, .ret = 1 };
	(void)state;

	assert_int_equal(ivy_mmio_register(vm, 0x5000, 0x100, &self_remove_ops, &s, &s.region), 0);
	assert_int_equal(test_mmio_read(ivy_vm_vcpu(vm, 0), 0x5000, 4), 7);
	assert_int_equal(s.ret, 0);
	assert_int_equal(test_mmio_read(ivy_vm_vcpu(vm, 0), 0x5000, 4), 0xffffffffull);
	ivy_vm_close(vm);
}

/*
 * Unregister while other vCPUs are inside the handler: after unregister returns
 * the device is freed, and no vCPU may touch it again (ASan and the dead flag
 * catch a late call; TSan checks the ordering).
 */
struct hammer {
	struct ivy_vcpu *vcpu;
	atomic_bool *stop;
	uint64_t hits, misses;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load_explicit(h->stop, memory_order_relaxed)) {
		uint64_t val;

		assert_int_equal(ivy_vcpu_mmio(h->vcpu, 0x7000010, 4, false, &val), 0);
		if (val == 0xffffffffull)
			h->misses++;
		else
			h->hits++;
	}
	return NULL;
}

static uint64_t slow_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct fake_dev *d = opaque;

	(void)vcpu, (void)len;
	assert_false(atomic_load(&d->dead));
	atomic_fetch_add(&d->calls, 1);
	sched_yield(); /* widen the window in which the handler is running */
	assert_false(atomic_load(&d->dead));
	return (d->tag | offset) & 0xffff;
}

static const struct ivy_mmio_ops slow_ops = { .read = slow_read, .write = fake_write };

static void test_unregister_while_running(void **state)
{
	enum { THREADS = 3, ROUNDS = 200 };
	struct ivy_vm *vm = test_vm_new(THREADS);
	atomic_bool stop = false;
	struct hammer h[THREADS];
	pthread_t t[THREADS];
	uint64_t hits = 0;
	(void)state;

	for (int i = 0; i < THREADS; i++) {
		h[i] = (struct hammer){ .vcpu = ivy_vm_vcpu(vm, i), .stop = &stop };
		assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
	}
	for (int round = 0; round < ROUNDS; round++) {
		struct fake_dev *d = calloc(1, sizeof(*d));
		struct ivy_mmio_region *r;

		assert_non_null(d);
		d->tag = 0x1000;
		assert_int_equal(ivy_mmio_register(vm, 0x7000000, 0x100, &slow_ops, d, &r), 0);
		while (atomic_load(&d->calls) < 2)
			sched_yield();
		assert_int_equal(ivy_mmio_unregister(vm, r), 0);
		atomic_store(&d->dead, 1);
		free(d);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		hits += h[i].hits;
	}
	assert_true(hits >= 2 * ROUNDS);
	ivy_vm_close(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_rejects_bad_regions),
		cmocka_unit_test(test_lookup_routes_to_the_right_device),
		cmocka_unit_test(test_access_must_lie_inside_a_region),
		cmocka_unit_test(test_last_hit_follows_bus_changes),
		cmocka_unit_test(test_handler_may_unregister_itself),
		cmocka_unit_test(test_unregister_while_running),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
