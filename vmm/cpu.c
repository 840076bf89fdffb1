/* SPDX-License-Identifier: MIT */
/*
 * vCPUs on Unicorn: one engine and one thread per vCPU over shared guest RAM.
 *
 * The execution token. Unicorn 2.0.1 does not make guest atomics atomic across
 * engines running at once, and stopping an engine from another thread can
 * re-execute instructions. So exactly one vCPU is inside uc_emu_start at a time:
 * it holds the token (a ticket lock, so waiting vCPUs take turns in order) and
 * gives it up at the end of a time slice, on WFI, while powered off, and while
 * the library makes it wait for an I/O request (cpu_block).
 *
 * Kicks. Other threads never touch a running engine: they set cpu->kick and
 * signal the vCPU's condition variable. The block hook, which runs at the start
 * of every translation block on the vCPU's own thread, polls that flag, lets the
 * GIC fold and refill its state and sets the engine's IRQ/FIQ lines; the engine
 * takes the interrupt at the next block boundary if PSTATE allows it.
 */
#include "vmm.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a vCPU keeps the token when others wait for it. */
#define CPU_SLICE_NS 2000000ull
/* Spin detection (cpu_track_spin): a cycle of at most this many blocks, this many times. */
#define CPU_SPIN_PERIOD 4
#define CPU_SPIN_YIELD	1024
/*
 * How often the engine's TLB is swept for not-dirty RAM entries
 * (cpu_instruction_cache). Every 250 us rather than every 1 ms: a Linux boot
 * ~7% faster, a bare-metal store loop at its steady cost at once, GIC register
 * reads unchanged (the sweep visits only the tables in use).
 */
#define CPU_TLB_SWEEP_NS 250000ull
/* How much longer a vCPU inside an interrupt handler may keep the token. */
#define CPU_IRQ_GRACE_NS 2000000ull
/* The block hook reads the clock once per this many blocks. */
#define CPU_CLOCK_EVERY 64
/*
 * How long a vCPU waiting for the token, or idle in WFI, polls before it
 * sleeps (vmm->poll only). A futex wake-up costs ~12 us on a virtualised host,
 * several times a guest's IPI round trip; KVM's halt polling makes the same trade.
 */
#define CPU_POLL_NS 50000ull

#define INSN_WFI 0xd503207fu

/* SCR_EL3: NS, HCE, RW. HCR_EL2: RW. */
#define SCR_EL3_NS  (1ull << 0)
#define SCR_EL3_HCE (1ull << 8)
#define SCR_EL3_RW  (1ull << 10)
#define HCR_EL2_RW  (1ull << 31)
/* SCTLR_EL1 with the MMU and caches off and the RES1 bits set. */
#define SCTLR_EL1_RESET 0x30d00800ull
/* EL1h with D, A, I, F masked. */
#define PSTATE_EL1H_MASKED 0x3c5ull

struct cp_enc {
	uint8_t op0, op1, crn, crm, op2;
};

static const struct cp_enc CP_SCR_EL3 = { 3, 6, 1, 1, 0 };
static const struct cp_enc CP_HCR_EL2 = { 3, 4, 1, 1, 0 };
static const struct cp_enc CP_VMPIDR_EL2 = { 3, 4, 0, 0, 5 };
static const struct cp_enc CP_SCTLR_EL1 = { 3, 0, 1, 0, 0 };

static int cpu_write_cp(struct vmm_cpu *cpu, struct cp_enc e, uint64_t val)
{
	uc_arm64_cp_reg r = {
		.op0 = e.op0, .op1 = e.op1, .crn = e.crn, .crm = e.crm, .op2 = e.op2, .val = val
	};

	return uc_reg_write(cpu->uc, UC_ARM64_REG_CP_REG, &r) == UC_ERR_OK ? 0 : -EIO;
}

/* A statistics counter only this vCPU's thread writes: a plain add, no locked instruction. */
static inline void cpu_count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/*
 * Consumes a kick. The plain load first: an exchange is a locked instruction,
 * and the block hook and every GIC access ask this far more often than kicks come.
 */
static inline bool cpu_take_kick(struct vmm_cpu *cpu)
{
	return atomic_load_explicit(&cpu->kick, memory_order_relaxed) &&
	       atomic_exchange_explicit(&cpu->kick, false, memory_order_acq_rel);
}

/* ------------------------------------------------------------------------------------ */
/* The execution token.                                                                 */

/*
 * Polls until `done(arg)` or `limit_ns` (monotonic), and returns done's answer.
 * Only where every vCPU thread can have a host CPU (vmm->poll): the poller
 * then takes no time from the vCPU it waits for.
 */
static bool cpu_poll(struct vmm *vmm, uint64_t limit_ns, bool (*done)(const void *arg),
		     const void *arg)
{
	if (!vmm->poll)
		return false;
	for (;;) {
		if (done(arg))
			return true;
		if (vmm_now_ns() >= limit_ns)
			return done(arg);
		/* Lets a device thread that shares the CPU run; costs about a microsecond. */
		sched_yield();
	}
}

struct token_turn {
	const struct vmm_token *token;
	uint64_t ticket;
};

static bool token_is_turn(const void *arg)
{
	const struct token_turn *turn = arg;

	return atomic_load_explicit(&turn->token->serving, memory_order_acquire) == turn->ticket;
}

static void token_acquire(struct vmm_cpu *cpu)
{
	struct vmm_token *t = &cpu->vmm->token;
	uint64_t t0 = vmm_now_ns();

	pthread_mutex_lock(&t->lock);
	uint64_t ticket = t->next++;
	atomic_fetch_add(&t->waiters, 1);
	if (t->serving != ticket && cpu->vmm->poll) {
		struct token_turn turn = { t, ticket };

		pthread_mutex_unlock(&t->lock);
		(void)cpu_poll(cpu->vmm, t0 + CPU_POLL_NS, token_is_turn, &turn);
		pthread_mutex_lock(&t->lock);
	}
	while (t->serving != ticket)
		pthread_cond_wait(&t->cond, &t->lock);
	atomic_fetch_sub(&t->waiters, 1);
	pthread_mutex_unlock(&t->lock);
	cpu->holds_token = true;
	atomic_fetch_add_explicit(&cpu->wait_ns, vmm_now_ns() - t0, memory_order_relaxed);
}

