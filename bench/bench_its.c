/* SPDX-License-Identifier: MIT */
/*
 * ITS throughput and footprint:
 *  - MSIs translated and queued per second (its_signal_msi through to a
 *    redistributor that sets a bit in a per-redistributor pending bitmap),
 *    from one thread and from two, with 1 mapping and with 65,536 mappings.
 *    Rates are per second of the signalling thread's CPU time (so that other
 *    load on a shared machine does not count as ITS cost; cache-line
 *    contention between the two threads still does), plus the wall-clock
 *    rate of the one-thread case.
 *    The 65,536-mapping figure is reported with the 1-mapping one as its
 *    baseline, so "ratio" near 1 shows the translation is O(1); the two-thread
 *    figure has the one-thread figure as baseline (per-thread rate).
 *  - Commands processed per CPU-second: a MAPTI/INT/DISCARD mix written into
 *    the guest's queue and processed on GITS_CWRITER writes, as a guest drives it.
 *  - Host bytes per mapped LPI: heap growth (mallinfo2, including mmapped
 *    blocks) while mapping 65,536 LPIs, divided by 65,536.
 * The redistributor here is a stand-in (a bitmap, no vCPU, no list
 * registers), so these are the ITS's own costs, not end-to-end delivery.
 */
#include "bench.h"

#include <ivy/its.h>

#include "gic/its.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS	 7
#define MSIS	 2000000
#define SEQ	 4096
#define RAM_BASE 0x40000000ull
#define RAM_SIZE (32ull << 20)
#define ITS_BASE 0x08080000ull
#define CMDQ	 RAM_BASE /* 64 KiB: 2048 commands */
#define DEVTBL	 (RAM_BASE + 0x10000)
#define COLLTBL	 (RAM_BASE + 0x20000)
#define ITTS	 (RAM_BASE + 0x100000) /* 256 devices x 2 KiB */
#define NR_RD	 4

static _Atomic uint64_t pending_bits[NR_RD][65536 / 64];
static atomic_uint refs[65536];

static uint32_t b_nr(void *ctx)
{
	(void)ctx;
	return NR_RD;
}
static int b_get(void *ctx, uint32_t intid)
{
	(void)ctx;
	atomic_fetch_add_explicit(&refs[intid], 1, memory_order_relaxed);
	return 0;
}
static void b_put(void *ctx, uint32_t intid)
{
	(void)ctx;
	atomic_fetch_sub_explicit(&refs[intid], 1, memory_order_relaxed);
}
static int b_set_pending(void *ctx, uint32_t rd, uint32_t intid)
{
	(void)ctx;
	atomic_fetch_or_explicit(&pending_bits[rd][intid / 64], 1ull << (intid % 64),
				 memory_order_relaxed);
	return 1;
}
static void b_clear(void *ctx, uint32_t intid)
{
	(void)ctx;
	for (int rd = 0; rd < NR_RD; rd++)
		atomic_fetch_and_explicit(&pending_bits[rd][intid / 64], ~(1ull << (intid % 64)),
					  memory_order_relaxed);
}
static void b_move(void *ctx, uint32_t intid, uint32_t rd)
{
	(void)ctx, (void)intid, (void)rd;
}
static void b_inv(void *ctx, uint32_t intid)
{
	(void)ctx, (void)intid;
}

static const struct its_redist_ops bench_ops = {
	.nr_redists = b_nr,
	.lpi_get = b_get,
	.lpi_put = b_put,
	.lpi_set_pending = b_set_pending,
	.lpi_clear_pending = b_clear,
	.lpi_move = b_move,
	.lpi_inv = b_inv,
};

struct env {
	struct ivy_vm *vm;
	struct ivy_vcpu *vcpu;
	struct ivy_device *its;
	uint8_t *ram;
	uint32_t cwriter;
};

static void reg_write(struct env *e, uint64_t off, uint64_t val)
{
	if (ivy_vcpu_mmio(e->vcpu, ITS_BASE + off, 8, true, &val))
		abort();
}

/* Queues one command; writes GITS_CWRITER when `kick` or every half queue (a full lap reads as empty). */
static void cmd(struct env *e, uint64_t dw0, uint64_t dw1, uint64_t dw2, bool kick)
{
	uint64_t c[4] = { dw0, dw1, dw2, 0 };

	memcpy(e->ram + (CMDQ - RAM_BASE) + e->cwriter, c, sizeof(c));
	e->cwriter = (e->cwriter + 32) % 0x10000;
	if (kick || e->cwriter % 0x8000 == 0)
		reg_write(e, 0x88, e->cwriter);
}

