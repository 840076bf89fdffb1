/* SPDX-License-Identifier: MIT */
/*
 * Private definitions of the core objects: VMs, vCPUs, guest RAM slots, the
 * MMIO bus and devices. Only library code includes this header.
 *
 * Locks of the core, outermost first (the full tree, with the interrupt
 * controller's locks, is at the top of src/gic/vgic.c):
 *
 *   vm_registry_lock (rwlock)
 *     vm->config_lock          vCPU creation, devices list, RAM slot changes, destroy
 *       vm->bus_lock           writers of the MMIO bus table
 *       vm->mem_lock (rwlock)  RAM slot array (readers: every guest memory access)
 *   vm->log_lock               the message rate limit (a leaf: taken under any lock,
 *                              never held while calling out)
 *
 * The MMIO bus is read without locks: see src/core/mmio.c.
 */
#ifndef IVY_SRC_CORE_CORE_H
#define IVY_SRC_CORE_CORE_H

#include <ivy/ivy.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#define IVY_MAX_RAM_SLOTS 32
#define IVY_PAGE_SIZE	  4096ull

#ifdef IVY_DEBUG
#include <assert.h>
#define IVY_DEBUG_ASSERT(x) assert(x)
#else
#define IVY_DEBUG_ASSERT(x) ((void)0)
#endif

#define IVY_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define IVY_PRINTF(f, a)  __attribute__((format(printf, f, a)))

struct ioreq_vm;
struct ioreq_vcpu;
struct vgic_dist;
struct vgic_cpu;
struct device_type;

