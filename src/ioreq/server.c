/* SPDX-License-Identifier: MIT */
/*
 * The Unix socket through which out-of-process clients join a VM
 * (docs/ioreq-protocol.md). One thread per VM polls the listening socket and
 * every connection; the socket carries only set-up messages (requests travel
 * through shared memory), and its closing is how a client's death is noticed:
 * poll() reports the hang-up at once and the client is destroyed, which
 * completes its in-flight requests as unhandled.
 */
#include "ioreq/ioreq.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SERVER_MAX_CONNS 64
#define CONN_MAX_IRQFDS	 16
#define MSG_MAX_FDS	 2

struct ioreq_conn {
	int sock;
	struct ivy_ioreq_client *client;
	int irqfds[CONN_MAX_IRQFDS]; /* the fds we received, -1 when free */
	struct ioreq_conn *next;
};

struct ioreq_server {
	struct ioreq_vm *io;
	int listen_fd;
	int stop_fd;
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ioreq_conn *conns; /* touched by the server thread only, until it is joined */
	uint32_t nr_conns;
};

/* Sends one message with up to MSG_MAX_FDS descriptors. */
static int conn_send(int sock, const struct ivy_ioreq_msg *msg, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * MSG_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof(*msg) ? 0 : -EIO;
}

/*
 * Receives one message. Returns its length (0 when the peer closed), or -errno.
 * Descriptors that came with it land in fds[]; *nfds says how many.
 */
static ssize_t conn_recv(int sock, struct ivy_ioreq_msg *msg, int *fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * MSG_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	*nfds = 0;
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < MSG_MAX_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	/* A truncated message or descriptor list is malformed: treat it as garbage. */
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	return n;
}

static void conn_drop(struct ioreq_server *srv, struct ioreq_conn *c)
{
	for (int i = 0; i < CONN_MAX_IRQFDS; i++) {
		int ret;

		if (c->irqfds[i] < 0)
			continue;
		/* -ENOENT: the VM's teardown released it already. */
		ret = ivy_irqfd_deassign(srv->io->vm, c->irqfds[i]);
		(void)ret;
		close(c->irqfds[i]);
	}
	/* Cannot fail on a client we created. */
	if (c->client && ivy_ioreq_client_destroy(c->client))
		c->client = NULL;
	close(c->sock);
	free(c);
}

static int conn_irqfd(struct ioreq_server *srv, struct ioreq_conn *c, const struct ivy_ioreq_msg *m,
		      int *fds, int nfds, uint64_t *index)
{
	struct ivy_irqfd cfg = { .fd = nfds > 0 ? fds[0] : -1,
				 .resample_fd = nfds > 1 ? fds[1] : -1,
				 .flags = m->flags,
				 .spi = (uint32_t)m->a,
				 .msi_doorbell = m->a,
				 .msi_data = (uint32_t)m->b,
				 .msi_devid = (uint32_t)m->c };
	int slot, ret;

	if (nfds < 1)
		return -EBADF;
	for (slot = 0; slot < CONN_MAX_IRQFDS && c->irqfds[slot] >= 0; slot++)
		;
	if (slot == CONN_MAX_IRQFDS)
		return -ENOSPC;
	ret = ivy_irqfd_assign(srv->io->vm, &cfg);
	if (ret)
		return ret;
	/* Keep the fd number open: it names the irqfd until the client goes. */
	c->irqfds[slot] = fds[0];
	fds[0] = -1;
	*index = (uint64_t)slot;
	return 0;
}

/* MAP_RAM: region m->a of the guest RAM the VMM shares; its fd goes with the reply. */
static int conn_map_ram(struct ioreq_server *srv, const struct ivy_ioreq_msg *m,
			struct ivy_ioreq_msg *reply, int *fd)
{
	struct ioreq_vm *io = srv->io;
	int ret = -ENOENT;

	pthread_mutex_lock(&io->ram_lock);
	if (m->a < io->nr_ram) {
		const struct ivy_ioreq_ram *r = &io->ram[m->a];

		reply->a = r->gpa;
		reply->b = r->size;
		reply->c = r->offset;
		/* Ours until the VM goes, which is after the server thread stopped. */
		*fd = r->fd;
		ret = 0;
	}
	pthread_mutex_unlock(&io->ram_lock);
	return ret;
}

