/* SPDX-License-Identifier: MIT */
/*
 * The I/O-request engine: request slots, clients, dispatch and completion.
 *
 * A request's life, on the requesting vCPU's thread unless said otherwise:
 *  1. the vCPU keeps its own copy of the access, writes the slot's body and
 *     publishes PENDING;
 *  2. dispatch (still on the vCPU's thread, so no extra thread hop) looks the
 *     client up in the routing table, records the assignment in the vCPU's
 *     private claim word, publishes PROCESSING with client_id, and either calls
 *     a synchronous client's handler or marks the vCPU in the client's pending
 *     bitmap and wakes it if it sleeps;
 *  3. whoever wins the claim compare-and-swap writes value and result and
 *     publishes COMPLETE (an in-process client, the vCPU itself when it accepts
 *     an out-of-process answer, or the unhandled path of a destroy or a clear);
 *  4. the vCPU, polling or sleeping on the state word, reads the value and
 *     publishes FREE.
 *
 * Out-of-process clients never see the VM's own pages. Each has a memfd of its
 * own with the same slot layout: the vCPU copies its request there, and only
 * reads back that slot's state and value, masked to the width it asked for.
 * So a client cannot complete or corrupt another client's requests, and the
 * only thing a lying client controls is the value of its own reads.
 */
#include "ioreq/ioreq.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

/* How long a vCPU waiting on an out-of-process slot sleeps before it rechecks its claim. */
#define IOREQ_REMOTE_RECHECK_NS 10000000ll

void ioreq_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns, bool shared)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000ll;
		ts.tv_nsec = timeout_ns % 1000000000ll;
		tsp = &ts;
	}
	syscall(SYS_futex, (void *)word, shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE, expected, tsp,
		NULL, 0);
}

void ioreq_futex_wake(_Atomic uint32_t *word, int n, bool shared)
{
	syscall(SYS_futex, (void *)word, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, n, NULL, NULL,
		0);
}

static inline uint64_t claim_make(uint32_t seq, uint32_t owner)
{
	return ((uint64_t)seq << 32) | owner;
}
static inline uint32_t claim_seq(uint64_t c)
{
	return (uint32_t)(c >> 32);
}
static inline uint32_t claim_owner(uint64_t c)
{
	return (uint32_t)c;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* ------------------------------------------------------------------------------------------ */
/* Engine set-up and teardown.                                                                */

int ivy_ioreq_init(struct ivy_vm *vm)
{
	struct ioreq_vm *io;
	uint32_t pages;
	int ret;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->config_lock);
	if (vm_is_destroyed(vm)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (vm->ioreq) {
		ret = -EEXIST;
		goto out_unlock;
	}
	io = calloc(1, sizeof(*io));
	if (!io) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	io->vm = vm;
	io->nr_slots = vm->max_vcpus;
	io->polling = vm->flags & IVY_VM_F_IOREQ_POLLING;
	atomic_init(&io->timeout_ns, IVY_IOREQ_DEFAULT_TIMEOUT_NS);
	io->next_client_id = 1;
	io->irqfd_epfd = -1;
	io->irqfd_stopfd = -1;
	pages = ivy_ioreq_nr_pages(io->nr_slots);
	io->map_size = (size_t)pages * IVY_IOREQ_PAGE_SIZE;
	io->vcpus = aligned_alloc(64, io->nr_slots * sizeof(*io->vcpus));
	if (!io->vcpus) {
		ret = -ENOMEM;
		goto err_vcpus;
	}
	memset(io->vcpus, 0, io->nr_slots * sizeof(*io->vcpus));
	io->memfd = memfd_create("ivy-ioreq", MFD_CLOEXEC);
	if (io->memfd < 0) {
		ret = -errno;
		goto err_memfd;
	}
	if (ftruncate(io->memfd, (off_t)io->map_size) < 0) {
		ret = -errno;
		goto err_map;
	}
	/* A fresh memfd reads as zeros: every slot starts FREE. */
	io->slots = mmap(NULL, io->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, io->memfd, 0);
	if (io->slots == MAP_FAILED) {
		ret = -errno;
		goto err_map;
	}
	pthread_mutex_init(&io->lock, NULL);
	pthread_mutex_init(&io->irqfd_lock, NULL);
	pthread_mutex_init(&io->server_lock, NULL);
	pthread_mutex_init(&io->ram_lock, NULL);
	/* Release: a vCPU that sees the pointer sees the engine fully built. */
	__atomic_store_n(&vm->ioreq, io, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->config_lock);
	return 0;

err_map:
	close(io->memfd);
err_memfd:
	free(io->vcpus);
err_vcpus:
	free(io);
out_unlock:
	pthread_mutex_unlock(&vm->config_lock);
	return ret;
}

int ivy_ioreq_pages_fd(struct ivy_vm *vm)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;

	return io ? io->memfd : -ENODEV;
}

static void client_free(struct ivy_ioreq_client *c)
{
	if (c->remote) {
		munmap(c->slots, c->map_size);
		close(c->memfd);
		close(c->kick_fd);
	} else {
		free(c->ctl);
	}
	free(c);
}

/* Drops a reference; the last one frees the client. */
static void client_put(struct ivy_ioreq_client *c)
{
	/* Acq_rel: every use of the client's memory happens before the free. */
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		client_free(c);
}

