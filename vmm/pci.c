/* SPDX-License-Identifier: MIT */
/*
 * The PCIe host bridge of the board (QEMU virt's low layout: ECAM at
 * 0x3f000000 for buses 0..15, a 32-bit MMIO window below it) and its virtio
 * functions, each an I/O-request client of the VM, as ACRN's device model
 * serves PCI devices.
 *
 * An in-process function is two clients: its configuration space (its BDF)
 * is served by a thread of its own, and its BARs by a synchronous client
 * answered on the vCPU's thread. The split is what lets BAR claims follow the
 * guest: a configuration write may move a BAR, and routing may only change
 * outside the vCPUs' routing read section, which a synchronous handler runs
 * inside. The data path (notifications, the MSI-X table) stays synchronous.
 *
 * A function with process=separate runs in a device process (`ivy device`,
 * device.c) that connects to the VM's socket, maps guest RAM and raises its
 * MSIs through irqfds. If that process dies, its requests complete as
 * unhandled and the VM goes on.
 *
 * MSI-X messages carry the function's BDF as requester ID: the DT's msi-map
 * maps RIDs 1:1 to ITS DeviceIDs. INTx goes to SPIs 3..6, swizzled by slot,
 * as on QEMU virt.
 */
#include "vmm.h"

#include "pcifn.h"

#include <ivy/gic.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct pcidev {
	struct vmm *vmm;
	const struct pci_opt *opt;
	char name[32];
	uint16_t bdf;
	/* In process. */
	struct pcifn fn;
	struct ivy_ioreq_client *cfg_client; /* asynchronous: the BDF */
	struct ivy_ioreq_client *bar_client; /* synchronous: the BARs */
	pthread_t cfg_thread;
	bool intx;
	/* In a device process. */
	pid_t pid;
};

static const char *const pci_kind_names[] = {
	[PCI_VIRTIO_BLK] = "virtio-blk",
	[PCI_VIRTIO_RNG] = "virtio-rng",
};

/* ------------------------------------------------------------------------------------ */
/* What a function needs from the board: DMA, MSIs, INTx.                               */

static int pcidev_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct pcidev *d = opaque;

	return ivy_guest_read(d->vmm->vm, gpa, buf, len);
}

static int pcidev_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct pcidev *d = opaque;
	int ret = ivy_guest_write(d->vmm->vm, gpa, buf, len);

	/* Code the engines translated from these pages is stale now. */
	if (!ret)
		cpu_note_ram_write(d->vmm, gpa, len);
	return ret;
}

static const struct virtio_mem_ops pcidev_mem_ops = { .read = pcidev_dma_read,
						      .write = pcidev_dma_write };

static void pcidev_msi(void *opaque, uint64_t addr, uint32_t data, uint16_t rid)
{
	struct pcidev *d = opaque;

	/* A message the guest's configuration blocks is dropped, as on hardware. */
	IGNORE(ivy_signal_msi(d->vmm->vm, addr, data, rid));
}

static unsigned pcidev_intx_line(uint16_t bdf)
{
	/* INTA# of slot s is line s % 4 (the standard swizzle, pin A). */
	return ((bdf >> 3) & 31) % 4;
}

static void pcidev_intx(void *opaque, bool level)
{
	struct pcidev *d = opaque;
	struct vmm *vmm = d->vmm;
	unsigned line = pcidev_intx_line(d->bdf);

	/* Functions sharing a line: it is up while any of them holds it. */
	pthread_mutex_lock(&vmm->intx_lock);
	if (level != d->intx) {
		d->intx = level;
		vmm->intx_count[line] += level ? 1 : -1u;
		gic_set_spi(vmm, 32 + BOARD_PCIE_INTX_SPI + line, vmm->intx_count[line] > 0);
	}
	pthread_mutex_unlock(&vmm->intx_lock);
}

static const struct pci_host_ops pcidev_host_ops = { .msi = pcidev_msi, .intx = pcidev_intx };

/* ------------------------------------------------------------------------------------ */
/* In-process functions.                                                                */

static int pcidev_claim(void *opaque, bool add, uint64_t start, uint64_t end)
{
	struct pcidev *d = opaque;

	return add ? ivy_ioreq_client_add_range(d->bar_client, IVY_IOREQ_TYPE_MMIO, start, end)
		   : ivy_ioreq_client_del_range(d->bar_client, IVY_IOREQ_TYPE_MMIO, start, end);
}

static int pcidev_bar_handle(void *opaque, struct ivy_ioreq *req)
{
	struct pcidev *d = opaque;

	return pcifn_mmio(&d->fn, req) ? 0 : -ENOENT;
}

static const struct ivy_ioreq_client_ops pcidev_bar_ops = { .handle = pcidev_bar_handle };

