/* SPDX-License-Identifier: MIT */
/*
 * The Unicorn internals the VMM relies on (vmm/uc_internal.c), checked against
 * the installed engine: the version check, finding the CPU objects, raising the
 * IRQ line into a running guest, letting the guest's vectors take an SVC the
 * INTR hook saw, and the EL2/EL3 set-up the vCPUs use.
 */
#include "../../vmm/uc_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define RAM  0x40000000ull
#define SIZE 0x10000ull

/*
 * The guest: set VBAR_EL1, unmask IRQs, spin until the IRQ handler sets x5, SVC
 * (its handler records ESR_EL1 in x7), then HVC #0. IRQ handler: x5 = 1; HVC #1.
 */
static const struct {
	unsigned word;
	uint32_t insn;
} guest[] = {
	{ 0, 0x10004001 },   /* adr x1, vec (+0x800) */
	{ 1, 0xd518c001 },   /* msr vbar_el1, x1 */
	{ 2, 0xd5033fdf },   /* isb */
	{ 3, 0xd50342ff },   /* msr daifclr, #2 */
	{ 4, 0x910004c6 },   /* 1: add x6, x6, #1 */
	{ 5, 0xb4ffffe5 },   /* cbz x5, 1b */
	{ 6, 0xd4000841 },   /* svc #0x42 */
	{ 7, 0xd4000002 },   /* hvc #0 */
	{ 8, 0x14000000 },   /* b . */
	{ 640, 0xd5385207 }, /* vec + 0x200: mrs x7, esr_el1 */
	{ 641, 0xd69f03e0 }, /* eret */
	{ 672, 0xd2800025 }, /* vec + 0x280: mov x5, #1 */
	{ 673, 0xd4000022 }, /* hvc #1 */
	{ 674, 0xd69f03e0 }, /* eret */
};

struct ctx {
	struct uci_cpu cpu;
	unsigned blocks, hvc0, hvc1, svc;
};

static void set_cp(uc_engine *uc, int op0, int op1, int crn, int crm, int op2, uint64_t v)
{
	uc_arm64_cp_reg r = {
		.crn = crn, .crm = crm, .op0 = op0, .op1 = op1, .op2 = op2, .val = v
	};

	assert_int_equal(uc_reg_write(uc, UC_ARM64_REG_CP_REG, &r), UC_ERR_OK);
}

static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
	struct ctx *c = opaque;

	(void)uc;
	(void)addr;
	(void)size;
	/* After a while in the spin loop, raise the IRQ line from the hook. */
	if (++c->blocks == 100)
		uci_set_lines(&c->cpu, true, false);
}

static void on_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
	struct ctx *c = opaque;

	if (intno == UCI_EXCP_HVC) {
		/* HVC #1 comes from the IRQ handler, HVC #0 from the end of the program. */
		uint64_t x5 = 0;
		uc_reg_read(uc, UC_ARM64_REG_X5, &x5);
		if (c->hvc1 == 0 && x5 == 1 && c->svc == 0) {
			c->hvc1++;
			uci_set_lines(&c->cpu, false, false);
			return;
		}
		c->hvc0++;
		uc_emu_stop(uc);
		return;
	}
	if (intno == UCI_EXCP_SWI)
		c->svc++;
	uci_take_exception(&c->cpu);
}

static void test_version(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(uci_check_version(buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "Unicorn 2.0"));
	/* The engine's calls to tb_gen_code reach the replacement that survives a full buffer. */
	assert_true(uci_code_gen_hooked());
}

