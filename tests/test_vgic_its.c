/* SPDX-License-Identifier: MIT */
/*
 * The ITS wired to the real GICv3: a guest programs its redistributors
 * (PROPBASER, PENDBASER, EnableLPIs) and the ITS command queue in its RAM, a
 * VMM signals MSIs with ivy_signal_msi() or an MSI irqfd, and the guest takes
 * the LPIs through ICC_IAR1_EL1 on the vCPU the ITS routes them to. No fakes.
 */
#include "its_env.h"

#include <ivy/gic.h>
#include <ivy/ioreq.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gic/vgic.h"

#define DIST		   0x08000000ull
#define REDIST		   0x080a0000ull
#define RD(c)		   (REDIST + (uint64_t)(c)*0x20000ull)
#define PROP		   (ENV_RAM_BASE + 0x30000) /* 56 KiB for 16 ID bits */
#define PEND(c)		   (ENV_RAM_BASE + 0x40000 + (uint64_t)(c)*0x10000) /* 8 KiB each */
#define DOORBELL	   (ENV_ITS_BASE + IVY_ITS_TRANSLATER_OFFSET)
#define ICC(crn, crm, op2) IVY_SYSREG(3, 0, crn, crm, op2)
#define ICC_PMR		   ICC(4, 6, 0)
#define ICC_IAR1	   ICC(12, 12, 0)
#define ICC_EOIR1	   ICC(12, 12, 1)
#define ICC_IGRPEN1	   ICC(12, 12, 7)
#define GICR_CTLR	   0x0
#define GICR_PROPBASER	   0x70
#define GICR_PENDBASER	   0x78
#define GICD_TYPER	   0x4
#define MAXC		   4

/* Creation orders of the GICv3 and the ITS. */
enum order { GIC_FIRST, ITS_FIRST, ITS_AFTER_INIT };

struct t {
	struct its_env e; /* vm, vcpu 0, its, ram, its_base, cwriter; rd (fake) unused */
	struct ivy_device *gic;
	uint32_t nr;
};

static struct ivy_vcpu *cpu(struct t *t, uint32_t c)
{
	return ivy_vm_vcpu(t->e.vm, c);
}

static void set_addr(struct ivy_device *dev, uint32_t group, uint64_t type, uint64_t addr)
{
	struct ivy_device_attr a = { .group = group, .attr = type, .addr = &addr };

	assert_int_equal(ivy_device_set_attr(dev, &a), 0);
}

static void create_gic(struct t *t)
{
	assert_int_equal(ivy_device_create(t->e.vm, IVY_DEV_TYPE_ARM_VGIC_V3, &t->gic), 0);
	set_addr(t->gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, DIST);
	set_addr(t->gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST, REDIST);
}

static void create_its(struct t *t)
{
	assert_int_equal(ivy_device_create(t->e.vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &t->e.its), 0);
	set_addr(t->e.its, IVY_ITS_GRP_ADDR, IVY_ITS_ADDR_TYPE, ENV_ITS_BASE);
	t->e.its_base = ENV_ITS_BASE;
}

static void gic_ctrl(struct ivy_device *gic, uint64_t attr)
{
	uint64_t dummy = 0;
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_CTRL, .attr = attr, .addr = &dummy };

	assert_int_equal(ivy_device_set_attr(gic, &a), 0);
}

/* The VM, its RAM, a GICv3 and an ITS created in the given order; nothing programmed. */
static void t_new_bare(struct t *t, uint32_t nr, enum order order)
{
	memset(t, 0, sizeof(*t));
	t->nr = nr;
	t->e.vm = test_vm_new(nr);
	t->e.vcpu = cpu(t, 0);
	t->e.ram = aligned_alloc(4096, ENV_RAM_SIZE);
	assert_non_null(t->e.ram);
	memset(t->e.ram, 0, ENV_RAM_SIZE);
	assert_int_equal(ivy_vm_add_ram(t->e.vm, ENV_RAM_BASE, ENV_RAM_SIZE, t->e.ram), 0);
	if (order == ITS_FIRST)
		create_its(t);
	create_gic(t);
	if (order == GIC_FIRST)
		create_its(t);
	if (order == ITS_AFTER_INIT) {
		gic_ctrl(t->gic, IVY_VGIC_CTRL_INIT);
		assert_int_equal(ivy_vcpu_flush(cpu(t, 0)), 0); /* the GIC is mapped, too */
		create_its(t);
	}
}

static void icc_write(struct t *t, uint32_t c, uint32_t enc, uint64_t v)
{
	assert_int_equal(ivy_vcpu_sysreg(cpu(t, c), enc, true, &v), 0);
}

