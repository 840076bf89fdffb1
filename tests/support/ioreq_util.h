/* SPDX-License-Identifier: MIT */
/* Helpers shared by the I/O-request engine's tests. */
#ifndef IVY_TESTS_IOREQ_UTIL_H
#define IVY_TESTS_IOREQ_UTIL_H

#include <ivy/ioreq.h>

#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

/* A guest access run on its own thread, so the test can play the client. */
struct ioreq_async_access {
	struct ivy_vcpu *vcpu;
	bool pio;
	uint64_t addr;
	unsigned len;
	bool is_write;
	uint64_t val;
	int ret;
	atomic_bool done;
	pthread_t thread;
};

void ioreq_async_start(struct ioreq_async_access *a, struct ivy_vcpu *vcpu, bool pio, uint64_t addr,
		       unsigned len, bool is_write, uint64_t val);
/* Joins the access thread; returns the value read (or the write's value). */
uint64_t ioreq_async_join(struct ioreq_async_access *a);

/* Creates a VM with the engine set up. */
struct ivy_vm *ioreq_test_vm(uint32_t nr_vcpus, uint32_t flags, const struct ivy_vm_hooks *hooks);

/* Creates an asynchronous in-process client claiming [start, end] of `type` (type 0: none). */
struct ivy_ioreq_client *ioreq_test_client(struct ivy_vm *vm, const char *name, uint32_t flags,
					   uint32_t type, uint64_t start, uint64_t end);

/* Sleeps for ms milliseconds. */
void ioreq_test_sleep_ms(unsigned ms);

#endif
