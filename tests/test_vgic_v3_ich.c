/* SPDX-License-Identifier: MIT */
/*
 * The GICv3 hypervisor-interface model (ICH_*_EL2): list registers in the
 * GICv3 format after flush and after the guest's acknowledge and EOI through
 * the ICC registers, the maintenance registers, ICH_VMCR_EL2 as the guest's
 * CPU interface state, a save -> fresh VM -> restore round trip, and errors.
 */
#include "vgic_testutil.h"

#include "gic/vgic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DIST	 0x08000000ull
#define REDIST	 0x080a0000ull
#define SGI_BASE (REDIST + 0x10000)
#define RAM	 0x40000000ull
#define RAM_SIZE 0x20000ull
#define PROP	 RAM
#define PEND	 (RAM + 0x10000)

#define ICC_PMR	    IVY_SYSREG(3, 0, 4, 6, 0)
#define ICC_IAR0    IVY_SYSREG(3, 0, 12, 8, 0)
#define ICC_EOIR0   IVY_SYSREG(3, 0, 12, 8, 1)
#define ICC_BPR0    IVY_SYSREG(3, 0, 12, 8, 3)
#define ICC_RPR	    IVY_SYSREG(3, 0, 12, 11, 3)
#define ICC_IAR1    IVY_SYSREG(3, 0, 12, 12, 0)
#define ICC_EOIR1   IVY_SYSREG(3, 0, 12, 12, 1)
#define ICC_BPR1    IVY_SYSREG(3, 0, 12, 12, 3)
#define ICC_CTLR    IVY_SYSREG(3, 0, 12, 12, 4)
#define ICC_IGRPEN0 IVY_SYSREG(3, 0, 12, 12, 6)
#define ICC_IGRPEN1 IVY_SYSREG(3, 0, 12, 12, 7)

#define LR_STATE(lr) ((unsigned)((lr) >> 62))
#define LR_GROUP(lr) ((unsigned)((lr) >> 60) & 1)
#define LR_PRIO(lr)  ((unsigned)((lr) >> 48) & 0xff)
#define LR_EOI(lr)   ((unsigned)((lr) >> 41) & 1)
#define LR_INTID(lr) ((uint32_t)(lr))

#define VMCR_VENG0   (1ull << 0)
#define VMCR_VENG1   (1ull << 1)
#define VMCR_VACKCTL (1ull << 2)
#define VMCR_VFIQEN  (1ull << 3)
#define VMCR_VEOIM   (1ull << 9)
#define VMCR(bpr1, bpr0, pmr) \
	(((uint64_t)(bpr1) << 18) | ((uint64_t)(bpr0) << 21) | ((uint64_t)(pmr) << 24))

struct ich_vm {
	struct ivy_vm *vm;
	struct ivy_device *dev;
	struct ivy_vcpu *v;
	uint8_t *ram;
};

static uint64_t sysreg_get(struct ivy_vcpu *v, uint32_t enc)
{
	uint64_t val = 0;

	assert_int_equal(ivy_vcpu_sysreg(v, enc, false, &val), 0);
	return val;
}

static void sysreg_set(struct ivy_vcpu *v, uint32_t enc, uint64_t val)
{
	assert_int_equal(ivy_vcpu_sysreg(v, enc, true, &val), 0);
}

static uint64_t ich(struct ivy_vcpu *v, uint32_t reg)
{
	uint64_t val = 0;

	assert_int_equal(ivy_vgic_v3_ich_read(v, reg, &val), 0);
	return val;
}