/* What a guest's GICv3 and ITS drivers do at boot. */
static void guest_boot(struct t *t)
{
	for (uint32_t c = 0; c < t->nr; c++) {
		assert_int_equal(ivy_vcpu_flush(cpu(t, c)), 0);
		icc_write(t, c, ICC_PMR, 0xff);
		icc_write(t, c, ICC_IGRPEN1, 1);
	}
	test_mmio_write(cpu(t, 0), DIST, 4, 2); /* GICD_CTLR.EnableGrp1 */
	/* LPIs 8192..9215: priority 0xa0, enabled. */
	memset(t->e.ram + (PROP - ENV_RAM_BASE), 0xa0 | 1, 1024);
	for (uint32_t c = 0; c < t->nr; c++) {
		test_mmio_write(cpu(t, c), RD(c) + GICR_PROPBASER, 8, PROP | 15);
		test_mmio_write(cpu(t, c), RD(c) + GICR_PENDBASER, 8, PEND(c));
		test_mmio_write(cpu(t, c), RD(c) + GICR_CTLR, 4, 1);
		assert_int_equal(test_mmio_read(cpu(t, c), RD(c) + GICR_CTLR, 4), 1);
	}
	its_env_write(&t->e, GITS_CBASER, 8, (1ull << 63) | ENV_CMDQ | 15);
	its_env_write(&t->e, GITS_BASER(0), 8, (1ull << 63) | ENV_DEVTBL);
	its_env_write(&t->e, GITS_BASER(1), 8, (1ull << 63) | ENV_COLLTBL);
	its_env_write(&t->e, GITS_CTLR, 4, 1);
	assert_int_equal(its_env_read(&t->e, GITS_CTLR, 4) & 1, 1);
	/* Collection c on redistributor c (GITS_TYPER.PTA 0: RDbase is the processor number). */
	for (uint32_t c = 0; c < t->nr; c++)
		cmd_mapc(&t->e, c, c, true);
	assert_int_equal(its_env_nr_errors(&t->e), 0);
}

static void t_new(struct t *t, uint32_t nr, enum order order)
{
	t_new_bare(t, nr, order);
	guest_boot(t);
}

static void t_free(struct t *t)
{
	ivy_vm_close(t->e.vm);
	free(t->e.ram);
}

static int msi(struct t *t, uint32_t dev, uint32_t ev)
{
	return ivy_signal_msi(t->e.vm, DOORBELL, ev, dev);
}

/* A guest exit and re-entry on vCPU c, then ICC_IAR1_EL1 (and ICC_EOIR1_EL1 for a real INTID). */
static uint64_t ack(struct t *t, uint32_t c)
{
	uint64_t id = 0;

	ivy_vcpu_sync(cpu(t, c));
	assert_int_equal(ivy_vcpu_flush(cpu(t, c)), 0);
	assert_int_equal(ivy_vcpu_sysreg(cpu(t, c), ICC_IAR1, false, &id), 0);
	if (id != 1023)
		assert_int_equal(ivy_vcpu_sysreg(cpu(t, c), ICC_EOIR1, true, &id), 0);
	return id;
}

/* Nothing is pending for the guest on any vCPU. */
static void assert_quiet(struct t *t)
{
	for (uint32_t c = 0; c < t->nr; c++)
		assert_int_equal(ack(t, c), 1023);
}

static uint32_t gicd_typer_idbits(struct t *t)
{
	return ((uint32_t)test_mmio_read(cpu(t, 0), DIST + GICD_TYPER, 4) >> 19 & 0x1f) + 1;
}

/* ------------------------------------------------------------------------------------------ */

/*
 * MSIs of two devices over four collections reach the vCPU of each
 * collection, as do INT commands; the MSI call returns 1 when it made the LPI
 * pending and 0 for an unmapped event.
 */
static void test_msi_to_right_vcpu(void **state)
{
	struct t t;

	(void)state;
	t_new(&t, MAXC, GIC_FIRST);
	assert_int_equal(gicd_typer_idbits(&t), 16);
	cmd_mapd(&t.e, 1, 8, true);
	cmd_mapd(&t.e, 2, 8, true);
	for (uint32_t ev = 0; ev < 8; ev++) {
		cmd_mapti(&t.e, 1, ev, 8192 + ev, ev % MAXC);
		cmd_mapti(&t.e, 2, ev, 8300 + ev, (ev + 1) % MAXC);
	}
	assert_int_equal(its_env_nr_errors(&t.e), 0);
	assert_quiet(&t);
	for (uint32_t ev = 0; ev < 8; ev++) {
		assert_int_equal(msi(&t, 1, ev), 1);
		assert_int_equal(ack(&t, ev % MAXC), 8192 + ev);
		assert_int_equal(msi(&t, 2, ev), 1);
		assert_int_equal(ack(&t, (ev + 1) % MAXC), 8300 + ev);
		assert_quiet(&t);
	}
	/* Not mapped: blocked by the guest's configuration. Not an ITS doorbell: -ENODEV. */
	assert_int_equal(msi(&t, 1, 8), 0);
	assert_int_equal(msi(&t, 3, 0), 0);
	assert_int_equal(ivy_signal_msi(t.e.vm, DOORBELL + 4, 0, 1), -ENODEV);
	assert_int_equal(ivy_signal_msi(NULL, DOORBELL, 0, 1), -EINVAL);
	/* Several MSIs before the guest looks: each LPI once, by priority then INTID. */
	t.e.ram[PROP - ENV_RAM_BASE + 2] = 0x80 | 1; /* 8194 more urgent */
	cmd_inv(&t.e, 1, 2);
	assert_int_equal(msi(&t, 1, 6), 1);
	assert_int_equal(msi(&t, 1, 2), 1);
	assert_int_equal(msi(&t, 1, 2), 1);
	assert_int_equal(msi(&t, 1, 6), 1);
	assert_int_equal(ack(&t, 2), 8194);
	assert_int_equal(ack(&t, 2), 8198);
	assert_quiet(&t);
	/* INT does what an MSI does. */
	cmd_int(&t.e, 2, 3);
	assert_int_equal(ack(&t, 0), 8303);
	assert_quiet(&t);
	t_free(&t);
}

