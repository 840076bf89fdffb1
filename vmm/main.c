/* SPDX-License-Identifier: MIT */
/*
 * `ivy run`: builds the virt board on ivy and runs a guest until it powers off,
 * exiting with the guest's status.
 */
#include "vmm.h"

#include <ivy/gic.h>
#include <ivy/ioreq.h>

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: ivy run [options] [KERNEL]\n"
	"Runs an AArch64 guest on a QEMU-virt-like board whose interrupts and device\n"
	"accesses all go through ivy. With no KERNEL, runs the built-in demo guest.\n"
	"\n"
	"  -kernel FILE          arm64 Linux Image, ELF, or raw binary (loaded at RAM+0x80000)\n"
	"  -initrd FILE          initial ramdisk\n"
	"  -append STRING        kernel command line (/chosen/bootargs)\n"
	"  -smp N                number of vCPUs, 1..8 (default 1)\n"
	"  -m SIZE               guest RAM, e.g. 256M or 1G (default 256M; plain numbers are MiB)\n"
	"  -machine gic-version=2|3[,its=on|off]\n"
	"                        interrupt controller (default gic-version=2)\n"
	"  --stats               print interrupt, I/O-request and vCPU statistics at exit\n"
	"  --trace FILE          write a Chrome/Perfetto trace (JSON) of interrupts and I/O\n"
	"  --timeout SECONDS     stop a guest that runs longer (exit status 124)\n"
	"  --device-socket PATH  accept out-of-process device models (ivy-client) on this\n"
	"                        Unix socket; they claim addresses and raise interrupts\n"
	"  -drive file=IMAGE[,format=raw][,readonly=on][,if=none,id=ID]\n"
	"                        a virtio-blk-pci disk backed by IMAGE (with if=none, only\n"
	"                        once a -device virtio-blk-pci,drive=ID names it)\n"
	"  -device virtio-blk-pci,drive=ID[,process=separate]\n"
	"  -device virtio-rng-pci[,process=separate]\n"
	"                        virtio-pci devices behind the PCIe host bridge (ECAM at\n"
	"                        0x3f000000), MSI-X through the ITS or GICv2m;\n"
	"                        process=separate serves one from a device process\n"
	"  -no-reboot            a guest reset (PSCI SYSTEM_RESET) ends the run instead of\n"
	"                        restarting the board\n"
	"  --help                this text\n"
	"\n"
	"`ivy device virtio-rng|virtio-blk --connect SOCKET --bdf N [--file IMAGE] [--queues N]\n"
	"[--readonly]` is the device process that process=separate starts.\n"
	"\n"
	"Exit status: the value the guest wrote to the test-exit register; 0 after PSCI\n"
	"SYSTEM_OFF (or SYSTEM_RESET with -no-reboot); 124 on --timeout; 125 when the\n"
	"guest crashed (an exception it cannot take, or a Linux kernel panic); 64 for\n"
	"bad options or files; 70 for an internal VMM error. After 124, 125 and 70 the\n"
	"last lines of the guest's console are printed on stderr.\n";

static struct vmm the_vmm;

uint64_t vmm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vmm_counter(const struct vmm *vmm)
{
	/* 62.5 MHz: one tick every 16 ns. */
	return (vmm_now_ns() - vmm->boot_ns) / (1000000000ull / BOARD_TIMER_FREQ);
}

uint64_t vmm_counter_to_ns(const struct vmm *vmm, uint64_t cnt)
{
	(void)vmm;
	if (cnt > UINT64_MAX / 16)
		return UINT64_MAX / 2;
	return cnt * (1000000000ull / BOARD_TIMER_FREQ);
}

bool vmm_exiting(const struct vmm *vmm)
{
	return atomic_load_explicit(&vmm->exiting, memory_order_acquire);
}

void vmm_note_panic(struct vmm *vmm, const char *why)
{
	pthread_mutex_lock(&vmm->exit_lock);
	snprintf(vmm->panic_why, sizeof(vmm->panic_why), "%s", why[0] ? why : "(no reason)");
	pthread_mutex_unlock(&vmm->exit_lock);
}

bool vmm_exit_if_panicked(struct vmm *vmm)
{
	char why[sizeof(vmm->panic_why)];

	pthread_mutex_lock(&vmm->exit_lock);
	memcpy(why, vmm->panic_why, sizeof(why));
	pthread_mutex_unlock(&vmm->exit_lock);
	if (!why[0])
		return false;
	vmm_request_exit(vmm, VMM_EXIT_GUEST_EXCEPTION, "guest kernel panic: %s", why);
	return true;
}