void ioreq_vm_free(struct ivy_vm *vm)
{
	struct ioreq_vm *io = vm->ioreq;

	if (!io)
		return;
	while (io->zombies) {
		struct ivy_ioreq_client *c = io->zombies;

		io->zombies = c->next;
		client_put(c);
	}
	ioreq_routes_free(atomic_load_explicit(&io->routes, memory_order_relaxed));
	munmap(io->slots, io->map_size);
	close(io->memfd);
	for (unsigned i = 0; i < io->nr_ram; i++)
		close(io->ram[i].fd);
	pthread_mutex_destroy(&io->ram_lock);
	pthread_mutex_destroy(&io->server_lock);
	pthread_mutex_destroy(&io->irqfd_lock);
	pthread_mutex_destroy(&io->lock);
	free(io->vcpus);
	free(io);
	vm->ioreq = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Completion.                                                                                */

/*
 * Publishes the completion of vCPU v's request after its claim was won:
 * the value and result first, COMPLETE last. `client` is the client the
 * request was assigned to (its out-of-process slot gets a wake-up too).
 */
static void slot_publish_complete(struct ioreq_vm *io, uint32_t v, uint64_t value, uint32_t result,
				  struct ivy_ioreq_client *client, bool wake)
{
	struct ivy_ioreq_slot *s = &io->slots[v];

	if (client && client->remote) {
		/*
		 * The vCPU may sleep on the client's copy of the slot: change the word so a
		 * sleeper about to wait cannot miss us, then wake it. A client racing us
		 * can only delay the vCPU to its next periodic recheck. This comes first:
		 * once the VM's slot says COMPLETE the vCPU may drop its use of the client
		 * and the client's memory may go.
		 */
		struct ivy_ioreq_slot *cs = &client->slots[v];

		atomic_store_explicit(ioreq_slot_state(cs), IVY_IOREQ_STATE_COMPLETE,
				      memory_order_release);
		ioreq_futex_wake(ioreq_slot_state(cs), 1, true);
	}
	s->value = value;
	s->result = result;
	/* Release: publishes value and result to the vCPU, which loads state with acquire. */
	atomic_store_explicit(ioreq_slot_state(s), IVY_IOREQ_STATE_COMPLETE, memory_order_release);
	if (wake && !io->polling)
		ioreq_futex_wake(ioreq_slot_state(s), 1, false);
}

/*
 * Completes vCPU v's request as unhandled if it is assigned to client `owner`
 * (any client when owner is 0). Returns true if this call completed it.
 */
static bool request_complete_unhandled(struct ioreq_vm *io, uint32_t v, uint32_t owner)
{
	struct ioreq_vcpu *iv = &io->vcpus[v];
	uint64_t c = atomic_load_explicit(&iv->claim, memory_order_acquire);

	for (;;) {
		uint32_t o = claim_owner(c);

		if (o == IOREQ_OWNER_NONE || (o & IOREQ_OWNER_DONE) || (owner && o != owner))
			return false;
		/* Acquire: the vCPU's client pointer, written before it published the claim. */
		if (atomic_compare_exchange_weak_explicit(
			    &iv->claim, &c, claim_make(claim_seq(c), o | IOREQ_OWNER_DONE),
			    memory_order_acq_rel, memory_order_acquire))
			break;
	}
	slot_publish_complete(io, v, ~0ull, IVY_IOREQ_RESULT_UNHANDLED, iv->client, true);
	return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests.                                                                                  */

static void vcpu_route_enter(struct ioreq_vcpu *iv)
{
	unsigned gen = atomic_load_explicit(&iv->gen, memory_order_relaxed);

	atomic_store_explicit(&iv->gen, gen + 1, memory_order_relaxed);
	/* Pairs with ioreq_routes_synchronize(): order the mark before loading the table. */
	vm_reader_fence();
}

static void vcpu_route_leave(struct ioreq_vcpu *iv)
{
	unsigned gen = atomic_load_explicit(&iv->gen, memory_order_relaxed);

	/* Release: the assignment (claim, reference) is visible to a writer that sees us leave. */
	atomic_store_explicit(&iv->gen, gen + 1, memory_order_release);
}

/* Tells a client that vCPU v has a request for it. */
static void client_post(struct ivy_ioreq_client *c, uint32_t v)
{
	_Atomic uint64_t *word = (_Atomic uint64_t *)&c->ctl->pending[v / 64];
	_Atomic uint32_t *sleeping = (_Atomic uint32_t *)&c->ctl->sleeping;

	atomic_fetch_or_explicit(word, 1ull << (v % 64), memory_order_release);
	/* Pairs with the waiter's fence between announcing sleep and rechecking the bitmap. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(sleeping, memory_order_relaxed))
		return;
	if (c->remote) {
		uint64_t one = 1;

		if (write(c->kick_fd, &one, sizeof(one)) < 0) {
			/* A saturated counter still wakes the client. */
		}
	} else {
		atomic_fetch_add_explicit(&c->doorbell, 1, memory_order_release);
		ioreq_futex_wake(&c->doorbell, 1, false);
	}
}

static void request_report_unhandled(struct ioreq_vm *io, uint32_t v, uint32_t type, uint32_t dir,
				     uint64_t addr, uint32_t bdf, unsigned size)
{
	static const char *const names[] = { "?", "MMIO", "PIO", "PCI" };

	vm_stat_inc(io->vm, IVY_STAT_IOREQ_UNHANDLED);
	if (type == IVY_IOREQ_TYPE_PCI)
		vm_log(io->vm, IVY_LOG_WARN,
		       "vcpu %u: unhandled PCI config %s %02x:%02x.%x reg 0x%llx size %u", v,
		       dir ? "write" : "read", bdf >> 8, (bdf >> 3) & 31, bdf & 7,
		       (unsigned long long)addr, size);
	else
		vm_log(io->vm, IVY_LOG_WARN, "vcpu %u: unhandled %s %s 0x%llx size %u", v,
		       names[type < 4 ? type : 0], dir ? "write" : "read", (unsigned long long)addr,
		       size);
}

