/* SPDX-License-Identifier: MIT */
/*
 * ITS scenarios as a guest driver would run them: 2 devices x 256 events over
 * 4 collections and 4 vCPUs, delivery through MSIs and INT, INV/INVALL,
 * MOVI/MOVALL, DISCARD, MAPD V=0, two-level tables, and every error code.
 */
#include "its_env.h"

#include <errno.h>

#define NDEV	     2
#define NEV	     256
#define NCOLL	     4
#define INTID(d, ev) (8192u + (d)*NEV + (ev))

static void queue_mapti(struct its_env *e, uint32_t dev, uint32_t ev, uint32_t intid, uint32_t icid)
{
	its_env_queue(e, 0x0a | (uint64_t)dev << 32, ev | (uint64_t)intid << 32, icid, 0);
}

static struct its_env *scenario_setup(unsigned flags)
{
	struct its_env *e = its_env_new(4, flags);

	for (uint32_t c = 0; c < NCOLL; c++)
		cmd_mapc(e, c, c, true);
	for (uint32_t d = 0; d < NDEV; d++)
		cmd_mapd(e, d, 8, true);
	/* One batch: 512 MAPTIs, one CWRITER write. */
	for (uint32_t d = 0; d < NDEV; d++)
		for (uint32_t ev = 0; ev < NEV; ev++)
			queue_mapti(e, d, ev, INTID(d, ev), ev % NCOLL);
	its_env_write(e, GITS_CWRITER, 8, e->cwriter);
	assert_int_equal(its_env_read(e, GITS_CREADR, 8), e->cwriter);
	assert_int_equal(its_env_nr_errors(e), 0);
	for (uint32_t d = 0; d < NDEV; d++)
		for (uint32_t ev = 0; ev < NEV; ev++)
			assert_int_equal(fake_refs(e->rd, INTID(d, ev)), 1);
	return e;
}

static void clear_all(struct its_env *e)
{
	for (uint32_t d = 0; d < NDEV; d++)
		for (uint32_t ev = 0; ev < NEV; ev++)
			its_env_queue(e, 0x04 | (uint64_t)d << 32, ev, 0, 0);
	its_env_write(e, GITS_CWRITER, 8, e->cwriter);
	for (uint32_t i = INTID(0, 0); i < INTID(NDEV, 0); i++)
		assert_int_equal(fake_pending(e->rd, i), -1);
}

/* Every MSI and every INT reaches the redistributor of its collection. */
static void test_delivery(void **state)
{
	struct its_env *e = scenario_setup(0);

	(void)state;
	for (uint32_t d = 0; d < NDEV; d++)
		for (uint32_t ev = 0; ev < NEV; ev++) {
			assert_int_equal(its_env_msi(e, d, ev), 1);
			assert_int_equal(fake_pending(e->rd, INTID(d, ev)), (int)(ev % NCOLL));
		}
	clear_all(e);
	for (uint32_t d = 0; d < NDEV; d++)
		for (uint32_t ev = 0; ev < NEV; ev++)
			its_env_queue(e, 0x03 | (uint64_t)d << 32, ev, 0, 0);
	its_env_write(e, GITS_CWRITER, 8, e->cwriter);
	for (uint32_t d = 0; d < NDEV; d++)
		for (uint32_t ev = 0; ev < NEV; ev++)
			assert_int_equal(fake_pending(e->rd, INTID(d, ev)), (int)(ev % NCOLL));
	assert_int_equal(its_env_nr_errors(e), 0);
	its_env_free(e);
}

/* INV re-reads one LPI's configuration; INVALL every LPI of one collection. */
static void test_inv_invall(void **state)
{
	struct its_env *e = scenario_setup(0);

	(void)state;
	cmd_inv(e, 1, 5);
	assert_int_equal(fake_invs(e->rd, INTID(1, 5)), 1);
	assert_int_equal(fake_invs(e->rd, INTID(0, 5)), 0);
	cmd_invall(e, 2);
	for (uint32_t d = 0; d < NDEV; d++)
		for (uint32_t ev = 0; ev < NEV; ev++)
			assert_int_equal(fake_invs(e->rd, INTID(d, ev)),
					 (ev % NCOLL == 2) + (d == 1 && ev == 5));
	assert_int_equal(its_env_nr_errors(e), 0);
	its_env_free(e);
}

