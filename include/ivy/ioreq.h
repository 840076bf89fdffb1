/* SPDX-License-Identifier: MIT */
/*
 * ivy's I/O-request engine (ACRN's Hypervisor Service Module, in a library).
 *
 * A guest access that no in-process device answers becomes an I/O request in
 * the requesting vCPU's slot of the VM's request pages, is assigned to the
 * client that claimed the address, and completes when that client answers.
 *
 * Slot states, and who may move a slot out of each:
 *
 *   FREE (0) --requester--> PENDING (1) --service--> PROCESSING (2)
 *        ^                                                 |
 *        +---requester---- COMPLETE (3) <----service-------+
 *
 * FREE is 0 so that a zero page is sixteen free slots (ACRN uses FREE = 3 and
 * PENDING = 0; ivy does not). Each side writes the body of the slot first and
 * publishes the state word last with release ordering; readers load the state
 * with acquire before they look at the body.
 *
 * Clients come in three kinds:
 *  - synchronous in-process clients: a handler called on the vCPU's thread;
 *  - asynchronous in-process clients: any thread calls ivy_ioreq_client_wait()
 *    and ivy_ioreq_client_complete();
 *  - out-of-process clients: a process connected to the VM's Unix socket (see
 *    docs/ioreq-protocol.md and ivy/client.h).
 *
 * A request nobody serves completes as "unhandled": reads return all-ones,
 * writes are dropped, IVY_STAT_IOREQ_UNHANDLED counts it and the VM's log hook
 * reports it.
 */
#ifndef IVY_IOREQ_H
#define IVY_IOREQ_H

#include <ivy/ivy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* The wire layout shared with out-of-process clients.                                        */

#define IVY_IOREQ_SLOT_SIZE	 256u
#define IVY_IOREQ_PAGE_SIZE	 4096u
#define IVY_IOREQ_SLOTS_PER_PAGE (IVY_IOREQ_PAGE_SIZE / IVY_IOREQ_SLOT_SIZE)

enum ivy_ioreq_state {
	IVY_IOREQ_STATE_FREE = 0,	/* no request; the requester may fill the slot */
	IVY_IOREQ_STATE_PENDING = 1,	/* body written, not yet assigned to a client */
	IVY_IOREQ_STATE_PROCESSING = 2, /* assigned to client_id, which must answer */
	IVY_IOREQ_STATE_COMPLETE = 3,	/* answered; the requester consumes it */
};

enum ivy_ioreq_type {
	IVY_IOREQ_TYPE_MMIO = 1, /* addr = guest-physical address */
	IVY_IOREQ_TYPE_PIO = 2,	 /* addr = port, 0..0xffff */
	IVY_IOREQ_TYPE_PCI = 3,	 /* addr = config register offset 0..4095, pci_bdf = target */
};

enum ivy_ioreq_dir {
	IVY_IOREQ_READ = 0,
	IVY_IOREQ_WRITE = 1,
};

/* slot.result, written by the VMM only. */
#define IVY_IOREQ_RESULT_HANDLED   0u
#define IVY_IOREQ_RESULT_UNHANDLED 1u

/* A PCI function's bus/device/function as one number: bus[15:8], device[7:3], function[2:0]. */
#define IVY_PCI_BDF(bus, dev, fn) ((((bus)&0xffu) << 8) | (((dev)&0x1fu) << 3) | ((fn)&7u))

/*
 * One request slot: 256 bytes, slot i of page p belongs to vCPU 16 * p + i.
 * Every field is little-endian host order. Fields a client may write are
 * marked (client); the VMM never trusts them: it keeps its own copy of the
 * request and only reads `state` and `value` back, masked to the size it asked.
 */
