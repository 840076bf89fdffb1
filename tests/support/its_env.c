/* SPDX-License-Identifier: MIT */
#include "its_env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the fake redistributors ---- */

static uint32_t fake_nr_redists(void *ctx)
{
	struct fake_redist *f = ctx;

	return f->nr;
}

static int fake_lpi_get(void *ctx, uint32_t intid)
{
	struct fake_redist *f = ctx;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	if (intid < 8192 || intid >= FAKE_NR_LPI)
		f->errors++;
	else if (f->fail_get)
		ret = f->fail_get;
	else
		f->refs[intid]++;
	f->nr_get++;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static void fake_lpi_put(void *ctx, uint32_t intid)
{
	struct fake_redist *f = ctx;

	pthread_mutex_lock(&f->lock);
	if (intid >= FAKE_NR_LPI || f->refs[intid] == 0) {
		f->errors++;
	} else if (--f->refs[intid] == 0) {
		f->pending[intid] = -1;
	}
	f->nr_put++;
	pthread_mutex_unlock(&f->lock);
}

static int fake_lpi_set_pending(void *ctx, uint32_t rd, uint32_t intid)
{
	struct fake_redist *f = ctx;
	int ret = 1;

	if (f->on_set_pending)
		f->on_set_pending(f, rd, intid);
	pthread_mutex_lock(&f->lock);
	if (rd >= f->nr || intid >= FAKE_NR_LPI || f->refs[intid] == 0) {
		f->errors++;
		ret = -EINVAL;
	} else if (!f->lpis_on[rd]) {
		ret = 0;
	} else {
		f->pending[intid] = (int32_t)rd;
	}
	f->nr_set++;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static void fake_lpi_clear_pending(void *ctx, uint32_t intid)
{
	struct fake_redist *f = ctx;

	pthread_mutex_lock(&f->lock);
	if (intid >= FAKE_NR_LPI || f->refs[intid] == 0)
		f->errors++;
	else
		f->pending[intid] = -1;
	f->nr_clear++;
	pthread_mutex_unlock(&f->lock);
}

static void fake_lpi_move(void *ctx, uint32_t intid, uint32_t rd)
{
	struct fake_redist *f = ctx;

	pthread_mutex_lock(&f->lock);
	if (intid >= FAKE_NR_LPI || rd >= f->nr || f->refs[intid] == 0)
		f->errors++;
	else if (f->pending[intid] >= 0)
		f->pending[intid] = f->lpis_on[rd] ? (int32_t)rd : -1;
	f->nr_move++;
	pthread_mutex_unlock(&f->lock);
}

static void fake_lpi_inv(void *ctx, uint32_t intid)
{
	struct fake_redist *f = ctx;

	pthread_mutex_lock(&f->lock);
	if (intid >= FAKE_NR_LPI || f->refs[intid] == 0)
		f->errors++;
	else
		f->invs[intid]++;
	f->nr_inv++;
	pthread_mutex_unlock(&f->lock);
}

const struct its_redist_ops fake_redist_ops = {
	.nr_redists = fake_nr_redists,
	.lpi_get = fake_lpi_get,
	.lpi_put = fake_lpi_put,
	.lpi_set_pending = fake_lpi_set_pending,
	.lpi_clear_pending = fake_lpi_clear_pending,
	.lpi_move = fake_lpi_move,
	.lpi_inv = fake_lpi_inv,
};

struct fake_redist *fake_redist_new(uint32_t nr)
{
	struct fake_redist *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(nr <= FAKE_MAX_RD);
	pthread_mutex_init(&f->lock, NULL);
	f->nr = nr;
	for (uint32_t i = 0; i < nr; i++)
		f->lpis_on[i] = true;
	for (uint32_t i = 0; i < FAKE_NR_LPI; i++)
		f->pending[i] = -1;
	return f;
}

void fake_redist_free(struct fake_redist *f)
{
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int32_t fake_pending(struct fake_redist *f, uint32_t intid)
{
	int32_t v;

	pthread_mutex_lock(&f->lock);
	v = f->pending[intid];
	pthread_mutex_unlock(&f->lock);
	return v;
}

uint32_t fake_refs(struct fake_redist *f, uint32_t intid)
{
	uint32_t v;

	pthread_mutex_lock(&f->lock);
	v = f->refs[intid];
	pthread_mutex_unlock(&f->lock);
	return v;
}

uint32_t fake_invs(struct fake_redist *f, uint32_t intid)
{
	uint32_t v;

	pthread_mutex_lock(&f->lock);
	v = f->invs[intid];
	pthread_mutex_unlock(&f->lock);
	return v;
}

void fake_set_lpis(struct fake_redist *f, uint32_t rd, bool on)
{
	pthread_mutex_lock(&f->lock);
	f->lpis_on[rd] = on;
	if (!on)
		for (uint32_t i = 0; i < FAKE_NR_LPI; i++)
			if (f->pending[i] == (int32_t)rd)
				f->pending[i] = -1;
	pthread_mutex_unlock(&f->lock);
}

/* ---- the environment ---- */

static void put64(struct its_env *e, ivy_gpa_t gpa, uint64_t v)
{
	assert_int_equal(ivy_guest_write(e->vm, gpa, &v, sizeof(v)), 0);
}

struct its_env *its_env_new(uint32_t nr_vcpus, unsigned flags)
{
	struct its_env *e = calloc(1, sizeof(*e));
	uint64_t base = ENV_ITS_BASE;
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_ADDR,
				     .attr = IVY_ITS_ADDR_TYPE,
				     .addr = &base };
	uint64_t baser0, baser1;

	assert_non_null(e);
	e->vm = test_vm_new(nr_vcpus);
	e->vcpu = ivy_vm_vcpu(e->vm, 0);
	e->ram = aligned_alloc(4096, ENV_RAM_SIZE);
	assert_non_null(e->ram);
	memset(e->ram, 0, ENV_RAM_SIZE);
	assert_int_equal(ivy_vm_add_ram(e->vm, ENV_RAM_BASE, ENV_RAM_SIZE, e->ram), 0);
	assert_int_equal(ivy_device_create(e->vm, IVY_DEV_TYPE_ARM_VGIC_ITS, &e->its), 0);
	assert_int_equal(ivy_device_set_attr(e->its, &a), 0);
	e->its_base = base;
	e->rd = fake_redist_new(nr_vcpus);
	assert_int_equal(its_set_redist_ops(e->its, &fake_redist_ops, e->rd), 0);

	/* Queue: 16 pages. Tables: one 64 KiB page each; Valid, maybe Indirect. */
	its_env_write(e, GITS_CBASER, 8, (1ull << 63) | ENV_CMDQ | 15);
	baser0 = (1ull << 63) | ENV_DEVTBL | (flags & ENV_DEV_2L ? 1ull << 62 : 0);
	baser1 = (1ull << 63) | ENV_COLLTBL | (flags & ENV_COLL_2L ? 1ull << 62 : 0);
	its_env_write(e, GITS_BASER(0), 8, baser0);
	its_env_write(e, GITS_BASER(1), 8, baser1);
	if (flags &
	    ENV_DEV_2L) /* level-1 entry 0 valid (DeviceIDs 0..8191); entry 1 left invalid */
		put64(e, ENV_DEVTBL, (1ull << 63) | ENV_L2);
	if (flags & ENV_COLL_2L) /* collections 0..8191 */
		put64(e, ENV_COLLTBL, (1ull << 63) | (ENV_L2 + 0x10000));
	if (!(flags & ENV_NO_ENABLE)) {
		its_env_write(e, GITS_CTLR, 4, 1);
		assert_int_equal(its_env_read(e, GITS_CTLR, 4) & 1, 1);
	}
	return e;
}

void its_env_free(struct its_env *e)
{
	ivy_vm_close(e->vm);
	/* Destroying the ITS dropped every reference it held, and the contract was kept. */
	assert_int_equal(e->rd->errors, 0);
	for (uint32_t i = 0; i < FAKE_NR_LPI; i++)
		assert_int_equal(e->rd->refs[i], 0);
	fake_redist_free(e->rd);
	free(e->ram);
	free(e);
}

uint64_t its_env_read(struct its_env *e, uint64_t off, unsigned len)
{
	return test_mmio_read(e->vcpu, e->its_base + off, len);
}

void its_env_write(struct its_env *e, uint64_t off, unsigned len, uint64_t val)
{
	test_mmio_write(e->vcpu, e->its_base + off, len, val);
}

void its_env_queue(struct its_env *e, uint64_t dw0, uint64_t dw1, uint64_t dw2, uint64_t dw3)
{
	uint64_t c[4] = { dw0, dw1, dw2, dw3 };

	assert_int_equal(ivy_guest_write(e->vm, ENV_CMDQ + e->cwriter, c, sizeof(c)), 0);
	e->cwriter = (e->cwriter + 32) % 0x10000;
}

void its_env_cmd(struct its_env *e, uint64_t dw0, uint64_t dw1, uint64_t dw2, uint64_t dw3)
{
	its_env_queue(e, dw0, dw1, dw2, dw3);
	its_env_write(e, GITS_CWRITER, 8, e->cwriter);
}

ivy_gpa_t its_env_itt(uint32_t dev)
{
	return ENV_ITT + (uint64_t)(dev % 16) * 0x80000;
}

void cmd_mapd(struct its_env *e, uint32_t dev, uint32_t bits, bool v)
{
	its_env_cmd(e, 0x08 | (uint64_t)dev << 32, bits - 1, (uint64_t)v << 63 | its_env_itt(dev),
		    0);
}
void cmd_mapc(struct its_env *e, uint32_t icid, uint64_t rd, bool v)
{
	its_env_cmd(e, 0x09, 0, (uint64_t)v << 63 | rd << 16 | icid, 0);
}
void cmd_mapti(struct its_env *e, uint32_t dev, uint32_t ev, uint32_t intid, uint32_t icid)
{
	its_env_cmd(e, 0x0a | (uint64_t)dev << 32, ev | (uint64_t)intid << 32, icid, 0);
}
void cmd_mapi(struct its_env *e, uint32_t dev, uint32_t ev, uint32_t icid)
{
	its_env_cmd(e, 0x0b | (uint64_t)dev << 32, ev, icid, 0);
}
void cmd_movi(struct its_env *e, uint32_t dev, uint32_t ev, uint32_t icid)
{
	its_env_cmd(e, 0x01 | (uint64_t)dev << 32, ev, icid, 0);
}
void cmd_discard(struct its_env *e, uint32_t dev, uint32_t ev)
{
	its_env_cmd(e, 0x0f | (uint64_t)dev << 32, ev, 0, 0);
}
void cmd_int(struct its_env *e, uint32_t dev, uint32_t ev)
{
	its_env_cmd(e, 0x03 | (uint64_t)dev << 32, ev, 0, 0);
}
void cmd_clear(struct its_env *e, uint32_t dev, uint32_t ev)
{
	its_env_cmd(e, 0x04 | (uint64_t)dev << 32, ev, 0, 0);
}
void cmd_inv(struct its_env *e, uint32_t dev, uint32_t ev)
{
	its_env_cmd(e, 0x0c | (uint64_t)dev << 32, ev, 0, 0);
}
void cmd_invall(struct its_env *e, uint32_t icid)
{
	its_env_cmd(e, 0x0d, 0, icid, 0);
}
void cmd_movall(struct its_env *e, uint64_t rd1, uint64_t rd2)
{
	its_env_cmd(e, 0x0e, 0, rd1 << 16, rd2 << 16);
}
void cmd_sync(struct its_env *e, uint64_t rd)
{
	its_env_cmd(e, 0x05, 0, rd << 16, 0);
}

int its_env_msi(struct its_env *e, uint32_t dev, uint32_t ev)
{
	return its_signal_msi(e->vm, e->its_base + IVY_ITS_TRANSLATER_OFFSET, ev, dev);
}

uint32_t its_env_last_error(struct its_env *e)
{
	uint32_t code;
	uint64_t n;

	assert_int_equal(ivy_its_get_errors(e->its, &code, &n), 0);
	return code;
}

uint64_t its_env_nr_errors(struct its_env *e)
{
	uint32_t code;
	uint64_t n;

	assert_int_equal(ivy_its_get_errors(e->its, &code, &n), 0);
	return n;
}

int its_env_reg_get(struct ivy_device *its, uint64_t off, uint64_t *val)
{
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_ITS_REGS, .attr = off, .addr = val };

	return ivy_device_get_attr(its, &a);
}

int its_env_reg_set(struct ivy_device *its, uint64_t off, uint64_t val)
{
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_ITS_REGS, .attr = off, .addr = &val };

	return ivy_device_set_attr(its, &a);
}

int its_env_ctrl(struct ivy_device *its, uint64_t attr)
{
	uint64_t dummy = 0;
	struct ivy_device_attr a = { .group = IVY_ITS_GRP_CTRL, .attr = attr, .addr = &dummy };

	return ivy_device_set_attr(its, &a);
}
