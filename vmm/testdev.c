/* SPDX-License-Identifier: MIT */
/*
 * A test device for guest tests: an I/O-request client that drives interrupt
 * lines on the guest's request, the way a device model would. Not on QEMU's
 * virt board; guests find it at BOARD_TESTDEV_BASE ("ivy,test-irq" in the DT).
 *
 *   0x00 SPI_LEVEL  write (INTID << 1) | level: drives a level SPI's line
 *   0x04 SPI_EDGE   write INTID: a rising then falling edge on the SPI's line
 *   0x08 MSI        write data: an MSI through an irqfd (GICv2m: data = SPI INTID;
 *                   ITS: data = EventID, DeviceID TESTDEV_ITS_DEVID)
 *   0x0c RESAMPLES  read: how many times the guest's EOIs resampled the level SPI
 *                   armed through 0x10
 *   0x10 IRQFD_LVL  write INTID: asserts that SPI through an irqfd with a resample
 *                   eventfd, as a level-triggered device behind an irqfd does
 *   0x14 SLOW       read: answers 1 after 50 ms, a device that keeps the vCPU
 *                   waiting for its I/O request while the others run
 */
#include "vmm.h"

#include <ivy/ioreq.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define TESTDEV_SPI_LEVEL 0x00
#define TESTDEV_SPI_EDGE  0x04
#define TESTDEV_MSI	  0x08
#define TESTDEV_RESAMPLES 0x0c
#define TESTDEV_IRQFD_LVL 0x10
#define TESTDEV_SLOW	  0x14
#define TESTDEV_SLOW_NS	  50000000l

#define TESTDEV_MAX_MSI 64
/* The test device's DeviceID on the ITS. */
#define TESTDEV_ITS_DEVID 0x10

struct testdev {
	struct vmm *vmm;
	struct ivy_ioreq_client *client;
	/* Protects: the irqfd tables. */
	pthread_mutex_t lock;
	int msi_fd[TESTDEV_MAX_MSI];
	uint32_t msi_data[TESTDEV_MAX_MSI];
	unsigned nr_msi;
	int lvl_fd, resample_fd;
	uint32_t lvl_intid;
};

static void testdev_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "ivy: test device: eventfd write failed\n");
}

static int testdev_msi(struct testdev *d, uint32_t data)
{
	int fd = -1;

	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->nr_msi; i++)
		if (d->msi_data[i] == data)
			fd = d->msi_fd[i];
	if (fd < 0 && d->nr_msi < TESTDEV_MAX_MSI) {
		fd = eventfd(0, EFD_CLOEXEC);
		struct ivy_irqfd irqfd = {
			.fd = fd,
			.resample_fd = -1,
			.flags = IVY_IRQFD_F_MSI,
			.msi_doorbell = BOARD_V2M_BASE + 0x40, /* MSI_SETSPI_NS */
			.msi_data = data,
		};
		if (d->vmm->its) {
			irqfd.msi_doorbell = BOARD_ITS_BASE + 0x10040; /* GITS_TRANSLATER */
			irqfd.msi_devid = TESTDEV_ITS_DEVID;
		}
		if (fd >= 0 && ivy_irqfd_assign(d->vmm->vm, &irqfd) == 0) {
			d->msi_fd[d->nr_msi] = fd;
			d->msi_data[d->nr_msi++] = data;
		} else if (fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
	pthread_mutex_unlock(&d->lock);
	if (fd < 0)
		return -ENOSPC;
	testdev_signal(fd);
	return 0;
}

static int testdev_irqfd_level(struct testdev *d, uint32_t intid)
{
	int err = 0;

	pthread_mutex_lock(&d->lock);
	if (d->lvl_fd < 0) {
		d->lvl_fd = eventfd(0, EFD_CLOEXEC);
		d->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
		struct ivy_irqfd irqfd = { .fd = d->lvl_fd,
					   .resample_fd = d->resample_fd,
					   .spi = intid };
		d->lvl_intid = intid;
		if (d->lvl_fd < 0 || d->resample_fd < 0 || ivy_irqfd_assign(d->vmm->vm, &irqfd))
			err = -EIO;
	}
	pthread_mutex_unlock(&d->lock);
	if (!err)
		testdev_signal(d->lvl_fd);
	return err;
}

static uint32_t testdev_resamples(struct testdev *d)
{
	uint32_t n = 0;
	uint64_t v;

	/* The semaphore eventfd counts resamples; drain it. */
	while (d->resample_fd >= 0 && read(d->resample_fd, &v, sizeof(v)) == sizeof(v))
		n++;
	return n;
}

static int testdev_handle(void *opaque, struct ivy_ioreq *req)
{
	struct testdev *d = opaque;
	uint64_t off = req->addr - BOARD_TESTDEV_BASE;
	uint32_t v = (uint32_t)req->value;

	if (req->dir == IVY_IOREQ_READ) {
		req->value = off == TESTDEV_RESAMPLES ? testdev_resamples(d) : 0;
		if (off == TESTDEV_SLOW && req->vcpu < d->vmm->nr_cpus) {
			struct vmm_cpu *cpu = &d->vmm->cpus[req->vcpu];
			struct timespec ts = { 0, TESTDEV_SLOW_NS };

			/* As a vCPU waiting for an asynchronous client does: the others run. */
			cpu_block(cpu, true);
			nanosleep(&ts, NULL);
			cpu_block(cpu, false);
			req->value = 1;
		}
		return 0;
	}
	switch (off) {
	case TESTDEV_SPI_LEVEL: gic_set_spi(d->vmm, v >> 1, v & 1); break;
	case TESTDEV_SPI_EDGE:
		gic_set_spi(d->vmm, v, true);
		gic_set_spi(d->vmm, v, false);
		break;
	case TESTDEV_MSI: (void)testdev_msi(d, v); break;
	case TESTDEV_IRQFD_LVL: (void)testdev_irqfd_level(d, v); break;
	default: break;
	}
	return 0;
}

static const struct ivy_ioreq_client_ops testdev_ops = { .handle = testdev_handle };

int testdev_create(struct vmm *vmm)
{
	struct testdev *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->vmm = vmm;
	d->lvl_fd = d->resample_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	struct ivy_ioreq_client_config cfg = { .name = "test-irq",
					       .ops = &testdev_ops,
					       .opaque = d };
	err = ivy_ioreq_client_create(vmm->vm, &cfg, &d->client);
	if (!err) {
		stats_name_client(ivy_ioreq_client_id(d->client), "test-irq");
		err = ivy_ioreq_client_add_range(d->client, IVY_IOREQ_TYPE_MMIO, BOARD_TESTDEV_BASE,
						 BOARD_TESTDEV_BASE + BOARD_TESTDEV_SIZE - 1);
	}
	/* On error the client goes with the VM. */
	return err;
}
