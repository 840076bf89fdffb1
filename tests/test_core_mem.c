/* SPDX-License-Identifier: MIT */
/* Guest RAM slots and bounds-checked guest memory access. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x40000000ull
#define PAGE	 4096ull

static uint8_t ram_a[4 * PAGE], ram_b[2 * PAGE];

static void test_add_ram_rejects_bad_slots(void **state)
{
	struct ivy_vm_config cfg = { .nr_vcpus = 1, .ipa_bits = 32 };
	struct ivy_vm *vm;
	static const struct {
		const char *what;
		ivy_gpa_t gpa;
		uint64_t size;
		int err;
	} bad[] = {
		{ "zero size", RAM_BASE, 0, -EINVAL },
		{ "unaligned base", RAM_BASE + 1, PAGE, -EINVAL },
		{ "unaligned size", RAM_BASE, PAGE + 8, -EINVAL },
		{ "wraps", ~0ull & ~(PAGE - 1), 2 * PAGE, -EINVAL },
		{ "beyond 4 GiB IPA", 0xfffff000ull, 2 * PAGE, -E2BIG },
		{ "overlaps start", RAM_BASE - PAGE, 2 * PAGE, -EEXIST },
		{ "overlaps inside", RAM_BASE + PAGE, PAGE, -EEXIST },
		{ "overlaps end", RAM_BASE + 3 * PAGE, 2 * PAGE, -EEXIST },
		{ "covers", RAM_BASE - PAGE, 8 * PAGE, -EEXIST },
	};
	(void)state;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	assert_int_equal(ivy_vm_add_ram(vm, RAM_BASE, sizeof(ram_a), ram_a), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("case: %s\n", bad[i].what);
		assert_int_equal(ivy_vm_add_ram(vm, bad[i].gpa, bad[i].size, ram_b), bad[i].err);
	}
	assert_int_equal(ivy_vm_add_ram(vm, RAM_BASE, PAGE, NULL), -EINVAL);
	/* Nothing above changed the map: the neighbours still fit exactly. */
	assert_int_equal(ivy_vm_add_ram(vm, RAM_BASE - PAGE, PAGE, ram_b), 0);
	assert_int_equal(ivy_vm_add_ram(vm, RAM_BASE + sizeof(ram_a), PAGE, ram_b + PAGE), 0);
	assert_int_equal(ivy_vm_remove_ram(vm, RAM_BASE + PAGE), -ENOENT);
	assert_int_equal(ivy_vm_remove_ram(vm, RAM_BASE - PAGE), 0);
	assert_int_equal(ivy_vm_remove_ram(vm, RAM_BASE - PAGE), -ENOENT);
	ivy_vm_close(vm);
}

static void test_slot_limit(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	static uint8_t page[PAGE];
	int added = 0, ret;
	(void)state;

	/* The same host page may back many slots (aliases are the caller's business). */
	while ((ret = ivy_vm_add_ram(vm, RAM_BASE + (uint64_t)added * 2 * PAGE, PAGE, page)) == 0)
		added++;
	assert_int_equal(ret, -ENOSPC);
	assert_true(added >= 8);
	ivy_vm_close(vm);
}

