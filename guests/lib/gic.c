/* SPDX-License-Identifier: MIT */
#include "gic.h"

unsigned gic_version = 2;

/* GICv3: this CPU's redistributor, found by affinity in GICR_TYPER. */
static uintptr_t gicr_base[MAX_CPUS];

#define GICR_TYPER    0x0008
#define GICR_WAKER    0x0014
#define GICR_SGI_BASE 0x10000

static uintptr_t gic_bank_base(unsigned intid)
{
	if (gic_version == 3 && intid < 32)
		return gicr_base[cpu_id()] + GICR_SGI_BASE;
	return GICD_BASE;
}

static void bit_write(unsigned reg, unsigned intid)
{
	mmio_write32(gic_bank_base(intid) + reg + (intid / 32) * 4, 1u << (intid % 32));
}

static bool bit_read(unsigned reg, unsigned intid)
{
	return mmio_read32(gic_bank_base(intid) + reg + (intid / 32) * 4) & (1u << (intid % 32));
}

void gic_dist_init(void)
{
	gic_version = dt_mentions("arm,gic-v3") ? 3 : 2;
	unsigned lines = ((mmio_read32(GICD_BASE + GICD_TYPER) & 0x1f) + 1) * 32;

	mmio_write32(GICD_BASE + GICD_CTLR, 0);
	for (unsigned i = 32; i < lines; i += 32) {
		mmio_write32(GICD_BASE + GICD_ICENABLER + i / 8, ~0u);
		/* GICv3 acknowledges Group 1 through ICC_IAR1_EL1: put every SPI there. */
		if (gic_version == 3)
			mmio_write32(GICD_BASE + GICD_IGROUPR + i / 8, ~0u);
	}
	for (unsigned i = 32; i < lines; i += 4)
		mmio_write32(GICD_BASE + GICD_IPRIORITYR + i, 0xa0a0a0a0u);
	if (gic_version == 3) {
		for (unsigned i = 32; i < lines; i++)
			mmio_write32(GICD_BASE + GICD_IROUTER + i * 8, 0); /* CPU 0 */
		mmio_write32(GICD_BASE + GICD_CTLR, (1u << 4) | 3);	   /* ARE, Grp1, Grp0 */
	} else {
		mmio_write32(GICD_BASE + GICD_CTLR, 1);
	}
}

static void gic_v3_find_redist(void)
{
	uint64_t aff = sysreg_read(mpidr_el1);
	uint32_t want = (uint32_t)((aff & 0xffffff) | ((aff >> 32 & 0xff) << 24));

	for (uintptr_t rd = GICR_BASE;; rd += 0x20000) {
		uint32_t lo = mmio_read32(rd + GICR_TYPER), hi = mmio_read32(rd + GICR_TYPER + 4);

		if (hi == want) {
			gicr_base[cpu_id()] = rd;
			return;
		}
		if (lo & (1u << 4)) /* Last */
			break;
	}
	printf("FAIL: no redistributor for MPIDR %lx\n", aff);
	guest_exit(97);
}

uintptr_t gic_redist_base(void)
{
	return gicr_base[cpu_id()];
}

void gic_cpu_init(void)
{
	if (gic_version == 3) {
		gic_v3_find_redist();
		uintptr_t rd = gicr_base[cpu_id()];
		mmio_write32(rd + GICR_WAKER, 0);
		mmio_write32(rd + GICR_SGI_BASE + GICD_IGROUPR, ~0u);
		for (unsigned i = 0; i < 32; i += 4)
			mmio_write32(rd + GICR_SGI_BASE + GICD_IPRIORITYR + i, 0xa0a0a0a0u);
		sysreg_write(icc_sre_el1, sysreg_read(icc_sre_el1) | 1);
		isb();
		sysreg_write(icc_pmr_el1, 0xf0);
		sysreg_write(icc_bpr1_el1, 0);
		sysreg_write(icc_ctlr_el1, 0);
		sysreg_write(icc_igrpen1_el1, 1);
		isb();
		return;
	}
	for (unsigned i = 0; i < 32; i += 4)
		mmio_write32(GICD_BASE + GICD_IPRIORITYR + i, 0xa0a0a0a0u);
	mmio_write32(GICC_BASE + GICC_PMR, 0xf0);
	mmio_write32(GICC_BASE + GICC_BPR, 0);
	mmio_write32(GICC_BASE + GICC_CTLR, 1);
}