struct mem_slot {
	ivy_gpa_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct ivy_mmio_region {
	ivy_gpa_t base;
	uint64_t len;
	const struct ivy_mmio_ops *ops;
	void *opaque;
	/*
	 * Set when the region was removed but a smaller table could not be
	 * allocated: it stays in the table, unclaimed, until the next publish.
	 */
	atomic_bool removed;
};

/*
 * One region in a bus snapshot, with what an access needs copied in so that a
 * lookup and the call touch one entry rather than chase pointers.
 */
struct mmio_entry {
	ivy_gpa_t base;
	uint64_t len;
	struct ivy_mmio_ops ops;
	void *opaque;
	struct ivy_mmio_region *region;
};

/* An immutable, sorted snapshot of the bus; replaced whole by writers. */
struct mmio_table {
	uint32_t nr;
	/* Set once a region of this table has become a zombie (ivy_mmio_region.removed). */
	atomic_bool zombies;
	struct mmio_entry entries[];
};

struct ivy_device {
	struct ivy_vm *vm;
	const struct device_type *type;
	void *priv;		   /* the type's state */
	struct ivy_device *next;   /* vm->devices list, newest first */
	pthread_mutex_t attr_lock; /* Protects: serialises attribute calls on this device. */
};

/*
 * A device type: one const table per type (KVM's struct kvm_device_ops).
 * Attribute callbacks are called with dev->attr_lock held, after the core has
 * checked flags and addr.
 */
struct device_type {
	uint32_t type;
	const char *name;
	/* Builds dev->priv. May refuse (-EEXIST for a second interrupt controller). */
	int (*create)(struct ivy_device *dev);
	/* Frees dev->priv; unregisters MMIO regions. Cannot fail. */
	void (*destroy)(struct ivy_device *dev);
	int (*set_attr)(struct ivy_device *dev, const struct ivy_device_attr *attr);
	int (*get_attr)(struct ivy_device *dev, const struct ivy_device_attr *attr);
	int (*has_attr)(struct ivy_device *dev, const struct ivy_device_attr *attr);
	/* Optional: a vCPU is being added; may refuse (-EBUSY after initialisation). */
	int (*vcpu_create)(struct ivy_device *dev, struct ivy_vcpu *vcpu);
};

struct ivy_vcpu {
	struct ivy_vm *vm;
	uint32_t index;
	_Atomic uint64_t mpidr;
	void *user;
	/*
	 * Odd while this vCPU's thread is inside the MMIO bus (between looking up
	 * the table and leaving the handler); written only by that thread.
	 */
	atomic_uint bus_gen;
	/*
	 * The index of the bus entry this vCPU hit last: its next access, most
	 * often to the same device, checks that entry first. Any value is safe (it
	 * is checked against whatever table is current).
	 */
	atomic_uint bus_hint;
	/* Counters bumped on this vCPU's thread only (no shared cache line); summed on read. */
	_Atomic uint64_t stats[IVY_STAT_NR];
	/* Per-vCPU state of the subsystems, owned by them. */
	struct vgic_cpu *vgic;
	struct ioreq_vcpu *ioreq;
};

/*
 * How devices outside the interrupt controller (irqfds, the I/O-request engine,
 * device models) raise interrupts. The interrupt controller installs this in
 * vm->irq_ops when it is created and clears it when destroyed; readers load it
 * with acquire. Every member may be called from any thread.
 */
struct vm_irq_ops {
	/* Drives SPI `intid`'s input line (KVM_IRQ_LINE: level follows, edge on rising). */
	int (*set_spi)(struct ivy_vm *vm, uint32_t intid, bool level);
	/* An MSI write: 1 delivered, 0 blocked by the guest's configuration, -errno on error. */
	int (*signal_msi)(struct ivy_vm *vm, uint64_t doorbell, uint32_t data, uint32_t devid);
	/*
	 * Asks for fn(opaque) after each guest EOI of level SPI `intid` (resample).
	 * del removes it; when del returns, fn is not running and will not run again.
	 */
	int (*add_resample)(struct ivy_vm *vm, uint32_t intid, void (*fn)(void *opaque),
			    void *opaque);
	void (*del_resample)(struct ivy_vm *vm, uint32_t intid, void (*fn)(void *opaque),
			     void *opaque);
};

/* Callers inside vm->irq_ops, counted per stripe so that threads rarely share a line. */
#define VM_IRQ_STRIPES 16
struct vm_irq_stripe {
	_Alignas(64) atomic_uint inside;
};

struct ivy_vm {
	atomic_uint refs; /* the creator's reference, the registry's, and ivy_vm_get()'s */
	uint32_t id;
	char name[IVY_VM_NAME_MAX];
	uint32_t flags;
	uint32_t ipa_bits;
	uint32_t max_vcpus;
	struct ivy_vm_hooks hooks;
	/*
	 * Protects: the message rate limit (vm_log). A guest can cause messages
	 * (an access nobody handles), so at most VM_LOG_BURST go out in any
	 * VM_LOG_WINDOW_NS; the rest are counted and reported with the next one
	 * that goes out.
	 */
	pthread_mutex_t log_lock;
	uint64_t log_window_ns; /* start of the current window (monotonic) */
	uint32_t log_sent;	/* messages sent in the current window */
	uint64_t log_dropped;	/* messages suppressed since the last one sent */
	atomic_bool trace_on;
	atomic_bool destroyed;

	/* Protects: vcpus[] insertion, devices, RAM slot changes and the destroy sequence. */
	pthread_mutex_t config_lock;
	_Atomic(struct ivy_vcpu *) *vcpus; /* max_vcpus entries; published once, never removed */
	atomic_uint nr_vcpus;
	struct ivy_device *devices;

	/* Protects: mem_slots and nr_mem_slots (read-mostly). */
	pthread_rwlock_t mem_lock;
	struct mem_slot mem_slots[IVY_MAX_RAM_SLOTS]; /* sorted by gpa */
	uint32_t nr_mem_slots;

	/* Protects: writers of bus_table (register/unregister). Readers take no lock. */
	pthread_mutex_t bus_lock;
	_Atomic(struct mmio_table *) bus_table;

	_Atomic uint64_t stats[IVY_STAT_NR];

