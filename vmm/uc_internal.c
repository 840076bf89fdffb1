/* SPDX-License-Identifier: MIT */
/*
 * Unicorn internals (see uc_internal.h). Nothing else in the VMM may use the
 * declarations below.
 *
 * How the CPU object is found. A Unicorn engine (struct uc_struct) holds a
 * pointer to its QEMU CPUState; the CPUState holds `env_ptr`, a pointer to the
 * CPUARMState embedded further down the same ARMCPU object, whose X registers
 * start after the 16 AArch32 registers. We write two unlikely values into X0
 * and X1 through the public API and accept the first pointer in the engine
 * whose pointee has such an env_ptr. Candidate memory is read with
 * process_vm_readv so that a stray pointer cannot fault.
 */
#include "uc_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* CPU_INTERRUPT_HARD / CPU_INTERRUPT_FIQ from QEMU's cpu-all.h and target/arm/cpu.h. */
#define UCI_INTERRUPT_HARD 0x0002
#define UCI_INTERRUPT_FIQ  0x0010

/* Undeclared exports of libunicorn 2.0.1. */
typedef void (*uci_interrupt_fn)(void *cs, int mask);
extern uci_interrupt_fn cpu_interrupt_handler;
extern void cpu_reset_interrupt(void *cs, int mask);
extern void cpu_exit(void *cs);
extern void arm_cpu_do_interrupt_aarch64(void *cs);
extern void arm_rebuild_hflags_aarch64(void *env);
extern void tlb_flush_aarch64(void *cs);
/* QEMU's tb_invalidate_phys_range(): [start, end) in RAM-block offsets (ram_addr_t). */
extern void tb_invalidate_phys_range_aarch64(void *uc, uint64_t start, uint64_t end);
extern void cpu_loop_exit_aarch64(void *cs) __attribute__((noreturn));

/*
 * The fast TLB (QEMU 5.0's CPUTLBDescFast f[NB_MMU_MODES], 12 MMU indexes for
 * AArch64) ends just below the CPU's env, after a 16-byte icount word: pairs of
 * {mask = (entries - 1) << 5, table} of 32-byte entries {addr_read, addr_write,
 * addr_code, addend}. Flag bits in the addresses (TARGET_PAGE_BITS_MIN 10).
 */
#define UCI_TLB_MODES	  12
#define UCI_TLB_BELOW_ENV (16 + 16 * UCI_TLB_MODES)
#define UCI_TLB_INVALID	  (1ull << 9)
#define UCI_TLB_NOTDIRTY  (1ull << 8)
#define UCI_TLB_FLAGS	  0x3f0ull
#define UCI_TLB_PAGE_BITS 10 /* the engine's TARGET_PAGE_BITS: 1 KiB TLB pages */
#define UCI_TLB_MAX_BITS  22
/* uci_tlb_clear_notdirty() visits every table, used or not, once per this many calls. */
#define UCI_TLB_FULL_SWEEP 8

/* How far to look: the engine's first words, and an ARMCPU's extent. */
#define UCI_ENGINE_WORDS 1024
#define UCI_CPU_SPAN	 0x40000
#define UCI_XREGS_OFF	 64 /* uint32_t regs[16] precede xregs[] */

/*
 * Engines attached so far. A closed engine's buffer is gone, and a new one may
 * reuse its CPU's address: tb_gen_code_aarch64() reads no record from before the last attach.
 */
static _Atomic uint64_t uci_engines;

static const uint64_t uci_marker[2] = { 0x6976792d75632d30ull, 0x9e3779b97f4a7c15ull };

static bool uci_peek(const void *addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)addr, .iov_len = len };

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len;
}

int uci_check_version(char *buf, unsigned len)
{
	unsigned major = 0, minor = 0;
	unsigned v = uc_version(&major, &minor);
	unsigned patch = (v >> 8) & 0xff;

	snprintf(buf, len, "Unicorn %u.%u.%u", major, minor, patch);
	if (major != UCI_VERSION_MAJOR || minor != UCI_VERSION_MINOR)
		return -ENOTSUP;
	return 0;
}