/* DMA_WRITTEN: the client wrote [a, a + b) of shared guest RAM; the VMM's hook hears it. */
static int conn_dma_written(struct ioreq_server *srv, const struct ivy_ioreq_msg *m)
{
	struct ioreq_vm *io = srv->io;
	ivy_ioreq_dma_hook_t hook = NULL;
	void *opaque = NULL;
	int ret = -EINVAL;

	if (m->b == 0 || m->a + m->b < m->a)
		return -EINVAL;
	pthread_mutex_lock(&io->ram_lock);
	for (unsigned i = 0; i < io->nr_ram; i++) {
		const struct ivy_ioreq_ram *r = &io->ram[i];

		if (m->a >= r->gpa && m->a - r->gpa < r->size &&
		    m->b <= r->size - (m->a - r->gpa)) {
			hook = io->dma_hook;
			opaque = io->dma_opaque;
			ret = 0;
		}
	}
	pthread_mutex_unlock(&io->ram_lock);
	if (hook)
		hook(opaque, m->a, m->b);
	return ret;
}

/* Handles one message; returns false if the connection must be dropped. */
static bool conn_handle(struct ioreq_server *srv, struct ioreq_conn *c)
{
	struct ivy_ioreq_msg m = { 0 }, reply;
	int fds[MSG_MAX_FDS], nfds, send_fds[2], nsend = 0;
	ssize_t n = conn_recv(c->sock, &m, fds, &nfds);
	bool keep = true;

	if (n == -EAGAIN || n == -EINTR)
		return true;
	if (n <= 0 && n != -EMSGSIZE) {
		keep = false;
		goto out;
	}
	reply = (struct ivy_ioreq_msg){ .type = m.type | IVY_IOREQ_MSG_REPLY, .tag = m.tag };
	if (n != sizeof(m)) {
		reply.status = -EINVAL;
		goto send;
	}
	if (m.type != IVY_IOREQ_MSG_HELLO && !c->client) {
		reply.status = -ENOTCONN;
		goto send;
	}
	switch (m.type) {
	case IVY_IOREQ_MSG_HELLO:
		if (c->client) {
			reply.status = -EEXIST;
			break;
		}
		if (m.a != IVY_IOREQ_PROTO_VERSION) {
			reply.status = -EPROTO;
			break;
		}
		m.name[sizeof(m.name) - 1] = '\0';
		reply.status = ioreq_client_create_remote(srv->io, m.name, &c->client);
		if (reply.status)
			break;
		reply.a = c->client->id;
		reply.b = srv->io->nr_slots;
		reply.c = c->client->map_size;
		send_fds[0] = c->client->memfd;
		send_fds[1] = c->client->kick_fd;
		nsend = 2;
		break;
	case IVY_IOREQ_MSG_CLAIM:
		reply.status = ivy_ioreq_client_add_range(c->client, m.flags, m.a, m.b);
		break;
	case IVY_IOREQ_MSG_UNCLAIM:
		reply.status = ivy_ioreq_client_del_range(c->client, m.flags, m.a, m.b);
		break;
	case IVY_IOREQ_MSG_SET_DEFAULT: reply.status = ioreq_client_set_default(c->client); break;
	case IVY_IOREQ_MSG_IRQFD: reply.status = conn_irqfd(srv, c, &m, fds, nfds, &reply.a); break;
	case IVY_IOREQ_MSG_IRQFD_DEASSIGN:
		if (m.a >= CONN_MAX_IRQFDS || c->irqfds[m.a] < 0) {
			reply.status = -ENOENT;
			break;
		}
		reply.status = ivy_irqfd_deassign(srv->io->vm, c->irqfds[m.a]);
		close(c->irqfds[m.a]);
		c->irqfds[m.a] = -1;
		break;
	case IVY_IOREQ_MSG_MAP_RAM:
		reply.status = conn_map_ram(srv, &m, &reply, &send_fds[0]);
		nsend = reply.status ? 0 : 1;
		break;
	case IVY_IOREQ_MSG_DMA_WRITTEN: reply.status = conn_dma_written(srv, &m); break;
	default: reply.status = -EINVAL; break;
	}
send:
	/* A client that does not read its replies loses them; it cannot block us. */
	if (conn_send(c->sock, &reply, send_fds, nsend) && nsend)
		keep = false;
out:
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return keep;
}

static void server_accept(struct ioreq_server *srv)
{
	struct ioreq_conn *c;
	int sock = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (sock < 0)
		return;
	if (srv->nr_conns >= SERVER_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		close(sock);
		return;
	}
	c->sock = sock;
	for (int i = 0; i < CONN_MAX_IRQFDS; i++)
		c->irqfds[i] = -1;
	c->next = srv->conns;
	srv->conns = c;
	srv->nr_conns++;
}

