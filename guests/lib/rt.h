/* SPDX-License-Identifier: MIT */
/*
 * The guests' freestanding runtime: console, PASS/FAIL reporting, exit, PSCI,
 * spinlocks, exceptions and interrupt handlers, the generic timer, and the GIC
 * helpers (gic.h). Written for QEMU's virt board layout, so guests run
 * unchanged under `ivy run` and under qemu-system-aarch64 -M virt.
 */
#ifndef GUEST_RT_H
#define GUEST_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CPUS 8

#define UART_BASE 0x09000000ul
#define EXIT_BASE 0x090C0000ul
#define RAM_BASE  0x40000000ul

#define PPI_VTIMER 27
#define PPI_PTIMER 30

static inline void mmio_write32(uintptr_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}
static inline uint32_t mmio_read32(uintptr_t a)
{
	return *(volatile uint32_t *)a;
}
static inline void mmio_write64(uintptr_t a, uint64_t v)
{
	*(volatile uint64_t *)a = v;
}
static inline uint64_t mmio_read64(uintptr_t a)
{
	return *(volatile uint64_t *)a;
}
static inline void mmio_write16(uintptr_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}
static inline uint16_t mmio_read16(uintptr_t a)
{
	return *(volatile uint16_t *)a;
}
static inline void mmio_write8(uintptr_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}
static inline uint8_t mmio_read8(uintptr_t a)
{
	return *(volatile uint8_t *)a;
}

#define sysreg_read(r)                                      \
	({                                                  \
		uint64_t v_;                                \
		__asm__ volatile("mrs %0, " #r : "=r"(v_)); \
		v_;                                         \
	})
#define sysreg_write(r, v) __asm__ volatile("msr " #r ", %0" : : "r"((uint64_t)(v)) : "memory")
#define isb()		   __asm__ volatile("isb" : : : "memory")
#define dsb()		   __asm__ volatile("dsb sy" : : : "memory")
#define wfi()		   __asm__ volatile("wfi" : : : "memory")
#define irq_enable()	   __asm__ volatile("msr daifclr, #2" : : : "memory")
#define irq_disable()	   __asm__ volatile("msr daifset, #2" : : : "memory")
#define barrier()	   __asm__ volatile("" : : : "memory")

/*
 * Sleeps in WFI until `cond` holds, and leaves IRQs unmasked. The condition is
 * tested with IRQs masked: an interrupt that comes after the test stays pending,
 * and a WFI with an interrupt pending (masked or not) does not sleep. Testing
 * with IRQs unmasked can lose the wake-up: the interrupt is taken between the
 * test and the WFI, which then sleeps until some other interrupt.
 */
#define wfi_until(cond)                \
	do {                           \
		irq_disable();         \
		while (!(cond)) {      \
			wfi();         \
			irq_enable();  \
			isb();         \
			irq_disable(); \
		}                      \
		irq_enable();          \
	} while (0)

static inline unsigned cpu_id(void)
{
	return (unsigned)sysreg_read(tpidr_el1);
}

/* Console. */
void putc_uart(char c);
void puts_uart(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

/* Test reporting: every check prints one PASS or FAIL line. */
void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned test_failures(void);
/* Reports the total, writes the status to the test-exit register, powers off. */
void test_done(void) __attribute__((noreturn));
void guest_exit(uint32_t status) __attribute__((noreturn));

/* PSCI (HVC conduit). */
#define PSCI_VERSION	    0x84000000u
#define PSCI_CPU_OFF	    0x84000002u
#define PSCI_CPU_ON	    0xc4000003u
#define PSCI_AFFINITY_INFO  0xc4000004u
#define PSCI_SYSTEM_OFF	    0x84000008u
#define PSCI_SYSTEM_RESET   0x84000009u
#define PSCI_FEATURES	    0x8400000au
#define PSCI_SUCCESS	    0
#define PSCI_NOT_SUPPORTED  -1
#define PSCI_INVALID_PARAMS -2
#define PSCI_ALREADY_ON	    -4
#define PSCI_ON_PENDING	    -5
int64_t psci_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3);
/* Starts vCPU `cpu` (MPIDR Aff0 = cpu) at secondary_entry; it calls fn(cpu) and stops. */
int64_t cpu_start(unsigned cpu, void (*fn)(unsigned cpu));
/* Sets what vCPU `cpu` runs when started, and starts it (split for racing CPU_ONs). */
void cpu_prepare(unsigned cpu, void (*fn)(unsigned cpu));
int64_t cpu_on(unsigned cpu);
/* Number of vCPUs the DT lists (counted from /cpus). */
unsigned nr_cpus(void);

/* Spinlocks (load-acquire exclusive / store-release). */
typedef struct {
	volatile uint32_t v;
} spinlock_t;
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);

/* Exceptions. */
struct exc_frame {
	uint64_t x[20];
	uint64_t x29, x30;
	uint64_t elr, spsr;
};
typedef void (*irq_handler_t)(struct exc_frame *f);
/* The IRQ handler for this vCPU (all vCPUs share one table). */
void set_irq_handler(irq_handler_t h);
/* Called for a synchronous exception; return true to skip the instruction. */
extern bool (*sync_handler)(uint64_t esr, struct exc_frame *f);

/* Generic timer. */
static inline uint64_t timer_freq(void)
{
	return sysreg_read(cntfrq_el0);
}
static inline uint64_t timer_count(void)
{
	isb();
	return sysreg_read(cntvct_el0);
}
void udelay(uint64_t us);

/* True if some DT property value contains s (e.g. a compatible string). */
bool dt_mentions(const char *s);

/* The value of the first DT property with this name (any node), or NULL; *len its size. */
const void *dt_prop(const char *name, uint32_t *len);

/* The DTB pointer passed at boot. */
extern const void *boot_dtb;

/* Entry points a guest defines. */
void guest_main(void);

#endif
