/* SPDX-License-Identifier: MIT */
/*
 * The PL011 UART (ARM DDI 0183), as an I/O-request client of the VM, the way
 * ACRN's device model serves a UART: transmit goes to stdout, receive comes from
 * stdin (a reader thread), and the interrupt (SPI 1, INTID 33) is the OR of the
 * unmasked raw interrupt bits. FIFOs are modelled as always draining: the
 * transmit FIFO is never full and TXRIS is set whenever it may take data.
 * Nothing typed is lost: the reader waits while the receive FIFO is full.
 *
 * A terminal on stdin is put in raw mode for the run (restored at exit), so
 * keys such as Ctrl-C reach the guest; Ctrl-A x ends the run and Ctrl-A Ctrl-A
 * sends a Ctrl-A, as under QEMU -nographic.
 *
 * The UART also keeps the tail of what the guest printed, for the report of a
 * run that ends badly, and watches for a Linux kernel panic: the kernel this
 * board runs has no panic device, and a panicked kernel otherwise spins until
 * --timeout. The run ends when the panic report is complete ("---[ end Kernel
 * panic"), or when a kernel booted with panic=N resets or powers off after it,
 * with the guest-crash status.
 *
 * Also here: the board's test-exit register, a second client.
 */
#include "vmm.h"

#include <ivy/ioreq.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
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

#define CTRL_A 0x01

/* The console tail kept for the report of a failed run, and the longest line watched. */
#define TAIL_BYTES  4096
#define LINE_BYTES  256
#define PANIC_START "Kernel panic - not syncing: "
#define PANIC_END   "---[ end " /* precedes PANIC_START on the report's last line */

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
	pthread_cond_t rx_space;   /* signalled when the guest reads a character */
	bool tx_pending;	   /* written to stdout but not flushed */
	bool tx_tty;		   /* stdout is a terminal: flush every character */
	char tail[TAIL_BYTES];	   /* ring of the last output */
	size_t tail_len;	   /* total bytes ever written (tail position) */
	char out_line[LINE_BYTES]; /* the current output line, for the panic watch */
	unsigned out_len;
	bool line;
	bool raw_tty; /* stdin is a terminal in raw mode: Ctrl-A escapes */
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

/* Records one output character in the tail and ends the run at a kernel panic's last line. */
static void pl011_watch_locked(struct pl011 *u, char c)
{
	u->tail[u->tail_len++ % TAIL_BYTES] = c;
	if (c != '\n') {
		if (u->out_len < LINE_BYTES - 1)
			u->out_line[u->out_len++] = c;
		return;
	}
	u->out_line[u->out_len] = 0;
	u->out_len = 0;
	const char *start = strstr(u->out_line, PANIC_START);
	if (!start)
		return;
	size_t end_len = strlen(PANIC_END);
	bool end = (size_t)(start - u->out_line) >= end_len &&
		   !strncmp(start - end_len, PANIC_END, end_len);
	char why[96];
	snprintf(why, sizeof(why), "%s", start + strlen(PANIC_START));
	why[strcspn(why, "\r\n")] = 0;
	char *close = strstr(why, " ]---");
	if (close)
		*close = 0;
	vmm_note_panic(u->vmm, why);
	/* The report is complete; a panic=N kernel resets instead (vmm_request_reset). */
	if (end)
		vmm_request_exit(u->vmm, VMM_EXIT_GUEST_EXCEPTION, "guest kernel panic: %s", why);
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
			pthread_cond_signal(&u->rx_space);
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

		pl011_watch_locked(u, c);
		/* A pipe is flushed per line and whenever a vCPU goes idle (pl011_flush). */
		if (fwrite(&c, 1, 1, stdout) != 1 || c == '\n' || u->tx_tty)
			fflush(stdout);
		else
			u->tx_pending = true;
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

static void pl011_receive(struct pl011 *u, uint8_t c)
{
	pthread_mutex_lock(&u->lock);
	while (u->rx_count == RX_FIFO && !vmm_exiting(u->vmm))
		pthread_cond_wait(&u->rx_space, &u->lock);
	if (u->rx_count < RX_FIFO) {
		u->rx[(u->rx_head + u->rx_count) % RX_FIFO] = c;
		u->rx_count++;
	}
	u->ris |= INT_RX | INT_RT;
	pl011_update_locked(u);
	pthread_mutex_unlock(&u->lock);
}

static void *pl011_reader(void *arg)
{
	struct pl011 *u = arg;
	bool escape = false;
	char buf[64];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n <= 0)
			return NULL;
		for (ssize_t i = 0; i < n; i++) {
			uint8_t c = (uint8_t)buf[i];

			if (u->raw_tty && escape) {
				escape = false;
				if (c == 'x') {
					vmm_request_exit(u->vmm, VMM_EXIT_OK,
							 "terminated from the console (Ctrl-A x)");
					return NULL;
				}
				if (c != CTRL_A)
					continue;
			} else if (u->raw_tty && c == CTRL_A) {
				escape = true;
				continue;
			}
			pl011_receive(u, c);
		}
	}
}

