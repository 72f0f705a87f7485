#!/usr/bin/env bash
# Installs missing Debian packages, configures and builds gpo-engine into build/ (Release).
# CUDA kernels are compiled when nvcc is found. GPO_CUDA_ARCHS=90 compiles for one architecture only (faster builds; CI leaves it unset, as a user does).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
args=(-S . -B build -DCMAKE_BUILD_TYPE=Release)
[ -n "${GPO_CUDA_ARCHS:-}" ] && args+=("-DCMAKE_CUDA_ARCHITECTURES=${GPO_CUDA_ARCHS}")
# nvcc is often installed outside PATH (/usr/local/cuda/bin)
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    args+=("-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc")
fi
cmake "${args[@]}"
cmake --build build -j"$(nproc)"
