/* SPDX-License-Identifier: MIT */
/*
 * The interrupt controller destroyed while other threads inject into it: an
 * irqfd thread (edge SPI and MSI), and API callers of ivy_signal_msi(). Every
 * call made after the destruction returns -ENODEV or does nothing; none may
 * touch the freed controller (ASan and TSan runs of this test check that).
 */
#include "testutil.h"
#include "vgic_testutil.h"

#include <ivy/gic.h>
#include <ivy/ioreq.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct injector {
	struct ivy_vm *vm;
	int efd[2];
	atomic_bool stop;
	atomic_bool gone; /* set once the GIC device has been destroyed */
	atomic_ulong msis, writes, late_errors;
};

static void *msi_thread(void *arg)
{
	struct injector *in = arg;

	while (!atomic_load(&in->stop)) {
		bool gone = atomic_load(&in->gone);
		int ret = ivy_signal_msi(in->vm, GIC_V2M_BASE + 0x40, 90, 0);

		/* Delivered or blocked while the GIC lives; -ENODEV once it is gone. */
		if (ret < 0 && ret != -ENODEV)
			atomic_fetch_add(&in->late_errors, 1);
		if (gone && ret != -ENODEV)
			atomic_fetch_add(&in->late_errors, 1);
		atomic_fetch_add(&in->msis, 1);
	}
	return NULL;
}

static void *eventfd_thread(void *arg)
{
	struct injector *in = arg;
	uint64_t one = 1;

	while (!atomic_load(&in->stop)) {
		for (int i = 0; i < 2; i++)
			if (write(in->efd[i], &one, sizeof(one)) != sizeof(one))
				atomic_fetch_add(&in->late_errors, 1);
		atomic_fetch_add(&in->writes, 1);
		sched_yield();
	}
	return NULL;
}

static void test_destroy_gic_while_injecting(void **state)
{
	struct gic g;
	struct injector in = { 0 };
	pthread_t t[3];
	(void)state;

	gic_new(&g, 2, 0, 0);
	in.vm = g.vm;
	assert_int_equal(ivy_ioreq_init(g.vm), 0);
	for (int i = 0; i < 2; i++) {
		in.efd[i] = eventfd(0, EFD_CLOEXEC);
		assert_true(in.efd[i] >= 0);
	}
	struct ivy_irqfd spi = { .fd = in.efd[0], .resample_fd = -1, .spi = 40 };
	struct ivy_irqfd msi = { .fd = in.efd[1],
				 .resample_fd = -1,
				 .flags = IVY_IRQFD_F_MSI,
				 .msi_doorbell = GIC_V2M_BASE + 0x40,
				 .msi_data = 91 };
	assert_int_equal(ivy_irqfd_assign(g.vm, &spi), 0);
	assert_int_equal(ivy_irqfd_assign(g.vm, &msi), 0);
	assert_int_equal(pthread_create(&t[0], NULL, msi_thread, &in), 0);
	assert_int_equal(pthread_create(&t[1], NULL, msi_thread, &in), 0);
	assert_int_equal(pthread_create(&t[2], NULL, eventfd_thread, &in), 0);
	while (atomic_load(&in.msis) < 2000 || atomic_load(&in.writes) < 200)
		sched_yield();
	assert_int_equal(ivy_device_destroy(g.dev), 0);
	atomic_store(&in.gone, true);
	/* Keep injecting into the VM that has no controller any more. */
	unsigned long after = atomic_load(&in.msis);
	while (atomic_load(&in.msis) < after + 2000)
		sched_yield();
	atomic_store(&in.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&in.late_errors), 0);
	/* With no controller, new irqfds are refused. */
	struct ivy_irqfd again = { .fd = in.efd[0], .resample_fd = -1, .spi = 41 };
	assert_int_equal(ivy_irqfd_assign(g.vm, &again), -ENODEV);
	gic_free(&g);
	close(in.efd[0]);
	close(in.efd[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_destroy_gic_while_injecting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
