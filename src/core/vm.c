/* SPDX-License-Identifier: MIT */
/*
 * VMs and vCPUs, and the registry that finds a VM by id (ACRN keeps its VM
 * list the same way: a list behind a read-write lock).
 *
 * Lifetime: a VM is reference counted. The creator holds one reference, the
 * registry holds one while the VM is live, and ivy_vm_get() hands out more.
 * ivy_vm_destroy() tears the VM down once (ACRN's ACRN_VM_FLAG_DESTROYED);
 * the memory goes when the last reference is put.
 */
#include "core.h"
#include "ioreq/ioreq.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Protects: registry_vms and registry_next_id. Outermost lock of the library. */
static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct ivy_vm **registry_vms;
static size_t registry_nr, registry_cap;
static uint32_t registry_next_id = 1;

static int registry_add(struct ivy_vm *vm)
{
	int ret = 0;

	pthread_rwlock_wrlock(&registry_lock);
	if (registry_nr == registry_cap) {
		size_t cap = registry_cap ? registry_cap * 2 : 16;
		struct ivy_vm **vms = realloc(registry_vms, cap * sizeof(*vms));

		if (!vms) {
			ret = -ENOMEM;
			goto out;
		}
		registry_vms = vms;
		registry_cap = cap;
	}
	vm->id = registry_next_id++;
	if (registry_next_id == 0)
		registry_next_id = 1;
	registry_vms[registry_nr++] = vm;
out:
	pthread_rwlock_unlock(&registry_lock);
	return ret;
}

/* Returns true if the VM was in the registry (its reference is now the caller's to put). */
static bool registry_remove(struct ivy_vm *vm)
{
	bool found = false;

	pthread_rwlock_wrlock(&registry_lock);
	for (size_t i = 0; i < registry_nr; i++) {
		if (registry_vms[i] == vm) {
			registry_vms[i] = registry_vms[--registry_nr];
			found = true;
			break;
		}
	}
	if (registry_nr == 0) {
		free(registry_vms);
		registry_vms = NULL;
		registry_cap = 0;
	}
	pthread_rwlock_unlock(&registry_lock);
	return found;
}

static void vm_free(struct ivy_vm *vm)
{
	uint32_t max = vm->max_vcpus;

	for (uint32_t i = 0; i < max; i++)
		free(atomic_load_explicit(&vm->vcpus[i], memory_order_relaxed));
	free(vm->vcpus);
	ioreq_vm_free(vm);
	pthread_mutex_destroy(&vm->bus_lock);
	pthread_rwlock_destroy(&vm->mem_lock);
	pthread_mutex_destroy(&vm->config_lock);
	pthread_mutex_destroy(&vm->log_lock);
	free(vm);
}

struct ivy_vm *ivy_vm_get(uint32_t id)
{
	struct ivy_vm *found = NULL;

	pthread_rwlock_rdlock(&registry_lock);
	for (size_t i = 0; i < registry_nr; i++) {
		if (registry_vms[i]->id == id) {
			found = registry_vms[i];
			atomic_fetch_add_explicit(&found->refs, 1, memory_order_relaxed);
			break;
		}
	}
	pthread_rwlock_unlock(&registry_lock);
	return found;
}

void ivy_vm_put(struct ivy_vm *vm)
{
	if (!vm)
		return;
	if (atomic_fetch_sub_explicit(&vm->refs, 1, memory_order_acq_rel) == 1)
		vm_free(vm);
}

static uint64_t mpidr_from_index(uint32_t index)
{
	/* KVM's default (reset_mpidr): Aff0 = index[3:0], Aff1 = index[11:4], Aff2 = index[19:12]. */
	return (1ull << 31) | (index & 0xf) | (((index >> 4) & 0xffull) << 8) |
	       (((index >> 12) & 0xffull) << 16);
}

#define MPIDR_AFF_MASK 0xff00ffffffull