static void token_release(struct vmm_cpu *cpu)
{
	struct vmm_token *t = &cpu->vmm->token;

	cpu->holds_token = false;
	pthread_mutex_lock(&t->lock);
	/* Release: the engine state this vCPU leaves behind is the next holder's. */
	atomic_store_explicit(&t->serving, t->serving + 1, memory_order_release);
	pthread_mutex_unlock(&t->lock);
	/*
	 * Woken after the unlock: a waiter woken under the lock would block on it
	 * at once (a second futex sleep and wake per hand-over). Waiters test
	 * serving under the lock, so none can miss this.
	 */
	pthread_cond_broadcast(&t->cond);
}

void cpu_block(struct vmm_cpu *cpu, bool blocked)
{
	/* Only a vCPU inside the engine holds the token; other threads have nothing to hand over. */
	if (blocked && cpu->holds_token) {
		token_release(cpu);
	} else if (!blocked && !cpu->holds_token) {
		token_acquire(cpu);
		/*
		 * The vCPU resumes in the middle of its block: a broadcast TLBI that
		 * another vCPU completed (TLBI IS, DSB ISH) while this one waited must
		 * hold before its next access, not at its next kick.
		 */
		if (atomic_exchange_explicit(&cpu->need_tlb_flush, false, memory_order_acq_rel))
			uci_flush_tlb(&cpu->uci);
	}
}

/* ------------------------------------------------------------------------------------ */
/* Kicks and interrupt lines.                                                           */

void cpu_kick(struct vmm_cpu *cpu)
{
	atomic_store_explicit(&cpu->kick, true, memory_order_release);
	/*
	 * Taking the lock orders the kick against a sleeper's test of it; the
	 * broadcast follows the unlock, so the woken thread does not block on the
	 * lock it still holds.
	 */
	pthread_mutex_lock(&cpu->wait_lock);
	pthread_mutex_unlock(&cpu->wait_lock);
	pthread_cond_broadcast(&cpu->wait_cond);
}

void cpu_update_lines(struct vmm_cpu *cpu, bool refill)
{
	bool irq = false, fiq = false;
	int err;

	if (refill)
		timer_update(cpu);
	err = gic_refresh(cpu, refill, &irq, &fiq);
	if (err < 0)
		vmm_request_exit(cpu->vmm, VMM_EXIT_VMM_ERROR, "vCPU %u: GIC flush failed: %s",
				 cpu->index, ivy_strerror(err));
	uci_set_lines(&cpu->uci, irq, fiq);
}

static void cpu_apply_ram_writes(struct vmm_cpu *cpu);

/* Cache maintenance seen on one engine applies to all: each acts at its next safe point. */
static void cpu_apply_maintenance(struct vmm_cpu *cpu)
{
	cpu_apply_ram_writes(cpu);
	/*
	 * Dropping the translations of guest RAM page by page is far cheaper than
	 * the engine's full flush, which resets its whole code buffer (seconds).
	 */
	if (atomic_exchange_explicit(&cpu->need_tb_flush, false, memory_order_acq_rel))
		uci_drop_code(&cpu->uci, 0, cpu->vmm->ram_size);
	if (atomic_exchange_explicit(&cpu->need_tlb_flush, false, memory_order_acq_rel))
		uci_flush_tlb(&cpu->uci);
}

static void cpu_broadcast_maintenance(struct vmm_cpu *cpu, bool tb, bool tlb)
{
	struct vmm *vmm = cpu->vmm;

	for (unsigned i = 0; i < vmm->nr_cpus; i++) {
		struct vmm_cpu *o = &vmm->cpus[i];

		if (o == cpu)
			continue;
		if (tb)
			atomic_store_explicit(&o->need_tb_flush, true, memory_order_release);
		if (tlb)
			atomic_store_explicit(&o->need_tlb_flush, true, memory_order_release);
		/*
		 * Not running (only the token holder runs): it acts before it enters
		 * the engine again, or at its next block if it resumes inside it.
		 */
		atomic_store_explicit(&o->kick, true, memory_order_release);
	}
}

/* ------------------------------------------------------------------------------------ */
/* Engine hooks (all run on the vCPU's own thread, inside uc_emu_start).                */

/*
 * Guest virtual address to RAM offset through the EL1&0 stage-1 tables (4 KiB
 * granule; another granule, an address outside RAM or a fault gives false and
 * the caller drops everything instead). Descriptors are read from guest RAM,
 * bounds-checked: the tables are the guest's and may be anything.
 */
static bool cpu_va_to_ram(struct vmm_cpu *cpu, uint64_t va, uint64_t *ram_off)
{
	uc_arm64_cp_reg tcr = { .op0 = 3, .op1 = 0, .crn = 2, .crm = 0, .op2 = 2 };
	uc_arm64_cp_reg sctlr = { .op0 = 3, .op1 = 0, .crn = 1, .crm = 0, .op2 = 0 };

	/* MMU off: virtual is physical. */
	if (uc_reg_read(cpu->uc, UC_ARM64_REG_CP_REG, &sctlr) != UC_ERR_OK)
		return false;
	if (!(sctlr.val & 1)) {
		if (va < BOARD_RAM_BASE || va - BOARD_RAM_BASE >= cpu->vmm->ram_size)
			return false;
		*ram_off = va - BOARD_RAM_BASE;
		return true;
	}
	bool hi = (va >> 55) & 1;
	uint64_t ttbr = 0, tsz, tg;

	if (uc_reg_read(cpu->uc, UC_ARM64_REG_CP_REG, &tcr) != UC_ERR_OK)
		return false;
	uc_reg_read(cpu->uc, hi ? UC_ARM64_REG_TTBR1_EL1 : UC_ARM64_REG_TTBR0_EL1, &ttbr);
	tsz = hi ? (tcr.val >> 16) & 63 : tcr.val & 63;
	tg = hi ? (tcr.val >> 30) & 3 : (tcr.val >> 14) & 3;
	if ((hi && tg != 2) || (!hi && tg != 0) || tsz < 16 || tsz > 39)
		return false;
	unsigned bits = 64 - (unsigned)tsz;	       /* VA bits translated */
	int level = 4 - (int)((bits - 12 + 8) / 9);    /* 4 KiB: 9 bits a level from bit 12 */
	uint64_t table = ttbr & 0x0000fffffffffffeull; /* BADDR; CnP aside */

	for (bool first = true; level <= 3; level++, first = false) {
		unsigned shift = 12 + 9 * (3 - (unsigned)level);
		/* The first level may resolve fewer than 9 bits (its table is smaller). */
		unsigned width = first && bits - shift < 9 ? bits - shift : 9;
		uint64_t idx = (va >> shift) & ((1ull << width) - 1), desc;

		if (table < BOARD_RAM_BASE || table - BOARD_RAM_BASE >= cpu->vmm->ram_size ||
		    cpu->vmm->ram_size - (table - BOARD_RAM_BASE) < (idx + 1) * 8)
			return false;
		memcpy(&desc, cpu->vmm->ram + (table - BOARD_RAM_BASE) + idx * 8, 8);
		if (!(desc & 1))
			return false;
		uint64_t out = desc & 0x0000fffffffff000ull;
		if (level == 0 && !(desc & 2))
			return false; /* no level-0 blocks with 4 KiB pages */
		if (level == 3 || !(desc & 2)) {
			if (level == 3 && !(desc & 2))
				return false;
			uint64_t pa = (out & ~((1ull << shift) - 1)) | (va & ((1ull << shift) - 1));
			if (pa < BOARD_RAM_BASE || pa - BOARD_RAM_BASE >= cpu->vmm->ram_size)
				return false;
			*ram_off = pa - BOARD_RAM_BASE;
			return true;
		}
		table = out;
	}
	return false;
}

