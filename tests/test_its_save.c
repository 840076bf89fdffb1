/* SPDX-License-Identifier: MIT */
/*
 * ITS tables saved into guest RAM in KVM's ABI revision 0 layout and restored
 * into a fresh VM, and the checks that refuse inconsistent tables.
 */
#include "its_env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t get64(struct its_env *e, ivy_gpa_t gpa)
{
	uint64_t v;

	assert_int_equal(ivy_guest_read(e->vm, gpa, &v, 8), 0);
	return v;
}

static void put64(struct its_env *e, ivy_gpa_t gpa, uint64_t v)
{
	assert_int_equal(ivy_guest_write(e->vm, gpa, &v, 8), 0);
}

/* The registers a VMM saves, in KVM's restore order (CTLR last). */
static const uint64_t saved_regs[] = { GITS_CBASER,  GITS_BASER(0), GITS_BASER(1),
				       GITS_CWRITER, GITS_CREADR,   GITS_IIDR };

struct snapshot {
	uint64_t regs[6];
	uint64_t ctlr;
	uint8_t *ram;
};

static void snapshot_take(struct its_env *e, struct snapshot *s)
{
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_SAVE_TABLES), 0);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(its_env_reg_get(e->its, saved_regs[i], &s->regs[i]), 0);
	assert_int_equal(its_env_reg_get(e->its, GITS_CTLR, &s->ctlr), 0);
	s->ram = malloc(ENV_RAM_SIZE);
	assert_non_null(s->ram);
	memcpy(s->ram, e->ram, ENV_RAM_SIZE);
}

/* A fresh VM with the snapshot's RAM, its ITS restored as KVM documents. */
static struct its_env *snapshot_restore(struct snapshot *s, uint32_t nr_vcpus)
{
	struct its_env *e = its_env_new(nr_vcpus, ENV_NO_ENABLE);

	/* The new ITS's setup wrote its own registers: reset, then restore. */
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_CTRL_RESET), 0);
	memcpy(e->ram, s->ram, ENV_RAM_SIZE);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(its_env_reg_set(e->its, saved_regs[i], s->regs[i]), 0);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_RESTORE_TABLES), 0);
	assert_int_equal(its_env_reg_set(e->its, GITS_CTLR, s->ctlr & 1), 0);
	e->cwriter = (uint32_t)s->regs[3];
	free(s->ram);
	return e;
}

