/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the ITS as a hostile guest and a careless VMM would drive it:
 * register accesses of every width at any offset, arbitrary commands in the
 * queue (biased towards valid opcodes and small IDs so that mappings really
 * happen), table and queue addresses inside, across and outside RAM, edits of
 * level-1 entries, MSIs from another "device", and save/restore/reset.
 * A fake set of redistributors aborts on any broken contract (a pending LPI
 * without a reference, a put without a get), and after the final reset every
 * reference must have been returned.
 */
#include <ivy/its.h>

#include "gic/its.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (1ull << 20)
#define ITS_BASE 0x08080000ull
#define NR_RD	 4

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

/* ---- redistributors that check the contract ---- */

static uint32_t refs[65536];
static int8_t pending[65536];

static uint32_t f_nr(void *ctx)
{
	(void)ctx;
	return NR_RD;
}
static void check_intid(uint32_t intid)
{
	if (intid < 8192 || intid >= 65536)
		abort();
}
static int f_get(void *ctx, uint32_t intid)
{
	(void)ctx;
	check_intid(intid);
	refs[intid]++;
	return 0;
}
static void f_put(void *ctx, uint32_t intid)
{
	(void)ctx;
	check_intid(intid);
	if (!refs[intid])
		abort();
	if (!--refs[intid])
		pending[intid] = 0;
}
static int f_set_pending(void *ctx, uint32_t rd, uint32_t intid)
{
	(void)ctx;
	check_intid(intid);
	if (rd >= NR_RD || !refs[intid])
		abort();
	pending[intid] = (int8_t)(rd + 1);
	return rd != 3; /* redistributor 3 has EnableLPIs clear */
}
static void f_clear(void *ctx, uint32_t intid)
{
	(void)ctx;
	check_intid(intid);
	if (!refs[intid])
		abort();
	pending[intid] = 0;
}
static void f_move(void *ctx, uint32_t intid, uint32_t rd)
{
	(void)ctx;
	check_intid(intid);
	if (rd >= NR_RD || !refs[intid])
		abort();
	if (pending[intid])
		pending[intid] = (int8_t)(rd + 1);
}
static void f_inv(void *ctx, uint32_t intid)
{
	(void)ctx;
	check_intid(intid);
	if (!refs[intid])
		abort();
}

static const struct its_redist_ops fuzz_ops = {
	.nr_redists = f_nr,
	.lpi_get = f_get,
	.lpi_put = f_put,
	.lpi_set_pending = f_set_pending,
	.lpi_clear_pending = f_clear,
	.lpi_move = f_move,
	.lpi_inv = f_inv,
};

/* ---- inputs ---- */

/* A guest-physical address: mostly in RAM, sometimes straddling its end or elsewhere. */
static uint64_t pick_addr(struct input *in, uint64_t align)
{
	uint64_t r = take(in, 4);

	switch (r & 3) {
	case 0:
	case 1: return (RAM_BASE + ((r >> 2) % RAM_SIZE)) & ~(align - 1);
	case 2: return (RAM_BASE + RAM_SIZE - align * ((r >> 2) % 4));
	default: return (r << 10) & ~(align - 1);
	}
}

static const uint16_t offsets[] = { 0x0,   0x4,	  0x8,	  0xc,	  0x80,	 0x84,	0x88,
				    0x8c,  0x90,  0x94,	  0x100,  0x104, 0x108, 0x10c,
				    0x110, 0x138, 0xffe8, 0xfffc, 0x40,	 0x2 };

static uint64_t pick_offset(struct input *in)
{
	uint64_t r = take(in, 2);

	if (r & 0x8000)
		return r & 0x1ffff ? (r * 4) % 0x20000 : 0x10040;
	return offsets[r % (sizeof(offsets) / sizeof(offsets[0]))];
}

static uint64_t pick_value(struct input *in, bool is_base)
{
	uint64_t r = take(in, 1);

	if (is_base && (r & 3) != 3)
		return (r & 0x80 ? 1ull << 63 : 0) | (r & 0x40 ? 1ull << 62 : 0) |
		       pick_addr(in, 0x10000) | (take(in, 1) & 0x3);
	return take(in, 8);
}

static const uint8_t opcodes[] = { 0x01, 0x03, 0x04, 0x05, 0x08, 0x09,
				   0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };

