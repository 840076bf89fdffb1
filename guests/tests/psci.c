/* SPDX-License-Identifier: MIT */
/*
 * PSCI semantics: VERSION, FEATURES, CPU_ON (success, ALREADY_ON, bad target,
 * exactly one winner when every vCPU races to start the same target),
 * AFFINITY_INFO through a CPU's life, CPU_OFF, unknown IDs.
 */
#include "rt.h"

static volatile unsigned started[MAX_CPUS];
static volatile unsigned winners, racers_done, go, hold;
static volatile int64_t race_result[MAX_CPUS];

static void secondary_hello(unsigned cpu)
{
	__atomic_fetch_add(&started[cpu], 1, __ATOMIC_SEQ_CST);
	/* Stay on until released, so AFFINITY_INFO can see ON. */
	while (!go)
		;
}

/* The race's target stays on until every racer has returned, so no late CPU_ON can win. */
static void race_target(unsigned cpu)
{
	__atomic_fetch_add(&started[cpu], 1, __ATOMIC_SEQ_CST);
	while (hold)
		;
}

static void racer(unsigned cpu)
{
	unsigned target = nr_cpus() - 1;

	while (!go)
		;
	int64_t r = cpu_on(target);
	race_result[cpu] = r;
	if (r == PSCI_SUCCESS)
		__atomic_fetch_add(&winners, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&racers_done, 1, __ATOMIC_SEQ_CST);
}

void guest_main(void)
{
	unsigned n = nr_cpus();
	extern void secondary_entry(void);

	printf("psci test on %u vCPUs\n", n);
	check(psci_call(PSCI_VERSION, 0, 0, 0) == 0x10001 ||
		      psci_call(PSCI_VERSION, 0, 0, 0) == 0x10000,
	      "PSCI_VERSION is 1.x (%lx)", psci_call(PSCI_VERSION, 0, 0, 0));
	check(psci_call(PSCI_FEATURES, PSCI_CPU_ON, 0, 0) == 0, "FEATURES(CPU_ON) supported");
	check(psci_call(PSCI_FEATURES, 0x8400ff00u, 0, 0) == PSCI_NOT_SUPPORTED,
	      "FEATURES(unknown) is NOT_SUPPORTED");
	check(psci_call(0x8400ff00u, 0, 0, 0) == PSCI_NOT_SUPPORTED,
	      "unknown function is NOT_SUPPORTED");
	check(psci_call(PSCI_AFFINITY_INFO, 0, 0, 0) == 0, "AFFINITY_INFO(self) is ON");
	check(psci_call(PSCI_CPU_ON, 0, (uintptr_t)secondary_entry, 0) == PSCI_ALREADY_ON,
	      "CPU_ON(self) is ALREADY_ON");
	check(psci_call(PSCI_CPU_ON, 0xff, (uintptr_t)secondary_entry, 0) == PSCI_INVALID_PARAMS,
	      "CPU_ON(absent MPIDR) is INVALID_PARAMETERS");
	if (n > 1)
		check(psci_call(PSCI_CPU_ON, 1, 0x1000, 0) == -9,
		      "CPU_ON with an entry point outside RAM is INVALID_ADDRESS");
	if (n < 2) {
		check(true, "single vCPU: nothing more to start");
		return;
	}
	check(psci_call(PSCI_AFFINITY_INFO, 1, 0, 0) == 1,
	      "AFFINITY_INFO(cpu1) is OFF before CPU_ON");
	check(cpu_start(1, secondary_hello) == PSCI_SUCCESS, "CPU_ON(cpu1) succeeds");
	int64_t again = psci_call(PSCI_CPU_ON, 1, (uintptr_t)secondary_entry, 1);
	check(again == PSCI_ALREADY_ON || again == PSCI_ON_PENDING,
	      "second CPU_ON(cpu1) is ALREADY_ON or ON_PENDING (%ld)", again);
	for (unsigned i = 0; i < 100000000 && !started[1]; i++)
		;
	check(started[1] == 1, "cpu1 ran its entry point once");
	check(psci_call(PSCI_AFFINITY_INFO, 1, 0, 0) == 0,
	      "AFFINITY_INFO(cpu1) is ON while it runs");
	go = 1;
	int64_t aff = 0;
	for (unsigned i = 0; i < 100000000; i++) {
		aff = psci_call(PSCI_AFFINITY_INFO, 1, 0, 0);
		if (aff == 1)
			break;
	}
	check(aff == 1, "AFFINITY_INFO(cpu1) is OFF after CPU_OFF");
	go = 0;
	if (n >= 3) {
		/* Every CPU but the target races to start it: exactly one wins. */
		unsigned target = n - 1, nracers = 0;
		for (unsigned c = 1; c < target; c++) {
			cpu_start(c, racer);
			nracers++;
		}
		hold = 1;
		cpu_prepare(target, race_target);
		go = 1;
		racer(0);
		nracers++;
		for (unsigned i = 0; i < 200000000 && racers_done < nracers; i++)
			;
		check(racers_done == nracers, "all %u racers returned", nracers);
		hold = 0;
		check(winners == 1, "exactly one CPU_ON(cpu%u) won the race (%u)", target, winners);
		bool losers_ok = true;
		for (unsigned c = 0; c < target; c++)
			if (race_result[c] != PSCI_SUCCESS && race_result[c] != PSCI_ALREADY_ON &&
			    race_result[c] != PSCI_ON_PENDING)
				losers_ok = false;
		check(losers_ok, "losers saw ALREADY_ON or ON_PENDING");
	}
}