/* Configuration in the property table takes effect on INV/INVALL (and INVLPIR), not before. */
static void test_config_and_inv(void **state)
{
	uint8_t *prop;
	struct t t;

	(void)state;
	t_new(&t, 2, GIC_FIRST);
	prop = t.e.ram + (PROP - ENV_RAM_BASE);
	cmd_mapd(&t.e, 5, 4, true);
	cmd_mapti(&t.e, 5, 0, 8200, 1);
	cmd_mapti(&t.e, 5, 1, 8201, 1);
	/* Disabled in the table and invalidated: pending, but not delivered. */
	prop[8] = 0xa0;
	cmd_inv(&t.e, 5, 0);
	assert_int_equal(msi(&t, 5, 0), 1);
	assert_quiet(&t);
	/* Enabled in the table but not invalidated yet: still held. */
	prop[8] = 0xa0 | 1;
	assert_quiet(&t);
	cmd_inv(&t.e, 5, 0);
	assert_int_equal(ack(&t, 1), 8200);
	assert_quiet(&t);
	/* INVALL of the collection re-reads all of its LPIs. */
	prop[8] = prop[9] = 0xa0;
	cmd_invall(&t.e, 1);
	assert_int_equal(msi(&t, 5, 0), 1);
	assert_int_equal(msi(&t, 5, 1), 1);
	assert_quiet(&t);
	prop[8] = prop[9] = 0xa0 | 1;
	cmd_invall(&t.e, 1);
	assert_int_equal(ack(&t, 1), 8200);
	assert_int_equal(ack(&t, 1), 8201);
	/* The redistributor's own GICR_INVLPIR reaches LPIs the ITS mapped. */
	prop[9] = 0xa0;
	test_mmio_write(cpu(&t, 1), RD(1) + 0xa0, 8, 8201);
	assert_int_equal(msi(&t, 5, 1), 1);
	assert_quiet(&t);
	t_free(&t);
}

/*
 * GIC-CHOICES.md: clearing EnableLPIs drops what is pending on that
 * redistributor, and MSIs to it are dropped (0) until it is set again.
 */
static void test_enable_lpis_clear_drops(void **state)
{
	struct t t;

	(void)state;
	t_new(&t, 2, GIC_FIRST);
	cmd_mapd(&t.e, 1, 4, true);
	cmd_mapti(&t.e, 1, 0, 8192, 1);
	cmd_mapti(&t.e, 1, 1, 8193, 0);
	assert_int_equal(msi(&t, 1, 0), 1);
	assert_int_equal(msi(&t, 1, 1), 1);
	test_mmio_write(cpu(&t, 1), RD(1) + GICR_CTLR, 4, 0);
	assert_int_equal(test_mmio_read(cpu(&t, 1), RD(1) + GICR_CTLR, 4), 0);
	assert_int_equal(ack(&t, 1), 1023);
	assert_int_equal(msi(&t, 1, 0), 0);
	cmd_int(&t.e, 1, 0);
	assert_int_equal(ack(&t, 1), 1023);
	/* The other redistributor is not affected. */
	assert_int_equal(ack(&t, 0), 8193);
	/*
	 * Cleared by another vCPU while the LPI sits in vCPU 1's list registers,
	 * not yet acknowledged: dropped from there too when vCPU 1 exits.
	 */
	test_mmio_write(cpu(&t, 1), RD(1) + GICR_CTLR, 4, 1);
	assert_int_equal(msi(&t, 1, 0), 1);
	ivy_vcpu_sync(cpu(&t, 1));
	assert_int_equal(ivy_vcpu_flush(cpu(&t, 1)), 0);
	assert_int_equal(ivy_vcpu_irq_lines(cpu(&t, 1)), IVY_IRQ_LINE_IRQ);
	test_mmio_write(cpu(&t, 0), RD(1) + GICR_CTLR, 4, 0);
	assert_int_equal(ack(&t, 1), 1023);
	/* Set again: the (zero) pending table is read; new MSIs are delivered. */
	test_mmio_write(cpu(&t, 1), RD(1) + GICR_CTLR, 4, 1);
	assert_int_equal(ack(&t, 1), 1023);
	assert_int_equal(msi(&t, 1, 0), 1);
	assert_int_equal(ack(&t, 1), 8192);
	assert_quiet(&t);
	t_free(&t);
}