/* A GICv3 VM with one vCPU, flushed once, distributor groups enabled; no CPU interface setup. */
static void ich_vm_new(struct ich_vm *t, uint32_t nr_lrs)
{
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_ADDR };
	uint64_t addr;

	t->vm = test_vm_new(1);
	t->v = ivy_vm_vcpu(t->vm, 0);
	t->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(t->ram);
	memset(t->ram, 0, RAM_SIZE);
	assert_int_equal(ivy_vm_add_ram(t->vm, RAM, RAM_SIZE, t->ram), 0);
	assert_int_equal(ivy_device_create(t->vm, IVY_DEV_TYPE_ARM_VGIC_V3, &t->dev), 0);
	a.addr = &addr;
	addr = DIST;
	a.attr = IVY_VGIC_V3_ADDR_TYPE_DIST;
	assert_int_equal(ivy_device_set_attr(t->dev, &a), 0);
	addr = REDIST;
	a.attr = IVY_VGIC_V3_ADDR_TYPE_REDIST;
	assert_int_equal(ivy_device_set_attr(t->dev, &a), 0);
	if (nr_lrs) {
		a = (struct ivy_device_attr){ .group = IVY_VGIC_GRP_CTRL,
					      .attr = IVY_VGIC_CTRL_NR_LRS,
					      .addr = &nr_lrs };
		assert_int_equal(ivy_device_set_attr(t->dev, &a), 0);
	}
	assert_int_equal(ivy_vcpu_flush(t->v), 0);
	test_mmio_write(t->v, DIST, 4, 3);
}

static void ich_vm_free(struct ich_vm *t)
{
	ivy_vm_close(t->vm);
	free(t->ram);
}

/* The guest's CPU interface: everything unmasked, both groups enabled. */
static void guest_cpuif_on(struct ich_vm *t)
{
	sysreg_set(t->v, ICC_PMR, 0xff);
	sysreg_set(t->v, ICC_IGRPEN0, 1);
	sysreg_set(t->v, ICC_IGRPEN1, 1);
}

/* An SPI: enabled, priority, group, edge or level. */
static void spi_setup(struct ich_vm *t, uint32_t intid, uint8_t prio, bool group1, bool edge)
{
	uint32_t bit = 1u << (intid % 32), off = (intid / 32) * 4;
	uint32_t cfg = DIST + 0xc00 + (intid / 16) * 4;

	test_mmio_write(t->v, DIST + 0x80 + off, 4,
			(test_mmio_read(t->v, DIST + 0x80 + off, 4) & ~bit) | (group1 ? bit : 0));
	test_mmio_write(t->v, DIST + 0x400 + intid, 1, prio);
	test_mmio_write(t->v, cfg, 4,
			(test_mmio_read(t->v, cfg, 4) & ~(2u << ((intid % 16) * 2))) |
				((edge ? 2u : 0u) << ((intid % 16) * 2)));
	test_mmio_write(t->v, DIST + 0x100 + off, 4, bit);
}

static void reenter(struct ich_vm *t)
{
	ivy_vcpu_sync(t->v);
	assert_int_equal(ivy_vcpu_flush(t->v), 0);
}

/* The LR holding intid (-1 if none) and its value. */
static int find_lr(struct ich_vm *t, uint32_t intid, uint64_t *lr)
{
	for (uint32_t n = 0; n < 4; n++) {
		*lr = ich(t->v, IVY_ICH_LR_EL2(n));
		if (LR_STATE(*lr) && LR_INTID(*lr) == intid)
			return (int)n;
	}
	return -1;
}

