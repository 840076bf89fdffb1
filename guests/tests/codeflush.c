/* SPDX-License-Identifier: MIT */
/*
 * More translated code than the engine's code buffer holds. A long run of
 * straight-line code (blocks that chain to each other) is executed again and
 * again, with IC IALLU in between, which makes the VMM drop every translation
 * so that each pass is translated anew: after about a gigabyte of host code
 * the engine flushes its full buffer in the middle of chaining one block to
 * the next. The guest must run on unharmed (each pass checks its result), and
 * ivy run must not crash; tests/vmm/cli.sh checks with --stats that flushes
 * happened.
 */
#include "rt.h"

#define LOADS  14336 /* loads per pass: about 1 MiB of host code */
#define PASSES 700   /* over a gigabyte of translations: at least one flush */

/*
 * x0: a word to load from; loads it LOADS times and returns the last value.
 * Blocks of eight instructions, each within one of the engine's 1 KiB pages:
 * only such blocks are chained.
 */
unsigned long flood(const unsigned long *word);
__asm__(".text\n"
	".balign 4096\n"
	".global flood\n"
	"flood:\n"
	"	mov x1, xzr\n"
	"	.rept 2048\n"
	"	ldr x1, [x0]\n"
	"	ldr x1, [x0]\n"
	"	ldr x1, [x0]\n"
	"	ldr x1, [x0]\n"
	"	ldr x1, [x0]\n"
	"	ldr x1, [x0]\n"
	"	ldr x1, [x0]\n"
	"	b 1f\n" /* ends the block: the next one is chained to it */
	"1:\n"
	"	.endr\n"
	"	mov x0, x1\n"
	"	ret\n");

static unsigned long word = 3;

void guest_main(void)
{
	unsigned bad = 0;

	for (unsigned pass = 0; pass < PASSES; pass++) {
		word = pass;
		__asm__ volatile("dsb ish\n"
				 "ic iallu\n"
				 "dsb ish\n"
				 "isb\n" ::
					 : "memory");
		if (flood(&word) != pass)
			bad++;
	}
	check(bad == 0, "%u passes of freshly translated code, %u wrong", PASSES, bad);
	test_done();
}
