# ivy — top-level targets. The build itself is mk/build.mk, run once per variant.
#   make               the library (static + shared + pkg-config) and the tools
#   make check         installs missing packages, builds, runs every test (also under
#                      ASan+UBSan and TSan), fuzz smoke runs and the format check
#   make check-tsan    only the TSan run
#   make check-guests  the guest tests: real AArch64 guests under `ivy run`
#   make check-linux   Debian's arm64 kernel under `ivy run` (fetched with apt)
#   make check-distro  Debian 12 with systemd under `ivy run` (built with mmdebstrap;
#                      ~16 min the first time, ~9 after; CI runs it after make check)
#   make run           builds the VMM and the demo guest and runs the demo (GICv3 + ITS, 2 vCPUs)
#   make bench         builds and runs every benchmark (JSON lines)
#   make fuzz          builds the libFuzzer targets; FUZZ_TIME=seconds runs each for that long
#   make format        reformats; make format-check verifies
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
VERSION := 0.1.0
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SMOKE_TIME ?= 10

SUB := $(MAKE) --no-print-directory -f mk/build.mk PREFIX=$(PREFIX) VERSION=$(VERSION) -j$(JOBS)
RELEASE := O=build/release CC=gcc VARIANT_CFLAGS="-O2"
ASAN := O=build/asan CC=gcc VARIANT_CFLAGS="-O1 -DIVY_DEBUG -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer" VARIANT_LDFLAGS="-fsanitize=address,undefined"
TSAN := O=build/tsan CC=clang VARIANT_CFLAGS="-O1 -DIVY_DEBUG -fsanitize=thread" \
	VARIANT_LDFLAGS="-fsanitize=thread"
FUZZ := O=build/fuzz CC=clang VARIANT_CFLAGS="-O1 -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all" VARIANT_LDFLAGS="-fsanitize=fuzzer,address,undefined"

RESULTS := build/results.txt
FORMAT_FILES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find include src tests bench fuzz vmm guests -name '*.[ch]')

.PHONY: all deps lib vmm guests run check check-guests check-linux check-distro check-unit check-asan \
	check-tsan check-fuzz \
	check-format check-install bench fuzz \
	format format-check install clean

# Each target runs its own parallel sub-make, and several share a build directory
# (lib and vmm both build build/release): running the targets themselves in
# parallel (make -j) would race, and gains nothing.
.NOTPARALLEL:

all: deps lib vmm guests

deps:
	@scripts/deps.sh build

lib:
	@$(SUB) $(RELEASE) lib

# The reference VMM (release build only: Unicorn is not built with sanitizers) and the guests.
vmm:
	@$(SUB) $(RELEASE) vmm

guests:
	@$(MAKE) --no-print-directory -f mk/guests.mk -j$(JOBS) guests

run: deps vmm guests
	@build/release/ivy run -smp 2 -machine gic-version=3,its=on --stats --timeout 30

check: deps
	@mkdir -p build && : > $(RESULTS)
	@$(MAKE) --no-print-directory check-unit check-asan check-tsan check-fuzz check-guests \
		check-linux check-format check-install
	@scripts/summary.sh $(RESULTS)

check-unit:
	@$(SUB) $(RELEASE) lib tests
	@scripts/run-tests.sh unit $(RESULTS) build/release/tests/test_*

check-guests:
	@mkdir -p build && touch $(RESULTS)
	@$(SUB) $(RELEASE) lib vmm vmm-tests
	@$(MAKE) --no-print-directory -f mk/guests.mk -j$(JOBS) guests
	@scripts/run-tests.sh vmm $(RESULTS) build/release/tests/vmm/test_*
	@tests/vmm/cli.sh $(RESULTS) build/release/ivy build/guests
	@tests/vmm/remote.sh $(RESULTS) build/release/ivy build/guests build/release/client/examples/ivy-regfile
	@tests/vmm/pci.sh $(RESULTS) build/release/ivy build/guests
	@scripts/run-guests.sh $(RESULTS) build/release/ivy build/guests/tests

