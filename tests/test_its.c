/* SPDX-License-Identifier: MIT */
/*
 * The ITS's registers, attributes and GIC-CHOICES.md's "ITS" section, line by
 * line. Each test drives the ITS as a guest (MMIO accesses, commands in guest
 * memory) or a VMM (attributes, MSIs) would and checks what they would see.
 */
#include "its_env.h"

#include <ivy/gic.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int its_reg_table_check(void);

#define E_ITS_MAPTI_UNMAPPED_DEVICE 0x010a04
#define E_ITS_MAPC_PROCNUM_OOR	    0x010902

static uint64_t bad_accesses(struct its_env *e)
{
	return ivy_vm_stat(e->vm, IVY_STAT_GIC_BAD_ACCESS);
}

static void test_reg_table_sorted(void **state)
{
	(void)state;
	assert_int_equal(its_reg_table_check(), 0);
}

/* GITS_TYPER: physical LPIs, ITT entry size 8, DevBits 16, IDbits 16, CIL 0, PTA 0. */
static void test_typer(void **state)
{
	struct its_env *e = its_env_new(1, ENV_NO_ENABLE);
	uint64_t typer = its_env_read(e, GITS_TYPER, 8);

	(void)state;
	assert_int_equal(typer & 1, 1);		    /* Physical */
	assert_int_equal((typer >> 4) & 0xf, 7);    /* ITT_entry_size - 1 */
	assert_int_equal((typer >> 8) & 0x1f, 15);  /* ID_bits - 1 */
	assert_int_equal((typer >> 13) & 0x1f, 15); /* Devbits - 1 */
	assert_int_equal((typer >> 19) & 1, 0);	    /* PTA */
	assert_int_equal((typer >> 36) & 1, 0);	    /* CIL */
	assert_int_equal((typer >> 24) & 0xff, 0);  /* HCC */
	/* The two 32-bit halves read the same value. */
	assert_int_equal(its_env_read(e, GITS_TYPER, 4), typer & 0xffffffff);
	assert_int_equal(its_env_read(e, GITS_TYPER + 4, 4), typer >> 32);
	/* Writes are ignored. */
	its_env_write(e, GITS_TYPER, 8, 0);
	assert_int_equal(its_env_read(e, GITS_TYPER, 8), typer);
	assert_int_equal(its_env_read(e, GITS_IIDR, 4) & 0xfff, 0x43b);
	assert_int_equal((its_env_read(e, GITS_PIDR2, 4) >> 4) & 0xf, 3);
	assert_int_equal(its_env_read(e, 0xfff0, 4), 0x0d);
	assert_int_equal(its_env_read(e, 0xfffc, 4), 0xb1);
	its_env_free(e);
}

/*
 * GITS_BASER0 is the Device table, BASER1 the Collection table; flat or two-level;
 * page size 64 KiB whatever is written; Type and Entry_Size read-only; BASER2-7 RAZ/WI.
 */
static void test_baser(void **state)
{
	struct its_env *e = its_env_new(1, ENV_NO_ENABLE);
	uint64_t v;

	(void)state;
	/* Write all ones: Type, Entry_Size and Page_Size keep their values. */
	its_env_write(e, GITS_BASER(0), 8, ~0ull);
	v = its_env_read(e, GITS_BASER(0), 8);
	assert_int_equal((v >> 56) & 7, 1);		   /* Type: Device */
	assert_int_equal((v >> 48) & 0x1f, 7);		   /* Entry_Size - 1 */
	assert_int_equal((v >> 8) & 3, 2);		   /* Page_Size: 64 KiB */
	assert_int_equal(v >> 62, 3);			   /* Valid and Indirect writable */
	its_env_write(e, GITS_BASER(1), 8, 0x12345000ull); /* Page_Size 4 KiB requested */
	v = its_env_read(e, GITS_BASER(1), 8);
	assert_int_equal((v >> 56) & 7, 4); /* Type: Collection */
	assert_int_equal((v >> 8) & 3, 2);
	assert_int_equal(v >> 62, 0); /* flat, not valid */
	for (int n = 2; n < 8; n++) {
		its_env_write(e, GITS_BASER(n), 8, ~0ull);
		assert_int_equal(its_env_read(e, GITS_BASER(n), 8), 0);
	}
	/* A 64-bit register can be written as two 32-bit halves, low first. */
	its_env_write(e, GITS_BASER(0), 4, 0x00450000);
	its_env_write(e, GITS_BASER(0) + 4, 4, 0x80000000);
	v = its_env_read(e, GITS_BASER(0), 8);
	assert_int_equal(v & 0xffffffffull, 0x00450200);
	assert_int_equal(v >> 63, 1);
	its_env_free(e);
}

