/* SPDX-License-Identifier: MIT */
/*
 * PSCI 1.1 over HVC (and SMC), as the DT's psci node promises (DEN0022).
 * CPU_ON has exactly one winner when several vCPUs race to start the same
 * target: the OFF -> ON_PENDING transition happens under psci_lock, and the
 * losers see ALREADY_ON or ON_PENDING.
 */
#include "vmm.h"

#include <inttypes.h>

#define PSCI_VERSION	       0x84000000u
#define PSCI_CPU_SUSPEND_32    0x84000001u
#define PSCI_CPU_SUSPEND_64    0xc4000001u
#define PSCI_CPU_OFF	       0x84000002u
#define PSCI_CPU_ON_32	       0x84000003u
#define PSCI_CPU_ON_64	       0xc4000003u
#define PSCI_AFFINITY_INFO_32  0x84000004u
#define PSCI_AFFINITY_INFO_64  0xc4000004u
#define PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_SYSTEM_OFF	       0x84000008u
#define PSCI_SYSTEM_RESET      0x84000009u
#define PSCI_FEATURES	       0x8400000au

#define PSCI_SUCCESS		0
#define PSCI_NOT_SUPPORTED	-1
#define PSCI_INVALID_PARAMETERS -2
#define PSCI_ALREADY_ON		-4
#define PSCI_ON_PENDING		-5
#define PSCI_INVALID_ADDRESS	-9

#define PSCI_AFF_ON	    0
#define PSCI_AFF_OFF	    1
#define PSCI_AFF_ON_PENDING 2

/* MIGRATE_INFO_TYPE: no Trusted OS needs migrating. */
#define PSCI_TOS_NOT_PRESENT 2

static const uint32_t psci_supported[] = {
	PSCI_VERSION,		PSCI_CPU_SUSPEND_32, PSCI_CPU_SUSPEND_64,   PSCI_CPU_OFF,
	PSCI_CPU_ON_32,		PSCI_CPU_ON_64,	     PSCI_AFFINITY_INFO_32, PSCI_AFFINITY_INFO_64,
	PSCI_MIGRATE_INFO_TYPE, PSCI_SYSTEM_OFF,     PSCI_SYSTEM_RESET,	    PSCI_FEATURES,
};

static struct vmm_cpu *psci_find_cpu(struct vmm *vmm, uint64_t mpidr)
{
	/* Aff3 (bits 39:32) and Aff2..Aff0 (bits 23:0) identify a vCPU. */
	uint64_t aff = mpidr & 0xff00ffffffull;

	for (unsigned i = 0; i < vmm->nr_cpus; i++)
		if ((vmm->cpus[i].mpidr & 0xff00ffffffull) == aff)
			return &vmm->cpus[i];
	return NULL;
}

static int64_t psci_cpu_on(struct vmm_cpu *cpu, uint64_t target, uint64_t entry, uint64_t ctx)
{
	struct vmm *vmm = cpu->vmm;
	struct vmm_cpu *t = psci_find_cpu(vmm, target);
	int64_t ret;

	if (!t)
		return PSCI_INVALID_PARAMETERS;
	/* The entry point must be code the vCPU can fetch: guest RAM, 4-byte aligned. */
	if ((entry & 3) || entry < BOARD_RAM_BASE || entry - BOARD_RAM_BASE >= vmm->ram_size)
		return PSCI_INVALID_ADDRESS;
	pthread_mutex_lock(&vmm->psci_lock);
	switch (t->power) {
	case CPU_ON: ret = PSCI_ALREADY_ON; break;
	case CPU_ON_PENDING: ret = PSCI_ON_PENDING; break;
	default:
		t->on_entry = entry;
		t->on_ctx = ctx;
		t->power = CPU_ON_PENDING;
		ret = PSCI_SUCCESS;
		break;
	}
	pthread_mutex_unlock(&vmm->psci_lock);
	if (ret == PSCI_SUCCESS)
		cpu_kick(t);
	return ret;
}