bool ioreq_request_start(struct ioreq_vm *io, uint32_t v, const struct ioreq_access *acc,
			 uint64_t *val)
{
	struct ioreq_vcpu *iv = &io->vcpus[v];
	struct ivy_ioreq_slot *s = &io->slots[v];
	const struct ioreq_routes *r;
	struct ivy_ioreq_client *c;
	struct ioreq_access ecam;
	uint64_t mask = ioreq_width_mask(acc->size);
	uint64_t wval = acc->dir == IVY_IOREQ_WRITE ? acc->value & mask : 0;

	vm_stat_inc(io->vm, IVY_STAT_IOREQ);
	/* The vCPU's own copy of what it asked: nothing read back from a slot replaces it. */
	__atomic_store_n(&iv->type, acc->type, __ATOMIC_RELAXED);
	__atomic_store_n(&iv->dir, acc->dir, __ATOMIC_RELAXED);
	__atomic_store_n(&iv->size, acc->size, __ATOMIC_RELAXED);
	__atomic_store_n(&iv->addr, acc->addr, __ATOMIC_RELAXED);
	__atomic_store_n(&iv->bdf, acc->bdf, __ATOMIC_RELAXED);
	__atomic_store_n(&iv->wval, wval, __ATOMIC_RELAXED);

	vcpu_route_enter(iv);
	r = atomic_load_explicit(&io->routes, memory_order_acquire);
	if (atomic_load_explicit(&io->stopped, memory_order_relaxed))
		r = NULL;
	if (r && acc->type == IVY_IOREQ_TYPE_MMIO && r->ecam_size && acc->addr >= r->ecam_base &&
	    acc->addr - r->ecam_base < r->ecam_size) {
		uint64_t off = acc->addr - r->ecam_base;

		/* An access that crosses into the next function belongs to no function. */
		if ((off & 0xfff) + acc->size > 0x1000) {
			vcpu_route_leave(iv);
			request_report_unhandled(io, v, acc->type, acc->dir, acc->addr, 0,
						 acc->size);
			*val = mask;
			return true;
		}
		ecam = *acc;
		ecam.type = IVY_IOREQ_TYPE_PCI;
		ecam.bdf = IVY_PCI_BDF(r->ecam_bus + (off >> 20), off >> 15, off >> 12);
		ecam.addr = off & 0xfff;
		acc = &ecam;
		__atomic_store_n(&iv->type, acc->type, __ATOMIC_RELAXED);
		__atomic_store_n(&iv->addr, acc->addr, __ATOMIC_RELAXED);
		__atomic_store_n(&iv->bdf, acc->bdf, __ATOMIC_RELAXED);
	}
	if (r && acc->dir == IVY_IOREQ_WRITE && acc->type != IVY_IOREQ_TYPE_PCI &&
	    ioreq_ioeventfd_signal(r, acc->type == IVY_IOREQ_TYPE_PIO, acc->addr, acc->size,
				   wval)) {
		vcpu_route_leave(iv);
		return true;
	}
	c = ioreq_route_lookup(r, acc->type, acc->type == IVY_IOREQ_TYPE_PCI ? acc->bdf : acc->addr,
			       acc->size);
	/* Acquire: pairs with the destroyer's store; see ioreq_routes_synchronize(). */
	if (c && atomic_load_explicit(&c->dead, memory_order_acquire))
		c = NULL;
	if (!c) {
		vcpu_route_leave(iv);
		request_report_unhandled(io, v, acc->type, acc->dir, acc->addr, acc->bdf,
					 acc->size);
		*val = mask;
		return true;
	}

	if (++iv->seq == 0)
		iv->seq = 1;
	s->type = acc->type;
	s->dir = acc->dir;
	s->size = acc->size;
	s->addr = acc->addr;
	s->value = wval;
	s->completion_polling = io->polling;
	s->client_id = 0;
	s->pci_bdf = acc->bdf;
	s->vcpu = v;
	s->seq = iv->seq;
	s->result = IVY_IOREQ_RESULT_HANDLED;
	/* Release: the body is written before anyone sees the request pending. */
	atomic_store_explicit(ioreq_slot_state(s), IVY_IOREQ_STATE_PENDING, memory_order_release);
	vm_trace(io->vm, IVY_TRACE_IOREQ_SUBMIT, (int32_t)v, acc->addr, c->id);

	/* Dispatch: the service side takes the slot from PENDING to PROCESSING. */
	s->client_id = c->id;
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	iv->client = c;
	if (c->remote) {
		struct ivy_ioreq_slot *cs = &c->slots[v];

		/* The body only: the state word is the client's futex and changes atomically. */
		memcpy((char *)cs + sizeof(cs->state), (char *)s + sizeof(s->state),
		       offsetof(struct ivy_ioreq_slot, reserved) - sizeof(s->state));
		/* Release: the client reads the body after seeing PROCESSING. */
		atomic_store_explicit(ioreq_slot_state(cs), IVY_IOREQ_STATE_PROCESSING,
				      memory_order_release);
	}
	/* Release: publishes iv->client and the slot body to every completer. */
	atomic_store_explicit(&iv->claim, claim_make(iv->seq, c->id), memory_order_release);
	atomic_store_explicit(ioreq_slot_state(s), IVY_IOREQ_STATE_PROCESSING,
			      memory_order_release);

	if (c->ops) {
		struct ivy_ioreq req = { .vcpu = v,
					 .seq = iv->seq,
					 .type = acc->type,
					 .dir = acc->dir,
					 .size = acc->size,
					 .pci_bdf = acc->bdf,
					 .addr = acc->addr,
					 .value = wval };
		int ret = c->ops->handle(c->opaque, &req);
		uint64_t expect = claim_make(iv->seq, c->id);

		/* Only a concurrent clear or teardown can have completed it first. */
		if (atomic_compare_exchange_strong_explicit(
			    &iv->claim, &expect, claim_make(iv->seq, c->id | IOREQ_OWNER_DONE),
			    memory_order_acq_rel, memory_order_acquire))
			slot_publish_complete(
				io, v, ret ? ~0ull : req.value,
				ret ? IVY_IOREQ_RESULT_UNHANDLED : IVY_IOREQ_RESULT_HANDLED, NULL,
				false); /* on the vCPU's own thread: nobody to wake */
	} else {
		client_post(c, v);
	}
	vcpu_route_leave(iv);
	return false;
}