static struct termios pl011_saved_tty;

static void pl011_restore_tty(void)
{
	tcsetattr(STDIN_FILENO, TCSANOW, &pl011_saved_tty);
}

/* Raw input: characters as typed, no echo, signals keys go to the guest. */
static bool pl011_make_raw(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &pl011_saved_tty))
		return false;
	t = pl011_saved_tty;
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t))
		return false;
	atexit(pl011_restore_tty);
	return true;
}

void pl011_reset(struct vmm *vmm)
{
	struct pl011 *u = vmm->uart;

	pthread_mutex_lock(&u->lock);
	u->cr = 0x300; /* TXE | RXE */
	u->ifls = 0x12;
	u->lcr_h = u->ibrd = u->fbrd = u->imsc = u->ris = u->dmacr = u->ilpr = 0;
	/* What was typed but not read stays: the guest will read it after the reset. */
	if (u->rx_count)
		u->ris |= INT_RX;
	u->line = false; /* the new GIC starts with the line low */
	pthread_mutex_unlock(&u->lock);
}

void pl011_print_tail(struct vmm *vmm, FILE *f, unsigned lines)
{
	struct pl011 *u = vmm->uart;
	char buf[TAIL_BYTES + 1];
	size_t n, start;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	n = u->tail_len < TAIL_BYTES ? u->tail_len : TAIL_BYTES;
	for (size_t i = 0; i < n; i++)
		buf[i] = u->tail[(u->tail_len - n + i) % TAIL_BYTES];
	pthread_mutex_unlock(&u->lock);
	buf[n] = 0;
	if (!n)
		return;
	/* Back from the end to the start of the last `lines` lines. */
	start = n;
	if (start && buf[start - 1] == '\n')
		start--;
	for (unsigned l = 0; start > 0; start--) {
		if (buf[start - 1] == '\n' && ++l == lines)
			break;
	}
	fprintf(f, "ivy: the guest's last console output:\n");
	for (size_t i = start; i < n; i++) {
		if (buf[i] != '\r')
			fputc(buf[i], f);
	}
	if (buf[n - 1] != '\n')
		fputc('\n', f);
}

void pl011_flush(struct vmm *vmm)
{
	struct pl011 *u = vmm->uart;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	if (u->tx_pending) {
		u->tx_pending = false;
		fflush(stdout);
	}
	pthread_mutex_unlock(&u->lock);
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
	vmm->uart = u;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->rx_space, NULL);
	pl011_reset(vmm);
	u->tx_tty = isatty(STDOUT_FILENO);
	struct ivy_ioreq_client_config cfg = { .name = "pl011", .ops = &pl011_ops, .opaque = u };
	err = ivy_ioreq_client_create(vmm->vm, &cfg, &u->client);
	if (err)
		goto err_client;
	err = ivy_ioreq_client_add_range(u->client, IVY_IOREQ_TYPE_MMIO, BOARD_UART_BASE,
					 BOARD_UART_BASE + BOARD_UART_SIZE - 1);
	if (err)
		goto err_range;
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
		u->raw_tty = isatty(STDIN_FILENO) && pl011_make_raw();
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
	pthread_cond_destroy(&u->rx_space);
	pthread_mutex_destroy(&u->lock);
	vmm->uart = NULL;
	free(u);
	return err;
}

void pl011_destroy(struct vmm *vmm)
{
	struct pl011 *u = vmm->uart;

	fflush(stdout);
	/* A reader waiting for FIFO space gives up once the VM is exiting. */
	if (u) {
		pthread_mutex_lock(&u->lock);
		pthread_cond_broadcast(&u->rx_space);
		pthread_mutex_unlock(&u->lock);
	}
	/* The client goes with the VM; the reader thread may still hold the state. */
}
