/* SPDX-License-Identifier: MIT */
/*
 * ITS test environment: a VM with RAM, one ITS on the bus, a fake set of
 * redistributors that records what the ITS asks of them, and helpers that
 * write commands into the queue the way a guest driver does.
 */
#ifndef IVY_TESTS_ITS_ENV_H
#define IVY_TESTS_ITS_ENV_H

#include "testutil.h"

#include <ivy/its.h>
#include <pthread.h>
#include <stdatomic.h>

#include "gic/its.h"

#define FAKE_NR_LPI  65536u
#define FAKE_MAX_RD  64u
#define ENV_RAM_BASE 0x40000000ull
#define ENV_RAM_SIZE (16ull << 20)
#define ENV_ITS_BASE 0x08080000ull
#define ENV_CMDQ     (ENV_RAM_BASE + 0x0)      /* 64 KiB command queue */
#define ENV_DEVTBL   (ENV_RAM_BASE + 0x10000)  /* 64 KiB Device table (flat or level 1) */
#define ENV_COLLTBL  (ENV_RAM_BASE + 0x20000)  /* 64 KiB Collection table (flat or level 1) */
#define ENV_L2	     (ENV_RAM_BASE + 0x100000) /* level-2 pages, 64 KiB each */
#define ENV_ITT	     (ENV_RAM_BASE + 0x400000) /* ITTs: 512 KiB per device number (mod 16) */

/* Redistributors as recorded by the fake. Every field is guarded by lock. */
struct fake_redist {
	pthread_mutex_t lock;
	uint32_t nr;
	bool lpis_on[FAKE_MAX_RD];
	int32_t pending[FAKE_NR_LPI]; /* redistributor where pending, or -1 */
	uint32_t refs[FAKE_NR_LPI];
	uint32_t invs[FAKE_NR_LPI];
	uint64_t nr_set, nr_clear, nr_move, nr_inv, nr_get, nr_put;
	uint64_t errors; /* contract violations seen (pending on an unreferenced LPI, ...) */
	int fail_get;	 /* if nonzero, lpi_get returns it */
	/* Optional check called on every lpi_set_pending, without the lock. */
	void (*on_set_pending)(struct fake_redist *f, uint32_t rd, uint32_t intid);
};

extern const struct its_redist_ops fake_redist_ops;
struct fake_redist *fake_redist_new(uint32_t nr);
void fake_redist_free(struct fake_redist *f);
int32_t fake_pending(struct fake_redist *f, uint32_t intid);
uint32_t fake_refs(struct fake_redist *f, uint32_t intid);
uint32_t fake_invs(struct fake_redist *f, uint32_t intid);
void fake_set_lpis(struct fake_redist *f, uint32_t rd, bool on);

struct its_env {
	struct ivy_vm *vm;
	struct ivy_vcpu *vcpu;
	struct ivy_device *its;
	struct fake_redist *rd;
	uint8_t *ram;
	ivy_gpa_t its_base;
	uint32_t cwriter;
};

#define ENV_FLAT      0
#define ENV_DEV_2L    1 /* two-level Device table */
#define ENV_COLL_2L   2 /* two-level Collection table */
#define ENV_NO_ENABLE 4 /* leave GITS_CTLR.Enabled clear */

/* A VM with nr_vcpus vCPUs (= redistributors), RAM, an ITS at ENV_ITS_BASE, tables set up. */
struct its_env *its_env_new(uint32_t nr_vcpus, unsigned flags);
void its_env_free(struct its_env *e);

/* Guest register access to the ITS frame. */
uint64_t its_env_read(struct its_env *e, uint64_t off, unsigned len);
void its_env_write(struct its_env *e, uint64_t off, unsigned len, uint64_t val);

/* Appends one command to the queue and writes GITS_CWRITER. */
void its_env_cmd(struct its_env *e, uint64_t dw0, uint64_t dw1, uint64_t dw2, uint64_t dw3);
/* Appends one command without writing GITS_CWRITER. */
void its_env_queue(struct its_env *e, uint64_t dw0, uint64_t dw1, uint64_t dw2, uint64_t dw3);

/* The commands (field layout of IHI 0069, 5.3). */
void cmd_mapd(struct its_env *e, uint32_t dev, uint32_t bits, bool v);
void cmd_mapc(struct its_env *e, uint32_t icid, uint64_t rd, bool v);
void cmd_mapti(struct its_env *e, uint32_t dev, uint32_t ev, uint32_t intid, uint32_t icid);
void cmd_mapi(struct its_env *e, uint32_t dev, uint32_t ev, uint32_t icid);
void cmd_movi(struct its_env *e, uint32_t dev, uint32_t ev, uint32_t icid);
void cmd_discard(struct its_env *e, uint32_t dev, uint32_t ev);
void cmd_int(struct its_env *e, uint32_t dev, uint32_t ev);
void cmd_clear(struct its_env *e, uint32_t dev, uint32_t ev);
void cmd_inv(struct its_env *e, uint32_t dev, uint32_t ev);
void cmd_invall(struct its_env *e, uint32_t icid);
void cmd_movall(struct its_env *e, uint64_t rd1, uint64_t rd2);
void cmd_sync(struct its_env *e, uint64_t rd);

/* ITT address used for device dev by cmd_mapd. */
ivy_gpa_t its_env_itt(uint32_t dev);
/* An MSI to this ITS. */
int its_env_msi(struct its_env *e, uint32_t dev, uint32_t ev);
/* Last recorded command error and error count. */
uint32_t its_env_last_error(struct its_env *e);
uint64_t its_env_nr_errors(struct its_env *e);
/* Host register access through IVY_ITS_GRP_ITS_REGS. */
int its_env_reg_get(struct ivy_device *its, uint64_t off, uint64_t *val);
int its_env_reg_set(struct ivy_device *its, uint64_t off, uint64_t val);
int its_env_ctrl(struct ivy_device *its, uint64_t attr);

/* Register offsets. */
#define GITS_CTLR	0x0000
#define GITS_IIDR	0x0004
#define GITS_TYPER	0x0008
#define GITS_CBASER	0x0080
#define GITS_CWRITER	0x0088
#define GITS_CREADR	0x0090
#define GITS_BASER(n)	(0x0100 + 8 * (n))
#define GITS_PIDR2	0xffe8
#define GITS_TRANSLATER 0x10040

#endif