/* GITS_CTLR.Enabled cannot be set while GITS_CBASER, GITS_BASER0 or GITS_BASER1 is not Valid. */
static void test_enable_needs_valid_tables(void **state)
{
	static const uint64_t regs[] = { GITS_CBASER, GITS_BASER(0), GITS_BASER(1) };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct its_env *e = its_env_new(1, ENV_NO_ENABLE);
		uint64_t v = its_env_read(e, regs[i], 8);

		its_env_write(e, regs[i], 8, v & ~(1ull << 63));
		its_env_write(e, GITS_CTLR, 4, 1);
		assert_int_equal(its_env_read(e, GITS_CTLR, 4) & 1, 0);
		assert_int_equal(its_env_reg_set(e->its, GITS_CTLR, 1), -EINVAL);
		its_env_write(e, regs[i], 8, v);
		its_env_write(e, GITS_CTLR, 4, 1);
		assert_int_equal(its_env_read(e, GITS_CTLR, 4) & 1, 1);
		its_env_free(e);
	}
}

/* Quiescent reads 1 when CREADR == CWRITER and the ITS is not stalled. */
static void test_quiescent(void **state)
{
	struct its_env *e = its_env_new(1, ENV_NO_ENABLE);

	(void)state;
	assert_int_equal(its_env_read(e, GITS_CTLR, 4), 1u << 31);
	/* Disabled: commands wait, so CREADR != CWRITER. */
	cmd_sync(e, 0);
	assert_int_equal(its_env_read(e, GITS_CTLR, 4) >> 31, 0);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), 0);
	its_env_write(e, GITS_CTLR, 4, 1);
	assert_int_equal(its_env_read(e, GITS_CTLR, 4), (1u << 31) | 1);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), 32);
	its_env_free(e);
}

/* CBASER and BASERn ignore writes while enabled; a CBASER write zeroes CREADR and CWRITER. */
static void test_cbaser_baser_rules(void **state)
{
	struct its_env *e = its_env_new(1, 0);
	uint64_t cb = its_env_read(e, GITS_CBASER, 8), b0 = its_env_read(e, GITS_BASER(0), 8);

	(void)state;
	cmd_sync(e, 0);
	its_env_write(e, GITS_CBASER, 8, 0);
	its_env_write(e, GITS_BASER(0), 8, 0);
	assert_int_equal(its_env_read(e, GITS_CBASER, 8), cb);
	assert_int_equal(its_env_read(e, GITS_BASER(0), 8), b0);
	assert_int_equal(its_env_reg_set(e->its, GITS_CBASER, 0), -EBUSY);
	assert_int_equal(its_env_reg_set(e->its, GITS_BASER(0), 0), -EBUSY);
	assert_int_equal(its_env_reg_set(e->its, GITS_CREADR, 0), -EBUSY);
	assert_int_equal(its_env_read(e, GITS_CWRITER, 8), 32);
	its_env_write(e, GITS_CTLR, 4, 0);
	its_env_write(e, GITS_CBASER, 8, cb);
	assert_int_equal(its_env_read(e, GITS_CWRITER, 8), 0);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), 0);
	its_env_free(e);
}

/* A CWRITER value at or beyond the queue size is ignored. */
static void test_cwriter_beyond_queue(void **state)
{
	struct its_env *e = its_env_new(1, 0);

	(void)state;
	/* A one-page queue: 4096 bytes. */
	its_env_write(e, GITS_CTLR, 4, 0);
	its_env_write(e, GITS_CBASER, 8, (1ull << 63) | ENV_CMDQ);
	its_env_write(e, GITS_CTLR, 4, 1);
	its_env_write(e, GITS_CWRITER, 8, 4096);
	assert_int_equal(its_env_read(e, GITS_CWRITER, 8), 0);
	its_env_write(e, GITS_CWRITER, 8, 4064);
	assert_int_equal(its_env_read(e, GITS_CWRITER, 8), 4064);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), 4064);
	assert_int_equal(its_env_reg_set(e->its, GITS_CWRITER, 8192), -EINVAL);
	its_env_free(e);
}

/* A VMM that sees 64-bit accesses as two 32-bit halves (low first) drives the queue fine. */
static void test_cwriter_halves(void **state)
{
	struct its_env *e = its_env_new(2, 0);

	(void)state;
	cmd_mapc(e, 0, 1, true);
	its_env_queue(e, 0x08 | 4ull << 32, 3, (1ull << 63) | its_env_itt(4), 0);
	its_env_queue(e, 0x0a | 4ull << 32, 2 | 8200ull << 32, 0, 0);
	its_env_write(e, GITS_CWRITER, 4, e->cwriter);
	its_env_write(e, GITS_CWRITER + 4, 4, 0);
	assert_int_equal(its_env_read(e, GITS_CREADR, 4), e->cwriter);
	assert_int_equal(its_env_read(e, GITS_CREADR + 4, 4), 0);
	assert_int_equal(its_env_msi(e, 4, 2), 1);
	assert_int_equal(fake_pending(e->rd, 8200), 1);
	its_env_free(e);
}

