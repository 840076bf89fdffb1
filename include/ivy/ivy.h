/* SPDX-License-Identifier: MIT */
/*
 * ivy — interrupt and I/O virtualization core for hypervisors.
 *
 * This is the public core API: VMs, vCPUs, guest memory, the in-process
 * MMIO bus, the device/attribute control plane, logging and tracing hooks.
 * The I/O-request engine and the interrupt controllers have their own
 * headers (ivy/ioreq.h, ivy/gic.h), which include this one.
 *
 * Conventions, everywhere in the library:
 *  - every fallible function returns 0 (or a non-negative count) on success
 *    and a negative errno on failure, and leaves state unchanged on failure;
 *  - the library never prints, exits or aborts on anything a guest or a
 *    caller can reach; it reports through the VM's hooks;
 *  - guest-physical addresses are ivy_gpa_t, host pointers are void *.
 */
#ifndef IVY_IVY_H
#define IVY_IVY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define IVY_MUST_CHECK __attribute__((warn_unused_result))
#else
#define IVY_MUST_CHECK
#endif

#define IVY_VERSION_MAJOR 0
#define IVY_VERSION_MINOR 1

/* A guest-physical address. Distinct name so a reader never confuses it with a host pointer. */
typedef uint64_t ivy_gpa_t;

struct ivy_vm;
struct ivy_vcpu;
struct ivy_device;
struct ivy_mmio_region;

/* The most vCPUs one VM can have (GICv3 limit chosen by ivy). */
#define IVY_MAX_VCPUS 512
/* Longest VM name, including the terminating NUL. */
#define IVY_VM_NAME_MAX 32

/* ------------------------------------------------------------------------------------------ */
/* Logging, tracing and kicks: how the library talks back to the VMM.                         */

enum ivy_log_level {
	IVY_LOG_ERROR = 0,
	IVY_LOG_WARN = 1,
	IVY_LOG_INFO = 2,
	IVY_LOG_DEBUG = 3,
};

/* Events a VMM can record (for example into a Perfetto trace). */
enum ivy_trace_kind {
	IVY_TRACE_IRQ_INJECT = 1, /* a = INTID, b = level/1 for edge */
	IVY_TRACE_IRQ_DELIVER,	  /* a = INTID placed in a list register */
	IVY_TRACE_IRQ_ACK,	  /* a = INTID acknowledged by the guest */
	IVY_TRACE_IRQ_EOI,	  /* a = INTID EOIed (priority drop) */
	IVY_TRACE_IOREQ_SUBMIT,	  /* a = address, b = client id */
	IVY_TRACE_IOREQ_COMPLETE, /* a = address, b = client id */
	IVY_TRACE_MMIO_UNCLAIMED, /* a = address, b = is_write */
};

struct ivy_trace_event {
	enum ivy_trace_kind kind;
	int32_t vcpu; /* vCPU index, or -1 when no vCPU is involved */
	uint64_t a;
	uint64_t b;
};

/*
 * Callbacks a VMM installs on a VM. Every member may be NULL. They are called
 * from whichever thread caused the event and must not call back into the VM
 * in a way that takes the VM's locks (injecting an interrupt from a kick is
 * fine; destroying the VM is not).
 */
struct ivy_vm_hooks {
	void *opaque;
	/*
	 * A message from the library; msg is NUL-terminated, no trailing newline.
	 * A guest can cause messages, so they are rate-limited per VM: at most 10
	 * in any 5 seconds; the number left out is reported in a message of its own
	 * ("N messages suppressed") before the next one that goes out.
	 */
	void (*log)(void *opaque, enum ivy_log_level level, const char *msg);
	/* A trace event; only called when tracing is enabled with ivy_vm_set_trace(). */
	void (*trace)(void *opaque, const struct ivy_trace_event *ev);
	/*
	 * A vCPU has new work (an interrupt became deliverable, a request completed):
	 * make it leave the guest soon or wake it from WFI.
	 */
	void (*kick)(void *opaque, struct ivy_vcpu *vcpu);
	/*
	 * The vCPU's thread is about to sleep inside the library (waiting for an I/O
	 * request to complete: blocked = true) or has woken (blocked = false). A VMM
	 * that runs one vCPU at a time hands its execution token over here.
	 */
	void (*vcpu_block)(void *opaque, struct ivy_vcpu *vcpu, bool blocked);
};

