/* SPDX-License-Identifier: MIT */
/*
 * I/O-request round trips, vCPU -> client -> vCPU, for each way of serving:
 * in-process polling and blocking, out-of-process (socket client) polling and
 * blocking, and the synchronous path. Every mode runs on the same two threads
 * (the main thread as the vCPU on CPU 0, one helper thread as the client on
 * CPU 1) right after its raw baseline on those same threads: a spin ping-pong
 * on one cache line for polling modes, a futex ping-pong for blocking ones.
 * Then throughput with 16 vCPU threads and 4 clients.
 */
#include "bench.h"

#include <ivy/client.h>
#include <ivy/ioreq.h>

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ROUNDS	   10
#define PER_ROUND  2000
#define SAMPLES	   (ROUNDS * PER_ROUND)
#define WARMUP	   500
#define BASE	   0x10000000ull
#define TP_VCPUS   16
#define TP_CLIENTS 4
#define TP_MS	   1000

enum phase {
	PH_SPIN,
	PH_FUTEX,
	PH_INPROC,
	PH_REMOTE,
	PH_EXIT,
};

static struct {
	pthread_barrier_t go, done;
	enum phase phase;
	bool polling;
	struct ivy_ioreq_client *client;
	const char *path;
	atomic_bool stop;
	atomic_bool ready;
	_Alignas(64) _Atomic uint32_t word;
} h;

static double base_samples[SAMPLES], subj_samples[SAMPLES];