/* Commands are processed in order; a bad one is skipped with its code recorded. */
static void test_error_skipped_and_recorded(void **state)
{
	struct its_env *e = its_env_new(2, 0);
	uint64_t before = ivy_vm_stat(e->vm, IVY_STAT_ITS_CMD_ERROR);

	(void)state;
	its_env_queue(e, 0x09, 0, (1ull << 63) | 0 << 16 | 0, 0);     /* MAPC 0 -> 0 */
	its_env_queue(e, 0x0a | 7ull << 32, 1 | 8192ull << 32, 0, 0); /* MAPTI, device 7 unmapped */
	its_env_queue(e, 0x09, 0, (1ull << 63) | 5ull << 16 | 1, 0);  /* MAPC to rd 5: none */
	its_env_queue(e, 0x08 | 3ull << 32, 3, (1ull << 63) | its_env_itt(3), 0); /* MAPD 3 */
	its_env_queue(e, 0x0a | 3ull << 32, 1 | 8200ull << 32, 0, 0); /* MAPTI 3/1 -> 8200 */
	its_env_write(e, GITS_CWRITER, 8, e->cwriter);
	assert_int_equal(its_env_nr_errors(e), 2);
	assert_int_equal(its_env_last_error(e), E_ITS_MAPC_PROCNUM_OOR);
	assert_int_equal(ivy_vm_stat(e->vm, IVY_STAT_ITS_CMD_ERROR) - before, 2);
	assert_int_equal(its_env_msi(e, 3, 1), 1);
	assert_int_equal(fake_pending(e->rd, 8200), 0);
	its_env_free(e);
}

/* An unreadable command stalls the queue until CWRITER is written with Retry. */
static void test_stall_and_retry(void **state)
{
	struct its_env *e = its_env_new(1, 0);
	const ivy_gpa_t end = ENV_RAM_BASE + ENV_RAM_SIZE, q = end - 4096;
	uint64_t cmd[4] = { 0x09, 0, (1ull << 63), 0 }; /* MAPC 0 -> rd 0 */
	uint8_t *extra = aligned_alloc(4096, 4096);
	uint32_t i;

	(void)state;
	its_env_write(e, GITS_CTLR, 4, 0);
	/* Two-page queue whose second page is not RAM. */
	its_env_write(e, GITS_CBASER, 8, (1ull << 63) | q | 1);
	its_env_write(e, GITS_CTLR, 4, 1);
	for (i = 0; i < 128; i++) {
		uint64_t sync[4] = { 0x05, 0, 0, 0 };

		assert_int_equal(ivy_guest_write(e->vm, q + i * 32, sync, 32), 0);
	}
	its_env_write(e, GITS_CWRITER, 8, 129 * 32);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), 4096 | 1); /* Stalled at 4096 */
	assert_int_equal(its_env_read(e, GITS_CTLR, 4) >> 31, 0);    /* not quiescent */
	/* Make the command readable; a CWRITER write without Retry leaves it stalled. */
	memset(extra, 0, 4096);
	memcpy(extra, cmd, sizeof(cmd));
	assert_int_equal(ivy_vm_add_ram(e->vm, end, 4096, extra), 0);
	its_env_write(e, GITS_CWRITER, 8, 129 * 32);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), 4096 | 1);
	its_env_write(e, GITS_CWRITER, 8, 129 * 32 | 1);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), 129 * 32);
	assert_int_equal(its_env_read(e, GITS_CTLR, 4) >> 31, 1);
	/* The MAPC took effect: mapping into collection 0 delivers to rd 0. */
	its_env_write(e, GITS_CTLR, 4, 0);
	its_env_write(e, GITS_CBASER, 8, (1ull << 63) | ENV_CMDQ | 15);
	its_env_write(e, GITS_CTLR, 4, 1);
	e->cwriter = 0;
	cmd_mapd(e, 1, 4, true);
	cmd_mapti(e, 1, 2, 9000, 0);
	assert_int_equal(its_env_msi(e, 1, 2), 1);
	assert_int_equal(fake_pending(e->rd, 9000), 0);
	ivy_vm_close(e->vm);
	e->vm = NULL;
	free(extra);
	fake_redist_free(e->rd);
	free(e->ram);
	free(e);
}

