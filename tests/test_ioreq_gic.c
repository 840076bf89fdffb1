/* SPDX-License-Identifier: MIT */
/* irqfds injecting into the real vGIC (GICv2), as a guest would see it. */
#include "ioreq_util.h"
#include "vgic_testutil.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define SPI 40

static bool spi_pending(struct gic *g, uint32_t intid)
{
	return gicd_read(g, 0, GICD_ISPENDR + (intid / 32) * 4) & (1u << (intid % 32));
}

static void wait_pending(struct gic *g, uint32_t intid)
{
	for (int i = 0; i < 2000 && !spi_pending(g, intid); i++)
		ioreq_test_sleep_ms(1);
	assert_true(spi_pending(g, intid));
}

static void kick(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static uint64_t efd_count(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n = 0;

	if (poll(&p, 1, 0) == 1 && read(fd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	return n;
}

static void test_irqfd_edge_spi(void **state)
{
	struct gic g;
	int efd = eventfd(0, 0);
	struct ivy_irqfd cfg = { .fd = efd, .resample_fd = -1, .spi = SPI };
	uint32_t off = GICD_ICFGR + (SPI / 16) * 4;

	(void)state;
	gic_new(&g, 1, 0, 0);
	assert_int_equal(ivy_ioreq_init(g.vm), 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	gicd_write(&g, 0, off, gicd_read(&g, 0, off) | (2u << ((SPI % 16) * 2)));
	assert_int_equal(ivy_irqfd_assign(g.vm, &cfg), 0);
	kick(efd);
	wait_pending(&g, SPI);
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(gic_ack(&g, 0), 1023);
	/* After deassign the eventfd injects nothing. */
	assert_int_equal(ivy_irqfd_deassign(g.vm, efd), 0);
	kick(efd);
	ioreq_test_sleep_ms(20);
	assert_false(spi_pending(&g, SPI));
	gic_free(&g);
	close(efd);
}

static void test_irqfd_level_spi_resample(void **state)
{
	struct gic g;
	int efd = eventfd(0, 0), rfd = eventfd(0, EFD_NONBLOCK);
	struct ivy_irqfd cfg = { .fd = efd, .resample_fd = rfd, .spi = SPI };

	(void)state;
	gic_new(&g, 1, 0, 0);
	assert_int_equal(ivy_ioreq_init(g.vm), 0);
	gic_enable_irq(&g, SPI, 0x80, 0);
	assert_int_equal(ivy_irqfd_assign(g.vm, &cfg), 0);
	kick(efd);
	wait_pending(&g, SPI);
	assert_int_equal(gic_ack(&g, 0), SPI);
	assert_int_equal(efd_count(rfd), 0);
	/* The EOI lowers the line and tells the device through the resample eventfd. */
	gic_eoi(&g, 0, SPI);
	assert_int_equal(efd_count(rfd), 1);
	assert_int_equal(gic_ack(&g, 0), 1023);
	/* The device raises it again: delivered again. */
	kick(efd);
	wait_pending(&g, SPI);
	assert_int_equal(gic_ack(&g, 0), SPI);
	gic_eoi(&g, 0, SPI);
	assert_int_equal(efd_count(rfd), 1);
	/* The VM's teardown releases the irqfd before the GIC goes. */
	gic_free(&g);
	close(efd);
	close(rfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_irqfd_edge_spi),
		cmocka_unit_test(test_irqfd_level_spi_resample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
