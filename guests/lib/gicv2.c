/* SPDX-License-Identifier: MIT */
#include "gic.h"

static void bit_write(unsigned reg, unsigned intid)
{
	mmio_write32(GICD_BASE + reg + (intid / 32) * 4, 1u << (intid % 32));
}

static bool bit_read(unsigned reg, unsigned intid)
{
	return mmio_read32(GICD_BASE + reg + (intid / 32) * 4) & (1u << (intid % 32));
}

void gic_dist_init(void)
{
	unsigned lines = ((mmio_read32(GICD_BASE + GICD_TYPER) & 0x1f) + 1) * 32;

	mmio_write32(GICD_BASE + GICD_CTLR, 0);
	for (unsigned i = 32; i < lines; i += 32)
		mmio_write32(GICD_BASE + GICD_ICENABLER + i / 8, ~0u);
	for (unsigned i = 32; i < lines; i += 4)
		mmio_write32(GICD_BASE + GICD_IPRIORITYR + i, 0xa0a0a0a0u);
	mmio_write32(GICD_BASE + GICD_CTLR, 1);
}

void gic_cpu_init(void)
{
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
	mmio_write8(GICD_BASE + GICD_IPRIORITYR + intid, prio);
}

void gic_set_target(unsigned intid, uint8_t cpumask)
{
	mmio_write8(GICD_BASE + GICD_ITARGETSR + intid, cpumask);
}

void gic_set_edge(unsigned intid, bool edge)
{
	uintptr_t a = GICD_BASE + GICD_ICFGR + (intid / 16) * 4;
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
	mmio_write32(GICD_BASE + GICD_SGIR, (filter << 24) | ((uint32_t)targets << 16) | intid);
}
