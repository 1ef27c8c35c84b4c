#!/usr/bin/env bash
# `make test`: sets up everything on a fresh Debian 12 machine and runs the whole suite:
#   1. clang-format check of the C sources;
#   2. unit tests of the non-engine modules under valgrind (plain build, leak check);
#   3. libFuzzer smoke runs of every fuzz target over its seed corpus (clang, bounded);
#   4. unit + end-to-end tests (real binary, real RocksDB, over HTTP) in the
#      AddressSanitizer + UndefinedBehaviorSanitizer build — last, so ctest's summary
#      closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)

scripts/install-deps.sh test

# npm test tools (reference libraries for differential tests), pinned by lockfiles
for lock in tests/*/package-lock.json; do
  [ -e "$lock" ] || continue
  dir=$(dirname "$lock")
  if [ ! -d "$dir/node_modules" ] || [ "$lock" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "== npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
done

echo "== clang-format"
clang-format --dry-run -Werror $(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 2>/dev/null || find src tests -name '*.[ch]')

echo "== release build (what make run and make bench use: -O2 finds more warnings)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DR3E_TESTS=OFF >/dev/null
cmake --build build -j"$JOBS" >/dev/null

echo "== valgrind: unit tests (plain build)"
cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=Debug -DR3E_SANITIZE=OFF >/dev/null
cmake --build build-valgrind -j"$JOBS" >/dev/null
# Tests that drive JavaScriptCore (its JIT and GC threads) are covered by the sanitizer
# build instead; valgrind cannot follow JIT code usefully.
for t in build-valgrind/test_*; do
  case "$(basename "$t")" in test_webapi|test_worker*|test_*_js) continue ;; esac
  [ -x "$t" ] || continue
  echo "-- $(basename "$t")"
  R3E_BIN="$PWD/build-valgrind/r3e" valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 "$t" >/tmp/r3e-valgrind.log 2>&1 || { cat /tmp/r3e-valgrind.log; exit 1; }
done

if ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
  echo "== fuzz smoke (libFuzzer)"
  CC=clang cmake -S . -B build-fuzz -DR3E_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$JOBS" >/dev/null
  (cd build-fuzz && ctest --output-on-failure -j"$JOBS" -R '^fuzz/')
fi

echo "== unit + end-to-end tests (ASan + UBSan build)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DR3E_SANITIZE=ON >/dev/null
cmake --build build-test -j"$JOBS" >/dev/null
cd build-test
ctest --output-on-failure -j"$JOBS"