/* Accepts an out-of-process client's answer if its copy of the slot says COMPLETE. */
static bool request_accept_remote(struct ioreq_vm *io, uint32_t v, struct ivy_ioreq_client *c)
{
	struct ioreq_vcpu *iv = &io->vcpus[v];
	struct ivy_ioreq_slot *cs = &c->slots[v];
	uint64_t expect = claim_make(iv->seq, c->id), value;

	/* Acquire: the client's value was written before its COMPLETE. */
	if (atomic_load_explicit(ioreq_slot_state(cs), memory_order_acquire) !=
	    IVY_IOREQ_STATE_COMPLETE)
		return false;
	/* One load: the client may keep writing, we use what we read once. */
	value = __atomic_load_n(&cs->value, __ATOMIC_RELAXED);
	if (!atomic_compare_exchange_strong_explicit(&iv->claim, &expect,
						     claim_make(iv->seq, c->id | IOREQ_OWNER_DONE),
						     memory_order_acq_rel, memory_order_acquire))
		return false; /* someone else completed it: the VM's slot will say so */
	/* The vCPU itself accepts the answer: nobody to wake. */
	slot_publish_complete(io, v, value, IVY_IOREQ_RESULT_HANDLED, NULL, false);
	return true;
}

bool ioreq_request_poll(struct ioreq_vm *io, uint32_t v)
{
	struct ioreq_vcpu *iv = &io->vcpus[v];
	struct ivy_ioreq_slot *s = &io->slots[v];

	if (atomic_load_explicit(ioreq_slot_state(s), memory_order_acquire) ==
	    IVY_IOREQ_STATE_COMPLETE)
		return true;
	if (iv->client && iv->client->remote && request_accept_remote(io, v, iv->client))
		return true;
	return false;
}

uint64_t ioreq_request_finish(struct ioreq_vm *io, uint32_t v)
{
	struct ioreq_vcpu *iv = &io->vcpus[v];
	struct ivy_ioreq_slot *s = &io->slots[v];
	struct ivy_ioreq_client *c = iv->client;
	uint64_t value = s->value & ioreq_width_mask(iv->size);
	uint32_t id = c ? c->id : 0;

	if (s->result != IVY_IOREQ_RESULT_HANDLED) {
		request_report_unhandled(io, v, iv->type, iv->dir, iv->addr, iv->bdf, iv->size);
		value = ioreq_width_mask(iv->size);
	}
	vm_trace(io->vm, IVY_TRACE_IOREQ_COMPLETE, (int32_t)v, iv->addr, id);
	iv->client = NULL;
	if (c)
		client_put(c);
	/* The requester owns COMPLETE: return the slot. */
	atomic_store_explicit(ioreq_slot_state(s), IVY_IOREQ_STATE_FREE, memory_order_release);
	return iv->dir == IVY_IOREQ_WRITE ? 0 : value;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The client has not answered in time: complete the request as unhandled
 * ourselves, through the same claim every completer must win, so a late
 * answer from the client is refused and nothing is completed twice.
 */
static void request_time_out(struct ioreq_vm *io, uint32_t v)
{
	struct ioreq_vcpu *iv = &io->vcpus[v];

	if (!request_complete_unhandled(io, v, 0))
		return; /* the answer won the race */
	atomic_fetch_add_explicit(&io->timeouts, 1, memory_order_relaxed);
	vm_log(io->vm, IVY_LOG_WARN, "vcpu %u: client '%s' did not answer in time", v,
	       iv->client ? iv->client->name : "?");
}

static void request_wait(struct ioreq_vm *io, struct ivy_vcpu *vcpu)
{
	uint32_t v = vcpu->index;
	struct ioreq_vcpu *iv = &io->vcpus[v];
	struct ivy_vm *vm = io->vm;
	bool remote = iv->client && iv->client->remote;
	uint64_t timeout = atomic_load_explicit(&io->timeout_ns, memory_order_relaxed);
	uint64_t deadline = timeout ? monotonic_ns() + timeout : UINT64_MAX;

	if (ioreq_request_poll(io, v))
		return;
	if (io->polling) {
		for (unsigned spins = 1;; spins++) {
			if (ioreq_request_poll(io, v))
				return;
			cpu_relax();
			/* Let the client run when it shares our core; look at the clock now and then. */
			if (!(spins & 0xfff)) {
				sched_yield();
				if (monotonic_ns() >= deadline)
					request_time_out(io, v);
			}
		}
	}
	if (vm->hooks.vcpu_block)
		vm->hooks.vcpu_block(vm->hooks.opaque, vcpu, true);
	while (!ioreq_request_poll(io, v)) {
		uint64_t now = monotonic_ns();
		int64_t left = deadline == UINT64_MAX ? -1 : (int64_t)(deadline - now);

		if (deadline != UINT64_MAX && now >= deadline) {
			request_time_out(io, v);
			continue;
		}
		if (remote) {
			_Atomic uint32_t *w = ioreq_slot_state(&iv->client->slots[v]);
			uint32_t cur = atomic_load_explicit(w, memory_order_acquire);

			if (cur == IVY_IOREQ_STATE_COMPLETE)
				continue;
			ioreq_futex_wait(w, cur,
					 left >= 0 && left < IOREQ_REMOTE_RECHECK_NS
						 ? left
						 : IOREQ_REMOTE_RECHECK_NS,
					 true);
		} else {
			ioreq_futex_wait(ioreq_slot_state(&io->slots[v]),
					 IVY_IOREQ_STATE_PROCESSING, left, false);
		}
	}
	if (vm->hooks.vcpu_block)
		vm->hooks.vcpu_block(vm->hooks.opaque, vcpu, false);
}

int ivy_ioreq_set_timeout(struct ivy_vm *vm, uint64_t timeout_ns)
{
	struct ioreq_vm *io;

	if (!vm)
		return -EINVAL;
	io = ioreq_vm_of(vm);
	if (!io)
		return -ENODEV;
	atomic_store_explicit(&io->timeout_ns, timeout_ns, memory_order_relaxed);
	return 0;
}

uint64_t ivy_ioreq_timeouts(struct ivy_vm *vm)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;

	return io ? atomic_load_explicit(&io->timeouts, memory_order_relaxed) : 0;
}

