/* SPDX-License-Identifier: MIT */
/*
 * The only place that reaches into Unicorn's internals. Debian's Unicorn 2.0.1
 * exports, without declaring them, the engine's own functions for raising and
 * lowering a CPU's interrupt lines, for taking an exception into the guest and
 * for rebuilding the translation flags it caches from PSTATE and the EL2/EL3
 * controls. Reaching them needs the engine's CPU object, which is found once per
 * engine by a probe that checks what it finds (see uc_internal.c). Any other
 * Unicorn version is refused at start-up.
 */
#ifndef IVY_VMM_UC_INTERNAL_H
#define IVY_VMM_UC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

/* The engine version these functions were written against (uc_version()'s encoding). */
#define UCI_VERSION_MAJOR 2
#define UCI_VERSION_MINOR 0

/* QEMU's exception numbers as the INTR hook reports them (target/arm/cpu.h). */
enum uci_excp {
	UCI_EXCP_UDEF = 1,
	UCI_EXCP_SWI = 2,
	UCI_EXCP_PREFETCH_ABORT = 3,
	UCI_EXCP_DATA_ABORT = 4,
	UCI_EXCP_IRQ = 5,
	UCI_EXCP_FIQ = 6,
	UCI_EXCP_BKPT = 7,
	UCI_EXCP_HVC = 11,
	UCI_EXCP_HYP_TRAP = 12,
	UCI_EXCP_SMC = 13,
};

/* Handles on one engine's internals; filled by uci_attach(). */
struct uci_cpu {
	uc_engine *uc;
	void *cs;  /* QEMU CPUState */
	void *env; /* CPUARMState */
	bool irq, fiq;
	/* The fast TLB's {mask, table} pairs, one per MMU index; NULL if not recognised. */
	uint64_t *tlb;
	/* uci_tlb_clear_notdirty(): the tables that held a valid entry at their last visit. */
	uint32_t tlb_live;
	unsigned tlb_sweeps;
	/*
	 * The engine's code buffer is full or about to be (it flushed, or soon
	 * would): it must not run again (uci_run()).
	 */
	bool retire;
	uintptr_t code_lo; /* the lowest TB it returned: its code buffer's start */
	/*
	 * One bit per 4 KiB page of RAM: the engine may hold code translated from
	 * it (set as blocks are translated, cleared when the page is dropped).
	 * Only this engine's thread touches it. NULL: not tracked (uci_track_code()).
	 */
	uint64_t *code_pages;
	uint64_t code_words;
};

/*
 * Checks that the loaded libunicorn is the version this file knows. Returns 0,
 * or -ENOTSUP with a description of what was found in buf.
 */
int uci_check_version(char *buf, unsigned len);

/*
 * Finds the CPU objects of a freshly opened AArch64 engine. Clobbers X0 and X1
 * (it writes marker values and looks for them). Returns 0 or -ENOENT.
 */
int uci_attach(struct uci_cpu *cpu, uc_engine *uc);

/*
 * Sets the CPU's IRQ and FIQ input lines. The engine takes the interrupt at its
 * next translation-block boundary when PSTATE allows it, and a WFI with a line
 * up does not sleep. Must be called on the thread that runs the engine.
 */
void uci_set_lines(struct uci_cpu *cpu, bool irq, bool fiq);

/*
 * From the INTR hook: lets the engine take the pending synchronous exception
 * (an SVC, an abort, an undefined instruction) into the guest as the hardware
 * would, instead of the hook swallowing it.
 */
void uci_take_exception(struct uci_cpu *cpu);

/*
 * Drops the engine's translated code for [ram_offset, ram_offset + len) of its
 * RAM, whatever the guest's MMU does. Offsets count from the start of the
 * first RAM mapped into the engine (RAM-block offsets: the VMM maps one RAM).
 * With code tracking (uci_track_code()), only the pages code was translated
 * from are visited: dropping all of RAM then costs what its code costs, not a
 * walk of every page (~20 ms for 1 GiB).
 */
void uci_drop_code(struct uci_cpu *cpu, uint64_t ram_offset, uint64_t len);

/*
 * Drops the code of the pages first_page + i (4 KiB pages of RAM) for the bits
 * i set in mask (a dirty-page word), where the engine translated code from.
 */
void uci_drop_code_pages(struct uci_cpu *cpu, uint64_t first_page, uint64_t mask);

/*
 * Starts tracking which pages of the first ram_size bytes of RAM the engine
 * translates code from (set by the engine's translations, see uc_internal.c).
 * Returns 0 or -ENOMEM. uci_detach() frees what the tracking holds.
 */
int uci_track_code(struct uci_cpu *cpu, uint64_t ram_size);
void uci_detach(struct uci_cpu *cpu);

/*
 * Fast guest RAM stores. This engine never marks RAM dirty, so every TLB entry
 * for RAM keeps the not-dirty flag and every guest store takes the slow path
 * that watches for writes to translated code (35x QEMU's cost per store).
 * uci_tlb_clear_notdirty() clears that flag in the entries it is the only
 * flag of; the engine then no longer notices its own writes to code, and the
 * VMM must drop code when the guest does the IC maintenance the architecture
 * asks for after writing instructions (uci_tlb_host_addr() finds the RAM
 * behind an IC IVAU's address when the TLB holds it). uci_tlb_clear_notdirty()
 * returns the number of entries it cleared, uci_tlb_host_addr() whether it found
 * the address; both do nothing (-1, false) if the tables were not found.
 * Of the twelve tables (one per MMU index) a guest uses two or three: a table
 * with no valid entry at its last visit is visited again only every 8th call,
 * so that a sweep reads a few KiB, not ~100.
 */
int uci_tlb_clear_notdirty(struct uci_cpu *cpu);
/* The host address backing guest virtual address va, if the engine's TLB maps it. */
bool uci_tlb_host_addr(struct uci_cpu *cpu, uint64_t va, void **host);

/* Drops the engine's cached address translations (a TLBI seen on another engine). */
void uci_flush_tlb(struct uci_cpu *cpu);

/*
 * Runs the engine from pc until something stops it (uc_emu_start() with no
 * end). Returns with cpu->retire set, at once, when the engine's code buffer
 * is (nearly) full: the engine must not run again, and the vCPU's state must
 * be moved to a fresh one (uci_move_state()) before the guest runs on.
 */
uc_err uci_run(struct uci_cpu *cpu, uint64_t pc);

/*
 * Copies the CPU state the guest can see (registers, system registers, FP/SIMD;
 * the engine's own context) from one engine to another attached one, and
 * rebuilds the target's cached flags. Returns 0, -ENOMEM or -EIO.
 */
int uci_move_state(struct uci_cpu *from, struct uci_cpu *to);

/*
 * The engine's translation entry point is replaced by one that stops the
 * engine after it flushed its full code buffer (see uc_internal.c); without
 * it the engine crashes, or takes guest exceptions at wrong PCs, afterwards.
 * uci_code_gen_hooked() tells whether the replacement is the one in use (the
 * executable must export tb_gen_code_aarch64); uci_code_flush_count() counts
 * the flushes seen, over all engines.
 */
bool uci_code_gen_hooked(void);
uint64_t uci_code_flush_count(void);

/* Rebuilds the cached translation flags after PSTATE or EL2/EL3 controls changed. */
void uci_rebuild_flags(struct uci_cpu *cpu);

#endif