/* MOVI moves single LPIs with their pending state; MOVALL everything on one redistributor. */
static void test_movi_movall(void **state)
{
	struct its_env *e = scenario_setup(0);

	(void)state;
	for (uint32_t ev = 0; ev < NEV; ev++)
		assert_int_equal(its_env_msi(e, 0, ev), 1);
	for (uint32_t ev = 0; ev < 64; ev++)
		its_env_queue(e, 0x01, ev, 3, 0); /* MOVI device 0 -> collection 3 */
	its_env_write(e, GITS_CWRITER, 8, e->cwriter);
	for (uint32_t ev = 0; ev < NEV; ev++)
		assert_int_equal(fake_pending(e->rd, INTID(0, ev)),
				 ev < 64 ? 3 : (int)(ev % NCOLL));
	cmd_movall(e, 1, 0);
	for (uint32_t ev = 0; ev < NEV; ev++) {
		int want = ev < 64 ? 3 : (int)(ev % NCOLL);

		assert_int_equal(fake_pending(e->rd, INTID(0, ev)), want == 1 ? 0 : want);
	}
	/* New MSIs follow: device 1's collection-1 events now land on rd 0. */
	for (uint32_t ev = 1; ev < NEV; ev += NCOLL) {
		assert_int_equal(its_env_msi(e, 1, ev), 1);
		assert_int_equal(fake_pending(e->rd, INTID(1, ev)), 0);
	}
	assert_int_equal(its_env_nr_errors(e), 0);
	its_env_free(e);
}

/* DISCARD removes the mapping and the pending state; MAPD V=0 does so for a whole device. */
static void test_discard_and_unmap(void **state)
{
	struct its_env *e = scenario_setup(0);

	(void)state;
	for (uint32_t d = 0; d < NDEV; d++)
		for (uint32_t ev = 0; ev < NEV; ev++)
			assert_int_equal(its_env_msi(e, d, ev), 1);
	for (uint32_t ev = 0; ev < NEV; ev += 2)
		its_env_queue(e, 0x0f | 1ull << 32, ev, 0, 0);
	its_env_write(e, GITS_CWRITER, 8, e->cwriter);
	for (uint32_t ev = 0; ev < NEV; ev++) {
		uint32_t i = INTID(1, ev);

		assert_int_equal(fake_pending(e->rd, i), ev % 2 ? (int)(ev % NCOLL) : -1);
		assert_int_equal(fake_refs(e->rd, i), ev % 2);
		assert_int_equal(its_env_msi(e, 1, ev), ev % 2);
	}
	cmd_mapd(e, 0, 8, false);
	for (uint32_t ev = 0; ev < NEV; ev++) {
		assert_int_equal(fake_pending(e->rd, INTID(0, ev)), -1);
		assert_int_equal(fake_refs(e->rd, INTID(0, ev)), 0);
		assert_int_equal(its_env_msi(e, 0, ev), 0);
	}
	assert_int_equal(its_env_nr_errors(e), 0);
	its_env_free(e);
}

