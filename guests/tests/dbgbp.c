/* SPDX-License-Identifier: MIT */
/*
 * A guest debugger arms a hardware breakpoint (DBGBVR0/DBGBCR0_EL1 with
 * MDSCR_EL1.KDE|MDE, as Linux's hw_breakpoint does for gdb or perf) and runs
 * the code it names. The engine under ivy crashes translating code once a
 * breakpoint is enabled, so ivy keeps these registers to itself: they read
 * back what was written, the breakpoint never fires, and the VM runs on.
 */
#include "rt.h"

void bp_target(void);
__asm__(".text\n"
	".balign 16\n"
	".global bp_target\n"
	"bp_target:\n"
	"	nop\n"
	"	ret\n");

static volatile unsigned debug_exceptions;

static bool on_sync(uint64_t esr, struct exc_frame *f)
{
	(void)f;
	if ((esr >> 26) >= 0x30 && (esr >> 26) <= 0x35) {
		debug_exceptions++;
		sysreg_write(dbgbcr0_el1, 0);
		isb();
		f->elr -= 4; /* run the instruction again, the breakpoint off */
		return true;
	}
	return false;
}

void guest_main(void)
{
	/* BCR: E, PMC = EL1 and EL0, BAS = all four bytes of an A64 instruction. */
	uint64_t bcr = 1 | (3u << 1) | (0xfu << 5), got;

	sync_handler = on_sync;
	sysreg_write(dbgbvr0_el1, (uintptr_t)bp_target);
	sysreg_write(dbgbcr0_el1, bcr);
	sysreg_write(mdscr_el1, sysreg_read(mdscr_el1) | (1u << 13) | (1u << 15)); /* KDE, MDE */
	isb();
	__asm__ volatile("msr daifclr, #8" ::: "memory"); /* PSTATE.D clear */
	isb();
	for (int i = 0; i < 1000; i++)
		bp_target();
	__asm__ volatile("msr daifset, #8" ::: "memory");
	got = sysreg_read(dbgbcr0_el1);
	/* Under QEMU the breakpoint fires and the handler turns it off. */
	check(got == bcr || debug_exceptions, "DBGBCR0_EL1 reads back what was written");
	check(sysreg_read(dbgbvr0_el1) == (uintptr_t)bp_target, "DBGBVR0_EL1 reads back");
	/* The failure this guards against is the VMM's crash: run-guests.sh sees the exit status. */
	printf("breakpoint armed over 1000 calls: %u debug exceptions\n", debug_exceptions);
	test_done();
}