static void test_round_trip(void **state, unsigned flags)
{
	struct its_env *e = its_env_new(4, flags), *r;
	struct snapshot s;

	(void)state;
	for (uint32_t c = 0; c < 4; c++)
		cmd_mapc(e, c, c, true);
	cmd_mapd(e, 0, 8, true);
	cmd_mapd(e, 5, 16, true);
	cmd_mapd(e, 7, 1, true); /* a device without mappings */
	for (uint32_t ev = 0; ev < 256; ev++)
		cmd_mapti(e, 0, ev, 8192 + ev, ev % 4);
	cmd_mapti(e, 5, 0, 9000, 2);
	cmd_mapti(e, 5, 65535, 9001, 9); /* collection 9 is not mapped */
	cmd_movi(e, 0, 3, 0);
	assert_int_equal(its_env_nr_errors(e), 0);
	snapshot_take(e, &s);

	/* The layout: DTEs indexed by DeviceID with "next" offsets, ITEs by EventID, CTEs packed. */
	if (!(flags & ENV_DEV_2L)) {
		uint64_t dte0 = get64(e, ENV_DEVTBL), dte7 = get64(e, ENV_DEVTBL + 7 * 8);

		assert_true(dte0 >> 63);
		assert_int_equal((dte0 >> 49) & 0x3fff, 5);
		assert_int_equal((dte0 >> 5) & ((1ull << 44) - 1), its_env_itt(0) >> 8);
		assert_int_equal(dte0 & 0x1f, 7);
		assert_int_equal((dte7 >> 49) & 0x3fff, 0); /* last */
		assert_int_equal(dte7 & 0x1f, 0);
	}
	assert_int_equal(get64(e, its_env_itt(0) + 3 * 8), 1ull << 48 | (8192ull + 3) << 16 | 0);
	assert_int_equal(get64(e, its_env_itt(0) + 255 * 8), (8192ull + 255) << 16 | 3);
	assert_int_equal(get64(e, its_env_itt(5)), 65535ull << 48 | 9000ull << 16 | 2);
	assert_int_equal(get64(e, its_env_itt(5) + 65535 * 8), 9001ull << 16 | 9);
	if (!(flags & ENV_COLL_2L)) {
		for (uint64_t c = 0; c < 4; c++)
			assert_int_equal(get64(e, ENV_COLLTBL + c * 8), 1ull << 63 | c << 16 | c);
		assert_int_equal(get64(e, ENV_COLLTBL + 4 * 8), 0);
	}
	its_env_free(e);

	r = snapshot_restore(&s, 4);
	assert_int_equal(its_env_read(r, GITS_CTLR, 4), 1 | 1u << 31);
	for (uint32_t ev = 0; ev < 256; ev++) {
		assert_int_equal(fake_refs(r->rd, 8192 + ev), 1);
		assert_int_equal(its_env_msi(r, 0, ev), 1);
		assert_int_equal(fake_pending(r->rd, 8192 + ev), ev == 3 ? 0 : (int)(ev % 4));
	}
	assert_int_equal(its_env_msi(r, 5, 0), 1);
	assert_int_equal(fake_pending(r->rd, 9000), 2);
	assert_int_equal(its_env_msi(r, 5, 65535), 0); /* collection 9 still unmapped */
	/* The restored ITS keeps working: map collection 9, device 7, and discard. */
	cmd_mapc(r, 9, 1, true);
	assert_int_equal(its_env_msi(r, 5, 65535), 1);
	assert_int_equal(fake_pending(r->rd, 9001), 1);
	cmd_mapti(r, 7, 1, 9100, 0);
	assert_int_equal(its_env_msi(r, 7, 1), 1);
	cmd_discard(r, 0, 10);
	assert_int_equal(its_env_msi(r, 0, 10), 0);
	assert_int_equal(its_env_nr_errors(r), 0);
	its_env_free(r);
}

static void test_round_trip_flat(void **state)
{
	test_round_trip(state, 0);
}

static void test_round_trip_two_level(void **state)
{
	test_round_trip(state, ENV_DEV_2L | ENV_COLL_2L);
}

/* DeviceIDs further apart than the DTE's "next" field can say: the reader scans on. */
static void test_next_capped(void **state)
{
	struct its_env *e = its_env_new(1, ENV_NO_ENABLE), *r;
	const ivy_gpa_t big = ENV_RAM_BASE + 0xc00000; /* 3 pages: 24576 DTEs */
	struct snapshot s;

	(void)state;
	its_env_write(e, GITS_BASER(0), 8, (1ull << 63) | big | 2);
	its_env_write(e, GITS_CTLR, 4, 1);
	cmd_mapc(e, 0, 0, true);
	cmd_mapd(e, 0, 2, true);
	cmd_mapd(e, 20001, 2, true);
	cmd_mapti(e, 0, 1, 8192, 0);
	cmd_mapti(e, 20001, 3, 8193, 0);
	assert_int_equal(its_env_nr_errors(e), 0);
	snapshot_take(e, &s);
	assert_int_equal((get64(e, big) >> 49) & 0x3fff, 0x3fff);
	its_env_free(e);
	r = snapshot_restore(&s, 1);
	assert_int_equal(its_env_msi(r, 0, 1), 1);
	assert_int_equal(its_env_msi(r, 20001, 3), 1);
	assert_int_equal(fake_refs(r->rd, 8193), 1);
	its_env_free(r);
}

