/* SPDX-License-Identifier: MIT */
/*
 * For tests/vmm/cli.sh: -append and -initrd reach the guest. The test passes
 * -append "ivy-bootargs-check" and an initrd starting with "IVYINITRD"; the
 * guest finds both through /chosen.
 */
#include "rt.h"

static uint64_t be64(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

void guest_main(void)
{
	uint32_t len = 0;
	const char *args = dt_prop("bootargs", &len);

	check(args && len == 19 && args[0] == 'i' && args[17] == 'k',
	      "/chosen/bootargs holds the -append string");
	const void *s = dt_prop("linux,initrd-start", &len);
	const void *e = dt_prop("linux,initrd-end", NULL);
	check(s && e && len == 8, "/chosen has the initrd bounds");
	if (!s || !e)
		return;
	const char *initrd = (const char *)(uintptr_t)be64(s);
	uint64_t size = be64(e) - be64(s);
	const char magic[] = "IVYINITRD";
	bool ok = size >= 9;
	for (unsigned i = 0; ok && i < 9; i++)
		ok = initrd[i] == magic[i];
	check(ok, "the initrd is in RAM where /chosen says (%lu bytes at %p)", size, initrd);
	check(dt_prop("stdout-path", NULL) != NULL, "/chosen/stdout-path is set");
}
