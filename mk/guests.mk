# The bare-metal AArch64 guests: guests/lib/* is the runtime, each guests/tests/*.c
# (and guests/demo.c) is one guest linked with it. Output: build/guests/NAME.elf and .bin.
# Guests are position independent so they run wherever they are loaded.

GO := build/guests
GCC_A64 ?= aarch64-linux-gnu-gcc
OBJCOPY_A64 ?= aarch64-linux-gnu-objcopy
GCFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-builtin -nostdlib -nostdinc -fpie \
	-mgeneral-regs-only -mno-outline-atomics -mstrict-align -fno-stack-protector -fno-asynchronous-unwind-tables \
	-Wall -Wextra -Werror -Wshadow -Wvla -Iguests/lib -isystem $(shell $(GCC_A64) -print-file-name=include)
GLDFLAGS := -nostdlib -static-pie -Wl,--no-dynamic-linker -Wl,-T,guests/lib/guest.ld -Wl,-z,norelro \
	-Wl,--build-id=none -Wl,--no-warn-rwx-segments

RT_SRCS := $(sort $(wildcard guests/lib/*.c guests/lib/*.S))
RT_OBJS := $(patsubst guests/%,$(GO)/%.o,$(RT_SRCS))
GUEST_SRCS := $(sort $(wildcard guests/tests/*.c guests/bench/*.c guests/cli/*.c guests/demo.c))
GUEST_ELFS := $(patsubst guests/%.c,$(GO)/%.elf,$(GUEST_SRCS))
GUEST_BINS := $(GUEST_ELFS:.elf=.bin)

.PHONY: guests
guests: $(GUEST_ELFS) $(GUEST_BINS)

$(GO)/%.c.o: guests/%.c $(wildcard guests/lib/*.h)
	@mkdir -p $(dir $@)
	$(GCC_A64) $(GCFLAGS) -c $< -o $@

$(GO)/%.S.o: guests/%.S
	@mkdir -p $(dir $@)
	$(GCC_A64) $(GCFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(GO)/%.elf: $(GO)/%.c.o $(RT_OBJS) guests/lib/guest.ld
	$(GCC_A64) $(GCFLAGS) $(GLDFLAGS) -o $@ $< $(RT_OBJS) -lgcc

$(GO)/%.bin: $(GO)/%.elf
	$(OBJCOPY_A64) -O binary $< $@

# Keep the objects: they are intermediate files of the pattern rules above.
.SECONDARY:
