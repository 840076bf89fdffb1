/* SPDX-License-Identifier: MIT */
/*
 * A hostile driver against a virtio-pci function served as an I/O-request
 * client (devices/pcifn.c): configuration writes of any register, width and
 * value, BAR accesses anywhere, and a claim function that refuses at random.
 * The claims must stay consistent: never overlapping, every drop matching a
 * claim that was made, and none left after pcifn_unclaim_all().
 */
#include "pcifn.h"

#include <errno.h>
#include <string.h>

#define MAX_CLAIMS 16

static struct {
	uint64_t s[MAX_CLAIMS], e[MAX_CLAIMS];
	int n;
	const uint8_t *refuse; /* one input byte per claim decides a refusal */
	size_t refuse_left;
} cl;

static int fuzz_claim(void *opaque, bool add, uint64_t s, uint64_t e)
{
	(void)opaque;
	if (s > e)
		__builtin_trap();
	if (add) {
		if (cl.refuse_left && (cl.refuse_left--, *cl.refuse++ & 1))
			return -EEXIST;
		for (int i = 0; i < cl.n; i++)
			if (s <= cl.e[i] && cl.s[i] <= e)
				return -EEXIST;
		if (cl.n == MAX_CLAIMS)
			__builtin_trap(); /* more claims than BARs */
		cl.s[cl.n] = s;
		cl.e[cl.n++] = e;
		return 0;
	}
	for (int i = 0; i < cl.n; i++) {
		if (cl.s[i] == s && cl.e[i] == e) {
			cl.s[i] = cl.s[--cl.n];
			cl.e[i] = cl.e[cl.n];
			return 0;
		}
	}
	__builtin_trap(); /* dropping what was never claimed */
}

static int no_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	(void)opaque, (void)gpa;
	memset(buf, 0, len);
	return 0;
}

static int no_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	(void)opaque, (void)gpa, (void)buf, (void)len;
	return 0;
}

static void no_msi(void *opaque, uint64_t addr, uint32_t data, uint16_t rid)
{
	(void)opaque, (void)addr, (void)data, (void)rid;
}

static void no_intx(void *opaque, bool level)
{
	(void)opaque, (void)level;
}

static const struct virtio_mem_ops mem_ops = { .read = no_read, .write = no_write };
static const struct pci_host_ops host_ops = { .msi = no_msi, .intx = no_intx };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pcifn f;
	struct pcifn_config cfg = { .blk = false };
	char why[64];
	size_t i = 0;

	if (size < 1)
		return 0;
	/* The first byte's worth of input decides refusals; the rest is accesses. */
	size_t nref = data[0] % 16 < size - 1 ? data[0] % 16 : size - 1;
	memset(&cl, 0, sizeof(cl));
	cl.refuse = data + 1;
	cl.refuse_left = nref;
	i = 1 + nref;
	if (pcifn_init(&f, &cfg, 0x0010, &mem_ops, NULL, &host_ops, NULL, why, sizeof(why)))
		return 0;
	f.claim = fuzz_claim;
	while (i + 12 <= size) {
		const uint8_t *p = data + i;
		static const unsigned sizes[4] = { 1, 2, 4, 8 };
		struct ivy_ioreq req = { .size = sizes[p[0] >> 6 & 3],
					 .dir = p[0] & 1 ? IVY_IOREQ_WRITE : IVY_IOREQ_READ };
		uint64_t v;

		memcpy(&v, p + 4, 8);
		req.value = v;
		if (p[0] & 2) {
			req.type = IVY_IOREQ_TYPE_PCI;
			/* Mostly the header and capabilities, sometimes anywhere. */
			req.addr = p[0] & 4 ? (uint32_t)(p[1] | p[2] << 8) : p[1];
			pcifn_cfg(&f, &req);
		} else {
			req.type = IVY_IOREQ_TYPE_MMIO;
			/* Near a claimed BAR when there is one, else from the input. */
			uint64_t base = cl.n ? cl.s[p[1] % cl.n] : (uint64_t)p[1] << 24;
			req.addr = base + (uint32_t)(p[2] | p[3] << 8);
			pcifn_mmio(&f, &req);
		}
		i += 12;
	}
	pcifn_unclaim_all(&f);
	if (cl.n)
		__builtin_trap();
	virtio_dev_free(&f.vdev);
	return 0;
}
