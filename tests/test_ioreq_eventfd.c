/* SPDX-License-Identifier: MIT */
/* ioeventfd and irqfd, against a fake interrupt controller that records what it is asked. */
#include "ioreq_util.h"

#include "fake_irq.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static struct ivy_vm *fake_vm(void)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);

	fake_irq_install(vm);
	return vm;
}

static void kick(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

/* Reads an eventfd's counter without blocking; 0 if nothing was signalled. */
static uint64_t efd_count(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n = 0;

	if (poll(&p, 1, 0) == 1 && read(fd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	return n;
}

/* ---- ioeventfd ---- */

static void test_ioeventfd_match_and_fall_through(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct ivy_ioreq_client *c =
		ioreq_test_client(vm, "c", IVY_IOREQ_CLIENT_F_DEFAULT, 0, 0, 0);
	int efd = eventfd(0, EFD_NONBLOCK), efd2 = eventfd(0, EFD_NONBLOCK);
	struct ivy_ioeventfd ev = { .fd = efd, .addr = 0x10000050, .len = 4 };
	struct ivy_ioeventfd dm = { .fd = efd2,
				    .flags = IVY_IOEVENTFD_F_DATAMATCH | IVY_IOEVENTFD_F_PIO,
				    .addr = 0x500,
				    .len = 2,
				    .datamatch = 0x1234 };
	struct ioreq_async_access a;
	struct ivy_ioreq req;
	uint64_t val;

	(void)state;
	assert_int_equal(ivy_ioeventfd_assign(vm, &ev), 0);
	assert_int_equal(ivy_ioeventfd_assign(vm, &dm), 0);
	/* A matching write signals the eventfd and no client sees it. */
	test_mmio_write(v, 0x10000050, 4, 0xdead);
	assert_int_equal(efd_count(efd), 1);
	assert_int_equal(ivy_ioreq_client_wait(c, 0, &req), -EAGAIN);
	val = 0x1234;
	assert_int_equal(ivy_vcpu_pio(v, 0x500, 2, true, &val), 0);
	assert_int_equal(efd_count(efd2), 1);
	/* A read, another width, or other data: normal dispatch to the client. */
	ioreq_async_start(&a, v, true, 0x500, 2, true, 0x1235);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	assert_int_equal(req.value, 0x1235);
	assert_int_equal(ivy_ioreq_client_complete(c, &req), 0);
	ioreq_async_join(&a);
	ioreq_async_start(&a, v, false, 0x10000050, 2, true, 1);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	assert_int_equal(req.size, 2);
	assert_int_equal(ivy_ioreq_client_complete(c, &req), 0);
	ioreq_async_join(&a);
	ioreq_async_start(&a, v, false, 0x10000050, 4, false, 0);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	req.value = 9;
	assert_int_equal(ivy_ioreq_client_complete(c, &req), 0);
	assert_int_equal(ioreq_async_join(&a), 9);
	assert_int_equal(efd_count(efd), 0);
	assert_int_equal(efd_count(efd2), 0);
	/* After deassign the write goes to the client. */
	assert_int_equal(ivy_ioeventfd_deassign(vm, &ev), 0);
	assert_int_equal(ivy_ioeventfd_deassign(vm, &ev), -ENOENT);
	ioreq_async_start(&a, v, false, 0x10000050, 4, true, 1);
	assert_int_equal(ivy_ioreq_client_wait(c, -1, &req), 0);
	assert_int_equal(ivy_ioreq_client_complete(c, &req), 0);
	ioreq_async_join(&a);
	assert_int_equal(efd_count(efd), 0);
	assert_int_equal(ivy_ioreq_client_destroy(c), 0);
	ivy_vm_close(vm);
	close(efd);
	close(efd2);
}

static void test_ioeventfd_conflicts_and_arguments(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	int efd = eventfd(0, EFD_NONBLOCK);
	struct ivy_ioeventfd a = { .fd = efd,
				   .flags = IVY_IOEVENTFD_F_DATAMATCH,
				   .addr = 0x2000,
				   .len = 4,
				   .datamatch = 1 };
	struct ivy_ioeventfd b = a;

	(void)state;
	assert_int_equal(ivy_ioeventfd_assign(vm, &a), 0);
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), -EEXIST); /* same datamatch */
	b.datamatch = 2;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), 0); /* another datamatch is fine */
	b.flags = 0;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), -EEXIST); /* a wildcard clashes */
	b.len = 8;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), 0); /* another length */
	b.flags = IVY_IOEVENTFD_F_PIO;
	b.len = 4;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), 0); /* another space */
	b.len = 8;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), -EINVAL); /* no 8-byte port I/O */
	b.len = 3;
	b.flags = 0;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), -EINVAL);
	b.len = 4;
	b.flags = 0x80;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), -EINVAL);
	b.flags = 0;
	b.addr = 1ull << 50;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), -EINVAL);
	b.addr = 0x9000;
	b.fd = 1000;
	assert_int_equal(ivy_ioeventfd_assign(vm, &b), -EBADF);
	assert_int_equal(ivy_ioeventfd_assign(vm, NULL), -EINVAL);
	/* Deassign needs the same datamatch. */
	a.datamatch = 3;
	assert_int_equal(ivy_ioeventfd_deassign(vm, &a), -ENOENT);
	a.datamatch = 1;
	assert_int_equal(ivy_ioeventfd_deassign(vm, &a), 0);
	/* The rest are released by the VM's teardown (ASan checks for leaks). */
	ivy_vm_close(vm);
	close(efd);
}

