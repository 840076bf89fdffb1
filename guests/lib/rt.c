/* SPDX-License-Identifier: MIT */
#include "rt.h"

const void *boot_dtb;
static spinlock_t print_lock;
static volatile unsigned failures, passes;
static volatile irq_handler_t irq_handlers[MAX_CPUS];
bool (*sync_handler)(uint64_t esr, struct exc_frame *f);
static void (*volatile secondary_fn[MAX_CPUS])(unsigned cpu);

void *memset(void *d, int c, size_t n)
{
	volatile uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	volatile uint8_t *p = d;
	const uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

void spin_lock(spinlock_t *l)
{
	uint32_t tmp, one = 1;

	__asm__ volatile("1: ldaxr %w0, [%1]\n"
			 "   cbnz %w0, 1b\n"
			 "   stxr %w0, %w2, [%1]\n"
			 "   cbnz %w0, 1b\n"
			 : "=&r"(tmp)
			 : "r"(&l->v), "r"(one)
			 : "memory");
}

void spin_unlock(spinlock_t *l)
{
	__asm__ volatile("stlr wzr, [%0]" : : "r"(&l->v) : "memory");
}

void putc_uart(char c)
{
	/* Wait while the transmit FIFO is full (FR.TXFF). */
	while (mmio_read32(UART_BASE + 0x18) & (1u << 5))
		;
	mmio_write32(UART_BASE, (uint8_t)c);
}

void puts_uart(const char *s)
{
	while (*s)
		putc_uart(*s++);
}

static size_t fmt_num(char *out, uint64_t v, unsigned base, int width, bool zero, bool neg)
{
	char tmp[24];
	size_t n = 0, o = 0;

	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		out[o++] = '-';
	for (int w = (int)n + neg; w < width; w++)
		out[o++] = zero ? '0' : ' ';
	while (n)
		out[o++] = tmp[--n];
	return o;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t o = 0;
	char num[48];

#define EMIT(c)                       \
	do {                          \
		if (o + 1 < size)     \
			buf[o] = (c); \
		o++;                  \
	} while (0)
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			EMIT(*fmt);
			continue;
		}
		fmt++;
		bool zero = false;
		int width = 0, lng = 0;
		if (*fmt == '0') {
			zero = true;
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		size_t n = 0;
		switch (*fmt) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			n = fmt_num(num, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, width, zero,
				    v < 0);
			break;
		}
		case 'u':
			n = fmt_num(num, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10,
				    width, zero, false);
			break;
		case 'x':
			n = fmt_num(num, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16,
				    width, zero, false);
			break;
		case 'p':
			num[0] = '0';
			num[1] = 'x';
			n = 2 +
			    fmt_num(num + 2, (uintptr_t)va_arg(ap, void *), 16, 0, false, false);
			break;
		case 'c': num[n++] = (char)va_arg(ap, int); break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (s && *s)
				EMIT(*s++);
			break;
		}
		case '%': num[n++] = '%'; break;
		default: num[n++] = '?'; break;
		}
		for (size_t i = 0; i < n; i++)
			EMIT(num[i]);
	}
	if (size)
		buf[o < size ? o : size - 1] = '\0';
#undef EMIT
	return (int)o;
}

int printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	spin_lock(&print_lock);
	puts_uart(buf);
	spin_unlock(&print_lock);
	return n;
}

void check(bool ok, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (ok)
		__atomic_fetch_add(&passes, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
	printf("%s: %s\n", ok ? "PASS" : "FAIL", buf);
}

unsigned test_failures(void)
{
	return failures;
}

int64_t psci_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
	register uint64_t x0 __asm__("x0") = fn;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;

	__asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
	return (int64_t)x0;
}

/* True if some property value in the DT contains `s` (enough to spot a compatible string). */
bool dt_mentions(const char *s)
{
	const uint8_t *fdt = boot_dtb;

	if (!fdt || __builtin_bswap32(*(const uint32_t *)fdt) != 0xd00dfeedu)
		return false;
	uint32_t off = __builtin_bswap32(*(const uint32_t *)(fdt + 8));
	uint32_t size = __builtin_bswap32(*(const uint32_t *)(fdt + 36));
	size_t n = 0;

	while (s[n])
		n++;
	for (uint32_t i = 0; i + n <= size; i++) {
		size_t j = 0;
		while (j < n && fdt[off + i + j] == (uint8_t)s[j])
			j++;
		if (j == n)
			return true;
	}
	return false;
}