/* Pending SPIs, a PPI and an LPI appear in the LRs in GICv3 format; acknowledges make them active. */
static void test_lrs_after_flush(void **state)
{
	struct ich_vm t;
	struct vgic_irq *lpi;
	uint64_t lr;
	int n40, n41, n23, nlpi;

	(void)state;
	ich_vm_new(&t, 0);
	guest_cpuif_on(&t);
	spi_setup(&t, 40, 0x80, true, false);		    /* level, Group 1 */
	spi_setup(&t, 41, 0x40, false, true);		    /* edge, Group 0 */
	test_mmio_write(t.v, SGI_BASE + 0x80, 4, 1u << 23); /* PPI 23: Group 1 (level) */
	test_mmio_write(t.v, SGI_BASE + 0x400 + 23, 1, 0xa0);
	test_mmio_write(t.v, SGI_BASE + 0x100, 4, 1u << 23);
	/* LPI 8192: priority 0xc0, enabled; LPIs enabled at the redistributor. */
	t.ram[0] = 0xc0 | 1;
	test_mmio_write(t.v, REDIST + 0x70, 8, PROP | 15);
	test_mmio_write(t.v, REDIST + 0x78, 8, PEND);
	test_mmio_write(t.v, REDIST, 4, 1);
	assert_int_equal(vgic_lpi_create(t.vm->vgic, 8192, t.v->vgic, &lpi), 0);
	assert_int_equal(vgic_lpi_inject(t.vm->vgic, lpi), 1);
	assert_int_equal(ivy_irq_line(t.vm, 40, 0, true), 0);
	assert_int_equal(ivy_irq_line(t.vm, 41, 0, true), 0);
	assert_int_equal(ivy_irq_line(t.vm, 23, 0, true), 0);
	reenter(&t);

	n40 = find_lr(&t, 40, &lr);
	assert_true(n40 >= 0);
	assert_int_equal(LR_STATE(lr), 1);
	assert_int_equal(LR_PRIO(lr), 0x80);
	assert_int_equal(LR_GROUP(lr), 1);
	assert_int_equal(LR_EOI(lr), 1);
	assert_int_equal(lr & ~(0xffffffffull | (1ull << 41) | (0xffull << 48) | (1ull << 60) |
				(3ull << 62)),
			 0); /* HW 0, nothing else */
	n41 = find_lr(&t, 41, &lr);
	assert_true(n41 >= 0);
	assert_int_equal(LR_STATE(lr), 1);
	assert_int_equal(LR_PRIO(lr), 0x40);
	assert_int_equal(LR_GROUP(lr), 0);
	assert_int_equal(LR_EOI(lr), 0);
	n23 = find_lr(&t, 23, &lr);
	assert_true(n23 >= 0);
	assert_int_equal(LR_PRIO(lr), 0xa0);
	assert_int_equal(LR_GROUP(lr), 1);
	assert_int_equal(LR_EOI(lr), 1);
	nlpi = find_lr(&t, 8192, &lr);
	assert_true(nlpi >= 0);
	assert_int_equal(LR_STATE(lr), 1);
	assert_int_equal(LR_PRIO(lr), 0xc0);
	assert_int_equal(LR_GROUP(lr), 1);
	assert_int_equal(LR_EOI(lr), 0);
	/* All four LRs in use: none empty. */
	assert_int_equal(ich(t.v, IVY_ICH_ELRSR_EL2), 0);
	assert_int_equal(ich(t.v, IVY_ICH_EISR_EL2), 0);

	/* The guest acknowledges: the LRs read active, the active priorities follow. */
	assert_int_equal(sysreg_get(t.v, ICC_IAR1), 40);
	assert_int_equal(LR_STATE(ich(t.v, IVY_ICH_LR_EL2(n40))), 2);
	assert_int_equal(ich(t.v, IVY_ICH_AP1R0_EL2), 1u << (0x80 >> 3));
	assert_int_equal(sysreg_get(t.v, ICC_IAR0), 41);
	assert_int_equal(LR_STATE(ich(t.v, IVY_ICH_LR_EL2(n41))), 2);
	assert_int_equal(ich(t.v, IVY_ICH_AP0R0_EL2), 1u << (0x40 >> 3));
	assert_int_equal(LR_STATE(ich(t.v, IVY_ICH_LR_EL2(n23))), 1);
	assert_int_equal(LR_STATE(ich(t.v, IVY_ICH_LR_EL2(nlpi))), 1);
	vgic_lpi_release(t.vm->vgic, lpi);
	ich_vm_free(&t);
}

