/* SPDX-License-Identifier: MIT */
/*
 * SPIs from devices: a level SPI whose line a device client drives (pending as
 * long as the line is high, again after EOI), an edge SPI (edges coalesce while
 * pending; an edge while active is delivered again after EOI), a level SPI
 * behind an irqfd with a resample eventfd (the device hears every EOI), and
 * MSIs through GICv2m, written by the guest and sent by a device through an
 * irqfd. The device is ivy's test interrupt generator (not on QEMU's virt).
 */
#include "gic.h"

#define TESTDEV		  0x090D0000ul
#define TESTDEV_SPI_LEVEL 0x00
#define TESTDEV_SPI_EDGE  0x04
#define TESTDEV_MSI	  0x08
#define TESTDEV_RESAMPLES 0x0c
#define TESTDEV_IRQFD_LVL 0x10

#define SPI_LEVEL 40
#define SPI_EDGE  41
#define SPI_IRQFD 42

static volatile unsigned count[1024];
static volatile unsigned level_keep; /* EOIs to take before the handler lowers the line */
static volatile bool edge_again;

static void dev_write(unsigned off, uint32_t v)
{
	mmio_write32(TESTDEV + off, v);
}

static void spi_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();
	uint32_t id = iar & 0x3ff;

	if (id >= 1020)
		return;
	count[id]++;
	if (id == SPI_LEVEL) {
		if (level_keep)
			level_keep--;
		else
			dev_write(TESTDEV_SPI_LEVEL,
				  SPI_LEVEL << 1); /* the device lowers its line */
	}
	if (id == SPI_EDGE && edge_again) {
		edge_again = false;
		dev_write(TESTDEV_SPI_EDGE, SPI_EDGE); /* a new edge while active */
	}
	gic_eoi(iar);
}

static void settle(void)
{
	udelay(3000);
}

/* irqfds are served by another thread of the VMM: give them up to a second. */
static void wait_count(unsigned id, unsigned want)
{
	uint64_t end = timer_count() + timer_freq();

	while (count[id] < want && timer_count() < end)
		;
	settle();
}

void guest_main(void)
{
	printf("spi test\n");
	gic_dist_init();
	gic_cpu_init();
	set_irq_handler(spi_irq);
	const unsigned spis[] = { SPI_LEVEL, SPI_EDGE, SPI_IRQFD, 85, 86 };
	for (unsigned i = 0; i < sizeof(spis) / sizeof(spis[0]); i++) {
		gic_set_target(spis[i], 1);
		gic_set_edge(spis[i], spis[i] != SPI_LEVEL && spis[i] != SPI_IRQFD);
		gic_enable_irq(spis[i]);
	}
	irq_enable();

	/* Level: one delivery per assertion when the handler lowers the line. */
	dev_write(TESTDEV_SPI_LEVEL, (SPI_LEVEL << 1) | 1);
	settle();
	check(count[SPI_LEVEL] == 1, "level SPI: delivered once, then the device lowered it (%u)",
	      count[SPI_LEVEL]);
	/* Level kept high across two EOIs: delivered again each time. */
	level_keep = 2;
	dev_write(TESTDEV_SPI_LEVEL, (SPI_LEVEL << 1) | 1);
	settle();
	check(count[SPI_LEVEL] == 4,
	      "level SPI: pending again after EOI while the line is high (%u)", count[SPI_LEVEL]);
	check(!gic_is_pending(SPI_LEVEL), "level SPI: not pending once the line is low");

	/* Edge: two edges while masked coalesce into one delivery. */
	irq_disable();
	dev_write(TESTDEV_SPI_EDGE, SPI_EDGE);
	dev_write(TESTDEV_SPI_EDGE, SPI_EDGE);
	check(gic_is_pending(SPI_EDGE), "edge SPI: pending after an edge");
	irq_enable();
	settle();
	check(count[SPI_EDGE] == 1, "edge SPI: two edges while pending delivered once (%u)",
	      count[SPI_EDGE]);
	/* An edge while active: delivered again after the EOI. */
	edge_again = true;
	dev_write(TESTDEV_SPI_EDGE, SPI_EDGE);
	settle();
	check(count[SPI_EDGE] == 3, "edge SPI: an edge while active is delivered again (%u)",
	      count[SPI_EDGE]);

	/* irqfd with resample: the device hears the EOI. */
	(void)mmio_read32(TESTDEV + TESTDEV_RESAMPLES);
	dev_write(TESTDEV_IRQFD_LVL, SPI_IRQFD);
	wait_count(SPI_IRQFD, 1);
	check(count[SPI_IRQFD] == 1, "irqfd level SPI: delivered once (%u)", count[SPI_IRQFD]);
	uint32_t rs = mmio_read32(TESTDEV + TESTDEV_RESAMPLES);
	check(rs == 1, "irqfd level SPI: the EOI was resampled to the device (%u)", rs);

	if (gic_version != 2) {
		irq_disable();
		return;
	}
	/* GICv2m: the frame advertises QEMU virt's range; MSIs become SPIs. */
	uint32_t typer = mmio_read32(V2M_BASE + V2M_MSI_TYPER);
	unsigned base = (typer >> 16) & 0x3ff, num = typer & 0x3ff;
	check(base == 80 && num == 64, "GICv2m MSI_TYPER: SPIs %u..%u", base, base + num - 1);
	mmio_write32(V2M_BASE + V2M_MSI_SETSPI_NS, 85);
	settle();
	check(count[85] == 1, "GICv2m: a guest write to SETSPI_NS delivers SPI 85 (%u)", count[85]);
	mmio_write32(V2M_BASE + V2M_MSI_SETSPI_NS, 1000);
	settle();
	check(count[1000 & 0x3ff] == 0, "GICv2m: an ID outside the range is ignored");
	dev_write(TESTDEV_MSI, 86);
	wait_count(86, 1);
	check(count[86] == 1, "GICv2m: a device MSI through an irqfd delivers SPI 86 (%u)",
	      count[86]);
	irq_disable();
}
