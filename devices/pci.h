/* SPDX-License-Identifier: MIT */
/*
 * A PCI (Express) function as a device model sees it: a 4 KiB configuration
 * space with write masks, up to six memory BARs with sizing, a capability list
 * and an MSI-X capability whose table and PBA live in one of the BARs.
 *
 * The model is transport-agnostic: the caller feeds it configuration accesses
 * (from an I/O-request client routed by BDF) and BAR accesses (from the MMIO
 * ranges the BARs were programmed to), and gives it a way to raise MSIs and
 * the legacy INTx line. It never trusts a value the guest wrote.
 */
#ifndef IVY_DEVICES_PCI_H
#define IVY_DEVICES_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCI_CFG_SIZE 4096u
#define PCI_NR_BARS  6

/* Configuration-space registers (PCI Local Bus 3.0, section 6.1). */
#define PCI_VENDOR_ID		 0x00
#define PCI_DEVICE_ID		 0x02
#define PCI_COMMAND		 0x04
#define PCI_COMMAND_MEMORY	 0x0002
#define PCI_COMMAND_MASTER	 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS		 0x06
#define PCI_STATUS_INTERRUPT	 0x0008
#define PCI_STATUS_CAP_LIST	 0x0010
#define PCI_REVISION_ID		 0x08
#define PCI_CLASS_PROG		 0x09
#define PCI_HEADER_TYPE		 0x0e
#define PCI_BASE_ADDRESS_0	 0x10
#define PCI_SUBSYSTEM_VENDOR_ID	 0x2c
#define PCI_SUBSYSTEM_ID	 0x2e
#define PCI_CAPABILITY_LIST	 0x34
#define PCI_INTERRUPT_LINE	 0x3c
#define PCI_INTERRUPT_PIN	 0x3d

#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_EXP	0x10
#define PCI_CAP_ID_MSIX 0x11

#define PCI_MSIX_FLAGS		    2 /* Message Control, relative to the capability */
#define PCI_MSIX_FLAGS_ENABLE	    0x8000
#define PCI_MSIX_FLAGS_MASKALL	    0x4000
#define PCI_MSIX_ENTRY_SIZE	    16
#define PCI_MSIX_ENTRY_CTRL_MASKBIT 1

struct pci_func;

/* What the function needs from its surroundings. Every member is required. */
struct pci_host_ops {
	/* Delivers an MSI write (address, data) carrying the function's requester ID. */
	void (*msi)(void *opaque, uint64_t addr, uint32_t data, uint16_t requester_id);
	/* Drives the function's INTx pin. */
	void (*intx)(void *opaque, bool level);
};

/* A memory BAR's contents, implemented by the device. Offsets are BAR-relative. */
struct pci_bar_ops {
	uint64_t (*read)(struct pci_func *fn, int bar, uint64_t offset, unsigned len);
	void (*write)(struct pci_func *fn, int bar, uint64_t offset, unsigned len, uint64_t val);
};

struct pci_bar {
	uint64_t size; /* a power of two >= 16; 0: BAR not implemented */
	bool is64;     /* takes this and the next BAR register */
};

struct msix_entry {
	uint64_t addr;
	uint32_t data;
	uint32_t ctrl;
};

struct pci_func {
	uint16_t bdf; /* requester ID */
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may write */
	struct pci_bar bars[PCI_NR_BARS];
	const struct pci_bar_ops *bar_ops;
	const struct pci_host_ops *host;
	void *host_opaque;
	void *dev;	  /* the device model that owns this function */
	uint8_t next_cap; /* where the next capability goes */
	/* MSI-X, if present (msix_cap != 0). */
	uint8_t msix_cap;
	uint16_t msix_nr;
	int msix_bar;
	uint32_t msix_table_off, msix_pba_off;
	struct msix_entry *msix;
	uint64_t *msix_pba;
	bool intx_level;
};

struct pci_id {
	uint16_t vendor, device, subsys_vendor, subsys;
	uint8_t revision;
	uint32_t class_code; /* base class << 16 | subclass << 8 | prog-if */
};

/*
 * Sets up a type 0 function; returns 0 or -errno. pci_func_reset puts it back
 * in its power-on state (a bus or board reset): BARs, command, MSI-X table
 * and PBA cleared, INTx low.
 */
int pci_func_init(struct pci_func *fn, uint16_t bdf, const struct pci_id *id,
		  const struct pci_bar_ops *bar_ops, const struct pci_host_ops *host,
		  void *host_opaque, void *dev);
void pci_func_free(struct pci_func *fn);
void pci_func_reset(struct pci_func *fn);

/* Declares memory BAR `bar` of `size` bytes (power of two, >= 16). */
int pci_func_add_bar(struct pci_func *fn, int bar, uint64_t size, bool is64);
/*
 * Appends a capability of `len` bytes (id and next pointer included) and returns
 * its offset, or -errno when the 256-byte space is full.
 */
int pci_func_add_cap(struct pci_func *fn, uint8_t id, const void *body, size_t len);
/* Adds an MSI-X capability with `nr` vectors, table and PBA in `bar` at the given offsets. */
int pci_func_add_msix(struct pci_func *fn, uint16_t nr, int bar, uint32_t table_off,
		      uint32_t pba_off);

/* A configuration access (reg 0..4095, len 1/2/4). Reads past the end return all-ones. */
uint32_t pci_cfg_read(struct pci_func *fn, uint32_t reg, unsigned len);
void pci_cfg_write(struct pci_func *fn, uint32_t reg, unsigned len, uint32_t val);

/* The guest-programmed address of a BAR, or 0 when memory decoding is off or it is unset. */
uint64_t pci_bar_addr(const struct pci_func *fn, int bar);
/*
 * A memory access at guest-physical `gpa`: finds the BAR, handles the MSI-X
 * table and PBA, passes the rest to the device. Returns false if no BAR decodes it.
 */
bool pci_bar_access(struct pci_func *fn, uint64_t gpa, unsigned len, bool is_write, uint64_t *val);

/* Raises MSI-X vector `vector` (pending in the PBA while masked). Returns true if sent. */
bool pci_msix_notify(struct pci_func *fn, uint16_t vector);
bool pci_msix_enabled(const struct pci_func *fn);
/* Drives INTx (ignored while the command register disables it). */
void pci_intx_set(struct pci_func *fn, bool level);

#endif