static int vcpu_add_locked(struct ivy_vm *vm, uint32_t index, struct ivy_vcpu **out)
{
	struct ivy_vcpu *vcpu;
	int ret;

	if (index >= vm->max_vcpus)
		return -EINVAL;
	if (atomic_load_explicit(&vm->vcpus[index], memory_order_relaxed))
		return -EEXIST;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->index = index;
	atomic_init(&vcpu->mpidr, mpidr_from_index(index));
	atomic_init(&vcpu->bus_gen, 0);
	ret = device_vcpu_create_locked(vm, vcpu);
	if (ret) {
		free(vcpu);
		return ret;
	}
	/* Release: readers of vcpus[] (bus synchronisation, lookups) see a fully built vCPU. */
	atomic_store_explicit(&vm->vcpus[index], vcpu, memory_order_release);
	atomic_fetch_add_explicit(&vm->nr_vcpus, 1, memory_order_relaxed);
	if (out)
		*out = vcpu;
	return 0;
}

int ivy_vm_create(const struct ivy_vm_config *cfg, struct ivy_vm **out)
{
	struct ivy_vm *vm;
	uint32_t max, ipa_bits;
	int ret;

	if (!cfg || !out)
		return -EINVAL;
	max = cfg->max_vcpus ? cfg->max_vcpus : cfg->nr_vcpus;
	ipa_bits = cfg->ipa_bits ? cfg->ipa_bits : 40;
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > max || max > IVY_MAX_VCPUS)
		return -EINVAL;
	if (cfg->flags & ~IVY_VM_F_ALL)
		return -EINVAL;
	if (ipa_bits < 32 || ipa_bits > 52)
		return -EINVAL;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->vcpus = calloc(max, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = -ENOMEM;
		goto err_vcpus;
	}
	atomic_init(&vm->refs, 2); /* the caller's and the registry's */
	snprintf(vm->name, sizeof(vm->name), "%s", cfg->name ? cfg->name : "vm");
	vm->flags = cfg->flags;
	vm->ipa_bits = ipa_bits;
	vm->max_vcpus = max;
	if (cfg->hooks)
		vm->hooks = *cfg->hooks;
	pthread_mutex_init(&vm->config_lock, NULL);
	pthread_mutex_init(&vm->log_lock, NULL);
	pthread_rwlock_init(&vm->mem_lock, NULL);
	pthread_mutex_init(&vm->bus_lock, NULL);
	atomic_init(&vm->bus_table, NULL);
	mmio_bus_init();

	for (uint32_t i = 0; i < cfg->nr_vcpus; i++) {
		ret = vcpu_add_locked(vm, i, NULL);
		if (ret)
			goto err_vcpu_add;
	}
	ret = registry_add(vm);
	if (ret)
		goto err_vcpu_add;
	*out = vm;
	return 0;

err_vcpu_add:
	atomic_init(&vm->refs, 1);
	ivy_vm_put(vm);
	return ret;
err_vcpus:
	free(vm);
	return ret;
}

int ivy_vm_destroy(struct ivy_vm *vm)
{
	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->config_lock);
	if (vm_is_destroyed(vm)) {
		pthread_mutex_unlock(&vm->config_lock);
		return 0;
	}
	/* Step 1: no new lookups, no new guest accesses. */
	atomic_store_explicit(&vm->destroyed, true, memory_order_release);
	pthread_mutex_unlock(&vm->config_lock);
	bool registered = registry_remove(vm);

	/*
	 * Steps 2-4 (I/O requests, clients, eventfds) belong to the I/O-request engine.
	 * Outside config_lock: a vCPU woken by the unhandled completions may hand its
	 * execution token over through hooks that must not wait for this thread's locks.
	 */
	ioreq_vm_teardown(vm);
	pthread_mutex_lock(&vm->config_lock);
	/* Step 5: devices, newest first; they unregister their MMIO regions. */
	device_destroy_all_locked(vm);
	mmio_bus_release(vm);
	/* Step 6: forget guest RAM. */
	pthread_rwlock_wrlock(&vm->mem_lock);
	vm->nr_mem_slots = 0;
	pthread_rwlock_unlock(&vm->mem_lock);
	pthread_mutex_unlock(&vm->config_lock);

	if (registered)
		ivy_vm_put(vm);
	return 0;
}

void ivy_vm_close(struct ivy_vm *vm)
{
	if (!vm)
		return;
	(void)ivy_vm_destroy(vm);
	ivy_vm_put(vm);
}