/* MOVI moves delivery, pending state included, to the new collection's vCPU; MOVALL too. */
static void test_movi_movall(void **state)
{
	struct t t;

	(void)state;
	t_new(&t, 3, GIC_FIRST);
	cmd_mapd(&t.e, 7, 4, true);
	cmd_mapti(&t.e, 7, 0, 8400, 0);
	cmd_mapti(&t.e, 7, 1, 8401, 0);
	assert_int_equal(msi(&t, 7, 0), 1);
	assert_int_equal(ack(&t, 0), 8400);
	/* Pending on vCPU 0, then moved: taken on vCPU 1 only. */
	assert_int_equal(msi(&t, 7, 0), 1);
	cmd_movi(&t.e, 7, 0, 1);
	assert_int_equal(its_env_nr_errors(&t.e), 0);
	assert_int_equal(ack(&t, 0), 1023);
	assert_int_equal(ack(&t, 1), 8400);
	assert_int_equal(msi(&t, 7, 0), 1);
	assert_int_equal(ack(&t, 0), 1023);
	assert_int_equal(ack(&t, 1), 8400);
	/* A move to a redistributor with LPIs disabled drops the pending state. */
	test_mmio_write(cpu(&t, 2), RD(2) + GICR_CTLR, 4, 0);
	assert_int_equal(msi(&t, 7, 0), 1);
	cmd_movi(&t.e, 7, 0, 2);
	test_mmio_write(cpu(&t, 2), RD(2) + GICR_CTLR, 4, 1);
	assert_quiet(&t);
	assert_int_equal(msi(&t, 7, 0), 1);
	assert_int_equal(ack(&t, 2), 8400);
	/* MOVALL 0 -> 2 takes 8401 along, pending. */
	assert_int_equal(msi(&t, 7, 1), 1);
	cmd_movall(&t.e, 0, 2);
	assert_int_equal(ack(&t, 0), 1023);
	assert_int_equal(ack(&t, 2), 8401);
	assert_quiet(&t);
	t_free(&t);
}

/* DISCARD and MAPD V=0 take pending LPIs away, and later MSIs are not translated. */
static void test_discard_unmap(void **state)
{
	struct t t;

	(void)state;
	t_new(&t, 2, GIC_FIRST);
	cmd_mapd(&t.e, 4, 4, true);
	cmd_mapti(&t.e, 4, 0, 8500, 1);
	cmd_mapti(&t.e, 4, 1, 8501, 1);
	cmd_mapti(&t.e, 4, 2, 8502, 0);
	assert_int_equal(msi(&t, 4, 0), 1);
	cmd_discard(&t.e, 4, 0);
	assert_int_equal(msi(&t, 4, 0), 0);
	assert_quiet(&t);
	assert_null(vgic_lpi_get(t.e.vm->vgic, 8500)); /* the LPI is gone */
	/* CLEAR removes the pending state and keeps the mapping. */
	assert_int_equal(msi(&t, 4, 1), 1);
	cmd_clear(&t.e, 4, 1);
	assert_quiet(&t);
	assert_int_equal(msi(&t, 4, 1), 1);
	assert_int_equal(ack(&t, 1), 8501);
	/* MAPD V=0 with LPIs pending on both vCPUs. */
	assert_int_equal(msi(&t, 4, 1), 1);
	assert_int_equal(msi(&t, 4, 2), 1);
	cmd_mapd(&t.e, 4, 4, false);
	assert_int_equal(msi(&t, 4, 1), 0);
	assert_int_equal(msi(&t, 4, 2), 0);
	assert_quiet(&t);
	/* Mapped again, to the same INTID: a fresh LPI, not pending. */
	cmd_mapd(&t.e, 4, 4, true);
	cmd_mapti(&t.e, 4, 1, 8501, 0);
	assert_quiet(&t);
	assert_int_equal(msi(&t, 4, 1), 1);
	assert_int_equal(ack(&t, 0), 8501);
	assert_int_equal(its_env_nr_errors(&t.e), 0);
	t_free(&t);
}