static void test_attach_and_run(void **state)
{
	struct ctx c;
	uc_engine *uc;
	uc_hook h;
	uint8_t *ram = aligned_alloc(4096, SIZE);
	uint64_t v, pstate = 0x3c5, pc = RAM;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(ram, 0, SIZE);
	for (size_t i = 0; i < sizeof(guest) / sizeof(guest[0]); i++)
		memcpy(ram + guest[i].word * 4, &guest[i].insn, 4);
	assert_int_equal(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc), UC_ERR_OK);
	assert_int_equal(uci_attach(&c.cpu, uc), 0);
	/* The CPU object found is the live one: a register written now shows there. */
	v = 0x1234abcd5678ef01ull;
	uc_reg_write(uc, UC_ARM64_REG_X0, &v);
	assert_memory_equal((uint8_t *)c.cpu.env + 64, &v, 8);

	assert_int_equal(uc_mem_map_ptr(uc, RAM, SIZE, UC_PROT_ALL, ram), UC_ERR_OK);
	set_cp(uc, 3, 6, 1, 1, 0, 0x501);	  /* SCR_EL3 = NS | HCE | RW */
	set_cp(uc, 3, 4, 1, 1, 0, 1ull << 31);	  /* HCR_EL2.RW */
	set_cp(uc, 3, 4, 0, 0, 5, 0x80000003ull); /* VMPIDR_EL2 */
	uc_reg_write(uc, UC_ARM64_REG_PSTATE, &pstate);
	uci_rebuild_flags(&c.cpu);
	uc_hook_add(uc, &h, UC_HOOK_BLOCK, on_block, &c, 1, 0);
	uc_hook_add(uc, &h, UC_HOOK_INTR, on_intr, &c, 1, 0);
	assert_int_equal(uc_emu_start(uc, pc, UINT64_MAX, 0, 0), UC_ERR_OK);

	assert_int_equal(c.hvc1, 1); /* the IRQ was taken by the guest's vector */
	assert_int_equal(c.svc, 1);
	assert_int_equal(c.hvc0, 1);
	uc_reg_read(uc, UC_ARM64_REG_X7, &v);
	assert_int_equal(v >> 26, 0x15); /* ESR_EL1.EC = SVC from AArch64 */
	assert_int_equal(v & 0xffff, 0x42);
	uc_arm64_cp_reg mpidr = { .crn = 0, .crm = 0, .op0 = 3, .op1 = 0, .op2 = 5 };
	uc_reg_read(uc, UC_ARM64_REG_CP_REG, &mpidr);
	assert_int_equal(mpidr.val & 0xff, 3); /* the guest sees VMPIDR_EL2 */
	uc_reg_read(uc, UC_ARM64_REG_PSTATE, &v);
	assert_int_equal((v >> 2) & 3, 1); /* still at EL1 */
	uc_close(uc);
	free(ram);
}

/*
 * Code changed behind the engine's back (a device's DMA) runs stale until it is
 * dropped; uci_drop_code drops it by RAM offset. (The engine also drops the
 * block holding the address it is told to stop at, so that is another page.)
 */
static void test_drop_code(void **state)
{
	struct uci_cpu cpu;
	uc_engine *uc;
	uint8_t *ram = aligned_alloc(4096, SIZE);
	uint32_t one = 0xd2800020, two = 0xd2800040; /* mov x0, #1 / #2 */
	uint32_t branch = 0x140003ff;		     /* b 0x3000: the engine stops there */
	uint64_t pstate = 0x3c5, x0;

	(void)state;
	memset(ram, 0, SIZE);
	memcpy(ram + 0x2000, &one, 4);
	memcpy(ram + 0x2004, &branch, 4);
	assert_int_equal(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc), UC_ERR_OK);
	assert_int_equal(uci_attach(&cpu, uc), 0);
	assert_int_equal(uc_mem_map_ptr(uc, RAM, SIZE, UC_PROT_ALL, ram), UC_ERR_OK);
	uc_reg_write(uc, UC_ARM64_REG_PSTATE, &pstate);
	uci_rebuild_flags(&cpu);
	assert_int_equal(uc_emu_start(uc, RAM + 0x2000, RAM + 0x3000, 0, 0), UC_ERR_OK);
	uc_reg_read(uc, UC_ARM64_REG_X0, &x0);
	assert_int_equal(x0, 1);

	memcpy(ram + 0x2000, &two, 4); /* as a device would write it */
	assert_int_equal(uc_emu_start(uc, RAM + 0x2000, RAM + 0x3000, 0, 0), UC_ERR_OK);
	uc_reg_read(uc, UC_ARM64_REG_X0, &x0);
	assert_int_equal(x0, 1); /* the old translation ran */

	uci_drop_code(&cpu, 0x1000, 0x1000); /* another page: still stale */
	assert_int_equal(uc_emu_start(uc, RAM + 0x2000, RAM + 0x3000, 0, 0), UC_ERR_OK);
	uc_reg_read(uc, UC_ARM64_REG_X0, &x0);
	assert_int_equal(x0, 1);

	uci_drop_code(&cpu, 0x2000, 0x1000);
	assert_int_equal(uc_emu_start(uc, RAM + 0x2000, RAM + 0x3000, 0, 0), UC_ERR_OK);
	uc_reg_read(uc, UC_ARM64_REG_X0, &x0);
	assert_int_equal(x0, 2);
	uc_close(uc);
	free(ram);
}