/* The RAM offset of the page an IC IVAU names: from the engine's TLB, else the guest's tables. */
static bool cpu_ic_page(struct vmm_cpu *cpu, uint64_t va, uint64_t *off)
{
	void *host;

	if (uci_tlb_host_addr(&cpu->uci, va, &host) && (uint8_t *)host >= cpu->vmm->ram &&
	    (uint8_t *)host < cpu->vmm->ram + cpu->vmm->ram_size)
		*off = (uint64_t)((uint8_t *)host - cpu->vmm->ram);
	else if (!cpu_va_to_ram(cpu, va, off))
		return false;
	*off &= ~0xfffull;
	return true;
}

/*
 * Instruction cache maintenance. Every engine caches its own translations, so
 * an IC reaches all of them: IC IVAU drops the page it names, on every engine
 * at its next block (as device DMA does, cpu_note_ram_write); IC IALLU(IS), or
 * an address that cannot be resolved, drops all of RAM's code. The issuing
 * engine is included: with fast RAM stores (uci_tlb_clear_notdirty) it no
 * longer notices its own stores to code, and the architecture has the guest
 * do this maintenance before it runs what it wrote.
 */
static void cpu_instruction_cache(struct vmm_cpu *cpu, bool by_va, uint64_t va)
{
	uint64_t off;

	if (by_va && cpu_ic_page(cpu, va, &off)) {
		cpu_note_ram_write(cpu->vmm, BOARD_RAM_BASE + off, 4096);
		return;
	}
	cpu_broadcast_maintenance(cpu, true, false);
	if (cpu->fast_stores) {
		atomic_store_explicit(&cpu->need_tb_flush, true, memory_order_release);
		atomic_store_explicit(&cpu->kick, true, memory_order_release);
	}
}

/*
 * Spin detection. vCPUs run one at a time, so a vCPU waiting for a lock or a
 * cross-call held by another vCPU spins until its slice ends. Such a wait goes
 * round the same few translation blocks: when the last CPU_SPIN_YIELD blocks
 * all came from a cycle of at most CPU_SPIN_PERIOD blocks, the vCPU gives the
 * token to a waiting one at once. A long tight loop that is real work may be
 * caught too; it only loses the rest of its slice.
 */
static void cpu_track_spin(struct vmm_cpu *cpu, uint64_t addr)
{
	bool seen = false;

	for (unsigned i = 0; i < CPU_SPIN_PERIOD; i++)
		seen |= cpu->recent_blocks[i] == addr;
	cpu->spin_blocks = seen ? cpu->spin_blocks + 1 : 0;
	cpu->recent_blocks[cpu->blocks % CPU_SPIN_PERIOD] = addr;
}

static void hook_block(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
	struct vmm_cpu *cpu = opaque;
	struct vmm *vmm = cpu->vmm;

	/* A WFI ends its translation block: see cpu_stopped_on_wfi(). */
	cpu->block_end = addr + size;
	if (cpu_take_kick(cpu)) {
		if (vmm_exiting(vmm)) {
			cpu->stop = CPU_STOP_EXIT;
			uc_emu_stop(uc);
			return;
		}
		cpu_apply_maintenance(cpu);
		cpu->raise_lines = false;
		cpu_update_lines(cpu, true);
	} else if (cpu->raise_lines) {
		/* A GIC access already refilled the LRs; only the lines are left to raise. */
		cpu->raise_lines = false;
		cpu_update_lines(cpu, false);
	}
	/*
	 * Spinning is only worth watching while another vCPU waits for the token
	 * (the only one it could be waiting for); idle vCPUs in WFI do not.
	 */
	if (atomic_load_explicit(&vmm->token.waiters, memory_order_relaxed))
		cpu_track_spin(cpu, addr);
	else
		cpu->spin_blocks = 0;
	if (++cpu->blocks % CPU_CLOCK_EVERY)
		return;
	uint64_t now = vmm_now_ns();
	/*
	 * Timer deadlines are checked here while the vCPU runs; a PPI that changes
	 * level comes back as a kick, served at the next block.
	 */
	timer_update(cpu);
	/* New TLB entries come not-dirty again; sweeping them keeps stores fast. */
	if (cpu->fast_stores && now - cpu->tlb_swept_ns >= CPU_TLB_SWEEP_NS) {
		cpu->tlb_swept_ns = now;
		uci_tlb_clear_notdirty(&cpu->uci);
	}
	/*
	 * A vCPU inside an interrupt handler (acknowledged, not yet EOIed) keeps
	 * the token a little longer: taken away there, its timer handler finds
	 * the next expiries already past when it returns and Linux reports a hang
	 * ("hrtimer: interrupt took ..."). Spinning still gives it up.
	 */
	bool slice_over = now >= cpu->slice_end_ns &&
			  (!cpu->in_irq || now >= cpu->slice_end_ns + CPU_IRQ_GRACE_NS);

	if ((slice_over || cpu->spin_blocks >= CPU_SPIN_YIELD) &&
	    atomic_load_explicit(&vmm->token.waiters, memory_order_relaxed) > 0) {
		if (cpu->spin_blocks >= CPU_SPIN_YIELD)
			cpu_count(&cpu->spin_yields);
		cpu->stop = CPU_STOP_SLICE;
		uc_emu_stop(uc);
	}
}

static uint64_t hook_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *opaque);
static void hook_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value,
			    void *opaque);

