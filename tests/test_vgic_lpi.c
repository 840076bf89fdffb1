/* SPDX-License-Identifier: MIT */
/*
 * LPIs on the GICv3 core, as the ITS will use them: configuration from the
 * redistributor's property table (and INVLPIR/INVALLR), the pending table read
 * when EnableLPIs is set, LPIs dropped while it is clear, delivery and
 * acknowledge through the ICC registers, moving, and reference counting.
 */
#include "testutil.h"

#include "gic/vgic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DIST	  0x08000000ull
#define REDIST	  0x080a0000ull
#define RAM	  0x40000000ull
#define RAM_SIZE  0x100000ull
#define PROP	  RAM
#define PEND	  (RAM + 0x10000)
#define RD(n)	  (REDIST + (n)*0x20000ull)
#define ICC_IAR1  IVY_SYSREG(3, 0, 12, 12, 0)
#define ICC_EOIR1 IVY_SYSREG(3, 0, 12, 12, 1)

struct lpi_vm {
	struct ivy_vm *vm;
	struct ivy_device *dev;
	struct vgic_dist *dist;
	uint8_t *ram;
};

static void lpi_vm_new(struct lpi_vm *t)
{
	struct ivy_device *dev;
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_ADDR };
	uint64_t addr;

	t->vm = test_vm_new(2);
	t->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(t->ram);
	memset(t->ram, 0, RAM_SIZE);
	assert_int_equal(ivy_vm_add_ram(t->vm, RAM, RAM_SIZE, t->ram), 0);
	assert_int_equal(ivy_device_create(t->vm, IVY_DEV_TYPE_ARM_VGIC_V3, &dev), 0);
	a.addr = &addr;
	addr = DIST;
	a.attr = IVY_VGIC_V3_ADDR_TYPE_DIST;
	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
	addr = REDIST;
	a.attr = IVY_VGIC_V3_ADDR_TYPE_REDIST;
	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
	for (uint32_t c = 0; c < 2; c++) {
		struct ivy_vcpu *v = ivy_vm_vcpu(t->vm, c);
		uint64_t val = 0xff;

		assert_int_equal(ivy_vcpu_flush(v), 0);
		assert_int_equal(ivy_vcpu_sysreg(v, IVY_SYSREG(3, 0, 4, 6, 0), true, &val), 0);
		val = 1;
		assert_int_equal(ivy_vcpu_sysreg(v, IVY_SYSREG(3, 0, 12, 12, 7), true, &val), 0);
	}
	test_mmio_write(ivy_vm_vcpu(t->vm, 0), DIST, 4, 3);
	t->dist = t->vm->vgic;
	t->dev = dev;
}

static uint64_t ack(struct lpi_vm *t, uint32_t c)
{
	struct ivy_vcpu *v = ivy_vm_vcpu(t->vm, c);
	uint64_t id = 0;

	ivy_vcpu_sync(v);
	assert_int_equal(ivy_vcpu_flush(v), 0);
	assert_int_equal(ivy_vcpu_sysreg(v, ICC_IAR1, false, &id), 0);
	if (id != 1023)
		assert_int_equal(ivy_vcpu_sysreg(v, ICC_EOIR1, true, &id), 0);
	return id;
}