static void env_init(struct env *e)
{
	struct ivy_vm_config cfg = { .name = "bench", .nr_vcpus = 1 };
	uint64_t base = ITS_BASE;
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_ADDR,
				     .attr = IVY_ITS_ADDR_TYPE,
				     .addr = &base };

	memset(e, 0, sizeof(*e));
	e->ram = aligned_alloc(4096, RAM_SIZE);
	if (!e->ram || ivy_vm_create(&cfg, &e->vm))
		abort();
	memset(e->ram, 0, RAM_SIZE);
	e->vcpu = ivy_vm_vcpu(e->vm, 0);
	if (ivy_vm_add_ram(e->vm, RAM_BASE, RAM_SIZE, e->ram) ||
	    ivy_device_create(e->vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &e->its) ||
	    ivy_device_set_attr(e->its, &a) || its_set_redist_ops(e->its, &bench_ops, NULL))
		abort();
	reg_write(e, 0x80, (1ull << 63) | CMDQ | 15);
	reg_write(e, 0x100, (1ull << 63) | DEVTBL);
	reg_write(e, 0x108, (1ull << 63) | COLLTBL);
	reg_write(e, 0x0 /* CTLR, as two halves would be refused: 32-bit */, 0);
	{
		uint64_t one = 1;

		if (ivy_vcpu_mmio(e->vcpu, ITS_BASE, 4, true, &one))
			abort();
	}
	for (uint64_t c = 0; c < NR_RD; c++)
		cmd(e, 0x09, 0, 1ull << 63 | c << 16 | c, true);
}

/*
 * Maps devices 0..ndev-1 with nev events each, collection ev % 4. There are only
 * 57,344 LPI INTIDs below 65,536, so beyond that mappings share LPIs (allowed,
 * if UNPREDICTABLE for a guest; the translations are still all distinct).
 */
static void env_map(struct env *e, uint32_t ndev, uint32_t nev, uint32_t bits)
{
	for (uint64_t d = 0; d < ndev; d++)
		cmd(e, 0x08 | d << 32, bits - 1, 1ull << 63 | (ITTS + d * 2048), false);
	for (uint64_t d = 0; d < ndev; d++)
		for (uint64_t ev = 0; ev < nev; ev++)
			cmd(e, 0x0a | d << 32, ev | (8192 + (d * nev + ev) % 57344) << 32,
			    ev % NR_RD, false);
	reg_write(e, 0x88, e->cwriter);
}

static void env_free(struct env *e)
{
	ivy_vm_close(e->vm);
	free(e->ram);
}

struct msi_job {
	struct env *e;
	uint32_t devs[SEQ], evs[SEQ];
	double ns; /* thread CPU time */
	double ns_wall;
	pthread_barrier_t *start;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *msi_run(void *arg)
{
	struct msi_job *j = arg;
	uint64_t t0, c0, ok = 0;

	if (j->start)
		pthread_barrier_wait(j->start);
	t0 = bench_now_ns();
	c0 = thread_cpu_ns();
	for (unsigned i = 0; i < MSIS; i++)
		ok += its_signal_msi(j->e->vm, ITS_BASE + IVY_ITS_TRANSLATER_OFFSET,
				     j->evs[i % SEQ], j->devs[i % SEQ]) == 1;
	j->ns = (double)(thread_cpu_ns() - c0);
	j->ns_wall = (double)(bench_now_ns() - t0);
	if (ok != MSIS)
		abort();
	return NULL;
}

/*
 * Fills a job with a pseudo-random walk over the mapped (device, event) pairs;
 * with two threads each walks its own half of the devices (different LPIs),
 * except with a single mapping, which both share.
 */
static void job_fill(struct msi_job *j, struct env *e, uint32_t ndev, uint32_t nev, uint32_t seed,
		     int part, int parts)
{
	uint32_t span = ndev >= (uint32_t)parts ? ndev / (uint32_t)parts : ndev;
	uint32_t first = ndev >= (uint32_t)parts ? span * (uint32_t)part : 0;

	j->e = e;
	j->start = NULL;
	for (unsigned i = 0; i < SEQ; i++) {
		seed = seed * 1103515245u + 12345u;
		j->devs[i] = first + (seed >> 8) % span;
		seed = seed * 1103515245u + 12345u;
		j->evs[i] = (seed >> 8) % nev;
	}
}

/*
 * Median MSIs per CPU-second per thread, over RUNS runs, with `threads` threads
 * at once; *wall gets the wall-clock rate per thread.
 */
static struct bench_stats msi_rate(struct env *e, uint32_t ndev, uint32_t nev, int threads,
				   struct bench_stats *wall)
{
	static struct msi_job jobs[2];
	double rate[RUNS], rate_wall[RUNS];
	pthread_barrier_t bar;
	pthread_t th[2];