struct ivy_ioreq_slot {
	uint32_t state;		     /* 0x00 enum ivy_ioreq_state; a futex word (client) */
	uint32_t type;		     /* 0x04 enum ivy_ioreq_type */
	uint32_t dir;		     /* 0x08 enum ivy_ioreq_dir */
	uint32_t size;		     /* 0x0c access width in bytes: 1, 2, 4 or 8 */
	uint64_t addr;		     /* 0x10 address, port, or PCI register offset */
	uint64_t value;		     /* 0x18 write data, or read result (client) */
	uint32_t completion_polling; /* 0x20 1: the vCPU polls, the client need not wake it */
	uint32_t client_id;	     /* 0x24 the client the request is assigned to */
	uint32_t pci_bdf;	     /* 0x28 PCI requests: IVY_PCI_BDF() of the target */
	uint32_t vcpu;		     /* 0x2c index of the requesting vCPU */
	uint32_t seq;		     /* 0x30 per-vCPU request number; echoes stale answers */
	uint32_t result;	     /* 0x34 IVY_IOREQ_RESULT_* (VMM's own pages only) */
	uint8_t reserved[200];	     /* 0x38 zero */
};

/*
 * The control page that follows an out-of-process client's slot pages: which
 * vCPUs have a request assigned to the client, and whether it sleeps.
 */
struct ivy_ioreq_ctl {
	uint64_t pending[IVY_MAX_VCPUS / 64]; /* 0x00 bit v: vCPU v's slot awaits the client */
	uint32_t sleeping; /* 0x40 (client) nonzero: the client waits on its kick eventfd */
	uint32_t reserved0;
	uint8_t reserved[4096 - 0x48];
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct ivy_ioreq_slot) == IVY_IOREQ_SLOT_SIZE, "slot is 256 bytes");
_Static_assert(__builtin_offsetof(struct ivy_ioreq_slot, state) == 0x00, "state");
_Static_assert(__builtin_offsetof(struct ivy_ioreq_slot, addr) == 0x10, "addr");
_Static_assert(__builtin_offsetof(struct ivy_ioreq_slot, value) == 0x18, "value");
_Static_assert(__builtin_offsetof(struct ivy_ioreq_slot, client_id) == 0x24, "client_id");
_Static_assert(__builtin_offsetof(struct ivy_ioreq_slot, seq) == 0x30, "seq");
_Static_assert(__builtin_offsetof(struct ivy_ioreq_slot, reserved) == 0x38, "reserved");
_Static_assert(sizeof(struct ivy_ioreq_ctl) == IVY_IOREQ_PAGE_SIZE, "control page");
_Static_assert(__builtin_offsetof(struct ivy_ioreq_ctl, sleeping) == 0x40, "sleeping");
#endif

/*
 * The serving side of the control page's pending bitmap: takes one vCPU whose
 * slot awaits the client and returns its index, or -1. The acquire pairs with
 * the VMM's release when it set the bit, so the slot's body is visible.
 */
static inline int64_t ivy_ioreq_ctl_take(struct ivy_ioreq_ctl *ctl, uint32_t nr_slots)
{
	for (uint32_t w = 0; w < (nr_slots + 63) / 64 && w < IVY_MAX_VCPUS / 64; w++) {
		uint64_t bits = __atomic_load_n(&ctl->pending[w], __ATOMIC_RELAXED);

		while (bits) {
			uint64_t bit = bits & (~bits + 1);

			bits = __atomic_fetch_and(&ctl->pending[w], ~bit, __ATOMIC_ACQUIRE);
			if (bits & bit)
				return (int64_t)w * 64 + __builtin_ctzll(bit);
			bits &= ~bit;
		}
	}
	return -1;
}

/* True if any bit of the pending bitmap is set. */
static inline bool ivy_ioreq_ctl_pending(const struct ivy_ioreq_ctl *ctl, uint32_t nr_slots)
{
	for (uint32_t w = 0; w < (nr_slots + 63) / 64 && w < IVY_MAX_VCPUS / 64; w++)
		if (__atomic_load_n(&ctl->pending[w], __ATOMIC_RELAXED))
			return true;
	return false;
}

/* Number of slot pages for a VM with max_vcpus vCPUs. */
static inline uint32_t ivy_ioreq_nr_pages(uint32_t max_vcpus)
{
	return (max_vcpus + IVY_IOREQ_SLOTS_PER_PAGE - 1) / IVY_IOREQ_SLOTS_PER_PAGE;
}

