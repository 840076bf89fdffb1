/* SPDX-License-Identifier: MIT */
#include "vgic_testutil.h"

#include <string.h>

static void gic_kick(void *opaque, struct ivy_vcpu *vcpu)
{
	struct gic *g = opaque;

	__atomic_fetch_add(&g->kicks[ivy_vcpu_index(vcpu) & 7], 1, __ATOMIC_RELAXED);
}

static void gic_trace(void *opaque, const struct ivy_trace_event *ev)
{
	struct gic *g = opaque;

	if (g->nr_trace < sizeof(g->trace) / sizeof(g->trace[0]))
		g->trace[g->nr_trace++] = *ev;
}

int gic_set_attr(struct gic *g, uint32_t group, uint64_t attr, void *val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = val };

	return ivy_device_set_attr(g->dev, &a);
}

int gic_get_attr(struct gic *g, uint32_t group, uint64_t attr, void *val)
{
	struct ivy_device_attr a = { .group = group, .attr = attr, .addr = val };

	return ivy_device_get_attr(g->dev, &a);
}

void gic_new_bare(struct gic *g, unsigned nr)
{
	struct ivy_vm_hooks hooks = { .opaque = g, .kick = gic_kick, .trace = gic_trace };
	uint64_t addr;

	memset(g, 0, sizeof(*g));
	g->vm = test_vm_new_hooks(nr, &hooks);
	g->nr = nr;
	for (unsigned i = 0; i < nr; i++)
		g->vcpu[i] = ivy_vm_vcpu(g->vm, i);
	assert_int_equal(ivy_device_create(g->vm, IVY_DEV_TYPE_ARM_VGIC_V2, &g->dev), 0);
	addr = GIC_DIST_BASE;
	assert_int_equal(gic_set_attr(g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_DIST, &addr), 0);
	addr = GIC_CPU_BASE;
	assert_int_equal(gic_set_attr(g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_CPU, &addr), 0);
	addr = GIC_V2M_BASE;
	assert_int_equal(gic_set_attr(g, IVY_VGIC_GRP_ADDR, IVY_VGIC_V2_ADDR_TYPE_V2M, &addr), 0);
}

void gic_new(struct gic *g, unsigned nr, uint32_t nr_irqs, uint32_t nr_lrs)
{
	uint32_t dummy = 0;

	gic_new_bare(g, nr);
	if (nr_irqs)
		assert_int_equal(gic_set_attr(g, IVY_VGIC_GRP_NR_IRQS, 0, &nr_irqs), 0);
	if (nr_lrs)
		assert_int_equal(gic_set_attr(g, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_NR_LRS, &nr_lrs),
				 0);
	assert_int_equal(gic_set_attr(g, IVY_VGIC_GRP_CTRL, IVY_VGIC_CTRL_INIT, &dummy), 0);
	for (unsigned i = 0; i < nr; i++)
		assert_int_equal(ivy_vcpu_flush(g->vcpu[i]), 0);
	gicd_write(g, 0, GICD_CTLR, 3);
	for (unsigned i = 0; i < nr; i++) {
		gicc_write(g, i, GICC_CTLR, 3);
		gicc_write(g, i, GICC_PMR, 0xff);
	}
}

void gic_free(struct gic *g)
{
	ivy_vm_close(g->vm);
	memset(g, 0, sizeof(*g));
}

uint32_t gicd_read(struct gic *g, unsigned cpu, uint32_t off)
{
	return (uint32_t)test_mmio_read(g->vcpu[cpu], GIC_DIST_BASE + off, 4);
}

void gicd_write(struct gic *g, unsigned cpu, uint32_t off, uint32_t val)
{
	test_mmio_write(g->vcpu[cpu], GIC_DIST_BASE + off, 4, val);
}

uint32_t gicc_read(struct gic *g, unsigned cpu, uint32_t off)
{
	return (uint32_t)test_mmio_read(g->vcpu[cpu], GIC_CPU_BASE + off, 4);
}

void gicc_write(struct gic *g, unsigned cpu, uint32_t off, uint32_t val)
{
	test_mmio_write(g->vcpu[cpu], GIC_CPU_BASE + off, 4, val);
}

uint32_t gich_read(struct gic *g, unsigned cpu, uint32_t off)
{
	uint32_t val = 0xdeadbeef;

	assert_int_equal(ivy_vgic_v2_gich_read(g->vcpu[cpu], off, &val), 0);
	return val;
}

void gic_reenter(struct gic *g, unsigned cpu)
{
	ivy_vcpu_sync(g->vcpu[cpu]);
	assert_int_equal(ivy_vcpu_flush(g->vcpu[cpu]), 0);
}

void gic_enable_irq(struct gic *g, uint32_t intid, uint8_t prio, unsigned cpu)
{
	uint32_t shift = (intid % 4) * 8;
	uint32_t v;

	v = gicd_read(g, cpu, GICD_IPRIORITYR + (intid & ~3u));
	v = (v & ~(0xffu << shift)) | ((uint32_t)prio << shift);
	gicd_write(g, cpu, GICD_IPRIORITYR + (intid & ~3u), v);
	if (intid >= 32) {
		v = gicd_read(g, cpu, GICD_ITARGETSR + (intid & ~3u));
		v = (v & ~(0xffu << shift)) | ((1u << cpu) << shift);
		gicd_write(g, cpu, GICD_ITARGETSR + (intid & ~3u), v);
	}
	gicd_write(g, cpu, GICD_ISENABLER + (intid / 32) * 4, 1u << (intid % 32));
}

uint32_t gic_ack(struct gic *g, unsigned cpu)
{
	gic_reenter(g, cpu);
	return gicc_read(g, cpu, GICC_IAR);
}

void gic_eoi(struct gic *g, unsigned cpu, uint32_t id)
{
	gicc_write(g, cpu, GICC_EOIR, id);
	gic_reenter(g, cpu);
}