/* Serves the configuration space; runs until the client is destroyed with the VM. */
static void *pcidev_cfg_thread(void *arg)
{
	struct pcidev *d = arg;
	struct ivy_ioreq req;

	for (;;) {
		int err = ivy_ioreq_client_wait(d->cfg_client, -1, &req);

		if (err == -ENODEV || err == -EINVAL)
			break;
		if (err)
			continue;
		pcifn_cfg(&d->fn, &req);
		/* -EALREADY: the vCPU gave up on us (timeout, teardown). */
		IGNORE(ivy_ioreq_client_complete(d->cfg_client, &req));
	}
	return NULL;
}

static int pcidev_start_local(struct pcidev *d)
{
	struct vmm *vmm = d->vmm;
	struct pcifn_config fc = { .blk = d->opt->kind == PCI_VIRTIO_BLK,
				   .file = d->opt->file,
				   .read_only = d->opt->read_only,
				   .num_queues = (uint16_t)vmm->nr_cpus };
	char why[256], cname[40];
	int err;

	err = pcifn_init(&d->fn, &fc, d->bdf, &pcidev_mem_ops, d, &pcidev_host_ops, d, why,
			 sizeof(why));
	if (err) {
		fprintf(stderr, "ivy: %s\n", why);
		return err;
	}
	d->fn.claim = pcidev_claim;
	d->fn.claim_opaque = d;
	snprintf(cname, sizeof(cname), "%s cfg", d->name);
	struct ivy_ioreq_client_config ccfg = { .name = cname };
	struct ivy_ioreq_client_config bcfg = { .name = d->name,
						.ops = &pcidev_bar_ops,
						.opaque = d };
	err = ivy_ioreq_client_create(vmm->vm, &ccfg, &d->cfg_client);
	if (!err)
		err = ivy_ioreq_client_create(vmm->vm, &bcfg, &d->bar_client);
	if (!err)
		err = ivy_ioreq_client_add_range(d->cfg_client, IVY_IOREQ_TYPE_PCI, d->bdf, d->bdf);
	if (err) {
		fprintf(stderr, "ivy: cannot attach %s: %s\n", d->name, ivy_strerror(err));
		return err;
	}
	stats_name_client(ivy_ioreq_client_id(d->cfg_client), cname);
	stats_name_client(ivy_ioreq_client_id(d->bar_client), d->name);
	err = -pthread_create(&d->cfg_thread, NULL, pcidev_cfg_thread, d);
	if (err)
		fprintf(stderr, "ivy: cannot start the thread of %s\n", d->name);
	return err;
}

/* ------------------------------------------------------------------------------------ */
/* Functions in a device process of their own.                                          */

/* Waits up to 10 s for the device process to say it is attached: "R<client id>" on the pipe. */
static int pcidev_wait_ready(struct pcidev *d, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char msg[16] = { 0 };

	if (poll(&p, 1, 10000) <= 0 || read(fd, msg, sizeof(msg) - 1) < 2 || msg[0] != 'R') {
		fprintf(stderr, "ivy: the device process of %s (pid %d) did not attach\n", d->name,
			(int)d->pid);
		return -EIO;
	}
	stats_name_client((unsigned)strtoul(msg + 1, NULL, 10), d->name);
	return 0;
}

static int pcidev_start_remote(struct pcidev *d)
{
	struct vmm *vmm = d->vmm;
	char bdf[16], ready[16], queues[16], exe[4096];
	const char *argv[16];
	int pipefd[2], n = 0, err;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (len <= 0)
		return -ENOENT;
	exe[len] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	snprintf(bdf, sizeof(bdf), "%u", d->bdf);
	snprintf(ready, sizeof(ready), "%d", pipefd[1]);
	argv[n++] = exe;
	argv[n++] = "device";
	argv[n++] = pci_kind_names[d->opt->kind];
	argv[n++] = "--connect";
	argv[n++] = vmm->opts.device_socket;
	argv[n++] = "--bdf";
	argv[n++] = bdf;
	argv[n++] = "--ready-fd";
	argv[n++] = ready;
	if (d->opt->file) {
		argv[n++] = "--file";
		argv[n++] = d->opt->file;
	}
	if (d->opt->read_only)
		argv[n++] = "--readonly";
	snprintf(queues, sizeof(queues), "%u", vmm->nr_cpus);
	argv[n++] = "--queues";
	argv[n++] = queues;
	argv[n] = NULL;
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (d->pid == 0) {
		/* The write end stays open across exec; nothing else does. */
		fcntl(pipefd[1], F_SETFD, 0);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	err = pcidev_wait_ready(d, pipefd[0]);
	close(pipefd[0]);
	if (!err && getenv("IVY_VERBOSE"))
		fprintf(stderr, "ivy: %s runs as process %d\n", d->name, (int)d->pid);
	return err;
}

/* ------------------------------------------------------------------------------------ */
/* The host bridge.                                                                     */

/*
 * Configuration space of the functions that are not there: all-ones, as a
 * master abort reads, without a warning for each of the hundreds of probes
 * of an enumeration. Claimed around the functions' own BDFs.
 */
static int pci_absent_handle(void *opaque, struct ivy_ioreq *req)
{
	(void)opaque;
	req->value = ~0ull;
	return 0;
}

static const struct ivy_ioreq_client_ops pci_absent_ops = { .handle = pci_absent_handle };

static int pci_claim_absent(struct vmm *vmm, unsigned nr_slots)
{
	struct ivy_ioreq_client_config cfg = { .name = "pcie-absent", .ops = &pci_absent_ops };
	struct ivy_ioreq_client *c;
	uint32_t last = IVY_PCI_BDF(BOARD_PCIE_NR_BUSES - 1, 31, 7);
	int err = ivy_ioreq_client_create(vmm->vm, &cfg, &c);

	if (err)
		return err;
	stats_name_client(ivy_ioreq_client_id(c), "pcie-absent");
	/* Slot 0, functions 1..7 of every used slot, and everything after them. */
	err = ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_PCI, 0, IVY_PCI_BDF(0, 0, 7));
	for (unsigned s = 1; !err && s <= nr_slots; s++)
		err = ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_PCI, IVY_PCI_BDF(0, s, 1),
						 IVY_PCI_BDF(0, s, 7));
	if (!err)
		err = ivy_ioreq_client_add_range(c, IVY_IOREQ_TYPE_PCI,
						 IVY_PCI_BDF(0, nr_slots + 1, 0), last);
	return err;
}