static void test_lpi_tables_and_delivery(void **state)
{
	struct lpi_vm t;
	struct vgic_irq *l0, *l1, *l2;
	struct vgic_cpu *vc1;

	(void)state;
	lpi_vm_new(&t);
	vc1 = ivy_vm_vcpu(t.vm, 1)->vgic;
	t.ram[0] = 0xa0 | 1;			      /* 8192: priority 0xa0, enabled */
	t.ram[1] = 0x80 | 1;			      /* 8193 */
	t.ram[2] = 0x40;			      /* 8194: disabled */
	t.ram[0x10000 + 8192 / 8] = 1u << (8193 % 8); /* 8193 pending in the table */
	test_mmio_write(ivy_vm_vcpu(t.vm, 0), RD(1) + 0x70, 8, PROP | 15);
	test_mmio_write(ivy_vm_vcpu(t.vm, 0), RD(1) + 0x78, 8, PEND);
	assert_int_equal(vgic_lpi_create(t.dist, 8192, vc1, &l0), 0);
	assert_int_equal(vgic_lpi_create(t.dist, 8193, vc1, &l1), 0);
	assert_int_equal(vgic_lpi_create(t.dist, 8194, vc1, &l2), 0);
	assert_int_equal(vgic_lpi_create(t.dist, 100, vc1, &l2), -EINVAL);
	/* LPIs disabled at the redistributor: dropped. */
	assert_int_equal(vgic_lpi_inject(t.dist, l0), 0);
	assert_int_equal(ack(&t, 1), 1023);
	/* Enabling reads the pending table. */
	test_mmio_write(ivy_vm_vcpu(t.vm, 0), RD(1), 4, 1);
	assert_int_equal(ack(&t, 1), 8193);
	assert_int_equal(ack(&t, 1), 1023);
	assert_int_equal(vgic_lpi_inject(t.dist, l0), 1);
	assert_int_equal(vgic_lpi_inject(t.dist, l1), 1);
	assert_int_equal(ack(&t, 1), 8193); /* 0x80 before 0xa0 */
	assert_int_equal(ack(&t, 1), 8192);
	/* Disabled in the table: pending but not delivered until INVLPIR re-reads it. */
	assert_int_equal(vgic_lpi_inject(t.dist, l2), 1);
	assert_int_equal(ack(&t, 1), 1023);
	t.ram[2] = 0x40 | 1;
	assert_int_equal(ack(&t, 1), 1023);
	test_mmio_write(ivy_vm_vcpu(t.vm, 0), RD(1) + 0xa0, 8, 8194);
	assert_int_equal(ack(&t, 1), 8194);
	/* INVALLR re-reads all of them: 8192 disabled now. */
	t.ram[0] = 0xa0;
	test_mmio_write(ivy_vm_vcpu(t.vm, 0), RD(1) + 0xb0, 8, 0);
	assert_int_equal(vgic_lpi_inject(t.dist, l0), 1);
	assert_int_equal(ack(&t, 1), 1023);
	/* Clearing EnableLPIs drops what is pending. */
	assert_int_equal(vgic_lpi_inject(t.dist, l1), 1);
	test_mmio_write(ivy_vm_vcpu(t.vm, 0), RD(1), 4, 0);
	t.ram[0x10000 + 8192 / 8] = 0; /* the table (not written back yet) says nothing pending */
	test_mmio_write(ivy_vm_vcpu(t.vm, 0), RD(1), 4, 1);
	assert_int_equal(ack(&t, 1), 1023);
	/* Moved to vCPU 0, whose redistributor has LPIs disabled: dropped there. */
	vgic_lpi_move(t.dist, l1, ivy_vm_vcpu(t.vm, 0)->vgic);
	assert_int_equal(vgic_lpi_inject(t.dist, l1), 0);
	/* A second mapping of the same INTID is the same LPI. */
	{
		struct vgic_irq *again;

		assert_int_equal(vgic_lpi_create(t.dist, 8192, vc1, &again), 0);
		assert_ptr_equal(again, l0);
		vgic_lpi_release(t.dist, again);
	}
	/* A reference keeps an unmapped LPI alive; the last put frees it. */
	{
		struct vgic_irq *ref = vgic_lpi_get(t.dist, 8192);

		assert_ptr_equal(ref, l0);
		vgic_lpi_release(t.dist, l0);
		vgic_lpi_release(t.dist, l1);
		vgic_lpi_release(t.dist, l2);
		assert_int_equal(ack(&t, 0), 1023); /* prunes the lists */
		assert_int_equal(ack(&t, 1), 1023);
		assert_null(vgic_lpi_get(t.dist, 8193));
		assert_null(vgic_lpi_get(t.dist, 8194));
		vgic_lpi_put(t.dist, ref);
		assert_null(vgic_lpi_get(t.dist, 8192));
	}
	ivy_vm_close(t.vm);
	free(t.ram);
}

/*
 * SAVE_PENDING_TABLES writes pending LPIs into the pending table; a fresh VM
 * whose redistributor points at that memory finds them pending when it enables
 * LPIs (the round trip a snapshot makes).
 */
static void test_lpi_pending_save_restore(void **state)
{
	struct lpi_vm a, b;
	struct vgic_irq *la[3], *lb[3];
	struct ivy_device_attr save = { .group = IVY_VGIC_GRP_CTRL,
					.attr = IVY_VGIC_CTRL_SAVE_PENDING_TABLES };
	uint32_t dummy = 0;

	(void)state;
	lpi_vm_new(&a);
	save.addr = &dummy;
	memset(a.ram, 0xa1, 3); /* 8192-8194 enabled */
	test_mmio_write(ivy_vm_vcpu(a.vm, 0), RD(1) + 0x70, 8, PROP | 15);
	test_mmio_write(ivy_vm_vcpu(a.vm, 0), RD(1) + 0x78, 8, PEND);
	test_mmio_write(ivy_vm_vcpu(a.vm, 0), RD(1), 4, 1);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(
			vgic_lpi_create(a.dist, 8192 + i, ivy_vm_vcpu(a.vm, 1)->vgic, &la[i]), 0);
	assert_int_equal(vgic_lpi_inject(a.dist, la[0]), 1);
	assert_int_equal(vgic_lpi_inject(a.dist, la[2]), 1);
	a.ram[0x10000 + 1024] = 0x02; /* a stale bit for 8193: cleared by the save */
	/* Refused while a vCPU is in the guest. */
	assert_int_equal(ivy_device_set_attr(a.dev, &save), -EBUSY);
	ivy_vcpu_sync(ivy_vm_vcpu(a.vm, 0));
	ivy_vcpu_sync(ivy_vm_vcpu(a.vm, 1));
	assert_int_equal(ivy_device_set_attr(a.dev, &save), 0);
	assert_int_equal(a.ram[0x10000 + 1024], 0x05);

	lpi_vm_new(&b);
	memcpy(b.ram, a.ram, RAM_SIZE);
	test_mmio_write(ivy_vm_vcpu(b.vm, 0), RD(1) + 0x70, 8, PROP | 15);
	test_mmio_write(ivy_vm_vcpu(b.vm, 0), RD(1) + 0x78, 8, PEND);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(
			vgic_lpi_create(b.dist, 8192 + i, ivy_vm_vcpu(b.vm, 1)->vgic, &lb[i]), 0);
	test_mmio_write(ivy_vm_vcpu(b.vm, 0), RD(1), 4, 1);
	assert_int_equal(ack(&b, 1), 8192);
	assert_int_equal(ack(&b, 1), 8194);
	assert_int_equal(ack(&b, 1), 1023);
	for (uint32_t i = 0; i < 3; i++) {
		vgic_lpi_release(a.dist, la[i]);
		vgic_lpi_release(b.dist, lb[i]);
	}
	ivy_vm_close(a.vm);
	ivy_vm_close(b.vm);
	free(a.ram);
	free(b.ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lpi_tables_and_delivery),
		cmocka_unit_test(test_lpi_pending_save_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
