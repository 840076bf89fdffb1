/* SPDX-License-Identifier: MIT */
/*
 * The device tree, generated with libfdt's sequential writer. It describes the
 * board and nothing else: what DESIGN.md's boot contract lists, with the nodes
 * and compatible strings Linux and QEMU-virt guests look for.
 */
#include "vmm.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#define PHANDLE_GIC 1
#define PHANDLE_CLK 2
#define PHANDLE_ITS 3
#define PHANDLE_V2M 4

/* Interrupt specifier cells: type, number, flags. */
#define FDT_IRQ_SPI	 0
#define FDT_IRQ_PPI	 1
#define FDT_IRQ_LEVEL_HI 4
#define FDT_IRQ_LEVEL_LO 8

#define FDT_TRY(x)                      \
	do {                            \
		int r_ = (x);           \
		if (r_ < 0)             \
			return -EINVAL; \
	} while (0)

static int fdt_prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };

	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

/* A string list: NUL-separated, as "compatible" wants it. */
static int fdt_prop_strings(void *fdt, const char *name, const char *const *s, unsigned n)
{
	char buf[256];
	size_t len = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(s[i]) + 1;

		if (len + l > sizeof(buf))
			return -FDT_ERR_NOSPACE;
		memcpy(buf + len, s[i], l);
		len += l;
	}
	return fdt_property(fdt, name, buf, (int)len);
}

/* Opens the GIC node: what both versions share (subnodes such as the ITS or v2m follow). */
static int fdt_gic_begin(void *fdt, const char *compatible)
{
	char name[64];

	snprintf(name, sizeof(name), "intc@%llx", (unsigned long long)BOARD_GICD_BASE);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "compatible", compatible));
	FDT_TRY(fdt_property_cell(fdt, "#interrupt-cells", 3));
	FDT_TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	FDT_TRY(fdt_property_cell(fdt, "#address-cells", 2));
	FDT_TRY(fdt_property_cell(fdt, "#size-cells", 2));
	FDT_TRY(fdt_property(fdt, "ranges", NULL, 0));
	return 0;
}

static int fdt_node_gic_v3(struct vmm *vmm, void *fdt)
{
	char name[64];

	FDT_TRY(fdt_gic_begin(fdt, "arm,gic-v3"));
	FDT_TRY(fdt_property_cell(fdt, "#redistributor-regions", 1));
	fdt64_t reg[4] = { cpu_to_fdt64(BOARD_GICD_BASE), cpu_to_fdt64(BOARD_GICD_SIZE),
			   cpu_to_fdt64(BOARD_GICR_BASE),
			   cpu_to_fdt64(BOARD_GICR_STRIDE * vmm->nr_cpus) };
	FDT_TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	/* The maintenance interrupt, PPI 9, as QEMU describes it. */
	fdt32_t irq[3] = { cpu_to_fdt32(FDT_IRQ_PPI), cpu_to_fdt32(9),
			   cpu_to_fdt32(FDT_IRQ_LEVEL_HI) };
	FDT_TRY(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
	FDT_TRY(fdt_property_cell(fdt, "phandle", PHANDLE_GIC));
	if (vmm->its) {
		snprintf(name, sizeof(name), "its@%llx", (unsigned long long)BOARD_ITS_BASE);
		FDT_TRY(fdt_begin_node(fdt, name));
		FDT_TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
		FDT_TRY(fdt_property(fdt, "msi-controller", NULL, 0));
		FDT_TRY(fdt_property_cell(fdt, "#msi-cells", 1));
		FDT_TRY(fdt_prop_reg(fdt, BOARD_ITS_BASE, BOARD_ITS_SIZE));
		FDT_TRY(fdt_property_cell(fdt, "phandle", PHANDLE_ITS));
		FDT_TRY(fdt_end_node(fdt));
	}
	FDT_TRY(fdt_end_node(fdt));
	return 0;
}

static int fdt_node_gic(struct vmm *vmm, void *fdt)
{
	char name[64];

	if (vmm->opts.gic_version == 3)
		return fdt_node_gic_v3(vmm, fdt);

	FDT_TRY(fdt_gic_begin(fdt, "arm,cortex-a15-gic"));
	fdt64_t reg[4] = { cpu_to_fdt64(BOARD_GICD_BASE), cpu_to_fdt64(BOARD_GICD_SIZE),
			   cpu_to_fdt64(BOARD_GICC_BASE), cpu_to_fdt64(BOARD_GICC_SIZE) };
	FDT_TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	FDT_TRY(fdt_property_cell(fdt, "phandle", PHANDLE_GIC));

	snprintf(name, sizeof(name), "v2m@%llx", (unsigned long long)BOARD_V2M_BASE);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "compatible", "arm,gic-v2m-frame"));
	FDT_TRY(fdt_property(fdt, "msi-controller", NULL, 0));
	FDT_TRY(fdt_prop_reg(fdt, BOARD_V2M_BASE, BOARD_V2M_SIZE));
	FDT_TRY(fdt_property_cell(fdt, "phandle", PHANDLE_V2M));
	FDT_TRY(fdt_end_node(fdt));
	FDT_TRY(fdt_end_node(fdt));
	(void)vmm;
	return 0;
}

