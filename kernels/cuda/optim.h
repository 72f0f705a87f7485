// CUDA launchers for the optimizer (f32): Adam step, sum of squares (CUB, double accumulation), in-place scaling.
// Same meaning as kernels/cpu/optim.h.
#pragma once
#include <cstdint>

namespace gpo::cuda {

void adam_step(float* p, float* m, float* v, const float* g, int64_t n, float step_size, float b1, float b2,
               float eps, float wd, float bc2_sqrt);
// sum x^2 over n elements as a double (a CUB device reduction; synchronizes to return the value).
double sum_squares(const float* x, int64_t n);
void scale(float* x, float s, int64_t n);  // x *= s

}  // namespace gpo::cuda