static int request_run(struct ioreq_vm *io, struct ivy_vcpu *vcpu, const struct ioreq_access *acc,
		       uint64_t *val)
{
	uint64_t out = 0;

	if (ioreq_request_start(io, vcpu->index, acc, &out)) {
		if (acc->dir == IVY_IOREQ_READ)
			*val = out;
		return 0;
	}
	request_wait(io, vcpu);
	out = ioreq_request_finish(io, vcpu->index);
	if (acc->dir == IVY_IOREQ_READ)
		*val = out;
	return 0;
}

int ioreq_vcpu_mmio(struct ioreq_vm *io, struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len,
		    bool is_write, uint64_t *val)
{
	struct ioreq_access acc = { .type = IVY_IOREQ_TYPE_MMIO,
				    .dir = is_write ? IVY_IOREQ_WRITE : IVY_IOREQ_READ,
				    .size = len,
				    .addr = gpa,
				    .value = is_write ? *val : 0 };

	return request_run(io, vcpu, &acc, val);
}

/* PCI configuration mechanism #1: the CONFIG_ADDRESS latch and the CONFIG_DATA window. */
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA	   0xcfc
#define PCI_CONFIG_ENABLE  0x80000000u

int ivy_vcpu_pio(struct ivy_vcpu *vcpu, uint16_t port, unsigned len, bool is_write, uint64_t *val)
{
	struct ioreq_access acc;
	struct ioreq_vm *io;
	uint32_t cf8;

	if (!vcpu || !val || (len != 1 && len != 2 && len != 4) || (uint32_t)port + len > 0x10000)
		return -EINVAL;
	if (vm_is_destroyed(vcpu->vm))
		return -ENODEV;
	io = ioreq_vm_of(vcpu->vm);
	if (!io)
		return -ENODEV;
	acc = (struct ioreq_access){ .type = IVY_IOREQ_TYPE_PIO,
				     .dir = is_write ? IVY_IOREQ_WRITE : IVY_IOREQ_READ,
				     .size = len,
				     .addr = port,
				     .value = is_write ? *val : 0 };
	/* Only a 32-bit access is CONFIG_ADDRESS; narrower ones (0xCF9 reset control) are I/O. */
	if (port == PCI_CONFIG_ADDRESS && len == 4) {
		if (is_write)
			atomic_store_explicit(&io->cf8, (uint32_t)*val, memory_order_relaxed);
		else
			*val = atomic_load_explicit(&io->cf8, memory_order_relaxed);
		return 0;
	}
	cf8 = atomic_load_explicit(&io->cf8, memory_order_relaxed);
	if (port >= PCI_CONFIG_DATA && port + len <= PCI_CONFIG_DATA + 4 &&
	    (cf8 & PCI_CONFIG_ENABLE)) {
		acc.type = IVY_IOREQ_TYPE_PCI;
		acc.bdf = (cf8 >> 8) & 0xffff;
		/* Bits 27:24 extend the register number to 4 KiB (AMD's and ACRN's extension). */
		acc.addr = (cf8 & 0xfc) | ((cf8 >> 16) & 0xf00) | (port & 3u);
	}
	return request_run(io, vcpu, &acc, val);
}

