/* SPDX-License-Identifier: MIT */
/*
 * ivy-regfile SOCKET BASE [SPI] [--poll]
 * Connects to a VM's I/O-request socket and serves a register file at BASE
 * (see regfile.h), raising SPI on writes to its IRQ register, until the VM
 * goes away. Exit status: 0 when the VMM closed the connection, 1 on error.
 */
#include "regfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct regfile rf = { 0 };
	struct ivy_client *c;
	uint64_t base;
	int ret, timeout = -1;

	if (argc < 3) {
		fprintf(stderr, "usage: %s SOCKET BASE [SPI] [--poll]\n", argv[0]);
		return 1;
	}
	base = strtoull(argv[2], NULL, 0);
	if (argc > 4 && !strcmp(argv[4], "--poll"))
		timeout = 0;
	ret = ivy_client_connect(argv[1], "regfile", &c);
	if (ret) {
		fprintf(stderr, "ivy-regfile: connect %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	ret = ivy_client_claim(c, IVY_IOREQ_TYPE_MMIO, base, base + REGFILE_SIZE - 1);
	if (!ret && argc > 3 && strtoul(argv[3], NULL, 0)) {
		ret = ivy_client_irqfd_spi(c, (uint32_t)strtoul(argv[3], NULL, 0), &rf.irq_index);
		rf.has_irq = ret == 0;
	}
	if (ret) {
		fprintf(stderr, "ivy-regfile: set-up: %s\n", strerror(-ret));
		ivy_client_close(c);
		return 1;
	}
	/* Tell a parent waiting on our stdout that we are ready. */
	printf("ready %u\n", ivy_client_id(c));
	fflush(stdout);
	ret = regfile_serve(&rf, c, base, NULL, timeout);
	ivy_client_close(c);
	return ret == -EPIPE ? 0 : 1;
}