/* ------------------------------------------------------------------------------------------ */
/* VMs.                                                                                       */

struct ivy_vm_config {
	const char *name;   /* shown in logs; truncated to IVY_VM_NAME_MAX - 1 bytes; may be NULL */
	uint32_t nr_vcpus;  /* vCPUs created with the VM, 1..IVY_MAX_VCPUS */
	uint32_t max_vcpus; /* vCPUs that may exist at all; 0 means nr_vcpus */
	uint32_t flags;	    /* IVY_VM_F_*; unknown bits are refused with -EINVAL */
	/* Guest-physical address width in bits (KVM's IPA size), 32..52; 0 means 40. */
	uint32_t ipa_bits;
	const struct ivy_vm_hooks *hooks; /* copied; may be NULL */
};

/* Requests from vCPUs wait for completion by polling instead of sleeping (ACRN's polling mode). */
#define IVY_VM_F_IOREQ_POLLING (1u << 0)
#define IVY_VM_F_ALL	       (IVY_VM_F_IOREQ_POLLING)

/*
 * Creates a VM with cfg->nr_vcpus vCPUs and puts it in the registry.
 * On success *out holds the caller's reference, released by ivy_vm_close().
 * Errors: -EINVAL (bad config), -ENOMEM.
 */
IVY_MUST_CHECK int ivy_vm_create(const struct ivy_vm_config *cfg, struct ivy_vm **out);

/*
 * Tears the VM down, in this order: (1) the VM leaves the registry and no new
 * I/O requests are accepted; (2) in-flight I/O requests are completed as
 * unhandled and the dispatcher stops; (3) I/O clients are destroyed; (4) irqfds
 * and ioeventfds are released; (5) devices (interrupt controllers) are destroyed
 * newest first and their MMIO regions unregistered; (6) guest RAM slots are
 * forgotten (the memory belongs to the caller and is not touched).
 * Idempotent: a second call returns 0 and does nothing. The handle stays valid
 * until ivy_vm_close(); calls on a destroyed VM fail with -ENODEV.
 */
int ivy_vm_destroy(struct ivy_vm *vm);

/* Destroys the VM if needed and releases the caller's reference. NULL is ignored. */
void ivy_vm_close(struct ivy_vm *vm);

/*
 * Looks a live VM up by id. Returns a new reference the caller must release with
 * ivy_vm_put(), or NULL if no live VM has that id.
 */
struct ivy_vm *ivy_vm_get(uint32_t id);
void ivy_vm_put(struct ivy_vm *vm);

uint32_t ivy_vm_id(const struct ivy_vm *vm);
const char *ivy_vm_name(const struct ivy_vm *vm);
uint32_t ivy_vm_flags(const struct ivy_vm *vm);
uint32_t ivy_vm_ipa_bits(const struct ivy_vm *vm);
/* Number of vCPUs created so far (indices 0..n-1 are not necessarily all present: see below). */
uint32_t ivy_vm_nr_vcpus(const struct ivy_vm *vm);
uint32_t ivy_vm_max_vcpus(const struct ivy_vm *vm);
bool ivy_vm_is_destroyed(const struct ivy_vm *vm);

/* Enables or disables calls to hooks->trace. */
void ivy_vm_set_trace(struct ivy_vm *vm, bool on);

/* ------------------------------------------------------------------------------------------ */
/* vCPUs.                                                                                     */

/*
 * Adds vCPU `index` (< max_vcpus) to the VM, as KVM_CREATE_VCPU does.
 * Errors: -EINVAL index out of range, -EEXIST already present, -EBUSY an
 * interrupt controller is already initialised, -ENODEV VM destroyed.
 */
IVY_MUST_CHECK int ivy_vcpu_create(struct ivy_vm *vm, uint32_t index, struct ivy_vcpu **out);

/* The vCPU with that index, or NULL. The pointer lives as long as the VM handle. */
struct ivy_vcpu *ivy_vm_vcpu(struct ivy_vm *vm, uint32_t index);

