/* SPDX-License-Identifier: MIT */
/*
 * MSIs end to end: the ITS wired to the real GICv3 redistributors.
 *  - MSIs translated and queued into the real redistributors per CPU-second
 *    (ivy_signal_msi on 1,024 mappings over 4 vCPUs: translation, LPI lookup,
 *    EnableLPIs check, pending latch, the vCPU's ap_list, the kick hook).
 *    Nothing acknowledges them, so after the first pass each MSI finds its LPI
 *    pending and queued already (it coalesces, as repeated edges do); that is
 *    the steady state of a device that signals faster than the guest takes.
 *    Baseline, same run: the ITS with a stand-in redistributor (an atomic bit
 *    per LPI, as in bench_its), i.e. translation alone; the ratio is the share
 *    of that rate the real redistributors keep. Also per thread with two
 *    threads signalling at once, each to its own devices, with the one-thread
 *    rate as baseline.
 *  - The round trip of one LPI as a VMM and guest make it: ivy_signal_msi ->
 *    ivy_vcpu_flush -> ICC_IAR1_EL1 -> ICC_EOIR1_EL1 -> ivy_vcpu_sync, in ns.
 *    Baseline, same run and VM: the same round trip of an edge SPI raised with
 *    ivy_irq_line (line up, then down).
 * Times are the measuring thread's CPU time.
 */
#include "bench.h"

#include <ivy/gic.h>
#include <ivy/its.h>

#include "gic/its.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS	   7
#define MSIS	   1000000
#define TRIPS	   100000
#define NR_CPUS	   4
#define NR_DEV	   4
#define NR_EV	   256
#define RAM_BASE   0x40000000ull
#define RAM_SIZE   (8ull << 20)
#define DIST	   0x08000000ull
#define REDIST	   0x080a0000ull
#define ITS_BASE   0x08080000ull
#define DOORBELL   (ITS_BASE + IVY_ITS_TRANSLATER_OFFSET)
#define CMDQ	   RAM_BASE
#define DEVTBL	   (RAM_BASE + 0x10000)
#define COLLTBL	   (RAM_BASE + 0x20000)
#define PROP	   (RAM_BASE + 0x30000)
#define PEND(c)	   (RAM_BASE + 0x40000 + (uint64_t)(c)*0x10000)
#define ITT(d)	   (RAM_BASE + 0x100000 + (uint64_t)(d)*0x1000)
#define ICC_PMR	   IVY_SYSREG(3, 0, 4, 6, 0)
#define ICC_IAR1   IVY_SYSREG(3, 0, 12, 12, 0)
#define ICC_EOIR1  IVY_SYSREG(3, 0, 12, 12, 1)
#define ICC_GRPEN1 IVY_SYSREG(3, 0, 12, 12, 7)
#define SPI	   40

struct env {
	struct ivy_vm *vm;
	struct ivy_device *its;
	uint8_t *ram;
	uint32_t cwriter;
};

static void mmio(struct env *e, uint32_t c, uint64_t gpa, unsigned len, uint64_t val)
{
	if (ivy_vcpu_mmio(ivy_vm_vcpu(e->vm, c), gpa, len, true, &val))
		abort();
}

static void sysreg(struct env *e, uint32_t c, uint32_t enc, uint64_t val)
{
	if (ivy_vcpu_sysreg(ivy_vm_vcpu(e->vm, c), enc, true, &val))
		abort();
}

static void cmd(struct env *e, uint64_t dw0, uint64_t dw1, uint64_t dw2)
{
	uint64_t c[4] = { dw0, dw1, dw2, 0 };

	memcpy(e->ram + (CMDQ - RAM_BASE) + e->cwriter, c, sizeof(c));
	e->cwriter = (e->cwriter + 32) % 0x10000;
	mmio(e, 0, ITS_BASE + 0x88, 8, e->cwriter);
}

static void set_addr(struct ivy_device *dev, uint32_t group, uint64_t type, uint64_t addr)
{
	struct ivy_device_attr a = { .group = group, .attr = type, .addr = &addr };

	if (ivy_device_set_attr(dev, &a))
		abort();
}

/* Stand-in redistributors: one atomic bit per LPI (translation cost only). */
static _Atomic uint64_t standin_bits[65536 / 64];

static uint32_t s_nr(void *ctx)
{
	(void)ctx;
	return NR_CPUS;
}
static int s_get(void *ctx, uint32_t intid)
{
	(void)ctx, (void)intid;
	return 0;
}
static void s_void(void *ctx, uint32_t intid)
{
	(void)ctx, (void)intid;
}
static int s_set_pending(void *ctx, uint32_t rd, uint32_t intid)
{
	(void)ctx, (void)rd;
	atomic_fetch_or_explicit(&standin_bits[intid / 64], 1ull << (intid % 64),
				 memory_order_relaxed);
	return 1;
}
static void s_move(void *ctx, uint32_t intid, uint32_t rd)
{
	(void)ctx, (void)intid, (void)rd;
}

