/* SPDX-License-Identifier: MIT */
/*
 * Out-of-process clients: the socket protocol, ivy-client, the example
 * register-file device (in a thread and as a separate process), dead and
 * hostile clients.
 */
#include "fake_irq.h"
#include "ioreq_util.h"
#include "regfile.h"

#include "ioreq/ioreq.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RF_BASE 0x0a000000ull

static char sock_path[108];

static struct ivy_vm *remote_vm(uint32_t nr_vcpus, uint32_t flags)
{
	static int n;
	struct ivy_vm *vm = ioreq_test_vm(nr_vcpus, flags, NULL);

	snprintf(sock_path, sizeof(sock_path), "/tmp/ivy-test-%d-%d.sock", getpid(), n++);
	unlink(sock_path);
	assert_int_equal(ivy_ioreq_server_start(vm, sock_path), 0);
	assert_int_equal(ivy_ioreq_server_start(vm, sock_path), -EEXIST);
	return vm;
}

struct rf_thread {
	struct regfile rf;
	struct ivy_client *c;
	atomic_bool stop;
	int timeout_ms;
	int ret;
	pthread_t thread;
};

static void *rf_main(void *arg)
{
	struct rf_thread *t = arg;

	t->ret = regfile_serve(&t->rf, t->c, RF_BASE, &t->stop, t->timeout_ms);
	return NULL;
}

static void rf_start(struct rf_thread *t, int timeout_ms, bool irq)
{
	memset(t, 0, sizeof(*t));
	t->timeout_ms = timeout_ms;
	assert_int_equal(ivy_client_connect(sock_path, "regfile", &t->c), 0);
	assert_int_equal(
		ivy_client_claim(t->c, IVY_IOREQ_TYPE_MMIO, RF_BASE, RF_BASE + REGFILE_SIZE - 1),
		0);
	if (irq) {
		assert_int_equal(ivy_client_irqfd_spi(t->c, 45, &t->rf.irq_index), 0);
		t->rf.has_irq = true;
	}
	assert_int_equal(pthread_create(&t->thread, NULL, rf_main, t), 0);
}

static void rf_stop(struct rf_thread *t)
{
	atomic_store(&t->stop, true);
	assert_int_equal(pthread_join(t->thread, NULL), 0);
	ivy_client_close(t->c);
}

static void run_regfile(uint32_t vm_flags, int timeout_ms)
{
	struct ivy_vm *vm = remote_vm(2, vm_flags);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 1);
	struct rf_thread t;

	fake_irq_install(vm);
	rf_start(&t, timeout_ms, true);
	assert_int_equal(test_mmio_read(v, RF_BASE + REGFILE_ID_REG, 4), REGFILE_ID);
	test_mmio_write(v, RF_BASE + 8, 8, 0x0102030405060708ull);
	assert_int_equal(test_mmio_read(v, RF_BASE + 8, 8), 0x0102030405060708ull);
	assert_int_equal(test_mmio_read(v, RF_BASE + 9, 2), 0x0607);
	/* Outside the claim: nobody (no default client). */
	assert_int_equal(test_mmio_read(v, RF_BASE + REGFILE_SIZE - 2, 4), 0xffffffffull);
	/* The device's interrupt goes through its irqfd to the interrupt controller. */
	test_mmio_write(v, RF_BASE + REGFILE_IRQ, 4, 1);
	fake_wait_calls(2);
	assert_int_equal(fake_get(0).intid, 45);
	assert_true(fake_get(0).level);
	assert_int_equal(test_mmio_read(v, RF_BASE + REGFILE_IRQ, 4), 1);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 1);
	rf_stop(&t);
	ivy_vm_close(vm);
}

static void test_regfile_blocking(void **state)
{
	(void)state;
	run_regfile(0, 200);
}

static void test_regfile_polling(void **state)
{
	(void)state;
	run_regfile(IVY_VM_F_IOREQ_POLLING, 0);
}

