/* SPDX-License-Identifier: MIT */
/*
 * Feeds access streams into the GICv3 distributor, the redistributor frames
 * and the ICC system registers, interleaved with flush/sync, line changes and
 * host register accesses, while another thread injects SPIs and signals MSIs.
 * A real ITS is wired to the GICv3 (mapped devices and collections to start
 * with): records also access its frame, queue commands built from their bytes
 * and signal MSIs, so LPIs travel from the ITS through the redistributors to
 * the list registers. Some records read and write the ICH_*_EL2 model. Each record is 11 bytes:
 *   [0] vCPU (mod 4)   [1] op: kind and direction   [2..4] offset / encoding
 *   [5] width selector  [6..10] value (little endian, 40 bits)
 */
#include <ivy/gic.h>
#include <ivy/its.h>

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
#define RAM_SIZE 0x50000ull
#define NR_LPIS	 8
#define ITS_BASE 0x08080000ull
#define DOORBELL (ITS_BASE + IVY_ITS_TRANSLATER_OFFSET)
/* RAM: property table, pending table, command queue and ITTs, Device and Collection tables. */
#define PROP	RAM
#define PEND	(RAM + 0x10000)
#define CMDQ	(RAM + 0x20000)
#define ITT(d)	(RAM + 0x28000 + (uint64_t)(d)*0x100)
#define DEVTBL	(RAM + 0x30000)
#define COLLTBL (RAM + 0x40000)

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
		/* An ITS with redistributors answers every MSI with 1 or 0. */
		if (ivy_signal_msi(vm, DOORBELL, i % 16, i / 16 % 5) < 0)
			abort();
	}
	return NULL;
}

/* Writes a command at GITS_CWRITER (wherever the guest put the queue) and advances it. */
static void its_queue(struct ivy_vm *vm, struct ivy_vcpu *vcpu, const uint64_t cmd[4])
{
	uint64_t cbaser = 0, cwriter = 0, size;

	if (ivy_vcpu_mmio(vcpu, ITS_BASE + 0x80, 8, false, &cbaser) ||
	    ivy_vcpu_mmio(vcpu, ITS_BASE + 0x88, 8, false, &cwriter))
		abort();
	size = ((cbaser & 0xff) + 1) * 0x1000;
	(void)ivy_guest_write(vm, (cbaser & 0x000ffffffffff000ull) + cwriter, cmd, 32);
	cwriter = (cwriter + 32) % size;
	if (ivy_vcpu_mmio(vcpu, ITS_BASE + 0x88, 8, true, &cwriter))
		abort();
}

/*
 * A command from a record: mostly well-formed ones of the twelve physical
 * commands on small IDs (so that mappings are made, moved and dropped), or
 * raw bytes.
 */
static void its_fuzz_cmd(struct ivy_vm *vm, struct ivy_vcpu *vcpu, const uint8_t *r, uint64_t val)
{
	static const uint8_t ops[12] = { 0x08, 0x09, 0x0a, 0x0b, 0x01, 0x0f,
					 0x04, 0x0e, 0x03, 0x0c, 0x0d, 0x05 };
	uint64_t dev = r[3] % 6, ev = r[4] % 20, intid = 8192 + (val & 0x3f);
	uint64_t icid = (val >> 8) % 6, rdb = (val >> 16) % 5, v = (val >> 24) & 1;
	uint64_t cmd[4] = { ops[r[2] % 12] | dev << 32, ev | intid << 32, 0, 0 };

	if (r[5] & 0x80) {
		cmd[0] = val;
		cmd[1] = val << 13 ^ r[2];
		cmd[2] = val >> 7 | (uint64_t)r[3] << 63;
		cmd[3] = r[4];
	} else if (cmd[0] % 256 == 0x08) {
		cmd[1] = val & 0xf;
		cmd[2] = v << 63 | ITT(dev);
	} else if (cmd[0] % 256 == 0x09) {
		cmd[2] = v << 63 | rdb << 16 | icid;
	} else if (cmd[0] % 256 == 0x0e) {
		cmd[2] = rdb << 16;
		cmd[3] = ((val >> 20) % 5) << 16;
	} else {
		cmd[2] = icid;
	}
	its_queue(vm, vcpu, cmd);
}

/*
 * The guest's setup: Group 1 enabled at the distributor and the CPU
 * interfaces; the ITS as a driver sets it up: the queue and tables in RAM,
 * enabled, collection c on redistributor c, devices 0-3 with events 0-7 on
 * LPIs 8200 + 16 * device + event. Redistributors 0-2 have LPIs enabled.
 */
static struct ivy_device *its_setup(struct ivy_vm *vm)
{
	struct ivy_vcpu *v0 = ivy_vm_vcpu(vm, 0);
	struct ivy_device *its;
	uint64_t a = ITS_BASE;
	struct ivy_device_attr at = { .group = IVY_ITS_GRP_ADDR,
				      .attr = IVY_ITS_ADDR_TYPE,
				      .addr = &a };

