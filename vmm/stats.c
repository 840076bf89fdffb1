/* SPDX-License-Identifier: MIT */
/*
 * --stats and --trace. Both feed on the library's trace hook: interrupts
 * acknowledged per INTID per vCPU (like /proc/interrupts), I/O-request latency
 * per client (submit to complete on the same vCPU), and a Chrome/Perfetto trace
 * of interrupt injection, delivery, acknowledge and EOI, I/O requests and vCPU
 * run slices.
 */
#include "vmm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define STATS_MAX_CLIENTS 16
#define STATS_LAT_MAX	  (1u << 16) /* latency samples kept per client */
#define STATS_LPI_BASE	  8192

struct stats_client {
	char name[24];
	uint64_t count;
	uint32_t nr_lat;
	uint32_t *lat_ns; /* the first STATS_LAT_MAX samples */
};

static struct stats_client stats_clients[STATS_MAX_CLIENTS];
static uint64_t stats_submit_ns[BOARD_MAX_CPUS];

static void trace_add_locked(struct vmm *vmm, const struct trace_rec *r)
{
	if (vmm->nr_trace == vmm->cap_trace) {
		size_t cap = vmm->cap_trace ? vmm->cap_trace * 2 : 4096;
		struct trace_rec *t;

		/* A trace that cannot grow stops recording rather than stopping the VM. */
		if (cap > (64u << 20) / sizeof(*t) || !(t = realloc(vmm->trace, cap * sizeof(*t))))
			return;
		vmm->trace = t;
		vmm->cap_trace = cap;
	}
	vmm->trace[vmm->nr_trace++] = *r;
}

