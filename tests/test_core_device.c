/* SPDX-License-Identifier: MIT */
/*
 * The device framework, exercised through a small device type defined here:
 * a bank of 32-bit registers whose MMIO frame the caller places with an ADDR
 * attribute, in the style of KVM's interrupt-controller devices.
 */
#include "testutil.h"

#include "core/core.h"

#include <errno.h>
#include <stdlib.h>

#define BANK_TYPE      0x1b4
#define BANK_GRP_ADDR  0
#define BANK_GRP_REGS  1
#define BANK_GRP_CTRL  2
#define BANK_CTRL_INIT 0
#define BANK_NR_REGS   16

struct bank {
	struct ivy_device *dev;
	uint64_t base; /* 0: not placed yet */
	bool initialised;
	uint32_t regs[BANK_NR_REGS];
	struct ivy_mmio_region *region;
};

static int destroyed_banks;

static uint64_t bank_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct bank *b = opaque;

	(void)vcpu;
	return len == 4 && offset / 4 < BANK_NR_REGS ? b->regs[offset / 4] : 0;
}

static void bank_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
		       uint64_t val)
{
	struct bank *b = opaque;

	(void)vcpu;
	if (len == 4 && offset / 4 < BANK_NR_REGS)
		b->regs[offset / 4] = (uint32_t)val;
}

static const struct ivy_mmio_ops bank_mmio = { .read = bank_read, .write = bank_write };

static int bank_create(struct ivy_device *dev)
{
	struct bank *b;

	for (struct ivy_device *d = dev->vm->devices; d; d = d->next)
		if (d->type->type == BANK_TYPE)
			return -EEXIST;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->dev = dev;
	dev->priv = b;
	return 0;
}

static void bank_destroy(struct ivy_device *dev)
{
	struct bank *b = dev->priv;

	if (b->region)
		mmio_remove(dev->vm, b->region);
	free(b);
	destroyed_banks++;
}

static int bank_has_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	(void)dev;
	switch (attr->group) {
	case BANK_GRP_ADDR: return attr->attr == 0 ? 0 : -ENXIO;
	case BANK_GRP_REGS: return attr->attr < BANK_NR_REGS * 4 && !(attr->attr & 3) ? 0 : -ENXIO;
	case BANK_GRP_CTRL: return attr->attr == BANK_CTRL_INIT ? 0 : -ENXIO;
	default: return -ENXIO;
	}
}

static int bank_set_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	struct bank *b = dev->priv;
	int ret = bank_has_attr(dev, attr);

	if (ret)
		return ret;
	switch (attr->group) {
	case BANK_GRP_ADDR: {
		uint64_t addr = *(const uint64_t *)attr->addr;

		if (b->base)
			return -EEXIST;
		if (addr & 0xfff)
			return -EINVAL;
		if (!vm_gpa_range_valid(dev->vm, addr, 0x1000))
			return -E2BIG;
		b->base = addr;
		return 0;
	}
	case BANK_GRP_REGS: b->regs[attr->attr / 4] = *(const uint32_t *)attr->addr; return 0;
	default:
		if (b->initialised)
			return -EBUSY;
		if (!b->base)
			return -ENXIO; /* KVM: an address must be set before init */
		ret = ivy_mmio_register(dev->vm, b->base, 0x1000, &bank_mmio, b, &b->region);
		if (ret)
			return ret;
		b->initialised = true;
		return 0;
	}
}

static int bank_get_attr(struct ivy_device *dev, const struct ivy_device_attr *attr)
{
	struct bank *b = dev->priv;
	int ret = bank_has_attr(dev, attr);

	if (ret)
		return ret;
	switch (attr->group) {
	case BANK_GRP_ADDR: *(uint64_t *)attr->addr = b->base; return 0;
	case BANK_GRP_REGS: *(uint32_t *)attr->addr = b->regs[attr->attr / 4]; return 0;
	default: return -ENXIO;
	}
}

static int bank_vcpu_create(struct ivy_device *dev, struct ivy_vcpu *vcpu)
{
	struct bank *b = dev->priv;

	(void)vcpu;
	return b->initialised ? -EBUSY : 0;
}

