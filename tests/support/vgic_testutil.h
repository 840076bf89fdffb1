/* SPDX-License-Identifier: MIT */
/* Helpers for the vGIC tests: a VM with a GICv2 at QEMU virt's addresses, and guest-like accesses. */
#ifndef IVY_TESTS_VGIC_TESTUTIL_H
#define IVY_TESTS_VGIC_TESTUTIL_H

#include "testutil.h"

#include <ivy/gic.h>

#define GIC_DIST_BASE 0x08000000ull
#define GIC_CPU_BASE  0x08010000ull
#define GIC_V2M_BASE  0x08020000ull

/* GICD offsets. */
#define GICD_CTLR	0x000
#define GICD_TYPER	0x004
#define GICD_IIDR	0x008
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
#define GICD_CPENDSGIR	0xf10
#define GICD_SPENDSGIR	0xf20
#define GICD_PIDR2	0xfe8
/* GICC offsets. */
#define GICC_CTLR   0x00
#define GICC_PMR    0x04
#define GICC_BPR    0x08
#define GICC_IAR    0x0c
#define GICC_EOIR   0x10
#define GICC_RPR    0x14
#define GICC_HPPIR  0x18
#define GICC_ABPR   0x1c
#define GICC_AIAR   0x20
#define GICC_AEOIR  0x24
#define GICC_AHPPIR 0x28
#define GICC_APR0   0xd0
#define GICC_NSAPR0 0xe0
#define GICC_IIDR   0xfc
#define GICC_DIR    0x1000
/* GICH offsets. */
#define GICH_HCR    0x000
#define GICH_VTR    0x004
#define GICH_VMCR   0x008
#define GICH_MISR   0x010
#define GICH_EISR0  0x020
#define GICH_ELRSR0 0x030
#define GICH_APR    0x0f0
#define GICH_LR(n)  (0x100 + 4 * (n))

struct gic {
	struct ivy_vm *vm;
	struct ivy_device *dev;
	struct ivy_vcpu *vcpu[8];
	unsigned nr;
	unsigned kicks[8]; /* kick hook calls per vCPU */
	/* Trace events recorded once ivy_vm_set_trace(vm, true) is called. */
	struct ivy_trace_event trace[64];
	unsigned nr_trace;
};

/*
 * A VM with nr vCPUs and a GICv2 (nr_irqs 0: default; nr_lrs 0: default), with
 * addresses set and the v2m frame, initialised, every vCPU flushed once (the GIC
 * is mapped), distributor and CPU interfaces enabled, PMR 0xf8.
 */
void gic_new(struct gic *g, unsigned nr, uint32_t nr_irqs, uint32_t nr_lrs);
/* Only the VM and the GIC device with addresses; no init, no flush. */
void gic_new_bare(struct gic *g, unsigned nr);
void gic_free(struct gic *g);

uint32_t gicd_read(struct gic *g, unsigned cpu, uint32_t off);
void gicd_write(struct gic *g, unsigned cpu, uint32_t off, uint32_t val);
uint32_t gicc_read(struct gic *g, unsigned cpu, uint32_t off);
void gicc_write(struct gic *g, unsigned cpu, uint32_t off, uint32_t val);
uint32_t gich_read(struct gic *g, unsigned cpu, uint32_t off);

/* What the VMM does on an exit and re-entry: sync, then flush. */
void gic_reenter(struct gic *g, unsigned cpu);
/* Enables SPI/PPI intid with a priority, targeting cpu (SPIs). */
void gic_enable_irq(struct gic *g, uint32_t intid, uint8_t prio, unsigned cpu);
/* Re-enters, then reads GICC_IAR. */
uint32_t gic_ack(struct gic *g, unsigned cpu);
/* Writes GICC_EOIR, then re-enters (as after the maintenance kick). */
void gic_eoi(struct gic *g, unsigned cpu, uint32_t id);

int gic_set_attr(struct gic *g, uint32_t group, uint64_t attr, void *val);
int gic_get_attr(struct gic *g, uint32_t group, uint64_t attr, void *val);

#endif
