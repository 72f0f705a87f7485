#!/usr/bin/env bash
# Packs the built binaries and the non-CUDA shared libraries they need into .devrun/ (git-ignored), so a lent GPU
# machine without our Debian packages can run the tests and benchmarks: see docs/gpu-runs.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .devrun && mkdir -p .devrun/build .devrun/lib
for f in build/gpo-engine build/gpo_tests build/gpo_parity_tests build/bench_*; do
    [ -x "$f" ] && cp -a "$f" .devrun/build/ && strip "$f" -o .devrun/build/$(basename "$f") && touch -r "$f" .devrun/build/$(basename "$f")
done
cp -a build/CTestTestfile.cmake build/*_include.cmake .devrun/build/ 2>/dev/null || true
cp -a build/*_tests.cmake .devrun/build/ 2>/dev/null || true
# Shared libraries from Debian packages (HDF5, OpenBLAS, gfortran, ...); CUDA libraries come from the machine.
for f in .devrun/build/*; do
    [ -x "$f" ] || continue
    ldd "$f" | awk '/=> \// {print $3}'
done | sort -u | grep -v -E 'libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|ld-linux|libcublas|libcurand|libcusparse|libcudart' \
    | while read -r lib; do cp -L "$lib" .devrun/lib/; done
du -sh .devrun
