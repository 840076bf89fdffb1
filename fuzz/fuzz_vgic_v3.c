/* SPDX-License-Identifier: MIT */
/*
 * Feeds access streams into the GICv3 distributor, the redistributor frames
 * and the ICC system registers, interleaved with flush/sync, line changes and
 * host register accesses, while another thread injects SPIs. Each record is
 * 11 bytes:
 *   [0] vCPU (mod 4)   [1] op: kind and direction   [2..4] offset / encoding
 *   [5] width selector  [6..10] value (little endian, 40 bits)
 */
#include <ivy/gic.h>

#include "gic/vgic.h"

#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DIST	 0x08000000ull
#define REDIST	 0x080a0000ull
#define NR_VCPUS 4
#define RAM	 0x40000000ull
#define RAM_SIZE 0x20000ull
#define NR_LPIS	 8

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static atomic_bool stop;

static void *inject_thread(void *arg)
{
	struct ivy_vm *vm = arg;
	unsigned i = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint32_t intid = 32 + (i++ % 96);

		if (ivy_irq_line(vm, intid, 0, true) || ivy_irq_line(vm, intid, 0, false))
			abort(); /* valid SPIs must always be accepted */
	}
	return NULL;
}

static int set_attr(struct ivy_device *dev, uint32_t group, uint64_t attr, void *val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = val };

	return ivy_device_set_attr(dev, &a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ivy_vm_config cfg = { .name = "fuzz3", .nr_vcpus = NR_VCPUS };
	static const unsigned widths[4] = { 1, 2, 4, 8 };
	struct ivy_device *dev;
	struct ivy_vm *vm;
	struct vgic_irq *lpis[NR_LPIS];
	uint32_t n = 128;
	uint64_t a;
	pthread_t t;

	if (ivy_vm_create(&cfg, &vm) || ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V3, &dev))
		abort();
	a = DIST;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, &a))
		abort();
	a = REDIST;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST, &a) ||
	    set_attr(dev, IVY_VGIC_GRP_NR_IRQS, 0, &n))
		abort();
	/*
	 * Guest RAM for the LPI tables a guest may point PROPBASER/PENDBASER at (or
	 * not): a property table enabling every LPI at priority 0xa0, then a pending
	 * table with every bit set.
	 */
	memset(ram, 0xa1, RAM_SIZE / 2);
	memset(ram + RAM_SIZE / 2, 0xff, RAM_SIZE / 2);
	if (ivy_vm_add_ram(vm, RAM, RAM_SIZE, ram))
		abort();
	for (unsigned c = 0; c < NR_VCPUS; c++)
		if (ivy_vcpu_flush(ivy_vm_vcpu(vm, c)))
			abort();
	/* LPIs as an ITS would map them. */
	for (unsigned i = 0; i < NR_LPIS; i++)
		if (vgic_lpi_create(vm->vgic, VGIC_MIN_LPI + i, ivy_vm_vcpu(vm, i % NR_VCPUS)->vgic,
				    &lpis[i]))
			abort();
	atomic_store(&stop, false);
	if (pthread_create(&t, NULL, inject_thread, vm))
		abort();
	for (size_t i = 0; i + 11 <= size; i += 11) {
		const uint8_t *r = data + i;
		struct ivy_vcpu *vcpu = ivy_vm_vcpu(vm, r[0] % NR_VCPUS);
		uint32_t off = (uint32_t)r[2] | ((uint32_t)r[3] << 8) | ((uint32_t)r[4] << 16);
		unsigned len = widths[r[5] & 3];
		uint64_t val = 0;
		bool write = r[1] & 1;
		int ret = 0;

		for (int b = 0; b < 5; b++)
			val |= (uint64_t)r[6 + b] << (8 * b);
		if (r[10] & 0x80)
			val |= (val << 40); /* reach the upper bits of 64-bit registers */
		switch ((r[1] >> 1) % 8) {
		case 0:
		case 1: ret = ivy_vcpu_mmio(vcpu, DIST + (off & 0xffff), len, write, &val); break;
		case 2:
		case 3:
			ret = ivy_vcpu_mmio(vcpu, REDIST + off % (NR_VCPUS * 0x20000u), len, write,
					    &val);
			break;
		case 4:
			/* ICC registers; anything else is -ENOENT. */
			ret = ivy_vcpu_sysreg(vcpu, 0xc000 | (off & 0x3fff), write, &val);
			if (ret == -ENOENT)
				ret = 0;
			break;
		case 5:
			ivy_vcpu_sync(vcpu);
			ret = ivy_vcpu_flush(vcpu);
			(void)ivy_vcpu_irq_lines(vcpu);
			break;
		case 6:
			if (r[5] & 0x80)
				(void)vgic_lpi_inject(vm->vgic, lpis[off % NR_LPIS]);
			else
				(void)ivy_irq_line(vm, off & 0x3ff, r[0], val & 1);
			break;
		default: {
			static const uint32_t groups[3] = { IVY_VGIC_GRP_DIST_REGS,
							    IVY_VGIC_GRP_REDIST_REGS,
							    IVY_VGIC_GRP_CPU_SYSREGS };
			uint64_t v = val;
			struct ivy_device_attr at = {
				.group = groups[(r[5] >> 2) % 3],
				.attr = ((uint64_t)(r[0] % NR_VCPUS) << 32) | off,
				.addr = &v,
			};

			ivy_vcpu_sync(vcpu);
			(void)(write ? ivy_device_set_attr(dev, &at)
				     : ivy_device_get_attr(dev, &at));
			break;
		}
		}
		if (ret)
			abort();
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	for (unsigned i = 0; i < NR_LPIS; i++)
		vgic_lpi_release(vm->vgic, lpis[i]);
	ivy_vm_close(vm);
	return 0;
}