void gic_enable_irq(unsigned intid)
{
	bit_write(GICD_ISENABLER, intid);
}

void gic_disable_irq(unsigned intid)
{
	bit_write(GICD_ICENABLER, intid);
}

void gic_set_priority(unsigned intid, uint8_t prio)
{
	mmio_write8(gic_bank_base(intid) + GICD_IPRIORITYR + intid, prio);
}

void gic_set_target(unsigned intid, uint8_t cpumask)
{
	if (gic_version == 3) {
		unsigned cpu = (unsigned)__builtin_ctz(cpumask ? cpumask : 1);
		mmio_write32(GICD_BASE + GICD_IROUTER + intid * 8, cpu);
		mmio_write32(GICD_BASE + GICD_IROUTER + intid * 8 + 4, 0);
		return;
	}
	mmio_write8(GICD_BASE + GICD_ITARGETSR + intid, cpumask);
}

void gic_set_edge(unsigned intid, bool edge)
{
	uintptr_t a = gic_bank_base(intid) + GICD_ICFGR + (intid / 16) * 4;
	unsigned shift = (intid % 16) * 2 + 1;
	uint32_t v = mmio_read32(a);

	mmio_write32(a, edge ? v | (1u << shift) : v & ~(1u << shift));
}

void gic_set_pending(unsigned intid)
{
	bit_write(GICD_ISPENDR, intid);
}

void gic_clear_pending(unsigned intid)
{
	bit_write(GICD_ICPENDR, intid);
}

bool gic_is_pending(unsigned intid)
{
	return bit_read(GICD_ISPENDR, intid);
}

bool gic_is_active(unsigned intid)
{
	return bit_read(GICD_ISACTIVER, intid);
}

void gic_clear_active(unsigned intid)
{
	bit_write(GICD_ICACTIVER, intid);
}

void gic_send_sgi(unsigned intid, unsigned filter, uint8_t targets)
{
	dsb();
	if (gic_version == 3) {
		uint64_t v = (uint64_t)(intid & 0xf) << 24;

		if (filter == 1)
			v |= 1ull << 40; /* IRM: every PE but self */
		else if (filter == 2)
			v |= 1u << (sysreg_read(mpidr_el1) & 0xf);
		else
			v |= targets;
		sysreg_write(icc_sgi1r_el1, v);
		isb();
		return;
	}
	mmio_write32(GICD_BASE + GICD_SGIR, (filter << 24) | ((uint32_t)targets << 16) | intid);
}

uint32_t gic_ack(void)
{
	if (gic_version == 3) {
		uint32_t v = (uint32_t)sysreg_read(icc_iar1_el1);
		__asm__ volatile("dsb sy" ::: "memory");
		return v;
	}
	return mmio_read32(GICC_BASE + GICC_IAR);
}

void gic_eoi(uint32_t iar)
{
	if (gic_version == 3) {
		sysreg_write(icc_eoir1_el1, iar);
		isb();
		return;
	}
	mmio_write32(GICC_BASE + GICC_EOIR, iar);
}

void gic_deactivate(uint32_t iar)
{
	if (gic_version == 3) {
		sysreg_write(icc_dir_el1, iar);
		isb();
		return;
	}
	mmio_write32(GICC_BASE + GICC_DIR, iar);
}

uint32_t gic_rpr(void)
{
	if (gic_version == 3)
		return (uint32_t)sysreg_read(icc_rpr_el1);
	return mmio_read32(GICC_BASE + GICC_RPR);
}

void gic_set_eoimode(bool split)
{
	if (gic_version == 3) {
		sysreg_write(icc_ctlr_el1, split ? 2 : 0);
		isb();
		return;
	}
	mmio_write32(GICC_BASE + GICC_CTLR, split ? 1 | (1u << 9) : 1);
}
