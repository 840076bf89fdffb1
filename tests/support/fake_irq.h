/* SPDX-License-Identifier: MIT */
/* A fake interrupt controller: installs vm_irq_ops that record every call. */
#ifndef IVY_TESTS_FAKE_IRQ_H
#define IVY_TESTS_FAKE_IRQ_H

#include <ivy/ivy.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define FAKE_MAX_CALLS 64

struct fake_call {
	char kind; /* 'S' set_spi, 'M' msi */
	uint32_t intid;
	bool level;
	uint64_t doorbell;
	uint32_t data, devid;
};

struct fake_gic {
	pthread_mutex_t lock;
	struct fake_call calls[FAKE_MAX_CALLS];
	int nr;
	void (*resample_fn)(void *);
	void *resample_opaque;
	uint32_t resample_intid;
	int add_resample_ret;
};

extern struct fake_gic fake;

/* Resets the record and installs the fake as vm's interrupt routing. */
void fake_irq_install(struct ivy_vm *vm);
int fake_nr(void);
struct fake_call fake_get(int i);
/* Waits up to 2 s for the n-th call; fails the test if the count is not exactly n. */
void fake_wait_calls(int n);

#endif
