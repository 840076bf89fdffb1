/* SPDX-License-Identifier: MIT */
/*
 * ivy-client: the client side of docs/ioreq-protocol.md.
 *
 * The socket only carries set-up messages. Requests arrive in the client's
 * own memfd: the VMM sets bit v of the control page's pending bitmap when
 * vCPU v's slot holds a request for us, and writes the kick eventfd if we
 * announced that we sleep. We answer by writing the value and publishing
 * COMPLETE in the slot, and wake the vCPU through a futex on the state word
 * unless it polls.
 */
#include <ivy/client.h>

#include <errno.h>
#include <stdint.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_MAX_IRQFDS 16

struct ivy_client {
	int sock;
	int kick_fd;
	uint32_t id;
	uint32_t nr_slots;
	uint32_t tag;
	struct ivy_ioreq_slot *slots;
	struct ivy_ioreq_ctl *ctl;
	size_t map_size;
	int irq_fds[CLIENT_MAX_IRQFDS];
};

static _Atomic uint32_t *slot_state(struct ivy_ioreq_slot *s)
{
	return (_Atomic uint32_t *)&s->state;
}

/* Sends a request and waits for its reply; fds received with the reply go to fds[]. */
static int client_call(struct ivy_client *c, struct ivy_ioreq_msg *m, const int *send_fds,
		       int nsend, int *fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint32_t type = m->type, tag = ++c->tag;
	ssize_t n;

	m->tag = tag;
	memset(&ctl, 0, sizeof(ctl));
	if (nsend) {
		struct cmsghdr *cm;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nsend);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nsend);
		memcpy(CMSG_DATA(cm), send_fds, sizeof(int) * nsend);
	}
	if (sendmsg(c->sock, &mh, MSG_NOSIGNAL) != sizeof(*m))
		return -EPIPE;
	mh = (struct msghdr){ .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	n = recvmsg(c->sock, &mh, MSG_CMSG_CLOEXEC);
	if (nfds)
		*nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n > 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (nfds && *nfds < 2)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (n <= 0)
		return -EPIPE;
	if (n != sizeof(*m) || m->type != (type | IVY_IOREQ_MSG_REPLY) || m->tag != tag)
		return -EPROTO;
	return m->status;
}

