// CUDA launchers for the smallest building blocks (see kernels/cpu/basic.h for the reference).
#pragma once
#include <cstdint>

namespace gpo::cuda {

void axpy(float* y, const float* x, float a, int64_t n);  // y += a * x
void fill(float* y, float v, int64_t n);

}  // namespace gpo::cuda