static void map_basic(struct its_env *e)
{
	cmd_mapc(e, 0, 0, true);
	cmd_mapc(e, 1, 1, true);
	cmd_mapd(e, 1, 8, true);
	cmd_mapti(e, 1, 0, 8192, 0);
	cmd_mapti(e, 1, 1, 8193, 1);
	assert_int_equal(its_env_nr_errors(e), 0);
}

/* MAPD V=1 on a mapped device discards its old translations. */
static void test_mapd_remap_discards(void **state)
{
	struct its_env *e = its_env_new(2, 0);

	(void)state;
	map_basic(e);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(fake_pending(e->rd, 8192), 0);
	cmd_mapd(e, 1, 8, true);
	assert_int_equal(fake_pending(e->rd, 8192), -1);
	assert_int_equal(fake_refs(e->rd, 8192), 0);
	assert_int_equal(fake_refs(e->rd, 8193), 0);
	assert_int_equal(its_env_msi(e, 1, 0), 0);
	assert_int_equal(its_env_msi(e, 1, 1), 0);
	/* The device is mapped again and takes new mappings. */
	cmd_mapti(e, 1, 0, 8300, 1);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(fake_pending(e->rd, 8300), 1);
	its_env_free(e);
}

/* MAPD V=0 unmaps the device and its pending LPIs. */
static void test_mapd_v0_unmaps(void **state)
{
	struct its_env *e = its_env_new(2, 0);

	(void)state;
	map_basic(e);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	cmd_mapd(e, 1, 8, false);
	assert_int_equal(fake_pending(e->rd, 8192), -1);
	assert_int_equal(fake_pending(e->rd, 8193), -1);
	assert_int_equal(its_env_msi(e, 1, 0), 0);
	cmd_mapti(e, 1, 0, 8192, 0);
	assert_int_equal(its_env_last_error(e), E_ITS_MAPTI_UNMAPPED_DEVICE);
	its_env_free(e);
}

/* MAPTI/MAPI on an existing (DeviceID, EventID) keeps the old mapping. */
static void test_mapti_existing_kept(void **state)
{
	struct its_env *e = its_env_new(2, 0);

	(void)state;
	map_basic(e);
	cmd_mapti(e, 1, 0, 9999, 1);
	assert_int_equal(its_env_nr_errors(e), 0);
	assert_int_equal(fake_refs(e->rd, 9999), 0);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(fake_pending(e->rd, 8192), 0);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	assert_int_equal(fake_pending(e->rd, 8193), 1);
	/* MAPI maps EventID = pINTID. */
	cmd_mapd(e, 2, 16, true);
	cmd_mapi(e, 2, 8500, 0);
	cmd_mapi(e, 2, 8500, 1);
	assert_int_equal(its_env_nr_errors(e), 0);
	assert_int_equal(fake_refs(e->rd, 8500), 1);
	assert_int_equal(its_env_msi(e, 2, 8500), 1);
	assert_int_equal(fake_pending(e->rd, 8500), 0);
	its_env_free(e);
}

/* MAPTI to a collection not mapped yet succeeds; the LPI is delivered once MAPC maps it. */
static void test_mapti_before_mapc(void **state)
{
	struct its_env *e = its_env_new(4, 0);

	(void)state;
	cmd_mapd(e, 0, 4, true);
	cmd_mapti(e, 0, 3, 8192, 7);
	assert_int_equal(its_env_nr_errors(e), 0);
	assert_int_equal(its_env_msi(e, 0, 3), 0);
	assert_int_equal(fake_pending(e->rd, 8192), -1);
	cmd_mapc(e, 7, 3, true);
	assert_int_equal(its_env_msi(e, 0, 3), 1);
	assert_int_equal(fake_pending(e->rd, 8192), 3);
	its_env_free(e);
}

/* MOVALL moves only the LPIs targeting the first redistributor. */
static void test_movall_only_first(void **state)
{
	struct its_env *e = its_env_new(3, 0);

	(void)state;
	map_basic(e);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	cmd_movall(e, 1, 2);
	assert_int_equal(its_env_nr_errors(e), 0);
	assert_int_equal(fake_pending(e->rd, 8192), 0); /* on rd 0: stays */
	assert_int_equal(fake_pending(e->rd, 8193), 2); /* pending state moved */
	cmd_clear(e, 1, 1);
	assert_int_equal(fake_pending(e->rd, 8193), -1);
	assert_int_equal(its_env_msi(e, 1, 1), 1); /* new MSIs go to rd 2 */
	assert_int_equal(fake_pending(e->rd, 8193), 2);
	its_env_free(e);
}