/* Two-level Device and Collection tables: IDs whose level-1 entry is not valid are out of range. */
static void test_two_level(void **state)
{
	struct its_env *e = its_env_new(4, ENV_DEV_2L | ENV_COLL_2L);
	uint64_t l1;

	(void)state;
	cmd_mapc(e, 8191, 3, true); /* last ID of level-1 entry 0 */
	cmd_mapc(e, 8192, 3, true); /* level-1 entry 1 is not valid */
	assert_int_equal(its_env_last_error(e), 0x010903);
	cmd_mapd(e, 8191, 4, true);
	cmd_mapd(e, 8192, 4, true);
	assert_int_equal(its_env_last_error(e), 0x010801);
	assert_int_equal(its_env_nr_errors(e), 2);
	cmd_mapti(e, 8191, 1, 9000, 8191);
	assert_int_equal(its_env_msi(e, 8191, 1), 1);
	assert_int_equal(fake_pending(e->rd, 9000), 3);
	/* Make level-1 entry 1 valid: DeviceIDs 8192..16383 become mappable. */
	l1 = (1ull << 63) | (ENV_L2 + 0x20000);
	assert_int_equal(ivy_guest_write(e->vm, ENV_DEVTBL + 8, &l1, 8), 0);
	cmd_mapd(e, 12000, 4, true);
	cmd_mapti(e, 12000, 0, 9001, 8191);
	assert_int_equal(its_env_nr_errors(e), 2);
	assert_int_equal(its_env_msi(e, 12000, 0), 1);
	/* A level-1 entry outside RAM reads as not valid. */
	its_env_write(e, GITS_CTLR, 4, 0);
	its_env_write(e, GITS_BASER(0), 8, (1ull << 63) | (1ull << 62) | 0x7f0000000ull);
	its_env_write(e, GITS_CTLR, 4, 1);
	cmd_mapd(e, 3, 4, true);
	assert_int_equal(its_env_last_error(e), 0x010801);
	its_env_free(e);
}

/* Every architected error code the ITS reports, one command each. */
struct err_case {
	const char *what;
	uint64_t dw[4];
	uint32_t code;
};

#define DEV(d) ((uint64_t)(d) << 32)
static const struct err_case err_cases[] = {
	{ "MOVI device OOR", { 0x01 | DEV(70000), 0, 0, 0 }, 0x010101 },
	{ "MOVI collection OOR", { 0x01 | DEV(1), 0, 9000, 0 }, 0x010103 },
	{ "MOVI unmapped device", { 0x01 | DEV(2), 0, 0, 0 }, 0x010104 },
	{ "MOVI ID OOR", { 0x01 | DEV(1), 16, 0, 0 }, 0x010105 },
	{ "MOVI unmapped interrupt", { 0x01 | DEV(1), 2, 0, 0 }, 0x010107 },
	{ "MOVI unmapped collection", { 0x01 | DEV(1), 0, 6, 0 }, 0x010109 },
	{ "INT device OOR", { 0x03 | DEV(70000), 0, 0, 0 }, 0x010301 },
	{ "INT unmapped device", { 0x03 | DEV(2), 0, 0, 0 }, 0x010304 },
	{ "INT ID OOR", { 0x03 | DEV(1), 16, 0, 0 }, 0x010305 },
	{ "INT unmapped interrupt", { 0x03 | DEV(1), 2, 0, 0 }, 0x010307 },
	{ "INT to unmapped collection", { 0x03 | DEV(1), 1, 0, 0 }, 0x010307 },
	{ "CLEAR device OOR", { 0x04 | DEV(70000), 0, 0, 0 }, 0x010501 },
	{ "CLEAR unmapped device", { 0x04 | DEV(2), 0, 0, 0 }, 0x010504 },
	{ "CLEAR ID OOR", { 0x04 | DEV(1), 16, 0, 0 }, 0x010505 },
	{ "CLEAR unmapped interrupt", { 0x04 | DEV(1), 2, 0, 0 }, 0x010507 },
	{ "MAPD device OOR", { 0x08 | DEV(9000), 3, 1ull << 63, 0 }, 0x010801 },
	{ "MAPD device beyond 16 bits", { 0x08 | DEV(65536), 3, 1ull << 63, 0 }, 0x010801 },
	{ "MAPD ITT size OOR", { 0x08 | DEV(3), 16, 1ull << 63, 0 }, 0x010802 },
	{ "MAPC processor OOR", { 0x09, 0, 1ull << 63 | 2ull << 16 | 4, 0 }, 0x010902 },
	{ "MAPC collection OOR", { 0x09, 0, 1ull << 63 | 9000, 0 }, 0x010903 },
	{ "MAPTI collection OOR", { 0x0a | DEV(1), 3 | 8300ull << 32, 9000, 0 }, 0x010a03 },
	{ "MAPTI unmapped device", { 0x0a | DEV(2), 3 | 8300ull << 32, 0, 0 }, 0x010a04 },
	{ "MAPTI ID OOR", { 0x0a | DEV(1), 16 | 8300ull << 32, 0, 0 }, 0x010a05 },
	{ "MAPTI pINTID below LPIs", { 0x0a | DEV(1), 3 | 8191ull << 32, 0, 0 }, 0x010a06 },
	{ "MAPTI pINTID beyond IDbits", { 0x0a | DEV(1), 3 | 65536ull << 32, 0, 0 }, 0x010a06 },
	{ "MAPI pINTID = EventID < 8192", { 0x0b | DEV(1), 3, 0, 0 }, 0x010a06 },
	{ "INV device OOR", { 0x0c | DEV(70000), 0, 0, 0 }, 0x010c01 },
	{ "INV unmapped device", { 0x0c | DEV(2), 0, 0, 0 }, 0x010c04 },
	{ "INV ID OOR", { 0x0c | DEV(1), 16, 0, 0 }, 0x010c05 },
	{ "INV unmapped interrupt", { 0x0c | DEV(1), 2, 0, 0 }, 0x010c07 },
	{ "INVALL collection OOR", { 0x0d, 0, 9000, 0 }, 0x010d03 },
	{ "INVALL unmapped collection", { 0x0d, 0, 6, 0 }, 0x010d09 },
	{ "MOVALL RDbase1 OOR", { 0x0e, 0, 2ull << 16, 0 }, 0x010e01 },
	{ "MOVALL RDbase2 OOR", { 0x0e, 0, 0, 7ull << 16 }, 0x010e01 },
	{ "DISCARD device OOR", { 0x0f | DEV(70000), 0, 0, 0 }, 0x010f01 },
	{ "DISCARD unmapped device", { 0x0f | DEV(2), 0, 0, 0 }, 0x010f04 },
	{ "DISCARD ID OOR", { 0x0f | DEV(1), 16, 0, 0 }, 0x010f05 },
	{ "DISCARD unmapped interrupt", { 0x0f | DEV(1), 2, 0, 0 }, 0x010f07 },
};

