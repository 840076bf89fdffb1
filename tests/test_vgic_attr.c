/* SPDX-License-Identifier: MIT */
/* The GICv2 control API: every error, at the moment KVM reports it. */
#include "vgic_testutil.h"

#include <errno.h>
#include <stdlib.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct ivy_vm *vm_new(uint32_t nr, uint32_t max)
{
	struct ivy_vm_config cfg = {
		.name = "attr", .nr_vcpus = nr, .max_vcpus = max, .ipa_bits = 32
	};
	struct ivy_vm *vm = NULL;

	assert_int_equal(ivy_vm_create(&cfg, &vm), 0);
	return vm;
}

static int set_addr(struct ivy_device *dev, uint64_t type, uint64_t addr)
{
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_ADDR, .attr = type, .addr = &addr };

	return ivy_device_set_attr(dev, &a);
}

static int attr_u32(struct ivy_device *dev, bool set, uint32_t group, uint64_t attr, uint32_t *val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = val };

	return set ? ivy_device_set_attr(dev, &a) : ivy_device_get_attr(dev, &a);
}

static int ctrl_init(struct ivy_device *dev)
{
	uint32_t dummy = 0;

	return attr_u32(dev, true, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_INIT, &dummy);
}

/* One GIC per VM; GICv2 has at most 8 vCPUs. */
static void test_create_errors(void **state)
{
	struct ivy_vm *vm = vm_new(1, 16);
	struct ivy_device *dev, *dev2;
	struct ivy_vcpu *vcpu;

	(void)state;
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev), 0);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev2), -EEXIST);
	/* vCPU 8 cannot exist with a GICv2 (beyond KVM's max_vcpus for it). */
	assert_int_equal(ivy_vcpu_create(vm, 8, &vcpu), -EINVAL);
	assert_int_equal(ivy_vcpu_create(vm, 7, &vcpu), 0);
	/* Destroyed, it can be created again. */
	assert_int_equal(ivy_device_destroy(dev), 0);
	assert_int_equal(ivy_vcpu_create(vm, 9, &vcpu), 0);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev), -E2BIG);
	ivy_vm_close(vm);
}

/* Addresses: misaligned, beyond the IPA size, set twice, unknown type. */
static void test_addr_errors(void **state)
{
	struct ivy_vm *vm = vm_new(1, 0);
	struct ivy_device *dev;
	uint64_t got = 0;
	struct ivy_device_attr get = { .group = IVY_VGIC_GRP_ADDR,
				       .attr = IVY_VGIC_V2_ADDR_TYPE_CPU,
				       .addr = &got };

	(void)state;
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev), 0);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_DIST, 0x08000800), -EINVAL);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_DIST, 1ull << 32), -E2BIG);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_CPU, 0xfffff000), -E2BIG);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_DIST, ~0xfffull), -EINVAL);
	assert_int_equal(set_addr(dev, 7, 0x08000000), -ENXIO);
	assert_int_equal(ivy_device_get_attr(dev, &get), 0);
	assert_int_equal(got, ~0ull);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_DIST, 0x08000000), 0);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_DIST, 0x09000000), -EEXIST);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_CPU, 0x08010000), 0);
	assert_int_equal(ivy_device_get_attr(dev, &get), 0);
	assert_int_equal(got, 0x08010000);
	ivy_vm_close(vm);
}