	for (int t = 0; t < threads; t++)
		job_fill(&jobs[t], e, ndev, nev, 777u + (uint32_t)t, t, threads);
	for (int r = 0; r < RUNS; r++) {
		double sum = 0, sum_wall = 0;

		if (threads == 1) {
			msi_run(&jobs[0]);
		} else {
			pthread_barrier_init(&bar, NULL, (unsigned)threads);
			for (int t = 0; t < threads; t++) {
				jobs[t].start = &bar;
				if (pthread_create(&th[t], NULL, msi_run, &jobs[t]))
					abort();
			}
			for (int t = 0; t < threads; t++)
				pthread_join(th[t], NULL);
			pthread_barrier_destroy(&bar);
		}
		for (int t = 0; t < threads; t++) {
			sum += MSIS / (jobs[t].ns / 1e9);
			sum_wall += MSIS / (jobs[t].ns_wall / 1e9);
		}
		rate[r] = sum / threads;
		rate_wall[r] = sum_wall / threads;
	}
	*wall = bench_summarise(rate_wall, RUNS);
	return bench_summarise(rate, RUNS);
}

static void bench_msis(void)
{
	struct env one, many;
	struct bench_stats s1, s65k, s1x2, s65kx2, w1, w65k, wx;
	struct mallinfo2 before, after;

	env_init(&one);
	env_map(&one, 1, 1, 1);
	env_init(&many);
	before = mallinfo2();
	env_map(&many, 256, 256, 8);
	after = mallinfo2();

	s1 = msi_rate(&one, 1, 1, 1, &w1);
	s65k = msi_rate(&many, 256, 256, 1, &w65k);
	s1x2 = msi_rate(&one, 1, 1, 2, &wx);
	s65kx2 = msi_rate(&many, 256, 256, 2, &wx);
	bench_report("its", "msis_per_wall_s_1_thread_1_mapping", &w1, "MSI/s", 0);
	bench_report("its", "msis_per_wall_s_1_thread_65536_mappings", &w65k, "MSI/s", w1.median);
	bench_report("its", "msis_per_cpu_s_1_thread_1_mapping", &s1, "MSI/s", 0);
	bench_report("its", "msis_per_cpu_s_1_thread_65536_mappings", &s65k, "MSI/s", s1.median);
	bench_report("its", "msis_per_cpu_s_per_thread_2_threads_1_mapping", &s1x2, "MSI/s",
		     s1.median);
	bench_report("its", "msis_per_cpu_s_per_thread_2_threads_65536_mappings", &s65kx2, "MSI/s",
		     s65k.median);
	bench_report_value(
		"its", "host_bytes_per_mapped_lpi",
		(double)((after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd)) /
			65536.0,
		"bytes", 0, 1, 0);
	env_free(&one);
	env_free(&many);
}

/* MAPTI, INT, DISCARD on a rotating set of events: each round is 3 commands. */
static void bench_commands(void)
{
	struct env e;
	double rate[RUNS];
	const unsigned rounds = 20000;

	env_init(&e);
	env_map(&e, 16, 0, 12); /* 16 devices, 4096 events each, nothing mapped */
	for (int r = 0; r < RUNS; r++) {
		uint64_t t0 = thread_cpu_ns();

		for (unsigned i = 0; i < rounds; i++) {
			uint64_t d = i % 16, ev = (i / 16) % 4096, intid = 8192 + i % 50000;

			cmd(&e, 0x0a | d << 32, ev | intid << 32, ev % NR_RD, false);
			cmd(&e, 0x03 | d << 32, ev, 0, false);
			cmd(&e, 0x0f | d << 32, ev, 0, i % 16 == 15);
		}
		reg_write(&e, 0x88, e.cwriter);
		rate[r] = 3.0 * rounds / ((double)(thread_cpu_ns() - t0) / 1e9);
	}
	struct bench_stats s = bench_summarise(rate, RUNS);

	bench_report("its", "commands_per_cpu_s_mapti_int_discard", &s, "cmd/s", 0);
	env_free(&e);
}

int main(void)
{
	bench_msis();
	bench_commands();
	return 0;
}