/* MOVI moves pending state with the LPI. */
static void test_movi_moves_pending(void **state)
{
	struct its_env *e = its_env_new(2, 0);

	(void)state;
	map_basic(e);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	cmd_movi(e, 1, 0, 1);
	assert_int_equal(its_env_nr_errors(e), 0);
	assert_int_equal(fake_pending(e->rd, 8192), 1);
	cmd_clear(e, 1, 0);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(fake_pending(e->rd, 8192), 1);
	its_env_free(e);
}

/*
 * No MSI uses a translation that DISCARD, MOVI, MAPD, MAPC V=0, MOVALL, ITS
 * disable or EnableLPIs clear invalidated (the sequential half; the
 * concurrent one is in test_its_concurrent.c). An MSI whose target has LPIs
 * disabled is dropped.
 */
static void test_no_stale_translation(void **state)
{
	struct its_env *e = its_env_new(3, 0);

	(void)state;
	map_basic(e);
	cmd_discard(e, 1, 0);
	assert_int_equal(its_env_msi(e, 1, 0), 0);
	cmd_movi(e, 1, 1, 0);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	assert_int_equal(fake_pending(e->rd, 8193), 0);
	cmd_clear(e, 1, 1);
	cmd_mapc(e, 0, 0, false);
	assert_int_equal(its_env_msi(e, 1, 1), 0);
	assert_int_equal(fake_pending(e->rd, 8193), -1);
	cmd_mapc(e, 0, 2, true);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	assert_int_equal(fake_pending(e->rd, 8193), 2);
	cmd_clear(e, 1, 1);
	cmd_movall(e, 2, 1);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	assert_int_equal(fake_pending(e->rd, 8193), 1);
	cmd_clear(e, 1, 1);
	fake_set_lpis(e->rd, 1, false); /* EnableLPIs clear on rd 1 */
	assert_int_equal(its_env_msi(e, 1, 1), 0);
	assert_int_equal(fake_pending(e->rd, 8193), -1);
	fake_set_lpis(e->rd, 1, true);
	its_env_write(e, GITS_CTLR, 4, 0);
	assert_int_equal(its_env_msi(e, 1, 1), 0);
	its_env_write(e, GITS_CTLR, 4, 1);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	cmd_mapd(e, 1, 8, false);
	assert_int_equal(its_env_msi(e, 1, 1), 0);
	its_env_free(e);
}

/* The host MSI call returns 1 when delivered, 0 when blocked, a negative errno on error. */
static void test_msi_return_values(void **state)
{
	struct its_env *e = its_env_new(2, 0);
	struct ivy_device *bare;
	struct ivy_vm *other = test_vm_new(1);
	uint64_t base = 0x09000000;
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_ADDR,
				     .attr = IVY_ITS_ADDR_TYPE,
				     .addr = &base };

	(void)state;
	map_basic(e);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(its_env_msi(e, 1, 200), 0);	 /* no mapping */
	assert_int_equal(its_env_msi(e, 70000, 0), 0);	 /* DeviceID beyond 16 bits */
	assert_int_equal(its_env_msi(e, 1, 0x10000), 0); /* EventID beyond 16 bits */
	assert_int_equal(its_signal_msi(e->vm, e->its_base, 0, 1), -ENODEV); /* not a doorbell */
	assert_int_equal(its_signal_msi(other, e->its_base + IVY_ITS_TRANSLATER_OFFSET, 0, 1),
			 -ENODEV); /* another VM's doorbell address */
	assert_int_equal(its_signal_msi(NULL, 0, 0, 0), -EINVAL);
	/* An ITS without redistributors. */
	assert_int_equal(ivy_device_create(e->vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &bare), 0);
	assert_int_equal(ivy_device_set_attr(bare, &a), 0);
	assert_int_equal(its_signal_msi(e->vm, base + IVY_ITS_TRANSLATER_OFFSET, 0, 0), -ENODEV);
	ivy_vm_close(other);
	its_env_free(e);
}

