/* SPDX-License-Identifier: MIT */
#include "testutil.h"

struct ivy_vm *test_vm_new_hooks(uint32_t nr_vcpus, const struct ivy_vm_hooks *hooks)
{
	struct ivy_vm_config cfg = { .name = "test", .nr_vcpus = nr_vcpus, .hooks = hooks };
	struct ivy_vm *vm = NULL;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	assert_non_null(vm);
	return vm;
}

struct ivy_vm *test_vm_new(uint32_t nr_vcpus)
{
	return test_vm_new_hooks(nr_vcpus, NULL);
}

uint64_t test_mmio_read(struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len)
{
	uint64_t val = 0xdeadbeefdeadbeefull;

	assert_int_equal(ivy_vcpu_mmio(vcpu, gpa, len, false, &val), 0);
	return val;
}

void test_mmio_write(struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len, uint64_t val)
{
	assert_int_equal(ivy_vcpu_mmio(vcpu, gpa, len, true, &val), 0);
}