static int fdt_node_cpus(struct vmm *vmm, void *fdt)
{
	char name[32];

	FDT_TRY(fdt_begin_node(fdt, "cpus"));
	FDT_TRY(fdt_property_cell(fdt, "#address-cells", 1));
	FDT_TRY(fdt_property_cell(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < vmm->nr_cpus; i++) {
		/* From the library: the DT is written before the engines exist. */
		uint32_t reg = (uint32_t)(ivy_vcpu_mpidr(ivy_vm_vcpu(vmm->vm, i)) & 0xffffff);

		snprintf(name, sizeof(name), "cpu@%x", reg);
		FDT_TRY(fdt_begin_node(fdt, name));
		FDT_TRY(fdt_property_string(fdt, "device_type", "cpu"));
		FDT_TRY(fdt_property_string(fdt, "compatible", "arm,cortex-a72"));
		FDT_TRY(fdt_property_cell(fdt, "reg", reg));
		FDT_TRY(fdt_property_string(fdt, "enable-method", "psci"));
		FDT_TRY(fdt_end_node(fdt));
	}
	FDT_TRY(fdt_end_node(fdt));
	return 0;
}

static int fdt_node_timer(struct vmm *vmm, void *fdt)
{
	/* Secure physical, non-secure physical, virtual, hypervisor: the binding's order. */
	static const uint32_t ppis[4] = { BOARD_PPI_STIMER, BOARD_PPI_PTIMER, BOARD_PPI_VTIMER,
					  BOARD_PPI_HTIMER };
	/* GICv2 PPI specifiers carry the CPU mask in bits [15:8]; GICv3 ones do not. */
	uint32_t mask = vmm->opts.gic_version == 2 ? ((1u << vmm->nr_cpus) - 1) << 8 : 0;
	fdt32_t irqs[12];

	for (int i = 0; i < 4; i++) {
		irqs[3 * i] = cpu_to_fdt32(FDT_IRQ_PPI);
		irqs[3 * i + 1] = cpu_to_fdt32(ppis[i] - 16);
		irqs[3 * i + 2] = cpu_to_fdt32(FDT_IRQ_LEVEL_HI | mask);
	}
	FDT_TRY(fdt_begin_node(fdt, "timer"));
	FDT_TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
	FDT_TRY(fdt_property(fdt, "interrupts", irqs, sizeof(irqs)));
	FDT_TRY(fdt_property(fdt, "always-on", NULL, 0));
	FDT_TRY(fdt_end_node(fdt));
	return 0;
}

static int fdt_node_devices(struct vmm *vmm, void *fdt)
{
	static const char *const psci_compat[] = { "arm,psci-1.0", "arm,psci-0.2" };
	static const char *const uart_compat[] = { "arm,pl011", "arm,primecell" };
	static const char *const clk_names[] = { "uartclk", "apb_pclk" };
	char name[64];

	FDT_TRY(fdt_begin_node(fdt, "psci"));
	FDT_TRY(fdt_prop_strings(fdt, "compatible", psci_compat, 2));
	FDT_TRY(fdt_property_string(fdt, "method", "hvc"));
	FDT_TRY(fdt_end_node(fdt));

	FDT_TRY(fdt_begin_node(fdt, "apb-pclk"));
	FDT_TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
	FDT_TRY(fdt_property_cell(fdt, "#clock-cells", 0));
	FDT_TRY(fdt_property_cell(fdt, "clock-frequency", 24000000));
	FDT_TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
	FDT_TRY(fdt_property_cell(fdt, "phandle", PHANDLE_CLK));
	FDT_TRY(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "pl011@%llx", (unsigned long long)BOARD_UART_BASE);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_prop_strings(fdt, "compatible", uart_compat, 2));
	FDT_TRY(fdt_prop_reg(fdt, BOARD_UART_BASE, BOARD_UART_SIZE));
	fdt32_t irq[3] = { cpu_to_fdt32(FDT_IRQ_SPI), cpu_to_fdt32(BOARD_UART_SPI),
			   cpu_to_fdt32(FDT_IRQ_LEVEL_HI) };
	FDT_TRY(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
	fdt32_t clks[2] = { cpu_to_fdt32(PHANDLE_CLK), cpu_to_fdt32(PHANDLE_CLK) };
	FDT_TRY(fdt_property(fdt, "clocks", clks, sizeof(clks)));
	FDT_TRY(fdt_prop_strings(fdt, "clock-names", clk_names, 2));
	FDT_TRY(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "test-exit@%llx", (unsigned long long)BOARD_EXIT_BASE);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "compatible", "ivy,test-exit"));
	FDT_TRY(fdt_prop_reg(fdt, BOARD_EXIT_BASE, BOARD_EXIT_SIZE));
	FDT_TRY(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "test-irq@%llx", (unsigned long long)BOARD_TESTDEV_BASE);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "compatible", "ivy,test-irq"));
	FDT_TRY(fdt_prop_reg(fdt, BOARD_TESTDEV_BASE, BOARD_TESTDEV_SIZE));
	FDT_TRY(fdt_end_node(fdt));
	(void)vmm;
	return 0;
}

