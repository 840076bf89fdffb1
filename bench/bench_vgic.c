/* SPDX-License-Identifier: MIT */
/*
 * vGICv2 costs, with 1 and 8 vCPUs:
 *  - ns per distributor register access through ivy_vcpu_mmio (a per-IRQ bank
 *    read and an IPRIORITYR byte write), against the same-run cost of one access
 *    to an empty device on the same bus (the bus itself);
 *  - ns per interrupt for inject -> flush -> acknowledge (GICC_IAR) -> EOI
 *    (GICC_EOIR) -> sync, against the cost of the four bus accesses and calls
 *    that a do-nothing round trip makes (flush+sync with nothing pending, two
 *    empty-device accesses);
 *  - the same round trip on a GICv3 through the ICC system registers
 *    (ivy_vcpu_sysreg: ICC_IAR1_EL1, ICC_EOIR1_EL1), against the flush+sync
 *    baseline of that VM, and a GICD_TYPER read against an empty-device read.
 */
#include "bench.h"

#include <ivy/gic.h>

#include <stdio.h>
#include <stdlib.h>

#define DIST  0x08000000ull
#define CPU   0x08010000ull
#define EMPTY 0x09000000ull
#define RUNS  15
#define ITERS 20000

static uint64_t empty_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	(void)opaque;
	(void)vcpu;
	(void)offset;
	(void)len;
	return 0;
}

static void empty_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			uint64_t val)
{
	(void)opaque;
	(void)vcpu;
	(void)offset;
	(void)len;
	(void)val;
}

static const struct ivy_mmio_ops empty_ops = { .read = empty_read, .write = empty_write };

static int set_attr(struct ivy_device *dev, uint32_t group, uint64_t attr, void *val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = val };

	return ivy_device_set_attr(dev, &a);
}

static struct ivy_vm *vm_setup(uint32_t nr)
{
	struct ivy_vm_config cfg = { .name = "bench", .nr_vcpus = nr };
	struct ivy_mmio_region *region;
	struct ivy_device *dev;
	struct ivy_vm *vm;
	uint64_t a;
	uint32_t dummy = 0;

	if (ivy_vm_create(&cfg, &vm) || ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev))
		abort();
	a = DIST;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_DIST, &a))
		abort();
	a = CPU;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_CPU, &a) ||
	    set_attr(dev, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_INIT, &dummy) ||
	    ivy_mmio_register(vm, EMPTY, 0x1000, &empty_ops, NULL, &region))
		abort();
	for (uint32_t c = 0; c < nr; c++)
		if (ivy_vcpu_flush(ivy_vm_vcpu(vm, c)))
			abort();
	return vm;
}

static void mmio(struct ivy_vcpu *vcpu, uint64_t gpa, unsigned len, bool write, uint64_t val)
{
	if (ivy_vcpu_mmio(vcpu, gpa, len, write, &val))
		abort();
	bench_keep(val);
}

enum what { EMPTY_READ, DIST_READ, DIST_WRITE, ROUND_TRIP_BASE, ROUND_TRIP };

static double run_once(struct ivy_vm *vm, uint32_t nr, enum what w)
{
	uint64_t t0 = bench_now_ns();

	for (uint32_t i = 0; i < ITERS; i++) {
		struct ivy_vcpu *vcpu = ivy_vm_vcpu(vm, i % nr);
		uint32_t intid = 40 + (i % nr);

		switch (w) {
		case EMPTY_READ: mmio(vcpu, EMPTY + 0x100, 4, false, 0); break;
		case DIST_READ: mmio(vcpu, DIST + 0x104, 4, false, 0); break;
		case DIST_WRITE: mmio(vcpu, DIST + 0x400 + intid, 1, true, 0x80); break;
		case ROUND_TRIP_BASE:
			if (ivy_vcpu_flush(vcpu))
				abort();
			mmio(vcpu, EMPTY + 0xc, 4, false, 0);
			mmio(vcpu, EMPTY + 0x10, 4, true, 0);
			ivy_vcpu_sync(vcpu);
			break;
		case ROUND_TRIP: {
			uint64_t id;

			if (ivy_irq_line(vm, intid, 0, true) || ivy_irq_line(vm, intid, 0, false) ||
			    ivy_vcpu_flush(vcpu) || ivy_vcpu_mmio(vcpu, CPU + 0xc, 4, false, &id) ||
			    id != intid || ivy_vcpu_mmio(vcpu, CPU + 0x10, 4, true, &id))
				abort();
			ivy_vcpu_sync(vcpu);
			break;
		}
		}
	}
	return (double)(bench_now_ns() - t0) / ITERS;
}