int ivy_ioreq_set_ecam(struct ivy_vm *vm, ivy_gpa_t base, uint64_t size, uint8_t first_bus)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;
	struct ioreq_routes *next;
	int ret = 0;

	if (!io || vm_is_destroyed(vm))
		return -ENODEV;
	if (size) {
		if ((size & 0xfffff) || size > (256ull << 20) || (base & 0xfffff) ||
		    first_bus + (size >> 20) > 256)
			return -EINVAL;
		if (!vm_gpa_range_valid(vm, base, size))
			return -E2BIG;
	}
	pthread_mutex_lock(&io->lock);
	next = ioreq_routes_clone(atomic_load_explicit(&io->routes, memory_order_relaxed));
	if (!next) {
		ret = -ENOMEM;
		goto out;
	}
	if (size) {
		for (uint32_t i = 0; i < next->nr_ranges[0]; i++) {
			if (next->ranges[0][i].start < base + size &&
			    base <= next->ranges[0][i].end) {
				ioreq_routes_free(next);
				ret = -EEXIST;
				goto out;
			}
		}
	}
	next->ecam_base = base;
	next->ecam_size = size;
	next->ecam_bus = first_bus;
	ioreq_routes_publish_locked(io, next);
out:
	pthread_mutex_unlock(&io->lock);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Clients.                                                                                   */

static int client_alloc(struct ioreq_vm *io, const char *name, struct ivy_ioreq_client **out)
{
	struct ivy_ioreq_client *c = aligned_alloc(64, sizeof(*c));

	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->io = io;
	atomic_init(&c->refs, 1);
	c->memfd = -1;
	c->kick_fd = -1;
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "client");
	*out = c;
	return 0;
}

/* Gives the client an id and links it; the caller holds io->lock. */
static int client_link_locked(struct ioreq_vm *io, struct ivy_ioreq_client *c, bool dflt)
{
	struct ioreq_routes *next = NULL;

	if (atomic_load_explicit(&io->stopped, memory_order_relaxed))
		return -ENODEV;
	/* Ids are never reused, so a stale claim can never name a newer client. */
	if (io->next_client_id > IOREQ_MAX_CLIENT_ID)
		return -ENOSPC;
	if (dflt) {
		const struct ioreq_routes *r =
			atomic_load_explicit(&io->routes, memory_order_relaxed);

		if (r && r->dflt)
			return -EEXIST;
		next = ioreq_routes_clone(r);
		if (!next)
			return -ENOMEM;
		next->dflt = c;
	}
	c->id = io->next_client_id++;
	c->next = io->clients;
	io->clients = c;
	if (next)
		ioreq_routes_publish_locked(io, next);
	return 0;
}

int ivy_ioreq_client_create(struct ivy_vm *vm, const struct ivy_ioreq_client_config *cfg,
			    struct ivy_ioreq_client **out)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;
	struct ivy_ioreq_client *c;
	int ret;

	if (!cfg || !out || (cfg->flags & ~IVY_IOREQ_CLIENT_F_DEFAULT) ||
	    (cfg->ops && !cfg->ops->handle))
		return -EINVAL;
	if (!io || vm_is_destroyed(vm))
		return -ENODEV;
	ret = client_alloc(io, cfg->name, &c);
	if (ret)
		return ret;
	c->flags = cfg->flags;
	c->ops = cfg->ops;
	c->opaque = cfg->opaque;
	c->ctl = calloc(1, sizeof(*c->ctl));
	if (!c->ctl) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_lock(&io->lock);
	ret = client_link_locked(io, c, cfg->flags & IVY_IOREQ_CLIENT_F_DEFAULT);
	pthread_mutex_unlock(&io->lock);
	if (ret) {
		client_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int ioreq_client_create_remote(struct ioreq_vm *io, const char *name, struct ivy_ioreq_client **out)
{
	struct ivy_ioreq_client *c;
	size_t slots_size = (size_t)ivy_ioreq_nr_pages(io->nr_slots) * IVY_IOREQ_PAGE_SIZE;
	int ret;

	ret = client_alloc(io, name, &c);
	if (ret)
		return ret;
	c->remote = true;
	c->map_size = slots_size + sizeof(struct ivy_ioreq_ctl);
	c->memfd = memfd_create("ivy-ioreq-client", MFD_CLOEXEC);
	if (c->memfd < 0) {
		ret = -errno;
		goto err_memfd;
	}
	if (ftruncate(c->memfd, (off_t)c->map_size) < 0) {
		ret = -errno;
		goto err_map;
	}
	c->slots = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd, 0);
	if (c->slots == MAP_FAILED) {
		ret = -errno;
		goto err_map;
	}
	c->ctl = (struct ivy_ioreq_ctl *)((char *)c->slots + slots_size);
	c->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->kick_fd < 0) {
		ret = -errno;
		goto err_kick;
	}
	pthread_mutex_lock(&io->lock);
	ret = client_link_locked(io, c, false);
	pthread_mutex_unlock(&io->lock);
	if (ret)
		goto err_link;
	*out = c;
	return 0;

err_link:
	close(c->kick_fd);
err_kick:
	munmap(c->slots, c->map_size);
err_map:
	close(c->memfd);
err_memfd:
	free(c);
	return ret;
}

int ioreq_client_set_default(struct ivy_ioreq_client *c)
{
	struct ioreq_vm *io = c->io;
	struct ioreq_routes *next;
	int ret = 0;

	pthread_mutex_lock(&io->lock);
	next = ioreq_routes_clone(atomic_load_explicit(&io->routes, memory_order_relaxed));
	if (!next) {
		ret = -ENOMEM;
	} else if (next->dflt) {
		ret = next->dflt == c ? 0 : -EEXIST;
		ioreq_routes_free(next);
	} else {
		next->dflt = c;
		c->flags |= IVY_IOREQ_CLIENT_F_DEFAULT;
		ioreq_routes_publish_locked(io, next);
	}
	pthread_mutex_unlock(&io->lock);
	return ret;
}

