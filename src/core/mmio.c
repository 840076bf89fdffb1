/* SPDX-License-Identifier: MIT */
/*
 * The in-process MMIO bus and the single entry for trapped guest accesses.
 *
 * The bus is an immutable array of entries sorted by base (each a copy of what
 * an access needs from its region), published through one atomic pointer.
 * Readers (vCPU threads) take no lock: each vCPU marks itself "inside" by
 * making its own bus_gen odd before loading the table and even again after the
 * handler returns. A writer publishes a new table and then waits until every
 * vCPU that might still see the old one has left (its bus_gen is even, or has
 * moved on) before freeing the old table and any removed region. That is read-copy-update with per-vCPU counters: the hot
 * path touches only its own cache line and the table, and a handler can be
 * unregistered while another vCPU is inside it without a use-after-free.
 *
 * The reader's "inside" mark must be ordered before its load of the table,
 * which takes a full fence. Where the kernel offers membarrier(2), the writer
 * pays for that fence instead (an expedited barrier on every thread of the
 * process) and the reader needs only a compiler barrier: this is the
 * asymmetric-fence scheme of userspace RCU, and it takes the hot path from
 * ~18 ns to a few ns (bench/bench_mmio.c).
 */
#include "core.h"
#include "ioreq/ioreq.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/* The vCPU whose thread is currently inside the bus, so a writer never waits for itself. */
static _Thread_local struct ivy_vcpu *bus_current_vcpu;

static struct mmio_table *bus_table_locked(struct ivy_vm *vm)
{
	return atomic_load_explicit(&vm->bus_table, memory_order_relaxed);
}

static bool region_live(const struct ivy_mmio_region *r)
{
	return !atomic_load_explicit(&r->removed, memory_order_relaxed);
}

bool mmio_overlaps_locked(struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t len)
{
	struct mmio_table *t = bus_table_locked(vm);

	for (uint32_t i = 0; t && i < t->nr; i++) {
		const struct mmio_entry *e = &t->entries[i];

		if (region_live(e->region) && gpa < e->base + e->len && e->base < gpa + len)
			return true;
	}
	return false;
}

static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;
atomic_bool mmio_membarrier_ok;

static void membarrier_probe(void)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);

	if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0)
		atomic_store_explicit(&mmio_membarrier_ok, true, memory_order_relaxed);
}

/* Called once before a VM's bus is used: decides which side pays for the fence. */
void mmio_bus_init(void)
{
	pthread_once(&membarrier_once, membarrier_probe);
}

/* The writer's half: a real fence on every running thread when membarrier(2) works. */
void vm_writer_fence(void)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&mmio_membarrier_ok, memory_order_relaxed))
		(void)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0);
}

/*
 * Waits until no vCPU can still be using a table published before this call.
 * Pairs with the fence in bus_access(): either the reader saw the new table,
 * or we see its odd bus_gen and wait for it to change.
 */