/* NR_IRQS: range and step; -EBUSY when set twice or after init. */
static void test_nr_irqs_errors(void **state)
{
	static const uint32_t bad[] = { 0, 32, 63, 65, 1056, 96 + 16 };
	struct ivy_vm *vm = vm_new(1, 0);
	struct ivy_device *dev;
	uint32_t v;

	(void)state;
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = bad[i];
		assert_int_equal(attr_u32(dev, true, IVY_VGIC_GRP_NR_IRQS, 0, &v), -EINVAL);
	}
	v = 1024;
	assert_int_equal(attr_u32(dev, true, IVY_VGIC_GRP_NR_IRQS, 0, &v), 0);
	v = 64;
	assert_int_equal(attr_u32(dev, true, IVY_VGIC_GRP_NR_IRQS, 0, &v), -EBUSY);
	assert_int_equal(attr_u32(dev, false, IVY_VGIC_GRP_NR_IRQS, 0, &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(ctrl_init(dev), 0);
	v = 64;
	assert_int_equal(attr_u32(dev, true, IVY_VGIC_GRP_NR_IRQS, 0, &v), -EBUSY);
	v = 4;
	assert_int_equal(attr_u32(dev, true, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_NR_LRS, &v), -EBUSY);
	ivy_vm_close(vm);
}

/* Missing or overlapping frames are reported at the first run; vCPUs after init: -EBUSY. */
static void test_map_errors(void **state)
{
	struct ivy_vm *vm = vm_new(2, 4);
	struct ivy_vcpu *v0 = ivy_vm_vcpu(vm, 0), *v;
	struct ivy_device *dev;
	void *ram = aligned_alloc(4096, 0x10000);

	(void)state;
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev), 0);
	/* Init without addresses is fine (KVM's vgic_init needs none). */
	assert_int_equal(ctrl_init(dev), 0);
	assert_int_equal(ivy_vcpu_create(vm, 2, &v), -EBUSY);
	assert_int_equal(ivy_vcpu_flush(v0), -ENXIO);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_DIST, 0x08000000), 0);
	assert_int_equal(ivy_vcpu_flush(v0), -ENXIO);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_CPU, 0x07fff000), 0);
	assert_int_equal(ivy_vcpu_flush(v0), -EINVAL);
	ivy_vm_close(vm);

	/* A frame over RAM. */
	vm = vm_new(1, 0);
	assert_int_equal(ivy_vm_add_ram(vm, 0x08010000, 0x10000, ram), 0);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev), 0);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_DIST, 0x08000000), 0);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_CPU, 0x08010000), 0);
	assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, 0)), -EEXIST);
	ivy_vm_close(vm);

	/* v2m range beyond the IRQs. */
	vm = vm_new(1, 0);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev), 0);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_DIST, 0x08000000), 0);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_CPU, 0x08010000), 0);
	assert_int_equal(set_addr(dev, IVY_VGIC_V2_ADDR_TYPE_V2M, 0x08020000), 0);
	{
		uint32_t n = 128;

		assert_int_equal(attr_u32(dev, true, IVY_VGIC_GRP_NR_IRQS, 0, &n), 0);
	}
	assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, 0)), -EINVAL);
	{
		uint32_t base = 64, nr = 64;

		assert_int_equal(
			attr_u32(dev, true, IVY_VGIC_GRP_V2M, IVY_VGIC_V2M_SPI_BASE, &base), 0);
		assert_int_equal(attr_u32(dev, true, IVY_VGIC_GRP_V2M, IVY_VGIC_V2M_NR_SPIS, &nr),
				 0);
	}
	assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, 0)), 0);
	{
		uint32_t base = 40;

		assert_int_equal(
			attr_u32(dev, true, IVY_VGIC_GRP_V2M, IVY_VGIC_V2M_SPI_BASE, &base),
			-EBUSY);
	}
	ivy_vm_close(vm);
	free(ram);
}