/* ---- irqfd ---- */

static void test_irqfd_needs_interrupt_controller(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL);
	int efd = eventfd(0, 0);
	struct ivy_irqfd cfg = { .fd = efd, .resample_fd = -1, .spi = 40 };

	(void)state;
	assert_int_equal(ivy_irqfd_assign(vm, &cfg), -ENODEV);
	ivy_vm_close(vm);
	close(efd);
}

static void test_irqfd_spi_edge_and_msi(void **state)
{
	struct ivy_vm *vm = fake_vm();
	int efd = eventfd(0, 0), mfd = eventfd(0, 0);
	struct ivy_irqfd spi = { .fd = efd, .resample_fd = -1, .spi = 40 };
	struct ivy_irqfd msi = { .fd = mfd,
				 .resample_fd = -1,
				 .flags = IVY_IRQFD_F_MSI,
				 .msi_doorbell = 0x8090040,
				 .msi_data = 7,
				 .msi_devid = 0x18 };
	struct fake_call c;

	(void)state;
	assert_int_equal(ivy_irqfd_assign(vm, &spi), 0);
	assert_int_equal(ivy_irqfd_assign(vm, &spi), -EBUSY);
	assert_int_equal(ivy_irqfd_assign(vm, &msi), 0);
	kick(efd);
	fake_wait_calls(2);
	/* No resampler: the line pulses. */
	c = fake_get(0);
	assert_int_equal(c.kind, 'S');
	assert_int_equal(c.intid, 40);
	assert_true(c.level);
	c = fake_get(1);
	assert_int_equal(c.kind, 'S');
	assert_false(c.level);
	kick(mfd);
	fake_wait_calls(3);
	c = fake_get(2);
	assert_int_equal(c.kind, 'M');
	assert_int_equal(c.doorbell, 0x8090040);
	assert_int_equal(c.data, 7);
	assert_int_equal(c.devid, 0x18);
	/* Deassign is synchronous: a write afterwards injects nothing. */
	assert_int_equal(ivy_irqfd_deassign(vm, efd), 0);
	assert_int_equal(ivy_irqfd_deassign(vm, efd), -ENOENT);
	kick(efd);
	ioreq_test_sleep_ms(20);
	assert_int_equal(fake_nr(), 3);
	/* The fd can be assigned again after deassign. */
	assert_int_equal(ivy_irqfd_assign(vm, &spi), 0);
	fake_wait_calls(5); /* the pending count from before fires at once */
	ivy_vm_close(vm);
	close(efd);
	close(mfd);
}

