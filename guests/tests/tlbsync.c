/* SPDX-License-Identifier: MIT */
/*
 * A broadcast TLB invalidation must hold on every vCPU once the issuer's DSB
 * completes (TLBI VAE1IS, ARM DDI 0487 D5.10.2), also on a vCPU that was
 * waiting for a device at that moment. vCPU 1 reads a page through the MMU
 * (its TLB now holds the translation), then reads a slow register of ivy's
 * test device; while it waits, vCPU 0 points the page's PTE at another page
 * and invalidates with TLBI VAE1IS. vCPU 1's load right after the device
 * read, in the same block, must see the new page. Both vCPUs use one set of
 * tables: RAM and the device space identity-mapped, and one 4 KiB page at
 * 0x80000000 that is moved.
 */
#include "rt.h"

#define TESTDEV_SLOW 0x090D0014ul
#define VA	     0x80000000ul
#define ROUNDS	     4

/* Descriptor bits (VMSAv8-64, 4 KiB granule). */
#define D_VALID	   1ul
#define D_TABLE	   3ul /* table (levels 1, 2) or page (level 3) */
#define D_ATTR(i)  ((uint64_t)(i) << 2)
#define D_SH_INNER (3ul << 8)
#define D_AF	   (1ul << 10)

static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l2[512] __attribute__((aligned(4096)));
static uint64_t l3[512] __attribute__((aligned(4096)));
static uint64_t page_a[512] __attribute__((aligned(4096)));
static uint64_t page_b[512] __attribute__((aligned(4096)));

static volatile unsigned ready, moved, remapped, round;
static volatile uint64_t seen_before, seen_after, slow_value, remapped_seen;

static uint64_t page_pte(const void *pa)
{
	return (uintptr_t)pa | D_TABLE | D_ATTR(1) | D_SH_INNER | D_AF;
}

static void mmu_on(void)
{
	/* MAIR: attr0 Device-nGnRnE, attr1 Normal write-back. */
	sysreg_write(mair_el1, 0xff00ul);
	/* T0SZ 25 (39-bit VAs from level 1), inner/outer WB, inner shareable, 4 KiB, 40-bit PAs; no TTBR1 walks. */
	sysreg_write(tcr_el1,
		     25ul | (1ul << 8) | (1ul << 10) | (3ul << 12) | (1ul << 23) | (2ul << 32));
	sysreg_write(ttbr0_el1, (uintptr_t)l1);
	isb();
	__asm__ volatile("tlbi vmalle1\n"
			 "dsb nsh\n" ::
				 : "memory");
	sysreg_write(sctlr_el1, sysreg_read(sctlr_el1) | 1 | (1 << 2) | (1 << 12));
	isb();
}

static void reader(unsigned cpu)
{
	(void)cpu;
	mmu_on();
	for (unsigned r = 1; r <= ROUNDS; r++) {
		uint64_t before, after, slow, done;

		while (round != r)
			;
		/*
		 * The load, the device read, whether vCPU 0 has finished its TLBI
		 * (an acquire), and the load again: one block.
		 */
		__asm__ volatile("ldr %0, [%4]\n"
				 "str %w6, [%5]\n"
				 "ldr %w2, [%7]\n"
				 "ldar %w3, [%8]\n"
				 "ldr %1, [%4]\n"
				 : "=&r"(before), "=&r"(after), "=&r"(slow), "=&r"(done)
				 : "r"(VA), "r"(&ready), "r"(r), "r"(TESTDEV_SLOW), "r"(&remapped)
				 : "memory");
		remapped_seen = done;
		seen_before = before;
		slow_value = slow;
		seen_after = after;
		dsb();
		ready = 0;
		while (moved != r)
			;
	}
}

void guest_main(void)
{
	unsigned stale = 0, missed = 0;

	l1[0] = 0x00000000ul | D_VALID | D_ATTR(0) | D_AF;		/* devices, 1 GiB block */
	l1[1] = 0x40000000ul | D_VALID | D_ATTR(1) | D_SH_INNER | D_AF; /* RAM */
	l1[2] = (uintptr_t)l2 | D_TABLE;
	l2[0] = (uintptr_t)l3 | D_TABLE;
	l3[0] = page_pte(page_a);
	dsb();
	mmu_on();
	if (nr_cpus() < 2) {
		check(false, "needs two vCPUs");
		test_done();
	}
	cpu_start(1, reader);
	for (unsigned r = 1; r <= ROUNDS; r++) {
		uint64_t *from = r % 2 ? page_a : page_b, *to = r % 2 ? page_b : page_a;

		from[0] = 0xa0a0a0a0ul + r;
		to[0] = 0xb0b0b0b0ul + r;
		dsb();
		round = r;
		while (ready != r)
			;
		/* vCPU 1 has loaded the page and is at (or on its way to) the device. */
		l3[0] = page_pte(to);
		__asm__ volatile("dsb ishst\n"
				 "tlbi vae1is, %0\n"
				 "dsb ish\n"
				 "isb\n" ::"r"(VA >> 12)
				 : "memory");
		__asm__ volatile("stlr %w0, [%1]" ::"r"(r), "r"(&remapped) : "memory");
		while (ready == r)
			;
		/* A round where vCPU 1 ran on before the TLBI was done tells nothing. */
		if (seen_before != from[0] || slow_value != 1 || remapped_seen != r)
			missed++;
		else if (seen_after != to[0])
			stale++;
		moved = r;
	}
	check(missed < ROUNDS,
	      "vCPU 1 waited for the device while vCPU 0 moved the page (%u of %u rounds not)",
	      missed, ROUNDS);
	check(stale == 0,
	      "after a TLBI IS, the next load on the waiting vCPU sees the new page (%u of %u "
	      "stale)",
	      stale, ROUNDS);
	test_done();
}