/* Register access: bad vCPU, offsets, values; -EBUSY while a vCPU is loaded. */
static void test_regs_errors(void **state)
{
	static const struct {
		uint32_t group;
		uint32_t offset;
		uint32_t val;
		int err;
	} cases[] = {
		{ IVY_VGIC_GRP_DIST_REGS, 0x00c, 0, -ENXIO },	   /* reserved */
		{ IVY_VGIC_GRP_DIST_REGS, 0x102, 0, -ENXIO },	   /* misaligned */
		{ IVY_VGIC_GRP_DIST_REGS, 0x000, 4, -EINVAL },	   /* CTLR reserved bit */
		{ IVY_VGIC_GRP_DIST_REGS, 0x004, 0, -EINVAL },	   /* TYPER is read-only */
		{ IVY_VGIC_GRP_DIST_REGS, 0x428, 0x01, -EINVAL },  /* priority low bits */
		{ IVY_VGIC_GRP_DIST_REGS, 0x828, 0x04, -EINVAL },  /* absent target CPU */
		{ IVY_VGIC_GRP_DIST_REGS, 0x800, 0x03, -EINVAL },  /* two SGI active sources */
		{ IVY_VGIC_GRP_DIST_REGS, 0x81c, 0x02, -EINVAL },  /* PPI target not own */
		{ IVY_VGIC_GRP_DIST_REGS, 0xc00, 0, -EINVAL },	   /* SGIs are edge */
		{ IVY_VGIC_GRP_DIST_REGS, 0xc04, 0x2, -EINVAL },   /* PPIs are level */
		{ IVY_VGIC_GRP_DIST_REGS, 0xc08, 0x1, -EINVAL },   /* reserved config bit */
		{ IVY_VGIC_GRP_DIST_REGS, 0xf20, 0x4, -EINVAL },   /* absent SGI source */
		{ IVY_VGIC_GRP_CPU_REGS, 0x00, 1u << 5, -EINVAL }, /* CTLR reserved bit */
		{ IVY_VGIC_GRP_CPU_REGS, 0x04, 0x07, -EINVAL },	   /* PMR low bits */
		{ IVY_VGIC_GRP_CPU_REGS, 0x08, 1, -EINVAL },	   /* BPR below 2 */
		{ IVY_VGIC_GRP_CPU_REGS, 0x1c, 2, -EINVAL },	   /* ABPR below 3 */
		{ IVY_VGIC_GRP_CPU_REGS, 0xe0, 1, -EINVAL },	   /* NSAPR0 not within APR0 */
		{ IVY_VGIC_GRP_CPU_REGS, 0x0c, 0, -ENXIO },	   /* IAR: no host access */
		{ IVY_VGIC_GRP_CPU_REGS, 0xfc, 0, -EINVAL },	   /* IIDR read-only */
		{ IVY_VGIC_GRP_CPU_REGS, 0x2000, 0, -ENXIO },	   /* beyond the frame */
	};
	struct gic g;
	uint32_t v, before;

	(void)state;
	gic_new(&g, 1, 0, 0);
	/* Loaded vCPUs: save/restore refused. */
	assert_int_equal(attr_u32(g.dev, false, IVY_VGIC_GRP_DIST_REGS, 0, &v), -EBUSY);
	ivy_vcpu_sync(g.vcpu[0]);
	assert_int_equal(attr_u32(g.dev, false, IVY_VGIC_GRP_DIST_REGS, 1ull << 32, &v), -EINVAL);
	assert_int_equal(attr_u32(g.dev, false, IVY_VGIC_GRP_DIST_REGS, 1ull << 40, &v), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t attr = cases[i].offset;
		struct ivy_device_attr a = { .group = cases[i].group, .attr = attr, .addr = &v };

		before = 0;
		(void)attr_u32(g.dev, false, cases[i].group, attr, &before);
		v = cases[i].val;
		assert_int_equal(attr_u32(g.dev, true, cases[i].group, attr, &v), cases[i].err);
		/* Unchanged state. */
		if (cases[i].err != -ENXIO) {
			assert_int_equal(attr_u32(g.dev, false, cases[i].group, attr, &v), 0);
			assert_int_equal(v, before);
			assert_int_equal(ivy_device_has_attr(g.dev, &a), 0);
		} else {
			assert_int_equal(ivy_device_has_attr(g.dev, &a), -ENXIO);
		}
	}
	/* Unknown groups and attributes. */
	assert_int_equal(attr_u32(g.dev, true, 99, 0, &v), -ENXIO);
	assert_int_equal(attr_u32(g.dev, true, IVY_VGIC_GRP_CTRL, 5, &v), -ENXIO);
	assert_int_equal(attr_u32(g.dev, true, IVY_VGIC_GRP_REDIST_REGS, 0, &v), -ENXIO);
	assert_int_equal(attr_u32(g.dev, true, IVY_VGIC_GRP_LEVEL_INFO, 1ull << 10, &v), -EINVAL);
	assert_int_equal(attr_u32(g.dev, true, IVY_VGIC_GRP_LEVEL_INFO, 33, &v), -EINVAL);
	{
		struct ivy_device_attr a = { .group = IVY_VGIC_GRP_ADDR, .attr = 0, .addr = NULL };

		assert_int_equal(ivy_device_set_attr(g.dev, &a), -EFAULT);
		a.flags = 1;
		a.addr = &v;
		assert_int_equal(ivy_device_set_attr(g.dev, &a), -EINVAL);
	}
	gic_free(&g);
}

/* Injection errors. */
static void test_inject_errors(void **state)
{
	struct ivy_vm *vm = vm_new(1, 0);
	struct ivy_device *dev;

	(void)state;
	assert_int_equal(ivy_irq_line(vm, 40, 0, true), -ENODEV);
	assert_int_equal(ivy_vcpu_flush(ivy_vm_vcpu(vm, 0)), -ENODEV);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &dev), 0);
	assert_int_equal(ivy_irq_line(vm, 1, 0, true), -EINVAL);
	assert_int_equal(ivy_irq_line(vm, 16, 3, true), -EINVAL);
	/* Injection initialises the GIC (as KVM does for GICv2): no more vCPUs. */
	assert_int_equal(ivy_irq_line(vm, 40, 0, true), 0);
	{
		struct ivy_vcpu *v;
		uint32_t n = 64;

		assert_int_equal(ivy_vcpu_create(vm, 1, &v), -EINVAL); /* max_vcpus is 1 */
		assert_int_equal(attr_u32(dev, true, IVY_VGIC_GRP_NR_IRQS, 0, &n), -EBUSY);
	}
	assert_int_equal(ivy_irq_line(vm, 256, 0, true), -EINVAL);
	ivy_vm_close(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_errors),  cmocka_unit_test(test_addr_errors),
		cmocka_unit_test(test_nr_irqs_errors), cmocka_unit_test(test_map_errors),
		cmocka_unit_test(test_regs_errors),    cmocka_unit_test(test_inject_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
