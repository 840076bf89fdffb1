/* SPDX-License-Identifier: MIT */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_percentile(const double *sorted, unsigned n, double p)
{
	double pos, frac;
	unsigned i;

	if (n == 0)
		return 0;
	pos = p / 100.0 * (n - 1);
	i = (unsigned)pos;
	frac = pos - i;
	return i + 1 < n ? sorted[i] * (1 - frac) + sorted[i + 1] * frac : sorted[n - 1];
}

struct bench_stats bench_summarise(double *samples, unsigned n)
{
	struct bench_stats s = { .runs = n };

	if (n == 0)
		return s;
	qsort(samples, n, sizeof(*samples), cmp_double);
	s.median = bench_percentile(samples, n, 50);
	s.p10 = bench_percentile(samples, n, 10);
	s.p90 = bench_percentile(samples, n, 90);
	s.min = samples[0];
	s.max = samples[n - 1];
	return s;
}

void bench_report_value(const char *bench, const char *metric, double value, const char *unit,
			double baseline, unsigned runs, double spread)
{
	printf("{\"bench\":\"%s\", \"metric\":\"%s\", \"value\":%.4g, \"unit\":\"%s\", ", bench,
	       metric, value, unit);
	if (baseline > 0)
		printf("\"baseline\":%.4g, \"ratio\":%.3f, ", baseline, value / baseline);
	else
		printf("\"baseline\":null, \"ratio\":null, ");
	printf("\"runs\":%u, \"spread\":%.3f}\n", runs, spread);
	fflush(stdout);
}

void bench_report(const char *bench, const char *metric, const struct bench_stats *value,
		  const char *unit, double baseline)
{
	double spread = value->median > 0 ? (value->p90 - value->p10) / value->median : 0;

	bench_report_value(bench, metric, value->median, unit, baseline, value->runs, spread);
}
