/* SPDX-License-Identifier: MIT */
/*
 * Private definitions of the I/O-request engine.
 *
 * Locks, outermost first (below vm->config_lock of the core):
 *
 *   io->lock          clients list, routing-table writers, ECAM window, client ids
 *     io->irqfd_lock  irqfd list; held by the irqfd thread while it injects
 *   io->server_lock   the socket server's connection list (taken before io->lock)
 *
 * The routing table is read without locks, the same way as the MMIO bus: each
 * vCPU makes its own `gen` odd while it looks a client up and assigns its
 * request, and a writer that replaced the table waits until no vCPU is still
 * inside with the old one (ioreq_routes_synchronize).
 *
 * A request's ownership lives in the vCPU's private `claim` word, never in the
 * shared pages: (seq << 32) | owner, where owner is 0 (no request), a client id,
 * or that id | IOREQ_OWNER_DONE once someone completed it. Every completer
 * (the client, the unhandled path of a destroy or a clear, the vCPU accepting
 * an out-of-process answer) wins a compare-and-swap on it first, so each
 * request completes exactly once and only its owner can complete it.
 */
#ifndef IVY_SRC_IOREQ_IOREQ_H
#define IVY_SRC_IOREQ_IOREQ_H

#include <ivy/ioreq.h>

#include "core/core.h"

#define IOREQ_OWNER_NONE    0u
#define IOREQ_OWNER_DONE    0x80000000u
#define IOREQ_MAX_CLIENT_ID 0x7fffffffu
#define IOREQ_NR_SPACES	    3 /* MMIO, PIO, PCI: index type - 1 */

/* An inclusive range claimed by a client. */
struct ioreq_range {
	uint64_t start, end;
	struct ivy_ioreq_client *client;
};

struct ioreq_ioeventfd {
	int fd; /* our duplicate, closed when the registration goes */
	int user_fd;
	uint32_t flags;
	uint32_t len;
	uint64_t addr;
	uint64_t datamatch;
};

/* An immutable routing snapshot, replaced whole under io->lock. */
struct ioreq_routes {
	struct ivy_ioreq_client *dflt;
	struct ioreq_range *ranges[IOREQ_NR_SPACES]; /* sorted by start, disjoint */
	uint32_t nr_ranges[IOREQ_NR_SPACES];
	struct ioreq_ioeventfd *evs;
	uint32_t nr_evs;
	ivy_gpa_t ecam_base;
	uint64_t ecam_size; /* 0: no ECAM window */
	uint8_t ecam_bus;
};

struct ivy_ioreq_client {
	/* Read-mostly: what dispatch looks at on every request. */
	struct ioreq_vm *io;
	uint32_t id;
	uint32_t flags;
	const struct ivy_ioreq_client_ops *ops; /* NULL: asynchronous */
	void *opaque;
	bool remote; /* out-of-process: slots and ctl live in memfd */
	atomic_bool dead;
	struct ivy_ioreq_ctl *ctl;
	/* Out-of-process: the client's own copy of the slots, then the control page. */
	struct ivy_ioreq_slot *slots;
	size_t map_size;
	int memfd;
	int kick_fd;
	char name[32];
	struct ivy_ioreq_client *next; /* io->clients */
	/*
	 * One reference for the handle, one per vCPU holding a request assigned to
	 * the client (it touches the client's memory until it has consumed the
	 * completion). The last put frees the client, so a destroy never waits
	 * for vCPU threads. Own cache line: every request writes it.
	 */
	_Alignas(64) atomic_uint refs;
	/*
	 * The serving side's words, away from what vCPUs read: threads inside
	 * ivy_ioreq_client_wait(), and the futex word that wakes them.
	 */
	_Alignas(64) atomic_uint waiters;
	atomic_uint doorbell;
};

struct ioreq_vcpu {
	/* Odd while this vCPU's thread is inside a routing read section. */
	atomic_uint gen;
	/* (seq << 32) | owner: see the top of this file. */
	_Atomic uint64_t claim;
	/*
	 * The vCPU's own copy of its request, written by the vCPU's thread only.
	 * Clients read it (with relaxed atomics, then recheck the claim, like a
	 * seqlock) instead of the shared slot, whose value word completers write.
	 */
	uint32_t seq;
	uint32_t type, dir, size, bdf;
	uint64_t addr, wval;
	struct ivy_ioreq_client *client; /* the request's client while it is in flight */
} __attribute__((aligned(64)));

struct irqfd;

struct ioreq_vm {
	struct ivy_vm *vm;
	uint32_t nr_slots; /* vm->max_vcpus */
	int memfd;
	struct ivy_ioreq_slot *slots;
	size_t map_size;
	struct ioreq_vcpu *vcpus;
	atomic_bool stopped; /* VM teardown began: no more dispatch */
	bool polling;	     /* IVY_VM_F_IOREQ_POLLING */
	/* How long a vCPU waits for a client before completing as unhandled; 0: forever. */
	_Atomic uint64_t timeout_ns;
	_Atomic uint64_t timeouts; /* requests completed by that timeout */