static bool uci_is_cpu(uintptr_t cand, uintptr_t *env_out)
{
	uint64_t words[512];

	/* env_ptr lives in the CPUState header; scan its first 4 KiB. */
	if (!uci_peek((void *)cand, words, sizeof(words)))
		return false;
	for (unsigned i = 0; i < 512; i++) {
		uintptr_t env = words[i];
		uint64_t x[2];

		if (env <= cand || env >= cand + UCI_CPU_SPAN)
			continue;
		if (!uci_peek((void *)(env + UCI_XREGS_OFF), x, sizeof(x)))
			continue;
		if (x[0] == uci_marker[0] && x[1] == uci_marker[1]) {
			*env_out = env;
			return true;
		}
	}
	return false;
}

/*
 * One MMU index's table of a {mask, table} pair, with its number of entries, or
 * NULL if the pair does not look like one (the engine resizes its tables).
 */
static uint64_t *uci_tlb_table(const uint64_t *pair, uint64_t *entries)
{
	*entries = (pair[0] >> 5) + 1;
	if ((pair[0] & 0x1f) || *entries < 16 || *entries > (1ull << UCI_TLB_MAX_BITS) ||
	    (*entries & (*entries - 1)) || pair[1] < 0x10000 || (pair[1] & 7))
		return NULL;
	return (uint64_t *)(uintptr_t)pair[1];
}

/* The fast TLB pairs below env, if every one of them looks like one. */
static uint64_t *uci_find_tlb(uintptr_t env)
{
	uint64_t f[2 * UCI_TLB_MODES], entries;
	uintptr_t at = env - UCI_TLB_BELOW_ENV;

	if (!uci_peek((void *)at, f, sizeof(f)))
		return NULL;
	for (unsigned m = 0; m < UCI_TLB_MODES; m++) {
		if (!uci_tlb_table(&f[2 * m], &entries))
			return NULL;
	}
	return (uint64_t *)at;
}

