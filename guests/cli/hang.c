/* SPDX-License-Identifier: MIT */
/*
 * For the CLI tests: a guest that never finishes (ivy run --timeout ends it
 * with 124 and shows the end of its console output on stderr).
 */
#include "rt.h"

void guest_main(void)
{
	printf("hang: waiting forever\n");
	for (;;)
		wfi();
}