static const struct its_redist_ops standin_ops = {
	.nr_redists = s_nr,
	.lpi_get = s_get,
	.lpi_put = s_void,
	.lpi_set_pending = s_set_pending,
	.lpi_clear_pending = s_void,
	.lpi_move = s_move,
	.lpi_inv = s_void,
};

/*
 * A VM with 4 vCPUs, RAM and an ITS: with `real`, a GICv3 booted the way a
 * guest does it (Group 1 on, LPIs enabled everywhere, priority 0xa0); without,
 * the stand-in redistributors. Devices 0-3 with 256 events each on LPIs
 * 8192..9215, event e in collection e % 4 (vCPU e % 4).
 */
static void env_init(struct env *e, bool real)
{
	struct ivy_vm_config cfg = { .name = "bench-vgic-its", .nr_vcpus = NR_CPUS };
	struct ivy_device *gic;

	memset(e, 0, sizeof(*e));
	e->ram = aligned_alloc(4096, RAM_SIZE);
	if (!e->ram || ivy_vm_create(&cfg, &e->vm))
		abort();
	memset(e->ram, 0, RAM_SIZE);
	if (ivy_vm_add_ram(e->vm, RAM_BASE, RAM_SIZE, e->ram))
		abort();
	if (real) {
		if (ivy_device_create(e->vm, IVY_DEV_TYPE_ARM_VGIC_V3, &gic))
			abort();
		set_addr(gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_DIST, DIST);
		set_addr(gic, IVY_VGIC_GRP_ADDR, IVY_VGIC_V3_ADDR_TYPE_REDIST, REDIST);
	}
	if (ivy_device_create(e->vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &e->its))
		abort();
	set_addr(e->its, IVY_ITS_GRP_ADDR, IVY_ITS_ADDR_TYPE, ITS_BASE);
	if (real) {
		memset(e->ram + (PROP - RAM_BASE), 0xa0 | 1, NR_DEV * NR_EV);
		for (uint32_t c = 0; c < NR_CPUS; c++) {
			if (ivy_vcpu_flush(ivy_vm_vcpu(e->vm, c)))
				abort();
			sysreg(e, c, ICC_PMR, 0xff);
			sysreg(e, c, ICC_GRPEN1, 1);
			mmio(e, c, REDIST + c * 0x20000ull + 0x70, 8, PROP | 15);
			mmio(e, c, REDIST + c * 0x20000ull + 0x78, 8, PEND(c));
			mmio(e, c, REDIST + c * 0x20000ull, 4, 1);
			ivy_vcpu_sync(ivy_vm_vcpu(e->vm, c));
		}
		mmio(e, 0, DIST, 4, 2);
		/* An edge SPI on vCPU 0 (IROUTER 0) for the baseline round trip. */
		mmio(e, 0, DIST + 0xc00 + SPI / 16 * 4, 4, 2u << (SPI % 16 * 2));
		mmio(e, 0, DIST + 0x400 + SPI, 1, 0xa0);
		mmio(e, 0, DIST + 0x100 + SPI / 32 * 4, 4, 1u << (SPI % 32));
		mmio(e, 0, DIST + 0x80 + SPI / 32 * 4, 4, 1u << (SPI % 32));
	} else if (its_set_redist_ops(e->its, &standin_ops, NULL)) {
		abort();
	}
	mmio(e, 0, ITS_BASE + 0x80, 8, (1ull << 63) | CMDQ | 15);
	mmio(e, 0, ITS_BASE + 0x100, 8, (1ull << 63) | DEVTBL);
	mmio(e, 0, ITS_BASE + 0x108, 8, (1ull << 63) | COLLTBL);
	mmio(e, 0, ITS_BASE, 4, 1);
	for (uint64_t c = 0; c < NR_CPUS; c++)
		cmd(e, 0x09, 0, 1ull << 63 | c << 16 | c);
	for (uint64_t d = 0; d < NR_DEV; d++) {
		cmd(e, 0x08 | d << 32, 7, 1ull << 63 | ITT(d));
		for (uint64_t ev = 0; ev < NR_EV; ev++)
			cmd(e, 0x0a | d << 32, ev | (8192 + d * NR_EV + ev) << 32, ev % NR_CPUS);
	}
	uint32_t code;
	uint64_t n;

	if (ivy_its_get_errors(e->its, &code, &n) || n)
		abort();
}

