/* SPDX-License-Identifier: MIT */
/*
 * A minimal VMM-side program built against the installed library with
 * pkg-config, as the README shows: it proves the headers, both libraries and
 * ivy.pc are usable from outside the tree.
 */
#include <ivy/ivy.h>

#include <stdio.h>
#include <stdlib.h>

static uint64_t reg;

static uint64_t dev_read(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len)
{
	(void)opaque, (void)vcpu, (void)offset, (void)len;
	return reg;
}

static void dev_write(void *opaque, struct ivy_vcpu *vcpu, uint64_t offset, unsigned len,
		      uint64_t val)
{
	(void)opaque, (void)vcpu, (void)offset, (void)len;
	reg = val;
}

static const struct ivy_mmio_ops dev_ops = { .read = dev_read, .write = dev_write };

int main(void)
{
	static uint8_t ram[1 << 16];
	struct ivy_vm_config cfg = { .name = "embed", .nr_vcpus = 2 };
	struct ivy_vm *vm;
	uint64_t val = 0x1234;
	uint32_t word = 0;

	if (ivy_vm_create(&cfg, &vm) || ivy_vm_add_ram(vm, 0x40000000, sizeof(ram), ram) ||
	    ivy_mmio_register(vm, 0x09000000, 0x1000, &dev_ops, NULL, NULL) ||
	    ivy_vcpu_mmio(ivy_vm_vcpu(vm, 1), 0x09000000, 4, true, &val) ||
	    ivy_guest_write(vm, 0x40000010, &(uint32_t){ 0xabcd }, 4) ||
	    ivy_guest_read(vm, 0x40000010, &word, 4)) {
		fprintf(stderr, "embed: unexpected error\n");
		return 1;
	}
	val = 0;
	if (ivy_vcpu_mmio(ivy_vm_vcpu(vm, 0), 0x09000000, 4, false, &val) || val != 0x1234 ||
	    word != 0xabcd) {
		fprintf(stderr, "embed: wrong values\n");
		return 1;
	}
	ivy_vm_close(vm);
	printf("embed: ok\n");
	return 0;
}