void vmm_request_reset(struct vmm *vmm, const char *why)
{
	if (vmm_exit_if_panicked(vmm))
		return;
	pthread_mutex_lock(&vmm->exit_lock);
	if (!vmm_exiting(vmm))
		atomic_store_explicit(&vmm->resetting, true, memory_order_relaxed);
	pthread_mutex_unlock(&vmm->exit_lock);
	vmm_request_exit(vmm, VMM_EXIT_OK, "guest reset (%s)", why);
}

void vmm_request_exit(struct vmm *vmm, int status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vmm->exit_lock);
	if (!vmm_exiting(vmm)) {
		va_start(ap, fmt);
		vsnprintf(vmm->exit_why, sizeof(vmm->exit_why), fmt, ap);
		va_end(ap);
		atomic_store_explicit(&vmm->exit_status, status, memory_order_relaxed);
		atomic_store_explicit(&vmm->exiting, true, memory_order_release);
		pthread_cond_broadcast(&vmm->exit_cond);
	}
	pthread_mutex_unlock(&vmm->exit_lock);
	for (unsigned i = 0; i < vmm->nr_cpus; i++)
		cpu_kick(&vmm->cpus[i]);
}

/* ------------------------------------------------------------------------------------ */
/* Library hooks.                                                                       */

/* Library messages: errors always, the first warnings, everything with IVY_DEBUG_LOG set. */
static void hook_log(void *opaque, enum ivy_log_level level, const char *msg)
{
	static atomic_uint warnings;

	(void)opaque;
	if (getenv("IVY_DEBUG_LOG") || level == IVY_LOG_ERROR)
		fprintf(stderr, "ivy: %s\n", msg);
	else if (level == IVY_LOG_WARN && atomic_fetch_add(&warnings, 1) < 10)
		fprintf(stderr, "ivy: %s%s\n", msg,
			atomic_load(&warnings) == 10
				? " (further warnings hidden; IVY_DEBUG_LOG=1 shows all)"
				: "");
}

static void hook_trace(void *opaque, const struct ivy_trace_event *ev)
{
	stats_on_trace(opaque, ev);
}

static void hook_kick(void *opaque, struct ivy_vcpu *vcpu)
{
	struct vmm_cpu *cpu = ivy_vcpu_user(vcpu);

	(void)opaque;
	if (cpu)
		cpu_kick(cpu);
}

/* A device process wrote guest RAM: drop the code translated from it. */
static void vmm_dma_hook(void *opaque, ivy_gpa_t gpa, uint64_t len)
{
	cpu_note_ram_write(opaque, gpa, len);
}

static void hook_vcpu_block(void *opaque, struct ivy_vcpu *vcpu, bool blocked)
{
	struct vmm_cpu *cpu = ivy_vcpu_user(vcpu);

	(void)opaque;
	if (cpu)
		cpu_block(cpu, blocked);
}

/* ------------------------------------------------------------------------------------ */
/* Options.                                                                             */

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ivy: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see ivy run --help)\n");
	return VMM_EXIT_USAGE;
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	uint64_t mul = 1ull << 20;

	if (end == s)
		return false;
	switch (*end) {
	case 'k':
	case 'K':
		mul = 1ull << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mul = 1ull << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mul = 1ull << 30;
		end++;
		break;
	case '\0': break;
	default: return false;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > (1ull << 40) / mul)
		return false;
	*out = v * mul;
	return true;
}

static int parse_machine(struct vmm_opts *o, const char *s)
{
	char buf[128];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "virt"))
			continue;
		if (!strcmp(tok, "gic-version=2"))
			o->gic_version = 2;
		else if (!strcmp(tok, "gic-version=3"))
			o->gic_version = 3;
		else if (!strcmp(tok, "its=on"))
			o->its = true;
		else if (!strcmp(tok, "its=off"))
			o->its = false;
		else
			return usage_error(
				"unknown -machine property '%s' (want gic-version=2|3, its=on|off)",
				tok);
	}
	return 0;
}

static struct pci_opt *pci_add(struct vmm_opts *o)
{
	if (o->nr_pci >= BOARD_MAX_PCI)
		return NULL;
	o->pci[o->nr_pci] = (struct pci_opt){ 0 };
	return &o->pci[o->nr_pci++];
}