static void guest_setup(struct ivy_vm *vm, uint32_t nr)
{
	mmio(ivy_vm_vcpu(vm, 0), DIST, 4, true, 3);
	for (uint32_t c = 0; c < nr; c++) {
		struct ivy_vcpu *vcpu = ivy_vm_vcpu(vm, c);

		mmio(vcpu, CPU, 4, true, 3);
		mmio(vcpu, CPU + 4, 4, true, 0xff);
		/* SPI 40 + c: edge, enabled, targeting vCPU c. */
		mmio(vcpu, DIST + 0x800 + 40 + c, 1, true, 1u << c);
		mmio(vcpu, DIST + 0x400 + 40 + c, 1, true, 0x80);
	}
	mmio(ivy_vm_vcpu(vm, 0), DIST + 0xc08, 4, true, 0xaaaaaaaa);
	mmio(ivy_vm_vcpu(vm, 0), DIST + 0x104, 4, true, 0xffffffff);
	/* The VMM's loop leaves vCPUs synced between runs. */
	for (uint32_t c = 0; c < nr; c++)
		ivy_vcpu_sync(ivy_vm_vcpu(vm, c));
}

static struct bench_stats measure(struct ivy_vm *vm, uint32_t nr, enum what w)
{
	double samples[RUNS];

	for (unsigned r = 0; r < RUNS; r++)
		samples[r] = run_once(vm, nr, w);
	return bench_summarise(samples, RUNS);
}

#define REDIST	  0x080a0000ull
#define ICC_IAR1  IVY_SYSREG(3, 0, 12, 12, 0)
#define ICC_EOIR1 IVY_SYSREG(3, 0, 12, 12, 1)

static struct ivy_vm *vm3_setup(uint32_t nr)
{
	struct ivy_vm_config cfg = { .name = "bench3", .nr_vcpus = nr };
	struct ivy_mmio_region *region;
	struct ivy_device *dev;
	struct ivy_vm *vm;
	uint64_t a;

	if (ivy_vm_create(&cfg, &vm) || ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V3, &dev) ||
	    ivy_mmio_register(vm, EMPTY, 0x1000, &empty_ops, NULL, &region))
		abort();
	a = DIST;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, &a))
		abort();
	a = REDIST;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST, &a))
		abort();
	for (uint32_t c = 0; c < nr; c++) {
		struct ivy_vcpu *vcpu = ivy_vm_vcpu(vm, c);
		uint64_t v;

		if (ivy_vcpu_flush(vcpu))
			abort();
		v = 0xff;
		if (ivy_vcpu_sysreg(vcpu, IVY_SYSREG(3, 0, 4, 6, 0), true, &v))
			abort();
		v = 1;
		if (ivy_vcpu_sysreg(vcpu, IVY_SYSREG(3, 0, 12, 12, 7), true, &v))
			abort();
		/* SPI 40 + c: Group 1, edge, enabled, routed to vCPU c (Aff0 = c). */
		mmio(vcpu, DIST + 0x6000 + 8 * (40 + c), 4, true, c);
		ivy_vcpu_sync(vcpu);
	}
	mmio(ivy_vm_vcpu(vm, 0), DIST, 4, true, 3);
	mmio(ivy_vm_vcpu(vm, 0), DIST + 0x84, 4, true, 0xffffffff);
	mmio(ivy_vm_vcpu(vm, 0), DIST + 0xc08, 4, true, 0xaaaaaaaa);
	mmio(ivy_vm_vcpu(vm, 0), DIST + 0x104, 4, true, 0xffffffff);
	return vm;
}