/* Bad widths, misaligned accesses and reserved offsets read as zero, ignore writes, count. */
static void test_bad_accesses(void **state)
{
	struct its_env *e = its_env_new(1, ENV_NO_ENABLE);
	uint64_t n = bad_accesses(e);
	uint64_t cb = its_env_read(e, GITS_CBASER, 8);

	(void)state;
	assert_int_equal(its_env_read(e, GITS_CTLR, 1), 0);
	assert_int_equal(its_env_read(e, GITS_CTLR, 2), 0);
	assert_int_equal(its_env_read(e, GITS_CTLR, 8), 0); /* 32-bit register */
	assert_int_equal(its_env_read(e, GITS_CBASER + 2, 4), 0);
	assert_int_equal(its_env_read(e, 0x40, 4), 0); /* reserved */
	its_env_write(e, GITS_CBASER, 2, 0);
	its_env_write(e, GITS_CBASER + 4, 8, 0);
	assert_int_equal(its_env_read(e, GITS_CBASER, 8), cb);
	its_env_write(e, GITS_CTLR, 8, 1);
	assert_int_equal(its_env_read(e, GITS_CTLR, 4) & 1, 0);
	assert_int_equal(bad_accesses(e) - n, 8);
	/* GITS_TRANSLATER from a CPU: no DeviceID, ignored; reads as zero; 16 bits allowed. */
	its_env_write(e, GITS_TRANSLATER, 4, 0);
	its_env_write(e, GITS_TRANSLATER, 2, 0);
	assert_int_equal(its_env_read(e, GITS_TRANSLATER, 4), 0);
	assert_int_equal(bad_accesses(e) - n, 8);
	its_env_free(e);
}

static void test_attr_addr(void **state)
{
	struct ivy_vm *vm = test_vm_new(1);
	struct ivy_device *its, *its2;
	uint64_t base, got;
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_ADDR,
				     .attr = IVY_ITS_ADDR_TYPE,
				     .addr = &base };
	struct ivy_device_attr g = { .group = IVY_ITS_GRP_ADDR,
				     .attr = IVY_ITS_ADDR_TYPE,
				     .addr = &got };
	static uint8_t ram[65536] __attribute__((aligned(4096)));

	(void)state;
	assert_int_equal(ivy_vm_add_ram(vm, 0x40000000, sizeof(ram), ram), 0);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &its), 0);
	assert_int_equal(ivy_device_has_attr(its, &a), 0);
	assert_int_equal(ivy_device_get_attr(its, &g), 0);
	assert_true(got == ~0ull);
	base = 0x08081000;
	assert_int_equal(ivy_device_set_attr(its, &a), -EINVAL);
	base = 1ull << 40;
	assert_int_equal(ivy_device_set_attr(its, &a), -E2BIG);
	base = 0x40000000 - 0x10000; /* the 128 KiB frame would overlap RAM */
	assert_int_equal(ivy_device_set_attr(its, &a), -EEXIST);
	base = 0x08080000;
	assert_int_equal(ivy_device_set_attr(its, &a), 0);
	assert_int_equal(ivy_device_get_attr(its, &g), 0);
	assert_int_equal(got, 0x08080000);
	base = 0x08100000;
	assert_int_equal(ivy_device_set_attr(its, &a), -EEXIST); /* already set */
	/* Any number per VM, on separate frames. */
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &its2), 0);
	base = 0x08090000; /* overlaps the first ITS's translation page */
	assert_int_equal(ivy_device_set_attr(its2, &a), -EEXIST);
	base = 0x080a0000;
	assert_int_equal(ivy_device_set_attr(its2, &a), 0);
	a.attr = 0;
	assert_int_equal(ivy_device_set_attr(its, &a), -ENXIO);
	assert_int_equal(ivy_device_has_attr(its, &a), -ENXIO);
	a.group = 1;
	assert_int_equal(ivy_device_set_attr(its, &a), -ENXIO);
	assert_int_equal(ivy_device_destroy(its2), 0);
	ivy_vm_close(vm);
}

static void test_attr_regs(void **state)
{
	struct its_env *e = its_env_new(1, ENV_NO_ENABLE);
	struct ivy_device_attr h = { .group = IVY_ITS_GRP_ITS_REGS };
	uint64_t v;

	(void)state;
	assert_int_equal(its_env_reg_get(e->its, GITS_TYPER, &v), 0);
	assert_int_equal(v, its_env_read(e, GITS_TYPER, 8));
	assert_int_equal(its_env_reg_get(e->its, GITS_IIDR, &v), 0);
	assert_int_equal(its_env_reg_set(e->its, GITS_IIDR, v), 0);	      /* same value: fine */
	assert_int_equal(its_env_reg_set(e->its, GITS_IIDR, v + 1), -EINVAL); /* read-only */
	assert_int_equal(its_env_reg_set(e->its, GITS_TYPER, 0), -EINVAL);
	assert_int_equal(its_env_reg_get(e->its, GITS_TYPER + 4, &v),
			 -EINVAL); /* 64-bit alignment */
	assert_int_equal(its_env_reg_get(e->its, 0x40, &v), -ENXIO);
	assert_int_equal(its_env_reg_get(e->its, GITS_TRANSLATER, &v), -ENXIO);
	assert_int_equal(its_env_reg_get(e->its, GITS_PIDR2, &v), 0);
	assert_int_equal(v, 0x3b);
	h.attr = GITS_CREADR;
	assert_int_equal(ivy_device_has_attr(e->its, &h), 0);
	h.attr = 0x44;
	assert_int_equal(ivy_device_has_attr(e->its, &h), -ENXIO);
	/* CREADR restores within the queue only, with Stalled. */
	assert_int_equal(its_env_reg_set(e->its, GITS_CREADR, 0x10000), -EINVAL);
	assert_int_equal(its_env_reg_set(e->its, GITS_CREADR, 0x40 | 1), 0);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), 0x41);
	assert_int_equal(its_env_reg_set(e->its, GITS_CTLR, 1ull << 40), -EINVAL);
	its_env_free(e);
}

