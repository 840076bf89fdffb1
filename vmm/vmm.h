/* SPDX-License-Identifier: MIT */
/*
 * The reference VMM "ivy run": a QEMU-virt-like board on Unicorn vCPUs, on top of
 * ivy's public API only.
 *
 * Threads: one per vCPU (runs its Unicorn engine), the main thread (waits for
 * the end), a PL011 stdin reader. Only the holder of the execution token is
 * inside uc_emu_start (Unicorn is not safe with two engines executing at once).
 *
 * Locks, outermost first:
 *   token.lock          the execution token's ticket counters
 *   vmm->psci_lock      vCPU power states (CPU_ON/CPU_OFF/AFFINITY_INFO)
 *     cpu->wait_lock    a vCPU's sleep (WFI, powered off)
 *   vmm->trace_lock     the trace buffer and the statistics tables
 *   virtio_dev.lock     a PCI function's state (devices/virtio.h), then:
 *     vmm->intx_lock    the shared INTx lines
 *
 * Threads also: one per in-process PCI function (its configuration space);
 * each process=separate function is a child process (`ivy device`).
 */
#ifndef IVY_VMM_VMM_H
#define IVY_VMM_VMM_H

#include <ivy/ivy.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "uc_internal.h"

/* The board (QEMU virt's layout; DESIGN.md). */
#define BOARD_GICD_BASE	     0x08000000ull
#define BOARD_GICD_SIZE	     0x10000ull
#define BOARD_GICC_BASE	     0x08010000ull
#define BOARD_GICC_SIZE	     0x2000ull
#define BOARD_V2M_BASE	     0x08020000ull
#define BOARD_V2M_SIZE	     0x1000ull
#define BOARD_ITS_BASE	     0x08080000ull
#define BOARD_ITS_SIZE	     0x20000ull
#define BOARD_GICR_BASE	     0x080A0000ull
#define BOARD_GICR_STRIDE    0x20000ull
#define BOARD_UART_BASE	     0x09000000ull
#define BOARD_UART_SIZE	     0x1000ull
#define BOARD_UART_SPI	     1 /* INTID 33 */
#define BOARD_EXIT_BASE	     0x090C0000ull
#define BOARD_EXIT_SIZE	     0x1000ull
#define BOARD_TESTDEV_BASE   0x090D0000ull /* ivy's test interrupt generator */
#define BOARD_TESTDEV_SIZE   0x1000ull
#define BOARD_RAM_BASE	     0x40000000ull
#define BOARD_RAM_DEFAULT    (256ull << 20)
#define BOARD_V2M_INTID_BASE 80 /* QEMU virt: MSIs become INTIDs 80..143 */
#define BOARD_V2M_NR_SPIS    64
#define BOARD_NR_SPIS	     256
#define BOARD_TIMER_FREQ     62500000ull /* QEMU's default counter frequency */
#define BOARD_PPI_VTIMER     27
#define BOARD_PPI_PTIMER     30
#define BOARD_PPI_HTIMER     26
#define BOARD_PPI_STIMER     29
#define BOARD_MAX_CPUS	     8
/* PCIe host bridge: QEMU virt's low layout (ECAM, 32-bit MMIO window, PIO window). */
#define BOARD_PCIE_ECAM_BASE 0x3f000000ull
#define BOARD_PCIE_ECAM_SIZE 0x01000000ull /* buses 0..15 */
#define BOARD_PCIE_NR_BUSES  16
#define BOARD_PCIE_MMIO_BASE 0x10000000ull
#define BOARD_PCIE_MMIO_SIZE 0x2eff0000ull /* up to 0x3efeffff */
#define BOARD_PCIE_PIO_BASE  0x3eff0000ull
#define BOARD_PCIE_PIO_SIZE  0x10000ull
#define BOARD_PCIE_INTX_SPI  3 /* INTA..INTD of slot 0: SPIs 3..6, swizzled by slot */
#define BOARD_MAX_PCI	     8

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses of `ivy run` other than the guest's own. */
enum vmm_exit {
	VMM_EXIT_OK = 0,
	VMM_EXIT_VMM_ERROR = 70,       /* EX_SOFTWARE: the VMM failed */
	VMM_EXIT_USAGE = 64,	       /* EX_USAGE: bad options or files */
	VMM_EXIT_TIMEOUT = 124,	       /* the guest ran past --timeout */
	VMM_EXIT_GUEST_EXCEPTION = 125 /* the guest stopped on an exception it could not take */
};

