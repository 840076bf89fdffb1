/* SPDX-License-Identifier: MIT */
/* For the CLI tests: the exit status is the value written to the test-exit register. */
#include "rt.h"

void guest_main(void)
{
	printf("exiting with 42\n");
	guest_exit(42);
}
