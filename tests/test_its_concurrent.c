/* SPDX-License-Identifier: MIT */
/*
 * MSIs from other threads while the command queue remaps the same event:
 * no MSI may deliver through a translation that a command completed before
 * the MSI started had already invalidated (DISCARD, MOVI, MAPC, MOVALL, MAPD,
 * ITS disable). Run under TSan by make check-tsan.
 */
#include "its_env.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#define MAX_STEPS (1u << 20)
#define NONE	  0xffffffffu

/* What the remapping thread announces: states[k] holds after command k completed. */
static uint32_t states[MAX_STEPS];
static atomic_uint announced; /* states[0..announced] are written */
static atomic_uint completed; /* commands 0..completed have returned */
static atomic_ulong stale, delivered, signalled;
static atomic_bool stop;

/* The step the calling MSI thread saw completed before it started its MSI; -1 elsewhere. */
static _Thread_local long msi_start = -1;

static uint32_t pack(uint32_t rd, uint32_t intid)
{
	return rd << 16 | intid;
}

/*
 * Called by the fake redistributor for every delivery, between the ITS's
 * lookup and the pending state being set. Yielding here widens the window in
 * which a command could complete under an MSI that already holds the old
 * translation: without the ITS's grace periods this test fails.
 */
static void check_delivery(struct fake_redist *f, uint32_t rd, uint32_t intid)
{
	unsigned last;

	(void)f;
	if (msi_start < 0)
		return;
	sched_yield();
	last = atomic_load_explicit(&announced, memory_order_acquire);
	for (unsigned k = (unsigned)msi_start; k <= last; k++)
		if (states[k] == pack(rd, intid))
			return;
	atomic_fetch_add(&stale, 1);
}

static void *msi_thread(void *arg)
{
	struct its_env *e = arg;

	while (!atomic_load(&stop)) {
		int ret;

		msi_start = (long)atomic_load_explicit(&completed, memory_order_acquire);
		ret = its_env_msi(e, 0, 0);
		msi_start = -1;
		assert_true(ret == 0 || ret == 1);
		atomic_fetch_add(&signalled, 1);
		if (ret == 1)
			atomic_fetch_add(&delivered, 1);
	}
	return NULL;
}

static unsigned step;

/* Announces the state the next command leaves, runs it, and publishes its completion. */
static void run(struct its_env *e, uint32_t state_after, void (*fn)(struct its_env *e, uint64_t a),
		uint64_t a)
{
	step++;
	states[step] = state_after;
	atomic_store_explicit(&announced, step, memory_order_release);
	fn(e, a);
	atomic_store_explicit(&completed, step, memory_order_release);
	/* Let the MSI threads run under each state, also on a loaded machine. */
	sched_yield();
}

