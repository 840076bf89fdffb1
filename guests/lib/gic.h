/* SPDX-License-Identifier: MIT */
/*
 * GIC driver for the guests, at QEMU virt's addresses: GICv2 (IHI 0048B) or
 * GICv3 (IHI 0069), chosen at start-up from the DT, behind one interface so the
 * same test runs on both.
 */
#ifndef GUEST_GIC_H
#define GUEST_GIC_H

#include "rt.h"

#define GICD_BASE 0x08000000ul
#define GICC_BASE 0x08010000ul
#define V2M_BASE  0x08020000ul
#define GICR_BASE 0x080A0000ul

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
#define GICD_IROUTER	0x6000

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

/* 2 or 3, from the DT (set by gic_dist_init). */
extern unsigned gic_version;

/* Distributor on (once, by CPU 0). */
void gic_dist_init(void);
/* This CPU's interface (and GICv3 redistributor) on, priority mask open, binary point 0. */
void gic_cpu_init(void);
/* GICv3: this CPU's redistributor (RD_base), found by gic_cpu_init. */
uintptr_t gic_redist_base(void);
void gic_enable_irq(unsigned intid);
void gic_disable_irq(unsigned intid);
void gic_set_priority(unsigned intid, uint8_t prio);
/* Routes an SPI to the lowest CPU of the mask (GICv2: the whole mask). */
void gic_set_target(unsigned intid, uint8_t cpumask);
void gic_set_edge(unsigned intid, bool edge);
void gic_set_pending(unsigned intid);
void gic_clear_pending(unsigned intid);
bool gic_is_pending(unsigned intid);
bool gic_is_active(unsigned intid);
void gic_clear_active(unsigned intid);
/* filter: 0 target list, 1 all but self, 2 self. */
void gic_send_sgi(unsigned intid, unsigned filter, uint8_t targets);
/* Acknowledge (GICv2: IAR with the SGI source in [12:10]; GICv3: ICC_IAR1_EL1). */
uint32_t gic_ack(void);
void gic_eoi(uint32_t iar);
void gic_deactivate(uint32_t iar);
uint32_t gic_rpr(void);
void gic_set_eoimode(bool split);
/* True if the IAR value carries the SGI's source CPU (GICv2 only). */
static inline bool gic_has_sgi_source(void)
{
	return gic_version == 2;
}

#endif
