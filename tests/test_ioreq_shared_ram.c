/* SPDX-License-Identifier: MIT */
/*
 * What a device process needs beyond requests: guest RAM shared through the
 * socket (ivy_ioreq_share_ram, MAP_RAM, ivy_client_map_ram), reports of its
 * DMA writes to the VMM's hook (DMA_WRITTEN), and MSIs through MSI irqfds
 * (ivy_client_irqfd_msi).
 */
#include "fake_irq.h"
#include "ioreq_util.h"

#include <ivy/client.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_GPA	 0x40000000ull
#define RAM_SIZE 0x10000ull

static char sock_path[108];

static struct ivy_vm *served_vm(void)
{
	static int n;
	struct ivy_vm *vm = ioreq_test_vm(2, 0, NULL);

	snprintf(sock_path, sizeof(sock_path), "/tmp/ivy-ram-%d-%d.sock", getpid(), n++);
	unlink(sock_path);
	assert_int_equal(ivy_ioreq_server_start(vm, sock_path), 0);
	return vm;
}

static int ram_memfd(void **map)
{
	int fd = memfd_create("test-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, RAM_SIZE), 0);
	*map = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(*map != MAP_FAILED);
	return fd;
}

struct dma_record {
	pthread_mutex_t lock;
	int calls;
	uint64_t gpa, len;
};

static void dma_hook(void *opaque, ivy_gpa_t gpa, uint64_t len)
{
	struct dma_record *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->calls++;
	r->gpa = gpa;
	r->len = len;
	pthread_mutex_unlock(&r->lock);
}

static void test_share_ram_refusals(void **state)
{
	struct ivy_vm *vm = ioreq_test_vm(1, 0, NULL), *bare = test_vm_new(1);
	void *map;
	int fd = ram_memfd(&map);
	struct ivy_ioreq_ram r = { .gpa = RAM_GPA, .size = RAM_SIZE, .fd = fd };
	struct ivy_ioreq_ram bad;

	(void)state;
	assert_int_equal(ivy_ioreq_share_ram(NULL, &r, NULL, NULL), -ENODEV);
	assert_int_equal(ivy_ioreq_share_ram(bare, &r, NULL, NULL), -ENODEV);
	assert_int_equal(ivy_ioreq_share_ram(vm, NULL, NULL, NULL), -EINVAL);
	bad = r, bad.fd = -1;
	assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), -EINVAL);
	bad = r, bad.size = 0;
	assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), -EINVAL);
	bad = r, bad.gpa = RAM_GPA + 1;
	assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), -EINVAL);
	bad = r, bad.offset = 0x800;
	assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), -EINVAL);
	bad = r, bad.gpa = ~0ull & ~0xfffull;
	assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), -EINVAL);
	bad = r, bad.fd = 1000;
	assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), -EINVAL);

	assert_int_equal(ivy_ioreq_share_ram(vm, &r, NULL, NULL), 0);
	/* Overlaps are refused; neighbours are not, up to the limit. */
	bad = r, bad.gpa = RAM_GPA + 0x1000;
	assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), -EINVAL);
	for (unsigned i = 1; i < IVY_IOREQ_MAX_SHARED_RAM; i++) {
		bad = r, bad.gpa = RAM_GPA + i * RAM_SIZE;
		assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), 0);
	}
	bad = r, bad.gpa = RAM_GPA + IVY_IOREQ_MAX_SHARED_RAM * RAM_SIZE;
	assert_int_equal(ivy_ioreq_share_ram(vm, &bad, NULL, NULL), -ENOSPC);
	/* ivy keeps its own duplicate: closing ours changes nothing. */
	close(fd);
	munmap(map, RAM_SIZE);
	ivy_vm_close(vm);
	ivy_vm_close(bare);
}