/* Unicorn MMIO callbacks carry only an offset: one region per window, each with its base. */
struct mmio_window {
	struct vmm_cpu *cpu;
	uint64_t base;
};

/*
 * A GIC access (acknowledge, EOI, priority mask) can change the lines. Lowering
 * them takes effect at once; raising them is left to the block hook, because
 * making the engine leave its block chain from inside an MMIO or system-register
 * callback can re-execute the access.
 */
static void cpu_after_gic_access(struct vmm_cpu *cpu)
{
	bool irq = false, fiq = false;
	/*
	 * A kick raised by the access itself (an EOI that needs a maintenance: a level
	 * interrupt to resample, an LR to refill) is served now, before the guest can
	 * acknowledge again, as a maintenance interrupt would be on hardware. Other new
	 * interrupts also arrive through the kick; otherwise only the lines can change.
	 */
	bool refill = cpu_take_kick(cpu);

	if (gic_refresh(cpu, refill, &irq, &fiq) < 0)
		return;
	/*
	 * Raising waits for the block hook; so do stopping for the end of the VM and
	 * dropping code a device just overwrote (the access may have been its notify).
	 */
	if (vmm_exiting(cpu->vmm) ||
	    atomic_load_explicit(&cpu->ram_dirty_any, memory_order_relaxed))
		atomic_store_explicit(&cpu->kick, true, memory_order_relaxed);
	else if ((irq && !cpu->uci.irq) || (fiq && !cpu->uci.fiq))
		cpu->raise_lines = true;
	else if (irq != cpu->uci.irq || fiq != cpu->uci.fiq)
		uci_set_lines(&cpu->uci, irq, fiq);
}

/*
 * Interrupt handler depth, for the scheduler's benefit only (hook_block): an
 * acknowledge that returns an interrupt enters a handler, an EOI leaves one.
 * off is a GICC offset (GICv2) or, with CPU_IRQ_SYSREG, 0 for ICC_IAR0/1 and
 * 4 for ICC_EOIR0/1 (GICv3).
 */
#define CPU_IRQ_SYSREG 0x1000u
static void cpu_note_irq(struct vmm_cpu *cpu, uint64_t off, bool is_write, uint64_t val)
{
	bool ack = off == 0x0c || off == 0x20 || off == CPU_IRQ_SYSREG;
	bool eoi = off == 0x10 || off == 0x24 || off == CPU_IRQ_SYSREG + 4;

	if (ack && !is_write && (val & 0x3ff) < 1020 && cpu->in_irq < 16)
		cpu->in_irq++;
	else if (eoi && is_write && cpu->in_irq)
		cpu->in_irq--;
}

static inline void cpu_mmio(struct vmm_cpu *cpu, uint64_t gpa, unsigned size, bool is_write,
			    uint64_t *val)
{
	int err;

	cpu_count(&cpu->mmio);
	err = ivy_vcpu_mmio(cpu->vcpu, gpa, size, is_write, val);
	if (err < 0 && !is_write)
		*val = ~0ull;
	/* GICC_IAR/AIAR and GICC_EOIR/AEOIR: the guest enters and leaves a handler. */
	if (gpa - BOARD_GICC_BASE < BOARD_GICC_SIZE && !err)
		cpu_note_irq(cpu, gpa - BOARD_GICC_BASE, is_write, *val);
	if (gic_access_changes_lines(cpu, gpa, is_write))
		cpu_after_gic_access(cpu);
}

static uint64_t hook_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *opaque)
{
	struct mmio_window *w = opaque;
	uint64_t val = 0;

	(void)uc;
	cpu_mmio(w->cpu, w->base + offset, size, false, &val);
	return val;
}

static void hook_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value,
			    void *opaque)
{
	struct mmio_window *w = opaque;

	(void)uc;
	cpu_mmio(w->cpu, w->base + offset, size, true, &value);
}

/*
 * An exception raised by the first instruction of the very vector entry it
 * would be taken to can never make progress: the guest would fault at the same
 * place forever (vectors in unbacked or non-executable space). Hardware would
 * spin; ivy ends the run as a guest that crashed.
 */
static bool cpu_exception_recurs(struct vmm_cpu *cpu)
{
	uint64_t pc = 0, pstate = 0, vbar = 0;

	uc_reg_read(cpu->uc, UC_ARM64_REG_PC, &pc);
	uc_reg_read(cpu->uc, UC_ARM64_REG_PSTATE, &pstate);
	if (((pstate >> 2) & 3) != 1)
		return false;
	uc_reg_read(cpu->uc, UC_ARM64_REG_VBAR_EL1, &vbar);
	/* Current EL with SP_EL0 (PSTATE.SP = 0) or SP_EL1. */
	return pc == vbar + ((pstate & 1) ? 0x200 : 0x000);
}

static void hook_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
	struct vmm_cpu *cpu = opaque;

	switch (intno) {
	case UCI_EXCP_HVC:
	case UCI_EXCP_SMC:
		cpu_count(&cpu->hvc);
		if (psci_call(cpu))
			uc_emu_stop(uc);
		break;
	default:
		/* SVC, aborts, undefined instructions, BRK: the guest's own vectors take them. */
		if (cpu_exception_recurs(cpu)) {
			uint64_t pc = 0;

			uc_reg_read(uc, UC_ARM64_REG_PC, &pc);
			vmm_request_exit(cpu->vmm, VMM_EXIT_GUEST_EXCEPTION,
					 "vCPU %u: exception %u at PC 0x%" PRIx64
					 " cannot be taken: its own vector faults",
					 cpu->index, intno, pc);
			cpu->stop = CPU_STOP_EXIT;
			uc_emu_stop(uc);
			break;
		}
		uci_take_exception(&cpu->uci);
		break;
	}
}

static uint64_t cpu_current_el(struct vmm_cpu *cpu)
{
	uint64_t pstate = 0;

	uc_reg_read(cpu->uc, UC_ARM64_REG_PSTATE, &pstate);
	return (pstate >> 2) & 3;
}

/*
 * Breakpoint and watchpoint registers (DBGBVR/DBGBCR/DBGWVR/DBGWCR<n>_EL1:
 * op0 2, op1 0, CRn 0, CRm n, op2 4..7). This engine crashes translating code
 * once a breakpoint is enabled (a NULL dereference while it inserts it, also
 * without ivy), so a guest debugger or perf could kill the VMM: the registers
 * hold what the guest writes and read it back, and the engine never sees them.
 * The breakpoints then never fire, as this engine's watchpoints never do.
 */