int uci_attach(struct uci_cpu *cpu, uc_engine *uc)
{
	uint64_t words[UCI_ENGINE_WORDS];

	memset(cpu, 0, sizeof(*cpu));
	atomic_fetch_add_explicit(&uci_engines, 1, memory_order_relaxed);
	if (uc_reg_write(uc, UC_ARM64_REG_X0, &uci_marker[0]) != UC_ERR_OK ||
	    uc_reg_write(uc, UC_ARM64_REG_X1, &uci_marker[1]) != UC_ERR_OK)
		return -ENOENT;
	if (!uci_peek(uc, words, sizeof(words)))
		return -ENOENT;
	for (unsigned i = 0; i < UCI_ENGINE_WORDS; i++) {
		uintptr_t env;

		if (words[i] < 0x10000 || (words[i] & 7))
			continue;
		if (uci_is_cpu(words[i], &env)) {
			cpu->uc = uc;
			cpu->cs = (void *)(uintptr_t)words[i];
			cpu->env = (void *)env;
			cpu->tlb = uci_find_tlb(env);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * Raising a line only sets interrupt_request: a running engine checks it when it
 * leaves its chain of translated blocks. cpu_exit() makes it leave at the next
 * block boundary, where it takes the interrupt and carries on executing.
 */
void uci_set_lines(struct uci_cpu *cpu, bool irq, bool fiq)
{
	bool raise = (irq && !cpu->irq) || (fiq && !cpu->fiq);

	if (irq != cpu->irq) {
		if (irq)
			cpu_interrupt_handler(cpu->cs, UCI_INTERRUPT_HARD);
		else
			cpu_reset_interrupt(cpu->cs, UCI_INTERRUPT_HARD);
		cpu->irq = irq;
	}
	if (fiq != cpu->fiq) {
		if (fiq)
			cpu_interrupt_handler(cpu->cs, UCI_INTERRUPT_FIQ);
		else
			cpu_reset_interrupt(cpu->cs, UCI_INTERRUPT_FIQ);
		cpu->fiq = fiq;
	}
	if (raise)
		cpu_exit(cpu->cs);
}

void uci_take_exception(struct uci_cpu *cpu)
{
	arm_cpu_do_interrupt_aarch64(cpu->cs);
}

void uci_rebuild_flags(struct uci_cpu *cpu)
{
	arm_rebuild_hflags_aarch64(cpu->env);
}

/*
 * uc_ctl_remove_cache() takes a virtual address and translates it through the
 * guest's current regime, which faults (into the guest) when it is unmapped;
 * the engine's own invalidation by RAM-block offset needs no translation.
 */
#define UCI_CODE_PAGE_BITS 12
/* TranslationBlock.page_addr[2] (QEMU 5.0's layout; tb.tc.ptr at 0x20 confirms it). */
#define UCI_TB_PAGE_ADDR 0x48

static void uci_drop_page(struct uci_cpu *cpu, uint64_t page)
{
	tb_invalidate_phys_range_aarch64(cpu->uc, page << UCI_CODE_PAGE_BITS,
					 (page + 1) << UCI_CODE_PAGE_BITS);
}

void uci_drop_code_pages(struct uci_cpu *cpu, uint64_t first_page, uint64_t mask)
{
	uint64_t w = first_page / 64;

	if (!cpu->code_pages) {
		for (; mask; mask &= mask - 1)
			uci_drop_page(cpu, first_page + (uint64_t)__builtin_ctzll(mask));
		return;
	}
	if (first_page % 64 || w >= cpu->code_words)
		return; /* whole words of the bitmap only; nothing is translated beyond it */
	mask &= cpu->code_pages[w];
	cpu->code_pages[w] &= ~mask;
	for (; mask; mask &= mask - 1)
		uci_drop_page(cpu, first_page + (uint64_t)__builtin_ctzll(mask));
}

void uci_drop_code(struct uci_cpu *cpu, uint64_t ram_offset, uint64_t len)
{
	uint64_t first, last;

	if (!cpu->code_pages || !len) {
		tb_invalidate_phys_range_aarch64(cpu->uc, ram_offset, ram_offset + len);
		return;
	}
	first = ram_offset >> UCI_CODE_PAGE_BITS;
	last = (ram_offset + len - 1) >> UCI_CODE_PAGE_BITS;
	if (last >= cpu->code_words * 64)
		last = cpu->code_words * 64 - 1;
	for (uint64_t w = first / 64; first <= last && w <= last / 64; w++) {
		uint64_t mask = ~0ull;

		if (w == first / 64)
			mask &= ~0ull << (first % 64);
		if (w == last / 64 && last % 64 != 63)
			mask &= (1ull << (last % 64 + 1)) - 1;
		if (cpu->code_pages[w] & mask)
			uci_drop_code_pages(cpu, w * 64, mask);
	}
}

int uci_track_code(struct uci_cpu *cpu, uint64_t ram_size)
{
	uint64_t words = ((ram_size >> UCI_CODE_PAGE_BITS) + 63) / 64;
	uint64_t *bits = calloc(words ? words : 1, sizeof(*bits));

	if (!bits)
		return -ENOMEM;
	free(cpu->code_pages);
	cpu->code_pages = bits;
	cpu->code_words = words;
	return 0;
}

void uci_detach(struct uci_cpu *cpu)
{
	free(cpu->code_pages);
	cpu->code_pages = NULL;
	cpu->code_words = 0;
}

/* A block was translated from RAM offsets page_addr[0..1] (ram_addr_t; -1: none). */
static void uci_note_code(struct uci_cpu *cpu, const uint8_t *tb)
{
	for (int i = 0; i < 2; i++) {
		uint64_t at;

		memcpy(&at, tb + UCI_TB_PAGE_ADDR + 8 * i, sizeof(at));
		at >>= UCI_CODE_PAGE_BITS;
		if (at < cpu->code_words * 64)
			cpu->code_pages[at / 64] |= 1ull << (at % 64);
	}
}

int uci_tlb_clear_notdirty(struct uci_cpu *cpu)
{
	int cleared = 0;
	bool full;

	if (!cpu->tlb)
		return -1;
	full = cpu->tlb_sweeps++ % UCI_TLB_FULL_SWEEP == 0;
	for (unsigned m = 0; m < UCI_TLB_MODES; m++) {
		uint64_t entries, *e;
		bool live = false;

		if (!full && !(cpu->tlb_live & (1u << m)))
			continue;
		e = uci_tlb_table(&cpu->tlb[2 * m], &entries);
		for (uint64_t i = 0; e && i < entries; i++, e += 4) {
			/* A flushed entry is all ones in its read, write and code words. */
			live |= (e[0] & e[1] & e[2]) != ~0ull;
			/* Only where not-dirty is the sole flag: MMIO and invalid entries stay. */
			if ((e[1] & UCI_TLB_FLAGS) == UCI_TLB_NOTDIRTY) {
				e[1] &= ~UCI_TLB_NOTDIRTY;
				cleared++;
			}
		}
		cpu->tlb_live = live ? cpu->tlb_live | (1u << m) : cpu->tlb_live & ~(1u << m);
	}
	return cleared;
}

bool uci_tlb_host_addr(struct uci_cpu *cpu, uint64_t va, void **host)
{
	uint64_t page = va & ~((1ull << UCI_TLB_PAGE_BITS) - 1);

	if (!cpu->tlb)
		return false;
	for (unsigned m = 0; m < UCI_TLB_MODES; m++) {
		uint64_t entries, *e = uci_tlb_table(&cpu->tlb[2 * m], &entries);

		if (!e)
			continue;
		e += 4 * ((va >> UCI_TLB_PAGE_BITS) & (entries - 1));
		for (unsigned a = 0; a < 3; a++) {
			if ((e[a] & (~((1ull << UCI_TLB_PAGE_BITS) - 1) | UCI_TLB_INVALID)) ==
			    page) {
				*host = (void *)(uintptr_t)(va + e[3]);
				return true;
			}
		}
	}
	return false;
}

void uci_flush_tlb(struct uci_cpu *cpu)
{
	tlb_flush_aarch64(cpu->cs);
}

/*
 * A full code buffer. The engine translates into one buffer (1 GiB); when it
 * is full, tb_gen_code() flushes it (zeroing it, the TB structs with it) and
 * translates again at its start, and returns to cpu_exec(), which then chains
 * the block that ran before the flush to the new one: it patches a jump into
 * a zeroed TB, a write to address 0. And an engine that carries on after a
 * flush no longer finds the instruction behind a fault in the code it
 * translates next (cpu_restore_state() fails), so guest exceptions are taken
 * at a wrong PC: a Linux guest then oopses on its first fault in a uaccess
 * routine. So the engine must not run again after a flush: tb_gen_code() is
 * called from cpu_exec() through the library's PLT, and this definition,
 * exported by the executable, takes its place. It recognises a flush by the
 * TB it returned last on this thread having been zeroed (its tc.ptr, at
 * offset 0x20, which the engine's tb_set_jmp_target() reads, is NULL), marks
 * the engine flushed, asks it to stop and leaves the execution loop at once
 * (cpu_loop_exit(), as QEMU does after a flush), so that not one more guest
 * instruction runs on it. The VMM then moves the vCPU to a fresh engine
 * (uci_run() returns with uci_cpu.retire set).
 *
 * A flush is also a stall: zeroing the buffer takes ~100 ms, long enough for
 * a guest to notice ("hrtimer: interrupt took ..."). So an engine is retired
 * before that, when the TBs it returns have come within UCI_CODE_SLACK of the
 * end of its buffer (it translates from the buffer's start upwards); it stops
 * at its next block and nothing is flushed. The flush path stays for a buffer
 * of another size. IVY_CODE_BUFFER_MIB sets the size assumed (0: never retire
 * early), for tests of both paths.
 */
#define UCI_TB_TC_PTR	    0x20
#define UCI_CODE_BUFFER_MIB 1024 /* the engine's code buffer (tcg_exec_init's default) */
#define UCI_CODE_SLACK	    (32ull << 20)

typedef void *(*uci_tb_gen_code_fn)(void *cs, uint64_t pc, uint64_t cs_base, uint32_t flags,
				    int cflags);

struct uci_gen_state {
	const void *cs;	     /* the engine this thread translated for last */
	const uint8_t *last; /* the TB it returned last */
	uint64_t engines;    /* uci_engines when it was recorded */
};

static _Thread_local struct uci_gen_state uci_gen;
/* The engine this thread is running through uci_run(), if any. */
static _Thread_local struct uci_cpu *uci_running;
static _Atomic uint64_t uci_code_flushes;
/* Translated code an engine may hold before it is retired; 0: no limit. Set once. */
static uint64_t uci_code_limit = UINT64_MAX;

static uint64_t uci_code_limit_get(void)
{
	if (uci_code_limit == UINT64_MAX) {
		const char *e = getenv("IVY_CODE_BUFFER_MIB");
		uint64_t mib = e && *e ? strtoull(e, NULL, 0) : UCI_CODE_BUFFER_MIB;

		uci_code_limit = mib << 20 > UCI_CODE_SLACK ? (mib << 20) - UCI_CODE_SLACK : 0;
	}
	return uci_code_limit;
}

void *tb_gen_code_aarch64(void *cs, uint64_t pc, uint64_t cs_base, uint32_t flags, int cflags);

void *tb_gen_code_aarch64(void *cs, uint64_t pc, uint64_t cs_base, uint32_t flags, int cflags)
{
	static _Atomic(uci_tb_gen_code_fn) real;
	uci_tb_gen_code_fn fn = atomic_load_explicit(&real, memory_order_acquire);

	if (!fn) {
		fn = (uci_tb_gen_code_fn)dlsym(RTLD_NEXT, "tb_gen_code_aarch64");
		atomic_store_explicit(&real, fn, memory_order_release);
	}
	uint8_t *tb = fn(cs, pc, cs_base, flags, cflags);
	uint64_t engines = atomic_load_explicit(&uci_engines, memory_order_relaxed);
	const uint8_t *last = uci_gen.cs == cs && uci_gen.engines == engines ? uci_gen.last : NULL;
	void *last_code = NULL;

	if (last)
		memcpy(&last_code, last + UCI_TB_TC_PTR, sizeof(last_code));
	uci_gen.cs = cs;
	uci_gen.last = tb;
	uci_gen.engines = engines;
	struct uci_cpu *run = uci_running && uci_running->cs == cs ? uci_running : NULL;

	if (last && last != tb && !last_code) {
		atomic_fetch_add_explicit(&uci_code_flushes, 1, memory_order_relaxed);
		if (run) {
			run->retire = true;
			uc_emu_stop(run->uc);
		}
		cpu_loop_exit_aarch64(cs);
	}
	if (run && tb) {
		uintptr_t at = (uintptr_t)tb;
		uint64_t limit = uci_code_limit_get();

		if (run->code_pages)
			uci_note_code(run, tb);
		if (!run->code_lo || at < run->code_lo)
			run->code_lo = at;
		if (limit && at - run->code_lo >= limit && !run->retire) {
			run->retire = true;
			uc_emu_stop(run->uc); /* at the next block; this one is sound */
		}
	}
	return tb;
}

uc_err uci_run(struct uci_cpu *cpu, uint64_t pc)
{
	struct uci_cpu *outer = uci_running;
	uc_err err;

	uci_running = cpu;
	err = uc_emu_start(cpu->uc, pc, UINT64_MAX, 0, 0);
	uci_running = outer;
	return err;
}

int uci_move_state(struct uci_cpu *from, struct uci_cpu *to)
{
	uc_context *ctx;
	int err = 0;

	if (uc_context_alloc(from->uc, &ctx) != UC_ERR_OK)
		return -ENOMEM;
	if (uc_context_save(from->uc, ctx) != UC_ERR_OK ||
	    uc_context_restore(to->uc, ctx) != UC_ERR_OK)
		err = -EIO;
	uc_context_free(ctx);
	if (!err)
		uci_rebuild_flags(to);
	return err;
}

bool uci_code_gen_hooked(void)
{
	/* The definition above is the one the library calls if its address is the global one. */
	return dlsym(RTLD_DEFAULT, "tb_gen_code_aarch64") == (void *)tb_gen_code_aarch64;
}

uint64_t uci_code_flush_count(void)
{
	return atomic_load_explicit(&uci_code_flushes, memory_order_relaxed);
}
