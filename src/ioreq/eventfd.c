/* SPDX-License-Identifier: MIT */
/*
 * ioeventfd and irqfd, with KVM's semantics (KVM_IOEVENTFD, KVM_IRQFD).
 *
 * ioeventfds live in the routing table, so a vCPU matches them without a lock
 * and deassignment waits for vCPUs the same way a client's removal does.
 *
 * irqfds are watched by one thread per VM (epoll). The thread injects with
 * io->irqfd_lock held and finds the irqfd by key, never by a pointer carried
 * in the epoll event, so deassignment under the same lock is synchronous: when
 * it returns the irqfd is gone and no injection for it is in progress.
 */
#include "ioreq/ioreq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* ioeventfd.                                                                                 */

static bool ioeventfd_valid(const struct ivy_vm *vm, const struct ivy_ioeventfd *ev)
{
	bool pio = ev->flags & IVY_IOEVENTFD_F_PIO;

	if (ev->fd < 0 || (ev->flags & ~(IVY_IOEVENTFD_F_PIO | IVY_IOEVENTFD_F_DATAMATCH)))
		return false;
	if (ev->len != 1 && ev->len != 2 && ev->len != 4 && (ev->len != 8 || pio))
		return false;
	if (pio)
		return ev->addr + ev->len <= 0x10000;
	return vm_gpa_range_valid(vm, ev->addr, ev->len);
}

/* KVM's ioeventfd_check_collision(): same place, and the data cannot tell them apart. */
static bool ioeventfd_collides(const struct ioreq_ioeventfd *a, const struct ivy_ioeventfd *b)
{
	if (a->addr != b->addr || a->len != b->len ||
	    (a->flags & IVY_IOEVENTFD_F_PIO) != (b->flags & IVY_IOEVENTFD_F_PIO))
		return false;
	if (!(a->flags & IVY_IOEVENTFD_F_DATAMATCH) || !(b->flags & IVY_IOEVENTFD_F_DATAMATCH))
		return true;
	return ((a->datamatch ^ b->datamatch) & ioreq_width_mask(a->len)) == 0;
}

int ivy_ioeventfd_assign(struct ivy_vm *vm, const struct ivy_ioeventfd *ev)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;
	struct ioreq_routes *next;
	struct ioreq_ioeventfd *evs;
	int ret = 0, fd;

	if (!ev)
		return -EINVAL;
	if (!io || vm_is_destroyed(vm))
		return -ENODEV;
	if (!ioeventfd_valid(vm, ev))
		return -EINVAL;
	pthread_mutex_lock(&io->lock);
	if (atomic_load_explicit(&io->stopped, memory_order_relaxed)) {
		ret = -ENODEV;
		goto out;
	}
	next = ioreq_routes_clone(atomic_load_explicit(&io->routes, memory_order_relaxed));
	if (!next) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < next->nr_evs; i++) {
		if (ioeventfd_collides(&next->evs[i], ev)) {
			ret = -EEXIST;
			goto err_next;
		}
	}
	evs = realloc(next->evs, (next->nr_evs + 1) * sizeof(*evs));
	if (!evs) {
		ret = -ENOMEM;
		goto err_next;
	}
	next->evs = evs;
	fd = fcntl(ev->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto err_next;
	}
	evs[next->nr_evs++] = (struct ioreq_ioeventfd){
		.fd = fd,
		.user_fd = ev->fd,
		.flags = ev->flags,
		.len = ev->len,
		.addr = ev->addr,
		.datamatch = ev->datamatch & ioreq_width_mask(ev->len),
	};
	ioreq_routes_publish_locked(io, next);
	goto out;

err_next:
	ioreq_routes_free(next);
out:
	pthread_mutex_unlock(&io->lock);
	return ret;
}