/*
 * The fast TLB is found, maps a page the guest stored to back to the host
 * memory behind it, and once its not-dirty flags are cleared stores still land
 * in RAM. The TLB is looked at from a block hook, as the VMM does: the engine
 * may drop it between two runs. The sweep reports what it cleared and keeps
 * track of the tables in use.
 */
struct tlb_probe {
	struct uci_cpu cpu;
	uint64_t va;
	void *host;
	bool found, untouched_found;
	int cleared;
};

static void probe_tlb(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
	struct tlb_probe *p = opaque;
	void *other;

	(void)uc;
	(void)size;
	if (addr != RAM + 0x3000)
		return;
	p->found = uci_tlb_host_addr(&p->cpu, p->va, &p->host);
	p->untouched_found = uci_tlb_host_addr(&p->cpu, RAM + 0x9000, &other);
	p->cleared = uci_tlb_clear_notdirty(&p->cpu);
}

static void test_fast_stores(void **state)
{
	struct tlb_probe p;
	uc_engine *uc;
	uc_hook h;
	uint8_t *ram = aligned_alloc(4096, SIZE);
	uint32_t str = 0xf9000041;    /* str x1, [x2] */
	uint32_t branch = 0x140003ff; /* b +0xffc */
	uint32_t nop = 0xd503201f;
	uint64_t pstate = 0x3c5, v;

	(void)state;
	memset(&p, 0, sizeof(p));
	memset(ram, 0, SIZE);
	memcpy(ram + 0x2000, &str, 4);
	memcpy(ram + 0x2004, &branch, 4);
	memcpy(ram + 0x3000, &nop, 4);
	p.va = RAM + 0x5008;
	assert_int_equal(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc), UC_ERR_OK);
	assert_int_equal(uci_attach(&p.cpu, uc), 0);
	assert_non_null(p.cpu.tlb);
	assert_int_equal(uc_mem_map_ptr(uc, RAM, SIZE, UC_PROT_ALL, ram), UC_ERR_OK);
	uc_reg_write(uc, UC_ARM64_REG_PSTATE, &pstate);
	uci_rebuild_flags(&p.cpu);
	uc_hook_add(uc, &h, UC_HOOK_BLOCK, probe_tlb, &p, 1, 0);
	for (uint64_t round = 1; round <= 3; round++) {
		v = 0x1111111111111111ull * round;
		uc_reg_write(uc, UC_ARM64_REG_X1, &v);
		uc_reg_write(uc, UC_ARM64_REG_X2, &p.va);
		p.found = false;
		p.cleared = -1;
		assert_int_equal(uc_emu_start(uc, RAM + 0x2000, RAM + 0x3004, 0, 0), UC_ERR_OK);
		assert_memory_equal(ram + 0x5008, &v, 8); /* after a clear, too */
		assert_true(p.found);
		assert_ptr_equal(p.host, ram + 0x5008);
		assert_false(p.untouched_found);
		/* The first sweep clears the stored-to page's entry; it stays clean unless refilled. */
		assert_true(round == 1 ? p.cleared >= 1 : p.cleared >= 0);
		/* The sweep keeps visiting the tables in use, and only a few of the twelve are. */
		assert_int_not_equal(p.cpu.tlb_live, 0);
		assert_true(__builtin_popcount(p.cpu.tlb_live) < 12);
	}
	uc_close(uc);
	free(ram);
}

