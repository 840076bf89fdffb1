/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests. */
#ifndef IVY_TESTS_TESTUTIL_H
#define IVY_TESTS_TESTUTIL_H

#include <ivy/ivy.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first. */
#include <cmocka.h>

/* Creates a VM with n vCPUs and no hooks; fails the test on error. */
struct ivy_vm *test_vm_new(uint32_t nr_vcpus);
/* Same with hooks. */
struct ivy_vm *test_vm_new_hooks(uint32_t nr_vcpus, const struct ivy_vm_hooks *hooks);

/* One guest access through the single trapped-access entry; fails the test on error. */
uint64_t test_mmio_read(struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len);
void test_mmio_write(struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len, uint64_t val);

#endif