/* Inconsistent tables are refused with -EINVAL and leave no mappings behind. */
static void test_restore_refuses_garbage(void **state)
{
	struct {
		const char *what;
		ivy_gpa_t gpa;
		uint64_t val;
	} cases[] = {
		{ "DTE with 17 EventID bits", ENV_DEVTBL,
		  1ull << 63 | (its_env_itt(0) >> 8) << 5 | 16 },
		{ "ITE with pINTID below 8192", its_env_itt(0), 100ull << 16 },
		{ "ITE with collection out of range", its_env_itt(0), 8192ull << 16 | 9000 },
		{ "CTE with RDbase out of range", ENV_COLLTBL + 8, 1ull << 63 | 5ull << 16 | 1 },
		{ "duplicate CTE", ENV_COLLTBL + 8, 1ull << 63 | 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct its_env *e = its_env_new(2, ENV_NO_ENABLE);

		/* A valid device 0 with one ITE and one collection, then one bad entry. */
		put64(e, ENV_DEVTBL, 1ull << 63 | (its_env_itt(0) >> 8) << 5 | 3);
		put64(e, its_env_itt(0) + 8, 8300ull << 16);
		put64(e, ENV_COLLTBL, 1ull << 63 | 0);
		put64(e, cases[i].gpa, cases[i].val);
		if (its_env_ctrl(e->its, IVY_ITS_RESTORE_TABLES) != -EINVAL)
			fail_msg("%s: not refused", cases[i].what);
		assert_int_equal(fake_refs(e->rd, 8300), 0);
		/* Nothing is left: a corrected table restores. */
		put64(e, cases[i].gpa, 0);
		assert_int_equal(its_env_ctrl(e->its, IVY_ITS_RESTORE_TABLES), 0);
		its_env_write(e, GITS_CTLR, 4, 1);
		its_env_free(e);
	}
}

static void test_save_restore_errors(void **state)
{
	struct its_env *e = its_env_new(2, ENV_DEV_2L);
	uint64_t base;

	(void)state;
	cmd_mapc(e, 0, 0, true);
	cmd_mapd(e, 1, 4, true);
	cmd_mapti(e, 1, 0, 8192, 0);
	/* Restoring over live state or while enabled. */
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_RESTORE_TABLES), -EBUSY);
	its_env_write(e, GITS_CTLR, 4, 0);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_RESTORE_TABLES), -EBUSY);
	/* The guest invalidated the level-1 entry of a mapped device: nowhere to save its DTE. */
	put64(e, ENV_DEVTBL, 0);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_SAVE_TABLES), -EINVAL);
	put64(e, ENV_DEVTBL, 1ull << 63 | ENV_L2);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_SAVE_TABLES), 0);
	/* An ITT outside RAM cannot be written. */
	its_env_write(e, GITS_CTLR, 4, 1);
	its_env_cmd(e, 0x08 | 2ull << 32, 0, 1ull << 63 | 0x7f0000000ull, 0);
	cmd_mapti(e, 2, 0, 8193, 0);
	assert_int_equal(its_env_nr_errors(e), 0);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_SAVE_TABLES), -EFAULT);
	/* Tables not valid: nothing to save, nothing to restore. */
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_CTRL_RESET), 0);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_SAVE_TABLES), 0);
	assert_int_equal(its_env_ctrl(e->its, IVY_ITS_RESTORE_TABLES), 0);
	base = 0;
	struct ivy_device_attr g = { .group = IVY_ITS_GRP_CTRL,
				     .attr = IVY_ITS_SAVE_TABLES,
				     .addr = &base };
	assert_int_equal(ivy_device_get_attr(e->its, &g), -ENXIO);
	assert_int_equal(ivy_device_has_attr(e->its, &g), 0);
	its_env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_flat),
		cmocka_unit_test(test_round_trip_two_level),
		cmocka_unit_test(test_next_capped),
		cmocka_unit_test(test_restore_refuses_garbage),
		cmocka_unit_test(test_save_restore_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
