/* SPDX-License-Identifier: MIT */
/*
 * A board reset (PSCI SYSTEM_RESET without -no-reboot). The first boot leaves
 * state behind everywhere: an SPI enabled and pending, a secondary running, a
 * changed variable in the image. After the reset the guest runs from its entry
 * point again and finds the GIC at its reset values, the secondary off and the
 * image reloaded; only RAM outside the image keeps the boot count.
 */
#include "gic.h"
#include "rt.h"

#define GICD_BASE      0x08000000ul
#define GICD_ISENABLER 0x100
#define GICD_ISPENDR   0x200
#define TEST_SPI       40
#define BOOT_MAGIC     0x7265736574ul /* "reset" */

/* Far from the image (at RAM + 512 KiB) and from the DTB (at the top of RAM). */
static volatile uint64_t *const boot_record = (volatile uint64_t *)(RAM_BASE + (32ul << 20));
static volatile uint32_t image_word = 0x1234;
static volatile unsigned secondary_running;

static void secondary_spin(unsigned cpu)
{
	(void)cpu;
	secondary_running = 1;
	for (;;)
		wfi();
}

static bool spi_bit(unsigned reg)
{
	return mmio_read32(GICD_BASE + reg + 4 * (TEST_SPI / 32)) & (1u << (TEST_SPI % 32));
}

void guest_main(void)
{
	if (boot_record[0] != BOOT_MAGIC) {
		boot_record[0] = BOOT_MAGIC;
		boot_record[1] = 1;
		image_word = 0x5678;
		gic_dist_init();
		gic_enable_irq(TEST_SPI);
		gic_set_pending(TEST_SPI);
		if (nr_cpus() > 1) {
			cpu_start(1, secondary_spin);
			while (!secondary_running)
				;
		}
		printf("first boot: SPI %u enabled (%d) and pending (%d); resetting\n", TEST_SPI,
		       spi_bit(GICD_ISENABLER), spi_bit(GICD_ISPENDR));
		psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
		check(false, "SYSTEM_RESET returned");
		return;
	}
	boot_record[0] = 0;
	check(boot_record[1] == 1, "this is the second boot (%lu)", (unsigned long)boot_record[1]);
	check(image_word == 0x1234, "the image was loaded again (%x)", image_word);
	check(!spi_bit(GICD_ISENABLER), "the GIC came back with SPI %u disabled", TEST_SPI);
	check(!spi_bit(GICD_ISPENDR), "the GIC came back with SPI %u not pending", TEST_SPI);
	if (nr_cpus() > 1)
		check(psci_call(PSCI_AFFINITY_INFO, 1, 0, 0) == 1, "vCPU 1 is off after the reset");
	check(psci_call(PSCI_AFFINITY_INFO, 0, 0, 0) == 0, "the boot vCPU is on");
}
