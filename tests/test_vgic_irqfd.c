/* SPDX-License-Identifier: MIT */
/*
 * irqfds into the GICv2 (the I/O-request engine's KVM_IRQFD): a level SPI with
 * a resample eventfd is held high until the guest EOIs it, then lowered and the
 * device told once; an MSI irqfd goes through the GICv2m doorbell.
 */
#include "vgic_testutil.h"

#include <ivy/ioreq.h>

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define SPI 40

/* Waits (up to ~2 s) until the distributor shows `bit` pending in ISPENDR `reg`. */
static bool wait_pending(struct gic *g, uint32_t reg, uint32_t bit)
{
	for (int i = 0; i < 2000; i++) {
		if (gicd_read(g, 0, GICD_ISPENDR + reg) & bit)
			return true;
		usleep(1000);
	}
	return false;
}

static uint64_t read_counter(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	return v;
}

static void test_level_irqfd_resample(void **state)
{
	struct gic g;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int rfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct ivy_irqfd cfg = { .fd = efd, .resample_fd = rfd, .spi = SPI };
	uint64_t one = 1;

	(void)state;
	assert_true(efd >= 0 && rfd >= 0);
	gic_new(&g, 1, 0, 0);
	assert_int_equal(ivy_ioreq_init(g.vm), 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	assert_int_equal(ivy_irqfd_assign(g.vm, &cfg), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_true(wait_pending(&g, 4, 1u << (SPI - 32)));
	assert_int_equal(gic_ack(&g, 0), SPI);
	/* Held high until the EOI: nothing told yet. */
	assert_int_equal(read_counter(rfd, 0), 0);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(read_counter(rfd, 2000), 1);
	/* The line was lowered: not pending again. */
	assert_int_equal(gicd_read(&g, 0, GICD_ISPENDR + 4) & (1u << (SPI - 32)), 0);
	assert_int_equal(gic_ack(&g, 0), 1023);
	/* Once per EOI: a second assertion, a second EOI, a second notification. */
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_true(wait_pending(&g, 4, 1u << (SPI - 32)));
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(read_counter(rfd, 2000), 1);
	assert_int_equal(ivy_irqfd_deassign(g.vm, efd), 0);
	gic_free(&g);
	close(efd);
	close(rfd);
}

static void test_msi_irqfd_v2m(void **state)
{
	struct gic g;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct ivy_irqfd cfg = { .fd = efd,
				 .resample_fd = -1,
				 .flags = IVY_IRQFD_F_MSI,
				 .msi_doorbell = GIC_V2M_BASE + 0x40,
				 .msi_data = 81 };
	uint64_t one = 1;

	(void)state;
	assert_true(efd >= 0);
	gic_new(&g, 1, 0, 0);
	assert_int_equal(ivy_ioreq_init(g.vm), 0);
	gicd_write(&g, 0, GICD_ICFGR + (81 / 16) * 4, 2u << ((81 % 16) * 2));
	gic_enable_irq(&g, 81, 0x80, 0);
	assert_int_equal(ivy_irqfd_assign(g.vm, &cfg), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_true(wait_pending(&g, 8, 1u << (81 - 64)));
	assert_int_equal(gic_ack(&g, 0), 81);
	gic_eoi(&g, 0, 81);
	assert_int_equal(gic_ack(&g, 0), 1023);
	/* Torn down with the irqfd still assigned: the VM's destroy order handles it. */
	gic_free(&g);
	close(efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_irqfd_resample),
		cmocka_unit_test(test_msi_irqfd_v2m),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