/* EOI of a level interrupt: EISR and the EOI maintenance bit; the LR is not empty until sync. */
static void test_eoi_maintenance(void **state)
{
	struct ich_vm t;
	uint64_t lr;
	int n;

	(void)state;
	ich_vm_new(&t, 0);
	guest_cpuif_on(&t);
	spi_setup(&t, 40, 0x80, true, false);
	assert_int_equal(ivy_irq_line(t.vm, 40, 0, true), 0);
	reenter(&t);
	n = find_lr(&t, 40, &lr);
	assert_int_equal(n, 0);
	assert_int_equal(ich(t.v, IVY_ICH_ELRSR_EL2), 0xe);
	assert_int_equal(ich(t.v, IVY_ICH_MISR_EL2), 0);
	assert_int_equal(sysreg_get(t.v, ICC_IAR1), 40);
	assert_int_equal(ich(t.v, IVY_ICH_EISR_EL2), 0);
	sysreg_set(t.v, ICC_EOIR1, 40);
	lr = ich(t.v, IVY_ICH_LR_EL2(0));
	assert_int_equal(LR_STATE(lr), 0);
	assert_int_equal(LR_EOI(lr), 1);
	assert_int_equal(ich(t.v, IVY_ICH_EISR_EL2), 1);
	assert_int_equal(ich(t.v, IVY_ICH_ELRSR_EL2), 0xe); /* an LR waiting for EOI is not empty */
	assert_int_equal(ich(t.v, IVY_ICH_MISR_EL2) & 1, 1);
	assert_int_equal(ich(t.v, IVY_ICH_AP1R0_EL2), 0);
	/* NPIE: no pending LR is another maintenance condition. */
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_HCR_EL2, 1 | 8), 0);
	assert_int_equal(ich(t.v, IVY_ICH_MISR_EL2), 1 | 8);
	/* The line is still high: after sync it is pending again, and EISR clear. */
	reenter(&t);
	assert_int_equal(ich(t.v, IVY_ICH_EISR_EL2), 0);
	assert_int_equal(LR_STATE(ich(t.v, IVY_ICH_LR_EL2(0))), 1);
	assert_int_equal(ich(t.v, IVY_ICH_MISR_EL2), 0);
	ich_vm_free(&t);
}

/* ICH_VMCR_EL2 is the guest's ICC_PMR/BPR0/BPR1/IGRPEN0/IGRPEN1/CTLR.EOImode, both ways. */
static void test_vmcr(void **state)
{
	struct ich_vm t;
	uint64_t vmcr, bad[] = {
		VMCR_VENG0 | VMCR(3, 2, 0x80),		       /* VFIQEn clear (RES1) */
		VMCR_VFIQEN | VMCR_VACKCTL | VMCR(3, 2, 0x80), /* VAckCtl set (RES0) */
		VMCR_VFIQEN | VMCR(3, 2, 0x84),		       /* VPMR below 5 bits */
		VMCR_VFIQEN | VMCR(3, 1, 0x80),		       /* VBPR0 < 2 */
		VMCR_VFIQEN | VMCR(2, 2, 0x80),		       /* VBPR1 < 3 */
		VMCR_VFIQEN | VMCR(3, 2, 0x80) | (1ull << 5),  /* reserved */
		VMCR_VFIQEN | VMCR(3, 2, 0x80) | (1ull << 32), /* reserved */
	};

	(void)state;
	ich_vm_new(&t, 0);
	/* Reset: groups disabled, PMR 0, minimum binary points; Group 0 is always FIQ. */
	assert_int_equal(ich(t.v, IVY_ICH_VMCR_EL2), VMCR_VFIQEN | VMCR(3, 2, 0));
	sysreg_set(t.v, ICC_PMR, 0xf0);
	sysreg_set(t.v, ICC_BPR1, 4);
	sysreg_set(t.v, ICC_IGRPEN1, 1);
	sysreg_set(t.v, ICC_CTLR, 2); /* EOImode */
	assert_int_equal(ich(t.v, IVY_ICH_VMCR_EL2),
			 VMCR_VENG1 | VMCR_VFIQEN | VMCR_VEOIM | VMCR(4, 2, 0xf0));
	/* A write changes what the guest reads. */
	vmcr = VMCR_VENG0 | VMCR_VENG1 | VMCR_VFIQEN | VMCR(5, 3, 0x80);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_VMCR_EL2, vmcr), 0);
	assert_int_equal(ich(t.v, IVY_ICH_VMCR_EL2), vmcr);
	assert_int_equal(sysreg_get(t.v, ICC_PMR), 0x80);
	assert_int_equal(sysreg_get(t.v, ICC_BPR1), 5);
	assert_int_equal(sysreg_get(t.v, ICC_BPR0), 3);
	assert_int_equal(sysreg_get(t.v, ICC_IGRPEN0), 1);
	assert_int_equal(sysreg_get(t.v, ICC_IGRPEN1), 1);
	assert_int_equal(sysreg_get(t.v, ICC_CTLR) & 2, 0);
	/* The new mask applies: priority 0x90 is masked by 0x80, 0x70 is not. */
	spi_setup(&t, 40, 0x90, true, true);
	assert_int_equal(ivy_irq_line(t.vm, 40, 0, true), 0);
	reenter(&t);
	assert_int_equal(sysreg_get(t.v, ICC_IAR1), 1023);
	test_mmio_write(t.v, DIST + 0x400 + 40, 1, 0x70);
	reenter(&t);
	assert_int_equal(sysreg_get(t.v, ICC_IAR1), 40);
	/* Values the model cannot hold change nothing. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_VMCR_EL2, bad[i]), -EINVAL);
		assert_int_equal(ich(t.v, IVY_ICH_VMCR_EL2), vmcr);
	}
	ich_vm_free(&t);
}

static const uint32_t saved_regs[] = {
	IVY_ICH_HCR_EL2,   IVY_ICH_VMCR_EL2,  IVY_ICH_AP0R0_EL2, IVY_ICH_AP1R0_EL2,
	IVY_ICH_LR_EL2(0), IVY_ICH_LR_EL2(1), IVY_ICH_LR_EL2(2), IVY_ICH_LR_EL2(3),
	IVY_ICH_VTR_EL2,   IVY_ICH_MISR_EL2,  IVY_ICH_EISR_EL2,	 IVY_ICH_ELRSR_EL2,
};

/*
 * A VMM saves the hypervisor interface (an SPI acknowledged, a higher-priority
 * one pending), and restores it on a fresh VM after its first flush: the guest
 * sees the same running priority and acknowledges the same INTID, and sync
 * folds the restored LRs into the new distributor.
 */
