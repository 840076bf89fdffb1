/* SPDX-License-Identifier: MIT */
#include "its.h"

#define GICR_CTLR      0x0000
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078

#define ITS_CMD_MOVI	0x01
#define ITS_CMD_INT	0x03
#define ITS_CMD_SYNC	0x05
#define ITS_CMD_MAPD	0x08
#define ITS_CMD_MAPC	0x09
#define ITS_CMD_MAPTI	0x0a
#define ITS_CMD_INV	0x0c
#define ITS_CMD_INVALL	0x0d
#define ITS_CMD_DISCARD 0x0f

#define VALID (1ull << 63)

static struct its_tables *its;
static unsigned cmd_wr;

bool its_present(void)
{
	return gic_version == 3 && dt_mentions("arm,gic-v3-its");
}

void its_init(struct its_tables *t)
{
	its = t;
	cmd_wr = 0;
	for (unsigned i = 0; i < ITS_NR_LPIS; i++)
		t->prop[i] = 0xa0 | 1; /* priority 0xa0, enabled */
	dsb();
	/* GITS_BASER<n>.Page_Size 2 = 64 KiB, one page each; Type is read-only. */
	mmio_write64(GITS_BASE + GITS_BASER0, VALID | (uintptr_t)t->dev | (2ull << 8));
	mmio_write64(GITS_BASE + GITS_BASER0 + 8, VALID | (uintptr_t)t->coll | (2ull << 8));
	mmio_write64(GITS_BASE + GITS_CBASER, VALID | (uintptr_t)t->cmdq); /* Size 0: 4 KiB */
	mmio_write32(GITS_BASE + GITS_CTLR, 1);
}

void its_redist_enable_lpis(void)
{
	uintptr_t rd = gic_redist_base();

	mmio_write64(rd + GICR_PROPBASER, (uintptr_t)its->prop | 15); /* IDbits: 16 */
	/* PTZ: the pending table is known to be zero. */
	mmio_write64(rd + GICR_PENDBASER, (uintptr_t)its->pend[cpu_id()] | (1ull << 62));
	mmio_write32(rd + GICR_CTLR, mmio_read32(rd + GICR_CTLR) | 1); /* EnableLPIs */
	dsb();
}

void its_lpi_set_enabled(unsigned lpi, bool enabled)
{
	uint8_t *p = &its->prop[lpi - LPI_BASE];

	*p = (uint8_t)((*p & ~1u) | enabled);
	dsb();
}

bool its_idle(void)
{
	return mmio_read64(GITS_BASE + GITS_CREADR) == cmd_wr;
}

void its_cmd(uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3)
{
	uint64_t *c = &its->cmdq[cmd_wr / 8];

	c[0] = d0;
	c[1] = d1;
	c[2] = d2;
	c[3] = d3;
	cmd_wr = (cmd_wr + 32) % sizeof(its->cmdq);
	dsb();
	mmio_write64(GITS_BASE + GITS_CWRITER, cmd_wr);
	uint64_t end = timer_count() + timer_freq();
	while (!its_idle() && timer_count() < end)
		;
}

static uint64_t dev_word(unsigned cmd, uint32_t devid)
{
	return cmd | (uint64_t)devid << 32;
}

void its_mapd(uint32_t devid, void *itt)
{
	if (itt)
		its_cmd(dev_word(ITS_CMD_MAPD, devid), 7, VALID | (uintptr_t)itt, 0);
	else
		its_cmd(dev_word(ITS_CMD_MAPD, devid), 0, 0, 0);
}

void its_mapc(unsigned coll, unsigned rd)
{
	its_cmd(ITS_CMD_MAPC, 0, VALID | (uint64_t)rd << 16 | coll, 0);
}

void its_mapti(uint32_t devid, uint32_t event, unsigned lpi, unsigned coll)
{
	its_cmd(dev_word(ITS_CMD_MAPTI, devid), event | (uint64_t)lpi << 32, coll, 0);
}

void its_int(uint32_t devid, uint32_t event)
{
	its_cmd(dev_word(ITS_CMD_INT, devid), event, 0, 0);
}

void its_inv(uint32_t devid, uint32_t event)
{
	its_cmd(dev_word(ITS_CMD_INV, devid), event, 0, 0);
}

void its_invall(unsigned coll)
{
	its_cmd(ITS_CMD_INVALL, 0, coll, 0);
}

void its_movi(uint32_t devid, uint32_t event, unsigned coll)
{
	its_cmd(dev_word(ITS_CMD_MOVI, devid), event, coll, 0);
}

void its_discard(uint32_t devid, uint32_t event)
{
	its_cmd(dev_word(ITS_CMD_DISCARD, devid), event, 0, 0);
}

void its_sync(unsigned rd)
{
	its_cmd(ITS_CMD_SYNC, 0, (uint64_t)rd << 16, 0);
}