/* -drive file=F[,format=raw][,readonly=on|off][,if=none|virtio][,id=ID] */
static int parse_drive(struct vmm_opts *o, char *s)
{
	struct pci_opt *p = pci_add(o);
	char *save = NULL;

	if (!p)
		return usage_error("at most %d PCI devices", BOARD_MAX_PCI);
	p->kind = PCI_VIRTIO_BLK;
	for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "file=", 5))
			p->file = tok + 5;
		else if (!strcmp(tok, "format=raw"))
			continue;
		else if (!strcmp(tok, "readonly=on") || !strcmp(tok, "readonly"))
			p->read_only = true;
		else if (!strcmp(tok, "readonly=off"))
			p->read_only = false;
		else if (!strcmp(tok, "if=none"))
			p->pending = true;
		else if (!strcmp(tok, "if=virtio"))
			p->pending = false;
		else if (!strncmp(tok, "id=", 3))
			p->id = tok + 3;
		else
			return usage_error("unknown -drive property '%s' (want file=, format=raw, "
					   "readonly=on, if=none, id=)",
					   tok);
	}
	if (!p->file || !*p->file)
		return usage_error("-drive needs file=IMAGE");
	if (access(p->file, R_OK))
		return usage_error("cannot read disk image '%s': %s", p->file, strerror(errno));
	if (!p->read_only && access(p->file, W_OK))
		return usage_error("cannot write disk image '%s' (%s); add readonly=on", p->file,
				   strerror(errno));
	if (p->pending && !p->id)
		return usage_error("-drive if=none needs an id= for -device ...,drive=ID");
	return 0;
}

/* -device virtio-blk-pci,drive=ID | virtio-rng-pci, [process=separate|same] */
static int parse_device(struct vmm_opts *o, char *s)
{
	char *save = NULL, *type = strtok_r(s, ",", &save);
	const char *drive = NULL;
	bool separate = false;
	struct pci_opt *p = NULL;

	if (!type)
		return usage_error("-device needs a type (virtio-blk-pci or virtio-rng-pci)");
	for (char *tok = strtok_r(NULL, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "drive=", 6))
			drive = tok + 6;
		else if (!strcmp(tok, "process=separate"))
			separate = true;
		else if (!strcmp(tok, "process=same"))
			separate = false;
		else if (!strncmp(tok, "id=", 3))
			continue; /* QEMU's device name: nothing refers to it here */
		else
			return usage_error("unknown -device property '%s' (want drive=, "
					   "process=separate)",
					   tok);
	}
	if (!strcmp(type, "virtio-rng-pci") || !strcmp(type, "virtio-rng")) {
		if (drive)
			return usage_error("virtio-rng-pci takes no drive=");
		p = pci_add(o);
		if (!p)
			return usage_error("at most %d PCI devices", BOARD_MAX_PCI);
		p->kind = PCI_VIRTIO_RNG;
	} else if (!strcmp(type, "virtio-blk-pci") || !strcmp(type, "virtio-blk")) {
		if (!drive)
			return usage_error(
				"virtio-blk-pci needs drive=ID of an -drive if=none,id=ID");
		for (unsigned i = 0; i < o->nr_pci; i++)
			if (o->pci[i].pending && !strcmp(o->pci[i].id, drive))
				p = &o->pci[i];
		if (!p)
			return usage_error("no unused -drive with id=%s for virtio-blk-pci", drive);
		p->pending = false;
	} else {
		return usage_error("unknown -device '%s' (want virtio-blk-pci or virtio-rng-pci)",
				   type);
	}
	p->separate = separate;
	return 0;
}

/* Drives declared with if=none and never attached are an error, as in QEMU. */
static int parse_check_drives(struct vmm_opts *o)
{
	for (unsigned i = 0; i < o->nr_pci; i++)
		if (o->pci[i].pending)
			return usage_error("-drive id=%s is not used by any -device", o->pci[i].id);
	return 0;
}