static void pin(int cpu)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	CPU_SET(cpu % (n > 0 ? n : 1), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, (void *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (void *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#endif
}

/* ---- the client side (helper thread) ---- */

static void serve_spin(void)
{
	for (;;) {
		uint32_t w = atomic_load_explicit(&h.word, memory_order_acquire);

		if (w == UINT32_MAX)
			return;
		if (w & 1)
			atomic_store_explicit(&h.word, w + 1, memory_order_release);
		else
			relax();
	}
}

static void serve_futex(void)
{
	for (;;) {
		uint32_t w = atomic_load_explicit(&h.word, memory_order_acquire);

		if (w == UINT32_MAX)
			return;
		if (w & 1) {
			atomic_store_explicit(&h.word, w + 1, memory_order_release);
			futex_wake(&h.word);
		} else {
			futex_wait(&h.word, w);
		}
	}
}

static void serve_inproc(void)
{
	struct ivy_ioreq req;

	atomic_store(&h.ready, true);
	while (!atomic_load_explicit(&h.stop, memory_order_relaxed)) {
		int ret = ivy_ioreq_client_wait(h.client, h.polling ? 0 : 50000000, &req);

		if (ret == -EAGAIN || ret == -ETIMEDOUT)
			continue;
		if (ret)
			return;
		req.value = req.addr;
		if (ivy_ioreq_client_complete(h.client, &req))
			return;
	}
}

/* The connection lives across the rounds of a mode; the main thread asks for its end. */
static struct ivy_client *remote_client;

static void serve_remote(void)
{
	struct ivy_client *c = remote_client;
	struct ivy_ioreq req;

	if (!h.path) {
		ivy_client_close(c);
		remote_client = NULL;
		return;
	}
	if (!c && (ivy_client_connect(h.path, "bench", &c) ||
		   ivy_client_claim(c, IVY_IOREQ_TYPE_MMIO, BASE, BASE + 0xfff))) {
		fprintf(stderr, "bench_ioreq: cannot connect\n");
		exit(1);
	}
	remote_client = c;
	atomic_store(&h.ready, true);
	while (!atomic_load_explicit(&h.stop, memory_order_relaxed)) {
		int ret = ivy_client_wait(c, h.polling ? 0 : 50, &req);

		if (ret == -EAGAIN || ret == -ETIMEDOUT)
			continue;
		if (ret)
			break;
		req.value = req.addr;
		if (ivy_client_complete(c, &req))
			break;
	}
}

static void *helper(void *arg)
{
	(void)arg;
	pin(1);
	for (;;) {
		pthread_barrier_wait(&h.go);
		switch (h.phase) {
		case PH_SPIN: serve_spin(); break;
		case PH_FUTEX: serve_futex(); break;
		case PH_INPROC: serve_inproc(); break;
		case PH_REMOTE: serve_remote(); break;
		case PH_EXIT: return NULL;
		}
		pthread_barrier_wait(&h.done);
	}
}

static void phase_begin(enum phase p)
{
	h.phase = p;
	atomic_store(&h.ready, false);
	atomic_store(&h.stop, false);
	atomic_store(&h.word, 0);
	pthread_barrier_wait(&h.go);
}

/* ---- the vCPU side (main thread) ---- */

/* Percentiles of one measurement. */
struct pct {
	double p50, p99, p999, spread;
	unsigned n;
};

static struct pct summarise(double *samples)
{
	struct bench_stats st = bench_summarise(samples, SAMPLES);

	return (struct pct){ .p50 = st.median,
			     .p99 = bench_percentile(samples, SAMPLES, 99),
			     .p999 = bench_percentile(samples, SAMPLES, 99.9),
			     .spread = st.median > 0 ? (st.p90 - st.p10) / st.median : 0,
			     .n = SAMPLES };
}

/* One round of the baseline ping-pong. */
static void measure_baseline(enum phase p, double *out)
{
	phase_begin(p);
	for (uint32_t i = 0; i < PER_ROUND + WARMUP; i++) {
		uint64_t t0 = bench_now_ns();
		uint32_t odd = 2 * i + 1;

		atomic_store_explicit(&h.word, odd, memory_order_release);
		if (p == PH_FUTEX)
			futex_wake(&h.word);
		while (atomic_load_explicit(&h.word, memory_order_acquire) == odd) {
			if (p == PH_FUTEX)
				futex_wait(&h.word, odd);
			else
				relax();
		}
		if (i >= WARMUP)
			out[i - WARMUP] = (double)(bench_now_ns() - t0);
	}
	atomic_store(&h.word, UINT32_MAX);
	futex_wake(&h.word);
	pthread_barrier_wait(&h.done);
}

/* One round of requests; the client side is already serving. */
static void measure_requests(struct ivy_vcpu *v, double *out)
{
	for (uint32_t i = 0; i < PER_ROUND + WARMUP; i++) {
		uint64_t addr = BASE + (i & 0x1f8), val = 0;
		uint64_t t0 = bench_now_ns();

		if (ivy_vcpu_mmio(v, addr, 8, false, &val) || val != addr) {
			fprintf(stderr, "bench_ioreq: wrong answer\n");
			exit(1);
		}
		if (i >= WARMUP)
			out[i - WARMUP] = (double)(bench_now_ns() - t0);
	}
}

static void report(const char *mode, const struct pct *s, const struct pct *base)
{
	char metric[64];

	snprintf(metric, sizeof(metric), "%s_rtt_p50", mode);
	bench_report_value("bench_ioreq", metric, s->p50, "ns", base->p50, s->n, s->spread);
	snprintf(metric, sizeof(metric), "%s_rtt_p99", mode);
	bench_report_value("bench_ioreq", metric, s->p99, "ns", base->p99, s->n, s->spread);
	snprintf(metric, sizeof(metric), "%s_rtt_p99.9", mode);
	bench_report_value("bench_ioreq", metric, s->p999, "ns", base->p999, s->n, s->spread);
}

static struct ivy_vm *bench_vm(uint32_t nr_vcpus, uint32_t flags)
{
	struct ivy_vm_config cfg = { .name = "bench", .nr_vcpus = nr_vcpus, .flags = flags };
	struct ivy_vm *vm;

	if (ivy_vm_create(&cfg, &vm) || ivy_ioreq_init(vm)) {
		fprintf(stderr, "bench_ioreq: cannot create a VM\n");
		exit(1);
	}
	return vm;
}

static int sync_handle(void *opaque, struct ivy_ioreq *req)
{
	(void)opaque;
	req->value = req->addr;
	return 0;
}

static const struct ivy_ioreq_client_ops sync_ops = { .handle = sync_handle };

/*
 * One round-trip mode, in rounds that alternate the baseline and the requests on
 * the same two threads, so that noise from a shared machine hits both alike.
 */
static void run_mode(const char *mode, bool polling, bool remote)
{
	struct ivy_vm *vm = bench_vm(1, polling ? IVY_VM_F_IOREQ_POLLING : 0);
	struct ivy_ioreq_client_config cfg = { .name = "bench" };
	char path[108];
	struct pct base, subj;

	h.polling = polling;
	h.path = NULL;
	if (remote) {
		snprintf(path, sizeof(path), "/tmp/ivy-bench-%d.sock", getpid());
		unlink(path);
		if (ivy_ioreq_server_start(vm, path))
			exit(1);
		h.path = path;
	} else if (ivy_ioreq_client_create(vm, &cfg, &h.client) ||
		   ivy_ioreq_client_add_range(h.client, IVY_IOREQ_TYPE_MMIO, BASE, BASE + 0xfff)) {
		exit(1);
	}
	for (int r = 0; r < ROUNDS; r++) {
		measure_baseline(polling ? PH_SPIN : PH_FUTEX, &base_samples[r * PER_ROUND]);
		phase_begin(remote ? PH_REMOTE : PH_INPROC);
		while (!atomic_load(&h.ready))
			sched_yield();
		measure_requests(ivy_vm_vcpu(vm, 0), &subj_samples[r * PER_ROUND]);
		atomic_store(&h.stop, true);
		pthread_barrier_wait(&h.done);
	}
	if (remote) {
		h.path = NULL;
		phase_begin(PH_REMOTE); /* closes the connection */
		pthread_barrier_wait(&h.done);
	} else if (ivy_ioreq_client_destroy(h.client)) {
		exit(1);
	}
	base = summarise(base_samples);
	subj = summarise(subj_samples);
	report(mode, &subj, &base);
	ivy_vm_close(vm);
}

static void run_sync(void)
{
	struct ivy_vm *vm = bench_vm(1, 0);
	struct ivy_ioreq_client_config cfg = { .name = "sync", .ops = &sync_ops };
	struct ivy_ioreq_client *c;
	struct pct base, subj;

	if (ivy_ioreq_client_create(vm, &cfg, &c) ||
	    ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_MMIO, BASE, BASE + 0xfff))
		exit(1);
	for (int r = 0; r < ROUNDS; r++) {
		measure_baseline(PH_SPIN, &base_samples[r * PER_ROUND]);
		measure_requests(ivy_vm_vcpu(vm, 0), &subj_samples[r * PER_ROUND]);
	}
	base = summarise(base_samples);
	subj = summarise(subj_samples);
	report("sync", &subj, &base);
	if (ivy_ioreq_client_destroy(c))
		exit(1);
	ivy_vm_close(vm);
}

/* ---- throughput: 16 vCPU threads, 4 in-process clients (blocking) ---- */

struct tp_arg {
	struct ivy_vm *vm;
	struct ivy_ioreq_client *c;
	uint32_t index;
	atomic_bool *stop;
	uint64_t done;
	pthread_t thread;
};

static void *tp_vcpu(void *arg)
{
	struct tp_arg *a = arg;
	struct ivy_vcpu *v = ivy_vm_vcpu(a->vm, a->index);
	uint64_t base = BASE + (uint64_t)(a->index % TP_CLIENTS) * 0x1000;

	while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
		uint64_t val;

		if (ivy_vcpu_mmio(v, base + (a->done & 0xff8), 8, false, &val))
			break;
		a->done++;
	}
	return NULL;
}

