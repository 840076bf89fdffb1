/* SPDX-License-Identifier: MIT */
/*
 * The PL011 UART (ARM DDI 0183), as an I/O-request client of the VM, the way
 * ACRN's device model serves a UART: transmit goes to stdout, receive comes from
 * stdin (a reader thread), and the interrupt (SPI 1, INTID 33) is the OR of the
 * unmasked raw interrupt bits. FIFOs are modelled as always draining: the
 * transmit FIFO is never full and TXRIS is set whenever it may take data.
 *
 * Also here: the board's test-exit register, a second client.
 */
#include "vmm.h"

#include <ivy/ioreq.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Register map (offsets in the 4 KiB frame). */
#define UARTDR	      0x000
#define UARTRSR	      0x004
#define UARTFR	      0x018
#define UARTILPR      0x020
#define UARTIBRD      0x024
#define UARTFBRD      0x028
#define UARTLCR_H     0x02c
#define UARTCR	      0x030
#define UARTIFLS      0x034
#define UARTIMSC      0x038
#define UARTRIS	      0x03c
#define UARTMIS	      0x040
#define UARTICR	      0x044
#define UARTDMACR     0x048
#define UARTPERIPHID0 0xfe0

#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define FR_RXFF (1u << 6)
#define FR_TXFE (1u << 7)

#define INT_RX	(1u << 4)
#define INT_TX	(1u << 5)
#define INT_RT	(1u << 6)
#define INT_ALL 0x7ffu

#define RX_FIFO 32

/* PrimeCell identification: PL011 r1p5, then the PrimeCell ID. */
static const uint8_t pl011_id[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct pl011 {
	struct vmm *vmm;
	struct ivy_ioreq_client *client;
	/* Protects: every field below (the vCPU threads and the stdin reader). */
	pthread_mutex_t lock;
	uint32_t cr, lcr_h, ibrd, fbrd, ifls, imsc, ris, dmacr, ilpr;
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;
	bool line;
	pthread_t reader;
	bool reader_started;
};

/* Drives the interrupt from the state; called with the lock held. */
static void pl011_update_locked(struct pl011 *u)
{
	bool line = (u->ris & u->imsc) != 0;

	if (line != u->line) {
		u->line = line;
		gic_set_spi(u->vmm, 32 + BOARD_UART_SPI, line);
	}
}

static uint32_t pl011_read_locked(struct pl011 *u, uint64_t off)
{
	uint32_t v = 0;

	switch (off) {
	case UARTDR:
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % RX_FIFO;
			u->rx_count--;
		}
		if (!u->rx_count)
			u->ris &= ~(INT_RX | INT_RT);
		pl011_update_locked(u);
		return v;
	case UARTFR:
		return FR_TXFE | (u->rx_count ? 0 : FR_RXFE) |
		       (u->rx_count == RX_FIFO ? FR_RXFF : 0);
	case UARTILPR: return u->ilpr;
	case UARTIBRD: return u->ibrd;
	case UARTFBRD: return u->fbrd;
	case UARTLCR_H: return u->lcr_h;
	case UARTCR: return u->cr;
	case UARTIFLS: return u->ifls;
	case UARTIMSC: return u->imsc;
	case UARTRIS: return u->ris;
	case UARTMIS: return u->ris & u->imsc;
	case UARTDMACR: return u->dmacr;
	default:
		if (off >= UARTPERIPHID0 && off < UARTPERIPHID0 + 32 && !(off & 3))
			return pl011_id[(off - UARTPERIPHID0) / 4];
		return 0;
	}
}

static void pl011_write_locked(struct pl011 *u, uint64_t off, uint32_t v)
{
	switch (off) {
	case UARTDR: {
		char c = (char)v;

		if (fwrite(&c, 1, 1, stdout) != 1 || c == '\n')
			fflush(stdout);
		u->ris |= INT_TX;
		break;
	}
	case UARTRSR: break;
	case UARTILPR: u->ilpr = v & 0xff; break;
	case UARTIBRD: u->ibrd = v & 0xffff; break;
	case UARTFBRD: u->fbrd = v & 0x3f; break;
	case UARTLCR_H: u->lcr_h = v & 0xff; break;
	case UARTCR: u->cr = v & 0xffff; break;
	case UARTIFLS: u->ifls = v & 0x3f; break;
	case UARTIMSC: u->imsc = v & INT_ALL; break;
	case UARTICR:
		u->ris &= ~(v & INT_ALL);
		/* Transmit is always possible and received data stays signalled until read. */
		if (u->rx_count)
			u->ris |= INT_RX;
		break;
	case UARTDMACR: u->dmacr = v & 7; break;
	default: break;
	}
	pl011_update_locked(u);
}