static void *server_thread(void *arg)
{
	struct ioreq_server *srv = arg;
	struct pollfd pfds[2 + SERVER_MAX_CONNS];
	struct ioreq_conn *conns[SERVER_MAX_CONNS];

	for (;;) {
		nfds_t n = 2;

		pfds[0] = (struct pollfd){ .fd = srv->stop_fd, .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = srv->listen_fd, .events = POLLIN };
		for (struct ioreq_conn *c = srv->conns; c; c = c->next) {
			conns[n - 2] = c;
			pfds[n++] = (struct pollfd){ .fd = c->sock, .events = POLLIN };
		}
		if (poll(pfds, n, -1) < 0)
			continue;
		if (pfds[0].revents)
			return NULL;
		for (nfds_t i = 2; i < n; i++) {
			struct ioreq_conn *c = conns[i - 2], **pp;

			/*
			 * One message per wake-up: after a hang-up, poll() keeps reporting it
			 * and what the client sent first is still read before recv() says 0.
			 */
			if (!pfds[i].revents || conn_handle(srv, c))
				continue;
			for (pp = &srv->conns; *pp != c; pp = &(*pp)->next)
				;
			*pp = c->next;
			srv->nr_conns--;
			conn_drop(srv, c);
		}
		if (pfds[1].revents & POLLIN)
			server_accept(srv);
	}
}

int ivy_ioreq_server_start(struct ivy_vm *vm, const char *path)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ioreq_server *srv;
	int ret;

	if (!path)
		return -EINVAL;
	if (!io || vm_is_destroyed(vm))
		return -ENODEV;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	pthread_mutex_lock(&io->server_lock);
	if (io->server) {
		ret = -EEXIST;
		goto out;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		ret = -ENOMEM;
		goto out;
	}
	srv->io = io;
	memcpy(srv->path, addr.sun_path, sizeof(srv->path));
	srv->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->listen_fd < 0) {
		ret = -errno;
		goto err_socket;
	}
	if (bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(srv->listen_fd, 16) < 0) {
		ret = -errno;
		goto err_bind;
	}
	srv->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (srv->stop_fd < 0) {
		ret = -errno;
		goto err_stop;
	}
	ret = -pthread_create(&srv->thread, NULL, server_thread, srv);
	if (ret)
		goto err_thread;
	io->server = srv;
	goto out;

err_thread:
	close(srv->stop_fd);
err_stop:
	unlink(srv->path);
err_bind:
	close(srv->listen_fd);
err_socket:
	free(srv);
out:
	pthread_mutex_unlock(&io->server_lock);
	return ret;
}

void ioreq_server_stop_locked(struct ioreq_vm *io)
{
	struct ioreq_server *srv = io->server;
	uint64_t one = 1;

	if (!srv)
		return;
	io->server = NULL;
	if (write(srv->stop_fd, &one, sizeof(one)) < 0) {
		/* Cannot fail on a fresh eventfd. */
	}
	pthread_join(srv->thread, NULL);
	while (srv->conns) {
		struct ioreq_conn *c = srv->conns;

		srv->conns = c->next;
		conn_drop(srv, c);
	}
	close(srv->listen_fd);
	close(srv->stop_fd);
	unlink(srv->path);
	free(srv);
}

void ivy_ioreq_server_stop(struct ivy_vm *vm)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;

	if (!io)
		return;
	pthread_mutex_lock(&io->server_lock);
	ioreq_server_stop_locked(io);
	pthread_mutex_unlock(&io->server_lock);
}

int ivy_ioreq_share_ram(struct ivy_vm *vm, const struct ivy_ioreq_ram *ram,
			ivy_ioreq_dma_hook_t hook, void *opaque)
{
	struct ioreq_vm *io = vm ? ioreq_vm_of(vm) : NULL;
	int ret = 0, fd;

	if (!ram || ram->fd < 0 || !ram->size || ((ram->gpa | ram->size | ram->offset) & 0xfff) ||
	    ram->gpa + ram->size < ram->gpa || ram->offset + ram->size < ram->offset)
		return -EINVAL;
	if (!io || vm_is_destroyed(vm))
		return -ENODEV;
	pthread_mutex_lock(&io->ram_lock);
	for (unsigned i = 0; i < io->nr_ram; i++)
		if (ram->gpa < io->ram[i].gpa + io->ram[i].size &&
		    io->ram[i].gpa < ram->gpa + ram->size)
			ret = -EINVAL;
	if (!ret && io->nr_ram == IVY_IOREQ_MAX_SHARED_RAM)
		ret = -ENOSPC;
	if (!ret) {
		fd = fcntl(ram->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			ret = errno == EBADF ? -EINVAL : -errno;
		} else {
			io->ram[io->nr_ram] = *ram;
			io->ram[io->nr_ram++].fd = fd;
			if (hook) {
				io->dma_hook = hook;
				io->dma_opaque = opaque;
			}
		}
	}
	pthread_mutex_unlock(&io->ram_lock);
	return ret;
}