	/* Subsystem state, owned by the subsystems. */
	struct ioreq_vm *ioreq;
	struct vgic_dist *vgic;
	_Atomic(const struct vm_irq_ops *) irq_ops;
	struct vm_irq_stripe irq_users[VM_IRQ_STRIPES];
};

/*
 * Every call into vm->irq_ops is bracketed by these, so that the interrupt
 * controller can be destroyed while irqfd threads or API callers are injecting:
 * vm_irq_enter() returns the ops (NULL if there is no controller) and must be
 * paired with vm_irq_exit(vm, stripe) whatever it returned.
 */
const struct vm_irq_ops *vm_irq_enter(struct ivy_vm *vm, unsigned *stripe);
void vm_irq_exit(struct ivy_vm *vm, unsigned stripe);
/*
 * Installs (or, with NULL, removes) the interrupt controller's ops. Removing
 * waits until no caller is inside the old ops, so the controller may be freed
 * when it returns. Must not be called from inside an irq_ops call.
 */
void vm_irq_ops_publish(struct ivy_vm *vm, const struct vm_irq_ops *ops);

/* Logging and tracing through the VM's hooks. */
/* The message rate limit of vm_log(), per VM (the kernel's printk_ratelimit() defaults). */
#define VM_LOG_BURST	 10u
#define VM_LOG_WINDOW_NS 5000000000ull
void vm_log(struct ivy_vm *vm, enum ivy_log_level level, const char *fmt, ...) IVY_PRINTF(3, 4);
void vm_trace(struct ivy_vm *vm, enum ivy_trace_kind kind, int32_t vcpu, uint64_t a, uint64_t b);
void vm_kick(struct ivy_vm *vm, struct ivy_vcpu *vcpu);

static inline void vm_stat_inc(struct ivy_vm *vm, enum ivy_stat stat)
{
	atomic_fetch_add_explicit(&vm->stats[stat], 1, memory_order_relaxed);
}

/* For counters bumped on the vCPU's own thread: a plain add, no locked instruction. */
static inline void vcpu_stat_inc(struct ivy_vcpu *vcpu, enum ivy_stat stat)
{
	uint64_t v = atomic_load_explicit(&vcpu->stats[stat], memory_order_relaxed);

	atomic_store_explicit(&vcpu->stats[stat], v + 1, memory_order_relaxed);
}

static inline bool vm_is_destroyed(const struct ivy_vm *vm)
{
	return atomic_load_explicit(&vm->destroyed, memory_order_acquire);
}

/* True if [gpa, gpa + len) is within the VM's guest-physical address space. */
bool vm_gpa_range_valid(const struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t len);

/* RAM and MMIO must not overlap: each checks the other under config_lock. */
bool mem_overlaps_locked(struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t len);
bool mmio_overlaps_locked(struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t len);

/* ivy_mmio_register() for callers that already hold vm->config_lock. */
int mmio_register_locked(struct ivy_vm *vm, ivy_gpa_t base, uint64_t len,
			 const struct ivy_mmio_ops *ops, void *opaque,
			 struct ivy_mmio_region **out);

/* ivy_mmio_unregister() for teardown paths: cannot fail for a registered region. */
void mmio_remove(struct ivy_vm *vm, struct ivy_mmio_region *region);

/* Prepares the bus's memory-barrier strategy; called at VM creation. */
void mmio_bus_init(void);

/*
 * The fence pair of the lock-free tables that vCPUs read (the MMIO bus, the
 * I/O-request engine's routing): a reader's "inside" mark must be ordered
 * before its load of the table. Where membarrier(2) works the writer pays for
 * it and the reader needs only a compiler barrier (see src/core/mmio.c).
 */
extern atomic_bool mmio_membarrier_ok;
static inline void vm_reader_fence(void)
{
	if (atomic_load_explicit(&mmio_membarrier_ok, memory_order_relaxed))
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
}
void vm_writer_fence(void);

/* Bus teardown at VM destruction: drops every remaining region. */
void mmio_bus_release(struct ivy_vm *vm);

/* Device types. */
const struct device_type *device_type_find(uint32_t type);
/* Adds a type at run time (used by tests); -EEXIST if the number is taken, -ENOSPC. */
int device_type_register(const struct device_type *type);
/* Destroys every device of the VM, newest first (VM teardown). */
void device_destroy_all_locked(struct ivy_vm *vm);
/* Lets each device veto or prepare for a new vCPU. */
int device_vcpu_create_locked(struct ivy_vm *vm, struct ivy_vcpu *vcpu);

#endif /* IVY_SRC_CORE_CORE_H */