static bool cpu_debug_sysreg(struct vmm_cpu *cpu, const uc_arm64_cp_reg *r, bool is_read,
			     uint64_t *val)
{
	if (r->op0 != 2 || r->op1 != 0 || r->crn != 0 || r->op2 < 4 || r->op2 > 7 ||
	    cpu_current_el(cpu) < 1)
		return false;
	uint64_t *reg = &cpu->debug_regs[r->op2 - 4][r->crm & 15];

	if (is_read)
		*val = *reg;
	else
		*reg = *val;
	return true;
}

/*
 * System registers. Unicorn calls this for every MRS/MSR; returning 1 means
 * "handled, skip the instruction". Only exact encodings are claimed, and only
 * at EL1 or above: a loose match once swallowed VBAR_EL1 writes.
 */
static uint32_t hook_sysreg(uc_engine *uc, uc_arm64_reg reg, const uc_arm64_cp_reg *r, void *opaque,
			    bool is_read)
{
	struct vmm_cpu *cpu = opaque;
	uint64_t val = r->val;
	bool handled;

	handled = timer_sysreg(cpu, r, is_read, &val) || cpu_debug_sysreg(cpu, r, is_read, &val);
	/* Encoding first: reading PSTATE for every MRS/MSR would cost more. */
	if (!handled && gic_is_icc(r) && cpu_current_el(cpu) >= 1 &&
	    gic_sysreg(cpu, r, is_read, &val)) {
		/* ICC_IAR0/1_EL1 (op2 0) and ICC_EOIR0/1_EL1 (op2 1): CRn 12, CRm 8 or 12. */
		if (r->op0 == 3 && r->op1 == 0 && r->crn == 12 && (r->crm == 8 || r->crm == 12) &&
		    r->op2 <= 1)
			cpu_note_irq(cpu, CPU_IRQ_SYSREG + 4 * r->op2, !is_read, val);
		/* The engine does not know ICC_* registers: skipping needs PC moved by hand. */
		uint64_t pc = 0;

		cpu_count(&cpu->sysreg);
		if (is_read)
			uc_reg_write(uc, reg, &val);
		uc_reg_read(uc, UC_ARM64_REG_PC, &pc);
		pc += 4;
		uc_reg_write(uc, UC_ARM64_REG_PC, &pc);
		cpu_after_gic_access(cpu);
		return 1;
	}
	if (!handled)
		return 0;
	cpu_count(&cpu->sysreg);
	if (is_read)
		uc_reg_write(uc, reg, &val);
	return 1;
}

static uint32_t hook_mrs(uc_engine *uc, uc_arm64_reg reg, const uc_arm64_cp_reg *r, void *opaque)
{
	return hook_sysreg(uc, reg, r, opaque, true);
}

static uint32_t hook_msr(uc_engine *uc, uc_arm64_reg reg, const uc_arm64_cp_reg *r, void *opaque)
{
	return hook_sysreg(uc, reg, r, opaque, false);
}

/* IC and TLBI (SYS instructions): executed here and broadcast to the other engines. */
static uint32_t hook_sys(uc_engine *uc, uc_arm64_reg reg, const uc_arm64_cp_reg *r, void *opaque)
{
	struct vmm_cpu *cpu = opaque;

	(void)uc;
	(void)reg;
	if (r->op0 != 1)
		return 0;
	if (r->crn == 7 && (r->crm == 1 || r->crm == 5) && (r->op2 == 0 || r->op2 == 1))
		/* IC IVAU (op1 3) names one line (Xt); IC IALLU(IS) everything. */
		cpu_instruction_cache(cpu, r->op1 == 3 && r->op2 == 1, r->val);
	else if (r->crn == 8)
		cpu_broadcast_maintenance(cpu, false, true);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Creation.                                                                            */

/*
 * The physical map below RAM and from the end of RAM up to 64 GiB is device
 * space: every access goes to ivy_vcpu_mmio, so unclaimed addresses reach the
 * default client. Above it nothing exists physically, but with the MMU on this
 * engine checks each *virtual* address against the physical map before it
 * translates it: a kernel-half or high user address must fall in some region
 * or the access faults in the engine itself. So the rest of the 64-bit space is
 * covered by do-nothing regions, and every region is executable; accesses then
 * take the normal page walk to the right physical page.
 */
#define CPU_DEVICE_TOP (64ull << 30)

static uint64_t hook_nothing_read(uc_engine *uc, uint64_t offset, unsigned size, void *opaque)
{
	(void)uc;
	(void)offset;
	(void)size;
	(void)opaque;
	return 0;
}

static void hook_nothing_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value,
			       void *opaque)
{
	(void)uc;
	(void)offset;
	(void)size;
	(void)value;
	(void)opaque;
}

static int cpu_map_device(struct vmm_cpu *cpu, uint64_t base, uint64_t size)
{
	struct mmio_window *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->cpu = cpu;
	w->base = base;
	if (uc_mmio_map(cpu->uc, base, size, hook_mmio_read, w, hook_mmio_write, w) != UC_ERR_OK) {
		free(w);
		return -ENOMEM;
	}
	cpu->windows[cpu->nr_windows++] = w;
	return uc_mem_protect(cpu->uc, base, size, UC_PROT_ALL) == UC_ERR_OK ? 0 : -EIO;
}

/* [base, last] inclusive, so that the top of the address space can be named. */
static int cpu_map_nothing(struct vmm_cpu *cpu, uint64_t base, uint64_t last)
{
	/* The engine takes region sizes as 64-bit values: split below 2^63. */
	while (base <= last) {
		uint64_t size = last - base + 1;

		if (size == 0 || size > (1ull << 62))
			size = 1ull << 62;
		if (uc_mmio_map(cpu->uc, base, size, hook_nothing_read, NULL, hook_nothing_write,
				NULL) != UC_ERR_OK ||
		    uc_mem_protect(cpu->uc, base, size, UC_PROT_ALL) != UC_ERR_OK)
			return -ENOMEM;
		if (base + size - 1 == last)
			break;
		base += size;
	}
	return 0;
}