int ivy_client_connect(const char *path, const char *name, struct ivy_client **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ivy_ioreq_msg m = { .type = IVY_IOREQ_MSG_HELLO, .a = IVY_IOREQ_PROTO_VERSION };
	struct ivy_client *c;
	int fds[2], nfds = 0, ret;
	size_t slots_size;

	if (!path || !out)
		return -EINVAL;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (name)
		strncpy(m.name, name, sizeof(m.name) - 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (int i = 0; i < CLIENT_MAX_IRQFDS; i++)
		c->irq_fds[i] = -1;
	c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->sock < 0) {
		ret = -errno;
		goto err_socket;
	}
	if (connect(c->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		goto err_connect;
	}
	ret = client_call(c, &m, NULL, 0, fds, &nfds);
	if (ret == 0 && nfds != 2)
		ret = -EPROTO;
	if (ret)
		goto err_hello;
	c->id = (uint32_t)m.a;
	c->nr_slots = (uint32_t)m.b;
	c->map_size = m.c;
	slots_size = (size_t)ivy_ioreq_nr_pages(c->nr_slots) * IVY_IOREQ_PAGE_SIZE;
	if (c->nr_slots == 0 || c->nr_slots > IVY_MAX_VCPUS ||
	    c->map_size != slots_size + sizeof(struct ivy_ioreq_ctl)) {
		ret = -EPROTO;
		goto err_hello;
	}
	c->slots = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (c->slots == MAP_FAILED) {
		ret = -errno;
		goto err_hello;
	}
	close(fds[0]);
	c->ctl = (struct ivy_ioreq_ctl *)((char *)c->slots + slots_size);
	c->kick_fd = fds[1];
	*out = c;
	return 0;

err_hello:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
err_connect:
	close(c->sock);
err_socket:
	free(c);
	return ret;
}

void ivy_client_close(struct ivy_client *c)
{
	if (!c)
		return;
	close(c->sock);
	for (int i = 0; i < CLIENT_MAX_IRQFDS; i++)
		if (c->irq_fds[i] >= 0)
			close(c->irq_fds[i]);
	munmap(c->slots, c->map_size);
	close(c->kick_fd);
	free(c);
}

uint32_t ivy_client_id(const struct ivy_client *c)
{
	return c->id;
}

int ivy_client_kick_fd(const struct ivy_client *c)
{
	return c->kick_fd;
}

struct ivy_ioreq_slot *ivy_client_slots(const struct ivy_client *c)
{
	return c->slots;
}

struct ivy_ioreq_ctl *ivy_client_ctl(const struct ivy_client *c)
{
	return c->ctl;
}

uint32_t ivy_client_nr_slots(const struct ivy_client *c)
{
	return c->nr_slots;
}

int ivy_client_socket(const struct ivy_client *c)
{
	return c->sock;
}

static int client_range_msg(struct ivy_client *c, uint32_t msg, uint32_t type, uint64_t start,
			    uint64_t end)
{
	struct ivy_ioreq_msg m = { .type = msg, .flags = type, .a = start, .b = end };

	return client_call(c, &m, NULL, 0, NULL, NULL);
}

int ivy_client_claim(struct ivy_client *c, uint32_t type, uint64_t start, uint64_t end)
{
	return client_range_msg(c, IVY_IOREQ_MSG_CLAIM, type, start, end);
}

int ivy_client_unclaim(struct ivy_client *c, uint32_t type, uint64_t start, uint64_t end)
{
	return client_range_msg(c, IVY_IOREQ_MSG_UNCLAIM, type, start, end);
}

int ivy_client_set_default(struct ivy_client *c)
{
	struct ivy_ioreq_msg m = { .type = IVY_IOREQ_MSG_SET_DEFAULT };

	return client_call(c, &m, NULL, 0, NULL, NULL);
}

static int client_irqfd(struct ivy_client *c, struct ivy_ioreq_msg *m, unsigned *index)
{
	int fd = eventfd(0, EFD_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = client_call(c, m, &fd, 1, NULL, NULL);
	if (ret == 0 && (m->a >= CLIENT_MAX_IRQFDS || c->irq_fds[m->a] >= 0))
		ret = -EPROTO;
	if (ret) {
		close(fd);
		return ret;
	}
	c->irq_fds[m->a] = fd;
	if (index)
		*index = (unsigned)m->a;
	return 0;
}

int ivy_client_irqfd_msi(struct ivy_client *c, uint64_t doorbell, uint32_t data, uint32_t devid,
			 unsigned *index)
{
	struct ivy_ioreq_msg m = { .type = IVY_IOREQ_MSG_IRQFD,
				   .flags = IVY_IRQFD_F_MSI,
				   .a = doorbell,
				   .b = data,
				   .c = devid };

	return client_irqfd(c, &m, index);
}

int ivy_client_irqfd_deassign(struct ivy_client *c, unsigned index)
{
	struct ivy_ioreq_msg m = { .type = IVY_IOREQ_MSG_IRQFD_DEASSIGN, .a = index };
	int ret;

	if (index >= CLIENT_MAX_IRQFDS || c->irq_fds[index] < 0)
		return -ENOENT;
	ret = client_call(c, &m, NULL, 0, NULL, NULL);
	if (ret == 0 || ret == -ENOENT) {
		close(c->irq_fds[index]);
		c->irq_fds[index] = -1;
	}
	return ret;
}

int ivy_client_map_ram(struct ivy_client *c, unsigned index, struct ivy_client_ram *out)
{
	struct ivy_ioreq_msg m = { .type = IVY_IOREQ_MSG_MAP_RAM, .a = index };
	int fds[2], nfds = 0, ret;
	void *p;

	if (!out)
		return -EINVAL;
	ret = client_call(c, &m, NULL, 0, fds, &nfds);
	if (ret == 0 && (nfds != 1 || !m.b || m.b > SIZE_MAX || m.a + m.b < m.a))
		ret = -EPROTO;
	if (ret) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return ret;
	}
	p = mmap(NULL, (size_t)m.b, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], (off_t)m.c);
	ret = p == MAP_FAILED ? -errno : 0;
	close(fds[0]);
	if (ret)
		return ret;
	*out = (struct ivy_client_ram){ .gpa = m.a, .size = m.b, .ptr = p };
	return 0;
}