static int pci_socket_path(struct vmm *vmm)
{
	const char *dir = getenv("TMPDIR");

	if (vmm->opts.device_socket)
		return 0;
	snprintf(vmm->socket_tmp, sizeof(vmm->socket_tmp), "%s/ivy-%d.sock",
		 dir && strlen(dir) < 32 ? dir : "/tmp", (int)getpid());
	unlink(vmm->socket_tmp);
	vmm->opts.device_socket = vmm->socket_tmp;
	return ivy_ioreq_server_start(vmm->vm, vmm->socket_tmp);
}

int pci_create(struct vmm *vmm)
{
	bool remote = false;
	int err;

	pthread_mutex_init(&vmm->intx_lock, NULL);
	if (!vmm->opts.nr_pci)
		return 0;
	err = ivy_ioreq_set_ecam(vmm->vm, BOARD_PCIE_ECAM_BASE, BOARD_PCIE_ECAM_SIZE, 0);
	if (err) {
		fprintf(stderr, "ivy: cannot place the PCIe ECAM window: %s\n", ivy_strerror(err));
		return err;
	}
	err = pci_claim_absent(vmm, vmm->opts.nr_pci);
	if (err) {
		fprintf(stderr, "ivy: cannot claim the PCI configuration space: %s\n",
			ivy_strerror(err));
		return err;
	}
	for (unsigned i = 0; i < vmm->opts.nr_pci; i++)
		remote |= vmm->opts.pci[i].separate;
	if (remote && (err = pci_socket_path(vmm))) {
		fprintf(stderr, "ivy: cannot serve device processes on '%s': %s\n",
			vmm->opts.device_socket, ivy_strerror(err));
		return err;
	}
	for (unsigned i = 0; i < vmm->opts.nr_pci; i++) {
		struct pcidev *d = calloc(1, sizeof(*d));

		if (!d)
			return -ENOMEM;
		d->vmm = vmm;
		d->opt = &vmm->opts.pci[i];
		/* Bus 0, one slot per function from slot 1 (slot 0 is the host bridge's on virt). */
		d->bdf = (uint16_t)IVY_PCI_BDF(0, i + 1, 0);
		snprintf(d->name, sizeof(d->name), "%s@%02x.0", pci_kind_names[d->opt->kind],
			 i + 1);
		vmm->pci[vmm->nr_pci++] = d;
		err = d->opt->separate ? pcidev_start_remote(d) : pcidev_start_local(d);
		if (err)
			return err;
	}
	return 0;
}

/*
 * A board reset, with every vCPU stopped: in-process functions go back to
 * their power-on state. A device process keeps its state; a driver resets a
 * virtio device when it probes it (virtio 1.2, 3.1.1), as Linux does.
 */
void pci_reset(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->nr_pci; i++) {
		struct pcidev *d = vmm->pci[i];

		if (!d->opt->separate)
			pcifn_reset(&d->fn);
	}
	/* The new GIC starts with every line low. */
	pthread_mutex_lock(&vmm->intx_lock);
	for (unsigned i = 0; i < vmm->nr_pci; i++)
		vmm->pci[i]->intx = false;
	memset(vmm->intx_count, 0, sizeof(vmm->intx_count));
	pthread_mutex_unlock(&vmm->intx_lock);
}

void pci_destroy(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->nr_pci; i++) {
		struct pcidev *d = vmm->pci[i];

		if (d->pid > 0) {
			kill(d->pid, SIGTERM);
			waitpid(d->pid, NULL, 0);
			d->pid = 0;
		}
	}
}