struct mmio_window;

struct vmm_opts {
	unsigned smp;
	uint64_t ram_size;
	int gic_version; /* 2 or 3 */
	bool its;
	const char *kernel;
	const char *initrd;
	const char *append;
	bool stats;
	const char *trace_path;
	double timeout_s;	   /* 0: none */
	bool demo;		   /* the built-in demo guest: prints the story header */
	const char *device_socket; /* serve out-of-process device clients here */
	bool no_reboot;		   /* a guest reset ends the run, as QEMU -no-reboot */
	struct pci_opt {
		enum pci_kind { PCI_VIRTIO_BLK, PCI_VIRTIO_RNG } kind;
		const char *file; /* virtio-blk: the image */
		bool read_only;
		bool separate;	/* served by a device process of its own */
		const char *id; /* -drive id=, until a -device names it */
		bool pending;	/* an -drive if=none waiting for its -device */
	} pci[BOARD_MAX_PCI];
	unsigned nr_pci;
};

enum cpu_power { CPU_OFF, CPU_ON_PENDING, CPU_ON };

/* The generic timer's emulated state (CNTV_* or CNTP_*). */
struct vtimer {
	uint64_t ctl; /* ENABLE, IMASK; ISTATUS is computed */
	uint64_t cval;
	bool line; /* last level driven into the PPI */
};

enum cpu_stop {
	CPU_STOP_NONE,	/* uc_emu_start returned by itself (WFI/WFE) */
	CPU_STOP_SLICE, /* time slice over or kicked */
	CPU_STOP_OFF,	/* PSCI CPU_OFF */
	CPU_STOP_EXIT,	/* the VM is ending */
};

struct vmm;

struct vmm_cpu {
	struct vmm *vmm;
	struct ivy_vcpu *vcpu;
	unsigned index;
	uint64_t mpidr;
	uc_engine *uc;
	struct uci_cpu uci;
	pthread_t thread;
	bool thread_started;

	/* Protected by vmm->psci_lock. */
	enum cpu_power power;
	uint64_t on_entry, on_ctx;

	/* Set by any thread; consumed by this vCPU's thread (block hook, WFI wait). */
	atomic_bool kick;
	/* The engine's device windows (freed with the engine). */
	struct mmio_window *windows[2];
	unsigned nr_windows;
	uint64_t block_end; /* end of the last translation block entered (block hook) */
	atomic_bool need_tb_flush;
	atomic_bool need_tlb_flush;
	/*
	 * Guest RAM written by devices since this vCPU last looked, one bit per
	 * 4 KiB page (cpu_note_ram_write): set by any thread, taken by the vCPU's.
	 * ram_dirty_any is set after the bits it announces (release).
	 */
	_Atomic uint64_t *ram_dirty;
	uint64_t ram_dirty_words;
	atomic_bool ram_dirty_any;

	/* Protects: sleeping in WFI or while powered off (with wait_cond). */
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;

	/* Owned by this vCPU's thread. */
	struct vtimer timer[2]; /* [0] virtual (PPI 27), [1] physical (PPI 30) */
	enum cpu_stop stop;
	unsigned blocks;
	/* Guest RAM stores take the engine's fast path (uci_tlb_clear_notdirty). */
	bool fast_stores;
	uint64_t tlb_swept_ns;
	uint64_t recent_blocks[4];    /* spin detection: the last few blocks entered */
	unsigned spin_blocks;	      /* blocks in a row from that small cycle */
	_Atomic uint64_t spin_yields; /* slices given up early for spinning */
	unsigned in_irq;	      /* interrupt handlers entered, not yet left (cpu_note_irq) */
	/* DBGBVR, DBGBCR, DBGWVR, DBGWCR<n>_EL1 as the guest wrote them (cpu_debug_sysreg). */
	uint64_t debug_regs[4][16];
	_Atomic uint64_t engine_swaps;	 /* fresh engines for full code buffers */
	_Atomic uint64_t engine_swap_ns; /* the time they took */
	uint64_t slice_end_ns;
	bool holds_token;
	bool raise_lines;   /* a GIC access left an interrupt line to raise at the next block */
	bool reset_pending; /* CPU_ON: reset to reset_entry/reset_ctx under the token */
	uint64_t reset_entry, reset_ctx;