static void test_irqfd_arguments(void **state)
{
	struct ivy_vm *vm = fake_vm();
	int efd = eventfd(0, 0), rfd = eventfd(0, 0);
	struct ivy_irqfd cfg = { .fd = efd, .resample_fd = -1, .spi = 31 };

	(void)state;
	assert_int_equal(ivy_irqfd_assign(vm, &cfg), -EINVAL); /* a PPI */
	cfg.spi = 1020;
	assert_int_equal(ivy_irqfd_assign(vm, &cfg), -EINVAL);
	cfg.spi = 40;
	cfg.flags = 0x10;
	assert_int_equal(ivy_irqfd_assign(vm, &cfg), -EINVAL);
	cfg.flags = IVY_IRQFD_F_MSI;
	cfg.resample_fd = rfd;
	assert_int_equal(ivy_irqfd_assign(vm, &cfg), -EINVAL); /* MSIs do not resample */
	cfg.flags = 0;
	cfg.fd = 999;
	cfg.resample_fd = -1;
	assert_int_equal(ivy_irqfd_assign(vm, &cfg), -EBADF);
	cfg.fd = efd;
	cfg.resample_fd = rfd;
	fake.add_resample_ret = -ENOSPC;
	assert_int_equal(ivy_irqfd_assign(vm, &cfg), -ENOSPC);
	fake.add_resample_ret = 0;
	assert_int_equal(ivy_irqfd_assign(vm, NULL), -EINVAL);
	assert_int_equal(fake_nr(), 0);
	ivy_vm_close(vm);
	close(efd);
	close(rfd);
}

static void test_irqfd_level_resample(void **state)
{
	struct ivy_vm *vm = fake_vm();
	int efd = eventfd(0, 0), rfd = eventfd(0, EFD_NONBLOCK);
	struct ivy_irqfd cfg = { .fd = efd, .resample_fd = rfd, .spi = 50 };
	void (*fn)(void *);
	struct fake_call c;

	(void)state;
	assert_int_equal(ivy_irqfd_assign(vm, &cfg), 0);
	assert_non_null(fake.resample_fn);
	assert_int_equal(fake.resample_intid, 50);
	kick(efd);
	fake_wait_calls(1);
	/* The line stays high until the guest EOIs. */
	c = fake_get(0);
	assert_int_equal(c.kind, 'S');
	assert_true(c.level);
	ioreq_test_sleep_ms(5);
	assert_int_equal(fake_nr(), 1);
	assert_int_equal(efd_count(rfd), 0);
	/* The EOI: the line drops and the device hears about it. */
	fn = fake.resample_fn;
	fn(fake.resample_opaque);
	assert_int_equal(fake_nr(), 2);
	c = fake_get(1);
	assert_false(c.level);
	assert_int_equal(efd_count(rfd), 1);
	/* Deassign unhooks the resampler and lowers the line. */
	kick(efd);
	fake_wait_calls(3);
	assert_int_equal(ivy_irqfd_deassign(vm, efd), 0);
	assert_null(fake.resample_fn);
	assert_int_equal(fake_nr(), 4);
	assert_false(fake_get(3).level);
	ivy_vm_close(vm);
	close(efd);
	close(rfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ioeventfd_match_and_fall_through),
		cmocka_unit_test(test_ioeventfd_conflicts_and_arguments),
		cmocka_unit_test(test_irqfd_needs_interrupt_controller),
		cmocka_unit_test(test_irqfd_spi_edge_and_msi),
		cmocka_unit_test(test_irqfd_arguments),
		cmocka_unit_test(test_irqfd_level_resample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