static void *tp_client(void *arg)
{
	struct tp_arg *a = arg;
	struct ivy_ioreq req;

	while (ivy_ioreq_client_wait(a->c, -1, &req) == 0) {
		req.value = req.addr;
		if (ivy_ioreq_client_complete(a->c, &req))
			break;
	}
	return NULL;
}

static void run_throughput(void)
{
	struct ivy_vm *vm = bench_vm(TP_VCPUS, 0);
	struct tp_arg vcpus[TP_VCPUS], clients[TP_CLIENTS];
	atomic_bool stop = false;
	uint64_t t0, t1, total = 0;

	for (int i = 0; i < TP_CLIENTS; i++) {
		struct ivy_ioreq_client_config cfg = { .name = "tp" };

		clients[i] = (struct tp_arg){ .vm = vm };
		if (ivy_ioreq_client_create(vm, &cfg, &clients[i].c) ||
		    ivy_ioreq_client_add_range(clients[i].c, IVY_IOREQ_TYPE_MMIO,
					       BASE + i * 0x1000ull, BASE + i * 0x1000ull + 0xfff))
			exit(1);
		pthread_create(&clients[i].thread, NULL, tp_client, &clients[i]);
	}
	t0 = bench_now_ns();
	for (uint32_t i = 0; i < TP_VCPUS; i++) {
		vcpus[i] = (struct tp_arg){ .vm = vm, .index = i, .stop = &stop };
		pthread_create(&vcpus[i].thread, NULL, tp_vcpu, &vcpus[i]);
	}
	usleep(TP_MS * 1000);
	atomic_store(&stop, true);
	for (uint32_t i = 0; i < TP_VCPUS; i++) {
		pthread_join(vcpus[i].thread, NULL);
		total += vcpus[i].done;
	}
	t1 = bench_now_ns();
	for (int i = 0; i < TP_CLIENTS; i++) {
		struct ivy_ioreq_client *c = clients[i].c;

		/* Destroy wakes the client thread, which then leaves its loop. */
		if (ivy_ioreq_client_destroy(c))
			exit(1);
		pthread_join(clients[i].thread, NULL);
	}
	bench_report_value("bench_ioreq", "throughput_16vcpu_4clients", total * 1e9 / (t1 - t0),
			   "requests/s", 0, 1, 0);
	ivy_vm_close(vm);
}

int main(void)
{
	pthread_t t;

	pthread_barrier_init(&h.go, NULL, 2);
	pthread_barrier_init(&h.done, NULL, 2);
	pthread_create(&t, NULL, helper, NULL);
	pin(0);
	run_mode("inproc_polling", true, false);
	run_mode("inproc_blocking", false, false);
	run_mode("remote_polling", true, true);
	run_mode("remote_blocking", false, true);
	run_sync();
	h.phase = PH_EXIT;
	pthread_barrier_wait(&h.go);
	pthread_join(t, NULL);
	run_throughput();
	return 0;
}
