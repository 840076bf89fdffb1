/* SPDX-License-Identifier: MIT */
#include "fake_irq.h"

#include "core/core.h"
#include "ioreq_util.h"

struct fake_gic fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void fake_record(struct fake_call c)
{
	pthread_mutex_lock(&fake.lock);
	if (fake.nr < FAKE_MAX_CALLS)
		fake.calls[fake.nr++] = c;
	pthread_mutex_unlock(&fake.lock);
}

int fake_nr(void)
{
	int n;

	pthread_mutex_lock(&fake.lock);
	n = fake.nr;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

struct fake_call fake_get(int i)
{
	struct fake_call c;

	pthread_mutex_lock(&fake.lock);
	c = fake.calls[i];
	pthread_mutex_unlock(&fake.lock);
	return c;
}

static int fake_set_spi(struct ivy_vm *vm, uint32_t intid, bool level)
{
	(void)vm;
	fake_record((struct fake_call){ .kind = 'S', .intid = intid, .level = level });
	return 0;
}

static int fake_signal_msi(struct ivy_vm *vm, uint64_t doorbell, uint32_t data, uint32_t devid)
{
	(void)vm;
	fake_record((struct fake_call){
		.kind = 'M', .doorbell = doorbell, .data = data, .devid = devid });
	return 1;
}

static int fake_add_resample(struct ivy_vm *vm, uint32_t intid, void (*fn)(void *), void *opaque)
{
	(void)vm;
	if (fake.add_resample_ret)
		return fake.add_resample_ret;
	pthread_mutex_lock(&fake.lock);
	fake.resample_fn = fn;
	fake.resample_opaque = opaque;
	fake.resample_intid = intid;
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

static void fake_del_resample(struct ivy_vm *vm, uint32_t intid, void (*fn)(void *), void *opaque)
{
	(void)vm;
	(void)intid;
	pthread_mutex_lock(&fake.lock);
	if (fake.resample_fn == fn && fake.resample_opaque == opaque)
		fake.resample_fn = NULL;
	pthread_mutex_unlock(&fake.lock);
}

static const struct vm_irq_ops fake_ops = {
	.set_spi = fake_set_spi,
	.signal_msi = fake_signal_msi,
	.add_resample = fake_add_resample,
	.del_resample = fake_del_resample,
};

void fake_irq_install(struct ivy_vm *vm)
{
	pthread_mutex_lock(&fake.lock);
	fake.nr = 0;
	fake.resample_fn = NULL;
	fake.add_resample_ret = 0;
	pthread_mutex_unlock(&fake.lock);
	atomic_store_explicit(&vm->irq_ops, &fake_ops, memory_order_release);
}

void fake_wait_calls(int n)
{
	for (int i = 0; i < 2000 && fake_nr() < n; i++)
		ioreq_test_sleep_ms(1);
	assert_int_equal(fake_nr(), n);
}
