/* SPDX-License-Identifier: MIT */
/*
 * Guest entry. The first 64 bytes are an arm64 Linux Image header, so both
 * `ivy run` and QEMU load the binary at RAM + text_offset and pass the DTB in x0.
 * The code is position independent: it applies its own R_AARCH64_RELATIVE
 * relocations, so it runs wherever it is loaded. Secondary vCPUs enter at
 * secondary_entry (PSCI CPU_ON) with their index in x0.
 */
#define STACK_SIZE 16384
#define MAX_CPUS 8

	.section .text.head, "ax"
	.global _start
_start:
	b	primary_entry		/* code0 */
	.word	0			/* code1 */
	.quad	0x80000			/* text_offset */
	.quad	__image_end - _start	/* image_size */
	.quad	0xa			/* flags: little-endian, 4 KiB pages, anywhere */
	.quad	0, 0, 0			/* res2..res4 */
	.word	0x644d5241		/* "ARM\x64" */
	.word	0			/* res5 */

primary_entry:
	mov	x20, x0			/* DTB */
	msr	daifset, #0xf
	/* Zero .bss. */
	adrp	x0, __bss_start
	add	x0, x0, :lo12:__bss_start
	adrp	x1, __bss_end
	add	x1, x1, :lo12:__bss_end
1:	cmp	x0, x1
	b.hs	2f
	stp	xzr, xzr, [x0], #16
	b	1b
2:	/* Relocate: *(base + off) = base + addend for every RELATIVE entry. */
	adr	x9, _start		/* load address = link address 0 + base */
	adrp	x0, __rela_start
	add	x0, x0, :lo12:__rela_start
	adrp	x1, __rela_end
	add	x1, x1, :lo12:__rela_end
3:	cmp	x0, x1
	b.hs	4f
	ldp	x2, x3, [x0], #16	/* r_offset, r_info */
	ldr	x4, [x0], #8		/* r_addend */
	cmp	w3, #1027		/* R_AARCH64_RELATIVE */
	b.ne	3b
	add	x4, x4, x9
	str	x4, [x2, x9]
	b	3b
4:	mov	x0, #0
	bl	cpu_setup
	mov	x0, x20
	bl	rt_main
	b	rt_halt

	.global secondary_entry
secondary_entry:
	msr	daifset, #0xf
	mov	x19, x0
	bl	cpu_setup
	mov	x0, x19
	bl	rt_secondary_main
	b	rt_halt

/* x0 = cpu index: stack, vectors, FP/SIMD access (cleared CPACR traps them). */
cpu_setup:
	adrp	x1, rt_stacks
	add	x1, x1, :lo12:rt_stacks
	add	x2, x0, #1
	mov	x3, #STACK_SIZE
	madd	x1, x2, x3, x1
	mov	sp, x1
	msr	tpidr_el1, x0
	adr	x1, rt_vectors
	msr	vbar_el1, x1
	mov	x1, #(3 << 20)
	msr	cpacr_el1, x1
	isb
	ret

	.global rt_halt
rt_halt:
	wfi
	b	rt_halt

	.bss
	.balign 16
	.global rt_stacks
rt_stacks:
	.skip	STACK_SIZE * MAX_CPUS

/* Exception vectors: every entry saves the caller-saved state and calls rt_exception(kind, frame). */
	.macro	ventry kind
	.balign	128
	sub	sp, sp, #(34 * 8)
	stp	x0, x1, [sp, #0]
	mov	x0, #\kind
	b	vector_common
	.endm

	.section .vectors, "ax"
	.balign 2048
	.global rt_vectors
rt_vectors:
	ventry 0	/* current EL, SP0: sync */
	ventry 1
	ventry 2
	ventry 3
	ventry 4	/* current EL, SPx: sync */
	ventry 5	/* IRQ */
	ventry 6	/* FIQ */
	ventry 7	/* SError */
	ventry 8
	ventry 9
	ventry 10
	ventry 11
	ventry 12
	ventry 13
	ventry 14
	ventry 15

vector_common:
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x29, x30, [sp, #160]
	mrs	x1, elr_el1
	mrs	x2, spsr_el1
	stp	x1, x2, [sp, #176]
	mov	x1, sp
	bl	rt_exception
	ldp	x1, x2, [sp, #176]
	msr	elr_el1, x1
	msr	spsr_el1, x2
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x19, [sp, #144]
	ldp	x29, x30, [sp, #160]
	ldp	x0, x1, [sp, #0]
	add	sp, sp, #(34 * 8)
	eret