/* ------------------------------------------------------------------------------------------ */
/* The engine.                                                                                */

/*
 * Sets up the I/O-request engine of a VM: allocates the request pages (a memfd)
 * and routes every access the MMIO bus does not answer, and every port access,
 * through it. Dispatch runs on the requesting vCPU's thread. A vCPU waits for
 * its request by polling when the VM has IVY_VM_F_IOREQ_POLLING, else it sleeps
 * on a futex, calling hooks.vcpu_block(opaque, vcpu, true) before and
 * (..., false) after; the synchronous path never waits. Errors: -EEXIST (already set up), -ENODEV (VM destroyed), -ENOMEM,
 * or the errno of memfd_create/mmap.
 */
IVY_MUST_CHECK int ivy_ioreq_init(struct ivy_vm *vm);

/*
 * The memfd holding the VM's own request pages, or -ENODEV. The fd stays owned
 * by the VM. These pages are the canonical state of every request: share them
 * only with trusted observers (a debugger, a monitor). Out-of-process clients
 * never get them; each receives pages of its own (docs/ioreq-protocol.md).
 */
int ivy_ioreq_pages_fd(struct ivy_vm *vm);

/*
 * Port I/O trapped on `vcpu`: the port-space twin of ivy_vcpu_mmio(). Port
 * 0xCF8 (32-bit accesses) is the PCI configuration address register and
 * 0xCFC-0xCFF the data window; they become PCI configuration requests.
 * Errors: -EINVAL (len not 1/2/4, port beyond 0xffff, NULL val), -ENODEV
 * (VM destroyed or no engine).
 */
IVY_MUST_CHECK int ivy_vcpu_pio(struct ivy_vcpu *vcpu, uint16_t port, unsigned len, bool is_write,
				uint64_t *val);

/*
 * Declares an ECAM window: [base, base + size) maps bus first_bus + (off >> 20),
 * device (off >> 15) & 31, function (off >> 12) & 7, register off & 0xfff.
 * size must be a multiple of 1 MiB, at most 256 MiB, and first_bus + buses <= 256.
 * size 0 removes the window. Errors: -EINVAL, -E2BIG (beyond the IPA size), -ENODEV.
 */
IVY_MUST_CHECK int ivy_ioreq_set_ecam(struct ivy_vm *vm, ivy_gpa_t base, uint64_t size,
				      uint8_t first_bus);

/*
 * ACRN's CLEAR_VM_IOREQ, for a paused VM being reset: completes every
 * outstanding request as unhandled, so each vCPU thread waiting in one returns
 * all-ones (or drops its write) and frees its slot; clients lose those
 * requests (their completions get -EALREADY). Errors: -ENODEV.
 */
IVY_MUST_CHECK int ivy_ioreq_clear(struct ivy_vm *vm);

/* The default of ivy_ioreq_set_timeout(): 10 seconds. */
#define IVY_IOREQ_DEFAULT_TIMEOUT_NS 10000000000ull

/*
 * A client that is alive but never answers must not wedge a vCPU: a request
 * still unanswered `timeout_ns` after it was dispatched completes as unhandled
 * (reads all-ones, writes dropped, counted and logged), and the client's late
 * answer is refused with -EALREADY. 0 waits forever. Applies to requests that
 * start waiting after the call. Errors: -EINVAL, -ENODEV (no engine).
 */
IVY_MUST_CHECK int ivy_ioreq_set_timeout(struct ivy_vm *vm, uint64_t timeout_ns);
/* Requests completed by the timeout so far. */
uint64_t ivy_ioreq_timeouts(struct ivy_vm *vm);

/* ------------------------------------------------------------------------------------------ */
/* In-process clients.                                                                        */

struct ivy_ioreq_client;

