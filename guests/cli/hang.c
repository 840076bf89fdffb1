/* SPDX-License-Identifier: MIT */
/* For the CLI tests: a guest that never finishes (ivy run --timeout ends it with 124). */
#include "rt.h"

void guest_main(void)
{
	for (;;)
		wfi();
}