/* PCI address space codes (phys.hi bits 25:24 of the PCI bus binding). */
#define FDT_PCI_SPACE_IO    0x01000000u
#define FDT_PCI_SPACE_MEM32 0x02000000u

/*
 * The PCIe host bridge, as QEMU virt describes it: ECAM, an I/O window at
 * PCI address 0 and an identity-mapped 32-bit memory window, MSIs through the
 * ITS (RID = DeviceID) or the v2m frame, INTx through SPIs 3..6 swizzled by
 * slot. Only there when the board has PCI functions: a guest without them has
 * nothing to enumerate, and ivy claims no ECAM window.
 */
static int fdt_node_pcie(struct vmm *vmm, void *fdt)
{
	char name[64];
	fdt32_t ranges[14], map[4 * 4 * 10],
		busr[2] = { cpu_to_fdt32(0), cpu_to_fdt32(BOARD_PCIE_NR_BUSES - 1) };
	fdt32_t mask[4] = { cpu_to_fdt32(3u << 11), 0, 0, cpu_to_fdt32(7) };
	unsigned n = 0;

	if (!vmm->opts.nr_pci)
		return 0;
	snprintf(name, sizeof(name), "pcie@%llx", (unsigned long long)BOARD_PCIE_ECAM_BASE);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	FDT_TRY(fdt_property_string(fdt, "device_type", "pci"));
	FDT_TRY(fdt_property_cell(fdt, "#address-cells", 3));
	FDT_TRY(fdt_property_cell(fdt, "#size-cells", 2));
	FDT_TRY(fdt_property_cell(fdt, "#interrupt-cells", 1));
	FDT_TRY(fdt_property_cell(fdt, "linux,pci-domain", 0));
	FDT_TRY(fdt_property(fdt, "bus-range", busr, sizeof(busr)));
	FDT_TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	FDT_TRY(fdt_prop_reg(fdt, BOARD_PCIE_ECAM_BASE, BOARD_PCIE_ECAM_SIZE));
	/* (space, pci address hi/lo), (cpu address hi/lo), (size hi/lo) */
	const uint32_t r[14] = { FDT_PCI_SPACE_IO,
				 0,
				 0,
				 (uint32_t)(BOARD_PCIE_PIO_BASE >> 32),
				 (uint32_t)BOARD_PCIE_PIO_BASE,
				 0,
				 (uint32_t)BOARD_PCIE_PIO_SIZE,
				 FDT_PCI_SPACE_MEM32,
				 (uint32_t)(BOARD_PCIE_MMIO_BASE >> 32),
				 (uint32_t)BOARD_PCIE_MMIO_BASE,
				 (uint32_t)(BOARD_PCIE_MMIO_BASE >> 32),
				 (uint32_t)BOARD_PCIE_MMIO_BASE,
				 0,
				 (uint32_t)BOARD_PCIE_MMIO_SIZE };
	for (unsigned i = 0; i < 14; i++)
		ranges[i] = cpu_to_fdt32(r[i]);
	FDT_TRY(fdt_property(fdt, "ranges", ranges, sizeof(ranges)));
	if (vmm->opts.gic_version == 3 && vmm->its) {
		fdt32_t msimap[4] = { 0, cpu_to_fdt32(PHANDLE_ITS), 0, cpu_to_fdt32(0x10000) };
		FDT_TRY(fdt_property(fdt, "msi-map", msimap, sizeof(msimap)));
	} else if (vmm->opts.gic_version == 2) {
		FDT_TRY(fdt_property_cell(fdt, "msi-parent", PHANDLE_V2M));
	}
	/* INTx: pin p (1..4) of slot s goes to line (s + p - 1) % 4. */
	for (uint32_t slot = 0; slot < 4; slot++) {
		for (uint32_t pin = 1; pin <= 4; pin++) {
			uint32_t spi = BOARD_PCIE_INTX_SPI + (slot + pin - 1) % 4;
			const uint32_t e[10] = {
				slot << 11, 0, 0,	    pin, PHANDLE_GIC,
				0,	    0, FDT_IRQ_SPI, spi, FDT_IRQ_LEVEL_HI
			};

			for (unsigned i = 0; i < 10; i++)
				map[n++] = cpu_to_fdt32(e[i]);
		}
	}
	FDT_TRY(fdt_property(fdt, "interrupt-map", map, sizeof(map)));
	FDT_TRY(fdt_property(fdt, "interrupt-map-mask", mask, sizeof(mask)));
	FDT_TRY(fdt_end_node(fdt));
	return 0;
}

