/* SPDX-License-Identifier: MIT */
/*
 * GICv3 specifics through the system-register CPU interface (run with
 * -machine gic-version=3): ICC_SRE_EL1, the priority mask, ICC_HPPIR1_EL1, a
 * Group 0 interrupt that ICC_IAR1_EL1 does not acknowledge but ICC_IAR0_EL1
 * does, and the redistributors' GICR_TYPER (processor number, affinity, Last).
 */
#include "gic.h"

static volatile unsigned taken;
static volatile uint64_t el0_esr, el0_back;

/* EL0: read ICC_IAR1_EL1 (must be undefined there), then SVC back to EL1. */
__asm__(".balign 4\n"
	"el0_probe:\n"
	"	mrs x0, icc_iar1_el1\n"
	"	svc #0x55\n"
	"	b .\n");
extern char el0_probe[];

static bool on_sync(uint64_t esr, struct exc_frame *f)
{
	if ((esr >> 26) == 0x15 && (esr & 0xffff) == 0x55) {
		/* Back to EL1h at el0_back with interrupts masked. */
		f->elr = el0_back - 4; /* the runtime adds 4 */
		f->spsr = 0x3c5;
		return true;
	}
	if (((f->spsr >> 2) & 3) == 0) {
		el0_esr = esr; /* the EL0 access trapped: skip it */
		return true;
	}
	return false;
}

static void v3_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();

	if (iar < 1020) {
		taken++;
		gic_eoi(iar);
	}
}

void guest_main(void)
{
	gic_dist_init();
	if (gic_version != 3) {
		check(false, "needs -machine gic-version=3");
		return;
	}
	gic_cpu_init();
	unsigned n = nr_cpus();

	uint64_t sre = sysreg_read(icc_sre_el1);
	check((sre & 7) == 7, "ICC_SRE_EL1 reads SRE, DFB and DIB as 1 (%lx)", sre);

	/* GICR_TYPER: Processor_Number = index, affinity = MPIDR, Last on the last one. */
	bool typer_ok = true;
	for (unsigned c = 0; c < n; c++) {
		uintptr_t rd = GICR_BASE + 0x20000ul * c;
		uint32_t lo = mmio_read32(rd + 8), hi = mmio_read32(rd + 12);
		bool last = lo & (1u << 4);
		if (((lo >> 8) & 0xffff) != c || hi != c || last != (c == n - 1))
			typer_ok = false;
	}
	check(typer_ok, "GICR_TYPER of %u redistributors: number, affinity, Last", n);

	/* The priority mask holds back an SGI of lower priority until it is opened. */
	gic_set_priority(9, 0xa0);
	gic_enable_irq(9);
	set_irq_handler(v3_irq);
	sysreg_write(icc_pmr_el1, 0x80);
	isb();
	irq_enable();
	gic_send_sgi(9, 2, 0);
	udelay(3000);
	check(taken == 0, "PMR 0x80 masks an SGI of priority 0xa0");
	uint64_t hppi = sysreg_read(icc_hppir1_el1);
	check((hppi & 0xffffff) == 9 || (hppi & 0xffffff) == 1023,
	      "ICC_HPPIR1_EL1 reads the masked SGI or spurious (%lu)", hppi);
	sysreg_write(icc_pmr_el1, 0xf0);
	isb();
	udelay(3000);
	check(taken == 1, "opening PMR delivers it (%u)", taken);
	irq_disable();

	/* Group 0: SGI 10 moved to group 0 is not acknowledged through IAR1, but through IAR0. */
	uintptr_t sgi_frame = GICR_BASE + 0x20000ul * cpu_id() + 0x10000;
	mmio_write32(sgi_frame + GICD_IGROUPR, mmio_read32(sgi_frame + GICD_IGROUPR) & ~(1u << 10));
	sysreg_write(icc_igrpen0_el1, 1);
	isb();
	gic_enable_irq(10);
	gic_send_sgi(10, 2, 0);
	udelay(3000);
	uint32_t iar1 = (uint32_t)sysreg_read(icc_iar1_el1);
	check(iar1 == 1023, "ICC_IAR1_EL1 does not acknowledge a Group 0 SGI (%u)", iar1);
	uint32_t iar0 = (uint32_t)sysreg_read(icc_iar0_el1);
	check(iar0 == 10, "ICC_IAR0_EL1 acknowledges it (%u)", iar0);
	if (iar0 == 10)
		sysreg_write(icc_eoir0_el1, iar0);
	isb();
	check(!gic_is_active(10), "ICC_EOIR0_EL1 ends it");

	/* ICC registers are EL1 registers: at EL0 the access is undefined, not forwarded. */
	sync_handler = on_sync;
	__asm__ volatile("adr x1, 1f\n"
			 "str x1, [%0]\n"
			 "msr elr_el1, %1\n"
			 "msr spsr_el1, xzr\n" /* EL0t */
			 "eret\n"
			 "1:\n"
			 :
			 : "r"(&el0_back), "r"(el0_probe)
			 : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
			   "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x30", "memory");
	sync_handler = NULL;
	check(el0_esr != 0 && (el0_esr >> 26) == 0,
	      "ICC_IAR1_EL1 at EL0 is an undefined instruction (ESR %lx)", el0_esr);
}