uint32_t ivy_vm_id(const struct ivy_vm *vm)
{
	return vm->id;
}
const char *ivy_vm_name(const struct ivy_vm *vm)
{
	return vm->name;
}
uint32_t ivy_vm_flags(const struct ivy_vm *vm)
{
	return vm->flags;
}
uint32_t ivy_vm_ipa_bits(const struct ivy_vm *vm)
{
	return vm->ipa_bits;
}
uint32_t ivy_vm_max_vcpus(const struct ivy_vm *vm)
{
	return vm->max_vcpus;
}
bool ivy_vm_is_destroyed(const struct ivy_vm *vm)
{
	return vm_is_destroyed(vm);
}

uint32_t ivy_vm_nr_vcpus(const struct ivy_vm *vm)
{
	return atomic_load_explicit(&vm->nr_vcpus, memory_order_relaxed);
}

void ivy_vm_set_trace(struct ivy_vm *vm, bool on)
{
	atomic_store_explicit(&vm->trace_on, on, memory_order_relaxed);
}

uint64_t ivy_vm_stat(const struct ivy_vm *vm, enum ivy_stat stat)
{
	uint64_t sum;

	if ((unsigned)stat >= IVY_STAT_NR)
		return 0;
	sum = atomic_load_explicit(&vm->stats[stat], memory_order_relaxed);
	for (uint32_t i = 0; i < vm->max_vcpus; i++) {
		struct ivy_vcpu *v = atomic_load_explicit(&vm->vcpus[i], memory_order_acquire);

		if (v)
			sum += atomic_load_explicit(&v->stats[stat], memory_order_relaxed);
	}
	return sum;
}

bool vm_gpa_range_valid(const struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t len)
{
	uint64_t limit = 1ull << vm->ipa_bits;

	return len != 0 && gpa < limit && len <= limit - gpa;
}

int ivy_vcpu_create(struct ivy_vm *vm, uint32_t index, struct ivy_vcpu **out)
{
	int ret;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->config_lock);
	ret = vm_is_destroyed(vm) ? -ENODEV : vcpu_add_locked(vm, index, out);
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

struct ivy_vcpu *ivy_vm_vcpu(struct ivy_vm *vm, uint32_t index)
{
	if (!vm || index >= vm->max_vcpus)
		return NULL;
	return atomic_load_explicit(&vm->vcpus[index], memory_order_acquire);
}

uint32_t ivy_vcpu_index(const struct ivy_vcpu *vcpu)
{
	return vcpu->index;
}
struct ivy_vm *ivy_vcpu_vm(const struct ivy_vcpu *vcpu)
{
	return vcpu->vm;
}
void ivy_vcpu_set_user(struct ivy_vcpu *vcpu, void *user)
{
	vcpu->user = user;
}
void *ivy_vcpu_user(const struct ivy_vcpu *vcpu)
{
	return vcpu->user;
}

uint64_t ivy_vcpu_mpidr(const struct ivy_vcpu *vcpu)
{
	return atomic_load_explicit(&vcpu->mpidr, memory_order_relaxed);
}

struct ivy_vcpu *ivy_vm_vcpu_by_mpidr(struct ivy_vm *vm, uint64_t mpidr)
{
	for (uint32_t i = 0; i < vm->max_vcpus; i++) {
		struct ivy_vcpu *v = ivy_vm_vcpu(vm, i);

		if (v && (ivy_vcpu_mpidr(v) & MPIDR_AFF_MASK) == (mpidr & MPIDR_AFF_MASK))
			return v;
	}
	return NULL;
}