static void test_protocol_claims_and_default(void **state)
{
	struct ivy_vm *vm = remote_vm(1, 0);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	struct ivy_client *a, *b;
	struct ivy_ioreq req;
	struct ioreq_async_access acc;
	unsigned idx;

	(void)state;
	assert_int_equal(ivy_client_connect("/nonexistent/ivy.sock", "x", &a), -ENOENT);
	assert_int_equal(ivy_client_connect(sock_path, "a", &a), 0);
	assert_int_equal(ivy_client_connect(sock_path, "b", &b), 0);
	assert_int_not_equal(ivy_client_id(a), ivy_client_id(b));
	assert_int_equal(ivy_client_claim(a, IVY_IOREQ_TYPE_PIO, 0x60, 0x64), 0);
	assert_int_equal(ivy_client_claim(b, IVY_IOREQ_TYPE_PIO, 0x64, 0x70), -EEXIST);
	assert_int_equal(ivy_client_claim(b, 9, 0, 1), -EINVAL);
	assert_int_equal(ivy_client_unclaim(b, IVY_IOREQ_TYPE_PIO, 0x60, 0x64), -ENOENT);
	assert_int_equal(ivy_client_set_default(b), 0);
	assert_int_equal(ivy_client_set_default(a), -EEXIST);
	/* No interrupt controller: irqfds are refused. */
	assert_int_equal(ivy_client_irqfd_spi(a, 40, &idx), -ENODEV);
	/* Port 0x61 goes to a, anything else to the default b. */
	ioreq_async_start(&acc, v, true, 0x61, 1, false, 0);
	assert_int_equal(ivy_client_wait(a, 2000, &req), 0);
	assert_int_equal(req.type, IVY_IOREQ_TYPE_PIO);
	assert_int_equal(req.addr, 0x61);
	assert_int_equal(req.size, 1);
	req.value = 0x1234;
	assert_int_equal(ivy_client_complete(a, &req), 0);
	assert_int_equal(ivy_client_complete(a, &req), -EPERM); /* second completion */
	assert_int_equal(ioreq_async_join(&acc), 0x34);
	ioreq_async_start(&acc, v, false, 0x5000, 4, true, 0x77);
	assert_int_equal(ivy_client_wait(b, 2000, &req), 0);
	assert_int_equal(req.dir, IVY_IOREQ_WRITE);
	assert_int_equal(req.value, 0x77);
	assert_int_equal(ivy_client_wait(a, 0, &req), -EAGAIN);
	assert_int_equal(ivy_client_complete(b, &req), 0);
	ioreq_async_join(&acc);
	assert_int_equal(ivy_client_unclaim(a, IVY_IOREQ_TYPE_PIO, 0x60, 0x64), 0);
	ivy_client_close(a);
	ivy_client_close(b);
	ivy_vm_close(vm);
}

/* A client that dies holding a request: the vCPU gets all-ones soon after. */
static void test_dead_client_completes_unhandled(void **state)
{
	struct ivy_vm *vm = remote_vm(1, 0);
	struct ivy_client *c;
	struct ioreq_async_access acc;
	struct ivy_ioreq req;
	struct timespec t0, t1;

	(void)state;
	assert_int_equal(ivy_client_connect(sock_path, "dies", &c), 0);
	assert_int_equal(ivy_client_claim(c, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x1fff), 0);
	ioreq_async_start(&acc, ivy_vm_vcpu(vm, 0), false, 0x1000, 4, false, 0);
	assert_int_equal(ivy_client_wait(c, 2000, &req), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ivy_client_close(c);
	assert_int_equal(ioreq_async_join(&acc), 0xffffffffull);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 1);
	/* The VM keeps running: the range is free again and a new client can take it. */
	assert_int_equal(test_mmio_read(ivy_vm_vcpu(vm, 0), 0x1000, 4), 0xffffffffull);
	assert_int_equal(ivy_client_connect(sock_path, "again", &c), 0);
	assert_int_equal(ivy_client_claim(c, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x1fff), 0);
	ivy_client_close(c);
	ivy_vm_close(vm);
}