static void test_save_restore(void **state)
{
	struct ich_vm a, b;
	uint64_t saved[sizeof(saved_regs) / sizeof(saved_regs[0])];

	(void)state;
	ich_vm_new(&a, 0);
	guest_cpuif_on(&a);
	sysreg_set(a.v, ICC_BPR1, 4);
	spi_setup(&a, 40, 0x80, true, true);
	spi_setup(&a, 41, 0x40, true, true);
	assert_int_equal(ivy_irq_line(a.vm, 40, 0, true), 0);
	reenter(&a);
	assert_int_equal(sysreg_get(a.v, ICC_IAR1), 40);
	assert_int_equal(ivy_irq_line(a.vm, 41, 0, true), 0);
	reenter(&a);
	assert_int_equal(sysreg_get(a.v, ICC_RPR), 0x80);
	for (size_t i = 0; i < sizeof(saved) / sizeof(saved[0]); i++)
		saved[i] = ich(a.v, saved_regs[i]);
	assert_int_not_equal(saved[3], 0); /* AP1R0 */

	ich_vm_new(&b, 0);
	spi_setup(&b, 40, 0x80, true, true);
	spi_setup(&b, 41, 0x40, true, true);
	reenter(&b);
	assert_int_equal(sysreg_get(b.v, ICC_IAR1), 1023);
	/* Writable registers first; the read-only ones then accept their saved values. */
	for (size_t i = 0; i < sizeof(saved) / sizeof(saved[0]); i++)
		assert_int_equal(ivy_vgic_v3_ich_write(b.v, saved_regs[i], saved[i]), 0);
	for (size_t i = 0; i < sizeof(saved) / sizeof(saved[0]); i++)
		assert_int_equal(ich(b.v, saved_regs[i]), saved[i]);
	assert_int_equal(sysreg_get(b.v, ICC_PMR), 0xf8);
	assert_int_equal(sysreg_get(b.v, ICC_BPR1), 4);
	assert_int_equal(sysreg_get(b.v, ICC_RPR), 0x80);
	assert_int_equal(sysreg_get(b.v, ICC_IAR1), 41);
	/* Both are active now, in the restored VM's distributor after sync. */
	ivy_vcpu_sync(b.v);
	assert_int_equal(test_mmio_read(b.v, DIST + 0x304, 4), 3u << 8);
	assert_int_equal(ivy_vcpu_flush(b.v), 0);
	sysreg_set(b.v, ICC_EOIR1, 41);
	sysreg_set(b.v, ICC_EOIR1, 40);
	assert_int_equal(sysreg_get(b.v, ICC_RPR), 0xff);
	reenter(&b);
	assert_int_equal(test_mmio_read(b.v, DIST + 0x304, 4), 0);
	assert_int_equal(test_mmio_read(b.v, DIST + 0x204, 4), 0);
	ich_vm_free(&a);
	ich_vm_free(&b);
}

