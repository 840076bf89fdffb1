/* SPDX-License-Identifier: MIT */
#include "ioreq_util.h"

#include <time.h>

static void *async_thread(void *arg)
{
	struct ioreq_async_access *a = arg;

	if (a->pio)
		a->ret = ivy_vcpu_pio(a->vcpu, (uint16_t)a->addr, a->len, a->is_write, &a->val);
	else
		a->ret = ivy_vcpu_mmio(a->vcpu, a->addr, a->len, a->is_write, &a->val);
	atomic_store(&a->done, true);
	return NULL;
}

void ioreq_async_start(struct ioreq_async_access *a, struct ivy_vcpu *vcpu, bool pio, uint64_t addr,
		       unsigned len, bool is_write, uint64_t val)
{
	a->vcpu = vcpu;
	a->pio = pio;
	a->addr = addr;
	a->len = len;
	a->is_write = is_write;
	a->val = val;
	a->ret = -1;
	atomic_init(&a->done, false);
	assert_int_equal(pthread_create(&a->thread, NULL, async_thread, a), 0);
}

uint64_t ioreq_async_join(struct ioreq_async_access *a)
{
	assert_int_equal(pthread_join(a->thread, NULL), 0);
	assert_int_equal(a->ret, 0);
	return a->val;
}

struct ivy_vm *ioreq_test_vm(uint32_t nr_vcpus, uint32_t flags, const struct ivy_vm_hooks *hooks)
{
	struct ivy_vm_config cfg = {
		.name = "ioreq", .nr_vcpus = nr_vcpus, .flags = flags, .hooks = hooks
	};
	struct ivy_vm *vm = NULL;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	assert_int_equal(ivy_ioreq_init(vm), 0);
	return vm;
}

struct ivy_ioreq_client *ioreq_test_client(struct ivy_vm *vm, const char *name, uint32_t flags,
					   uint32_t type, uint64_t start, uint64_t end)
{
	struct ivy_ioreq_client_config cfg = { .name = name, .flags = flags };
	struct ivy_ioreq_client *c = NULL;

	assert_int_equal(ivy_ioreq_client_create(vm, &cfg, &c), 0);
	if (type)
		assert_int_equal(ivy_ioreq_client_add_range(c, type, start, end), 0);
	return c;
}

void ioreq_test_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}
