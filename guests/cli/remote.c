/* SPDX-License-Identifier: MIT */
/*
 * For tests/vmm/remote.sh: an out-of-process device (client/examples/ivy-regfile,
 * connected to ivy run's --device-socket) serves a register file at 0x0a000000 and
 * raises SPI 48 through an irqfd when its IRQ register is written. The guest waits
 * for the device to appear, checks its registers through I/O requests answered by
 * the other process, and takes the device's interrupt.
 */
#include "gic.h"

#define REGFILE	   0x0a000000ul
#define REGFILE_ID 0x46474552u
#define SPI	   48

static volatile unsigned count;

static void remote_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();

	if ((iar & 0x3ff) == SPI)
		count++;
	if ((iar & 0x3ff) < 1020)
		gic_eoi(iar);
}

void guest_main(void)
{
	uint64_t end = timer_count() + 10 * timer_freq();
	uint32_t id;

	gic_dist_init();
	gic_cpu_init();
	printf("remote device test on GICv%u\n", gic_version);
	/* Until the device process has connected and claimed its range, reads are unclaimed. */
	while ((id = mmio_read32(REGFILE + 0x3c)) != REGFILE_ID && timer_count() < end)
		udelay(1000);
	check(id == REGFILE_ID, "the out-of-process device answers its ID register (%x)", id);
	bool regs_ok = true;
	for (unsigned i = 0; i < 14; i++)
		mmio_write32(REGFILE + 4 * i, 0x1000 + i * 7);
	for (unsigned i = 0; i < 14; i++)
		if (mmio_read32(REGFILE + 4 * i) != 0x1000 + i * 7)
			regs_ok = false;
	check(regs_ok, "14 registers written and read back through the other process");
	gic_set_target(SPI, 1);
	gic_set_edge(SPI, true);
	gic_enable_irq(SPI);
	set_irq_handler(remote_irq);
	irq_enable();
	for (unsigned i = 0; i < 3; i++) {
		mmio_write32(REGFILE + 0x38, 1);
		uint64_t t = timer_count() + timer_freq();
		while (count < i + 1 && timer_count() < t)
			;
	}
	irq_disable();
	check(count == 3, "the device raised SPI %u three times through its irqfd (%u)", SPI,
	      count);
	check(mmio_read32(REGFILE + 0x38) == 3, "the device counted three interrupt requests");
}