# Debian's arm64 kernel booted to init (fetched with apt on first use, never committed).
check-linux:
	@mkdir -p build && touch $(RESULTS)
	@$(SUB) $(RELEASE) lib vmm
	@scripts/fetch-linux.sh
	@tests/linux/boot.sh $(RESULTS) build/release/ivy

# Debian 12 with systemd (scripts/fetch-distro.sh, cached in build/distro/): one boot,
# workload, reboot and power-off cycle on GICv2 (root disk in a device process), then on
# GICv3 + ITS. One at a time: the guest's timer checks want a host that is not overloaded.
check-distro: deps
	@mkdir -p build && : > build/distro-results.txt
	@$(SUB) $(RELEASE) lib vmm
	@scripts/fetch-distro.sh
	@tests/distro/cycle.sh build/distro-results.txt build/release/ivy v2 v3
	@scripts/summary.sh build/distro-results.txt

check-asan:
	@$(SUB) $(ASAN) tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		scripts/run-tests.sh asan $(RESULTS) build/asan/tests/test_*

check-tsan:
	@mkdir -p build && touch $(RESULTS)
	@$(SUB) $(TSAN) tests
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		scripts/run-tests.sh tsan $(RESULTS) build/tsan/tests/test_*

check-fuzz:
	@$(SUB) $(FUZZ) fuzzers
	@scripts/fuzz-smoke.sh $(RESULTS) $(FUZZ_SMOKE_TIME) build/fuzz/fuzz/fuzz_*

# Installs into a staging prefix and builds tests/embed against it with pkg-config,
# once with the shared and once with the static library.
STAGE := $(CURDIR)/build/stage
check-install:
	@rm -rf $(STAGE) && $(MAKE) --no-print-directory install PREFIX=$(STAGE) >/dev/null
	@if PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig sh -c '\
		cc -Werror tests/embed/embed.c $$(pkg-config --cflags --libs ivy) -o build/embed-shared && \
		LD_LIBRARY_PATH=$(STAGE)/lib build/embed-shared && \
		cc -Werror tests/embed/embed.c $$(pkg-config --cflags ivy) $(STAGE)/lib/libivy.a \
			-lpthread -o build/embed-static && build/embed-static'; \
	then echo "install 2 0" >> $(RESULTS); else echo "install: FAILED"; echo "install 0 2" >> $(RESULTS); fi

check-format:
	@if scripts/format-check.sh $(FORMAT_FILES); then echo "format: ok"; echo "format 1 0" >> $(RESULTS); \
	else echo "format: FAILED (run make format)"; echo "format 0 1" >> $(RESULTS); fi

bench: deps
	@$(SUB) $(RELEASE) benches
	@for b in build/release/bench/bench_*; do [ -x "$$b" ] || continue; $$b || echo "{\"bench\":\"$$(basename $$b)\",\"error\":\"exit $$?\"}"; done
	@scripts/deps.sh bench
	@$(SUB) $(RELEASE) vmm
	@$(MAKE) --no-print-directory -f mk/guests.mk -j$(JOBS) guests
	@scripts/bench-guests.sh build/release/ivy build/guests
	@scripts/bench-linux.sh build/release/ivy

fuzz: deps
	@$(SUB) $(FUZZ) fuzzers
	@if [ -n "$(FUZZ_TIME)" ]; then scripts/fuzz-smoke.sh /dev/null $(FUZZ_TIME) build/fuzz/fuzz/fuzz_*; fi

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@scripts/format-check.sh $(FORMAT_FILES) && echo "format: ok"

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/ivy $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 build/release/libivy.a build/release/libivy-client.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 build/release/libivy.so.0 $(DESTDIR)$(PREFIX)/lib/
	ln -sf libivy.so.0 $(DESTDIR)$(PREFIX)/lib/libivy.so
	install -m 644 include/ivy/*.h $(DESTDIR)$(PREFIX)/include/ivy/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' mk/ivy.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/ivy.pc

clean:
	rm -rf build