uint32_t ivy_vcpu_index(const struct ivy_vcpu *vcpu);
struct ivy_vm *ivy_vcpu_vm(const struct ivy_vcpu *vcpu);

/*
 * MPIDR_EL1 as the guest sees it. The default follows KVM: Aff0 = index[3:0],
 * Aff1 = index[11:4], Aff2 = index[19:12], bit 31 (RES1) set.
 */
uint64_t ivy_vcpu_mpidr(const struct ivy_vcpu *vcpu);
/*
 * Changes a vCPU's MPIDR before the interrupt controller is initialised.
 * Errors: -EINVAL (affinity bits outside Aff0..Aff3, or another vCPU already has
 * that affinity), -EBUSY after initialisation.
 */
IVY_MUST_CHECK int ivy_vcpu_set_mpidr(struct ivy_vcpu *vcpu, uint64_t mpidr);
/* The vCPU whose MPIDR affinity equals mpidr's Aff3..Aff0, or NULL. */
struct ivy_vcpu *ivy_vm_vcpu_by_mpidr(struct ivy_vm *vm, uint64_t mpidr);

/* Sets a pointer the VMM wants to find again from a vCPU (for example its engine). */
void ivy_vcpu_set_user(struct ivy_vcpu *vcpu, void *user);
void *ivy_vcpu_user(const struct ivy_vcpu *vcpu);

/* ------------------------------------------------------------------------------------------ */
/* Guest RAM.                                                                                 */

/*
 * Registers [gpa, gpa + size) as guest RAM backed by host memory at hva (owned
 * by the caller, which must keep it mapped until the slot is removed or the VM
 * destroyed). gpa and size must be 4 KiB multiples.
 * Errors: -EINVAL (zero/unaligned/wrapping), -E2BIG (beyond the VM's IPA size),
 * -EEXIST (overlaps another slot or an MMIO region), -ENOSPC (too many slots).
 */
IVY_MUST_CHECK int ivy_vm_add_ram(struct ivy_vm *vm, ivy_gpa_t gpa, uint64_t size, void *hva);
/* Removes the slot that starts at gpa. Errors: -ENOENT. */
IVY_MUST_CHECK int ivy_vm_remove_ram(struct ivy_vm *vm, ivy_gpa_t gpa);

/*
 * Copies between guest RAM and a host buffer. The whole range must be RAM
 * (it may span adjacent slots); otherwise nothing is copied and -EFAULT is
 * returned. Safe from any thread.
 */
IVY_MUST_CHECK int ivy_guest_read(struct ivy_vm *vm, ivy_gpa_t gpa, void *buf, size_t len);
IVY_MUST_CHECK int ivy_guest_write(struct ivy_vm *vm, ivy_gpa_t gpa, const void *buf, size_t len);

/*
 * The host address of [gpa, gpa + len) if it lies inside a single RAM slot, else
 * NULL. The pointer is valid until that slot is removed.
 */
