/* SPDX-License-Identifier: MIT */
/*
 * Benchmark helpers. Every benchmark prints JSON lines of the form
 *   {"bench":..., "metric":..., "value":..., "unit":..., "baseline":..., "ratio":...,
 *    "runs":..., "spread":...}
 * where value is the median of `runs` repetitions, baseline is a reference measured
 * in the same run (so noise on a shared machine hits both), ratio = value / baseline,
 * and spread is (p90 - p10) / median of the repetitions. Benchmarks never fail.
 */
#ifndef IVY_BENCH_BENCH_H
#define IVY_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* Summary of repeated measurements. */
struct bench_stats {
	double median;
	double p10, p90;
	double min, max;
	unsigned runs;
};

/* Sorts samples in place and summarises them. */
struct bench_stats bench_summarise(double *samples, unsigned n);
/* The p-th percentile (0..100) of n sorted samples. */
double bench_percentile(const double *sorted, unsigned n, double p);

/* Prints one JSON line. baseline <= 0 prints null for baseline and ratio. */
void bench_report(const char *bench, const char *metric, const struct bench_stats *value,
		  const char *unit, double baseline);
/* Prints one JSON line for a single number (no repetitions). */
void bench_report_value(const char *bench, const char *metric, double value, const char *unit,
			double baseline, unsigned runs, double spread);

/* Keeps the compiler from optimising a value away. */
#define bench_keep(x) __asm__ volatile("" : : "r"(x) : "memory")

#endif
