/* SPDX-License-Identifier: MIT */
/*
 * The in-process MMIO bus and the single entry for trapped guest accesses.
 *
 * The bus is an immutable array of regions sorted by base, published through
 * one atomic pointer. Readers (vCPU threads) take no lock: each vCPU marks
 * itself "inside" by making its own bus_gen odd before loading the table and
 * even again after the handler returns. A writer publishes a new table and
 * then waits until every vCPU that might still see the old one has left
 * (its bus_gen is even, or has moved on) before freeing the old table and any
 * removed region. That is read-copy-update with per-vCPU counters: the hot
 * path touches only its own cache line and the table, and a handler can be
 * unregistered while another vCPU is inside it without a use-after-free.
 */
#include "core.h"
#include "ioreq/ioreq.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The vCPU whose thread is currently inside the bus, so a writer never waits for itself. */
static _Thread_local struct ivy_vcpu *bus_current_vcpu;

static struct mmio_table *bus_table_locked(struct ivy_vm *vm)
{
	return atomic_load_explicit(&vm->bus_table, memory_order_relaxed);
}

bool mmio_overlaps_locked(struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t len)
{
	struct mmio_table *t = bus_table_locked(vm);

	for (uint32_t i = 0; t && i < t->nr; i++) {
		const struct ivy_mmio_region *r = t->regions[i];

		if (gpa < r->base + r->len && r->base < gpa + len)
			return true;
	}
	return false;
}

/*
 * Waits until no vCPU can still be using a table published before this call.
 * Pairs with the fence in bus_enter(): either the reader saw the new table,
 * or we see its odd bus_gen and wait for it to change.
 */
static void bus_synchronize(struct ivy_vm *vm)
{
	atomic_thread_fence(memory_order_seq_cst);
	for (uint32_t i = 0; i < vm->max_vcpus; i++) {
		struct ivy_vcpu *v = atomic_load_explicit(&vm->vcpus[i], memory_order_acquire);
		unsigned gen;

		if (!v || v == bus_current_vcpu)
			continue;
		gen = atomic_load_explicit(&v->bus_gen, memory_order_acquire);
		if (!(gen & 1))
			continue;
		while (atomic_load_explicit(&v->bus_gen, memory_order_acquire) == gen)
			sched_yield();
	}
}

/* Publishes `next` (may be NULL for an empty bus) and frees the table it replaces. */
static void bus_publish_locked(struct ivy_vm *vm, struct mmio_table *next)
{
	struct mmio_table *old = bus_table_locked(vm);

	atomic_store_explicit(&vm->bus_table, next, memory_order_release);
	bus_synchronize(vm);
	free(old);
}

int mmio_register_locked(struct ivy_vm *vm, ivy_gpa_t base, uint64_t len,
			 const struct ivy_mmio_ops *ops, void *opaque, struct ivy_mmio_region **out)
{
	struct ivy_mmio_region *r;
	struct mmio_table *old, *next;
	uint32_t nr, pos;
	int ret = 0;

	if (!ops || !ops->read || !ops->write || len == 0 || base + len < base)
		return -EINVAL;
	if (!vm_gpa_range_valid(vm, base, len))
		return -E2BIG;
	if (vm_is_destroyed(vm))
		return -ENODEV;
	if (mmio_overlaps_locked(vm, base, len) || mem_overlaps_locked(vm, base, len))
		return -EEXIST;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct ivy_mmio_region){ .base = base, .len = len, .ops = ops, .opaque = opaque };

	pthread_mutex_lock(&vm->bus_lock);
	old = bus_table_locked(vm);
	nr = old ? old->nr : 0;
	next = malloc(sizeof(*next) + (nr + 1) * sizeof(next->regions[0]));
	if (!next) {
		ret = -ENOMEM;
		goto err_table;
	}
	for (pos = 0; pos < nr && old->regions[pos]->base < base; pos++)
		next->regions[pos] = old->regions[pos];
	next->regions[pos] = r;
	for (uint32_t i = pos; i < nr; i++)
		next->regions[i + 1] = old->regions[i];
	next->nr = nr + 1;
	bus_publish_locked(vm, next);
	pthread_mutex_unlock(&vm->bus_lock);
	if (out)
		*out = r;
	return 0;

err_table:
	pthread_mutex_unlock(&vm->bus_lock);
	free(r);
	return ret;
}

int ivy_mmio_register(struct ivy_vm *vm, ivy_gpa_t base, uint64_t len,
		      const struct ivy_mmio_ops *ops, void *opaque, struct ivy_mmio_region **out)
{
	int ret;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->config_lock);
	ret = mmio_register_locked(vm, base, len, ops, opaque, out);
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