int ivy_ioeventfd_deassign(struct ivy_vm *vm, const struct ivy_ioeventfd *ev)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;
	struct ioreq_routes *next;
	int ret = -ENOENT, fd = -1;

	if (!ev)
		return -EINVAL;
	if (!io)
		return -ENODEV;
	pthread_mutex_lock(&io->lock);
	next = ioreq_routes_clone(atomic_load_explicit(&io->routes, memory_order_relaxed));
	if (!next) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < next->nr_evs; i++) {
		struct ioreq_ioeventfd *e = &next->evs[i];

		if (e->user_fd != ev->fd || e->flags != ev->flags || e->addr != ev->addr ||
		    e->len != ev->len ||
		    ((e->flags & IVY_IOEVENTFD_F_DATAMATCH) &&
		     e->datamatch != (ev->datamatch & ioreq_width_mask(e->len))))
			continue;
		fd = e->fd;
		next->evs[i] = next->evs[--next->nr_evs];
		ret = 0;
		break;
	}
	if (ret) {
		ioreq_routes_free(next);
		goto out;
	}
	/* Publishing waits for every vCPU that could still signal the old fd. */
	ioreq_routes_publish_locked(io, next);
	close(fd);
out:
	pthread_mutex_unlock(&io->lock);
	return ret;
}

void ioreq_ioeventfd_release_all(struct ioreq_vm *io)
{
	struct ioreq_routes *next;

	pthread_mutex_lock(&io->lock);
	next = ioreq_routes_clone(atomic_load_explicit(&io->routes, memory_order_relaxed));
	if (next) {
		struct ioreq_ioeventfd *evs = next->evs;
		uint32_t n = next->nr_evs;

		/* The array moves out of the new table; the fds close once no vCPU can signal. */
		next->evs = NULL;
		next->nr_evs = 0;
		ioreq_routes_publish_locked(io, next);
		for (uint32_t i = 0; i < n; i++)
			close(evs[i].fd);
		free(evs);
	}
	pthread_mutex_unlock(&io->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* irqfd.                                                                                     */

struct irqfd {
	struct ioreq_vm *io;
	uint64_t key; /* epoll data; 0 is the stop eventfd */
	int fd;	      /* our duplicate of user_fd */
	int user_fd;
	int resample_fd; /* our duplicate, or -1 */
	uint32_t flags;
	uint32_t spi;
	uint64_t msi_doorbell;
	uint32_t msi_data, msi_devid;
	struct irqfd *next;
};

/*
 * The controller's ops, for looking at what they offer only: calls into them go
 * through vm_irq_enter()/vm_irq_exit() so the controller cannot go away under us.
 */
static const struct vm_irq_ops *irq_ops_of(struct ivy_vm *vm)
{
	return atomic_load_explicit(&vm->irq_ops, memory_order_acquire);
}

/*
 * The guest EOIed the level SPI: lower the line and tell the device (KVM's
 * irqfd_resampler_ack). Runs on the interrupt controller's thread of choice;
 * touches only the irqfd's immutable fields.
 */
static void irqfd_resample(void *opaque)
{
	struct irqfd *f = opaque;
	unsigned stripe;
	const struct vm_irq_ops *ops = vm_irq_enter(f->io->vm, &stripe);
	uint64_t one = 1;

	if (ops && ops->set_spi)
		(void)ops->set_spi(f->io->vm, f->spi, false);
	vm_irq_exit(f->io->vm, stripe);
	if (write(f->resample_fd, &one, sizeof(one)) < 0) {
		/* A saturated counter still tells the device. */
	}
}

/* Injects for one irqfd; the caller holds io->irqfd_lock. */
static void irqfd_inject_locked(struct irqfd *f)
{
	struct ivy_vm *vm = f->io->vm;
	unsigned stripe;
	const struct vm_irq_ops *ops = vm_irq_enter(vm, &stripe);

	if (!ops) {
		/* The interrupt controller is gone: nothing to inject into. */
	} else if (f->flags & IVY_IRQFD_F_MSI) {
		if (ops->signal_msi)
			(void)ops->signal_msi(vm, f->msi_doorbell, f->msi_data, f->msi_devid);
	} else if (ops->set_spi) {
		(void)ops->set_spi(vm, f->spi, true);
		/* Without a resampler an irqfd is an edge: the line pulses. */
		if (f->resample_fd < 0)
			(void)ops->set_spi(vm, f->spi, false);
	}
	vm_irq_exit(vm, stripe);
}

static void *irqfd_thread(void *arg)
{
	struct ioreq_vm *io = arg;

	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(io->irqfd_epfd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t key = evs[i].data.u64, count;

			if (key == 0)
				return NULL;
			pthread_mutex_lock(&io->irqfd_lock);
			for (struct irqfd *f = io->irqfds; f; f = f->next) {
				if (f->key != key)
					continue;
				if (read(f->fd, &count, sizeof(count)) == sizeof(count) && count)
					irqfd_inject_locked(f);
				break;
			}
			pthread_mutex_unlock(&io->irqfd_lock);
		}
	}
}

static int irqfd_thread_start_locked(struct ioreq_vm *io)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
	int ret;

	if (io->irqfd_thread_on)
		return 0;
	io->irqfd_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (io->irqfd_epfd < 0)
		return -errno;
	io->irqfd_stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->irqfd_stopfd < 0) {
		ret = -errno;
		goto err_stopfd;
	}
	if (epoll_ctl(io->irqfd_epfd, EPOLL_CTL_ADD, io->irqfd_stopfd, &ev) < 0) {
		ret = -errno;
		goto err_thread;
	}
	ret = -pthread_create(&io->irqfd_thread, NULL, irqfd_thread, io);
	if (ret)
		goto err_thread;
	io->irqfd_thread_on = true;
	return 0;