static void do_mapti0(struct its_env *e, uint64_t intid)
{
	cmd_mapti(e, 0, 0, (uint32_t)intid, 0);
}
static void do_mapti1(struct its_env *e, uint64_t intid)
{
	cmd_mapti(e, 0, 0, (uint32_t)intid, 1);
}
static void do_movi(struct its_env *e, uint64_t icid)
{
	cmd_movi(e, 0, 0, (uint32_t)icid);
}
static void do_mapc1(struct its_env *e, uint64_t rd)
{
	cmd_mapc(e, 1, rd, true);
}
static void do_unmapc1(struct its_env *e, uint64_t unused)
{
	(void)unused;
	cmd_mapc(e, 1, 0, false);
}
static void do_movall(struct its_env *e, uint64_t rd1)
{
	cmd_movall(e, rd1, 3);
}
static void do_ctlr(struct its_env *e, uint64_t on)
{
	its_env_write(e, GITS_CTLR, 4, on);
}
static void do_discard(struct its_env *e, uint64_t unused)
{
	(void)unused;
	cmd_discard(e, 0, 0);
}
static void do_mapd(struct its_env *e, uint64_t unused)
{
	(void)unused;
	cmd_mapd(e, 0, 4, true);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_remap_while_signalling(void **state)
{
	struct its_env *e = its_env_new(4, 0);
	pthread_t th[2];
	double start;

	(void)state;
	for (uint32_t c = 0; c < 4; c++)
		cmd_mapc(e, c, c, true);
	cmd_mapd(e, 0, 4, true);
	states[0] = NONE;
	e->rd->on_set_pending = check_delivery;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, msi_thread, e), 0);
	/* At least 0.3 s and 1000 deliveries (a loaded machine may start the threads late). */
	start = now_s();
	for (uint32_t x = 8192; step + 16 < MAX_STEPS; x = x == 8192 ? 8193 : 8192) {
		double t = now_s() - start;

		if (t > 10 || (t > 0.3 && atomic_load(&delivered) >= 1000))
			break;
		run(e, pack(0, x), do_mapti0, x);
		run(e, pack(1, x), do_movi, 1);	  /* pending state moves with it */
		run(e, pack(2, x), do_mapc1, 2);  /* collection 1 now on rd 2 */
		run(e, pack(3, x), do_movall, 2); /* everything on rd 2 to rd 3 */
		run(e, pack(1, x), do_mapc1, 1);  /* back to rd 1 */
		run(e, NONE, do_ctlr, 0);	  /* ITS disabled */
		run(e, pack(1, x), do_ctlr, 1);
		run(e, NONE, do_discard, 0);
		run(e, pack(1, x), do_mapti1, x);
		run(e, NONE, do_unmapc1, 0); /* collection unmapped */
		run(e, pack(1, x), do_mapc1, 1);
		run(e, NONE, do_mapd, 0); /* remapping the device drops its events */
		/* After a DISCARD-like step, nothing of the old LPI may stay pending. */
		assert_int_equal(fake_pending(e->rd, x), -1);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	e->rd->on_set_pending = NULL;
	assert_int_equal(atomic_load(&stale), 0);
	assert_true(atomic_load(&delivered) >= 1000);
	assert_true(atomic_load(&signalled) > atomic_load(&delivered));
	assert_int_equal(its_env_nr_errors(e), 0);
	its_env_free(e);
}

struct lifetime_arg {
	struct its_env *e;
	atomic_bool stop;
	atomic_ulong ok, gone;
};

static void *lifetime_msi_thread(void *p)
{
	struct lifetime_arg *a = p;

	while (!atomic_load(&a->stop)) {
		int ret = its_env_msi(a->e, 0, (uint32_t)(atomic_load(&a->ok) % 4));

		assert_true(ret == 1 || ret == 0 || ret == -ENODEV);
		if (ret == 1)
			atomic_fetch_add(&a->ok, 1);
		else if (ret == -ENODEV)
			atomic_fetch_add(&a->gone, 1);
	}
	return NULL;
}

/*
 * Resetting, detaching the redistributors and destroying the ITS while another
 * thread signals MSIs: no use after free (ASan, TSan), and afterwards the
 * doorbell is simply gone.
 */
static void test_teardown_while_signalling(void **state)
{
	struct its_env *e = its_env_new(2, 0);
	struct lifetime_arg a = { .e = e };
	pthread_t th;

	(void)state;
	cmd_mapc(e, 0, 1, true);
	cmd_mapd(e, 0, 2, true);
	for (uint32_t ev = 0; ev < 4; ev++)
		cmd_mapti(e, 0, ev, 8192 + ev, 0);
	assert_int_equal(pthread_create(&th, NULL, lifetime_msi_thread, &a), 0);
	while (atomic_load(&a.ok) < 100)
		sched_yield();
	/* Reset and set up again, twice, under fire. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(its_env_ctrl(e->its, IVY_ITS_CTRL_RESET), 0);
		its_env_write(e, GITS_CBASER, 8, (1ull << 63) | ENV_CMDQ | 15);
		its_env_write(e, GITS_BASER(0), 8, (1ull << 63) | ENV_DEVTBL);
		its_env_write(e, GITS_BASER(1), 8, (1ull << 63) | ENV_COLLTBL);
		its_env_write(e, GITS_CTLR, 4, 1);
		e->cwriter = 0;
		cmd_mapc(e, 0, 1, true);
		cmd_mapd(e, 0, 2, true);
		for (uint32_t ev = 0; ev < 4; ev++)
			cmd_mapti(e, 0, ev, 8192 + ev, 0);
	}
	assert_int_equal(its_set_redist_ops(e->its, NULL, NULL), 0);
	assert_int_equal(ivy_device_destroy(e->its), 0);
	while (atomic_load(&a.gone) < 100)
		sched_yield();
	atomic_store(&a.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(its_env_msi(e, 0, 0), -ENODEV);
	its_env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remap_while_signalling),
		cmocka_unit_test(test_teardown_while_signalling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
