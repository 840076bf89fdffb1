/* SPDX-License-Identifier: MIT */
/*
 * Code written by one vCPU and run by another: vCPU 1 rewrites a function that
 * vCPU 0 has already executed, then issues IC IALLUIS. Each vCPU has its own
 * Unicorn engine with its own translated code, so this works only if the VMM
 * broadcasts the invalidation to every engine. First, code a vCPU rewrites
 * itself, made visible by IC IVAU on its address and then by IC IALLU (the
 * engine does not notice its own stores to code: the VMM acts on the IC).
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

static void rewrite_own(unsigned imm, bool by_address)
{
	code[0] = MOVW0(imm);
	if (by_address)
		__asm__ volatile("dc cvau, %0\n"
				 "dsb ish\n"
				 "ic ivau, %0\n"
				 "dsb ish\n"
				 "isb\n" ::"r"(code)
				 : "memory");
	else
		__asm__ volatile("dc cvau, %0\n"
				 "dsb ish\n"
				 "ic iallu\n"
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
	rewrite_own(200, true);
	check(call_code() == 200, "after IC IVAU, vCPU 0 runs the code it rewrote (%u)",
	      call_code());
	rewrite_own(201, false);
	check(call_code() == 201, "after IC IALLU, vCPU 0 runs the code it rewrote (%u)",
	      call_code());
	write_code(100);
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
