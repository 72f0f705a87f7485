// CUDA launchers for the reduction family (f32). Same meaning and argument order as kernels/cpu/reduce.h;
// backward launchers accumulate (+=). Whole-tensor sums go through cub::DeviceReduce.
#pragma once
#include <cstdint>

namespace gpo::cuda {

void sum_axis_forward(float* y, const float* x, int64_t outer, int64_t n, int64_t inner, float scale);
void sum_axis_backward(float* dx, const float* dy, int64_t outer, int64_t n, int64_t inner, float scale);
// y[0] = mean of sigmoid(x[0, n)) (per-block partial sums in a fixed grid, then one block adds them in order:
// deterministic); dx += dy[0] / n * s (1 - s).
void sigmoid_mean_forward(float* y, const float* x, int64_t n);
void sigmoid_mean_backward(float* dx, const float* dy, const float* x, int64_t n);
void logsumexp_forward(float* y, const float* x, int64_t outer, int64_t n, int64_t inner);
void logsumexp_backward(float* dx, const float* dy, const float* x, const float* y, int64_t outer, int64_t n,
                        int64_t inner);

}  // namespace gpo::cuda