int fdt_build(struct vmm *vmm, void *fdt, size_t size)
{
	char name[64];
	int err;

	FDT_TRY(fdt_create(fdt, (int)size));
	FDT_TRY(fdt_finish_reservemap(fdt));
	FDT_TRY(fdt_begin_node(fdt, ""));
	FDT_TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	FDT_TRY(fdt_property_string(fdt, "model", "ivy virt"));
	FDT_TRY(fdt_property_cell(fdt, "#address-cells", 2));
	FDT_TRY(fdt_property_cell(fdt, "#size-cells", 2));
	FDT_TRY(fdt_property_cell(fdt, "interrupt-parent", PHANDLE_GIC));

	FDT_TRY(fdt_begin_node(fdt, "chosen"));
	FDT_TRY(fdt_property_string(fdt, "bootargs", vmm->opts.append ? vmm->opts.append : ""));
	snprintf(name, sizeof(name), "/pl011@%llx", (unsigned long long)BOARD_UART_BASE);
	FDT_TRY(fdt_property_string(fdt, "stdout-path", name));
	if (vmm->initrd_size) {
		FDT_TRY(fdt_property_u64(fdt, "linux,initrd-start", vmm->initrd_gpa));
		FDT_TRY(fdt_property_u64(fdt, "linux,initrd-end",
					 vmm->initrd_gpa + vmm->initrd_size));
	}
	FDT_TRY(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)BOARD_RAM_BASE);
	FDT_TRY(fdt_begin_node(fdt, name));
	FDT_TRY(fdt_property_string(fdt, "device_type", "memory"));
	FDT_TRY(fdt_prop_reg(fdt, BOARD_RAM_BASE, vmm->ram_size));
	FDT_TRY(fdt_end_node(fdt));

	err = fdt_node_cpus(vmm, fdt);
	if (!err)
		err = fdt_node_gic(vmm, fdt);
	if (!err)
		err = fdt_node_timer(vmm, fdt);
	if (!err)
		err = fdt_node_devices(vmm, fdt);
	if (!err)
		err = fdt_node_pcie(vmm, fdt);
	if (err)
		return err;
	FDT_TRY(fdt_end_node(fdt));
	FDT_TRY(fdt_finish(fdt));
	return 0;
}
