/* SPDX-License-Identifier: MIT */
/*
 * The register dispatcher on a synthetic frame: 64-bit plain registers and
 * 64-bit-per-IRQ banks accessed whole and in 32-bit halves, and the
 * all-or-nothing host write of a bank.
 */
#include "vgic_testutil.h"

#include "gic/vgic.h"

#include <errno.h>

static uint64_t reg64;
static uint64_t field64[VGIC_MAX_IRQS];

static uint64_t read_reg64(const struct vgic_access *acc, uint32_t offset)
{
	(void)acc;
	(void)offset;
	return reg64;
}

static void write_reg64(const struct vgic_access *acc, uint32_t offset, uint64_t val)
{
	(void)acc;
	(void)offset;
	reg64 = val;
}

static uint64_t read_field(const struct vgic_access *acc, struct vgic_irq *irq)
{
	(void)acc;
	return field64[irq->intid];
}

static void write_field(const struct vgic_access *acc, struct vgic_irq *irq, uint64_t field)
{
	(void)acc;
	field64[irq->intid] = field;
}

/* Refuses odd fields, to check that nothing is written unless every field passes. */
static int check_field(const struct vgic_access *acc, uint32_t intid, uint64_t field)
{
	(void)acc;
	(void)intid;
	return (field & 1) ? -EINVAL : 0;
}

static const struct vgic_reg regs[] = {
	{ .offset = 0x0,
	  .len = 8,
	  .widths = VGIC_W32 | VGIC_W64,
	  .flags = VGIC_REG_64,
	  .read = read_reg64,
	  .write = write_reg64 },
	{ .offset = 0x100,
	  .len = 64 * 8,
	  .bits_per_irq = 64,
	  .widths = VGIC_W32 | VGIC_W64,
	  .irq_read = read_field,
	  .irq_write = write_field,
	  .host_irq_check = check_field },
	{ .offset = 0x400,
	  .len = 64,
	  .bits_per_irq = 8,
	  .widths = VGIC_W8 | VGIC_W32,
	  .irq_read = read_field,
	  .irq_write = write_field,
	  .host_irq_check = check_field },
};

static const struct vgic_frame frame = {
	.name = "test",
	.size = 0x1000,
	.regs = regs,
	.nr_regs = 3,
};

/* The descriptor covering `offset`, by walking the whole table. */
static const struct vgic_reg *find_by_walk(const struct vgic_frame *f, uint32_t offset)
{
	for (size_t i = 0; i < f->nr_regs; i++)
		if (offset >= f->regs[i].offset && offset - f->regs[i].offset < f->regs[i].len)
			return &f->regs[i];
	return NULL;
}

/* Every frame's direct lookup answers as its table does, at every byte and beyond. */
static void test_frame_lookup_matches_table(void **state)
{
	static const struct vgic_frame *const frames[] = {
		&vgic_v2_dist_frame, &vgic_v2_cpu_frame,
		&vgic_v2_gich_frame, &vgic_v2m_frame,
		&vgic_v3_dist_frame, &vgic_v3_rd_frame,
		&vgic_v3_sgi_frame,  &vgic_v3_icc_frame,
		&vgic_v3_ich_frame,  &frame,
	};
	(void)state;

	for (size_t k = 0; k < sizeof(frames) / sizeof(frames[0]); k++) {
		const struct vgic_frame *f = frames[k];

		assert_int_equal(vgic_frame_check(f), 0);
		for (uint32_t off = 0; off < f->size + 0x100; off++)
			assert_ptr_equal(vgic_frame_find(f, off), find_by_walk(f, off));
		assert_null(vgic_frame_find(f, UINT32_MAX));
		/* The real frames answer from a map once used; the test frame has none. */
		if (f->lookup)
			assert_non_null(atomic_load(&f->lookup->map));
	}
}

static void test_wide_registers_and_halves(void **state)
{
	struct gic g;
	struct vgic_access acc, host;

	(void)state;
	gic_new(&g, 1, 0, 0);
	acc = (struct vgic_access){ .dist = g.vm->vgic, .vc = g.vcpu[0]->vgic };
	host = acc;
	host.host = true;
	assert_int_equal(vgic_frame_check(&frame), 0);

	vgic_mmio_write(&frame, &acc, 0x0, 8, 0x1122334455667788ull);
	assert_int_equal(vgic_mmio_read(&frame, &acc, 0x4, 4), 0x11223344);
	vgic_mmio_write(&frame, &acc, 0x4, 4, 0xaabbccdd);
	assert_int_equal(reg64, 0xaabbccdd55667788ull);
	vgic_mmio_write(&frame, &acc, 0x0, 4, 0x01020304);
	assert_int_equal(vgic_mmio_read(&frame, &acc, 0x0, 8), 0xaabbccdd01020304ull);

	/* IRQ 40's 64-bit field at 0x100 + 8 * 40, whole and by halves. */
	vgic_mmio_write(&frame, &acc, 0x100 + 8 * 40, 8, 0x0000000500000006ull);
	assert_int_equal(field64[40], 0x0000000500000006ull);
	vgic_mmio_write(&frame, &acc, 0x100 + 8 * 40 + 4, 4, 7);
	assert_int_equal(field64[40], 0x0000000700000006ull);
	assert_int_equal(vgic_mmio_read(&frame, &acc, 0x100 + 8 * 40, 4), 6);
	assert_int_equal(vgic_mmio_read(&frame, &acc, 0x100 + 8 * 40 + 4, 4), 7);

	/* Host: 32-bit halves; a refused field leaves everything unchanged. */
	assert_int_equal(vgic_host_write(&frame, &host, 0x100 + 8 * 40, 3), -EINVAL);
	assert_int_equal(field64[40], 0x0000000700000006ull);
	field64[41] = 0;
	assert_int_equal(vgic_host_write(&frame, &host, 0x400 + 40, 0x00000102), -EINVAL);
	assert_int_equal(field64[40], 0x0000000700000006ull);
	assert_int_equal(field64[41], 0);
	assert_int_equal(vgic_host_write(&frame, &host, 0x400 + 40, 0x00000204), 0);
	assert_int_equal(field64[40], 4);
	assert_int_equal(field64[41], 2);
	gic_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_lookup_matches_table),
		cmocka_unit_test(test_wide_registers_and_halves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