static const struct device_type bank_type = {
	.type = BANK_TYPE,
	.name = "test-bank",
	.create = bank_create,
	.destroy = bank_destroy,
	.set_attr = bank_set_attr,
	.get_attr = bank_get_attr,
	.has_attr = bank_has_attr,
	.vcpu_create = bank_vcpu_create,
};

static int setup(void **state)
{
	(void)state;
	int ret = device_type_register(&bank_type);

	return ret == 0 || ret == -EEXIST ? 0 : -1;
}

static struct ivy_vm *vm_with_max(uint32_t nr, uint32_t max)
{
	struct ivy_vm_config cfg = { .nr_vcpus = nr, .max_vcpus = max, .ipa_bits = 32 };
	struct ivy_vm *vm;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	return vm;
}

static void test_type_registry(void **state)
{
	static const struct device_type incomplete = { .type = 0x77 };
	(void)state;

	assert_int_equal(device_type_register(&bank_type), -EEXIST);
	assert_int_equal(device_type_register(&incomplete), -EINVAL);
	assert_ptr_equal(device_type_find(BANK_TYPE), &bank_type);
	assert_null(device_type_find(0x77));
}

static void test_create_errors(void **state)
{
	struct ivy_vm *vm = vm_with_max(1, 1);
	struct ivy_device *dev = NULL, *dev2 = NULL;
	(void)state;

	assert_int_equal(ivy_device_create(vm, 0x12345, &dev), -ENODEV);
	assert_null(dev);
	assert_int_equal(ivy_device_create(vm, BANK_TYPE, NULL), -EINVAL);
	assert_int_equal(ivy_device_create(vm, BANK_TYPE, &dev), 0);
	assert_int_equal(ivy_device_type(dev), BANK_TYPE);
	assert_ptr_equal(ivy_device_vm(dev), vm);
	/* One per VM: the type's constructor refuses, nothing is added. */
	assert_int_equal(ivy_device_create(vm, BANK_TYPE, &dev2), -EEXIST);
	assert_null(dev2);
	assert_int_equal(ivy_device_destroy(dev), 0);
	assert_int_equal(ivy_device_create(vm, BANK_TYPE, &dev2), 0);
	ivy_vm_close(vm);
}

static void test_attr_conventions(void **state)
{
	struct ivy_vm *vm = vm_with_max(1, 1);
	struct ivy_device *dev;
	uint64_t addr = 0x08000000;
	uint32_t val = 0;
	(void)state;

	assert_int_equal(ivy_device_create(vm, BANK_TYPE, &dev), 0);
	struct ivy_device_attr a = { .group = BANK_GRP_ADDR, .attr = 0, .addr = &addr };

	/* KVM's common errors, checked before the type sees the call. */
	a.flags = 1;
	assert_int_equal(ivy_device_set_attr(dev, &a), -EINVAL);
	a.flags = 0;
	a.addr = NULL;
	assert_int_equal(ivy_device_set_attr(dev, &a), -EFAULT);
	assert_int_equal(ivy_device_get_attr(dev, &a), -EFAULT);
	assert_int_equal(ivy_device_has_attr(dev, &a), 0);
	a.addr = &addr;
	assert_int_equal(ivy_device_set_attr(NULL, &a), -EINVAL);
	assert_int_equal(ivy_device_set_attr(dev, NULL), -EINVAL);

	/* Unknown group or attribute: -ENXIO from every entry. */
	struct ivy_device_attr unknown = { .group = 99, .addr = &val };
	assert_int_equal(ivy_device_set_attr(dev, &unknown), -ENXIO);
	assert_int_equal(ivy_device_get_attr(dev, &unknown), -ENXIO);
	assert_int_equal(ivy_device_has_attr(dev, &unknown), -ENXIO);
	unknown.group = BANK_GRP_REGS;
	unknown.attr = 2; /* misaligned register offset */
	assert_int_equal(ivy_device_has_attr(dev, &unknown), -ENXIO);

	/* Bad values leave the state unchanged. */
	addr = 0x08000010;
	assert_int_equal(ivy_device_set_attr(dev, &a), -EINVAL);
	addr = 0x100000000ull;
	assert_int_equal(ivy_device_set_attr(dev, &a), -E2BIG);
	assert_int_equal(ivy_device_get_attr(dev, &a), 0);
	assert_int_equal(addr, 0);
	/* Init before the address is set is refused, then works. */
	struct ivy_device_attr init = { .group = BANK_GRP_CTRL,
					.attr = BANK_CTRL_INIT,
					.addr = &val };
	assert_int_equal(ivy_device_set_attr(dev, &init), -ENXIO);
	addr = 0x08000000;
	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
	assert_int_equal(ivy_device_set_attr(dev, &a), -EEXIST);
	assert_int_equal(ivy_device_set_attr(dev, &init), 0);
	assert_int_equal(ivy_device_set_attr(dev, &init), -EBUSY);

	/* Host and guest see the same registers. */
	val = 0xcafef00d;
	struct ivy_device_attr reg = { .group = BANK_GRP_REGS, .attr = 8, .addr = &val };
	assert_int_equal(ivy_device_set_attr(dev, &reg), 0);
	assert_int_equal(test_mmio_read(ivy_vm_vcpu(vm, 0), 0x08000008, 4), 0xcafef00d);
	test_mmio_write(ivy_vm_vcpu(vm, 0), 0x0800000c, 4, 0x1234);
	reg.attr = 12;
	assert_int_equal(ivy_device_get_attr(dev, &reg), 0);
	assert_int_equal(val, 0x1234);
	ivy_vm_close(vm);
}

