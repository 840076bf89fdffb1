/* SPDX-License-Identifier: MIT */
/*
 * Loading the guest: an arm64 Linux Image (its header's text_offset and
 * image_size honoured), an ELF (PT_LOAD segments at their physical addresses),
 * or a raw binary at RAM + 0x80000; an initrd after the image; the DTB high in
 * RAM, clear of both.
 */
#include "vmm.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IMAGE_MAGIC	0x644d5241u /* "ARM\x64" at offset 56 */
#define RAW_LOAD_OFFSET 0x80000ull
#define DTB_MAX_SIZE	(64u << 10)
#define ALIGN_UP(x, a)	(((x) + (a)-1) & ~((uint64_t)(a)-1))

static int loader_read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	long len;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EIO;
	}
	*data = malloc(len ? (size_t)len : 1);
	if (!*data) {
		fclose(f);
		return -ENOMEM;
	}
	if (fread(*data, 1, (size_t)len, f) != (size_t)len) {
		free(*data);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*size = (size_t)len;
	return 0;
}

/* Copies into guest RAM; the whole range must be RAM. */
static int loader_place(struct vmm *vmm, uint64_t gpa, const void *src, uint64_t len)
{
	if (gpa < BOARD_RAM_BASE || len > vmm->ram_size ||
	    gpa - BOARD_RAM_BASE > vmm->ram_size - len)
		return -ERANGE;
	memcpy(vmm->ram + (gpa - BOARD_RAM_BASE), src, len);
	return 0;
}

static int loader_elf(struct vmm *vmm, const uint8_t *d, size_t n)
{
	const Elf64_Ehdr *eh = (const void *)d;
	uint64_t end = 0, bias = 0;

	if (n < sizeof(*eh) || eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_AARCH64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > n ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > n - eh->e_phoff)
		return -ENOEXEC;
	/* A position-independent ELF linked below RAM goes where a raw image would. */
	if (eh->e_type == ET_DYN) {
		for (unsigned i = 0; i < eh->e_phnum; i++) {
			const Elf64_Phdr *ph =
				(const void *)(d + eh->e_phoff + i * sizeof(Elf64_Phdr));

			if (ph->p_type == PT_LOAD && ph->p_paddr < BOARD_RAM_BASE)
				bias = BOARD_RAM_BASE + RAW_LOAD_OFFSET;
		}
	}
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(d + eh->e_phoff + i * sizeof(Elf64_Phdr));
		int err;

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_offset > n || ph->p_filesz > n - ph->p_offset ||
		    ph->p_filesz > ph->p_memsz)
			return -ENOEXEC;
		err = loader_place(vmm, bias + ph->p_paddr, d + ph->p_offset, ph->p_filesz);
		if (err)
			return err;
		/* The rest of the segment (.bss) is already zero: RAM starts zeroed. */
		if (bias + ph->p_paddr + ph->p_memsz > end)
			end = bias + ph->p_paddr + ph->p_memsz;
	}
	vmm->entry = bias + eh->e_entry;
	vmm->kernel_end = end;
	return 0;
}

static int loader_image(struct vmm *vmm, const uint8_t *d, size_t n)
{
	uint64_t text_offset, image_size;

	memcpy(&text_offset, d + 8, 8);
	memcpy(&image_size, d + 16, 8);
	/* Kernels before 3.17 leave image_size 0 and expect text_offset 0x80000. */
	if (image_size == 0) {
		text_offset = RAW_LOAD_OFFSET;
		image_size = n;
	}
	if (image_size < n)
		image_size = n;
	uint64_t base = BOARD_RAM_BASE + text_offset;
	int err = loader_place(vmm, base, d, n);

	if (err)
		return err;
	vmm->entry = base;
	vmm->kernel_end = base + image_size;
	return 0;
}

int loader_load(struct vmm *vmm)
{
	uint8_t *d = NULL;
	size_t n = 0;
	int err;
	uint32_t magic = 0;

	err = loader_read_file(vmm->opts.kernel, &d, &n);
	if (err) {
		fprintf(stderr, "ivy: cannot read kernel '%s': %s\n", vmm->opts.kernel,
			strerror(-err));
		return err;
	}
	if (n >= 4 && !memcmp(d, ELFMAG, SELFMAG)) {
		err = loader_elf(vmm, d, n);
	} else if (n >= 64 && (memcpy(&magic, d + 56, 4), magic == IMAGE_MAGIC)) {
		err = loader_image(vmm, d, n);
	} else {
		err = loader_place(vmm, BOARD_RAM_BASE + RAW_LOAD_OFFSET, d, n);
		vmm->entry = BOARD_RAM_BASE + RAW_LOAD_OFFSET;
		vmm->kernel_end = vmm->entry + n;
	}
	free(d);
	if (err) {
		fprintf(stderr, "ivy: cannot load kernel '%s': %s\n", vmm->opts.kernel,
			err == -ENOEXEC ? "not an AArch64 ELF" : "it does not fit in guest RAM");
		return err;
	}

	uint64_t next = ALIGN_UP(vmm->kernel_end, 2ull << 20);
	if (vmm->opts.initrd) {
		err = loader_read_file(vmm->opts.initrd, &d, &n);
		if (err) {
			fprintf(stderr, "ivy: cannot read initrd '%s': %s\n", vmm->opts.initrd,
				strerror(-err));
			return err;
		}
		err = loader_place(vmm, next, d, n);
		free(d);
		if (err) {
			fprintf(stderr, "ivy: initrd '%s' does not fit in guest RAM\n",
				vmm->opts.initrd);
			return err;
		}
		vmm->initrd_gpa = next;
		vmm->initrd_size = n;
		next = ALIGN_UP(next + n, 2ull << 20);
	}

	/* The DTB goes in the last 2 MiB of RAM (aligned, so it never straddles a 2 MiB block). */
	vmm->dtb_gpa = BOARD_RAM_BASE + vmm->ram_size - (2ull << 20);
	if (vmm->dtb_gpa < next) {
		fprintf(stderr, "ivy: no room for the device tree: give the guest more RAM (-m)\n");
		return -ENOSPC;
	}
	err = fdt_build(vmm, vmm->ram + (vmm->dtb_gpa - BOARD_RAM_BASE), DTB_MAX_SIZE);
	if (err) {
		fprintf(stderr, "ivy: cannot build the device tree: %s\n", strerror(-err));
		return err;
	}
	return 0;
}