/* Whichever is created first, and an ITS created after the GICv3 is initialised and mapped. */
static void test_creation_orders(void **state)
{
	static const enum order orders[] = { ITS_FIRST, ITS_AFTER_INIT };

	(void)state;
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		struct t t;

		t_new(&t, 2, orders[i]);
		assert_int_equal(gicd_typer_idbits(&t), 16);
		cmd_mapd(&t.e, 1, 2, true);
		cmd_mapti(&t.e, 1, 3, 8192 + 3, 1);
		assert_int_equal(its_env_nr_errors(&t.e), 0);
		assert_int_equal(msi(&t, 1, 3), 1);
		assert_int_equal(ack(&t, 1), 8195);
		assert_quiet(&t);
		t_free(&t);
	}
}

/*
 * KVM has no ITS without a GICv3: on a GICv2 VM creating one fails with
 * -ENODEV; an ITS with no GIC (or whose GICv3 was destroyed) has no
 * redistributors: MAPC fails, MSIs return -ENODEV. Destroying the GICv3 under
 * a busy ITS leaves nothing behind (ASan checks the LPIs are freed).
 */
static void test_needs_gicv3(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	struct ivy_device *gic, *its;
	uint32_t code;
	uint64_t n;
	struct t t;

	(void)state;
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &gic), 0);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &its), -ENODEV);
	assert_int_equal(ivy_device_destroy(gic), 0);
	/* No GIC: the ITS exists but cannot deliver anything. */
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &its), 0);
	set_addr(its, IVY_ITS_GRP_ADDR, IVY_ITS_ADDR_TYPE, ENV_ITS_BASE);
	assert_int_equal(ivy_signal_msi(vm, DOORBELL, 0, 0), -ENODEV);
	assert_int_equal(its_signal_msi(vm, DOORBELL, 0, 0), -ENODEV);
	/* A GICv2 created next leaves it without redistributors. */
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V2, &gic), 0);
	assert_int_equal(ivy_signal_msi(vm, DOORBELL, 0, 0), -ENODEV);
	assert_int_equal(its_signal_msi(vm, DOORBELL, 0, 0), -ENODEV);
	ivy_vm_close(vm);

	/* A GICv3 destroyed under a busy ITS. */
	t_new(&t, 2, GIC_FIRST);
	cmd_mapd(&t.e, 1, 4, true);
	cmd_mapti(&t.e, 1, 0, 8192, 1);
	assert_int_equal(msi(&t, 1, 0), 1);
	assert_int_equal(ivy_device_destroy(t.gic), 0);
	assert_int_equal(its_signal_msi(t.e.vm, DOORBELL, 0, 1), -ENODEV);
	assert_int_equal(ivy_signal_msi(t.e.vm, DOORBELL, 0, 1), -ENODEV);
	cmd_mapc(&t.e, 0, 0, true);
	assert_int_equal(ivy_its_get_errors(t.e.its, &code, &n), 0);
	assert_int_equal(code, 0x010902); /* E_ITS_MAPC_PROCNUM_OOR */
	t_free(&t);
}

/* An irqfd with an MSI route to the ITS's doorbell and a device ID. */
static void test_msi_irqfd(void **state)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct ivy_irqfd cfg = { .fd = efd,
				 .resample_fd = -1,
				 .flags = IVY_IRQFD_F_MSI,
				 .msi_doorbell = DOORBELL,
				 .msi_data = 2,
				 .msi_devid = 9 };
	uint64_t one = 1, id = 1023;
	struct t t;

	(void)state;
	assert_true(efd >= 0);
	t_new(&t, 2, GIC_FIRST);
	assert_int_equal(ivy_ioreq_init(t.e.vm), 0);
	cmd_mapd(&t.e, 9, 4, true);
	cmd_mapti(&t.e, 9, 2, 8600, 1);
	assert_int_equal(ivy_irqfd_assign(t.e.vm, &cfg), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	/* The irqfd is served by another thread: poll the way a vCPU would. */
	for (int i = 0; i < 20000 && id == 1023; i++) {
		id = ack(&t, 1);
		if (id == 1023)
			sched_yield();
	}
	assert_int_equal(id, 8600);
	assert_int_equal(ivy_irqfd_deassign(t.e.vm, efd), 0);
	assert_quiet(&t);
	t_free(&t);
	close(efd);
}

/* ------------------------------------------------------------------------------------------ */
/* Save -> fresh VM -> restore, with LPIs pending.                                           */

static uint64_t rd_attr(struct t *t, uint32_t c, uint32_t off)
{
	uint64_t mpidr = ivy_vcpu_mpidr(cpu(t, c));
	uint64_t aff = (mpidr & 0xffffff) | ((mpidr >> 32) & 0xff) << 24;

	return aff << 32 | off;
}

static uint64_t rd_get64(struct t *t, uint32_t c, uint32_t off)
{
	uint32_t lo, hi;
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_REDIST_REGS, .addr = &lo };

	a.attr = rd_attr(t, c, off);
	assert_int_equal(ivy_device_get_attr(t->gic, &a), 0);
	a.attr = rd_attr(t, c, off + 4);
	a.addr = &hi;
	assert_int_equal(ivy_device_get_attr(t->gic, &a), 0);
	return (uint64_t)hi << 32 | lo;
}