static void test_vcpu_after_init_is_refused(void **state)
{
	struct ivy_vm *vm = vm_with_max(1, 4);
	struct ivy_device *dev;
	uint64_t addr = 0x08000000;
	uint32_t dummy = 0;
	struct ivy_vcpu *v = NULL;
	(void)state;

	assert_int_equal(ivy_device_create(vm, BANK_TYPE, &dev), 0);
	assert_int_equal(ivy_vcpu_create(vm, 1, &v), 0);
	struct ivy_device_attr a = { .group = BANK_GRP_ADDR, .addr = &addr };
	struct ivy_device_attr init = { .group = BANK_GRP_CTRL, .addr = &dummy };
	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
	assert_int_equal(ivy_device_set_attr(dev, &init), 0);
	v = NULL;
	assert_int_equal(ivy_vcpu_create(vm, 2, &v), -EBUSY);
	assert_null(v);
	assert_null(ivy_vm_vcpu(vm, 2));
	assert_int_equal(ivy_vm_nr_vcpus(vm), 2);
	ivy_vm_close(vm);
}

static void test_destroy_with_devices_attached(void **state)
{
	struct ivy_vm *vm = vm_with_max(2, 2);
	struct ivy_device *dev;
	uint64_t addr = 0x08000000;
	uint32_t dummy = 0;
	int before = destroyed_banks;
	(void)state;

	assert_int_equal(ivy_device_create(vm, BANK_TYPE, &dev), 0);
	struct ivy_device_attr a = { .group = BANK_GRP_ADDR, .addr = &addr };
	struct ivy_device_attr init = { .group = BANK_GRP_CTRL, .addr = &dummy };
	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
	assert_int_equal(ivy_device_set_attr(dev, &init), 0);
	assert_int_equal(ivy_vm_destroy(vm), 0);
	assert_int_equal(destroyed_banks, before + 1);
	/* The device is gone with the VM; its handle must not be used, the VM's may. */
	assert_int_equal(ivy_vm_destroy(vm), 0);
	assert_int_equal(destroyed_banks, before + 1);
	assert_int_equal(ivy_device_create(vm, BANK_TYPE, &dev), -ENODEV);
	ivy_vm_close(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_registry),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_attr_conventions),
		cmocka_unit_test(test_vcpu_after_init_is_refused),
		cmocka_unit_test(test_destroy_with_devices_attached),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
