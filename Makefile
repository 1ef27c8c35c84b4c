# Thin wrapper over CMake. `make run` and `make test` set up everything on a fresh Debian 12.
JOBS ?= $(shell nproc)
BUILD ?= build
TEST_BUILD ?= build-test

.PHONY: all deps build run test test-unit test-e2e fuzz bench format format-check clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DR3E_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/r3e server --dev

# The whole suite: unit tests, end-to-end tests and valgrind under ASan/UBSan builds.
test:
	@scripts/test.sh

fuzz:
	@scripts/install-deps.sh test
	@CC=clang cmake -S . -B build-fuzz -DR3E_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@cd build-fuzz && ctest --output-on-failure -R fuzz/

bench: build
	@scripts/install-deps.sh bench
	@bench/run.sh

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) build-fuzz