/* Every error: nothing changes. */
static void test_errors(void **state)
{
	struct ich_vm t, two;
	struct gic v2;
	struct ivy_vm *bare;
	struct ivy_device *dev;
	uint64_t val = 0, lr0, lr_ok;
	static const uint64_t bad_lr[] = {
		(1ull << 62) | (1ull << 61) | 40,    /* HW */
		(1ull << 62) | 300,		     /* beyond nr_irqs */
		(1ull << 62) | 1020,		     /* special */
		(1ull << 62) | 8191,		     /* neither SPI nor LPI */
		(1ull << 62) | 65536,		     /* beyond 16 ID bits */
		(1ull << 62) | (0x81ull << 48) | 40, /* priority below 5 bits */
		(1ull << 62) | (1ull << 40) | 40,    /* pINTID bits with HW 0 */
		(1ull << 62) | (1ull << 59) | 40,    /* NMI, reserved here */
		(1ull << 62) | (1ull << 45) | 40,    /* reserved */
	};

	(void)state;
	/* No GIC; a GICv3 not initialised yet. */
	bare = test_vm_new(1);
	assert_int_equal(ivy_vgic_v3_ich_read(ivy_vm_vcpu(bare, 0), IVY_ICH_HCR_EL2, &val),
			 -ENODEV);
	assert_int_equal(ivy_device_create(bare, IVY_DEV_TYPE_ARM_VGIC_V3, &dev), 0);
	assert_int_equal(ivy_vgic_v3_ich_read(ivy_vm_vcpu(bare, 0), IVY_ICH_HCR_EL2, &val),
			 -ENODEV);
	assert_int_equal(ivy_vgic_v3_ich_write(ivy_vm_vcpu(bare, 0), IVY_ICH_HCR_EL2, 1), -ENODEV);
	ivy_vm_close(bare);
	/* An initialised GICv2. */
	gic_new(&v2, 1, 0, 0);
	assert_int_equal(ivy_vgic_v3_ich_read(v2.vcpu[0], IVY_ICH_HCR_EL2, &val), -ENODEV);
	gic_free(&v2);

	ich_vm_new(&t, 0);
	assert_int_equal(ivy_vgic_v3_ich_read(NULL, IVY_ICH_HCR_EL2, &val), -EINVAL);
	assert_int_equal(ivy_vgic_v3_ich_read(t.v, IVY_ICH_HCR_EL2, NULL), -EINVAL);
	assert_int_equal(ivy_vgic_v3_ich_write(NULL, IVY_ICH_HCR_EL2, 1), -EINVAL);
	/* Unknown registers: not ICH, AP0R1 (PREbits 5), LR4 with 4 LRs, beyond 16 bits, ICC. */
	val = 7;
	assert_int_equal(ivy_vgic_v3_ich_read(t.v, 0, &val), -ENXIO);
	assert_int_equal(ivy_vgic_v3_ich_read(t.v, IVY_SYSREG(3, 4, 12, 8, 1), &val), -ENXIO);
	assert_int_equal(ivy_vgic_v3_ich_read(t.v, IVY_SYSREG(3, 4, 12, 9, 3), &val), -ENXIO);
	assert_int_equal(ivy_vgic_v3_ich_read(t.v, IVY_ICH_LR_EL2(4), &val), -ENXIO);
	assert_int_equal(ivy_vgic_v3_ich_read(t.v, IVY_ICH_LR_EL2(15), &val), -ENXIO);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_LR_EL2(4), 0), -ENXIO);
	assert_int_equal(ivy_vgic_v3_ich_read(t.v, 0x10000 | IVY_ICH_HCR_EL2, &val), -ENXIO);
	assert_int_equal(ivy_vgic_v3_ich_read(t.v, IVY_SYSREG(3, 0, 12, 12, 0), &val), -ENXIO);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_SYSREG(3, 4, 12, 11, 4), 0), -ENXIO);
	assert_int_equal(val, 7);

	/* LRs: values the model cannot hold. */
	lr0 = ich(t.v, IVY_ICH_LR_EL2(0));
	for (size_t i = 0; i < sizeof(bad_lr) / sizeof(bad_lr[0]); i++) {
		assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_LR_EL2(0), bad_lr[i]), -EINVAL);
		assert_int_equal(ich(t.v, IVY_ICH_LR_EL2(0)), lr0);
		assert_int_equal(ich(t.v, IVY_ICH_ELRSR_EL2), 0xf);
	}
	/* What it can: an SGI, an SPI, an LPI (existing or not), read back as written. */
	lr_ok = (1ull << 62) | (1ull << 60) | (0xf8ull << 48) | (1ull << 41) | 255;
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_LR_EL2(2), lr_ok), 0);
	assert_int_equal(ich(t.v, IVY_ICH_LR_EL2(2)), lr_ok);
	assert_int_equal(ich(t.v, IVY_ICH_LR_EL2(1)), 0);
	assert_int_equal(ich(t.v, IVY_ICH_ELRSR_EL2), 0xb);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_LR_EL2(0), (2ull << 62) | 65535), 0);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_LR_EL2(1), (1ull << 62) | 5), 0);
	assert_int_equal(ich(t.v, IVY_ICH_LR_EL2(1)), (1ull << 62) | 5);

	/* HCR: trap controls and reserved bits. */
	val = ich(t.v, IVY_ICH_HCR_EL2);
	assert_int_equal(val, 1);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_HCR_EL2, 1 | (1u << 10)), -EINVAL);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_HCR_EL2, 1 | (1u << 14)), -EINVAL);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_HCR_EL2, 1 | (1ull << 32)), -EINVAL);
	assert_int_equal(ich(t.v, IVY_ICH_HCR_EL2), 1);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_HCR_EL2, 0xff | (3u << 27)), 0);
	assert_int_equal(ich(t.v, IVY_ICH_HCR_EL2), 0xff | (3u << 27));

	/* APRs: a bit cannot belong to both groups; bits beyond 32 group priorities. */
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_AP0R0_EL2, 0x11), 0);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_AP1R0_EL2, 0x110), -EINVAL);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_AP1R0_EL2, 1ull << 32), -EINVAL);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_AP1R0_EL2, 0x100), 0);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_AP0R0_EL2, 0x101), -EINVAL);
	assert_int_equal(ich(t.v, IVY_ICH_AP0R0_EL2), 0x11);
	assert_int_equal(ich(t.v, IVY_ICH_AP1R0_EL2), 0x100);
	assert_int_equal(sysreg_get(t.v, ICC_RPR), 0); /* bit 0: group priority 0 */

	/* Read-only registers take their own value only. */
	val = ich(t.v, IVY_ICH_VTR_EL2);
	assert_int_equal(val, 3 | (1u << 21) | (4u << 26) | (4u << 29));
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_VTR_EL2, val), 0);
	assert_int_equal(
		ivy_vgic_v3_ich_write(t.v, IVY_ICH_MISR_EL2, ich(t.v, IVY_ICH_MISR_EL2) ^ 1),
		-EINVAL);
	assert_int_equal(ivy_vgic_v3_ich_write(t.v, IVY_ICH_ELRSR_EL2, 0xf), -EINVAL);
	/* A VM with 2 LRs refuses the 4-LR VTR, and has no LR2. */
	ich_vm_new(&two, 2);
	assert_int_equal(ich(two.v, IVY_ICH_VTR_EL2) & 0x1f, 1);
	assert_int_equal(ivy_vgic_v3_ich_write(two.v, IVY_ICH_VTR_EL2, val), -EINVAL);
	assert_int_equal(ivy_vgic_v3_ich_write(two.v, IVY_ICH_LR_EL2(2), 0), -ENXIO);
	ich_vm_free(&two);
	ich_vm_free(&t);
}

static void test_table(void **state)
{
	(void)state;
	assert_int_equal(vgic_frame_check(&vgic_v3_ich_frame), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lrs_after_flush),
		cmocka_unit_test(test_eoi_maintenance),
		cmocka_unit_test(test_vmcr),
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
