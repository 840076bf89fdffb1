/* SPDX-License-Identifier: MIT */
/*
 * The GICv2m MSI frame (ARM's GICv2m specification), 4 KiB, one per GIC:
 *
 *   0x008 MSI_TYPER   [25:16] first SPI, [9:0] number of SPIs (read-only)
 *   0x040 SETSPI_NS   16- or 32-bit write of an INTID pulses that SPI
 *   0xFCC MSI_IIDR
 *
 * GIC-CHOICES.md: one frame advertising a contiguous SPI range; INTIDs outside
 * it are ignored. PCI devices reach it through vm->irq_ops->signal_msi.
 */
#include "gic/vgic.h"

#define V2M_MSI_TYPER 0x008
#define V2M_SETSPI_NS 0x040
#define V2M_MSI_IIDR  0xfcc

#define V2M_IIDR_VALUE ((0x49u << 20) | 0x43bu)

int vgic_v2m_setspi(struct vgic_dist *dist, uint32_t intid)
{
	struct vgic_irq *irq;

	if (intid < dist->v2m_spi_base || intid - dist->v2m_spi_base >= dist->v2m_nr_spis)
		return 0;
	irq = vgic_get_irq(dist, NULL, intid);
	if (!irq)
		return 0;
	vgic_pulse(dist, irq);
	vgic_put_irq(dist, irq);
	return 1;
}

static uint64_t v2m_read_typer(const struct vgic_access *acc, uint32_t offset)
{
	(void)offset;
	return (acc->dist->v2m_spi_base << 16) | acc->dist->v2m_nr_spis;
}

static void v2m_write_setspi(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)offset;
	(void)vgic_v2m_setspi(acc->dist, val & 0x3ff);
}

static uint64_t v2m_read_iidr(const struct vgic_access *acc, uint32_t offset)
{
	(void)acc;
	(void)offset;
	return V2M_IIDR_VALUE;
}

static const struct vgic_reg v2m_regs[] = {
	{ .offset = V2M_MSI_TYPER, .len = 4, .widths = VGIC_W32, .read = v2m_read_typer },
	{ .offset = V2M_SETSPI_NS,
	  .len = 4,
	  .widths = VGIC_W16 | VGIC_W32,
	  .write = v2m_write_setspi },
	{ .offset = V2M_MSI_IIDR, .len = 4, .widths = VGIC_W32, .read = v2m_read_iidr },
};

const struct vgic_frame vgic_v2m_frame = {
	.name = "GICv2m",
	.size = (uint32_t)IVY_VGIC_V2M_SIZE,
	.regs = v2m_regs,
	.nr_regs = IVY_ARRAY_SIZE(v2m_regs),
	.lookup = VGIC_FRAME_LOOKUP,
};

static uint64_t v2m_mmio_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	struct vgic_access acc = { .dist = opaque, .vc = vcpu ? vcpu->vgic : NULL };

	return vgic_mmio_read(&vgic_v2m_frame, &acc, offset, len);
}

static void v2m_mmio_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
			   uint64_t val)
{
	struct vgic_access acc = { .dist = opaque, .vc = vcpu ? vcpu->vgic : NULL };

	vgic_mmio_write(&vgic_v2m_frame, &acc, offset, len, val);
}

const struct ivy_mmio_ops vgic_v2m_mmio_ops = {
	.read = v2m_mmio_read,
	.write = v2m_mmio_write,
};