static int pl011_handle(void *opaque, struct ivy_ioreq *req)
{
	struct pl011 *u = opaque;
	uint64_t off = req->addr - BOARD_UART_BASE;

	pthread_mutex_lock(&u->lock);
	if (req->dir == IVY_IOREQ_READ)
		req->value = pl011_read_locked(u, off);
	else
		pl011_write_locked(u, off, (uint32_t)req->value);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static void *pl011_reader(void *arg)
{
	struct pl011 *u = arg;
	char buf[64];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n <= 0)
			return NULL;
		for (ssize_t i = 0; i < n; i++) {
			/* A full FIFO drops characters, as an overrun would. */
			pthread_mutex_lock(&u->lock);
			if (u->rx_count < RX_FIFO) {
				u->rx[(u->rx_head + u->rx_count) % RX_FIFO] = (uint8_t)buf[i];
				u->rx_count++;
			}
			u->ris |= INT_RX | INT_RT;
			pl011_update_locked(u);
			pthread_mutex_unlock(&u->lock);
		}
	}
}

static const struct ivy_ioreq_client_ops pl011_ops = { .handle = pl011_handle };

static int exit_handle(void *opaque, struct ivy_ioreq *req)
{
	struct vmm *vmm = opaque;

	if (req->dir == IVY_IOREQ_WRITE && req->addr == BOARD_EXIT_BASE && req->size == 4)
		vmm_request_exit(vmm, (int)(uint32_t)req->value,
				 "guest wrote %u to the test-exit register",
				 (unsigned)(uint32_t)req->value);
	else if (req->dir == IVY_IOREQ_READ)
		req->value = 0;
	return 0;
}

static const struct ivy_ioreq_client_ops exit_ops = { .handle = exit_handle };

int pl011_create(struct vmm *vmm)
{
	struct pl011 *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	u->vmm = vmm;
	u->cr = 0x300; /* TXE | RXE, the reset value */
	u->ifls = 0x12;
	pthread_mutex_init(&u->lock, NULL);
	struct ivy_ioreq_client_config cfg = { .name = "pl011", .ops = &pl011_ops, .opaque = u };
	err = ivy_ioreq_client_create(vmm->vm, &cfg, &u->client);
	if (err)
		goto err_client;
	err = ivy_ioreq_client_add_range(u->client, IVY_IOREQ_TYPE_MMIO, BOARD_UART_BASE,
					 BOARD_UART_BASE + BOARD_UART_SIZE - 1);
	if (err)
		goto err_range;
	vmm->uart = u;
	stats_name_client(ivy_ioreq_client_id(u->client), "pl011");

	struct ivy_ioreq_client_config ecfg = { .name = "test-exit",
						.ops = &exit_ops,
						.opaque = vmm };
	err = ivy_ioreq_client_create(vmm->vm, &ecfg, &vmm->exit_client);
	if (err)
		return err;
	stats_name_client(ivy_ioreq_client_id(vmm->exit_client), "test-exit");
	err = ivy_ioreq_client_add_range(vmm->exit_client, IVY_IOREQ_TYPE_MMIO, BOARD_EXIT_BASE,
					 BOARD_EXIT_BASE + BOARD_EXIT_SIZE - 1);
	if (err)
		return err;
	/* Only an interactive or piped stdin feeds the UART; /dev/null and closed stdin do not. */
	struct stat st;
	if (isatty(STDIN_FILENO) ||
	    (!fstat(STDIN_FILENO, &st) && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))) {
		if (!pthread_create(&u->reader, NULL, pl011_reader, u)) {
			pthread_detach(u->reader);
			u->reader_started = true;
		}
	}
	return 0;

err_range:
	if (ivy_ioreq_client_destroy(u->client))
		return err;
err_client:
	pthread_mutex_destroy(&u->lock);
	free(u);
	return err;
}

void pl011_destroy(struct vmm *vmm)
{
	fflush(stdout);
	/* The client goes with the VM; the reader thread may still hold the state. */
	(void)vmm;
}
