/* SPDX-License-Identifier: MIT */
/*
 * For tests/vmm/cli.sh: the PL011's receive path. The test pipes "ivy\n" into
 * ivy run's stdin; the guest enables the receive interrupt (SPI 1, INTID 33),
 * takes it, reads the characters from UARTDR and checks them.
 */
#include "gic.h"

#define UART_IRQ  33
#define UARTDR	  0x000
#define UARTFR	  0x018
#define UARTIMSC  0x038
#define UARTMIS	  0x040
#define UARTICR	  0x044
#define FR_RXFE	  (1u << 4)
#define INT_RX_RT ((1u << 4) | (1u << 6))

static char buf[16];
static volatile unsigned len, irqs;

static void uart_irq(struct exc_frame *f)
{
	(void)f;
	uint32_t iar = gic_ack();

	if ((iar & 0x3ff) == UART_IRQ) {
		irqs++;
		while (!(mmio_read32(UART_BASE + UARTFR) & FR_RXFE)) {
			char c = (char)mmio_read32(UART_BASE + UARTDR);
			if (len < sizeof(buf) - 1)
				buf[len++] = c;
		}
		mmio_write32(UART_BASE + UARTICR, INT_RX_RT);
	}
	if ((iar & 0x3ff) < 1020)
		gic_eoi(iar);
}

void guest_main(void)
{
	gic_dist_init();
	gic_cpu_init();
	gic_set_target(UART_IRQ, 1);
	gic_enable_irq(UART_IRQ);
	set_irq_handler(uart_irq);
	mmio_write32(UART_BASE + UARTIMSC, INT_RX_RT);
	irq_enable();
	uint64_t end = timer_count() + 5 * timer_freq();
	wfi_until(timer_count() >= end || (len != 0 && buf[len - 1] == '\n'));
	irq_disable();
	buf[len] = '\0';
	check(irqs >= 1, "the PL011 receive interrupt was taken (%u)", irqs);
	check(len == 4 && buf[0] == 'i' && buf[1] == 'v' && buf[2] == 'y' && buf[3] == '\n',
	      "read \"ivy\\n\" from the UART (%u bytes)", len);
	check((mmio_read32(UART_BASE + UARTMIS) & INT_RX_RT) == 0, "receive interrupt cleared");
}