static int cpu_map(struct vmm_cpu *cpu)
{
	struct vmm *vmm = cpu->vmm;
	uc_engine *uc = cpu->uc;
	uc_hook h;

	if (uc_mem_map_ptr(uc, BOARD_RAM_BASE, vmm->ram_size, UC_PROT_ALL, vmm->ram) != UC_ERR_OK)
		return -ENOMEM;
	uint64_t ram_end = BOARD_RAM_BASE + vmm->ram_size;
	int err = cpu_map_device(cpu, 0, BOARD_RAM_BASE);

	if (!err && ram_end < CPU_DEVICE_TOP)
		err = cpu_map_device(cpu, ram_end, CPU_DEVICE_TOP - ram_end);
	if (!err)
		err = cpu_map_nothing(cpu, ram_end > CPU_DEVICE_TOP ? ram_end : CPU_DEVICE_TOP,
				      UINT64_MAX);
	if (err)
		return err;
	if (uc_hook_add(uc, &h, UC_HOOK_BLOCK, hook_block, cpu, 1, 0) != UC_ERR_OK ||
	    uc_hook_add(uc, &h, UC_HOOK_INTR, hook_intr, cpu, 1, 0) != UC_ERR_OK ||
	    uc_hook_add(uc, &h, UC_HOOK_INSN, hook_mrs, cpu, 1, 0, UC_ARM64_INS_MRS) != UC_ERR_OK ||
	    uc_hook_add(uc, &h, UC_HOOK_INSN, hook_msr, cpu, 1, 0, UC_ARM64_INS_MSR) != UC_ERR_OK ||
	    uc_hook_add(uc, &h, UC_HOOK_INSN, hook_sys, cpu, 1, 0, UC_ARM64_INS_SYS) != UC_ERR_OK)
		return -EIO;
	return 0;
}

/* Puts the engine in the boot state: EL1h, DAIF masked, MMU off, PC = entry, X0 = x0. */
static int cpu_reset(struct vmm_cpu *cpu, uint64_t entry, uint64_t x0)
{
	uint64_t pstate = PSTATE_EL1H_MASKED, zero = 0;

	for (int r = UC_ARM64_REG_X0; r <= UC_ARM64_REG_X28; r++)
		uc_reg_write(cpu->uc, r, &zero);
	uc_reg_write(cpu->uc, UC_ARM64_REG_X29, &zero);
	uc_reg_write(cpu->uc, UC_ARM64_REG_X30, &zero);
	if (cpu_write_cp(cpu, CP_SCR_EL3, SCR_EL3_NS | SCR_EL3_HCE | SCR_EL3_RW) ||
	    cpu_write_cp(cpu, CP_HCR_EL2, HCR_EL2_RW) ||
	    cpu_write_cp(cpu, CP_VMPIDR_EL2, cpu->mpidr) ||
	    cpu_write_cp(cpu, CP_SCTLR_EL1, SCTLR_EL1_RESET))
		return -EIO;
	if (uc_reg_write(cpu->uc, UC_ARM64_REG_PSTATE, &pstate) != UC_ERR_OK ||
	    uc_reg_write(cpu->uc, UC_ARM64_REG_X0, &x0) != UC_ERR_OK ||
	    uc_reg_write(cpu->uc, UC_ARM64_REG_PC, &entry) != UC_ERR_OK)
		return -EIO;
	uci_rebuild_flags(&cpu->uci);
	memset(cpu->timer, 0, sizeof(cpu->timer));
	memset(cpu->debug_regs, 0, sizeof(cpu->debug_regs));
	cpu->in_irq = 0;
	/*
	 * Translated code stays: it is keyed by physical address and CPU state, and a
	 * flush costs tens of milliseconds in this engine. Stale TLB entries do not.
	 */
	uci_flush_tlb(&cpu->uci);
	return 0;
}

/* A new engine for the vCPU: opened, attached, its memory map and hooks in place. */
static int cpu_open_engine(struct vmm_cpu *cpu)
{
	int err;

	if (uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &cpu->uc) != UC_ERR_OK) {
		cpu->uc = NULL;
		return -ENOMEM;
	}
	err = uci_attach(&cpu->uci, cpu->uc);
	if (err)
		return err;
	err = uci_track_code(&cpu->uci, cpu->vmm->ram_size);
	if (err)
		return err;
	/* IVY_SLOW_STORES=1 keeps the engine's own store path, for comparison. */
	cpu->fast_stores = cpu->uci.tlb && !getenv("IVY_SLOW_STORES");
	return cpu_map(cpu);
}

int cpu_create(struct vmm *vmm, unsigned index)
{
	struct vmm_cpu *cpu = &vmm->cpus[index];
	int err;

	cpu->vmm = vmm;
	cpu->index = index;
	cpu->vcpu = ivy_vm_vcpu(vmm->vm, index);
	if (!cpu->vcpu)
		return -ENOENT;
	cpu->mpidr = ivy_vcpu_mpidr(cpu->vcpu);
	ivy_vcpu_set_user(cpu->vcpu, cpu);
	pthread_mutex_init(&cpu->wait_lock, NULL);
	pthread_cond_init(&cpu->wait_cond, NULL);
	cpu->ram_dirty_words = (vmm->ram_size / 4096 + 63) / 64;
	cpu->ram_dirty = calloc(cpu->ram_dirty_words, sizeof(*cpu->ram_dirty));
	if (!cpu->ram_dirty)
		return -ENOMEM;
	err = cpu_open_engine(cpu);
	if (err)
		return err;
	cpu->power = index == 0 ? CPU_ON : CPU_OFF;
	return cpu_reset(cpu, vmm->entry, index == 0 ? vmm->dtb_gpa : 0);
}

/* Closes an engine and frees what belongs to it: its internals and its device windows. */
static void cpu_close_engine(uc_engine *uc, struct uci_cpu *uci, struct mmio_window **windows,
			     unsigned nr_windows)
{
	if (uc)
		uc_close(uc);
	uci_detach(uci);
	for (unsigned i = 0; i < nr_windows; i++)
		free(windows[i]);
}

void cpu_destroy(struct vmm_cpu *cpu)
{
	cpu_close_engine(cpu->uc, &cpu->uci, cpu->windows, cpu->nr_windows);
	cpu->uc = NULL;
	cpu->nr_windows = 0;
}

struct engine_grave {
	uc_engine *uc;
	struct uci_cpu uci;
	struct mmio_window *windows[ARRAY_LEN(((struct vmm_cpu *)0)->windows)];
	unsigned nr_windows;
};

static void *cpu_engine_closer(void *arg)
{
	struct engine_grave *g = arg;

	cpu_close_engine(g->uc, &g->uci, g->windows, g->nr_windows);
	free(g);
	return NULL;
}

/*
 * Closing an engine unmaps its code buffer, ~50 ms for a full one: a thread of
 * its own does it, so the vCPU runs on at once. The engine is the old one of
 * a replacement: nothing refers to it any more.
 */