static void rd_set64(struct t *t, uint32_t c, uint32_t off, uint64_t v, bool wide)
{
	uint32_t half = (uint32_t)v;
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_REDIST_REGS, .addr = &half };

	a.attr = rd_attr(t, c, off);
	assert_int_equal(ivy_device_set_attr(t->gic, &a), 0);
	if (!wide)
		return;
	half = (uint32_t)(v >> 32);
	a.attr = rd_attr(t, c, off + 4);
	assert_int_equal(ivy_device_set_attr(t->gic, &a), 0);
}

static uint64_t sysreg_get(struct t *t, uint32_t c, uint32_t enc)
{
	uint64_t v;
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_CPU_SYSREGS,
				     .attr = rd_attr(t, c, enc),
				     .addr = &v };

	assert_int_equal(ivy_device_get_attr(t->gic, &a), 0);
	return v;
}

static void sysreg_set(struct t *t, uint32_t c, uint32_t enc, uint64_t v)
{
	struct ivy_device_attr a = { .group = IVY_VGIC_GRP_CPU_SYSREGS,
				     .attr = rd_attr(t, c, enc),
				     .addr = &v };

	assert_int_equal(ivy_device_set_attr(t->gic, &a), 0);
}

/*
 * The LPI configuration table is the VM's, not the target redistributor's: an
 * LPI mapped to a vCPU that has not programmed its PROPBASER yet takes its
 * configuration from the table the others use (as KVM does), so it is
 * delivered once that vCPU enables LPIs, without an INV.
 */
static void test_config_table_is_per_vm(void **state)
{
	struct t t;

	(void)state;
	t_new_bare(&t, 2, GIC_FIRST);
	for (uint32_t c = 0; c < 2; c++) {
		assert_int_equal(ivy_vcpu_flush(cpu(&t, c)), 0);
		icc_write(&t, c, ICC_PMR, 0xff);
		icc_write(&t, c, ICC_IGRPEN1, 1);
	}
	test_mmio_write(cpu(&t, 0), DIST, 4, 2);
	memset(t.e.ram + (PROP - ENV_RAM_BASE), 0xa0 | 1, 1024);
	/* Only vCPU 0 sets up its redistributor before the ITS maps the LPI. */
	test_mmio_write(cpu(&t, 0), RD(0) + GICR_PROPBASER, 8, PROP | 15);
	test_mmio_write(cpu(&t, 0), RD(0) + GICR_PENDBASER, 8, PEND(0));
	test_mmio_write(cpu(&t, 0), RD(0) + GICR_CTLR, 4, 1);
	its_env_write(&t.e, GITS_CBASER, 8, (1ull << 63) | ENV_CMDQ | 15);
	its_env_write(&t.e, GITS_BASER(0), 8, (1ull << 63) | ENV_DEVTBL);
	its_env_write(&t.e, GITS_BASER(1), 8, (1ull << 63) | ENV_COLLTBL);
	its_env_write(&t.e, GITS_CTLR, 4, 1);
	cmd_mapc(&t.e, 1, 1, true);
	cmd_mapd(&t.e, 1, 8, true);
	cmd_mapti(&t.e, 1, 0, 8192, 1);
	assert_int_equal(its_env_nr_errors(&t.e), 0);
	/* Redistributor 1 has LPIs off: the MSI is dropped. */
	assert_int_equal(msi(&t, 1, 0), 0);
	/* vCPU 1 comes up and enables LPIs; no INV is issued. */
	test_mmio_write(cpu(&t, 1), RD(1) + GICR_PROPBASER, 8, PROP | 15);
	test_mmio_write(cpu(&t, 1), RD(1) + GICR_PENDBASER, 8, PEND(1));
	test_mmio_write(cpu(&t, 1), RD(1) + GICR_CTLR, 4, 1);
	assert_int_equal(msi(&t, 1, 0), 1);
	assert_int_equal(ack(&t, 1), 8192);
	assert_quiet(&t);
	t_free(&t);
}