/* CTRL_RESET: disabled, quiescent, no tables, no mappings. */
static void test_ctrl_reset(void **state)
{
	struct its_env *e = its_env_new(2, 0);
	uint64_t v;

	(void)state;
	map_basic(e);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_CTRL_INIT), 0);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_CTRL_RESET), 0);
	assert_int_equal(its_env_ctrl(e->its, 3), -ENXIO);
	assert_int_equal(its_env_read(e, GITS_CTLR, 4), 1u << 31);
	assert_int_equal(its_env_read(e, GITS_CBASER, 8), 0);
	assert_int_equal(its_env_read(e, GITS_CWRITER, 8), 0);
	assert_int_equal(its_env_read(e, GITS_BASER(0), 8) >> 63, 0);
	assert_int_equal(fake_refs(e->rd, 8192), 0);
	assert_int_equal(fake_pending(e->rd, 8192), -1);
	assert_int_equal(its_env_msi(e, 1, 0), 0);
	assert_int_equal(its_env_reg_get(e->its, GITS_BASER(1), &v), 0);
	assert_int_equal((v >> 56) & 7, 4);
	its_env_free(e);
}

/*
 * Commands that are not errors: MAPD V=0 of an unmapped device, MOVALL to the
 * same redistributor, SYNC (even to a processor that does not exist), INV of
 * an interrupt whose collection is not mapped, unknown and GICv4 opcodes.
 */
static void test_quiet_commands(void **state)
{
	struct its_env *e = its_env_new(2, 0);

	(void)state;
	map_basic(e);
	cmd_mapti(e, 1, 2, 8194, 9); /* collection 9 never mapped */
	cmd_mapd(e, 5, 4, false);
	cmd_movall(e, 1, 1);
	cmd_sync(e, 0);
	cmd_sync(e, 77);
	cmd_inv(e, 1, 2);
	its_env_cmd(e, 0x00, 0, 0, 0); /* no such command */
	its_env_cmd(e, 0x2a, 0, 0, 0); /* VMAPTI (GICv4) */
	its_env_cmd(e, 0xff, ~0ull, ~0ull, ~0ull);
	assert_int_equal(its_env_nr_errors(e), 0);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), e->cwriter);
	assert_int_equal(fake_invs(e->rd, 8194), 1);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	assert_int_equal(fake_pending(e->rd, 8193), 1);
	its_env_free(e);
}

/* Two ITSes in one VM translate independently. */
static void test_two_its(void **state)
{
	struct its_env *e = its_env_new(2, 0);
	struct ivy_device *its2;
	uint64_t base = 0x080a0000;
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_ADDR,
				     .attr = IVY_ITS_ADDR_TYPE,
				     .addr = &base };

	(void)state;
	map_basic(e);
	assert_int_equal(ivy_device_create(e->vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &its2), 0);
	assert_int_equal(ivy_device_set_attr(its2, &a), 0);
	assert_int_equal(its_set_redist_ops(its2, &fake_redist_ops, e->rd), 0);
	/* The second ITS has no tables and is disabled: its doorbell delivers nothing. */
	assert_int_equal(its_signal_msi(e->vm, base + IVY_ITS_TRANSLATER_OFFSET, 0, 1), 0);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(ivy_device_destroy(its2), 0);
	assert_int_equal(its_signal_msi(e->vm, base + IVY_ITS_TRANSLATER_OFFSET, 0, 1), -ENODEV);
	assert_int_equal(its_env_msi(e, 1, 1), 1);
	its_env_free(e);
}

