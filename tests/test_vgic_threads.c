/* SPDX-License-Identifier: MIT */
/*
 * Concurrency: vCPU threads run the VMM loop (flush, acknowledge, EOI, sync)
 * while another thread injects SPIs and the vCPUs send each other SGIs and
 * retarget SPIs. Nothing is lost: every interrupt is delivered after its last
 * assertion, and at the end nothing is left pending or active. Run under TSan
 * by make check-tsan.
 */
#include "vgic_testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#define NR_VCPUS 2
#define NR_SPIS	 8
#define ROUNDS	 2000

static struct gic g;
static atomic_bool stop;
static atomic_uint acks[1024];

static void *vcpu_thread(void *arg)
{
	unsigned c = (unsigned)(uintptr_t)arg;
	unsigned n = 0;

	for (;;) {
		bool done = atomic_load(&stop);
		uint32_t id;
		unsigned got = 0;

		assert_int_equal(ivy_vcpu_flush(g.vcpu[c]), 0);
		while ((id = gicc_read(&g, c, GICC_IAR)) != 1023) {
			atomic_fetch_add(&acks[id & 0x3ff], 1);
			gicc_write(&g, c, GICC_EOIR, id);
			got++;
		}
		if ((++n % 64) == 0) {
			/* Send an SGI to the other vCPU and move an SPI around. */
			gicd_write(&g, c, GICD_SGIR, (1u << (16 + (c ^ 1))) | 7);
			test_mmio_write(g.vcpu[c],
					GIC_DIST_BASE + GICD_ITARGETSR + 40 + (n / 64) % NR_SPIS, 1,
					1u << ((n / 128) % NR_VCPUS));
		}
		ivy_vcpu_sync(g.vcpu[c]);
		if (done && !got)
			break;
	}
	return NULL;
}

static void *inject_thread(void *arg)
{
	(void)arg;
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint32_t intid = 40 + r % NR_SPIS;

		assert_int_equal(ivy_irq_line(g.vm, intid, 0, true), 0);
		assert_int_equal(ivy_irq_line(g.vm, intid, 0, false), 0);
	}
	return NULL;
}

static void test_inject_while_running(void **state)
{
	pthread_t vt[NR_VCPUS], it;

	(void)state;
	gic_new(&g, NR_VCPUS, 0, 0);
	for (uint32_t i = 0; i < NR_SPIS; i++) {
		uint32_t intid = 40 + i;

		gicd_write(&g, 0, GICD_ICFGR + (intid / 16) * 4,
			   gicd_read(&g, 0, GICD_ICFGR + (intid / 16) * 4) |
				   (2u << ((intid % 16) * 2)));
		gic_enable_irq(&g, intid, 0x80, i % NR_VCPUS);
	}
	for (unsigned c = 0; c < NR_VCPUS; c++)
		ivy_vcpu_sync(g.vcpu[c]);
	atomic_store(&stop, false);
	for (unsigned c = 0; c < NR_VCPUS; c++)
		assert_int_equal(pthread_create(&vt[c], NULL, vcpu_thread, (void *)(uintptr_t)c),
				 0);
	assert_int_equal(pthread_create(&it, NULL, inject_thread, NULL), 0);
	pthread_join(it, NULL);
	atomic_store(&stop, true);
	for (unsigned c = 0; c < NR_VCPUS; c++)
		pthread_join(vt[c], NULL);
	/*
	 * Drain what is left (an SPI retargeted to a vCPU whose thread had already
	 * stopped), until a whole pass over both vCPUs finds nothing.
	 */
	for (bool more = true; more;) {
		more = false;
		for (unsigned c = 0; c < NR_VCPUS; c++) {
			uint32_t id;

			ivy_vcpu_sync(g.vcpu[c]);
			assert_int_equal(ivy_vcpu_flush(g.vcpu[c]), 0);
			while ((id = gicc_read(&g, c, GICC_IAR)) != 1023) {
				atomic_fetch_add(&acks[id & 0x3ff], 1);
				gicc_write(&g, c, GICC_EOIR, id);
				more = true;
			}
		}
	}
	/* Every SPI was delivered at least once after it was last asserted. */
	for (uint32_t i = 0; i < NR_SPIS; i++)
		assert_true(atomic_load(&acks[40 + i]) > 0);
	/* Quiescent: the final loop above drained everything; nothing is left. */
	for (unsigned c = 0; c < NR_VCPUS; c++) {
		ivy_vcpu_sync(g.vcpu[c]);
		assert_int_equal(ivy_vcpu_flush(g.vcpu[c]), 0);
		assert_int_equal(gicd_read(&g, c, GICD_ISPENDR + 4), 0);
		assert_int_equal(gicd_read(&g, c, GICD_ISACTIVER + 4), 0);
		assert_int_equal(gicd_read(&g, c, GICD_ISPENDR) & 0xffff, 0);
	}
	gic_free(&g);
}

/*
 * GICD_ISENABLER reads take no IRQ lock (VGIC_REG_LOCKLESS_READ): while one
 * vCPU flips SPI 41 on and off, another reads the register over and over. The
 * bits that do not change must always read right, SPI 41 reads as either, and
 * the last write is what a read sees once both are done. Under TSan this also
 * shows that the unlocked reads do not race with the locked writes.
 */
#define TOGGLES 5000

static void *enable_toggle_thread(void *arg)
{
	(void)arg;
	for (unsigned r = 0; r < TOGGLES; r++)
		gicd_write(&g, 1, (r & 1) ? GICD_ICENABLER + 4 : GICD_ISENABLER + 4,
			   1u << (41 - 32));
	return NULL;
}

static void test_enable_read_while_written(void **state)
{
	const uint32_t on = 1u << (40 - 32), off = 1u << (42 - 32);
	pthread_t t;
	unsigned seen[2] = { 0, 0 };

	(void)state;
	gic_new(&g, NR_VCPUS, 0, 0);
	gicd_write(&g, 0, GICD_ISENABLER + 4, on);
	gicd_write(&g, 0, GICD_ICENABLER + 4, off);
	assert_int_equal(pthread_create(&t, NULL, enable_toggle_thread, NULL), 0);
	for (unsigned r = 0; r < TOGGLES; r++) {
		uint32_t v = gicd_read(&g, 0, GICD_ISENABLER + 4);

		assert_int_equal(v & (on | off), on);
		seen[(v >> (41 - 32)) & 1]++;
		/* ICENABLER reads the same enable bits. */
		assert_int_equal(gicd_read(&g, 0, GICD_ICENABLER + 4) & (on | off), on);
	}
	pthread_join(t, NULL);
	assert_int_equal(seen[0] + seen[1], TOGGLES);
	/* TOGGLES is even: the last write cleared SPI 41. */
	assert_int_equal(gicd_read(&g, 0, GICD_ISENABLER + 4) & (on | off | (1u << (41 - 32))), on);
	gic_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inject_while_running),
		cmocka_unit_test(test_enable_read_while_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