/*
 * A vCPU moved to a fresh engine after a code buffer flush (uci_move_state)
 * keeps what the guest can see: general, stack, FP/SIMD and system registers,
 * the PC and PSTATE.
 */
static void test_move_state(void **state)
{
	struct uci_cpu a, b;
	uc_engine *ua, *ub;
	uint64_t x5 = 0x1122334455667788ull, sp = 0x40801230, vbar = 0x40010800;
	uint64_t tpidr = 0x5a5a0000a5a5ull, pc = 0x40000420, pstate = 0x3c5, v;
	uint64_t q[2] = { 0x0123456789abcdefull, 0xfedcba98ull }, qb[2] = { 0, 0 };
	uc_arm64_cp_reg ttbr = { .op0 = 3, .op1 = 0, .crn = 2, .crm = 0, .op2 = 0 };

	(void)state;
	assert_int_equal(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &ua), UC_ERR_OK);
	assert_int_equal(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &ub), UC_ERR_OK);
	assert_int_equal(uci_attach(&a, ua), 0);
	assert_int_equal(uci_attach(&b, ub), 0);
	uc_reg_write(ua, UC_ARM64_REG_X5, &x5);
	uc_reg_write(ua, UC_ARM64_REG_PSTATE, &pstate);
	uc_reg_write(ua, UC_ARM64_REG_SP, &sp);
	uc_reg_write(ua, UC_ARM64_REG_VBAR_EL1, &vbar);
	uc_reg_write(ua, UC_ARM64_REG_TPIDR_EL0, &tpidr);
	uc_reg_write(ua, UC_ARM64_REG_Q3, q);
	uc_reg_write(ua, UC_ARM64_REG_PC, &pc);
	ttbr.val = 0x0042000040123000ull;
	uc_reg_write(ua, UC_ARM64_REG_CP_REG, &ttbr);
	assert_int_equal(uci_move_state(&a, &b), 0);
	uc_reg_read(ub, UC_ARM64_REG_X5, &v);
	assert_int_equal(v, x5);
	v = 0; /* PSTATE is read as 32 bits */
	uc_reg_read(ub, UC_ARM64_REG_PSTATE, &v);
	assert_int_equal(v, pstate);
	uc_reg_read(ub, UC_ARM64_REG_SP, &v);
	assert_int_equal(v, sp);
	uc_reg_read(ub, UC_ARM64_REG_VBAR_EL1, &v);
	assert_int_equal(v, vbar);
	uc_reg_read(ub, UC_ARM64_REG_TPIDR_EL0, &v);
	assert_int_equal(v, tpidr);
	uc_reg_read(ub, UC_ARM64_REG_PC, &v);
	assert_int_equal(v, pc);
	uc_reg_read(ub, UC_ARM64_REG_Q3, qb);
	assert_memory_equal(qb, q, sizeof(q));
	ttbr.val = 0;
	uc_reg_read(ub, UC_ARM64_REG_CP_REG, &ttbr);
	assert_int_equal(ttbr.val, 0x0042000040123000ull);
	uc_close(ua);
	uc_close(ub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),	   cmocka_unit_test(test_attach_and_run),
		cmocka_unit_test(test_drop_code),  cmocka_unit_test(test_fast_stores),
		cmocka_unit_test(test_move_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