static void cpu_close_engine_later(struct vmm_cpu *old)
{
	struct engine_grave *g = malloc(sizeof(*g));
	pthread_attr_t attr;
	pthread_t t;

	if (g) {
		g->uc = old->uc;
		g->uci = old->uci;
		memcpy(g->windows, old->windows, sizeof(g->windows));
		g->nr_windows = old->nr_windows;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		bool started = !pthread_create(&t, &attr, cpu_engine_closer, g);
		pthread_attr_destroy(&attr);
		if (started)
			return;
		free(g);
	}
	cpu_destroy(old);
}

/*
 * The engine's code buffer is (nearly) full (uci_run()) and it cannot run on: the
 * vCPU moves to a fresh engine with the same memory map and hooks, and every
 * register the guest can see. Its translated code and TLB start empty; the
 * interrupt lines are raised again at the next entry. On failure the vCPU
 * keeps the old engine, which must not run (the caller ends the VM).
 */
static int cpu_replace_engine(struct vmm_cpu *cpu)
{
	struct vmm_cpu old = *cpu;
	uint64_t t0 = vmm_now_ns();
	int err;

	cpu->nr_windows = 0;
	err = cpu_open_engine(cpu);
	if (!err)
		err = uci_move_state(&old.uci, &cpu->uci);
	if (err) {
		struct vmm_cpu fresh = *cpu;

		cpu_destroy(&fresh);
		cpu->uc = old.uc;
		cpu->uci = old.uci;
		memcpy(cpu->windows, old.windows, sizeof(cpu->windows));
		cpu->nr_windows = old.nr_windows;
		return err;
	}
	cpu_close_engine_later(&old);
	cpu_count(&cpu->engine_swaps);
	atomic_fetch_add_explicit(&cpu->engine_swap_ns, vmm_now_ns() - t0, memory_order_relaxed);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* The vCPU thread.                                                                     */

static void cpu_timed_wait(struct vmm_cpu *cpu, uint64_t deadline_ns)
{
	if (deadline_ns == UINT64_MAX) {
		pthread_cond_wait(&cpu->wait_cond, &cpu->wait_lock);
		return;
	}
	/* The clocks differ: convert the monotonic deadline into a CLOCK_REALTIME one. */
	uint64_t now = vmm_now_ns();
	uint64_t delta = deadline_ns > now ? deadline_ns - now : 0;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t abs = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + delta;
	ts.tv_sec = (time_t)(abs / 1000000000ull);
	ts.tv_nsec = (long)(abs % 1000000000ull);
	pthread_cond_timedwait(&cpu->wait_cond, &cpu->wait_lock, &ts);
}

struct wfi_poll {
	struct vmm_cpu *cpu;
	uint64_t deadline_ns;
};

/* Something for an idle vCPU to look at: a kick, a timer deadline, the end of the VM. */
static bool cpu_wfi_wakes(const void *arg)
{
	const struct wfi_poll *w = arg;

	return atomic_load_explicit(&w->cpu->kick, memory_order_acquire) ||
	       vmm_exiting(w->cpu->vmm) || vmm_now_ns() >= w->deadline_ns;
}

/* WFI: sleeps until an interrupt is signalled to this vCPU (masked or not), a timer
 * deadline passes, or the VM ends. */
static void cpu_wait_for_interrupt(struct vmm_cpu *cpu)
{
	uint64_t t0 = vmm_now_ns();
	bool polled = false;

	cpu_count(&cpu->wfis);
	/* An idle guest may be waiting for an answer to what it printed last. */
	pl011_flush(cpu->vmm);
	for (;;) {
		atomic_store_explicit(&cpu->kick, false, memory_order_release);
		cpu_update_lines(cpu, true);
		if (cpu->uci.irq || cpu->uci.fiq || vmm_exiting(cpu->vmm))
			break;
		uint64_t deadline = timer_update(cpu);
		/* Poll once per WFI: an interrupt that comes soon then costs no wake-up. */
		if (!polled) {
			struct wfi_poll w = { cpu, deadline };

			polled = true;
			if (cpu_poll(cpu->vmm, t0 + CPU_POLL_NS, cpu_wfi_wakes, &w))
				continue;
		}
		pthread_mutex_lock(&cpu->wait_lock);
		if (!atomic_load_explicit(&cpu->kick, memory_order_acquire) &&
		    !vmm_exiting(cpu->vmm))
			cpu_timed_wait(cpu, deadline);
		pthread_mutex_unlock(&cpu->wait_lock);
	}
	atomic_fetch_add_explicit(&cpu->wfi_ns, vmm_now_ns() - t0, memory_order_relaxed);
}

/* Powered off: waits for CPU_ON (returns true) or the end of the VM (false). */
static bool cpu_wait_power_on(struct vmm_cpu *cpu)
{
	struct vmm *vmm = cpu->vmm;
	uint64_t entry, ctx;

	for (;;) {
		pthread_mutex_lock(&vmm->psci_lock);
		enum cpu_power p = cpu->power;
		entry = cpu->on_entry;
		ctx = cpu->on_ctx;
		pthread_mutex_unlock(&vmm->psci_lock);
		if (vmm_exiting(vmm))
			return false;
		if (p == CPU_ON)
			return true;
		if (p == CPU_ON_PENDING)
			break;
		pthread_mutex_lock(&cpu->wait_lock);
		pthread_mutex_lock(&vmm->psci_lock);
		p = cpu->power;
		pthread_mutex_unlock(&vmm->psci_lock);
		if (p == CPU_OFF && !vmm_exiting(vmm))
			pthread_cond_wait(&cpu->wait_cond, &cpu->wait_lock);
		pthread_mutex_unlock(&cpu->wait_lock);
	}
	/* The engine is reset once this thread holds the execution token. */
	cpu->reset_pending = true;
	cpu->reset_entry = entry;
	cpu->reset_ctx = ctx;
	pthread_mutex_lock(&vmm->psci_lock);
	cpu->power = CPU_ON;
	pthread_mutex_unlock(&vmm->psci_lock);
	return true;
}

/*
 * The engine returns without a stop request only for a WFI, which ends its
 * translation block: the PC is then just past the last block entered. (Reading
 * the instruction before the PC does not work with the MMU on: the engine's
 * memory reads take physical addresses.)
 */
static bool cpu_stopped_on_wfi(struct vmm_cpu *cpu, uint64_t pc)
{
	uint32_t insn = 0;

	if (pc == cpu->block_end)
		return true;
	if (uc_mem_read(cpu->uc, pc - 4, &insn, sizeof(insn)) != UC_ERR_OK)
		return false;
	return insn == INSN_WFI;
}

static void *cpu_thread(void *arg)
{
	struct vmm_cpu *cpu = arg;
	struct vmm *vmm = cpu->vmm;

	while (!vmm_exiting(vmm)) {
		if (cpu->power != CPU_ON && !cpu_wait_power_on(cpu))
			break;
		token_acquire(cpu);
		if (vmm_exiting(vmm)) {
			token_release(cpu);
			break;
		}
		if (cpu->reset_pending) {
			cpu->reset_pending = false;
			if (cpu_reset(cpu, cpu->reset_entry, cpu->reset_ctx)) {
				token_release(cpu);
				vmm_request_exit(vmm, VMM_EXIT_VMM_ERROR,
						 "vCPU %u: cannot reset the engine", cpu->index);
				break;
			}
		}
		cpu_apply_maintenance(cpu);
		cpu_update_lines(cpu, true);
		cpu->stop = CPU_STOP_NONE;
		cpu->spin_blocks = 0;
		cpu->slice_end_ns = vmm_now_ns() + CPU_SLICE_NS;
		uint64_t pc = 0;
		uc_reg_read(cpu->uc, UC_ARM64_REG_PC, &pc);
		uint64_t t0 = vmm_now_ns();
		uc_err err = uci_run(&cpu->uci, pc);
		uint64_t t1 = vmm_now_ns();
		atomic_fetch_add_explicit(&cpu->run_ns, t1 - t0, memory_order_relaxed);
		cpu_count(&cpu->entries);
		stats_add_slice(vmm, (int)cpu->index, t0, t1);
		uc_reg_read(cpu->uc, UC_ARM64_REG_PC, &pc);
		gic_sync(cpu);
		if (cpu->uci.retire) {
			if (cpu->stop == CPU_STOP_NONE)
				cpu->stop = CPU_STOP_SLICE; /* not a WFI: the engine was stopped */
			if (cpu_replace_engine(cpu)) {
				token_release(cpu);
				vmm_request_exit(
					vmm, VMM_EXIT_VMM_ERROR,
					"vCPU %u: cannot replace the engine with a full code "
					"buffer",
					cpu->index);
				break;
			}
		}
		token_release(cpu);
		if (err != UC_ERR_OK) {
			vmm_request_exit(vmm, VMM_EXIT_GUEST_EXCEPTION,
					 "vCPU %u: unhandled guest exception at PC 0x%" PRIx64
					 ": %s",
					 cpu->index, pc, uc_strerror(err));
			break;
		}
		switch (cpu->stop) {
		case CPU_STOP_NONE:
			if (cpu_stopped_on_wfi(cpu, pc))
				cpu_wait_for_interrupt(cpu);
			break;
		case CPU_STOP_OFF:
			pthread_mutex_lock(&vmm->psci_lock);
			cpu->power = CPU_OFF;
			pthread_mutex_unlock(&vmm->psci_lock);
			uci_set_lines(&cpu->uci, false, false);
			break;
		case CPU_STOP_SLICE:
		case CPU_STOP_EXIT: break;
		}
	}
	return NULL;
}

int cpu_start_threads(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->nr_cpus; i++) {
		struct vmm_cpu *cpu = &vmm->cpus[i];

		if (pthread_create(&cpu->thread, NULL, cpu_thread, cpu))
			return -EAGAIN;
		cpu->thread_started = true;
	}
	return 0;
}