	/* Statistics (this thread writes, the main thread reads at exit). */
	_Atomic uint64_t run_ns, wfi_ns, wait_ns, entries, wfis, mmio, sysreg, hvc;
};

struct vmm_token {
	/* Protects: next and serving (a ticket lock, so vCPUs take turns in order). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t next;
	/* Written under the lock; read without it by a waiter that polls (cpu_poll). */
	_Atomic uint64_t serving;
	atomic_uint waiters;
};

struct trace_rec {
	uint64_t ts_ns;
	uint64_t dur_ns;
	int32_t vcpu;
	uint32_t kind; /* enum ivy_trace_kind, or 0 for a vCPU run slice */
	uint64_t a, b;
};

struct vmm {
	struct vmm_opts opts;
	struct ivy_vm *vm;
	struct ivy_device *gic;
	struct ivy_device *its;
	uint8_t *ram;
	uint64_t ram_size;
	int ram_fd; /* the memfd behind ram, handed to device processes */
	unsigned nr_cpus;
	/* Every vCPU thread can have a host CPU: waits poll briefly before sleeping. */
	bool poll;
	struct vmm_cpu cpus[BOARD_MAX_CPUS];
	uint64_t boot_ns; /* the counter's zero */

	struct vmm_token token;

	/* Protects: every cpu->power and the transitions of CPU_ON/CPU_OFF. */
	pthread_mutex_t psci_lock;

	/* The end of the run: first writer wins. */
	atomic_bool exiting;
	/* The exit is a board reset (PSCI SYSTEM_RESET): run() rebuilds and goes on. */
	atomic_bool resetting;
	/* The guest's kernel panicked (its console said so): a reset or power-off is a crash. */
	char panic_why[96];
	unsigned resets;
	atomic_int exit_status;
	pthread_mutex_t exit_lock;
	pthread_cond_t exit_cond;
	char exit_why[160];

	/* Protects: trace[], nr_trace, irq_counts. */
	pthread_mutex_t trace_lock;
	struct trace_rec *trace;
	size_t nr_trace, cap_trace;
	uint64_t (*irq_counts)[1024 + 1]; /* [vcpu][intid], last column: LPIs */
	uint64_t irq_total;

	/* Devices. */
	struct pl011 *uart;
	struct ivy_ioreq_client *exit_client;
	struct pcidev *pci[BOARD_MAX_PCI];
	unsigned nr_pci;
	/* Protects: intx_count (INTx lines shared by functions). */
	pthread_mutex_t intx_lock;
	unsigned intx_count[4];
	char socket_tmp[64]; /* a socket path made up for device processes, or "" */

	/* Boot. */
	uint64_t entry, dtb_gpa, initrd_gpa, initrd_size, kernel_end;
};

/* Monotonic time in ns. */
uint64_t vmm_now_ns(void);
/* The generic counter (CNTVCT/CNTPCT) now. */
uint64_t vmm_counter(const struct vmm *vmm);
uint64_t vmm_counter_to_ns(const struct vmm *vmm, uint64_t cnt);