static void env_free(struct env *e)
{
	ivy_vm_close(e->vm);
	free(e->ram);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * MSIs per CPU-second over all 1,024 mappings in a scrambled order: through the
 * VM's MSI entry (ivy_signal_msi), or straight into the ITS for the stand-in,
 * whose VM has no GIC to route them.
 */
static double msi_rate(struct env *e, bool real)
{
	uint64_t t0 = thread_cpu_ns(), ok = 0;
	uint32_t seed = 12345;

	for (unsigned i = 0; i < MSIS; i++) {
		uint32_t ev, dev;

		seed = seed * 1103515245u + 12345u;
		ev = (seed >> 8) % NR_EV;
		dev = (seed >> 20) % NR_DEV;
		ok += (real ? ivy_signal_msi(e->vm, DOORBELL, ev, dev)
			    : its_signal_msi(e->vm, DOORBELL, ev, dev)) == 1;
	}
	if (ok != MSIS)
		abort();
	return MSIS / ((double)(thread_cpu_ns() - t0) / 1e9);
}

struct job {
	struct env *e;
	uint32_t first_dev;
	pthread_barrier_t *start;
	double rate;
};

/* One of two threads: MSIs to its own two devices (its own LPIs), per CPU-second. */
static void *msi_job(void *arg)
{
	struct job *j = arg;
	uint32_t seed = 777 + j->first_dev;
	uint64_t t0, ok = 0;

	pthread_barrier_wait(j->start);
	t0 = thread_cpu_ns();
	for (unsigned i = 0; i < MSIS; i++) {
		seed = seed * 1103515245u + 12345u;
		ok += ivy_signal_msi(j->e->vm, DOORBELL, (seed >> 8) % NR_EV,
				     j->first_dev + (seed >> 20) % 2) == 1;
	}
	j->rate = MSIS / ((double)(thread_cpu_ns() - t0) / 1e9);
	if (ok != MSIS)
		abort();
	return NULL;
}

/* Per-thread MSIs per CPU-second with two threads signalling at once. */
static double msi_rate_2_threads(struct env *e)
{
	struct job jobs[2];
	pthread_barrier_t bar;
	pthread_t th[2];

	pthread_barrier_init(&bar, NULL, 2);
	for (int t = 0; t < 2; t++) {
		jobs[t] = (struct job){ .e = e, .first_dev = 2u * (uint32_t)t, .start = &bar };
		if (pthread_create(&th[t], NULL, msi_job, &jobs[t]))
			abort();
	}
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&bar);
	return (jobs[0].rate + jobs[1].rate) / 2;
}

/* ns per round trip of an LPI (lpi) or of the edge SPI on vCPU 0. */
static double round_trip_ns(struct env *e, bool lpi)
{
	struct ivy_vcpu *v0 = ivy_vm_vcpu(e->vm, 0);
	uint64_t t0 = thread_cpu_ns();

	for (unsigned i = 0; i < TRIPS; i++) {
		uint64_t id = 0;

		if (lpi) {
			/* Device 1, event 4: LPI 8192 + 256 + 4 in collection 0. */
			if (ivy_signal_msi(e->vm, DOORBELL, 4, 1) != 1)
				abort();
		} else if (ivy_irq_line(e->vm, SPI, 0, true) ||
			   ivy_irq_line(e->vm, SPI, 0, false)) {
			abort();
		}
		if (ivy_vcpu_flush(v0) || ivy_vcpu_sysreg(v0, ICC_IAR1, false, &id) ||
		    id != (lpi ? 8192 + 256 + 4 : SPI) || ivy_vcpu_sysreg(v0, ICC_EOIR1, true, &id))
			abort();
		ivy_vcpu_sync(v0);
	}
	return (double)(thread_cpu_ns() - t0) / TRIPS;
}

int main(void)
{
	double real[RUNS], standin[RUNS], real2[RUNS], lpi[RUNS], spi[RUNS];
	struct bench_stats s_real, s_standin, s_real2, s_lpi, s_spi;
	struct env r, s;

	env_init(&r, true);
	env_init(&s, false);
	for (int i = 0; i < RUNS; i++) {
		standin[i] = msi_rate(&s, false);
		real[i] = msi_rate(&r, true);
		real2[i] = msi_rate_2_threads(&r);
	}
	/* Take everything the rate runs left pending, so the round trips start clean. */
	for (uint32_t c = 0; c < NR_CPUS; c++) {
		struct ivy_vcpu *v = ivy_vm_vcpu(r.vm, c);
		uint64_t id;

		do {
			if (ivy_vcpu_flush(v) || ivy_vcpu_sysreg(v, ICC_IAR1, false, &id) ||
			    (id != 1023 && ivy_vcpu_sysreg(v, ICC_EOIR1, true, &id)))
				abort();
			ivy_vcpu_sync(v);
		} while (id != 1023);
	}
	for (int i = 0; i < RUNS; i++) {
		spi[i] = round_trip_ns(&r, false);
		lpi[i] = round_trip_ns(&r, true);
	}
	s_standin = bench_summarise(standin, RUNS);
	s_real = bench_summarise(real, RUNS);
	s_real2 = bench_summarise(real2, RUNS);
	s_spi = bench_summarise(spi, RUNS);
	s_lpi = bench_summarise(lpi, RUNS);
	bench_report("vgic_its", "msis_per_cpu_s_standin_redistributors", &s_standin, "MSI/s", 0);
	bench_report("vgic_its", "msis_per_cpu_s_real_redistributors_1024_mappings", &s_real,
		     "MSI/s", s_standin.median);
	bench_report("vgic_its", "msis_per_cpu_s_per_thread_2_threads_real_redistributors",
		     &s_real2, "MSI/s", s_real.median);
	bench_report("vgic_its", "edge_spi_round_trip_ns", &s_spi, "ns", 0);
	bench_report("vgic_its", "lpi_round_trip_ns_msi_flush_iar1_eoir1_sync", &s_lpi, "ns",
		     s_spi.median);
	env_free(&r);
	env_free(&s);
	return 0;
}
