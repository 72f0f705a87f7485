#!/usr/bin/env bash
# Builds a CPU-only copy of everything with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and,
# with --test, runs the whole test suite there (CI does). Usage: scripts/build-sanitize.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPO_ENABLE_CUDA=OFF -DGPO_SANITIZE=ON \
      -DGPO_BUILD_BENCH=OFF
cmake --build build-asan -j"$(nproc)"
if [ "${1:-}" = "--test" ]; then
    # halt_on_error: the first report fails the test; detect_leaks stays on (LeakSanitizer).
    export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
fi
