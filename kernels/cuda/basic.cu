// CUDA: axpy accumulation and fill (reference: kernels/cpu/basic.h).
#include "kernels/cuda/basic.h"
#include "kernels/cuda/common.cuh"

namespace gpo::cuda {

// ---------------------------------------------------------------------------- kernels
__global__ void axpy_kernel(float* y, const float* x, float a, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] += a * x[i];
}

__global__ void fill_kernel(float* y, float v, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = v;
}

// ---------------------------------------------------------------------------- launchers
void axpy(float* y, const float* x, float a, int64_t n) {
    if (n == 0) return;
    axpy_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(y, x, a, n);
    CUDA_CHECK_LAUNCH();
}

void fill(float* y, float v, int64_t n) {
    if (n == 0) return;
    fill_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(y, v, n);
    CUDA_CHECK_LAUNCH();
}

}  // namespace gpo::cuda