static void test_error_codes(void **state)
{
	struct its_env *e = its_env_new(2, 0);

	(void)state;
	cmd_mapc(e, 0, 0, true);
	cmd_mapd(e, 1, 4, true);
	cmd_mapti(e, 1, 0, 8192, 0);
	cmd_mapti(e, 1, 1, 8193, 5); /* collection 5 is never mapped */
	assert_int_equal(its_env_nr_errors(e), 0);
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];

		its_env_cmd(e, c->dw[0], c->dw[1], c->dw[2], c->dw[3]);
		if (its_env_last_error(e) != c->code || its_env_nr_errors(e) != i + 1)
			fail_msg("%s: got 0x%06x after %u errors, want 0x%06x", c->what,
				 its_env_last_error(e), (unsigned)its_env_nr_errors(e), c->code);
	}
	/* None of them changed the mappings. */
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	assert_int_equal(fake_pending(e->rd, 8192), 0);
	assert_int_equal(fake_refs(e->rd, 8192), 1);
	assert_int_equal(fake_refs(e->rd, 8193), 1);
	its_env_free(e);
}

/* A redistributor that cannot take the reference (host trouble) drops the command, no error code. */
static void test_host_trouble_is_not_a_command_error(void **state)
{
	struct its_env *e = its_env_new(2, 0);

	(void)state;
	cmd_mapc(e, 0, 0, true);
	cmd_mapd(e, 1, 4, true);
	e->rd->fail_get = -ENOMEM;
	cmd_mapti(e, 1, 0, 8192, 0);
	e->rd->fail_get = 0;
	assert_int_equal(its_env_nr_errors(e), 0);
	assert_int_equal(its_env_msi(e, 1, 0), 0);
	cmd_mapti(e, 1, 0, 8192, 0);
	assert_int_equal(its_env_msi(e, 1, 0), 1);
	its_env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delivery),
		cmocka_unit_test(test_inv_invall),
		cmocka_unit_test(test_movi_movall),
		cmocka_unit_test(test_discard_and_unmap),
		cmocka_unit_test(test_two_level),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_host_trouble_is_not_a_command_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