/* One 32-bit read on vCPU 0 at `gpa`, the way a guest polling a register makes it. */
static double read_once(struct ivy_vm *vm, uint64_t gpa)
{
	struct ivy_vcpu *vcpu = ivy_vm_vcpu(vm, 0);
	uint64_t t0 = bench_now_ns();

	for (uint32_t i = 0; i < ITERS; i++)
		mmio(vcpu, gpa, 4, false, 0);
	return (double)(bench_now_ns() - t0) / ITERS;
}

static double run3_once(struct ivy_vm *vm, uint32_t nr, bool base)
{
	uint64_t t0 = bench_now_ns();

	for (uint32_t i = 0; i < ITERS; i++) {
		struct ivy_vcpu *vcpu = ivy_vm_vcpu(vm, i % nr);
		uint32_t intid = 40 + (i % nr);
		uint64_t id;

		if (base) {
			if (ivy_vcpu_flush(vcpu))
				abort();
			ivy_vcpu_sync(vcpu);
			continue;
		}
		if (ivy_irq_line(vm, intid, 0, true) || ivy_irq_line(vm, intid, 0, false) ||
		    ivy_vcpu_flush(vcpu) || ivy_vcpu_sysreg(vcpu, ICC_IAR1, false, &id) ||
		    id != intid || ivy_vcpu_sysreg(vcpu, ICC_EOIR1, true, &id))
			abort();
		ivy_vcpu_sync(vcpu);
	}
	return (double)(bench_now_ns() - t0) / ITERS;
}

static void bench_v3(uint32_t nr)
{
	struct ivy_vm *vm = vm3_setup(nr);
	double base[RUNS], rt[RUNS], empty[RUNS], typer[RUNS];
	struct bench_stats b, r, e, t;
	char metric[64];

	for (unsigned k = 0; k < RUNS; k++) {
		base[k] = run3_once(vm, nr, true);
		rt[k] = run3_once(vm, nr, false);
		empty[k] = read_once(vm, EMPTY + 4);
		typer[k] = read_once(vm, DIST + 4);
	}
	b = bench_summarise(base, RUNS);
	r = bench_summarise(rt, RUNS);
	e = bench_summarise(empty, RUNS);
	t = bench_summarise(typer, RUNS);
	snprintf(metric, sizeof(metric), "v3_inject_flush_iar1_eoir1_sync_%uvcpu", nr);
	bench_report("vgic", metric, &r, "ns", b.median);
	snprintf(metric, sizeof(metric), "v3_gicd_typer_read_%uvcpu", nr);
	bench_report("vgic", metric, &t, "ns", e.median);
	ivy_vm_close(vm);
}

int main(void)
{
	static const uint32_t nrs[] = { 1, 8 };

	for (size_t k = 0; k < sizeof(nrs) / sizeof(nrs[0]); k++) {
		uint32_t nr = nrs[k];
		struct ivy_vm *vm = vm_setup(nr);
		struct bench_stats empty, rd, wr, rt_base, rt;
		char metric[64];

		guest_setup(vm, nr);
		empty = measure(vm, nr, EMPTY_READ);
		rd = measure(vm, nr, DIST_READ);
		wr = measure(vm, nr, DIST_WRITE);
		rt_base = measure(vm, nr, ROUND_TRIP_BASE);
		rt = measure(vm, nr, ROUND_TRIP);
		snprintf(metric, sizeof(metric), "gicd_isenabler_read_%uvcpu", nr);
		bench_report("vgic", metric, &rd, "ns", empty.median);
		snprintf(metric, sizeof(metric), "gicd_ipriorityr_byte_write_%uvcpu", nr);
		bench_report("vgic", metric, &wr, "ns", empty.median);
		snprintf(metric, sizeof(metric), "inject_flush_ack_eoi_sync_%uvcpu", nr);
		bench_report("vgic", metric, &rt, "ns", rt_base.median);
		ivy_vm_close(vm);
		bench_v3(nr);
	}
	return 0;
}
