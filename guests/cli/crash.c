/* SPDX-License-Identifier: MIT */
/*
 * For the CLI tests: a guest whose exception vectors are unusable takes an
 * exception (ivy run ends with 125, an unhandled guest exception).
 */
#include "rt.h"

void guest_main(void)
{
	sysreg_write(vbar_el1, 0x1000); /* vectors in device space: the exception cannot be taken */
	isb();
	__asm__ volatile(".word 0" ::: "memory"); /* an undefined instruction */
}