static void test_client_maps_shared_ram(void **state)
{
	struct ivy_vm *vm = served_vm();
	struct dma_record rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct ivy_client *c;
	struct ivy_client_ram ram, none;
	void *map;
	int fd = ram_memfd(&map);
	struct ivy_ioreq_ram r = { .gpa = RAM_GPA, .size = RAM_SIZE, .fd = fd };

	(void)state;
	/* Before anything is shared there is nothing to map. */
	assert_int_equal(ivy_client_connect(sock_path, "dev", &c), 0);
	assert_int_equal(ivy_client_map_ram(c, 0, &none), -ENOENT);
	assert_int_equal(ivy_client_map_ram(c, 0, NULL), -EINVAL);

	assert_int_equal(ivy_ioreq_share_ram(vm, &r, dma_hook, &rec), 0);
	close(fd);
	assert_int_equal(ivy_client_map_ram(c, 0, &ram), 0);
	assert_int_equal(ram.gpa, RAM_GPA);
	assert_int_equal(ram.size, RAM_SIZE);
	assert_int_equal(ivy_client_map_ram(c, 1, &none), -ENOENT);
	/* One memory: what either side writes, the other reads. */
	memcpy((char *)map + 0x1234, "guest", 6);
	assert_string_equal((char *)ram.ptr + 0x1234, "guest");
	memcpy((char *)ram.ptr + 0xff00, "device", 7);
	assert_string_equal((char *)map + 0xff00, "device");

	/* DMA reports reach the hook before the reply; bad ranges are refused. */
	assert_int_equal(ivy_client_dma_written(c, RAM_GPA + 0xff00, 7), 0);
	pthread_mutex_lock(&rec.lock);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.gpa, RAM_GPA + 0xff00);
	assert_int_equal(rec.len, 7);
	pthread_mutex_unlock(&rec.lock);
	assert_int_equal(ivy_client_dma_written(c, RAM_GPA + RAM_SIZE - 4, 8), -EINVAL);
	assert_int_equal(ivy_client_dma_written(c, RAM_GPA - 4096, 4), -EINVAL);
	assert_int_equal(ivy_client_dma_written(c, RAM_GPA, 0), -EINVAL);
	assert_int_equal(ivy_client_dma_written(c, ~0ull - 2, 8), -EINVAL);
	pthread_mutex_lock(&rec.lock);
	assert_int_equal(rec.calls, 1);
	pthread_mutex_unlock(&rec.lock);

	munmap(ram.ptr, ram.size);
	ivy_client_close(c);
	munmap(map, RAM_SIZE);
	ivy_ioreq_server_stop(vm);
	ivy_vm_close(vm);
}

static void test_client_msi_irqfd(void **state)
{
	struct ivy_vm *vm = served_vm();
	struct ivy_client *c;
	unsigned a, b;

	(void)state;
	assert_int_equal(ivy_client_connect(sock_path, "dev", &c), 0);
	/* No interrupt controller yet. */
	assert_int_equal(ivy_client_irqfd_msi(c, 0x08090040, 1, 8, &a), -ENODEV);
	fake_irq_install(vm);
	assert_int_equal(ivy_client_irqfd_msi(c, 0x08090040, 1, 8, &a), 0);
	assert_int_equal(ivy_client_irqfd_msi(c, 0x08090040, 2, 0x10, &b), 0);
	assert_int_not_equal(a, b);
	assert_int_equal(ivy_client_irq_raise(c, b), 0);
	fake_wait_calls(1);
	struct fake_call call = fake_get(0);
	assert_int_equal(call.kind, 'M');
	assert_int_equal(call.doorbell, 0x08090040);
	assert_int_equal(call.data, 2);
	assert_int_equal(call.devid, 0x10);
	assert_int_equal(ivy_client_irq_raise(c, a), 0);
	fake_wait_calls(2);
	call = fake_get(1);
	assert_int_equal(call.data, 1);
	assert_int_equal(call.devid, 8);
	/* Deassigned: gone on both sides, and the index can be reused. */
	assert_int_equal(ivy_client_irqfd_deassign(c, a), 0);
	assert_int_equal(ivy_client_irq_raise(c, a), -ENOENT);
	assert_int_equal(ivy_client_irqfd_deassign(c, a), -ENOENT);
	assert_int_equal(ivy_client_irqfd_deassign(c, 99), -ENOENT);
	assert_int_equal(ivy_client_irqfd_msi(c, 0x08020040, 90, 0, &a), 0);
	assert_int_equal(ivy_client_irq_raise(c, a), 0);
	fake_wait_calls(3);
	assert_int_equal(fake_get(2).data, 90);
	ivy_client_close(c);
	ivy_ioreq_server_stop(vm);
	ivy_vm_close(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share_ram_refusals),
		cmocka_unit_test(test_client_maps_shared_ram),
		cmocka_unit_test(test_client_msi_irqfd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
