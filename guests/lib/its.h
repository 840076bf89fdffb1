/* SPDX-License-Identifier: MIT */
/*
 * GICv3 ITS driver for the guests (IHI 0069, chapters 5 and 6), at QEMU virt's
 * address: flat tables and the command queue in guest RAM, LPIs enabled in each
 * redistributor, and one helper per ITS command.
 */
#ifndef GUEST_ITS_H
#define GUEST_ITS_H

#include "gic.h"

#define GITS_BASE    0x08080000ul
#define GITS_CTLR    0x0000
#define GITS_CBASER  0x0080
#define GITS_CWRITER 0x0088
#define GITS_CREADR  0x0090
#define GITS_BASER0  0x0100

#define LPI_BASE     8192
#define ITS_NR_LPIS  64
#define ITS_ITT_SIZE 4096
#define ITS_NR_ITTS  4
/* ivy's test device (0x090D0000) sends its MSIs through the ITS as this DeviceID. */
#define ITS_TESTDEV_DEVID 0x10

/*
 * Everything the ITS and the redistributors read from guest RAM. The guest
 * owns it (a static of this type: the lib does not reserve ~1 MiB in every
 * guest); the alignments are the architecture's.
 */
struct its_tables {
	uint8_t prop[65536] __attribute__((aligned(65536))); /* 16 ID bits */
	uint8_t pend[MAX_CPUS][65536] __attribute__((aligned(65536)));
	uint8_t dev[65536] __attribute__((aligned(65536))); /* flat, one 64 KiB page */
	uint8_t coll[65536] __attribute__((aligned(65536)));
	uint64_t cmdq[4096 / 8] __attribute__((aligned(4096)));
	uint8_t itt[ITS_NR_ITTS][ITS_ITT_SIZE] __attribute__((aligned(4096)));
};

/* True if the DT describes an ITS (needs gic_dist_init first). */
bool its_present(void);
/*
 * Once, by CPU 0: LPIs LPI_BASE..+ITS_NR_LPIS enabled at priority 0xa0 in the
 * property table, device and collection tables and command queue set, ITS on.
 */
void its_init(struct its_tables *t);
/* On each CPU that takes LPIs, after gic_cpu_init(). */
void its_redist_enable_lpis(void);
/* Writes an LPI's enable bit in the property table (an INV or INVALL makes it visible). */
void its_lpi_set_enabled(unsigned lpi, bool enabled);

/* The commands; each waits (up to a second) until the ITS has consumed it. */
void its_cmd(uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3);
/* MAPD with 8 EventID bits; itt NULL unmaps the device (V=0). */
void its_mapd(uint32_t devid, void *itt);
/* MAPC: collection -> the redistributor of CPU rd (GITS_TYPER.PTA is 0). */
void its_mapc(unsigned coll, unsigned rd);
void its_mapti(uint32_t devid, uint32_t event, unsigned lpi, unsigned coll);
void its_int(uint32_t devid, uint32_t event);
void its_inv(uint32_t devid, uint32_t event);
void its_invall(unsigned coll);
void its_movi(uint32_t devid, uint32_t event, unsigned coll);
void its_discard(uint32_t devid, uint32_t event);
void its_sync(unsigned rd);
/* True if every command written so far has been consumed. */
bool its_idle(void);

#endif
