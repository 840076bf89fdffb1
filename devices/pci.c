/* SPDX-License-Identifier: MIT */
/*
 * PCI function model: configuration space, BARs, capabilities, MSI-X.
 *
 * Configuration space is a byte image plus a write mask: a guest write changes
 * only the masked bits, so BAR sizing (write all-ones, read back the size mask),
 * read-only IDs and reserved bits all fall out of one rule. The few registers
 * with side effects (command, MSI-X message control) are looked at after the
 * write has been applied.
 */
#include "pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CAP_AREA_START 0x40
#define CAP_AREA_END   0x100

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

int pci_func_init(struct pci_func *fn, uint16_t bdf, const struct pci_id *id,
		  const struct pci_bar_ops *bar_ops, const struct pci_host_ops *host,
		  void *host_opaque, void *dev)
{
	if (!fn || !id || !bar_ops || !host || !host->msi || !host->intx)
		return -EINVAL;
	memset(fn, 0, sizeof(*fn));
	fn->bdf = bdf;
	fn->bar_ops = bar_ops;
	fn->host = host;
	fn->host_opaque = host_opaque;
	fn->dev = dev;
	fn->msix_bar = -1;
	put16(&fn->cfg[PCI_VENDOR_ID], id->vendor);
	put16(&fn->cfg[PCI_DEVICE_ID], id->device);
	fn->cfg[PCI_REVISION_ID] = id->revision;
	fn->cfg[PCI_CLASS_PROG] = (uint8_t)id->class_code;
	put16(&fn->cfg[PCI_CLASS_PROG + 1], (uint16_t)(id->class_code >> 8));
	put16(&fn->cfg[PCI_SUBSYSTEM_VENDOR_ID], id->subsys_vendor);
	put16(&fn->cfg[PCI_SUBSYSTEM_ID], id->subsys);
	fn->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	put16(&fn->wmask[PCI_COMMAND],
	      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	fn->wmask[PCI_INTERRUPT_LINE] = 0xff;
	return 0;
}

void pci_func_free(struct pci_func *fn)
{
	free(fn->msix);
	free(fn->msix_pba);
	fn->msix = NULL;
	fn->msix_pba = NULL;
}

int pci_func_add_bar(struct pci_func *fn, int bar, uint64_t size, bool is64)
{
	uint8_t *reg;

	if (bar < 0 || bar >= PCI_NR_BARS || (is64 && bar == PCI_NR_BARS - 1) || size < 16 ||
	    (size & (size - 1)) || (!is64 && size > 0x80000000ull) || fn->bars[bar].size ||
	    (is64 && fn->bars[bar + 1].size))
		return -EINVAL;
	fn->bars[bar] = (struct pci_bar){ .size = size, .is64 = is64 };
	reg = &fn->cfg[PCI_BASE_ADDRESS_0 + 4 * bar];
	put32(reg, is64 ? 0x4 : 0x0); /* memory, 32- or 64-bit, not prefetchable */
	put32(&fn->wmask[PCI_BASE_ADDRESS_0 + 4 * bar], (uint32_t) ~(size - 1) & ~0xfu);
	if (is64)
		put32(&fn->wmask[PCI_BASE_ADDRESS_0 + 4 * (bar + 1)],
		      (uint32_t)(~(size - 1) >> 32));
	return 0;
}

int pci_func_add_cap(struct pci_func *fn, uint8_t id, const void *body, size_t len)
{
	uint8_t at = fn->next_cap ? fn->next_cap : CAP_AREA_START;

	if (len < 2 || at + len > CAP_AREA_END)
		return -ENOSPC;
	memcpy(&fn->cfg[at], body, len);
	fn->cfg[at] = id;
	fn->cfg[at + 1] = 0;
	/* Link it: the list head, or the previous capability's next pointer. */
	if (!(fn->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST)) {
		fn->cfg[PCI_CAPABILITY_LIST] = at;
		fn->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	} else {
		uint8_t p = fn->cfg[PCI_CAPABILITY_LIST];

		while (fn->cfg[p + 1])
			p = fn->cfg[p + 1];
		fn->cfg[p + 1] = at;
	}
	fn->next_cap = (uint8_t)((at + len + 3) & ~3u);
	return at;
}

int pci_func_add_msix(struct pci_func *fn, uint16_t nr, int bar, uint32_t table_off,
		      uint32_t pba_off)
{
	uint8_t cap[12] = { 0 };
	uint64_t bar_size;
	int at;

	if (nr == 0 || nr > 2048 || bar < 0 || bar >= PCI_NR_BARS || fn->msix_cap ||
	    (table_off | pba_off) & 7)
		return -EINVAL;
	bar_size = fn->bars[bar].size;
	if (table_off + (uint64_t)nr * PCI_MSIX_ENTRY_SIZE > bar_size ||
	    pba_off + ((nr + 63) / 64) * 8ull > bar_size)
		return -EINVAL;
	fn->msix = calloc(nr, sizeof(*fn->msix));
	fn->msix_pba = calloc((nr + 63) / 64, sizeof(uint64_t));
	if (!fn->msix || !fn->msix_pba) {
		pci_func_free(fn);
		return -ENOMEM;
	}
	for (uint16_t i = 0; i < nr; i++)
		fn->msix[i].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT; /* masked at reset */
	put16(&cap[PCI_MSIX_FLAGS], (uint16_t)(nr - 1));
	put32(&cap[4], table_off | (uint32_t)bar);
	put32(&cap[8], pba_off | (uint32_t)bar);
	at = pci_func_add_cap(fn, PCI_CAP_ID_MSIX, cap, sizeof(cap));
	if (at < 0) {
		pci_func_free(fn);
		return at;
	}
	put16(&fn->wmask[at + PCI_MSIX_FLAGS], PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	fn->msix_cap = (uint8_t)at;
	fn->msix_nr = nr;
	fn->msix_bar = bar;
	fn->msix_table_off = table_off;
	fn->msix_pba_off = pba_off;
	return 0;
}

static uint16_t msix_flags(const struct pci_func *fn)
{
	return fn->msix_cap ? get16(&fn->cfg[fn->msix_cap + PCI_MSIX_FLAGS]) : 0;
}

bool pci_msix_enabled(const struct pci_func *fn)
{
	return msix_flags(fn) & PCI_MSIX_FLAGS_ENABLE;
}

static bool msix_vector_masked(const struct pci_func *fn, uint16_t v)
{
	return (msix_flags(fn) & PCI_MSIX_FLAGS_MASKALL) ||
	       (fn->msix[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void msix_send(struct pci_func *fn, uint16_t v)
{
	fn->msix_pba[v / 64] &= ~(1ull << (v % 64));
	if (!(get16(&fn->cfg[PCI_COMMAND]) & PCI_COMMAND_MASTER))
		return; /* a function that is not a bus master cannot write */
	fn->host->msi(fn->host_opaque, fn->msix[v].addr, fn->msix[v].data, fn->bdf);
}

bool pci_msix_notify(struct pci_func *fn, uint16_t vector)
{
	if (!fn->msix_cap || vector >= fn->msix_nr || !pci_msix_enabled(fn))
		return false;
	if (msix_vector_masked(fn, vector)) {
		fn->msix_pba[vector / 64] |= 1ull << (vector % 64);
		return false;
	}
	msix_send(fn, vector);
	return true;
}

/* After an unmask: a vector that became pending while masked fires now (PCI 3.0, 6.8.2.9). */
static void msix_flush_pending(struct pci_func *fn)
{
	if (!pci_msix_enabled(fn))
		return;
	for (uint16_t v = 0; v < fn->msix_nr; v++)
		if ((fn->msix_pba[v / 64] >> (v % 64) & 1) && !msix_vector_masked(fn, v))
			msix_send(fn, v);
}

static void intx_update(struct pci_func *fn)
{
	bool disabled = get16(&fn->cfg[PCI_COMMAND]) & PCI_COMMAND_INTX_DISABLE;

	if (fn->intx_level)
		fn->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		fn->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	fn->host->intx(fn->host_opaque, fn->intx_level && !disabled && !pci_msix_enabled(fn));
}

void pci_intx_set(struct pci_func *fn, bool level)
{
	if (fn->intx_level == level)
		return;
	fn->intx_level = level;
	intx_update(fn);
}

uint32_t pci_cfg_read(struct pci_func *fn, uint32_t reg, unsigned len)
{
	uint32_t v = 0;

	if ((len != 1 && len != 2 && len != 4) || reg >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - reg)
		return len >= 4 ? ~0u : (1u << (8 * len)) - 1;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)fn->cfg[reg + i] << (8 * i);
	return v;
}

static bool touches(uint32_t reg, unsigned len, uint32_t at, unsigned n)
{
	return reg < at + n && at < reg + len;
}

void pci_cfg_write(struct pci_func *fn, uint32_t reg, unsigned len, uint32_t val)
{
	uint16_t old_cmd = get16(&fn->cfg[PCI_COMMAND]), old_msix = msix_flags(fn);

	if ((len != 1 && len != 2 && len != 4) || reg >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - reg)
		return;
	for (unsigned i = 0; i < len; i++) {
		uint8_t m = fn->wmask[reg + i], b = (uint8_t)(val >> (8 * i));

		fn->cfg[reg + i] = (uint8_t)((fn->cfg[reg + i] & ~m) | (b & m));
	}
	if (touches(reg, len, PCI_COMMAND, 2) && old_cmd != get16(&fn->cfg[PCI_COMMAND]))
		intx_update(fn);
	if (fn->msix_cap && touches(reg, len, fn->msix_cap + PCI_MSIX_FLAGS, 2) &&
	    old_msix != msix_flags(fn)) {
		intx_update(fn); /* MSI-X enabled means INTx is not used */
		msix_flush_pending(fn);
	}
}

void pci_func_reset(struct pci_func *fn)
{
	/* Every register bit a guest may write powers up as 0 here (BARs, command, MSI-X control). */
	for (unsigned i = 0; i < PCI_CFG_SIZE; i++)
		fn->cfg[i] &= (uint8_t)~fn->wmask[i];
	for (uint16_t v = 0; v < fn->msix_nr; v++)
		fn->msix[v] = (struct msix_entry){ .ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT };
	if (fn->msix_pba)
		memset(fn->msix_pba, 0, (fn->msix_nr + 63) / 64 * sizeof(uint64_t));
	fn->intx_level = false;
	intx_update(fn);
}

uint64_t pci_bar_addr(const struct pci_func *fn, int bar)
{
	uint64_t addr;

	if (bar < 0 || bar >= PCI_NR_BARS || !fn->bars[bar].size ||
	    !(get16(&fn->cfg[PCI_COMMAND]) & PCI_COMMAND_MEMORY))
		return 0;
	addr = get32(&fn->cfg[PCI_BASE_ADDRESS_0 + 4 * bar]) & ~0xfull;
	if (fn->bars[bar].is64)
		addr |= (uint64_t)get32(&fn->cfg[PCI_BASE_ADDRESS_0 + 4 * (bar + 1)]) << 32;
	return addr;
}

static uint64_t msix_table_read(struct pci_func *fn, uint64_t off, unsigned len)
{
	const struct msix_entry *e = &fn->msix[off / PCI_MSIX_ENTRY_SIZE];
	uint8_t raw[PCI_MSIX_ENTRY_SIZE];
	uint64_t v = 0;

	put32(raw, (uint32_t)e->addr);
	put32(raw + 4, (uint32_t)(e->addr >> 32));
	put32(raw + 8, e->data);
	put32(raw + 12, e->ctrl);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)raw[off % PCI_MSIX_ENTRY_SIZE + i] << (8 * i);
	return v;
}

static void msix_table_write(struct pci_func *fn, uint64_t off, unsigned len, uint64_t val)
{
	uint16_t v = (uint16_t)(off / PCI_MSIX_ENTRY_SIZE);
	struct msix_entry *e = &fn->msix[v];
	uint8_t raw[PCI_MSIX_ENTRY_SIZE];
	bool was_masked = msix_vector_masked(fn, v);

	put32(raw, (uint32_t)e->addr);
	put32(raw + 4, (uint32_t)(e->addr >> 32));
	put32(raw + 8, e->data);
	put32(raw + 12, e->ctrl);
	for (unsigned i = 0; i < len; i++)
		raw[off % PCI_MSIX_ENTRY_SIZE + i] = (uint8_t)(val >> (8 * i));
	e->addr = get32(raw) | (uint64_t)get32(raw + 4) << 32;
	e->data = get32(raw + 8);
	/* Only the mask bit of Vector Control is implemented; the rest is reserved. */
	e->ctrl = get32(raw + 12) & PCI_MSIX_ENTRY_CTRL_MASKBIT;
	if (was_masked && !msix_vector_masked(fn, v))
		msix_flush_pending(fn);
}

bool pci_bar_access(struct pci_func *fn, uint64_t gpa, unsigned len, bool is_write, uint64_t *val)
{
	for (int bar = 0; bar < PCI_NR_BARS; bar++) {
		uint64_t base = pci_bar_addr(fn, bar), size = fn->bars[bar].size, off;

		if (!base || gpa < base || gpa - base >= size || len > size - (gpa - base))
			continue;
		off = gpa - base;
		if (bar == fn->msix_bar && off >= fn->msix_table_off &&
		    off - fn->msix_table_off < (uint64_t)fn->msix_nr * PCI_MSIX_ENTRY_SIZE) {
			off -= fn->msix_table_off;
			/* Table entries take aligned 32- and 64-bit accesses only. */
			if ((len != 4 && len != 8) || (off & (len - 1))) {
				if (!is_write)
					*val = 0;
			} else if (is_write) {
				msix_table_write(fn, off, len, *val);
			} else {
				*val = msix_table_read(fn, off, len);
			}
			return true;
		}
		if (bar == fn->msix_bar && off >= fn->msix_pba_off &&
		    off - fn->msix_pba_off < ((fn->msix_nr + 63) / 64) * 8ull) {
			off -= fn->msix_pba_off;
			if (!is_write) {
				uint64_t w = fn->msix_pba[off / 8];

				*val = (w >> (8 * (off % 8))) &
				       (len == 8 ? ~0ull : (1ull << (8 * len)) - 1);
			}
			return true; /* the PBA is read-only */
		}
		if (is_write)
			fn->bar_ops->write(fn, bar, off, len, *val);
		else
			*val = fn->bar_ops->read(fn, bar, off, len);
		return true;
	}
	return false;
}