void stats_on_trace(struct vmm *vmm, const struct ivy_trace_event *ev)
{
	uint64_t now = vmm_now_ns();

	pthread_mutex_lock(&vmm->trace_lock);
	if (ev->kind == IVY_TRACE_IRQ_ACK && ev->vcpu >= 0 && (unsigned)ev->vcpu < vmm->nr_cpus &&
	    vmm->irq_counts) {
		uint64_t col = ev->a < 1020 ? ev->a : 1024;

		vmm->irq_counts[ev->vcpu][col]++;
		vmm->irq_total++;
	}
	if (ev->vcpu >= 0 && (unsigned)ev->vcpu < BOARD_MAX_CPUS) {
		if (ev->kind == IVY_TRACE_IOREQ_SUBMIT) {
			stats_submit_ns[ev->vcpu] = now;
		} else if (ev->kind == IVY_TRACE_IOREQ_COMPLETE && ev->b < STATS_MAX_CLIENTS) {
			struct stats_client *c = &stats_clients[ev->b];

			c->count++;
			if (!c->lat_ns)
				c->lat_ns = calloc(STATS_LAT_MAX, sizeof(*c->lat_ns));
			if (c->lat_ns && c->nr_lat < STATS_LAT_MAX && stats_submit_ns[ev->vcpu]) {
				uint64_t d = now - stats_submit_ns[ev->vcpu];

				c->lat_ns[c->nr_lat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
			}
		}
	}
	if (vmm->opts.trace_path) {
		struct trace_rec r = {
			.ts_ns = now, .vcpu = ev->vcpu, .kind = ev->kind, .a = ev->a, .b = ev->b
		};
		trace_add_locked(vmm, &r);
	}
	pthread_mutex_unlock(&vmm->trace_lock);
}

void stats_name_client(unsigned id, const char *name)
{
	if (id < STATS_MAX_CLIENTS)
		snprintf(stats_clients[id].name, sizeof(stats_clients[id].name), "%s", name);
}

void stats_add_slice(struct vmm *vmm, int vcpu, uint64_t start_ns, uint64_t end_ns)
{
	if (!vmm->opts.trace_path)
		return;
	struct trace_rec r = { .ts_ns = start_ns, .dur_ns = end_ns - start_ns, .vcpu = vcpu };

	pthread_mutex_lock(&vmm->trace_lock);
	trace_add_locked(vmm, &r);
	pthread_mutex_unlock(&vmm->trace_lock);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *s, uint32_t n, double p)
{
	if (!n)
		return 0;
	uint32_t i = (uint32_t)(p / 100.0 * (n - 1) + 0.5);

	return s[i] / 1000.0;
}

static const char *intid_name(uint32_t intid)
{
	if (intid < 16)
		return "SGI (IPI)";
	switch (intid) {
	case BOARD_PPI_VTIMER: return "PPI virtual timer";
	case BOARD_PPI_PTIMER: return "PPI physical timer";
	case 32 + BOARD_UART_SPI: return "SPI pl011";
	default: break;
	}
	if (intid < 32)
		return "PPI";
	if (intid >= BOARD_V2M_INTID_BASE && intid < BOARD_V2M_INTID_BASE + BOARD_V2M_NR_SPIS)
		return "SPI GICv2m MSI";
	return "SPI";
}

void stats_print(struct vmm *vmm, FILE *out)
{
	fprintf(out, "\n--- ivy stats ---\ninterrupts delivered (acknowledged by the guest):\n");
	fprintf(out, "%8s", "INTID");
	for (unsigned c = 0; c < vmm->nr_cpus; c++)
		fprintf(out, " %10s%u", "CPU", c);
	fprintf(out, "  source\n");
	pthread_mutex_lock(&vmm->trace_lock);
	for (unsigned i = 0; i <= 1024; i++) {
		uint64_t sum = 0;

		for (unsigned c = 0; c < vmm->nr_cpus; c++)
			sum += vmm->irq_counts[c][i];
		if (!sum)
			continue;
		if (i == 1024)
			fprintf(out, "%8s", "LPI");
		else
			fprintf(out, "%8u", i);
		for (unsigned c = 0; c < vmm->nr_cpus; c++)
			fprintf(out, " %11" PRIu64, vmm->irq_counts[c][i]);
		fprintf(out, "  %s\n", i == 1024 ? "LPIs (ITS)" : intid_name(i));
	}
	fprintf(out, "I/O requests per client (latency submit->complete, us):\n");
	fprintf(out, "  %-22s %10s %9s %9s %9s\n", "client", "requests", "p50", "p90", "p99");
	for (unsigned i = 0; i < STATS_MAX_CLIENTS; i++) {
		struct stats_client *c = &stats_clients[i];

		if (!c->count)
			continue;
		qsort(c->lat_ns, c->nr_lat, sizeof(*c->lat_ns), cmp_u32);
		fprintf(out, "  %-22s %10" PRIu64 " %9.2f %9.2f %9.2f\n",
			c->name[0] ? c->name : "?", c->count, pct(c->lat_ns, c->nr_lat, 50),
			pct(c->lat_ns, c->nr_lat, 90), pct(c->lat_ns, c->nr_lat, 99));
	}
	pthread_mutex_unlock(&vmm->trace_lock);
	fprintf(out, "vCPU time (ms): %6s %9s %9s %9s %9s %9s %9s %9s\n", "vCPU", "running", "wfi",
		"token", "entries", "spins", "mmio", "sysreg");
	for (unsigned c = 0; c < vmm->nr_cpus; c++) {
		struct vmm_cpu *cpu = &vmm->cpus[c];

		fprintf(out,
			"                %6u %9.1f %9.1f %9.1f %9" PRIu64 " %9" PRIu64 " %9" PRIu64
			" %9" PRIu64 "\n",
			c, cpu->run_ns / 1e6, cpu->wfi_ns / 1e6, cpu->wait_ns / 1e6,
			(uint64_t)cpu->entries, (uint64_t)cpu->spin_yields, (uint64_t)cpu->mmio,
			(uint64_t)cpu->sysreg);
	}
	fprintf(out,
		"MMIO: %" PRIu64 " on the in-process bus, %" PRIu64 " I/O requests, %" PRIu64
		" unclaimed\n",
		ivy_vm_stat(vmm->vm, IVY_STAT_MMIO_BUS), ivy_vm_stat(vmm->vm, IVY_STAT_IOREQ),
		ivy_vm_stat(vmm->vm, IVY_STAT_MMIO_UNCLAIMED));
	uint64_t swaps = 0, swap_ns = 0;

	for (unsigned c = 0; c < vmm->nr_cpus; c++) {
		swaps += vmm->cpus[c].engine_swaps;
		swap_ns += vmm->cpus[c].engine_swap_ns;
	}
	fprintf(out,
		"translated code: %" PRIu64 " full code buffer flushes, %" PRIu64
		" engines replaced (%.1f ms)\n",
		uci_code_flush_count(), swaps, swap_ns / 1e6);
}

static const char *trace_kind_name(uint32_t kind)
{
	switch (kind) {
	case IVY_TRACE_IRQ_INJECT: return "inject";
	case IVY_TRACE_IRQ_DELIVER: return "deliver";
	case IVY_TRACE_IRQ_ACK: return "ack";
	case IVY_TRACE_IRQ_EOI: return "eoi";
	case IVY_TRACE_IOREQ_SUBMIT: return "ioreq submit";
	case IVY_TRACE_IOREQ_COMPLETE: return "ioreq complete";
	case IVY_TRACE_MMIO_UNCLAIMED: return "mmio unclaimed";
	default: return "event";
	}
}

int trace_write(struct vmm *vmm, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
	fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"ivy "
		   "run\"}}");
	for (unsigned c = 0; c < vmm->nr_cpus; c++)
		fprintf(f,
			",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,"
			"\"args\":{\"name\":\"vCPU %u\"}}",
			c, c);
	pthread_mutex_lock(&vmm->trace_lock);
	for (size_t i = 0; i < vmm->nr_trace; i++) {
		const struct trace_rec *r = &vmm->trace[i];
		double ts = (double)(r->ts_ns - vmm->boot_ns) / 1000.0;
		int tid = r->vcpu >= 0 ? r->vcpu : 1000;

		if (r->kind == 0)
			fprintf(f,
				",\n{\"name\":\"run\",\"cat\":\"vcpu\",\"ph\":\"X\",\"pid\":1,"
				"\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f}",
				tid, ts, r->dur_ns / 1000.0);
		else if (r->kind >= IVY_TRACE_IOREQ_SUBMIT)
			fprintf(f,
				",\n{\"name\":\"%s\",\"cat\":\"ioreq\",\"ph\":\"i\",\"s\":\"t\","
				"\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"args\":{\"addr\":\"0x%" PRIx64
				"\",\"b\":%" PRIu64 "}}",
				trace_kind_name(r->kind), tid, ts, r->a, r->b);
		else
			fprintf(f,
				",\n{\"name\":\"%s %" PRIu64 "\",\"cat\":\"irq\",\"ph\":\"i\","
				"\"s\":\"t\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"args\":{\"intid\":"
				"%" PRIu64 ",\"b\":%" PRIu64 "}}",
				trace_kind_name(r->kind), r->a, tid, ts, r->a, r->b);
	}
	pthread_mutex_unlock(&vmm->trace_lock);
	fprintf(f, "\n]}\n");
	return fclose(f) ? -errno : 0;
}