uint32_t ivy_ioreq_client_id(const struct ivy_ioreq_client *client)
{
	return client ? client->id : 0;
}

static int client_change_range(struct ivy_ioreq_client *c, uint32_t type, uint64_t start,
			       uint64_t end, bool add)
{
	struct ioreq_vm *io;
	struct ioreq_routes *next;
	int ret;

	if (!c)
		return -EINVAL;
	io = c->io;
	if (type < IVY_IOREQ_TYPE_MMIO || type > IVY_IOREQ_TYPE_PCI || start > end)
		return -EINVAL;
	pthread_mutex_lock(&io->lock);
	if (atomic_load_explicit(&c->dead, memory_order_relaxed) ||
	    atomic_load_explicit(&io->stopped, memory_order_relaxed)) {
		ret = -ENODEV;
		goto out;
	}
	next = ioreq_routes_clone(atomic_load_explicit(&io->routes, memory_order_relaxed));
	if (!next) {
		ret = -ENOMEM;
		goto out;
	}
	ret = add ? ioreq_range_insert(next, type, start, end, c)
		  : ioreq_range_remove(next, type, start, end, c);
	if (ret)
		ioreq_routes_free(next);
	else
		ioreq_routes_publish_locked(io, next);
out:
	pthread_mutex_unlock(&io->lock);
	return ret;
}

int ivy_ioreq_client_add_range(struct ivy_ioreq_client *client, uint32_t type, uint64_t start,
			       uint64_t end)
{
	return client_change_range(client, type, start, end, true);
}

int ivy_ioreq_client_del_range(struct ivy_ioreq_client *client, uint32_t type, uint64_t start,
			       uint64_t end)
{
	return client_change_range(client, type, start, end, false);
}

/* Wakes every thread waiting for the client's requests. */
static void client_wake_all(struct ivy_ioreq_client *c)
{
	if (c->remote) {
		uint64_t one = 1;

		if (write(c->kick_fd, &one, sizeof(one)) < 0) {
			/* Saturated: the client is awake anyway. */
		}
		return;
	}
	atomic_fetch_add_explicit(&c->doorbell, 1, memory_order_release);
	ioreq_futex_wake(&c->doorbell, 0x7fffffff, false);
}

/*
 * Unlinks the client, completes its requests as unhandled and waits until no
 * thread waits on it. vCPUs still consuming their completions keep the memory
 * alive through their references. The caller holds io->lock.
 */
static void client_shutdown_locked(struct ioreq_vm *io, struct ivy_ioreq_client *c)
{
	struct ioreq_routes *next;
	struct ivy_ioreq_client **pp;
	struct timespec nap = { 0, 50000 };

	for (pp = &io->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	atomic_store_explicit(&c->dead, true, memory_order_release);
	/* The old table must go before the client's memory does: insist on a new one. */
	while (!(
		next = ioreq_routes_clone(atomic_load_explicit(&io->routes, memory_order_relaxed))))
		nanosleep(&nap, NULL);
	ioreq_routes_forget_client(next, c);
	ioreq_routes_publish_locked(io, next);
	/* No vCPU can pick the client any more; fail what it still holds. */
	for (uint32_t v = 0; v < io->nr_slots; v++)
		request_complete_unhandled(io, v, c->id);
	/* Threads in ivy_ioreq_client_wait() hold the handle: they must leave first. */
	client_wake_all(c);
	while (atomic_load_explicit(&c->waiters, memory_order_acquire)) {
		client_wake_all(c);
		nanosleep(&nap, NULL);
	}
}

int ivy_ioreq_client_destroy(struct ivy_ioreq_client *client)
{
	struct ioreq_vm *io;
	struct ivy_ioreq_client **pp;

	if (!client)
		return -EINVAL;
	io = client->io;
	pthread_mutex_lock(&io->lock);
	/* Already shut down by the VM's teardown: only the memory is left to free. */
	for (pp = &io->zombies; *pp; pp = &(*pp)->next) {
		if (*pp == client) {
			*pp = client->next;
			pthread_mutex_unlock(&io->lock);
			client_put(client);
			return 0;
		}
	}
	client_shutdown_locked(io, client);
	pthread_mutex_unlock(&io->lock);
	client_put(client);
	return 0;
}

/* Fills *req from vCPU v's slot if the request there is still assigned to c. */
static bool client_read_request(struct ivy_ioreq_client *c, uint32_t v, struct ivy_ioreq *req)
{
	struct ioreq_vcpu *iv = &c->io->vcpus[v];
	uint64_t claim = atomic_load_explicit(&iv->claim, memory_order_acquire);

	if (claim_owner(claim) != c->id)
		return false; /* completed as unhandled meanwhile */
	*req = (struct ivy_ioreq){ .vcpu = v,
				   .seq = claim_seq(claim),
				   .type = __atomic_load_n(&iv->type, __ATOMIC_RELAXED),
				   .dir = __atomic_load_n(&iv->dir, __ATOMIC_RELAXED),
				   .size = __atomic_load_n(&iv->size, __ATOMIC_RELAXED),
				   .pci_bdf = __atomic_load_n(&iv->bdf, __ATOMIC_RELAXED),
				   .addr = __atomic_load_n(&iv->addr, __ATOMIC_RELAXED),
				   .value = __atomic_load_n(&iv->wval, __ATOMIC_RELAXED) };
	/* Acquire fence, then recheck: the copy belongs to the request we claimed. */
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&iv->claim, memory_order_relaxed) == claim;
}