/* A client that writes garbage into its slots cannot change what the vCPU asked or gets. */
static void test_hostile_client_slot_contents(void **state)
{
	struct ivy_vm *vm = remote_vm(2, 0);
	struct ivy_client *c, *other;
	struct ioreq_async_access acc, acc1;
	struct ivy_ioreq req, req1;
	struct ivy_ioreq_slot *slots;

	(void)state;
	assert_int_equal(ivy_client_connect(sock_path, "evil", &c), 0);
	assert_int_equal(ivy_client_claim(c, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x1fff), 0);
	assert_int_equal(ivy_client_connect(sock_path, "good", &other), 0);
	assert_int_equal(ivy_client_claim(other, IVY_IOREQ_TYPE_MMIO, 0x2000, 0x2fff), 0);
	/* vCPU 1's request goes to "good"; "evil" sees nothing of it. */
	ioreq_async_start(&acc1, ivy_vm_vcpu(vm, 1), false, 0x2000, 4, false, 0);
	assert_int_equal(ivy_client_wait(other, 2000, &req1), 0);
	assert_int_equal(ivy_client_wait(c, 0, &req), -EAGAIN);
	/* vCPU 0 asks evil for 2 bytes. */
	ioreq_async_start(&acc, ivy_vm_vcpu(vm, 0), false, 0x1010, 2, false, 0);
	assert_int_equal(ivy_client_wait(c, 2000, &req), 0);
	/* Evil "completes" vCPU 1 through its own pages: that slot is not assigned to it. */
	req1.value = 0xbad;
	assert_int_equal(ivy_client_complete(c, &req1), -EPERM);
	/* Evil rewrites its slot for vCPU 0: type, size, address, a huge value, then COMPLETE. */
	slots = ivy_client_slots(c);
	assert_int_equal(ivy_client_nr_slots(c), 2);
	req.value = 0xfedcba9876543210ull;
	__atomic_store_n(&slots[0].type, 77, __ATOMIC_RELAXED);
	__atomic_store_n(&slots[0].size, 8, __ATOMIC_RELAXED);
	__atomic_store_n(&slots[0].addr, 0x2000, __ATOMIC_RELAXED);
	/* Its own completion of its own request is accepted, masked to what the vCPU asked. */
	assert_int_equal(ivy_client_complete(c, &req), 0);
	assert_int_equal(ioreq_async_join(&acc), 0x3210);
	/* Scribbling COMPLETE over vCPU 1's slot in its own pages changes nothing. */
	__atomic_store_n(&slots[1].state, IVY_IOREQ_STATE_COMPLETE, __ATOMIC_RELEASE);
	__atomic_store_n(&slots[1].value, 0xbad, __ATOMIC_RELAXED);
	ioreq_test_sleep_ms(20);
	assert_false(atomic_load(&acc1.done));
	req1.value = 0x600d;
	assert_int_equal(ivy_client_complete(other, &req1), 0);
	assert_int_equal(ioreq_async_join(&acc1), 0x600d);
	/* Garbage in its control page: it only loses or invents its own wake-ups. */
	memset(ivy_client_ctl(c), 0xff, sizeof(struct ivy_ioreq_ctl));
	assert_int_equal(ivy_client_wait(c, 0, &req), -EAGAIN); /* bits without PROCESSING slots */
	ioreq_async_start(&acc, ivy_vm_vcpu(vm, 0), false, 0x1000, 4, false, 0);
	assert_int_equal(ivy_client_wait(c, 2000, &req), 0);
	req.value = 5;
	assert_int_equal(ivy_client_complete(c, &req), 0);
	assert_int_equal(ioreq_async_join(&acc), 5);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 0);
	ivy_client_close(c);
	ivy_client_close(other);
	ivy_vm_close(vm);
}