	/* Protects: clients, next_client_id and writers of routes. */
	pthread_mutex_t lock;
	_Atomic(struct ioreq_routes *) routes;
	struct ivy_ioreq_client *clients;
	/* Clients shut down by the VM's teardown whose handles the VMM still holds. */
	struct ivy_ioreq_client *zombies;
	uint32_t next_client_id;
	_Atomic uint32_t cf8; /* the PCI configuration address latch at port 0xCF8 */

	/* Protects: irqfds, the irqfd thread's start and stop. */
	pthread_mutex_t irqfd_lock;
	struct irqfd *irqfds;
	uint64_t irqfd_next_key;
	int irqfd_epfd;
	int irqfd_stopfd;
	bool irqfd_thread_on;
	pthread_t irqfd_thread;

	/* Protects: the server's fields. */
	pthread_mutex_t server_lock;
	struct ioreq_server *server;

	/* Protects: ram[], nr_ram, dma_hook, dma_opaque (read by the server thread). */
	pthread_mutex_t ram_lock;
	struct ivy_ioreq_ram ram[IVY_IOREQ_MAX_SHARED_RAM]; /* fds are ours (duplicates) */
	unsigned nr_ram;
	ivy_ioreq_dma_hook_t dma_hook;
	void *dma_opaque;
};

/* The engine of a VM, or NULL if ivy_ioreq_init() was never called. */
static inline struct ioreq_vm *ioreq_vm_of(struct ivy_vm *vm)
{
	return __atomic_load_n(&vm->ioreq, __ATOMIC_ACQUIRE);
}

/* Hooks of the core (src/core). */
int ioreq_vcpu_mmio(struct ioreq_vm *io, struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len,
		    bool is_write, uint64_t *val);
/* Steps 2-4 of ivy_vm_destroy(). */
void ioreq_vm_teardown(struct ivy_vm *vm);
/* Frees the engine's memory with the VM's last reference. */
void ioreq_vm_free(struct ivy_vm *vm);

/* Routing (route.c). */
struct ioreq_routes *ioreq_routes_clone(const struct ioreq_routes *old);
void ioreq_routes_free(struct ioreq_routes *r);
/* Publishes `next`, waits for readers of the old table, frees it. Caller holds io->lock. */
void ioreq_routes_publish_locked(struct ioreq_vm *io, struct ioreq_routes *next);
struct ivy_ioreq_client *ioreq_route_lookup(const struct ioreq_routes *r, uint32_t type,
					    uint64_t addr, unsigned size);
int ioreq_range_insert(struct ioreq_routes *r, uint32_t type, uint64_t start, uint64_t end,
		       struct ivy_ioreq_client *client);
int ioreq_range_remove(struct ioreq_routes *r, uint32_t type, uint64_t start, uint64_t end,
		       struct ivy_ioreq_client *client);
/* Drops every claim of `client` (and its default role). */
void ioreq_routes_forget_client(struct ioreq_routes *r, struct ivy_ioreq_client *client);
/* A write that matches an ioeventfd: signals it and returns true. */
bool ioreq_ioeventfd_signal(const struct ioreq_routes *r, bool pio, uint64_t addr, unsigned len,
			    uint64_t val);
void ioreq_routes_synchronize(struct ioreq_vm *io);

/* Requests (ioreq.c), exposed for the fuzz target and tests. */
struct ioreq_access {
	uint32_t type, dir, size, bdf;
	uint64_t addr, value;
};
/* Starts a request; returns true if it already finished (*val holds a read's result). */
bool ioreq_request_start(struct ioreq_vm *io, uint32_t v, const struct ioreq_access *acc,
			 uint64_t *val);
/* Checks once whether the request of vCPU v completed. */
bool ioreq_request_poll(struct ioreq_vm *io, uint32_t v);
/* Consumes the completed request (slot back to FREE); returns the value for reads. */
uint64_t ioreq_request_finish(struct ioreq_vm *io, uint32_t v);

/* Out-of-process clients (ioreq.c), used by the socket server and tests. */
int ioreq_client_create_remote(struct ioreq_vm *io, const char *name,
			       struct ivy_ioreq_client **out);
int ioreq_client_set_default(struct ivy_ioreq_client *client);
/* irqfd teardown (irqfd.c). */
void ioreq_irqfd_release_all(struct ioreq_vm *io);
void ioreq_ioeventfd_release_all(struct ioreq_vm *io);
/* Server teardown (server.c). */
void ioreq_server_stop_locked(struct ioreq_vm *io);

/* Futex helpers. */
void ioreq_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns, bool shared);
void ioreq_futex_wake(_Atomic uint32_t *word, int n, bool shared);

static inline uint64_t ioreq_width_mask(unsigned len)
{
	return len >= 8 ? ~0ull : (1ull << (len * 8)) - 1;
}

/* The shared state word of a slot, accessed atomically. */
static inline _Atomic uint32_t *ioreq_slot_state(struct ivy_ioreq_slot *s)
{
	return (_Atomic uint32_t *)&s->state;
}

#endif /* IVY_SRC_IOREQ_IOREQ_H */
