/* SPDX-License-Identifier: MIT */
/*
 * Feeds (vCPU, frame, offset, width, value) streams into the GICv2 distributor,
 * CPU interface and v2m frames, interleaved with flush/sync, line changes and
 * host register accesses, while another thread injects SPIs. Each record is
 * 9 bytes:
 *   [0] vCPU (mod 4)   [1] op: frame/kind   [2..3] offset   [4] width selector
 *   [5..8] value (little endian)
 */
#include <ivy/gic.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DIST	 0x08000000ull
#define CPU	 0x08010000ull
#define V2M	 0x08020000ull
#define NR_VCPUS 4

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

static struct ivy_device *gic_setup(struct ivy_vm *vm)
{
	struct ivy_device *dev;
	uint64_t a;
	uint32_t n = 128, base = 64, dummy = 0;

	if (ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev))
		abort();
	a = DIST;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_DIST, &a))
		abort();
	a = CPU;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_CPU, &a))
		abort();
	a = V2M;
	if (set_attr(dev, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_V2M, &a) ||
	    set_attr(dev, IVY_VGIC_GRP_NR_IRQS, 0, &n) ||
	    set_attr(dev, IVY_VGIC_GRP_V2M, IVY_VGIC_V2M_SPI_BASE, &base) ||
	    set_attr(dev, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_INIT, &dummy))
		abort();
	return dev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ivy_vm_config cfg = { .name = "fuzz", .nr_vcpus = NR_VCPUS };
	static const unsigned widths[4] = { 1, 2, 4, 8 };
	struct ivy_vm *vm;
	struct ivy_device *dev;
	pthread_t t;

	if (ivy_vm_create(&cfg, &vm))
		abort();
	dev = gic_setup(vm);
	for (unsigned c = 0; c < NR_VCPUS; c++)
		if (ivy_vcpu_flush(ivy_vm_vcpu(vm, c)))
			abort();
	atomic_store(&stop, false);
	if (pthread_create(&t, NULL, inject_thread, vm))
		abort();
	for (size_t i = 0; i + 9 <= size; i += 9) {
		const uint8_t *r = data + i;
		struct ivy_vcpu *vcpu = ivy_vm_vcpu(vm, r[0] % NR_VCPUS);
		uint32_t off = (uint32_t)r[2] | ((uint32_t)r[3] << 8);
		unsigned len = widths[r[4] & 3];
		uint64_t val = (uint64_t)r[5] | ((uint64_t)r[6] << 8) | ((uint64_t)r[7] << 16) |
			       ((uint64_t)r[8] << 24);
		bool write = r[1] & 1;
		int ret = 0;

		switch ((r[1] >> 1) % 8) {
		case 0:
		case 1: ret = ivy_vcpu_mmio(vcpu, DIST + (off & 0xfff), len, write, &val); break;
		case 2:
		case 3: ret = ivy_vcpu_mmio(vcpu, CPU + (off & 0x1fff), len, write, &val); break;
		case 4: ret = ivy_vcpu_mmio(vcpu, V2M + (off & 0xfff), len, write, &val); break;
		case 5:
			ivy_vcpu_sync(vcpu);
			ret = ivy_vcpu_flush(vcpu);
			(void)ivy_vcpu_irq_lines(vcpu);
			break;
		case 6:
			/* PPIs and SPIs, including out-of-range INTIDs (refused). */
			(void)ivy_irq_line(vm, off & 0x3ff, r[0], val & 1);
			break;
		default: {
			/* Host accesses: refused while loaded, else checked values. */
			uint32_t v = (uint32_t)val;
			struct ivy_device_attr a = {
				.group = (r[4] >> 2) & 1 ? IVY_VGIC_GRP_CPU_REGS
							 : IVY_VGIC_GRP_DIST_REGS,
				.attr = ((uint64_t)(r[0] % NR_VCPUS) << 32) | (off & 0xffc),
				.addr = &v,
			};

			ivy_vcpu_sync(vcpu);
			(void)(write ? ivy_device_set_attr(dev, &a) : ivy_device_get_attr(dev, &a));
			break;
		}
		}
		if (ret)
			abort();
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	ivy_vm_close(vm);
	return 0;
}