/* its_set_redist_ops: replacing live ops is refused; NULL detaches and drops references. */
static void test_set_redist_ops(void **state)
{
	struct its_env *e = its_env_new(2, 0);
	struct ivy_vm *vm = test_vm_new(1);
	static const struct its_redist_ops partial = { .nr_redists = NULL };

	(void)state;
	map_basic(e);
	assert_int_equal(its_set_redist_ops(e->its, &fake_redist_ops, e->rd), -EBUSY);
	assert_int_equal(its_set_redist_ops(e->its, &partial, e->rd), -EINVAL);
	assert_int_equal(its_set_redist_ops(NULL, &fake_redist_ops, e->rd), -EINVAL);
	assert_int_equal(its_set_redist_ops(e->its, NULL, NULL), 0);
	assert_int_equal(fake_refs(e->rd, 8192), 0);
	assert_int_equal(its_env_msi(e, 1, 0), -ENODEV);
	/* Without redistributors there are no processors to map collections to. */
	cmd_mapc(e, 0, 0, true);
	assert_int_equal(its_env_last_error(e), E_ITS_MAPC_PROCNUM_OOR);
	assert_int_equal(its_set_redist_ops(e->its, &fake_redist_ops, e->rd), 0);
	cmd_mapc(e, 0, 0, true);
	cmd_mapd(e, 1, 8, true);
	cmd_mapti(e, 1, 0, 8192, 0);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	ivy_vm_close(vm);
	its_env_free(e);
}

/*
 * The ITS beside a GICv3 on QEMU's virt layout: distributor 0x08000000, ITS
 * 0x08080000 (128 KiB), redistributors from 0x080a0000. Both frames answer on
 * the bus, an ITS cannot overlap the redistributors, and the VM tears both down.
 */
static void test_beside_gicv3(void **state)
{
	struct ivy_vm *vm = test_vm_new(4);
	struct ivy_device *gic, *its, *its2;
	uint64_t a;
	struct ivy_device_attr ga = { .group = IVY_VGIC_GRP_ADDR, .addr = &a };
	struct ivy_device_attr ia = { .group = IVY_ITS_GRP_ADDR,
				      .attr = IVY_ITS_ADDR_TYPE,
				      .addr = &a };
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);

	(void)state;
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_V3, &gic), 0);
	a = 0x08000000;
	ga.attr = IVY_VGIC_V3_ADDR_TYPE_DIST;
	assert_int_equal(ivy_device_set_attr(gic, &ga), 0);
	a = 0x080a0000;
	ga.attr = IVY_VGIC_V3_ADDR_TYPE_REDIST;
	assert_int_equal(ivy_device_set_attr(gic, &ga), 0);
	assert_int_equal(ivy_vcpu_flush(v), 0); /* maps the GIC's frames */
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &its), 0);
	a = 0x08080000;
	assert_int_equal(ivy_device_set_attr(its, &ia), 0);
	assert_int_equal(ivy_device_create(vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &its2), 0);
	a = 0x080a0000 + 0x20000; /* vCPU 1's redistributor */
	assert_int_equal(ivy_device_set_attr(its2, &ia), -EEXIST);
	assert_int_equal(test_mmio_read(v, 0x08080000 + GITS_TYPER, 4) & 0xff, 0x71);
	/* GICR_TYPER of vCPU 0: Processor_Number 0, and the redistributor is there. */
	assert_int_equal((test_mmio_read(v, 0x080a0000 + 0x8, 4) >> 8) & 0xffff, 0);
	/* The GICv3 gave the ITS its redistributors: the MSI is translated, and blocked (disabled). */
	assert_int_equal(its_signal_msi(vm, 0x08080000 + IVY_ITS_TRANSLATER_OFFSET, 0, 0), 0);
	ivy_vm_close(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reg_table_sorted),
		cmocka_unit_test(test_typer),
		cmocka_unit_test(test_baser),
		cmocka_unit_test(test_enable_needs_valid_tables),
		cmocka_unit_test(test_quiescent),
		cmocka_unit_test(test_cbaser_baser_rules),
		cmocka_unit_test(test_cwriter_beyond_queue),
		cmocka_unit_test(test_cwriter_halves),
		cmocka_unit_test(test_error_skipped_and_recorded),
		cmocka_unit_test(test_stall_and_retry),
		cmocka_unit_test(test_mapd_remap_discards),
		cmocka_unit_test(test_mapd_v0_unmaps),
		cmocka_unit_test(test_mapti_existing_kept),
		cmocka_unit_test(test_mapti_before_mapc),
		cmocka_unit_test(test_movall_only_first),
		cmocka_unit_test(test_movi_moves_pending),
		cmocka_unit_test(test_no_stale_translation),
		cmocka_unit_test(test_msi_return_values),
		cmocka_unit_test(test_bad_accesses),
		cmocka_unit_test(test_attr_addr),
		cmocka_unit_test(test_attr_regs),
		cmocka_unit_test(test_ctrl_reset),
		cmocka_unit_test(test_quiet_commands),
		cmocka_unit_test(test_two_its),
		cmocka_unit_test(test_beside_gicv3),
		cmocka_unit_test(test_set_redist_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
