/* SPDX-License-Identifier: MIT */
/*
 * For the CLI tests: a guest that prints a Linux panic report as a kernel booted
 * without panic= does (timestamps, the report, its closing line) and then
 * spins with interrupts masked, as a panicked kernel does. ivy run must end
 * the run with 125 once the closing line is out, not wait for --timeout.
 */
#include "rt.h"

void guest_main(void)
{
	printf("[   12.345678] Kernel panic - not syncing: Attempted to kill init! "
	       "exitcode=0x0000000b\n");
	printf("[   12.345999] CPU: 1 PID: 1 Comm: systemd Not tainted 6.1.0-42-cloud-arm64 #1\n");
	printf("[   12.346100] ---[ end Kernel panic - not syncing: Attempted to kill init! "
	       "exitcode=0x0000000b ]---\n");
	for (;;)
		__asm__ volatile("" ::: "memory");
}
