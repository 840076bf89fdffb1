/* SPDX-License-Identifier: MIT */
/* VMs, vCPUs and the registry. */
#include "testutil.h"

#include "core/core.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void test_vm_create_rejects_bad_config(void **state)
{
	static const struct {
		const char *what;
		struct ivy_vm_config cfg;
	} bad[] = {
		{ "no vCPUs", { .nr_vcpus = 0 } },
		{ "too many vCPUs", { .nr_vcpus = IVY_MAX_VCPUS + 1 } },
		{ "max below nr", { .nr_vcpus = 4, .max_vcpus = 2 } },
		{ "max too big", { .nr_vcpus = 1, .max_vcpus = IVY_MAX_VCPUS + 1 } },
		{ "unknown flag", { .nr_vcpus = 1, .flags = 1u << 31 } },
		{ "ipa too small", { .nr_vcpus = 1, .ipa_bits = 31 } },
		{ "ipa too big", { .nr_vcpus = 1, .ipa_bits = 53 } },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ivy_vm *vm = (struct ivy_vm *)0x1;

		print_message("case: %s\n", bad[i].what);
		assert_int_equal(ivy_vm_create(&bad[i].cfg, &vm), -EINVAL);
		/* The output is left alone on failure. */
		assert_ptr_equal(vm, (struct ivy_vm *)0x1);
	}
	assert_int_equal(ivy_vm_create(NULL, &(struct ivy_vm *){ NULL }), -EINVAL);
}

static void test_vm_create_defaults(void **state)
{
	struct ivy_vm_config cfg = { .name = "a-rather-long-name-that-will-be-truncated-here",
				     .nr_vcpus = 3 };
	struct ivy_vm *vm;
	(void)state;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	assert_int_equal(ivy_vm_nr_vcpus(vm), 3);
	assert_int_equal(ivy_vm_max_vcpus(vm), 3);
	assert_int_equal(ivy_vm_ipa_bits(vm), 40);
	assert_int_equal(strlen(ivy_vm_name(vm)), IVY_VM_NAME_MAX - 1);
	for (uint32_t i = 0; i < 3; i++) {
		struct ivy_vcpu *v = ivy_vm_vcpu(vm, i);

		assert_non_null(v);
		assert_int_equal(ivy_vcpu_index(v), i);
		assert_ptr_equal(ivy_vcpu_vm(v), vm);
	}
	assert_null(ivy_vm_vcpu(vm, 3));
	ivy_vm_close(vm);
}

static void test_vm_lookup_by_id(void **state)
{
	struct ivy_vm *a = test_vm_new(1), *b = test_vm_new(1), *got;
	uint32_t ida = ivy_vm_id(a), idb = ivy_vm_id(b);
	(void)state;

	assert_int_not_equal(ida, idb);
	got = ivy_vm_get(idb);
	assert_ptr_equal(got, b);
	ivy_vm_put(got);
	assert_int_equal(ivy_vm_destroy(a), 0);
	assert_null(ivy_vm_get(ida));
	/* A reference taken before destruction keeps the handle usable. */
	got = ivy_vm_get(idb);
	assert_int_equal(ivy_vm_destroy(b), 0);
	assert_true(ivy_vm_is_destroyed(got));
	ivy_vm_put(got);
	assert_null(ivy_vm_get(idb));
	ivy_vm_close(a);
	ivy_vm_close(b);
}

static void test_vm_destroy_twice(void **state)
{
	struct ivy_vm *vm = test_vm_new(2);
	uint64_t val = 0;
	(void)state;

	assert_int_equal(ivy_vm_destroy(vm), 0);
	assert_int_equal(ivy_vm_destroy(vm), 0);
	/* Everything on a destroyed VM fails cleanly. */
	assert_int_equal(ivy_vcpu_mmio(ivy_vm_vcpu(vm, 0), 0x1000, 4, false, &val), -ENODEV);
	assert_int_equal(ivy_vcpu_create(vm, 1, NULL), -ENODEV);
	assert_int_equal(ivy_vm_add_ram(vm, 0x40000000, 4096, &val), -ENODEV);
	ivy_vm_close(vm);
}

static void test_vm_create_destroy_cycles(void **state)
{
	static uint8_t ram[8192];
	(void)state;

	/* Leaks show up under ASan/LeakSanitizer, which make check runs. */
	for (int i = 0; i < 1000; i++) {
		struct ivy_vm *vm = test_vm_new(1 + i % 8);

		assert_int_equal(ivy_vm_add_ram(vm, 0x40000000, sizeof(ram), ram), 0);
		if (i % 2)
			assert_int_equal(ivy_vm_destroy(vm), 0);
		ivy_vm_close(vm);
	}
}