/* A command: a real opcode with small IDs most of the time, raw bytes otherwise. */
static void make_cmd(struct input *in, uint64_t c[4])
{
	uint64_t r = take(in, 1), ids = take(in, 2);

	if ((r & 15) == 15) {
		for (int i = 0; i < 4; i++)
			c[i] = take(in, 8);
		return;
	}
	/* DeviceID 0-3, EventID 0-7, pINTID 8192-8207, ICID 0-3, RDbase 0-4 (4 is out of range). */
	c[0] = opcodes[(r >> 4) % sizeof(opcodes)] | (ids & 3) << 32;
	c[1] = ((ids >> 2) & 7) | (8192 + ((ids >> 5) & 15)) << 32;
	if ((c[0] & 0xff) == 0x08)
		c[1] = (ids >> 2) & 7; /* MAPD Size */
	c[2] = (r & 8 ? 0 : 1ull << 63) | (((ids >> 9) & 7) % 5) << 16 | ((ids >> 12) & 3);
	if ((c[0] & 0xff) == 0x08)
		c[2] |= pick_addr(in, 256) & ((1ull << 52) - 1);
	c[3] = ((ids >> 14) % 5) << 16;
}

static void reg_host(struct ivy_device *its, struct input *in, bool is_write)
{
	uint64_t v = pick_value(in, true);
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_ITS_REGS,
				     .attr = pick_offset(in),
				     .addr = &v };

	if (is_write)
		(void)ivy_device_set_attr(its, &a);
	else
		(void)ivy_device_get_attr(its, &a);
}

