/* SPDX-License-Identifier: MIT */
/* GICv2 driver for the guests (IHI 0048B), at QEMU virt's addresses. */
#ifndef GUEST_GIC_H
#define GUEST_GIC_H

#include "rt.h"

#define GICD_BASE 0x08000000ul
#define GICC_BASE 0x08010000ul
#define V2M_BASE  0x08020000ul

#define GICD_CTLR	0x000
#define GICD_TYPER	0x004
#define GICD_IGROUPR	0x080
#define GICD_ISENABLER	0x100
#define GICD_ICENABLER	0x180
#define GICD_ISPENDR	0x200
#define GICD_ICPENDR	0x280
#define GICD_ISACTIVER	0x300
#define GICD_ICACTIVER	0x380
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR	0x800
#define GICD_ICFGR	0xc00
#define GICD_SGIR	0xf00

#define GICC_CTLR  0x00
#define GICC_PMR   0x04
#define GICC_BPR   0x08
#define GICC_IAR   0x0c
#define GICC_EOIR  0x10
#define GICC_RPR   0x14
#define GICC_HPPIR 0x18
#define GICC_DIR   0x1000

#define V2M_MSI_TYPER	  0x008
#define V2M_MSI_SETSPI_NS 0x040

#define GIC_SPURIOUS 1023

/* Distributor on (once, by CPU 0). */
void gic_dist_init(void);
/* This CPU's interface on, PMR open, binary point 0. */
void gic_cpu_init(void);
void gic_enable_irq(unsigned intid);
void gic_disable_irq(unsigned intid);
void gic_set_priority(unsigned intid, uint8_t prio);
void gic_set_target(unsigned intid, uint8_t cpumask);
void gic_set_edge(unsigned intid, bool edge);
void gic_set_pending(unsigned intid);
void gic_clear_pending(unsigned intid);
bool gic_is_pending(unsigned intid);
bool gic_is_active(unsigned intid);
void gic_clear_active(unsigned intid);
/* filter: 0 target list, 1 all but self, 2 self. */
void gic_send_sgi(unsigned intid, unsigned filter, uint8_t targets);
static inline uint32_t gic_ack(void)
{
	return mmio_read32(GICC_BASE + GICC_IAR);
}
static inline void gic_eoi(uint32_t iar)
{
	mmio_write32(GICC_BASE + GICC_EOIR, iar);
}

#endif