int ivy_ioreq_client_wait(struct ivy_ioreq_client *client, int64_t timeout_ns,
			  struct ivy_ioreq *req)
{
	struct ioreq_vm *io;
	_Atomic uint32_t *sleeping;
	uint64_t deadline = 0;
	int ret;

	if (!client || !req || client->ops || client->remote)
		return -EINVAL;
	io = client->io;
	sleeping = (_Atomic uint32_t *)&client->ctl->sleeping;
	if (timeout_ns > 0) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		deadline = (uint64_t)now.tv_sec * 1000000000ull + now.tv_nsec + timeout_ns;
	}
	atomic_fetch_add_explicit(&client->waiters, 1, memory_order_relaxed);
	for (;;) {
		int64_t v;
		uint32_t bell;
		int64_t left = -1;

		if (atomic_load_explicit(&client->dead, memory_order_acquire)) {
			ret = -ENODEV;
			break;
		}
		v = ivy_ioreq_ctl_take(client->ctl, io->nr_slots);
		if (v >= 0) {
			if (client_read_request(client, (uint32_t)v, req)) {
				ret = 0;
				break;
			}
			continue;
		}
		if (timeout_ns == 0) {
			ret = -EAGAIN;
			break;
		}
		if (timeout_ns > 0) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			left = (int64_t)(deadline -
					 ((uint64_t)now.tv_sec * 1000000000ull + now.tv_nsec));
			if (left <= 0) {
				ret = -ETIMEDOUT;
				break;
			}
		}
		bell = atomic_load_explicit(&client->doorbell, memory_order_acquire);
		atomic_fetch_add_explicit(sleeping, 1, memory_order_relaxed);
		/* Pairs with client_post(): it sees us sleeping or we see its bit. */
		atomic_thread_fence(memory_order_seq_cst);
		if (!ivy_ioreq_ctl_pending(client->ctl, io->nr_slots) &&
		    !atomic_load_explicit(&client->dead, memory_order_acquire))
			ioreq_futex_wait(&client->doorbell, bell, left, false);
		atomic_fetch_sub_explicit(sleeping, 1, memory_order_relaxed);
	}
	/* Release: the destroyer frees the client after it sees waiters at zero. */
	atomic_fetch_sub_explicit(&client->waiters, 1, memory_order_release);
	return ret;
}

int ivy_ioreq_client_complete(struct ivy_ioreq_client *client, const struct ivy_ioreq *req)
{
	struct ioreq_vm *io;
	struct ioreq_vcpu *iv;
	uint64_t c, done;

	if (!client || !req)
		return -EINVAL;
	io = client->io;
	if (req->vcpu >= io->nr_slots)
		return -EINVAL;
	iv = &io->vcpus[req->vcpu];
	c = atomic_load_explicit(&iv->claim, memory_order_acquire);
	done = claim_make(req->seq, client->id | IOREQ_OWNER_DONE);
	for (;;) {
		if (c == done)
			return -EALREADY;
		if (c != claim_make(req->seq, client->id))
			return -EPERM;
		if (atomic_compare_exchange_weak_explicit(
			    &iv->claim, &c, done, memory_order_acq_rel, memory_order_acquire))
			break;
	}
	slot_publish_complete(io, req->vcpu, req->value & ioreq_width_mask(iv->size),
			      IVY_IOREQ_RESULT_HANDLED, NULL, true);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Clear and teardown.                                                                        */

int ivy_ioreq_clear(struct ivy_vm *vm)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;

	if (!io || vm_is_destroyed(vm))
		return -ENODEV;
	/*
	 * Each vCPU thread still waiting consumes its (unhandled) completion and
	 * frees its slot itself: the requester owns COMPLETE. A paused VM has no
	 * vCPU inside the engine, so once this returns every slot is FREE or about
	 * to be.
	 */
	for (uint32_t v = 0; v < io->nr_slots; v++)
		request_complete_unhandled(io, v, 0);
	return 0;
}

void ioreq_vm_teardown(struct ivy_vm *vm)
{
	struct ioreq_vm *io = ioreq_vm_of(vm);

	if (!io)
		return;
	/* Step 2: dispatch stops, then what is in flight completes as unhandled. */
	atomic_store_explicit(&io->stopped, true, memory_order_relaxed);
	pthread_mutex_lock(&io->lock);
	ioreq_routes_synchronize(io);
	pthread_mutex_unlock(&io->lock);
	for (uint32_t v = 0; v < io->nr_slots; v++)
		request_complete_unhandled(io, v, 0);
	/* Step 3: clients, out-of-process ones first (their server thread goes too). */
	pthread_mutex_lock(&io->server_lock);
	ioreq_server_stop_locked(io);
	pthread_mutex_unlock(&io->server_lock);
	pthread_mutex_lock(&io->lock);
	while (io->clients) {
		struct ivy_ioreq_client *c = io->clients;

		client_shutdown_locked(io, c);
		/*
		 * The VMM still holds the handle: park the client until it calls
		 * ivy_ioreq_client_destroy() or drops the VM's last reference.
		 */
		c->next = io->zombies;
		io->zombies = c;
	}
	pthread_mutex_unlock(&io->lock);
	/* Step 4: irqfds and ioeventfds. */
	ioreq_irqfd_release_all(io);
	ioreq_ioeventfd_release_all(io);
}