static int parse_args(struct vmm_opts *o, int argc, char **argv)
{
	o->smp = 1;
	o->ram_size = BOARD_RAM_DEFAULT;
	o->gic_version = 2;
	o->its = true;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		/* Accept --opt for -opt, as QEMU does. */
		if (a[0] == '-' && a[1] == '-' && a[2] && strcmp(a, "--stats") &&
		    strcmp(a, "--trace") && strcmp(a, "--timeout") && strcmp(a, "--help") &&
		    strcmp(a, "--device-socket"))
			a++;
#define NEED_ARG                                                              \
	do {                                                                  \
		if (!v)                                                       \
			return usage_error("option %s needs an argument", a); \
		i++;                                                          \
	} while (0)
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			exit(0);
		} else if (!strcmp(a, "-kernel")) {
			NEED_ARG;
			o->kernel = v;
		} else if (!strcmp(a, "-initrd")) {
			NEED_ARG;
			o->initrd = v;
		} else if (!strcmp(a, "-append")) {
			NEED_ARG;
			o->append = v;
		} else if (!strcmp(a, "-smp")) {
			NEED_ARG;
			char *end;
			unsigned long n = strtoul(v, &end, 10);
			if (*end || n < 1 || n > BOARD_MAX_CPUS)
				return usage_error("-smp wants 1..%d, not '%s'", BOARD_MAX_CPUS, v);
			o->smp = (unsigned)n;
		} else if (!strcmp(a, "-m")) {
			NEED_ARG;
			if (!parse_size(v, &o->ram_size) || o->ram_size < (16ull << 20) ||
			    o->ram_size > (16ull << 30) || (o->ram_size & ((2ull << 20) - 1)))
				return usage_error(
					"-m wants a size from 16M to 16G in 2M steps, not '%s'", v);
		} else if (!strcmp(a, "-machine") || !strcmp(a, "-M")) {
			NEED_ARG;
			int err = parse_machine(o, v);
			if (err)
				return err;
		} else if (!strcmp(a, "-no-reboot")) {
			o->no_reboot = true;
		} else if (!strcmp(a, "-drive")) {
			NEED_ARG;
			int err = parse_drive(o, argv[i]);
			if (err)
				return err;
		} else if (!strcmp(a, "-device")) {
			NEED_ARG;
			int err = parse_device(o, argv[i]);
			if (err)
				return err;
		} else if (!strcmp(a, "--stats")) {
			o->stats = true;
		} else if (!strcmp(a, "--trace")) {
			NEED_ARG;
			o->trace_path = v;
		} else if (!strcmp(a, "--device-socket")) {
			NEED_ARG;
			o->device_socket = v;
		} else if (!strcmp(a, "--timeout")) {
			NEED_ARG;
			char *end;
			o->timeout_s = strtod(v, &end);
			/* Up to a year: nan, inf and values whose nanoseconds overflow are refused. */
			if (end == v || *end || !(o->timeout_s > 0 && o->timeout_s <= 31536000.0))
				return usage_error(
					"--timeout wants a number of seconds above 0 and at "
					"most 31536000, not '%s'",
					v);
		} else if (a[0] == '-') {
			return usage_error("unknown option '%s'", a);
		} else if (!o->kernel) {
			o->kernel = a;
		} else {
			return usage_error("more than one kernel given ('%s' and '%s')", o->kernel,
					   a);
		}
#undef NEED_ARG
	}
	return parse_check_drives(o);
}

/* The demo guest is built next to the binary: build/release/ivy -> build/guests/demo.bin. */
static const char *demo_path(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/../guests/demo.bin", dirname(exe));
	return access(path, R_OK) ? NULL : path;
}

/* ------------------------------------------------------------------------------------ */
/* The board.                                                                           */

/* The host CPUs this process may run on. */
static unsigned host_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