static void bus_synchronize(struct ivy_vm *vm)
{
	vm_writer_fence();
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

static struct mmio_entry mmio_entry_of(struct ivy_mmio_region *r)
{
	return (struct mmio_entry){
		.base = r->base, .len = r->len, .ops = *r->ops, .opaque = r->opaque, .region = r
	};
}

/*
 * Builds the table that replaces the current one: the live regions, plus `add`
 * at its sorted place unless it is NULL, minus `drop`. Returns NULL only when
 * allocation fails; *empty is set when the result has no regions.
 */
static struct mmio_table *bus_table_build_locked(struct ivy_vm *vm, struct ivy_mmio_region *add,
						 const struct ivy_mmio_region *drop, bool *empty)
{
	struct mmio_table *old = bus_table_locked(vm), *next;
	uint32_t nr = old ? old->nr : 0, n = 0;

	next = malloc(sizeof(*next) + (nr + 1) * sizeof(next->entries[0]));
	if (!next)
		return NULL;
	for (uint32_t i = 0; i < nr; i++) {
		struct ivy_mmio_region *r = old->entries[i].region;

		if (add && r->base > add->base) {
			next->entries[n++] = mmio_entry_of(add);
			add = NULL;
		}
		if (r != drop && region_live(r))
			next->entries[n++] = mmio_entry_of(r);
	}
	if (add)
		next->entries[n++] = mmio_entry_of(add);
	next->nr = n;
	atomic_init(&next->zombies, false);
	*empty = n == 0;
	return next;
}

/*
 * Publishes `next` and, once no reader can see the old table, frees it together
 * with every region that is not in `next` (removed ones and zombies).
 */
static void bus_publish_locked(struct ivy_vm *vm, struct mmio_table *next)
{
	struct mmio_table *old = bus_table_locked(vm);

	atomic_store_explicit(&vm->bus_table, next, memory_order_release);
	bus_synchronize(vm);
	for (uint32_t i = 0; old && i < old->nr; i++) {
		bool kept = false;

		for (uint32_t j = 0; next && j < next->nr && !kept; j++)
			kept = next->entries[j].region == old->entries[i].region;
		if (!kept)
			free(old->entries[i].region);
	}
	free(old);
}

int mmio_register_locked(struct ivy_vm *vm, ivy_gpa_t base, uint64_t len,
			 const struct ivy_mmio_ops *ops, void *opaque, struct ivy_mmio_region **out)
{
	struct ivy_mmio_region *r;
	struct mmio_table *next;
	bool empty;

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
	atomic_init(&r->removed, false);

	pthread_mutex_lock(&vm->bus_lock);
	next = bus_table_build_locked(vm, r, NULL, &empty);
	if (!next) {
		pthread_mutex_unlock(&vm->bus_lock);
		free(r);
		return -ENOMEM;
	}
	bus_publish_locked(vm, next);
	pthread_mutex_unlock(&vm->bus_lock);
	if (out)
		*out = r;
	return 0;
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

static bool bus_contains_locked(struct ivy_vm *vm, const struct ivy_mmio_region *region)
{
	struct mmio_table *t = bus_table_locked(vm);

	for (uint32_t i = 0; t && i < t->nr; i++)
		if (t->entries[i].region == region && region_live(region))
			return true;
	return false;
}

/* Removes a registered region; the caller holds bus_lock. Never fails. */
static void bus_remove_locked(struct ivy_vm *vm, struct ivy_mmio_region *region)
{
	bool empty;
	struct mmio_table *next = bus_table_build_locked(vm, NULL, region, &empty);

	if (empty) {
		free(next);
		next = NULL;
	} else if (!next) {
		/*
		 * No memory for a smaller table: leave the region in place as a zombie
		 * that lookups skip, and let the next publish drop it. The handler is
		 * never called again once the readers that saw it live have left.
		 */
		atomic_store_explicit(&bus_table_locked(vm)->zombies, true, memory_order_relaxed);
		atomic_store_explicit(&region->removed, true, memory_order_relaxed);
		bus_synchronize(vm);
		return;
	}
	bus_publish_locked(vm, next);
}

void mmio_remove(struct ivy_vm *vm, struct ivy_mmio_region *region)
{
	pthread_mutex_lock(&vm->bus_lock);
	if (bus_contains_locked(vm, region))
		bus_remove_locked(vm, region);
	pthread_mutex_unlock(&vm->bus_lock);
}

int ivy_mmio_unregister(struct ivy_vm *vm, struct ivy_mmio_region *region)
{
	int ret = -ENOENT;

	if (!vm || !region)
		return -EINVAL;
	pthread_mutex_lock(&vm->bus_lock);
	if (bus_contains_locked(vm, region)) {
		bus_remove_locked(vm, region);
		ret = 0;
	}
	pthread_mutex_unlock(&vm->bus_lock);
	return ret;
}

void mmio_bus_release(struct ivy_vm *vm)
{
	pthread_mutex_lock(&vm->bus_lock);
	bus_publish_locked(vm, NULL);
	pthread_mutex_unlock(&vm->bus_lock);
}

static bool entry_covers(const struct mmio_entry *e, ivy_gpa_t gpa, unsigned len)
{
	return gpa - e->base < e->len && len <= e->len - (gpa - e->base);
}

/*
 * The entry of the live region wholly containing [gpa, gpa + len), or NULL.
 * Entries never overlap, so the vCPU's last hit, if it covers the access, is
 * the answer; otherwise a binary search finds it and becomes the new hint.
 */
static const struct mmio_entry *bus_lookup(struct ivy_vcpu *vcpu, const struct mmio_table *t,
					   ivy_gpa_t gpa, unsigned len)
{
	uint32_t hint = atomic_load_explicit(&vcpu->bus_hint, memory_order_relaxed);
	const struct mmio_entry *e;

	if (!t)
		return NULL;
	if (hint < t->nr && entry_covers(&t->entries[hint], gpa, len)) {
		e = &t->entries[hint];
	} else {
		if (t->nr == 0)
			return NULL;
		/* The last entry whose base is at or below gpa (the first if none is). */
		e = t->entries;
		for (uint32_t n = t->nr; n > 1; n -= n / 2)
			e = e[n / 2].base <= gpa ? e + n / 2 : e;
		if (!entry_covers(e, gpa, len))
			return NULL;
		atomic_store_explicit(&vcpu->bus_hint, (unsigned)(e - t->entries),
				      memory_order_relaxed);
	}
	if (atomic_load_explicit(&t->zombies, memory_order_relaxed) && !region_live(e->region))
		return NULL;
	return e;
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
	const struct mmio_entry *e;
	bool hit = false;

	if (!nested) {
		atomic_store_explicit(&vcpu->bus_gen, gen + 1, memory_order_relaxed);
		/* Pairs with bus_synchronize(): order our mark before reading the table. */
		vm_reader_fence();
	}
	e = bus_lookup(vcpu, atomic_load_explicit(&vm->bus_table, memory_order_acquire), gpa, len);
	if (e) {
		bus_current_vcpu = vcpu;
		if (is_write)
			e->ops.write(e->opaque, vcpu, gpa - e->base, len, *val & width_mask(len));
		else
			*val = e->ops.read(e->opaque, vcpu, gpa - e->base, len) & width_mask(len);
		bus_current_vcpu = prev;
		hit = true;
	}
	if (!nested)
		/* Release: everything the handler did happens before a writer frees the region. */
		atomic_store_explicit(&vcpu->bus_gen, gen + 2, memory_order_release);
	return hit;
}

/*
 * An access no bus region claims: the I/O-request engine's if the VM has one.
 * Kept out of line so that the bus path stays short.
 */
static __attribute__((noinline)) int mmio_unclaimed(struct ivy_vcpu *vcpu, ivy_gpa_t gpa,
						    unsigned len, bool is_write, uint64_t *val)
{
	struct ioreq_vm *io = ioreq_vm_of(vcpu->vm);

	if (io)
		return ioreq_vcpu_mmio(io, vcpu, gpa, len, is_write, val);
	/* Nobody claims it: reads float high, writes vanish, and a developer can see it. */
	vcpu_stat_inc(vcpu, IVY_STAT_MMIO_UNCLAIMED);
	vm_trace(vcpu->vm, IVY_TRACE_MMIO_UNCLAIMED, (int32_t)vcpu->index, gpa, is_write);
	if (!is_write)
		*val = width_mask(len);
	return 0;
}

int ivy_vcpu_mmio(struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len, bool is_write, uint64_t *val)
{
	/* Bit n of 0x116 is set for n = 1, 2, 4 and 8. */
	if (!vcpu || !val || len > 8 || !((0x116u >> len) & 1))
		return -EINVAL;
	if (vm_is_destroyed(vcpu->vm))
		return -ENODEV;
	if (!bus_access(vcpu, gpa, len, is_write, val))
		return mmio_unclaimed(vcpu, gpa, len, is_write, val);
	vcpu_stat_inc(vcpu, IVY_STAT_MMIO_BUS);
	return 0;
}