void *ivy_guest_ptr(struct ivy_vm *vm, ivy_gpa_t gpa, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Trapped accesses and the in-process MMIO bus.                                              */

/*
 * Handlers of an in-process MMIO device. `offset` is relative to the region's
 * base; len is 1, 2, 4 or 8. They run on the accessing vCPU's thread, and may
 * run concurrently on several vCPUs.
 */
struct ivy_mmio_ops {
	uint64_t (*read)(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len);
	void (*write)(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
		      uint64_t val);
};

/*
 * Claims [base, base + len) on the VM's MMIO bus.
 * Errors: -EINVAL (len 0 or range wraps, ops incomplete), -E2BIG (beyond the IPA
 * size), -EEXIST (overlaps another region or RAM), -ENOMEM, -ENODEV.
 */
IVY_MUST_CHECK int ivy_mmio_register(struct ivy_vm *vm, ivy_gpa_t base, uint64_t len,
				     const struct ivy_mmio_ops *ops, void *opaque,
				     struct ivy_mmio_region **out);
/*
 * Removes a region. When it returns, no vCPU other than the calling thread is
 * inside the region's handlers and none will enter them again, so the caller may
 * free `opaque` (a handler that unregisters its own region may of course still
 * finish). Errors: -ENOENT (not registered on this VM).
 */
IVY_MUST_CHECK int ivy_mmio_unregister(struct ivy_vm *vm, struct ivy_mmio_region *region);

/*
 * The single entry for a guest access trapped on `vcpu`: looks the address up
 * on the MMIO bus first, then hands it to the I/O-request engine. Accesses no
 * one claims read as all-ones, drop writes and are counted (IVY_STAT_MMIO_UNCLAIMED).
 * For reads *val receives the value (zero-extended to 64 bits); for writes
 * *val is the value. Errors: -EINVAL (len not 1/2/4/8, NULL val),
 * -ENODEV (VM destroyed).
 */
IVY_MUST_CHECK int ivy_vcpu_mmio(struct ivy_vcpu *vcpu, ivy_gpa_t gpa, unsigned len, bool is_write,
				 uint64_t *val);

/* Counters a developer can inspect. */
enum ivy_stat {
	IVY_STAT_MMIO_BUS,	  /* accesses answered by the in-process bus */
	IVY_STAT_MMIO_UNCLAIMED,  /* accesses nobody claimed (all-ones / dropped) */
	IVY_STAT_IOREQ,		  /* accesses turned into I/O requests */
	IVY_STAT_IOREQ_UNHANDLED, /* I/O requests completed as unhandled */
	IVY_STAT_GIC_BAD_ACCESS,  /* GIC accesses of a bad width/alignment/offset (RAZ/WI) */
	IVY_STAT_ITS_CMD_ERROR,	  /* ITS commands rejected with an error code */
	IVY_STAT_NR
};
uint64_t ivy_vm_stat(const struct ivy_vm *vm, enum ivy_stat stat);

/* ------------------------------------------------------------------------------------------ */
/* Devices and their attributes (KVM_CREATE_DEVICE / KVM_{SET,GET,HAS}_DEVICE_ATTR).          */

/* Device types; the numbers are KVM's (enum kvm_device_type). */
enum ivy_device_type {
	IVY_DEV_TYPE_ARM_VGIC_V2 = 5,
	IVY_DEV_TYPE_ARM_VGIC_V3 = 7,
	IVY_DEV_TYPE_ARM_VGIC_ITS = 8,
};

/*
 * One attribute access, as struct kvm_device_attr: `addr` points to the
 * value (a uint64_t for address attributes, a uint32_t for most others, as
 * each group documents). `flags` must be 0.
 */
struct ivy_device_attr {
	uint32_t flags;
	uint32_t group;
	uint64_t attr;
	void *addr;
};

/*
 * Creates a device on the VM. Errors: -ENODEV (unknown type, or VM destroyed),
 * -EEXIST (the type allows only one per VM and one exists), -ENOMEM, and
 * whatever the type's constructor refuses.
 */
IVY_MUST_CHECK int ivy_device_create(struct ivy_vm *vm, uint32_t type, struct ivy_device **out);
/* Destroys a device: unregisters its MMIO regions and frees it. Errors: -ENOENT. */
IVY_MUST_CHECK int ivy_device_destroy(struct ivy_device *dev);
/*
 * KVM's conventions: -ENXIO for an unknown group or attribute, -EINVAL for bad
 * flags or values, -EFAULT for a NULL addr, -EBUSY for state that can no longer
 * change. has_attr returns 0 if the attribute exists, -ENXIO if not.
 */
IVY_MUST_CHECK int ivy_device_set_attr(struct ivy_device *dev, const struct ivy_device_attr *attr);
IVY_MUST_CHECK int ivy_device_get_attr(struct ivy_device *dev, const struct ivy_device_attr *attr);
IVY_MUST_CHECK int ivy_device_has_attr(struct ivy_device *dev, const struct ivy_device_attr *attr);
uint32_t ivy_device_type(const struct ivy_device *dev);
struct ivy_vm *ivy_device_vm(const struct ivy_device *dev);

/* Human-readable name of a negative errno value returned by ivy (strerror-like). */
const char *ivy_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* IVY_IVY_H */