static void test_vcpu_create_rules(void **state)
{
	struct ivy_vm_config cfg = { .nr_vcpus = 1, .max_vcpus = 4 };
	struct ivy_vm *vm;
	struct ivy_vcpu *v = NULL;
	(void)state;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	assert_int_equal(ivy_vcpu_create(vm, 0, &v), -EEXIST);
	assert_int_equal(ivy_vcpu_create(vm, 4, &v), -EINVAL);
	assert_null(v);
	assert_int_equal(ivy_vcpu_create(vm, 3, &v), 0);
	assert_ptr_equal(ivy_vm_vcpu(vm, 3), v);
	assert_null(ivy_vm_vcpu(vm, 2));
	assert_int_equal(ivy_vm_nr_vcpus(vm), 2);
	ivy_vm_close(vm);
}

static void test_vcpu_mpidr(void **state)
{
	struct ivy_vm_config cfg = { .nr_vcpus = 40 };
	struct ivy_vm *vm;
	struct ivy_vcpu *v0, *v17;
	(void)state;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	v0 = ivy_vm_vcpu(vm, 0);
	v17 = ivy_vm_vcpu(vm, 17);
	/* KVM's default layout: 16 CPUs per Aff1 cluster. */
	assert_int_equal(ivy_vcpu_mpidr(v0), 0x80000000ull);
	assert_int_equal(ivy_vcpu_mpidr(v17), 0x80000101ull);
	assert_ptr_equal(ivy_vm_vcpu_by_mpidr(vm, 0x101), v17);
	assert_null(ivy_vm_vcpu_by_mpidr(vm, 0x10000));

	/* Bad values and duplicates are refused and change nothing. */
	assert_int_equal(ivy_vcpu_set_mpidr(v0, 1ull << 45), -EINVAL);
	assert_int_equal(ivy_vcpu_set_mpidr(v0, 0x101), -EINVAL);
	assert_int_equal(ivy_vcpu_mpidr(v0), 0x80000000ull);
	assert_int_equal(ivy_vcpu_set_mpidr(v0, 0x0100000000ull | 0x30201), 0);
	assert_int_equal(ivy_vcpu_mpidr(v0), 0x80000000ull | 0x0100000000ull | 0x30201);
	assert_ptr_equal(ivy_vm_vcpu_by_mpidr(vm, 0x0100030201ull), v0);
	ivy_vm_close(vm);
}

struct log_capture {
	int count;
	char last[256];
};

static void capture_log(void *opaque, enum ivy_log_level level, const char *msg)
{
	struct log_capture *c = opaque;

	(void)level;
	c->count++;
	snprintf(c->last, sizeof(c->last), "%s", msg);
}

struct trace_capture {
	int count;
	struct ivy_trace_event last;
};

static void capture_trace(void *opaque, const struct ivy_trace_event *ev)
{
	struct trace_capture *c = opaque;

	c->count++;
	c->last = *ev;
}

static void test_log_and_trace_hooks(void **state)
{
	struct log_capture lc = { 0 };
	struct ivy_vm_hooks hooks = { .opaque = &lc, .log = capture_log };
	struct ivy_vm *vm = test_vm_new_hooks(1, &hooks);
	struct trace_capture tc = { 0 };
	struct ivy_vm_hooks thooks = { .opaque = &tc, .trace = capture_trace };
	struct ivy_vm *tvm = test_vm_new_hooks(1, &thooks);
	(void)state;

	vm_log(vm, IVY_LOG_WARN, "hello %d", 42);
	assert_int_equal(lc.count, 1);
	assert_string_equal(lc.last, "hello 42");

	/* Tracing is off until asked for. */
	test_mmio_read(ivy_vm_vcpu(tvm, 0), 0x1234, 4);
	assert_int_equal(tc.count, 0);
	ivy_vm_set_trace(tvm, true);
	test_mmio_read(ivy_vm_vcpu(tvm, 0), 0x1234, 4);
	assert_int_equal(tc.count, 1);
	assert_int_equal(tc.last.kind, IVY_TRACE_MMIO_UNCLAIMED);
	assert_int_equal(tc.last.a, 0x1234);
	assert_int_equal(tc.last.vcpu, 0);

	/* A VM without hooks is silent rather than crashing. */
	struct ivy_vm *quiet = test_vm_new(1);
	vm_log(quiet, IVY_LOG_ERROR, "nobody listens");
	vm_trace(quiet, IVY_TRACE_IRQ_ACK, 0, 1, 2);
	vm_kick(quiet, ivy_vm_vcpu(quiet, 0));
	ivy_vm_close(quiet);
	ivy_vm_close(vm);
	ivy_vm_close(tvm);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(ivy_strerror(-ENXIO), "unknown attribute group or attribute");
	assert_string_equal(ivy_strerror(-E2BIG), "beyond the guest-physical address limit");
	assert_non_null(ivy_strerror(-EPIPE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_create_rejects_bad_config),
		cmocka_unit_test(test_vm_create_defaults),
		cmocka_unit_test(test_vm_lookup_by_id),
		cmocka_unit_test(test_vm_destroy_twice),
		cmocka_unit_test(test_vm_create_destroy_cycles),
		cmocka_unit_test(test_vcpu_create_rules),
		cmocka_unit_test(test_vcpu_mpidr),
		cmocka_unit_test(test_log_and_trace_hooks),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