/* One request as a client sees it. */
struct ivy_ioreq {
	uint32_t vcpu; /* requesting vCPU */
	uint32_t seq;  /* identifies this request of that vCPU */
	uint32_t type; /* enum ivy_ioreq_type */
	uint32_t dir;  /* enum ivy_ioreq_dir */
	uint32_t size; /* 1, 2, 4, 8 */
	uint32_t pci_bdf;
	uint64_t addr;
	uint64_t value; /* write data; the client puts the read result here */
};

struct ivy_ioreq_client_ops {
	/*
	 * The synchronous path: called on the requesting vCPU's thread, possibly on
	 * several vCPUs at once. Fill req->value for reads and return 0, or return a
	 * negative errno to complete the request as unhandled. It runs inside the
	 * routing read section, so it must not change routing (create or destroy
	 * clients, claim ranges, assign ioeventfds, set the ECAM window): those
	 * wait for every vCPU to leave the section and would wait for themselves.
	 */
	int (*handle)(void *opaque, struct ivy_ioreq *req);
};

/* This client receives every request no other client claims (at most one per VM). */
#define IVY_IOREQ_CLIENT_F_DEFAULT (1u << 0)

struct ivy_ioreq_client_config {
	const char *name; /* copied, truncated to 31 bytes; may be NULL */
	uint32_t flags;	  /* IVY_IOREQ_CLIENT_F_* */
	/* NULL for an asynchronous client (served with ivy_ioreq_client_wait/complete). */
	const struct ivy_ioreq_client_ops *ops;
	void *opaque;
};

/*
 * Creates a client. Errors: -EINVAL, -EEXIST (a default client exists and
 * IVY_IOREQ_CLIENT_F_DEFAULT was asked), -ENODEV (no engine or VM destroyed),
 * -ENOSPC (client ids exhausted), -ENOMEM.
 */
IVY_MUST_CHECK int ivy_ioreq_client_create(struct ivy_vm *vm,
					   const struct ivy_ioreq_client_config *cfg,
					   struct ivy_ioreq_client **out);

/*
 * Destroys a client: it stops receiving requests, its in-flight requests
 * complete as unhandled, threads in ivy_ioreq_client_wait() return -ENODEV,
 * and when it returns no handler of the client runs (it waits for those
 * waiting threads to leave, not for vCPUs). After ivy_vm_destroy() the client
 * is already shut down and this only frees it; a handle never destroyed is
 * freed with the VM's last reference. Errors: -EINVAL (NULL).
 */
IVY_MUST_CHECK int ivy_ioreq_client_destroy(struct ivy_ioreq_client *client);

uint32_t ivy_ioreq_client_id(const struct ivy_ioreq_client *client);

/*
 * Claims [start, end] (inclusive) of one address space for the client: MMIO
 * addresses, ports (end <= 0xffff) or PCI functions (IVY_PCI_BDF() numbers,
 * end <= 0xffff). An access is routed to a range only if it lies wholly inside.
 * Errors: -EINVAL (start > end, bad type), -EEXIST (overlaps a claim of any
 * client, or the ECAM window for MMIO), -ENODEV, -ENOMEM.
 */
IVY_MUST_CHECK int ivy_ioreq_client_add_range(struct ivy_ioreq_client *client, uint32_t type,
					      uint64_t start, uint64_t end);
/* Drops a claim made with exactly these bounds. Errors: -ENOENT, -ENODEV, -ENOMEM. */
IVY_MUST_CHECK int ivy_ioreq_client_del_range(struct ivy_ioreq_client *client, uint32_t type,
					      uint64_t start, uint64_t end);

/*
 * Takes the next request assigned to an asynchronous client. timeout_ns 0
 * polls once, negative waits forever. Returns 0 with *req filled, -EAGAIN
 * (polling, nothing there), -ETIMEDOUT, -ENODEV (client being destroyed),
 * -EINVAL (synchronous client or NULL). Any number of threads may wait.
 */
IVY_MUST_CHECK int ivy_ioreq_client_wait(struct ivy_ioreq_client *client, int64_t timeout_ns,
					 struct ivy_ioreq *req);