const void *dt_prop(const char *name, uint32_t *len)
{
	const uint8_t *fdt = boot_dtb;

	if (!fdt || __builtin_bswap32(*(const uint32_t *)fdt) != 0xd00dfeedu)
		return NULL;
	uint32_t off_struct = __builtin_bswap32(*(const uint32_t *)(fdt + 8));
	uint32_t off_strings = __builtin_bswap32(*(const uint32_t *)(fdt + 12));
	uint32_t size_struct = __builtin_bswap32(*(const uint32_t *)(fdt + 36));
	const uint8_t *p = fdt + off_struct, *end = p + size_struct;

	while (p < end) {
		uint32_t tok = __builtin_bswap32(*(const uint32_t *)p);
		p += 4;
		if (tok == 1) { /* BEGIN_NODE: skip the name */
			size_t l = 0;
			while (p[l])
				l++;
			p += (l + 4) & ~3ul;
		} else if (tok == 3) { /* PROP: len, nameoff, value */
			uint32_t l = __builtin_bswap32(*(const uint32_t *)p);
			uint32_t nameoff = __builtin_bswap32(*(const uint32_t *)(p + 4));
			const char *pn = (const char *)fdt + off_strings + nameoff;
			size_t i = 0;
			while (name[i] && pn[i] == name[i])
				i++;
			if (!name[i] && !pn[i]) {
				if (len)
					*len = l;
				return p + 8;
			}
			p += 8 + ((l + 3) & ~3u);
		} else if (tok == 9) {
			break;
		}
	}
	return NULL;
}

void guest_exit(uint32_t status)
{
	/* ivy ends the VM at the test-exit register; boards without one get SYSTEM_OFF. */
	if (dt_mentions("ivy,test-exit"))
		mmio_write32(EXIT_BASE, status);
	psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
	for (;;)
		wfi();
}

void test_done(void)
{
	printf("DONE: %u passed, %u failed\n", passes, failures);
	guest_exit(failures ? 1 : 0);
}

extern void secondary_entry(void);

void cpu_prepare(unsigned cpu, void (*fn)(unsigned cpu))
{
	secondary_fn[cpu] = fn;
	dsb();
}

int64_t cpu_on(unsigned cpu)
{
	return psci_call(PSCI_CPU_ON, cpu, (uintptr_t)secondary_entry, cpu);
}

int64_t cpu_start(unsigned cpu, void (*fn)(unsigned cpu))
{
	cpu_prepare(cpu, fn);
	return cpu_on(cpu);
}

void rt_secondary_main(unsigned cpu);
void rt_secondary_main(unsigned cpu)
{
	if (cpu < MAX_CPUS && secondary_fn[cpu])
		secondary_fn[cpu](cpu);
	psci_call(PSCI_CPU_OFF, 0, 0, 0);
}

void set_irq_handler(irq_handler_t h)
{
	irq_handlers[cpu_id()] = h;
}

void rt_exception(uint64_t kind, struct exc_frame *f);
void rt_exception(uint64_t kind, struct exc_frame *f)
{
	unsigned k = kind & 3;

	if (k == 1 || k == 2) { /* IRQ or FIQ */
		irq_handler_t h = irq_handlers[cpu_id()];
		if (h) {
			h(f);
			return;
		}
	}
	if (k == 0) {
		uint64_t esr = sysreg_read(esr_el1);
		if (sync_handler && sync_handler(esr, f)) {
			f->elr += 4;
			return;
		}
		printf("FAIL: unexpected synchronous exception on cpu %u: ESR %lx ELR %lx FAR "
		       "%lx\n",
		       cpu_id(), esr, f->elr, sysreg_read(far_el1));
		guest_exit(99);
	}
	printf("FAIL: unexpected exception kind %lu on cpu %u\n", kind, cpu_id());
	guest_exit(98);
}

/* Counts cpu@ nodes under /cpus in the flattened tree (enough for our own DTBs and QEMU's). */
unsigned nr_cpus(void)
{
	const uint8_t *fdt = boot_dtb;
	unsigned n = 0;

	if (!fdt)
		return 1;
	uint32_t off_struct = __builtin_bswap32(*(const uint32_t *)(fdt + 8));
	uint32_t size_struct = __builtin_bswap32(*(const uint32_t *)(fdt + 36));
	const uint8_t *p = fdt + off_struct, *end = p + size_struct;
	int depth = 0, cpus_depth = -1;

	while (p < end) {
		uint32_t tok = __builtin_bswap32(*(const uint32_t *)p);
		p += 4;
		if (tok == 1) { /* BEGIN_NODE */
			const char *name = (const char *)p;
			size_t l = 0;
			while (name[l])
				l++;
			depth++;
			if (depth == 2 && l == 4 && name[0] == 'c' && name[1] == 'p' &&
			    name[2] == 'u' && name[3] == 's')
				cpus_depth = depth;
			else if (cpus_depth > 0 && depth == cpus_depth + 1 && l >= 4 &&
				 name[0] == 'c' && name[1] == 'p' && name[2] == 'u' &&
				 name[3] == '@')
				n++;
			p += (l + 4) & ~3ul;
		} else if (tok == 2) { /* END_NODE */
			if (depth == cpus_depth)
				cpus_depth = -1;
			depth--;
		} else if (tok == 3) { /* PROP */
			uint32_t len = __builtin_bswap32(*(const uint32_t *)p);
			p += 8 + ((len + 3) & ~3u);
		} else if (tok == 9) {
			break;
		}
	}
	return n ? n : 1;
}

void udelay(uint64_t us)
{
	uint64_t end = timer_count() + us * timer_freq() / 1000000;

	while (timer_count() < end)
		;
}

void rt_main(const void *dtb);
void rt_main(const void *dtb)
{
	boot_dtb = dtb;
	guest_main();
	test_done();
}