static int board_create(struct vmm *vmm)
{
	static struct ivy_vm_hooks hooks = {
		.log = hook_log,
		.trace = hook_trace,
		.kick = hook_kick,
		.vcpu_block = hook_vcpu_block,
	};
	struct ivy_vm_config cfg = { .name = "ivy-run",
				     .nr_vcpus = vmm->opts.smp,
				     .hooks = &hooks };
	int err;

	hooks.opaque = vmm;
	vmm->nr_cpus = vmm->opts.smp;
	vmm->poll = vmm->nr_cpus <= host_cpus();
	vmm->ram_size = vmm->opts.ram_size;
	vmm->irq_counts = calloc(vmm->nr_cpus, sizeof(*vmm->irq_counts));
	if (!vmm->irq_counts)
		return -ENOMEM;
	err = ivy_vm_create(&cfg, &vmm->vm);
	if (err)
		return err;
	/* A memfd, so that device processes can map guest RAM for their DMA. */
	vmm->ram_fd = memfd_create("ivy-guest-ram", MFD_CLOEXEC);
	if (vmm->ram_fd < 0 || ftruncate(vmm->ram_fd, (off_t)vmm->ram_size) < 0)
		return -errno;
	vmm->ram = mmap(NULL, vmm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			vmm->ram_fd, 0);
	if (vmm->ram == MAP_FAILED)
		return -ENOMEM;
	err = ivy_vm_add_ram(vmm->vm, BOARD_RAM_BASE, vmm->ram_size, vmm->ram);
	if (err)
		return err;
	err = ivy_ioreq_init(vmm->vm);
	if (err)
		return err;
	err = gic_create(vmm);
	if (err)
		return err;
	err = pl011_create(vmm);
	if (!err)
		err = testdev_create(vmm);
	if (err)
		return err;
	if (vmm->opts.stats || vmm->opts.trace_path)
		ivy_vm_set_trace(vmm->vm, true);
	if (vmm->opts.device_socket) {
		err = ivy_ioreq_server_start(vmm->vm, vmm->opts.device_socket);
		if (err) {
			fprintf(stderr, "ivy: cannot serve device clients on '%s': %s\n",
				vmm->opts.device_socket, ivy_strerror(err));
			return err;
		}
	}
	if (vmm->opts.nr_pci) {
		struct ivy_ioreq_ram ram = { .gpa = BOARD_RAM_BASE,
					     .size = vmm->ram_size,
					     .fd = vmm->ram_fd };
		err = ivy_ioreq_share_ram(vmm->vm, &ram, vmm_dma_hook, vmm);
		if (err)
			return err;
	}
	return pci_create(vmm);
}

/*
 * A board reset, between two runs of the vCPU threads: fresh GIC and ITS, the
 * devices' registers at their reset values, the images loaded again (the guest
 * may have overwritten them), the boot vCPU at the entry point and the others
 * off. Guest RAM is otherwise kept, as on QEMU's virt.
 */
static int board_reset(struct vmm *vmm)
{
	int err;

	vmm->resets++;
	err = gic_reset(vmm);
	if (err) {
		fprintf(stderr, "ivy: cannot reset the GIC: %s\n", ivy_strerror(err));
		return VMM_EXIT_VMM_ERROR;
	}
	pl011_reset(vmm);
	pci_reset(vmm);
	if (loader_load(vmm))
		return VMM_EXIT_USAGE;
	for (unsigned i = 0; i < vmm->nr_cpus; i++) {
		struct vmm_cpu *cpu = &vmm->cpus[i];

		cpu->power = i == 0 ? CPU_ON : CPU_OFF;
		cpu->reset_pending = i == 0;
		cpu->reset_entry = vmm->entry;
		cpu->reset_ctx = vmm->dtb_gpa;
		/* The images were written behind the engines' backs. */
		atomic_store(&cpu->need_tb_flush, true);
		atomic_store(&cpu->need_tlb_flush, true);
	}
	atomic_store(&vmm->resetting, false);
	atomic_store(&vmm->exiting, false);
	return 0;
}

