# ctlmirror: the two commands of the README, and what they need.
#   make run   install missing Debian packages, build, start the server on 127.0.0.1:8080
#   make test  same set-up, then the whole suite: lint, release build, ASan+UBSan build,
#              and the daemon tests in a ThreadSanitizer build
#   make lint  cppcheck and clang-tidy over the C sources; fails on any finding
#   make install / make deb   install under PREFIX (DESTDIR honoured) / build a Debian package
#   make soak  the soak test for SOAK_SECONDS (default 300): clients, syncs, pins, SIGHUPs together
#
# CC=clang make test builds with clang. A compiler other than the default gets
# its own build directories (build-clang, build-asan-clang, ...), so no CMake
# cache ever mixes two compilers.
ifneq ($(filter default undefined,$(origin CC)),)
CC_SUFFIX :=
CC_ARG    :=
TSAN_CC   ?= clang
else
CC_SUFFIX := -$(notdir $(CC))
CC_ARG    := -DCMAKE_C_COMPILER=$(CC)
TSAN_CC   ?= $(CC)
endif

BUILD      ?= build$(CC_SUFFIX)
ASAN_BUILD ?= build-asan$(CC_SUFFIX)
# ThreadSanitizer: clang unless another compiler was asked for (so make test
# also compiles the tree once with clang's warnings).
ifeq ($(notdir $(TSAN_CC)),clang)
TSAN_BUILD ?= build-tsan
else
TSAN_BUILD ?= build-tsan-$(notdir $(TSAN_CC))
endif
# clang-tidy reads the compile commands of a clang configuration (nothing is built).
LINT_BUILD ?= build-lint
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
CLANG_TIDY ?= $(shell command -v clang-tidy-14 || echo clang-tidy)

# ctest label of the tests that start `ctlmirror serve`: the TSan build runs those.
DAEMON_LABEL ?= daemon

.PHONY: all deps deps-lint deps-test deps-bench build build-asan build-tsan run test install deb po \
	test-release test-asan test-tsan lint lint-config lint-tidy lint-cppcheck lint-version \
	bench clean deps-fuzz build-fuzz fuzz fuzz-smoke soak

all: build

deps:
	@./scripts/deps.sh

deps-lint:
	@./scripts/deps.sh lint

deps-test:
	@./scripts/deps.sh test

deps-bench:
	@./scripts/deps.sh bench

deps-fuzz:
	@./scripts/deps.sh fuzz

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CC_ARG) $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCTLMIRROR_SANITIZE=ON $(CC_ARG) $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Debug (asserts on), -O1 added by CTLMIRROR_TSAN.
build-tsan: deps deps-test
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCTLMIRROR_TSAN=ON \
	    -DCMAKE_C_COMPILER=$(TSAN_CC) $(CMAKE_ARGS)
	cmake --build $(TSAN_BUILD) -j $(JOBS)

# The daemon on its embedded defaults, on 127.0.0.1:$(PORT), with a store under ./var.
# Another address: make run PORT=8081 (or LISTEN=0.0.0.0:8080); extra arguments:
# make run ARGS='-c etc/ctlmirror.conf'. No config file of the machine is read
# unless ARGS names one.
PORT   ?= 8080
LISTEN ?= 127.0.0.1:$(PORT)
ARGS   ?=
run: build
	mkdir -p var
	CTLMIRROR_CONFIG= ./$(BUILD)/ctlmirror serve --store var/store --listen $(LISTEN) $(ARGS)

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary, manual page, config
# (/etc/ctlmirror), systemd unit, sysusers.d and tmpfiles.d entries (cmake/install.cmake).
# After it, as root: systemd-sysusers; systemd-tmpfiles --create ctlmirror.conf;
# systemctl daemon-reload; systemctl enable --now ctlmirror.
PREFIX ?= /usr/local
install: build
	DESTDIR='$(DESTDIR)' cmake --install $(BUILD) --prefix '$(PREFIX)'

# make po: po/ctlmirror.pot from the sources in po/POTFILES, merged into each
# po/LANG.po (then translate what msgmerge left empty or fuzzy).
XGETTEXT_ARGS = --from-code=UTF-8 -k_ -kN_ -kngettext:1,2 --add-comments=TRANSLATORS \
	--package-name=ctlmirror --msgid-bugs-address= --no-location