/* What a VMM does to snapshot and restore the ITS in place (KVM's documented order). */
static void snapshot_round_trip(struct ivy_device *its)
{
	static const uint64_t regs[] = { 0x80, 0x100, 0x108, 0x88, 0x90, 0x4 };
	uint64_t val[6], ctlr = 0, dummy = 0;
	struct ivy_device_attr r = { .group = IVY_ITS_GRP_ITS_REGS };
	struct ivy_device_attr c = { .group = IVY_ITS_GRP_CTRL, .addr = &dummy };

	c.attr = IVY_ITS_SAVE_TABLES;
	if (ivy_device_set_attr(its, &c))
		return;
	for (int i = 0; i < 6; i++) {
		r.attr = regs[i];
		r.addr = &val[i];
		if (ivy_device_get_attr(its, &r))
			abort();
	}
	r.attr = 0;
	r.addr = &ctlr;
	if (ivy_device_get_attr(its, &r))
		abort();
	c.attr = IVY_ITS_CTRL_RESET;
	if (ivy_device_set_attr(its, &c))
		abort();
	for (int i = 0; i < 6; i++) {
		r.attr = regs[i];
		r.addr = &val[i];
		if (ivy_device_set_attr(its, &r))
			abort(); /* values read back must be accepted */
	}
	c.attr = IVY_ITS_RESTORE_TABLES;
	(void)ivy_device_set_attr(its, &c);
	ctlr &= 1;
	r.attr = 0;
	r.addr = &ctlr;
	(void)ivy_device_set_attr(its, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct ivy_vm_config cfg = { .name = "fuzz", .nr_vcpus = 1 };
	struct input in = { data, size };
	struct ivy_vm *vm;
	struct ivy_device *its;
	struct ivy_vcpu *vcpu;
	uint64_t base = ITS_BASE, cw = 0, dummy = 0, setup;
	struct ivy_device_attr addr = { .group = IVY_ITS_GRP_ADDR,
					.attr = IVY_ITS_ADDR_TYPE,
					.addr = &base };
	struct ivy_device_attr ctrl = { .group = IVY_ITS_GRP_CTRL, .addr = &dummy };

	if (!ram && !(ram = aligned_alloc(4096, RAM_SIZE)))
		abort();
	memset(ram, 0, RAM_SIZE);
	memset(refs, 0, sizeof(refs));
	memset(pending, 0, sizeof(pending));
	if (ivy_vm_create(&cfg, &vm))
		abort();
	vcpu = ivy_vm_vcpu(vm, 0);
	if (ivy_vm_add_ram(vm, RAM_BASE, RAM_SIZE, ram) || ivy_device_create(vm, 8, &its) ||
	    ivy_device_set_attr(its, &addr) || its_set_redist_ops(its, &fuzz_ops, NULL))
		abort();

	/*
	 * Most inputs start from a usable ITS (queue and tables in RAM, flat or
	 * two-level, enabled) so that commands reach the mapping code; the rest
	 * start from reset and must set it up themselves.
	 */
	setup = take(&in, 1);
	if (setup & 3) {
		uint64_t regs[3][2] = {
			{ 0x80, (1ull << 63) | RAM_BASE | 1 },
			{ 0x100,
			  (1ull << 63) | (setup & 4 ? 1ull << 62 : 0) | (RAM_BASE + 0x10000) },
			{ 0x108,
			  (1ull << 63) | (setup & 8 ? 1ull << 62 : 0) | (RAM_BASE + 0x20000) },
		};
		uint64_t l1 = (1ull << 63) | (RAM_BASE + 0x30000), one = 1;

		for (int i = 0; i < 3; i++)
			(void)ivy_vcpu_mmio(vcpu, ITS_BASE + regs[i][0], 8, true, &regs[i][1]);
		(void)ivy_guest_write(vm, RAM_BASE + 0x10000, &l1, sizeof(l1));
		l1 += 0x10000;
		(void)ivy_guest_write(vm, RAM_BASE + 0x20000, &l1, sizeof(l1));
		(void)ivy_vcpu_mmio(vcpu, ITS_BASE, 4, true, &one);
	}
	for (unsigned steps = 0; in.left && steps < 256; steps++) {
		uint64_t op = take(&in, 1), off, v, c[4];
		unsigned len = 1u << (take(&in, 1) & 3);

		switch (op % 12) {
		case 0: /* guest register write */
			off = pick_offset(&in);
			v = pick_value(&in, off >= 0x80 && off < 0x140);
			(void)ivy_vcpu_mmio(vcpu, ITS_BASE + off, len, true, &v);
			break;
		case 1: /* guest register read */
			(void)ivy_vcpu_mmio(vcpu, ITS_BASE + pick_offset(&in), len, false, &v);
			break;
		case 2: /* a command at the ITS's write pointer, then CWRITER */
		case 3:
		case 4:
			make_cmd(&in, c);
			(void)ivy_vcpu_mmio(vcpu, ITS_BASE + 0x80, 8, false, &v);
			(void)ivy_vcpu_mmio(vcpu, ITS_BASE + 0x88, 8, false, &cw);
			(void)ivy_guest_write(vm, (v & ((1ull << 52) - 4096)) + cw, c, sizeof(c));
			cw = (cw + 32) % ((v & 0xff) * 4096 + 4096);
			v = cw | (take(&in, 1) & 1); /* Retry sometimes */
			(void)ivy_vcpu_mmio(vcpu, ITS_BASE + 0x88, 8, true, &v);
			break;
		case 10: /* the guest edits its tables (level-1 entries, DTEs) */
			v = pick_value(&in, true);
			(void)ivy_guest_write(vm, pick_addr(&in, 8), &v, sizeof(v));
			break;
		case 5: /* an MSI */
			(void)its_signal_msi(vm, ITS_BASE + 0x10040, (uint32_t)(take(&in, 1) % 9),
					     (uint32_t)(take(&in, 1) % 5));
			break;
		case 6: reg_host(its, &in, true); break;
		case 7: reg_host(its, &in, false); break;
		case 8: /* save, restore, reset, init, or a whole snapshot round trip */
			ctrl.attr = take(&in, 1) % 6;
			if (ctrl.attr == 5)
				snapshot_round_trip(its);
			else
				(void)ivy_device_set_attr(its, &ctrl);
			break;
		case 11: /* disable */
			v = 0;
			(void)ivy_vcpu_mmio(vcpu, ITS_BASE, 4, true, &v);
			break;
		default: /* enable */
			v = 1;
			(void)ivy_vcpu_mmio(vcpu, ITS_BASE, 4, true, &v);
			break;
		}
	}
	/* After a reset no reference may be left. */
	ctrl.attr = IVY_ITS_CTRL_RESET;
	if (ivy_device_set_attr(its, &ctrl))
		abort();
	for (uint32_t i = 0; i < 65536; i++)
		if (refs[i])
			abort();
	ivy_vm_close(vm);
	return 0;
}