static int64_t psci_affinity_info(struct vmm_cpu *cpu, uint64_t target, uint64_t level)
{
	struct vmm *vmm = cpu->vmm;
	struct vmm_cpu *t;
	int64_t ret;

	if (level != 0)
		return PSCI_INVALID_PARAMETERS;
	t = psci_find_cpu(vmm, target);
	if (!t)
		return PSCI_INVALID_PARAMETERS;
	pthread_mutex_lock(&vmm->psci_lock);
	ret = t->power == CPU_ON	   ? PSCI_AFF_ON
	      : t->power == CPU_ON_PENDING ? PSCI_AFF_ON_PENDING
					   : PSCI_AFF_OFF;
	pthread_mutex_unlock(&vmm->psci_lock);
	return ret;
}

static int64_t psci_features(uint64_t fn)
{
	for (unsigned i = 0; i < ARRAY_LEN(psci_supported); i++)
		if (psci_supported[i] == (uint32_t)fn && (fn >> 32) == 0)
			return PSCI_SUCCESS;
	return PSCI_NOT_SUPPORTED;
}

bool psci_call(struct vmm_cpu *cpu)
{
	uint64_t x[4] = { 0 };
	int64_t ret = PSCI_NOT_SUPPORTED;
	bool stop = false;

	for (int i = 0; i < 4; i++)
		uc_reg_read(cpu->uc, UC_ARM64_REG_X0 + i, &x[i]);
	/* SMC32/HVC32 calls take 32-bit arguments. */
	if (!((uint32_t)x[0] & 0x40000000u)) {
		x[1] &= 0xffffffffull;
		x[2] &= 0xffffffffull;
		x[3] &= 0xffffffffull;
	}
	switch (x[0]) {
	case PSCI_VERSION: ret = 0x10001; break; /* 1.1 */
	case PSCI_CPU_SUSPEND_32:
	case PSCI_CPU_SUSPEND_64:
		/* A standby state: returning at once is a valid implementation (like WFI woken early). */
		ret = PSCI_SUCCESS;
		break;
	case PSCI_CPU_OFF:
		cpu->stop = CPU_STOP_OFF;
		stop = true;
		ret = PSCI_SUCCESS;
		break;
	case PSCI_CPU_ON_32:
	case PSCI_CPU_ON_64: ret = psci_cpu_on(cpu, x[1], x[2], x[3]); break;
	case PSCI_AFFINITY_INFO_32:
	case PSCI_AFFINITY_INFO_64: ret = psci_affinity_info(cpu, x[1], x[2]); break;
	case PSCI_MIGRATE_INFO_TYPE: ret = PSCI_TOS_NOT_PRESENT; break;
	case PSCI_SYSTEM_OFF:
		if (!vmm_exit_if_panicked(cpu->vmm))
			vmm_request_exit(cpu->vmm, VMM_EXIT_OK,
					 "guest powered off (PSCI SYSTEM_OFF on vCPU %u)",
					 cpu->index);
		cpu->stop = CPU_STOP_EXIT;
		stop = true;
		break;
	case PSCI_SYSTEM_RESET:
		if (cpu->vmm->opts.no_reboot && !vmm_exit_if_panicked(cpu->vmm))
			vmm_request_exit(cpu->vmm, VMM_EXIT_OK,
					 "guest requested a reset (PSCI SYSTEM_RESET on vCPU %u)",
					 cpu->index);
		else
			vmm_request_reset(cpu->vmm, "PSCI SYSTEM_RESET");
		cpu->stop = CPU_STOP_EXIT;
		stop = true;
		break;
	case PSCI_FEATURES: ret = psci_features(x[1]); break;
	default: break;
	}
	uint64_t r = (uint64_t)ret;
	uc_reg_write(cpu->uc, UC_ARM64_REG_X0, &r);
	return stop;
}
