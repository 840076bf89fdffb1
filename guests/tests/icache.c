/* SPDX-License-Identifier: MIT */
/*
 * Code written by one vCPU and run by another: vCPU 1 rewrites a function that
 * vCPU 0 has already executed, then issues IC IALLUIS. Each vCPU has its own
 * Unicorn engine with its own translated code, so this works only if the VMM
 * broadcasts the invalidation to every engine.
 */
#include "rt.h"

/* mov w0, #imm; ret */
#define MOVW0(imm) (0x52800000u | ((uint32_t)(imm) << 5))
#define RET	   0xd65f03c0u

static uint32_t code[64] __attribute__((aligned(64)));
static volatile unsigned step;

static void write_code(unsigned imm)
{
	code[0] = MOVW0(imm);
	code[1] = RET;
	__asm__ volatile("dc cvau, %0\n"
			 "dsb ish\n"
			 "ic ialluis\n"
			 "dsb ish\n"
			 "isb\n" ::"r"(code)
			 : "memory");
}

static unsigned call_code(void)
{
	unsigned (*fn)(void) = (unsigned (*)(void))(uintptr_t)code;

	return fn();
}

static void writer(unsigned cpu)
{
	(void)cpu;
	for (unsigned i = 1; i <= 3; i++) {
		while (step != 2 * i - 1)
			;
		write_code(100 + i);
		step = 2 * i;
	}
}

void guest_main(void)
{
	write_code(100);
	check(call_code() == 100, "vCPU 0 runs the code it wrote");
	if (nr_cpus() < 2)
		return;
	cpu_start(1, writer);
	bool ok = true;
	for (unsigned i = 1; i <= 3; i++) {
		step = 2 * i - 1;
		while (step != 2 * i)
			;
		__asm__ volatile("isb" ::: "memory");
		unsigned got = call_code();
		if (got != 100 + i) {
			ok = false;
			printf("  round %u: got %u\n", i, got);
		}
	}
	check(ok, "vCPU 0 runs the code vCPU 1 rewrote, three times (IC IALLUIS broadcast)");
}