int ivy_vcpu_set_mpidr(struct ivy_vcpu *vcpu, uint64_t mpidr)
{
	struct ivy_vm *vm;
	struct ivy_vcpu *other;
	int ret = 0;

	if (!vcpu)
		return -EINVAL;
	vm = vcpu->vm;
	/* Only the affinity fields and the RES1/U/MT bits may be set. */
	if (mpidr & ~(MPIDR_AFF_MASK | (1ull << 31) | (1ull << 30) | (1ull << 24)))
		return -EINVAL;
	pthread_mutex_lock(&vm->config_lock);
	if (vm->vgic) {
		/* The interrupt controller has laid out its redistributors by affinity. */
		ret = -EBUSY;
		goto out;
	}
	other = ivy_vm_vcpu_by_mpidr(vm, mpidr);
	if (other && other != vcpu) {
		ret = -EINVAL;
		goto out;
	}
	atomic_store_explicit(&vcpu->mpidr, mpidr | (1ull << 31), memory_order_relaxed);
out:
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

/* Each thread counts itself in one stripe, chosen once, round robin. */
static atomic_uint irq_stripe_next;
static _Thread_local unsigned irq_stripe_mine = ~0u;

const struct vm_irq_ops *vm_irq_enter(struct ivy_vm *vm, unsigned *stripe)
{
	if (irq_stripe_mine == ~0u)
		irq_stripe_mine =
			atomic_fetch_add_explicit(&irq_stripe_next, 1, memory_order_relaxed) %
			VM_IRQ_STRIPES;
	*stripe = irq_stripe_mine;
	/*
	 * Sequentially consistent with vm_irq_ops_publish(): either it sees our
	 * count and waits for us, or we see its NULL and call nothing.
	 */
	atomic_fetch_add_explicit(&vm->irq_users[*stripe].inside, 1, memory_order_seq_cst);
	return atomic_load_explicit(&vm->irq_ops, memory_order_seq_cst);
}

void vm_irq_exit(struct ivy_vm *vm, unsigned stripe)
{
	/* Release: our use of the controller happens before its teardown. */
	atomic_fetch_sub_explicit(&vm->irq_users[stripe].inside, 1, memory_order_release);
}

void vm_irq_ops_publish(struct ivy_vm *vm, const struct vm_irq_ops *ops)
{
	atomic_store_explicit(&vm->irq_ops, ops, memory_order_seq_cst);
	if (ops)
		return;
	for (unsigned i = 0; i < VM_IRQ_STRIPES; i++)
		while (atomic_load_explicit(&vm->irq_users[i].inside, memory_order_acquire))
			sched_yield();
}

static uint64_t vm_log_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Messages are rate-limited per VM, as the kernel's printk_ratelimit() does:
 * the first VM_LOG_BURST of each VM_LOG_WINDOW_NS go out, later ones are only
 * counted, and the count is reported before the next message that goes out.
 */
void vm_log(struct ivy_vm *vm, enum ivy_log_level level, const char *fmt, ...)
{
	uint64_t now, dropped = 0;
	char msg[256];
	bool send;
	va_list ap;

	if (!vm->hooks.log)
		return;
	now = vm_log_now_ns();
	pthread_mutex_lock(&vm->log_lock);
	if (now - vm->log_window_ns >= VM_LOG_WINDOW_NS) {
		vm->log_window_ns = now;
		vm->log_sent = 0;
	}
	send = vm->log_sent < VM_LOG_BURST;
	if (send) {
		vm->log_sent++;
		dropped = vm->log_dropped;
		vm->log_dropped = 0;
	} else {
		vm->log_dropped++;
	}
	pthread_mutex_unlock(&vm->log_lock);
	if (!send)
		return;
	if (dropped) {
		snprintf(msg, sizeof(msg), "%llu messages suppressed", (unsigned long long)dropped);
		vm->hooks.log(vm->hooks.opaque, IVY_LOG_WARN, msg);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vm->hooks.log(vm->hooks.opaque, level, msg);
}

void vm_trace(struct ivy_vm *vm, enum ivy_trace_kind kind, int32_t vcpu, uint64_t a, uint64_t b)
{
	struct ivy_trace_event ev = { .kind = kind, .vcpu = vcpu, .a = a, .b = b };

	if (!vm->hooks.trace || !atomic_load_explicit(&vm->trace_on, memory_order_relaxed))
		return;
	vm->hooks.trace(vm->hooks.opaque, &ev);
}

void vm_kick(struct ivy_vm *vm, struct ivy_vcpu *vcpu)
{
	if (vm->hooks.kick)
		vm->hooks.kick(vm->hooks.opaque, vcpu);
}

const char *ivy_strerror(int err)
{
	if (err > 0)
		err = -err;
	switch (err) {
	case 0: return "success";
	case -EINVAL: return "invalid argument";
	case -ENOMEM: return "out of memory";
	case -EEXIST: return "already exists or overlaps";
	case -ENOENT: return "not found";
	case -ENODEV: return "no such device or VM destroyed";
	case -ENXIO: return "unknown attribute group or attribute";
	case -EBUSY: return "busy or already initialised";
	case -EFAULT: return "bad address";
	case -E2BIG: return "beyond the guest-physical address limit";
	case -ENOSPC: return "no space left";
	default: return strerror(-err);
	}
}
