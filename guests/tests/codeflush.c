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

/*
 * An alignment fault at a known instruction, in the middle of a block (an
 * exclusive load of a misaligned address always takes one, B2.5.2): the
 * engine finds the faulting instruction from where its translated code
 * stopped, which needs its index of translated blocks intact.
 */
unsigned long probe(const void *misaligned);
extern const char probe_fault[];
__asm__(".text\n"
	".balign 64\n"
	".global probe\n"
	".global probe_fault\n"
	"probe:\n"
	"	mov x1, #1\n"
	"	add x1, x1, #2\n"
	"probe_fault:\n"
	"	ldxr x1, [x0]\n"
	"	add x1, x1, #3\n"
	"	mov x0, x1\n"
	"	ret\n");

static unsigned long word = 3;
static volatile uint64_t fault_elr, fault_esr;
static unsigned char misaligned[16] __attribute__((aligned(16)));

static bool on_fault(uint64_t esr, struct exc_frame *f)
{
	fault_esr = esr;
	fault_elr = f->elr;
	return true; /* skips the load */
}

/* Takes the alignment fault; true if it was reported at the load. */
static bool fault_at_load(void)
{
	fault_elr = fault_esr = 0;
	(void)probe(misaligned + 1);
	__asm__ volatile("clrex" ::: "memory");
	/* ESR_EL1.EC 0x25: a data abort at the current EL; DFSC 0x21: alignment. */
	return fault_elr == (uintptr_t)probe_fault && (fault_esr >> 26) == 0x25 &&
	       (fault_esr & 0x3f) == 0x21;
}

/* Every vCPU but the first: probes while the first one floods its engine. */
static volatile unsigned other_probes, other_misreported, flood_done;

static void prober(unsigned cpu)
{
	(void)cpu;
	while (!flood_done) {
		if (!fault_at_load())
			other_misreported++;
		other_probes++;
		for (volatile unsigned i = 0; i < 20000; i++)
			;
	}
}

void guest_main(void)
{
	unsigned bad = 0, misreported = 0;

	sync_handler = on_fault;
	for (unsigned c = 1; c < nr_cpus(); c++)
		cpu_start(c, prober);
	check(fault_at_load(), "an alignment fault is reported at the load (ELR %lx, ESR %lx)",
	      (unsigned long)fault_elr, (unsigned long)fault_esr);
	for (unsigned pass = 0; pass < PASSES; pass++) {
		word = pass;
		__asm__ volatile("dsb ish\n"
				 "ic iallu\n"
				 "dsb ish\n"
				 "isb\n" ::
					 : "memory");
		if (flood(&word) != pass)
			bad++;
		/* After every few passes, so that some come right after a flush. */
		if (pass % 16 == 15 && !fault_at_load())
			misreported++;
	}
	check(bad == 0, "%u passes of freshly translated code, %u wrong", PASSES, bad);
	check(misreported == 0, "alignment faults between the passes: %u reported elsewhere",
	      misreported);
	flood_done = 1;
	if (nr_cpus() > 1)
		check(other_misreported == 0,
		      "alignment faults on the other vCPUs: %u of %u reported elsewhere",
		      other_misreported, other_probes);
	test_done();
}
