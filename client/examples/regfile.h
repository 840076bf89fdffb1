/* SPDX-License-Identifier: MIT */
/*
 * An example out-of-process device: a register file with an interrupt.
 *
 * Register map (32-bit registers, any width 1/2/4/8 inside the window):
 *   0x00-0x37  REG0..REG13  scratch registers, read back what was written
 *   0x38       IRQ          a write raises the device's SPI (through an irqfd)
 *                           and counts it; reads return the count
 *   0x3c       ID           reads REGFILE_ID, ignores writes
 */
#ifndef IVY_EXAMPLES_REGFILE_H
#define IVY_EXAMPLES_REGFILE_H

#include <ivy/client.h>

#include <stdatomic.h>

#define REGFILE_SIZE   0x40u
#define REGFILE_IRQ    0x38u
#define REGFILE_ID_REG 0x3cu
#define REGFILE_ID     0x46474552u /* "REGF" */

struct regfile {
	uint8_t regs[REGFILE_SIZE];
	uint32_t irqs;
	unsigned irq_index;
	bool has_irq;
	uint64_t served;
};

/* Answers one request addressed at offset req->addr - base. */
void regfile_access(struct regfile *rf, struct ivy_client *c, uint64_t base, struct ivy_ioreq *req);

/*
 * Serves requests until *stop becomes true or the VMM goes away. timeout_ms is
 * how often *stop is looked at; 0 means poll (spin) instead of sleeping.
 * Returns 0 on stop, -EPIPE when the VMM closed the connection, or another -errno.
 */
int regfile_serve(struct regfile *rf, struct ivy_client *c, uint64_t base, atomic_bool *stop,
		  int timeout_ms);

#endif