/*
 * Completes the request req->vcpu / req->seq with req->value (the read
 * result; ignored for writes). Any thread may call it.
 * Errors: -EINVAL (vCPU index out of range), -EPERM (the request is not
 * assigned to this client), -EALREADY (already completed).
 */
IVY_MUST_CHECK int ivy_ioreq_client_complete(struct ivy_ioreq_client *client,
					     const struct ivy_ioreq *req);

/* ------------------------------------------------------------------------------------------ */
/* ioeventfd and irqfd (KVM's KVM_IOEVENTFD and KVM_IRQFD).                                   */

#define IVY_IOEVENTFD_F_PIO	  (1u << 0) /* port I/O instead of MMIO */
#define IVY_IOEVENTFD_F_DATAMATCH (1u << 1) /* only writes of `datamatch` match */

struct ivy_ioeventfd {
	int fd;		    /* an eventfd; duplicated, the caller keeps its own */
	uint32_t flags;	    /* IVY_IOEVENTFD_F_* */
	uint64_t addr;	    /* guest-physical address or port */
	uint32_t len;	    /* 1, 2, 4 or 8 (port I/O: 1, 2, 4) */
	uint64_t datamatch; /* compared with the written value masked to len */
};

/*
 * A guest write of exactly `len` bytes at `addr` (and, with DATAMATCH, of that
 * value) signals the eventfd and completes at once; no client sees it. Any other
 * access, including a write that does not match, goes through normal dispatch.
 * Errors: -EINVAL, -EEXIST (same address, length and space, and either a
 * wildcard or the same datamatch), -EBADF, -ENODEV, -ENOMEM.
 */
IVY_MUST_CHECK int ivy_ioeventfd_assign(struct ivy_vm *vm, const struct ivy_ioeventfd *ev);
/*
 * Removes the registration with the same fd number, flags, address, length and
 * datamatch. When it returns, the eventfd is no longer signalled. Errors: -ENOENT.
 */
IVY_MUST_CHECK int ivy_ioeventfd_deassign(struct ivy_vm *vm, const struct ivy_ioeventfd *ev);

#define IVY_IRQFD_F_MSI (1u << 0) /* inject an MSI instead of an SPI */

struct ivy_irqfd {
	int fd;		 /* an eventfd; duplicated */
	int resample_fd; /* an eventfd signalled after the guest EOIs the level SPI, or -1 */
	uint32_t flags;	 /* IVY_IRQFD_F_* */
	uint32_t spi;	 /* SPI INTID (32..1019) for SPI irqfds */
	uint64_t msi_doorbell;
	uint32_t msi_data;
	uint32_t msi_devid;
};

/*
 * Each write to the eventfd injects the SPI (an edge: the line pulses; with a
 * resample fd the line is held high until the guest EOIs it, then lowered and
 * resample_fd signalled) or the MSI, through the interrupt controller's routing.
 * Errors: -ENODEV (no interrupt controller, or VM destroyed), -EINVAL, -EBUSY
 * (this fd is already an irqfd of the VM), -EBADF, -ENOMEM.
 */
IVY_MUST_CHECK int ivy_irqfd_assign(struct ivy_vm *vm, const struct ivy_irqfd *irqfd);
/*
 * Removes the irqfd using fd number `fd`. When it returns, that irqfd injects
 * nothing more. Errors: -ENOENT.
 */
IVY_MUST_CHECK int ivy_irqfd_deassign(struct ivy_vm *vm, int fd);

/* ------------------------------------------------------------------------------------------ */
/* Out-of-process clients.                                                                    */

/*
 * Starts serving out-of-process clients on a Unix SOCK_SEQPACKET socket bound
 * at `path` (which must not exist). A thread of the library accepts clients and
 * watches them; a client whose socket closes is destroyed like
 * ivy_ioreq_client_destroy() within milliseconds. Errors: -EEXIST (already
 * serving), -ENAMETOOLONG, -ENODEV, or the errno of socket/bind/listen.
 */