static void test_protocol_garbage(void **state)
{
	struct ivy_vm *vm = remote_vm(1, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ivy_ioreq_msg m = { .type = IVY_IOREQ_MSG_CLAIM }, r;
	char junk[200];
	struct ivy_client *c;
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	(void)state;
	strcpy(addr.sun_path, sock_path);
	assert_int_equal(connect(s, (struct sockaddr *)&addr, sizeof(addr)), 0);
	/* Before HELLO nothing is allowed. */
	assert_int_equal(send(s, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(recv(s, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.type, IVY_IOREQ_MSG_CLAIM | IVY_IOREQ_MSG_REPLY);
	assert_int_equal(r.status, -ENOTCONN);
	/* Short, long and unknown messages get -EINVAL. */
	assert_int_equal(send(s, &m, 3, 0), 3);
	assert_int_equal(recv(s, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	memset(junk, 0x41, sizeof(junk));
	assert_int_equal(send(s, junk, sizeof(junk), 0), sizeof(junk));
	assert_int_equal(recv(s, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	m.type = IVY_IOREQ_MSG_HELLO;
	m.a = 99;
	assert_int_equal(send(s, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(recv(s, &r, sizeof(r), 0), sizeof(r));
	assert_int_equal(r.status, -EPROTO);
	close(s);
	/* The server is still serving. */
	assert_int_equal(ivy_client_connect(sock_path, "fine", &c), 0);
	ivy_client_close(c);
	ivy_ioreq_server_stop(vm);
	assert_int_equal(access(sock_path, F_OK), -1);
	ivy_vm_close(vm);
}

/* The example device as its own process, killed while the vCPU waits for it. */
static void test_regfile_process_killed(void **state)
{
	struct ivy_vm *vm = remote_vm(1, 0);
	struct ivy_vcpu *v = ivy_vm_vcpu(vm, 0);
	char exe[PATH_MAX], prog[PATH_MAX + 64], base[32], line[64];
	struct ioreq_async_access acc;
	ssize_t n;
	int pipefd[2], status;
	FILE *out;
	pid_t pid;

	(void)state;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(prog, sizeof(prog), "%s/../client/examples/ivy-regfile", dirname(exe));
	snprintf(base, sizeof(base), "0x%llx", RF_BASE);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(prog, prog, sock_path, base, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	assert_non_null(fgets(line, sizeof(line), out));
	assert_int_equal(strncmp(line, "ready", 5), 0);
	test_mmio_write(v, RF_BASE, 4, 0xcafe);
	assert_int_equal(test_mmio_read(v, RF_BASE, 4), 0xcafe);
	assert_int_equal(test_mmio_read(v, RF_BASE + REGFILE_ID_REG, 4), REGFILE_ID);
	/* Freeze it, send a request, kill it: the request completes as unhandled. */
	kill(pid, SIGSTOP);
	ioreq_async_start(&acc, v, false, RF_BASE, 4, false, 0);
	ioreq_test_sleep_ms(10);
	assert_false(atomic_load(&acc.done));
	kill(pid, SIGKILL);
	assert_int_equal(ioreq_async_join(&acc), 0xffffffffull);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fclose(out);
	assert_int_equal(ivy_vm_stat(vm, IVY_STAT_IOREQ_UNHANDLED), 1);
	ivy_vm_close(vm);
}

/* The VM goes away under a connected client: the client sees -EPIPE. */
static void test_vm_destroy_disconnects(void **state)
{
	struct ivy_vm *vm = remote_vm(1, 0);
	struct ivy_client *c;
	struct ivy_ioreq req;

	(void)state;
	assert_int_equal(ivy_client_connect(sock_path, "c", &c), 0);
	assert_int_equal(ivy_client_claim(c, IVY_IOREQ_TYPE_MMIO, 0x1000, 0x1fff), 0);
	assert_int_equal(ivy_vm_destroy(vm), 0);
	assert_int_equal(ivy_client_wait(c, 2000, &req), -EPIPE);
	ivy_client_close(c);
	ivy_vm_close(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regfile_blocking),
		cmocka_unit_test(test_regfile_polling),
		cmocka_unit_test(test_protocol_claims_and_default),
		cmocka_unit_test(test_dead_client_completes_unhandled),
		cmocka_unit_test(test_hostile_client_slot_contents),
		cmocka_unit_test(test_protocol_garbage),
		cmocka_unit_test(test_regfile_process_killed),
		cmocka_unit_test(test_vm_destroy_disconnects),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