/* Ends the run with `status` (first caller wins) and wakes every vCPU. */
void vmm_request_exit(struct vmm *vmm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool vmm_exiting(const struct vmm *vmm);
/* Records that the guest's kernel panicked, with its reason. */
void vmm_note_panic(struct vmm *vmm, const char *why);
/* Ends the run as a crash if the guest panicked (true), before a reset or power-off. */
bool vmm_exit_if_panicked(struct vmm *vmm);
/* Stops every vCPU and resets the board: GIC, devices, images, boot vCPU. */
void vmm_request_reset(struct vmm *vmm, const char *why);

/* cpu.c */
int cpu_create(struct vmm *vmm, unsigned index);
int cpu_start_threads(struct vmm *vmm);
void cpu_join_threads(struct vmm *vmm);
void cpu_kick(struct vmm_cpu *cpu);
void cpu_destroy(struct vmm_cpu *cpu);
/*
 * Re-evaluates this vCPU's interrupt lines (its own thread only); `refill` also
 * folds and refills the GIC's list registers (after a kick).
 */
void cpu_update_lines(struct vmm_cpu *cpu, bool refill);
/* The library's vcpu_block hook: hands the token over around a blocking wait. */
void cpu_block(struct vmm_cpu *cpu, bool blocked);

/* psci.c: handles an HVC/SMC; returns true if the vCPU must stop (CPU_OFF, SYSTEM_*). */
bool psci_call(struct vmm_cpu *cpu);

/* timer.c */
bool timer_sysreg(struct vmm_cpu *cpu, const uc_arm64_cp_reg *r, bool is_read, uint64_t *val);
/* Updates the timers' PPI levels; returns the earliest future deadline in ns (or UINT64_MAX). */
uint64_t timer_update(struct vmm_cpu *cpu);

/* gic.c: the board's interrupt controller through ivy's device API. */
int gic_create(struct vmm *vmm);
int gic_init(struct vmm *vmm);
/* Replaces the GIC (and ITS) with fresh ones, placed and initialised as at start-up. */
int gic_reset(struct vmm *vmm);
/* Drives a PPI of a vCPU or an SPI (INTID) line. */
void gic_set_ppi(struct vmm_cpu *cpu, uint32_t intid, bool level);
void gic_set_spi(struct vmm *vmm, uint32_t intid, bool level);
/* Reports the vCPU's lines; `refill` first folds and refills the list registers. */
int gic_refresh(struct vmm_cpu *cpu, bool refill, bool *irq, bool *fiq);
/*
 * Distributor and redistributor reads have no side effects, so the lines need
 * no recomputing after them (it was a tenth of the cost of such a read). A
 * kick the read raised is still served by the next block hook. Everything else
 * may: GICv2 GICC_IAR lowers the line, any write can change state, and a
 * device read through an I/O request can lower its level interrupt.
 */
static inline bool gic_access_changes_lines(const struct vmm_cpu *cpu, uint64_t gpa, bool is_write)
{
	const struct vmm *vmm = cpu->vmm;

	if (is_write)
		return true;
	if (gpa - BOARD_GICD_BASE < BOARD_GICD_SIZE)
		return false;
	return !(vmm->opts.gic_version == 3 &&
		 gpa - BOARD_GICR_BASE < (uint64_t)vmm->nr_cpus * BOARD_GICR_STRIDE);
}

/* After leaving the engine: folds the list registers back. */
void gic_sync(struct vmm_cpu *cpu);
/* True for the exact encodings of the ICC_*_EL1 registers. */
bool gic_is_icc(const uc_arm64_cp_reg *r);
/* An access to an ICC register (gic_is_icc); returns false if the GIC has no such register. */
bool gic_sysreg(struct vmm_cpu *cpu, const uc_arm64_cp_reg *r, bool is_read, uint64_t *val);

/* pl011.c */
int pl011_create(struct vmm *vmm);
void pl011_destroy(struct vmm *vmm);
/* Puts the UART registers back to their reset values (a board reset). */
void pl011_reset(struct vmm *vmm);
/* Prints the last `lines` lines the guest wrote to its console. */
void pl011_print_tail(struct vmm *vmm, FILE *f, unsigned lines);
/* Flushes console output the guest wrote without a newline (a prompt). */
void pl011_flush(struct vmm *vmm);

/* testdev.c */
int testdev_create(struct vmm *vmm);

/*
 * After a device wrote guest RAM [gpa, gpa + len): every engine drops the
 * translated code of those pages at its next safe point (cpu.c).
 */
void cpu_note_ram_write(struct vmm *vmm, uint64_t gpa, uint64_t len);

/* pci.c: the PCIe host bridge and its virtio functions. */
struct pcidev;
int pci_create(struct vmm *vmm);
void pci_destroy(struct vmm *vmm);
void pci_reset(struct vmm *vmm);
/* device.c: `ivy device ...`, a virtio function served from a process of its own. */
int device_main(int argc, char **argv);

/* loader.c */
int loader_load(struct vmm *vmm);

/* fdt.c */
int fdt_build(struct vmm *vmm, void *buf, size_t size);

/* stats.c */
void stats_on_trace(struct vmm *vmm, const struct ivy_trace_event *ev);
void stats_name_client(unsigned id, const char *name);
void stats_add_slice(struct vmm *vmm, int vcpu, uint64_t start_ns, uint64_t end_ns);
void stats_print(struct vmm *vmm, FILE *out);
int trace_write(struct vmm *vmm, const char *path);

#endif