	if (ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &its) || ivy_device_set_attr(its, &at))
		abort();
	a = 2; /* GICD_CTLR.EnableGrp1 */
	if (ivy_vcpu_mmio(v0, DIST, 4, true, &a))
		abort();
	for (unsigned c = 0; c < NR_VCPUS; c++) {
		struct ivy_vcpu *vc = ivy_vm_vcpu(vm, c);
		uint64_t pmr = 0xff, grpen = 1;

		if (ivy_vcpu_sysreg(vc, IVY_SYSREG(3, 0, 4, 6, 0), true, &pmr) ||
		    ivy_vcpu_sysreg(vc, IVY_SYSREG(3, 0, 12, 12, 7), true, &grpen))
			abort();
		/* The pending tables overlap (PENDBASER is 64 KiB aligned): hostile, but allowed. */
		uint64_t prop = PROP | 15, pend = PEND, on = c < 3;

		if (ivy_vcpu_mmio(vc, REDIST + c * 0x20000ull + 0x70, 8, true, &prop) ||
		    ivy_vcpu_mmio(vc, REDIST + c * 0x20000ull + 0x78, 8, true, &pend) ||
		    ivy_vcpu_mmio(vc, REDIST + c * 0x20000ull, 4, true, &on))
			abort();
	}
	a = (1ull << 63) | CMDQ; /* one 4 KiB page: 128 commands */
	if (ivy_vcpu_mmio(v0, ITS_BASE + 0x80, 8, true, &a))
		abort();
	a = (1ull << 63) | DEVTBL;
	if (ivy_vcpu_mmio(v0, ITS_BASE + 0x100, 8, true, &a))
		abort();
	a = (1ull << 63) | COLLTBL;
	if (ivy_vcpu_mmio(v0, ITS_BASE + 0x108, 8, true, &a))
		abort();
	a = 1;
	if (ivy_vcpu_mmio(v0, ITS_BASE, 4, true, &a))
		abort();
	for (uint64_t c = 0; c < NR_VCPUS; c++) {
		const uint64_t mapc[4] = { 0x09, 0, 1ull << 63 | c << 16 | c, 0 };

		its_queue(vm, v0, mapc);
	}
	for (uint64_t d = 0; d < 4; d++) {
		const uint64_t mapd[4] = { 0x08 | d << 32, 3, 1ull << 63 | ITT(d), 0 };

		its_queue(vm, v0, mapd);
		for (uint64_t e = 0; e < 8; e++) {
			const uint64_t mapti[4] = { 0x0a | d << 32, e | (8200 + 16 * d + e) << 32,
						    e % NR_VCPUS, 0 };

			its_queue(vm, v0, mapti);
		}
	}
	return its;
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
	struct ivy_device *dev, *its;
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
	memset(ram, 0, RAM_SIZE);
	memset(ram + (PROP - RAM), 0xa1, 0x10000);
	memset(ram + (PEND - RAM), 0xff, 0x10000);
	if (ivy_vm_add_ram(vm, RAM, RAM_SIZE, ram))
		abort();
	for (unsigned c = 0; c < NR_VCPUS; c++)
		if (ivy_vcpu_flush(ivy_vm_vcpu(vm, c)))
			abort();
	its = its_setup(vm);
	/* LPIs as an ITS would map them, without one. */
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
		switch ((r[1] >> 1) % 10) {
		case 0:
		case 1: ret = ivy_vcpu_mmio(vcpu, DIST + (off & 0xffff), len, write, &val); break;
		case 2:
		case 3:
			ret = ivy_vcpu_mmio(vcpu, REDIST + off % (NR_VCPUS * 0x20000u), len, write,
					    &val);
			break;
		case 4:
			if (r[5] & 0x80) {
				/*
				 * The ICH_*_EL2 model (CRn 12 of op1 4), as a VMM restoring
				 * it: refused values (-EINVAL) and absent registers
				 * (-ENXIO) are expected, nothing else.
				 */
				uint32_t enc = IVY_SYSREG(3, 4, 12, 0, 0) | (off & 0x7f);

				ret = write ? ivy_vgic_v3_ich_write(vcpu, enc, val)
					    : ivy_vgic_v3_ich_read(vcpu, enc, &val);
				if (ret == -EINVAL || ret == -ENXIO)
					ret = 0;
				break;
			}
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
		case 8:
			if (r[5] & 0x80) {
				/* The control plane: ITS tables, reset, pending tables. */
				uint64_t dummy = 0;
				struct ivy_device_attr at = { .group = IVY_ITS_GRP_CTRL,
							      .attr = r[2] % 5,
							      .addr = &dummy };

				ivy_vcpu_sync(vcpu);
				if (at.attr == 3) {
					at.group = IVY_VGIC_GRP_CTRL;
					at.attr = IVY_VGIC_CTRL_SAVE_PENDING_TABLES;
					(void)ivy_device_set_attr(dev, &at);
				} else {
					(void)ivy_device_set_attr(its, &at);
				}
			} else {
				ret = ivy_vcpu_mmio(vcpu, ITS_BASE + off % 0x20000u, len, write,
						    &val);
			}
			break;
		case 9:
			if (r[5] & 0x40) {
				if (ivy_signal_msi(vm, DOORBELL, r[4] % 20, r[3] % 6) < 0)
					abort();
			} else {
				its_fuzz_cmd(vm, vcpu, r, val);
			}
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