/* Removes a region; the caller holds bus_lock. Does not take config_lock, for device teardown. */
static int bus_remove_locked(struct ivy_vm *vm, struct ivy_mmio_region *region)
{
	struct mmio_table *old = bus_table_locked(vm), *next = NULL;
	uint32_t nr = old ? old->nr : 0, pos;

	for (pos = 0; pos < nr && old->regions[pos] != region; pos++)
		;
	if (pos == nr)
		return -ENOENT;
	if (nr > 1) {
		next = malloc(sizeof(*next) + (nr - 1) * sizeof(next->regions[0]));
		if (!next)
			return -ENOMEM; /* the bus is unchanged */
		memcpy(next->regions, old->regions, pos * sizeof(next->regions[0]));
		memcpy(&next->regions[pos], &old->regions[pos + 1],
		       (nr - pos - 1) * sizeof(next->regions[0]));
		next->nr = nr - 1;
	}
	bus_publish_locked(vm, next);
	free(region);
	return 0;
}

int ivy_mmio_unregister(struct ivy_vm *vm, struct ivy_mmio_region *region)
{
	int ret;

	if (!vm || !region)
		return -EINVAL;
	pthread_mutex_lock(&vm->bus_lock);
	ret = bus_remove_locked(vm, region);
	pthread_mutex_unlock(&vm->bus_lock);
	return ret;
}

void mmio_bus_release(struct ivy_vm *vm)
{
	struct mmio_table *t;

	pthread_mutex_lock(&vm->bus_lock);
	t = bus_table_locked(vm);
	atomic_store_explicit(&vm->bus_table, NULL, memory_order_release);
	bus_synchronize(vm);
	for (uint32_t i = 0; t && i < t->nr; i++)
		free(t->regions[i]);
	free(t);
	pthread_mutex_unlock(&vm->bus_lock);
}

/* The region wholly containing [gpa, gpa + len), or NULL. */
static const struct ivy_mmio_region *bus_lookup(const struct mmio_table *t, ivy_gpa_t gpa,
						unsigned len)
{
	uint32_t lo = 0, hi = t ? t->nr : 0;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct ivy_mmio_region *r = t->regions[mid];

		if (gpa < r->base)
			hi = mid;
		else if (gpa - r->base >= r->len)
			lo = mid + 1;
		else
			return len <= r->len - (gpa - r->base) ? r : NULL;
	}
	return NULL;
}

static uint64_t width_mask(unsigned len)
{
	return len == 8 ? ~0ull : (1ull << (len * 8)) - 1;
}

/* Returns true if the bus answered the access. */
static bool bus_access(struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len, bool is_write,
		       uint64_t *val)
{
	struct ivy_vm *vm = vcpu->vm;
	unsigned gen = atomic_load_explicit(&vcpu->bus_gen, memory_order_relaxed);
	bool nested = gen & 1; /* a handler re-entered the bus on the same vCPU */
	struct ivy_vcpu *prev = bus_current_vcpu;
	const struct ivy_mmio_region *r;
	bool hit = false;

	if (!nested) {
		atomic_store_explicit(&vcpu->bus_gen, gen + 1, memory_order_relaxed);
		/* Pairs with bus_synchronize(): order our mark before reading the table. */
		atomic_thread_fence(memory_order_seq_cst);
	}
	r = bus_lookup(atomic_load_explicit(&vm->bus_table, memory_order_acquire), gpa, len);
	if (r) {
		bus_current_vcpu = vcpu;
		if (is_write)
			r->ops->write(r->opaque, vcpu, gpa - r->base, len, *val & width_mask(len));
		else
			*val = r->ops->read(r->opaque, vcpu, gpa - r->base, len) & width_mask(len);
		bus_current_vcpu = prev;
		hit = true;
	}
	if (!nested)
		/* Release: everything the handler did happens before a writer frees the region. */
		atomic_store_explicit(&vcpu->bus_gen, gen + 2, memory_order_release);
	return hit;
}

int ivy_vcpu_mmio(struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len, bool is_write, uint64_t *val)
{
	struct ioreq_vm *io;
	struct ivy_vm *vm;

	if (!vcpu || !val || (len != 1 && len != 2 && len != 4 && len != 8))
		return -EINVAL;
	vm = vcpu->vm;
	if (vm_is_destroyed(vm))
		return -ENODEV;
	if (bus_access(vcpu, gpa, len, is_write, val)) {
		vm_stat_inc(vm, IVY_STAT_MMIO_BUS);
		return 0;
	}
	io = ioreq_vm_of(vm);
	if (io)
		return ioreq_vcpu_mmio(io, vcpu, gpa, len, is_write, val);
	/* Nobody claims it: reads float high, writes vanish, and a developer can see it. */
	vm_stat_inc(vm, IVY_STAT_MMIO_UNCLAIMED);
	vm_trace(vm, IVY_TRACE_MMIO_UNCLAIMED, (int32_t)vcpu->index, gpa, is_write);
	if (!is_write)
		*val = width_mask(len);
	return 0;
}
