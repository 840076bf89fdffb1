/* SPDX-License-Identifier: MIT */
/*
 * The board as a guest sees it: the DT names what QEMU-virt guests look for,
 * the PL011 identifies itself, accesses nobody claims read as all-ones and do
 * not stop the VM, 64-bit accesses to 64-bit GIC registers work (Unicorn splits
 * them in two halves), and an SVC is taken by the guest's own vector.
 */
#include "gic.h"

static volatile unsigned svcs;
static volatile uint64_t svc_esr;

static bool on_sync(uint64_t esr, struct exc_frame *f)
{
	(void)f;
	if ((esr >> 26) == 0x15) { /* SVC from AArch64 */
		svcs++;
		svc_esr = esr;
		f->elr -= 4; /* the preferred return is already past the SVC */
		return true;
	}
	return false;
}

void guest_main(void)
{
	static const char *const names[] = { "arm,psci-1.0", "arm,psci-0.2",  "arm,armv8-timer",
					     "arm,pl011",    "arm,primecell", "linux,dummy-virt",
					     "ivy,test-exit" };
	gic_dist_init();
	printf("board test on GICv%u\n", gic_version);
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check(dt_mentions(names[i]), "DT has \"%s\"", names[i]);
	check(dt_mentions(gic_version == 3 ? "arm,gic-v3" : "arm,cortex-a15-gic"),
	      "DT describes the GIC");
	if (gic_version == 2)
		check(dt_mentions("arm,gic-v2m-frame"), "DT describes the GICv2m frame");

	/* PL011 PrimeCell ID registers. */
	uint32_t id[8];
	for (unsigned i = 0; i < 8; i++)
		id[i] = mmio_read32(UART_BASE + 0xfe0 + 4 * i) & 0xff;
	check(id[0] == 0x11 && id[1] == 0x10 && id[4] == 0x0d && id[5] == 0xf0 && id[6] == 0x05 &&
		      id[7] == 0xb1,
	      "PL011 identifies as a PrimeCell PL011");

	/* Nobody claims 0x0a000000 (virtio-mmio space on QEMU, empty here). */
	uint32_t v = mmio_read32(0x0a000000ul);
	mmio_write32(0x0a000000ul, 0x1234);
	check(v == 0xffffffffu || v == 0, "an unclaimed read returns all-ones or zero (%x)", v);
	check(true, "an unclaimed write did not stop the VM");

	if (gic_version == 3) {
		/* GICD_IROUTER<40> with 64-bit accesses: Aff1 in bits [15:8], Aff2 [23:16], Aff3 [39:32]. */
		uintptr_t r = GICD_BASE + GICD_IROUTER + 40 * 8;
		uint64_t want = (1ull << 32) | 0x020300;
		mmio_write64(r, want);
		uint64_t got = mmio_read64(r);
		check(got == want, "64-bit GICD_IROUTER write and read (%lx)", got);
		mmio_write64(r, 0);
		check(mmio_read64(r) == 0, "64-bit GICD_IROUTER cleared");
	}

	/* A synchronous exception goes to the guest's vectors. */
	sync_handler = on_sync;
	__asm__ volatile("svc #0x77" ::: "memory");
	check(svcs == 1 && (svc_esr & 0xffff) == 0x77, "SVC taken by the guest's vector (ESR %lx)",
	      svc_esr);
}