static void test_guest_read_write_bounds(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	uint8_t buf[64], guard[64];
	(void)state;

	memset(ram_a, 0, sizeof(ram_a));
	assert_int_equal(ivy_vm_add_ram(vm, RAM_BASE, sizeof(ram_a), ram_a), 0);

	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(ivy_guest_write(vm, RAM_BASE + 100, buf, sizeof(buf)), 0);
	assert_memory_equal(ram_a + 100, buf, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ivy_guest_read(vm, RAM_BASE + 100, buf, sizeof(buf)), 0);
	assert_int_equal(buf[0], 0xab);
	assert_int_equal(buf[63], 0xab);

	/* The last byte is inside; one more is not, and then nothing at all is copied. */
	assert_int_equal(ivy_guest_write(vm, RAM_BASE + sizeof(ram_a) - 1, buf, 1), 0);
	memset(guard, 0x5a, sizeof(guard));
	memcpy(buf, guard, sizeof(buf));
	assert_int_equal(ivy_guest_write(vm, RAM_BASE + sizeof(ram_a) - 8, buf, 16), -EFAULT);
	assert_int_equal(ram_a[sizeof(ram_a) - 8], 0);
	assert_int_equal(ivy_guest_read(vm, RAM_BASE + sizeof(ram_a) - 8, buf, 16), -EFAULT);
	assert_memory_equal(buf, guard, sizeof(buf));
	assert_int_equal(ivy_guest_read(vm, RAM_BASE - 1, buf, 2), -EFAULT);
	assert_int_equal(ivy_guest_read(vm, 0, buf, 1), -EFAULT);
	assert_int_equal(ivy_guest_read(vm, ~0ull - 3, buf, 8), -EFAULT);
	assert_int_equal(ivy_guest_read(vm, RAM_BASE, NULL, 8), -EINVAL);
	assert_int_equal(ivy_guest_read(vm, RAM_BASE, buf, 0), 0);

	assert_ptr_equal(ivy_guest_ptr(vm, RAM_BASE + 8, 8), ram_a + 8);
	assert_null(ivy_guest_ptr(vm, RAM_BASE + sizeof(ram_a) - 4, 8));
	assert_null(ivy_guest_ptr(vm, RAM_BASE, 0));
	ivy_vm_close(vm);
}

static void test_guest_access_across_adjacent_slots(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	uint8_t buf[32];
	(void)state;

	memset(ram_a, 1, sizeof(ram_a));
	memset(ram_b, 2, sizeof(ram_b));
	assert_int_equal(ivy_vm_add_ram(vm, RAM_BASE + sizeof(ram_a), sizeof(ram_b), ram_b), 0);
	assert_int_equal(ivy_vm_add_ram(vm, RAM_BASE, sizeof(ram_a), ram_a), 0);
	assert_int_equal(ivy_guest_read(vm, RAM_BASE + sizeof(ram_a) - 16, buf, sizeof(buf)), 0);
	assert_int_equal(buf[15], 1);
	assert_int_equal(buf[16], 2);
	/* One pointer cannot span two host allocations. */
	assert_null(ivy_guest_ptr(vm, RAM_BASE + sizeof(ram_a) - 16, sizeof(buf)));
	/* A hole between slots breaks the range. */
	assert_int_equal(ivy_vm_remove_ram(vm, RAM_BASE + sizeof(ram_a)), 0);
	assert_int_equal(ivy_guest_read(vm, RAM_BASE + sizeof(ram_a) - 16, buf, sizeof(buf)),
			 -EFAULT);
	ivy_vm_close(vm);
}

static uint64_t dummy_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	(void)opaque, (void)vcpu, (void)offset, (void)len;
	return 0;
}

static void dummy_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			uint64_t val)
{
	(void)opaque, (void)vcpu, (void)offset, (void)len, (void)val;
}

static const struct ivy_mmio_ops dummy_ops = { .read = dummy_read, .write = dummy_write };

static void test_ram_and_mmio_never_overlap(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	struct ivy_mmio_region *r;
	(void)state;

	assert_int_equal(ivy_vm_add_ram(vm, RAM_BASE, sizeof(ram_a), ram_a), 0);
	assert_int_equal(
		ivy_mmio_register(vm, RAM_BASE + sizeof(ram_a) - 4, 8, &dummy_ops, NULL, &r),
		-EEXIST);
	assert_int_equal(ivy_mmio_register(vm, 0x08000000, 0x10000, &dummy_ops, NULL, &r), 0);
	assert_int_equal(ivy_vm_add_ram(vm, 0x08000000, PAGE, ram_b), -EEXIST);
	assert_int_equal(ivy_guest_read(vm, 0x08000000, ram_b, 4), -EFAULT);
	ivy_vm_close(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_ram_rejects_bad_slots),
		cmocka_unit_test(test_slot_limit),
		cmocka_unit_test(test_guest_read_write_bounds),
		cmocka_unit_test(test_guest_access_across_adjacent_slots),
		cmocka_unit_test(test_ram_and_mmio_never_overlap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