po:
	xgettext $(XGETTEXT_ARGS) -o po/ctlmirror.pot $$(grep -v '^#' po/POTFILES)
	for f in po/*.po; do msgmerge --quiet --update --backup=none --no-location "$$f" po/ctlmirror.pot; done
	@for f in po/*.po; do printf '%s: ' "$$f"; msgfmt --statistics -o /dev/null "$$f"; done

# make deb: a Debian package under /usr (CPack), written to $(BUILD)/deb/.
deb: build
	cpack -G DEB -B $(CURDIR)/$(BUILD)/deb --config $(BUILD)/CPackConfig.cmake
	@ls $(BUILD)/deb/*.deb

test-release: build deps-test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan deps-test
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# The daemon tests (label $(DAEMON_LABEL)) plus forge, which makes their fixtures.
# .tsan-suppressions names frames inside uninstrumented libraries only.
TSAN_OPTIONS_ALL = halt_on_error=1 second_deadlock_stack=1 history_size=4 \
	suppressions=$(CURDIR)/.tsan-suppressions
test-tsan: build-tsan
	cd $(TSAN_BUILD) && TSAN_OPTIONS='$(TSAN_OPTIONS_ALL)' \
	    ctest --output-on-failure -j $(JOBS) -L '^$(DAEMON_LABEL)$$'

# Static analysis over every C file CMake compiles (compile_commands.json of a clang
# configuration; nothing is built), with the checked-in configuration: .clang-tidy,
# .cppcheck-suppressions, .cppcheck.cfg. Any finding fails.
VERSION := $(shell sed -n 's/^project.ctlmirror VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
TIDY_NOISE = ^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$$|^Suppressed [0-9]+ warnings|^Use -header-filter|warnings? treated as errors?$$
# -k: every analyser reports, then lint fails if any found something.
lint:
	@$(MAKE) --no-print-directory -k lint-cppcheck lint-tidy lint-version

lint-config: deps-lint
	@cmake -S . -B $(LINT_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS) >/dev/null

lint-tidy: lint-config
	@jq -r '.[].file' $(LINT_BUILD)/compile_commands.json | sort -u | \
	    xargs -P $(JOBS) -n 1 $(CLANG_TIDY) -p $(LINT_BUILD) --quiet >$(LINT_BUILD)/clang-tidy.log 2>&1; \
	    rc=$$?; grep -Ev '$(TIDY_NOISE)' $(LINT_BUILD)/clang-tidy.log; \
	    if [ $$rc -ne 0 ]; then echo "lint: clang-tidy found the above"; exit 1; fi

lint-cppcheck: lint-config
	@cppcheck --project=$(LINT_BUILD)/compile_commands.json -j $(JOBS) --quiet \
	    --enable=warning,performance,portability --std=c11 --inline-suppr \
	    --library=gnu --library=openssl --library=libcurl --library=.cppcheck.cfg \
	    --suppressions-list=.cppcheck-suppressions --error-exitcode=1 \
	    --template='{file}:{line}: {severity}: {id}: {message}' \
	    || { echo "lint: cppcheck found the above"; exit 1; }

# The version is written once, in project(VERSION): not in the sources, and the
# manual page names the same one.
lint-version:
	@! grep -rnF '"$(VERSION)"' proxy verify store tests/*.c bench/verify || \
	    { echo "lint: a hard-coded version; use CTLMIRROR_VERSION (ctlmirror_version.h)"; exit 1; }
	@grep -q '^\.TH CTLMIRROR 1 "[^"]*" "ctlmirror $(VERSION)"' docs/ctlmirror.1 || \
	    { echo "docs/ctlmirror.1: .TH does not name version $(VERSION) of CMakeLists.txt"; exit 1; }

# libFuzzer targets (fuzz/README.md): clang with ASan+UBSan, in their own build
# directory. make fuzz runs each for FUZZ_SECONDS, keeping what it finds in
# $(FUZZ_BUILD)/fuzz/corpus; fuzz-smoke runs each for FUZZ_SMOKE_SECONDS from
# the seeds alone (part of make test). Any crash, leak or timeout fails.
FUZZ_BUILD         ?= build-fuzz
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 5
build-fuzz: deps-fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCTLMIRROR_FUZZ=ON \
	    -DCMAKE_C_COMPILER=$(FUZZ_CC) $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all

fuzz: build-fuzz
	./fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-smoke: build-fuzz
	./fuzz/run.sh --smoke $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS)

test: lint test-release test-asan test-tsan fuzz-smoke

# The soak test (tests/soak.py; `make test` runs it for 20 s as ctest's `soak`):
# SOAK_CLIENTS clients, syncs that change the served version, pins and SIGHUPs
# together for SOAK_SECONDS, every reply checked against what could be served at
# that moment; prints a summary. Fixtures from forge, as ctest makes them.
SOAK_SECONDS ?= 300
SOAK_CLIENTS ?= 6
soak: build deps-test
	./$(BUILD)/tests/forge $(BUILD)/tests/fixtures
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CLIENTS=$(SOAK_CLIENTS) CTLMIRROR_CONFIG= \
	    python3 tests/soak.py $(BUILD)/ctlmirror $(BUILD)/tests/fixtures

bench: build deps-bench
	./bench/verify/run.sh $(BUILD)
	./bench/serve/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(LINT_BUILD) $(FUZZ_BUILD)