int ivy_client_dma_written(struct ivy_client *c, uint64_t gpa, uint64_t len)
{
	struct ivy_ioreq_msg m = { .type = IVY_IOREQ_MSG_DMA_WRITTEN, .a = gpa, .b = len };

	return client_call(c, &m, NULL, 0, NULL, NULL);
}

int ivy_client_irqfd_spi(struct ivy_client *c, uint32_t spi, unsigned *index)
{
	struct ivy_ioreq_msg m = { .type = IVY_IOREQ_MSG_IRQFD, .a = spi };

	return client_irqfd(c, &m, index);
}

int ivy_client_irq_raise(struct ivy_client *c, unsigned index)
{
	uint64_t one = 1;

	if (index >= CLIENT_MAX_IRQFDS || c->irq_fds[index] < 0)
		return -ENOENT;
	return write(c->irq_fds[index], &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

int ivy_client_wait(struct ivy_client *c, int timeout_ms, struct ivy_ioreq *req)
{
	_Atomic uint32_t *sleeping = (_Atomic uint32_t *)&c->ctl->sleeping;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = c->kick_fd, .events = POLLIN },
					 { .fd = c->sock, .events = POLLIN } };
		int64_t v = ivy_ioreq_ctl_take(c->ctl, c->nr_slots);
		uint64_t drain;
		int n;

		if (v >= 0 && (uint32_t)v < c->nr_slots) {
			struct ivy_ioreq_slot *s = &c->slots[v];

			/* Acquire: the body was written before PROCESSING. */
			if (atomic_load_explicit(slot_state(s), memory_order_acquire) !=
			    IVY_IOREQ_STATE_PROCESSING)
				continue; /* stale: completed by the VMM meanwhile */
			*req = (struct ivy_ioreq){ .vcpu = (uint32_t)v,
						   .seq = s->seq,
						   .type = s->type,
						   .dir = s->dir,
						   .size = s->size,
						   .pci_bdf = s->pci_bdf,
						   .addr = s->addr,
						   .value = s->value };
			return 0;
		}
		if (timeout_ms == 0)
			return -EAGAIN;
		atomic_store_explicit(sleeping, 1, memory_order_relaxed);
		/* Pairs with the VMM's fence between setting a bit and reading `sleeping`. */
		atomic_thread_fence(memory_order_seq_cst);
		if (ivy_ioreq_ctl_pending(c->ctl, c->nr_slots)) {
			atomic_store_explicit(sleeping, 0, memory_order_relaxed);
			continue;
		}
		n = poll(pfd, 2, timeout_ms);
		atomic_store_explicit(sleeping, 0, memory_order_relaxed);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (pfd[1].revents & (POLLHUP | POLLERR))
			return -EPIPE;
		if (pfd[0].revents & POLLIN) {
			if (read(c->kick_fd, &drain, sizeof(drain)) < 0) {
				/* Another waiter drained it first. */
			}
		}
		if (n == 0)
			return -ETIMEDOUT;
	}
}

int ivy_client_complete(struct ivy_client *c, const struct ivy_ioreq *req)
{
	struct ivy_ioreq_slot *s;
	uint32_t polling;

	if (!req || req->vcpu >= c->nr_slots)
		return -EINVAL;
	s = &c->slots[req->vcpu];
	if (atomic_load_explicit(slot_state(s), memory_order_acquire) !=
		    IVY_IOREQ_STATE_PROCESSING ||
	    s->seq != req->seq)
		return -EPERM;
	/* Read before COMPLETE: afterwards the VMM may reuse the slot for the next request. */
	polling = s->completion_polling;
	s->value = req->value;
	/* Release: the VMM reads the value after it sees COMPLETE. */
	atomic_store_explicit(slot_state(s), IVY_IOREQ_STATE_COMPLETE, memory_order_release);
	if (!polling)
		syscall(SYS_futex, (void *)slot_state(s), FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}
