/* SPDX-License-Identifier: MIT */
/*
 * Cost of the in-process MMIO bus: ns per ivy_vcpu_mmio() read that a bus
 * device answers, with 1 and with 256 devices registered, against a baseline
 * measured in the same run: calling the same handler directly through a
 * function pointer on the same address sequence (what a VMM with no bus at all
 * would pay). Also the cost of an unclaimed access.
 */
#include "bench.h"

#include <ivy/ivy.h>

#include <stdio.h>
#include <stdlib.h>

#define RUNS	 15
#define ACCESSES 200000
#define SEQ	 1024

static uint64_t dev_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	(void)vcpu, (void)len;
	return (uintptr_t)opaque + offset;
}

static void dev_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
		      uint64_t val)
{
	(void)opaque, (void)vcpu, (void)offset, (void)len, (void)val;
}

static const struct ivy_mmio_ops dev_ops = { .read = dev_read, .write = dev_write };

static ivy_gpa_t seq[SEQ];

static double run_bus(struct ivy_vcpu *v)
{
	uint64_t t0 = bench_now_ns(), sum = 0;

	for (unsigned i = 0; i < ACCESSES; i++) {
		uint64_t val;

		if (ivy_vcpu_mmio(v, seq[i % SEQ], 4, false, &val))
			abort();
		sum += val;
	}
	bench_keep(sum);
	return (double)(bench_now_ns() - t0) / ACCESSES;
}

static double run_direct(uint64_t (*volatile read)(void *, struct ivy_vcpu *, uint64_t, unsigned),
			 struct ivy_vcpu *v, unsigned ndev)
{
	uint64_t t0 = bench_now_ns(), sum = 0;

	for (unsigned i = 0; i < ACCESSES; i++) {
		ivy_gpa_t gpa = seq[i % SEQ];
		uint64_t dev = (gpa - 0x10000000) / 0x1000 % ndev;

		sum += read((void *)(uintptr_t)dev, v, gpa & 0xfff, 4);
	}
	bench_keep(sum);
	return (double)(bench_now_ns() - t0) / ACCESSES;
}

static void bench_devices(unsigned ndev)
{
	struct ivy_vm_config cfg = { .name = "bench", .nr_vcpus = 1 };
	struct ivy_vm *vm;
	double bus[RUNS], direct[RUNS], unclaimed[RUNS];
	char metric[64];
	uint32_t x = 12345;

	if (ivy_vm_create(&cfg, &vm))
		abort();
	for (unsigned d = 0; d < ndev; d++)
		if (ivy_mmio_register(vm, 0x10000000 + d * 0x1000ull, 0x1000, &dev_ops,
				      (void *)(uintptr_t)d, NULL))
			abort();
	for (unsigned i = 0; i < SEQ; i++) {
		x = x * 1103515245 + 12345;
		seq[i] = 0x10000000 + (x >> 8) % ndev * 0x1000ull + ((x >> 4) & 0xff) * 4;
	}
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	for (int r = 0; r < RUNS; r++) {
		direct[r] = run_direct(dev_read, v, ndev);
		bus[r] = run_bus(v);
	}
	struct bench_stats sd = bench_summarise(direct, RUNS), sb = bench_summarise(bus, RUNS);

	snprintf(metric, sizeof(metric), "read_ns_%u_devices", ndev);
	bench_report("mmio_bus", metric, &sb, "ns", sd.median);

	for (unsigned i = 0; i < SEQ; i++)
		seq[i] = 0x80000000ull + i * 4; /* nobody's */
	for (int r = 0; r < RUNS; r++)
		unclaimed[r] = run_bus(v);
	struct bench_stats su = bench_summarise(unclaimed, RUNS);

	snprintf(metric, sizeof(metric), "unclaimed_ns_%u_devices", ndev);
	bench_report("mmio_bus", metric, &su, "ns", sd.median);
	ivy_vm_close(vm);
}

int main(void)
{
	bench_devices(1);
	bench_devices(256);
	return 0;
}
