# ctlmirror: the two commands of the README, and what they need.
#   make run   install missing Debian packages, build, start the server on 127.0.0.1:8080
#   make test  same set-up, then the whole suite: release build and ASan+UBSan build
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps deps-test deps-bench build build-asan run test test-release test-asan bench clean

all: build

deps:
	@./scripts/deps.sh

deps-test:
	@./scripts/deps.sh test

deps-bench:
	@./scripts/deps.sh bench

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCTLMIRROR_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The daemon on its embedded defaults, on 127.0.0.1:8080, with a store under ./var.
# Extra arguments: make run ARGS='-c etc/ctlmirror.conf'
ARGS ?=
run: build
	mkdir -p var
	./$(BUILD)/ctlmirror serve --store var/store --listen 127.0.0.1:8080 $(ARGS)

test-release: build deps-test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan deps-test
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

test: test-release test-asan

bench: build deps-bench
	./bench/verify/run.sh $(BUILD)
	./bench/serve/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