IVY_MUST_CHECK int ivy_ioreq_server_start(struct ivy_vm *vm, const char *path);
/* Stops serving: disconnects and destroys every out-of-process client, unlinks the path. */
void ivy_ioreq_server_stop(struct ivy_vm *vm);

/* A piece of guest RAM that out-of-process clients may map for their DMA. */
struct ivy_ioreq_ram {
	ivy_gpa_t gpa;	 /* where the guest sees it */
	uint64_t size;	 /* bytes, a multiple of 4 KiB */
	int fd;		 /* a mappable descriptor (memfd) holding it; ivy keeps a duplicate */
	uint64_t offset; /* of gpa in fd, a multiple of 4 KiB */
};

/* Called when a client says it wrote guest RAM [gpa, gpa + len) (its DMA). */
typedef void (*ivy_ioreq_dma_hook_t)(void *opaque, ivy_gpa_t gpa, uint64_t len);

#define IVY_IOREQ_MAX_SHARED_RAM 8

/*
 * Offers guest RAM to out-of-process clients: a client's MAP_RAM message gets
 * a duplicate of ram->fd and the layout, so a device process can reach guest
 * memory as an in-process device does (ivy_client_map_ram). This trusts every
 * client with all of that RAM, as a VMM trusts its device models with DMA.
 * `hook`, if not NULL, becomes the VM's DMA hook: it runs on the server thread
 * for each DMA_WRITTEN message, before the reply, so a client that reports its
 * writes before raising the interrupt has them seen first (a VMM with a code
 * cache drops stale translations there). Call before clients connect; regions
 * may not overlap. Errors: -EINVAL (bad fd, size, alignment, overlap),
 * -ENOSPC (IVY_IOREQ_MAX_SHARED_RAM regions), -ENODEV (no engine), or the errno of dup.
 */
IVY_MUST_CHECK int ivy_ioreq_share_ram(struct ivy_vm *vm, const struct ivy_ioreq_ram *ram,
				       ivy_ioreq_dma_hook_t hook, void *opaque);

/* Protocol messages (docs/ioreq-protocol.md): one fixed-size message per packet. */
#define IVY_IOREQ_PROTO_VERSION 1u

enum ivy_ioreq_msg_type {
	IVY_IOREQ_MSG_HELLO = 1,       /* c->s: a = version, name; reply carries memfd + kick fd */
	IVY_IOREQ_MSG_CLAIM = 2,       /* c->s: flags = type, a = start, b = end (inclusive) */
	IVY_IOREQ_MSG_UNCLAIM = 3,     /* c->s: same fields as CLAIM */
	IVY_IOREQ_MSG_SET_DEFAULT = 4, /* c->s: become the default client */
	IVY_IOREQ_MSG_IRQFD = 5,       /* c->s: struct ivy_irqfd fields; fds: eventfd[, resample] */
	IVY_IOREQ_MSG_IRQFD_DEASSIGN = 6, /* c->s: a = index returned by IRQFD */
	IVY_IOREQ_MSG_MAP_RAM = 7,	  /* c->s: a = region index; reply: a = gpa, b = size,
					     c = offset, fd: the RAM's descriptor */
	IVY_IOREQ_MSG_DMA_WRITTEN = 8,	  /* c->s: a = gpa, b = length of guest RAM written */
	IVY_IOREQ_MSG_REPLY = 0x80,	  /* s->c: type | REPLY, status = 0 or -errno */
};

struct ivy_ioreq_msg {
	uint32_t type;	  /* enum ivy_ioreq_msg_type, | IVY_IOREQ_MSG_REPLY in replies */
	int32_t status;	  /* replies: 0 or a negative errno */
	uint32_t flags;	  /* per message */
	uint32_t tag;	  /* chosen by the client, echoed in the reply */
	uint64_t a, b, c; /* per message */
	char name[32];	  /* HELLO: the client's name, NUL-padded */
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct ivy_ioreq_msg) == 72, "protocol message is 72 bytes");
#endif

#ifdef __cplusplus
}
#endif

#endif /* IVY_IOREQ_H */