void cpu_join_threads(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->nr_cpus; i++) {
		struct vmm_cpu *cpu = &vmm->cpus[i];

		if (cpu->thread_started)
			pthread_join(cpu->thread, NULL);
		cpu->thread_started = false;
	}
}

/* ------------------------------------------------------------------------------------ */
/* Guest RAM written by devices (DMA): translated code of those pages goes stale.       */

void cpu_note_ram_write(struct vmm *vmm, uint64_t gpa, uint64_t len)
{
	uint64_t ram_end = BOARD_RAM_BASE + vmm->ram_size;
	/* A range running past the top of the address space ends there. */
	uint64_t gpa_end = len > UINT64_MAX - gpa ? UINT64_MAX : gpa + len;

	if (!len || gpa >= ram_end || gpa_end <= BOARD_RAM_BASE)
		return;
	uint64_t start = gpa < BOARD_RAM_BASE ? 0 : (gpa - BOARD_RAM_BASE) / 4096;
	uint64_t end = gpa_end > ram_end ? vmm->ram_size : gpa_end - BOARD_RAM_BASE;
	uint64_t last = (end - 1) / 4096;

	for (unsigned i = 0; i < vmm->nr_cpus; i++) {
		struct vmm_cpu *cpu = &vmm->cpus[i];

		for (uint64_t w = start / 64; w <= last / 64 && w < cpu->ram_dirty_words; w++) {
			uint64_t mask = ~0ull;

			if (w == start / 64)
				mask &= ~0ull << (start % 64);
			if (w == last / 64 && last % 64 != 63)
				mask &= (1ull << (last % 64 + 1)) - 1;
			atomic_fetch_or_explicit(&cpu->ram_dirty[w], mask, memory_order_relaxed);
		}
		/* Release: the bits above are seen by whoever sees this. */
		atomic_store_explicit(&cpu->ram_dirty_any, true, memory_order_release);
		/* A running engine acts at its next block; a sleeping one before it runs again. */
		atomic_store_explicit(&cpu->kick, true, memory_order_release);
	}
}

/*
 * Drops the code of the pages devices wrote, where this engine translated code
 * from (most DMA lands in pages that never held any: nothing to do for them).
 */
static void cpu_apply_ram_writes(struct vmm_cpu *cpu)
{
	if (!atomic_load_explicit(&cpu->ram_dirty_any, memory_order_relaxed) ||
	    !atomic_exchange_explicit(&cpu->ram_dirty_any, false, memory_order_acquire))
		return;
	for (uint64_t w = 0; w < cpu->ram_dirty_words; w++) {
		uint64_t mask;

		if (!atomic_load_explicit(&cpu->ram_dirty[w], memory_order_relaxed))
			continue;
		mask = atomic_exchange_explicit(&cpu->ram_dirty[w], 0, memory_order_relaxed);
		uci_drop_code_pages(&cpu->uci, w * 64, mask);
	}
}