static void test_save_restore_pending(void **state)
{
	static const uint64_t its_regs[] = { GITS_BASER(0), GITS_BASER(1), GITS_CREADR,
					     GITS_CWRITER };
	uint64_t its_val[sizeof(its_regs) / sizeof(its_regs[0])], cbaser, ctlr;
	uint64_t prop[2], pend[2], icc[2][2];
	uint32_t gicd_ctlr;
	struct ivy_device_attr da = { .group = IVY_VGIC_GRP_DIST_REGS, .addr = &gicd_ctlr };
	struct t a, b;

	(void)state;
	t_new(&a, 2, GIC_FIRST);
	cmd_mapd(&a.e, 1, 4, true);
	cmd_mapd(&a.e, 300, 8, true);
	cmd_mapti(&a.e, 1, 0, 8192, 0);
	cmd_mapti(&a.e, 1, 1, 8193, 1);
	cmd_mapti(&a.e, 300, 17, 9000, 1);
	cmd_mapti(&a.e, 300, 18, 9001, 0);
	/* Pending when the VM stops: 8192 on vCPU 0, 8193 and 9000 on vCPU 1; 9001 was taken. */
	assert_int_equal(msi(&a, 1, 0), 1);
	assert_int_equal(msi(&a, 1, 1), 1);
	assert_int_equal(msi(&a, 300, 17), 1);
	assert_int_equal(msi(&a, 300, 18), 1);
	assert_int_equal(ack(&a, 0), 8192); /* taken, then made pending again below */
	assert_int_equal(ack(&a, 0), 9001);
	assert_int_equal(msi(&a, 1, 0), 1);
	for (uint32_t c = 0; c < 2; c++)
		ivy_vcpu_sync(cpu(&a, c));

	/* Save: ITS tables and pending tables into guest RAM, registers through the attributes. */
	assert_int_equal(its_env_ctrl(a.e.its, IVY_ITS_SAVE_TABLES), 0);
	gic_ctrl(a.gic, IVY_VGIC_CTRL_SAVE_PENDING_TABLES);
	assert_int_equal(its_env_reg_get(a.e.its, GITS_CBASER, &cbaser), 0);
	assert_int_equal(its_env_reg_get(a.e.its, GITS_CTLR, &ctlr), 0);
	for (size_t i = 0; i < sizeof(its_regs) / sizeof(its_regs[0]); i++)
		assert_int_equal(its_env_reg_get(a.e.its, its_regs[i], &its_val[i]), 0);
	for (uint32_t c = 0; c < 2; c++) {
		prop[c] = rd_get64(&a, c, GICR_PROPBASER);
		pend[c] = rd_get64(&a, c, GICR_PENDBASER);
		icc[c][0] = sysreg_get(&a, c, ICC_PMR);
		icc[c][1] = sysreg_get(&a, c, ICC_IGRPEN1);
	}
	assert_int_equal(prop[1], PROP | 15);
	da.attr = 0;
	assert_int_equal(ivy_device_get_attr(a.gic, &da), 0);

	/* A fresh VM, with the snapshot's RAM. */
	t_new_bare(&b, 2, GIC_FIRST);
	memcpy(b.e.ram, a.e.ram, ENV_RAM_SIZE);
	t_free(&a);
	gic_ctrl(b.gic, IVY_VGIC_CTRL_INIT);
	assert_int_equal(ivy_device_set_attr(b.gic, &da), 0);
	for (uint32_t c = 0; c < 2; c++) {
		rd_set64(&b, c, GICR_PROPBASER, prop[c], true);
		rd_set64(&b, c, GICR_PENDBASER, pend[c], true);
		sysreg_set(&b, c, ICC_PMR, icc[c][0]);
		sysreg_set(&b, c, ICC_IGRPEN1, icc[c][1]);
	}
	/* ITS: CBASER, the other registers, RESTORE_TABLES, GITS_CTLR. */
	assert_int_equal(its_env_reg_set(b.e.its, GITS_CBASER, cbaser), 0);
	for (size_t i = 0; i < sizeof(its_regs) / sizeof(its_regs[0]); i++)
		assert_int_equal(its_env_reg_set(b.e.its, its_regs[i], its_val[i]), 0);
	assert_int_equal(its_env_ctrl(b.e.its, IVY_ITS_RESTORE_TABLES), 0);
	assert_int_equal(its_env_reg_set(b.e.its, GITS_CTLR, ctlr), 0);
	/* Last, EnableLPIs: each redistributor reads its pending table. */
	for (uint32_t c = 0; c < 2; c++)
		rd_set64(&b, c, GICR_CTLR, 1, false);

	/* The guest resumes and sees what was pending, where it was pending. */
	b.e.cwriter = (uint32_t)its_val[3];
	assert_int_equal(ack(&b, 0), 8192);
	assert_int_equal(ack(&b, 0), 1023);
	assert_int_equal(ack(&b, 1), 8193);
	assert_int_equal(ack(&b, 1), 9000);
	assert_quiet(&b);
	/* The translations came along, and the command queue goes on where it was. */
	assert_int_equal(msi(&b, 300, 18), 1);
	assert_int_equal(ack(&b, 0), 9001);
	cmd_movi(&b.e, 300, 18, 1);
	assert_int_equal(its_env_nr_errors(&b.e), 0);
	assert_int_equal(msi(&b, 300, 18), 1);
	assert_int_equal(ack(&b, 0), 1023); /* the exit the move kicked vCPU 0 out for */
	assert_int_equal(ack(&b, 1), 9001);
	assert_int_equal(msi(&b, 2, 0), 0);
	assert_quiet(&b);
	t_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Concurrency.                                                                               */

#define CONC_DEV     3
#define CONC_ROUNDS  300
#define STABLE_INTID 8200 /* event 1: never remapped, vCPU 0 */

struct conc {
	struct t *t;
	atomic_bool stop;
	atomic_ulong sent, delivered, bad;
};

static void *conc_signaller(void *arg)
{
	struct conc *k = arg;

	while (!atomic_load(&k->stop)) {
		for (uint32_t ev = 0; ev < 2; ev++) {
			int r = msi(k->t, CONC_DEV, ev);

			if (r < 0 || r > 1)
				atomic_fetch_add(&k->bad, 1);
			atomic_fetch_add(&k->delivered, (unsigned long)r);
			atomic_fetch_add(&k->sent, 1);
		}
	}
	return NULL;
}

/*
 * Takes everything pending on vCPU c; each must be an LPI the current
 * translations allow there: event 0's current INTID if its collection is on c,
 * the stable LPI on vCPU 0. Returns how many were taken.
 */
static unsigned conc_drain(struct t *t, uint32_t c, uint32_t cur, uint32_t cur_cpu, bool on)
{
	unsigned n = 0;
	uint64_t id;

	while ((id = ack(t, c)) != 1023) {
		bool ok = on && ((id == cur && c == cur_cpu) || (id == STABLE_INTID && c == 0));

		if (!ok)
			fail_msg("vCPU %u took LPI %lu (event 0 -> %u on vCPU %u, LPIs %s)", c,
				 (unsigned long)id, cur, cur_cpu, on ? "on" : "off");
		n++;
	}
	ivy_vcpu_sync(cpu(t, c));
	return n;
}

/*
 * One thread signals MSIs without pause while this one remaps event 0 to
 * alternating INTIDs (DISCARD + MAPTI), moves it between vCPUs (MOVI), and
 * toggles vCPU 1's EnableLPIs, taking what is pending after each step. An LPI
 * delivered through a translation a finished command invalidated (the old
 * INTID, the old vCPU, a redistributor with LPIs off) fails the test.
 */
static void test_concurrent_remap(void **state)
{
	struct conc k = { 0 };
	unsigned taken = 0;
	uint32_t cur = 8300, cur_cpu = 0;
	pthread_t th;
	struct t t;

	(void)state;
	t_new(&t, 2, GIC_FIRST);
	k.t = &t;
	cmd_mapd(&t.e, CONC_DEV, 2, true);
	cmd_mapti(&t.e, CONC_DEV, 1, STABLE_INTID, 0);
	cmd_mapti(&t.e, CONC_DEV, 0, cur, cur_cpu);
	for (uint32_t c = 0; c < 2; c++)
		ivy_vcpu_sync(cpu(&t, c));
	assert_int_equal(pthread_create(&th, NULL, conc_signaller, &k), 0);
	for (unsigned r = 0; r < CONC_ROUNDS; r++) {
		switch (r % 3) {
		case 0: /* a new INTID for event 0 */
			cmd_discard(&t.e, CONC_DEV, 0);
			cur = cur == 8300 ? 8301 : 8300;
			cmd_mapti(&t.e, CONC_DEV, 0, cur, cur_cpu);
			break;
		case 1: /* the other vCPU */
			cur_cpu ^= 1;
			cmd_movi(&t.e, CONC_DEV, 0, cur_cpu);
			break;
		default: /* vCPU 1's LPIs off: nothing reaches it; then on again */
			test_mmio_write(cpu(&t, 1), RD(1) + GICR_CTLR, 4, 0);
			taken += conc_drain(&t, 1, cur, cur_cpu, false);
			sched_yield();
			taken += conc_drain(&t, 1, cur, cur_cpu, false);
			test_mmio_write(cpu(&t, 1), RD(1) + GICR_CTLR, 4, 1);
			break;
		}
		for (uint32_t c = 0; c < 2; c++)
			taken += conc_drain(&t, c, cur, cur_cpu, true);
	}
	atomic_store(&k.stop, true);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(atomic_load(&k.bad), 0);
	assert_int_equal(its_env_nr_errors(&t.e), 0);
	/* The test did exercise delivery while remapping. */
	assert_true(atomic_load(&k.delivered) > 0);
	assert_true(taken > 0);
	t_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msi_to_right_vcpu),
		cmocka_unit_test(test_config_and_inv),
		cmocka_unit_test(test_enable_lpis_clear_drops),
		cmocka_unit_test(test_movi_movall),
		cmocka_unit_test(test_discard_unmap),
		cmocka_unit_test(test_creation_orders),
		cmocka_unit_test(test_needs_gicv3),
		cmocka_unit_test(test_msi_irqfd),
		cmocka_unit_test(test_config_table_is_per_vm),
		cmocka_unit_test(test_save_restore_pending),
		cmocka_unit_test(test_concurrent_remap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