/* Runs the vCPU threads until the VM ends or --timeout passes; false on timeout. */
static bool run_until_exit(struct vmm *vmm, const struct timespec *deadline)
{
	pthread_mutex_lock(&vmm->exit_lock);
	while (!vmm_exiting(vmm)) {
		if (!deadline)
			pthread_cond_wait(&vmm->exit_cond, &vmm->exit_lock);
		else if (pthread_cond_timedwait(&vmm->exit_cond, &vmm->exit_lock, deadline) ==
			 ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&vmm->exit_lock);
	return vmm_exiting(vmm);
}

static int run(struct vmm *vmm)
{
	struct timespec deadline;
	int err;

	vmm->boot_ns = vmm_now_ns();
	err = loader_load(vmm);
	if (err)
		return VMM_EXIT_USAGE;
	for (unsigned i = 0; i < vmm->nr_cpus; i++) {
		err = cpu_create(vmm, i);
		if (err) {
			fprintf(stderr, "ivy: cannot create vCPU %u: %s\n", i, strerror(-err));
			return VMM_EXIT_VMM_ERROR;
		}
	}
	err = gic_init(vmm);
	if (err) {
		fprintf(stderr, "ivy: cannot initialise the GIC: %s\n", ivy_strerror(err));
		return VMM_EXIT_VMM_ERROR;
	}
	if (vmm->opts.timeout_s > 0) {
		uint64_t ns = (uint64_t)(vmm->opts.timeout_s * 1e9);

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += (time_t)(ns / 1000000000ull);
		deadline.tv_nsec += (long)(ns % 1000000000ull);
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	for (;;) {
		err = cpu_start_threads(vmm);
		if (err)
			vmm_request_exit(vmm, VMM_EXIT_VMM_ERROR, "cannot start vCPU threads");
		else if (!run_until_exit(vmm, vmm->opts.timeout_s > 0 ? &deadline : NULL))
			vmm_request_exit(vmm, VMM_EXIT_TIMEOUT,
					 "guest still running after --timeout %gs",
					 vmm->opts.timeout_s);
		cpu_join_threads(vmm);
		if (!atomic_load(&vmm->resetting))
			break;
		fflush(stdout);
		err = board_reset(vmm);
		if (err)
			return err;
	}
	fflush(stdout);
	return atomic_load(&vmm->exit_status);
}

int main(int argc, char **argv)
{
	struct vmm *vmm = &the_vmm;
	char ver[64];
	int status, err;

	if (argc >= 2 && !strcmp(argv[1], "device"))
		return device_main(argc - 2, argv + 2);
	if (argc < 2 ||
	    (strcmp(argv[1], "run") && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))) {
		fputs(usage_text, stderr);
		return VMM_EXIT_USAGE;
	}
	if (strcmp(argv[1], "run"))
		argc++, argv--; /* `ivy --help` */
	status = parse_args(&vmm->opts, argc - 2, argv + 2);
	if (status)
		return status;
	if (uci_check_version(ver, sizeof(ver))) {
		fprintf(stderr, "ivy: this VMM needs Unicorn %d.%d, found %s\n", UCI_VERSION_MAJOR,
			UCI_VERSION_MINOR, ver);
		return VMM_EXIT_VMM_ERROR;
	}
	if (!uci_code_gen_hooked()) {
		fprintf(stderr, "ivy: built without its tb_gen_code_aarch64 export (mk/build.mk): "
				"the engine would crash when its code buffer fills\n");
		return VMM_EXIT_VMM_ERROR;
	}
	if (!vmm->opts.kernel) {
		vmm->opts.kernel = demo_path();
		vmm->opts.demo = true;
		if (!vmm->opts.kernel)
			return usage_error(
				"no KERNEL given and the demo guest (build/guests/demo.bin) "
				"is not built: run `make run`");
	}
	pthread_mutex_init(&vmm->token.lock, NULL);
	pthread_cond_init(&vmm->token.cond, NULL);
	pthread_mutex_init(&vmm->psci_lock, NULL);
	pthread_mutex_init(&vmm->exit_lock, NULL);
	pthread_cond_init(&vmm->exit_cond, NULL);
	pthread_mutex_init(&vmm->trace_lock, NULL);

	err = board_create(vmm);
	if (err) {
		/* Device processes already started go, and so does the socket. */
		pci_destroy(vmm);
		if (vmm->opts.device_socket)
			ivy_ioreq_server_stop(vmm->vm);
		fprintf(stderr, "ivy: cannot build the board: %s\n", ivy_strerror(err));
		return VMM_EXIT_VMM_ERROR;
	}
	status = run(vmm);
	/* A run that went wrong (not the guest's own status) shows how the guest got there. */
	if (status == VMM_EXIT_TIMEOUT || status == VMM_EXIT_GUEST_EXCEPTION ||
	    status == VMM_EXIT_VMM_ERROR)
		pl011_print_tail(vmm, stderr, 15);
	if (vmm->exit_why[0] && (status != 0 || getenv("IVY_VERBOSE")))
		fprintf(stderr, "ivy: %s (exit status %d)\n", vmm->exit_why, status);
	if (vmm->opts.stats)
		stats_print(vmm, stdout);
	if (vmm->opts.trace_path) {
		err = trace_write(vmm, vmm->opts.trace_path);
		if (err)
			fprintf(stderr, "ivy: cannot write trace '%s': %s\n", vmm->opts.trace_path,
				strerror(-err));
	}
	fflush(stdout);
	pci_destroy(vmm);
	if (vmm->opts.device_socket)
		ivy_ioreq_server_stop(vmm->vm);
	/* vCPU engines and the VM go with the process; the stdin reader may still be blocked. */
	for (unsigned i = 0; i < vmm->nr_cpus; i++)
		cpu_destroy(&vmm->cpus[i]);
	ivy_vm_close(vmm->vm);
	_exit(status & 0xff);
}
