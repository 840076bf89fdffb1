# One build variant of ivy. Called by the top-level Makefile with
#   O=<output dir> CC=<compiler> VARIANT_CFLAGS=... VARIANT_LDFLAGS=...
# Sources are found by directory, so adding a file needs no edit here.

O ?= build/release
CC ?= cc
AR ?= ar

WARN := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wvla
CFLAGS_BASE := -std=gnu11 -g -fPIC -pthread $(WARN) -Iinclude -Isrc -Itests/support -Ibench/support \
	-Iclient/examples -Idevices -D_GNU_SOURCE
CFLAGS_ALL := $(CFLAGS_BASE) $(VARIANT_CFLAGS)
LDFLAGS_ALL := -pthread $(VARIANT_LDFLAGS)

LIB_SRCS := $(sort $(shell find src -name '*.c'))
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(O)/tests/%)
TEST_SUPPORT := $(sort $(wildcard tests/support/*.c))
TEST_SUPPORT_OBJS := $(TEST_SUPPORT:%.c=$(O)/%.o)
BENCH_SRCS := $(sort $(wildcard bench/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(O)/bench/%)
DEV_SRCS := $(sort $(wildcard devices/*.c))
DEV_OBJS := $(DEV_SRCS:%.c=$(O)/%.o)
DEVICES := $(O)/libivy-devices.a
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(O)/fuzz/%)

# ivy-client: the out-of-process client library and its example device, kept out of libivy.
CLIENT_SRCS := $(sort $(wildcard client/*.c))
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(O)/%.o)
CLIENT_LIB := $(O)/libivy-client.a
EXAMPLE_OBJ := $(O)/client/examples/regfile.o
EXAMPLE_BINS := $(O)/client/examples/ivy-regfile

SONAME := libivy.so.0
STATIC := $(O)/libivy.a
SHARED := $(O)/$(SONAME)

.PHONY: lib tests benches fuzzers
lib: $(STATIC) $(SHARED) $(O)/ivy.pc $(CLIENT_LIB) $(EXAMPLE_BINS)
tests: $(TEST_BINS) $(EXAMPLE_BINS)
benches: $(BENCH_BINS)
fuzzers: $(FUZZ_BINS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(SHARED): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS_ALL) -o $@ $^
	ln -sf $(SONAME) $(O)/libivy.so

$(O)/ivy.pc: mk/ivy.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(CLIENT_LIB): $(CLIENT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

# Device models (PCI, virtio) that VMMs and out-of-process clients build on.
$(DEVICES): $(DEV_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(O)/client/examples/ivy-regfile: $(O)/client/examples/regfile_main.o $(EXAMPLE_OBJ) $(CLIENT_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^

# Tests, benchmarks and fuzzers may drive the client side too (the example device included).
$(O)/tests/%: $(O)/tests/%.o $(TEST_SUPPORT_OBJS) $(STATIC) $(EXAMPLE_OBJ) $(CLIENT_LIB) $(DEVICES)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(TEST_SUPPORT_OBJS) $(EXAMPLE_OBJ) $(CLIENT_LIB) $(DEVICES) \
		$(STATIC) -lcmocka

$(O)/bench/%: $(O)/bench/%.o $(O)/bench/support/bench.o $(STATIC) $(EXAMPLE_OBJ) $(CLIENT_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(O)/bench/support/bench.o $(EXAMPLE_OBJ) $(CLIENT_LIB) $(STATIC) -lm

$(O)/fuzz/%: $(O)/fuzz/%.o $(DEVICES) $(STATIC)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(DEVICES) $(STATIC)

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# The reference VMM: vmm/*.c linked with libivy.a, Unicorn and libfdt. Built only in
# the release variant (Unicorn is not instrumented for the sanitizers). Its own unit
# tests (tests/vmm/test_*.c) link the Unicorn-internals layer.
VMM_SRCS := $(sort $(wildcard vmm/*.c))
VMM_OBJS := $(VMM_SRCS:%.c=$(O)/%.o)
VMM_LIB_OBJS := $(O)/vmm/uc_internal.o
# The VMM's replacement of the engine's tb_gen_code (vmm/uc_internal.c) must be the
# one the library's calls reach: exported from the executable.
VMM_LIBS := -Wl,--export-dynamic-symbol=tb_gen_code_aarch64 -lunicorn -lfdt -lm
VMM_TEST_SRCS := $(sort $(wildcard tests/vmm/test_*.c))
VMM_TEST_BINS := $(VMM_TEST_SRCS:tests/vmm/%.c=$(O)/tests/vmm/%)

.PHONY: vmm vmm-tests
vmm: $(O)/ivy
vmm-tests: $(VMM_TEST_BINS)

$(O)/ivy: $(VMM_OBJS) $(STATIC) $(DEVICES) $(CLIENT_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(VMM_OBJS) $(DEVICES) $(CLIENT_LIB) $(STATIC) $(VMM_LIBS)

$(O)/tests/vmm/%: $(O)/tests/vmm/%.o $(VMM_LIB_OBJS) $(STATIC)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(VMM_LIB_OBJS) $(STATIC) $(VMM_LIBS) -lcmocka