err_thread:
	close(io->irqfd_stopfd);
	io->irqfd_stopfd = -1;
err_stopfd:
	close(io->irqfd_epfd);
	io->irqfd_epfd = -1;
	return ret;
}

static void irqfd_free(struct irqfd *f)
{
	close(f->fd);
	if (f->resample_fd >= 0)
		close(f->resample_fd);
	free(f);
}

int ivy_irqfd_assign(struct ivy_vm *vm, const struct ivy_irqfd *cfg)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;
	const struct vm_irq_ops *ops;
	struct epoll_event ev = { .events = EPOLLIN };
	struct irqfd *f;
	bool msi;
	int ret;

	if (!cfg)
		return -EINVAL;
	if (!io || vm_is_destroyed(vm))
		return -ENODEV;
	ops = irq_ops_of(vm);
	if (!ops)
		return -ENODEV;
	msi = cfg->flags & IVY_IRQFD_F_MSI;
	if (cfg->fd < 0 || (cfg->flags & ~IVY_IRQFD_F_MSI))
		return -EINVAL;
	if (msi ? (cfg->resample_fd >= 0 || !ops->signal_msi)
		: (cfg->spi < 32 || cfg->spi > 1019 || !ops->set_spi))
		return -EINVAL;
	if (cfg->resample_fd >= 0 && (!ops->add_resample || !ops->del_resample))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	*f = (struct irqfd){ .io = io,
			     .user_fd = cfg->fd,
			     .resample_fd = -1,
			     .flags = cfg->flags,
			     .spi = cfg->spi,
			     .msi_doorbell = cfg->msi_doorbell,
			     .msi_data = cfg->msi_data,
			     .msi_devid = cfg->msi_devid };
	f->fd = fcntl(cfg->fd, F_DUPFD_CLOEXEC, 0);
	if (f->fd < 0) {
		ret = -errno;
		goto err_dup;
	}
	/* The thread must never block in read(): the description is shared with the caller. */
	if (fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) | O_NONBLOCK) < 0) {
		ret = -errno;
		goto err_resample_dup;
	}
	if (cfg->resample_fd >= 0) {
		f->resample_fd = fcntl(cfg->resample_fd, F_DUPFD_CLOEXEC, 0);
		if (f->resample_fd < 0) {
			ret = -errno;
			goto err_resample_dup;
		}
	}
	pthread_mutex_lock(&io->irqfd_lock);
	if (atomic_load_explicit(&io->stopped, memory_order_relaxed)) {
		ret = -ENODEV;
		goto err_locked;
	}
	for (struct irqfd *o = io->irqfds; o; o = o->next) {
		if (o->user_fd == cfg->fd) {
			ret = -EBUSY;
			goto err_locked;
		}
	}
	ret = irqfd_thread_start_locked(io);
	if (ret)
		goto err_locked;
	f->key = ++io->irqfd_next_key;
	if (f->resample_fd >= 0) {
		unsigned stripe;
		const struct vm_irq_ops *live = vm_irq_enter(vm, &stripe);

		ret = live ? live->add_resample(vm, f->spi, irqfd_resample, f) : -ENODEV;
		vm_irq_exit(vm, stripe);
		if (ret)
			goto err_locked;
	}
	ev.data.u64 = f->key;
	if (epoll_ctl(io->irqfd_epfd, EPOLL_CTL_ADD, f->fd, &ev) < 0) {
		ret = -errno;
		if (f->resample_fd >= 0) {
			unsigned stripe;
			const struct vm_irq_ops *live = vm_irq_enter(vm, &stripe);

			if (live)
				live->del_resample(vm, f->spi, irqfd_resample, f);
			vm_irq_exit(vm, stripe);
		}
		goto err_locked;
	}
	f->next = io->irqfds;
	io->irqfds = f;
	pthread_mutex_unlock(&io->irqfd_lock);
	return 0;

err_locked:
	pthread_mutex_unlock(&io->irqfd_lock);
err_resample_dup:
	if (f->resample_fd >= 0)
		close(f->resample_fd);
	close(f->fd);
err_dup:
	free(f);
	return ret;
}

/* Unhooks an irqfd already unlinked from io->irqfds; the caller holds io->irqfd_lock. */
static void irqfd_detach_locked(struct ioreq_vm *io, struct irqfd *f)
{
	unsigned stripe;
	const struct vm_irq_ops *ops = vm_irq_enter(io->vm, &stripe);

	epoll_ctl(io->irqfd_epfd, EPOLL_CTL_DEL, f->fd, NULL);
	if (f->resample_fd >= 0 && ops) {
		ops->del_resample(io->vm, f->spi, irqfd_resample, f);
		/* A line held for the resampler must not stay high once nobody lowers it. */
		(void)ops->set_spi(io->vm, f->spi, false);
	}
	vm_irq_exit(io->vm, stripe);
}

int ivy_irqfd_deassign(struct ivy_vm *vm, int fd)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;
	struct irqfd **pp, *f = NULL;

	if (!io)
		return -ENODEV;
	pthread_mutex_lock(&io->irqfd_lock);
	for (pp = &io->irqfds; *pp; pp = &(*pp)->next) {
		if ((*pp)->user_fd == fd) {
			f = *pp;
			*pp = f->next;
			irqfd_detach_locked(io, f);
			break;
		}
	}
	pthread_mutex_unlock(&io->irqfd_lock);
	if (!f)
		return -ENOENT;
	irqfd_free(f);
	return 0;
}

void ioreq_irqfd_release_all(struct ioreq_vm *io)
{
	struct irqfd *list;
	uint64_t one = 1;
	bool on;

	pthread_mutex_lock(&io->irqfd_lock);
	list = io->irqfds;
	io->irqfds = NULL;
	for (struct irqfd *f = list; f; f = f->next)
		irqfd_detach_locked(io, f);
	on = io->irqfd_thread_on;
	io->irqfd_thread_on = false;
	pthread_mutex_unlock(&io->irqfd_lock);
	while (list) {
		struct irqfd *f = list;

		list = f->next;
		irqfd_free(f);
	}
	if (!on)
		return;
	if (write(io->irqfd_stopfd, &one, sizeof(one)) < 0) {
		/* Cannot fail on a fresh eventfd. */
	}
	pthread_join(io->irqfd_thread, NULL);
	close(io->irqfd_stopfd);
	close(io->irqfd_epfd);
	io->irqfd_stopfd = io->irqfd_epfd = -1;
}
