// CUDA: Adam step, sum of squares (CUB DeviceReduce::TransformReduce in double) and in-place scaling
// (reference: kernels/cpu/optim.h).
#include <cub/device/device_reduce.cuh>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/optim.h"

namespace gpo::cuda {

// ---------------------------------------------------------------------------- kernels
__global__ void adam_step_kernel(float* p, float* m, float* v, const float* g, int64_t n, float step_size, float b1,
                                 float b2, float eps, float wd, float bc2_sqrt) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float pi = p[i];
        float gi = g[i] + wd * pi;
        float mi = m[i] + (1.f - b1) * (gi - m[i]);
        float vi = b2 * v[i] + (1.f - b2) * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * mi / denom;
    }
}

__global__ void scale_kernel(float* x, float s, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

struct SquareToDouble {
    __device__ double operator()(float x) const { return (double)x * (double)x; }
};

struct AddDouble {
    __device__ double operator()(double a, double b) const { return a + b; }
};

// ---------------------------------------------------------------------------- launchers
void adam_step(float* p, float* m, float* v, const float* g, int64_t n, float step_size, float b1, float b2,
               float eps, float wd, float bc2_sqrt) {
    if (n == 0) return;
    adam_step_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(p, m, v, g, n, step_size, b1, b2, eps, wd, bc2_sqrt);
    CUDA_CHECK_LAUNCH();
}

double sum_squares(const float* x, int64_t n) {
    if (n == 0) return 0.0;
    cudaStream_t s = stream();
    size_t temp_bytes = 0;
    CUDA_CHECK(cub::DeviceReduce::TransformReduce(nullptr, temp_bytes, x, (double*)nullptr, n, AddDouble{},
                                                  SquareToDouble{}, 0.0, s));
    // One allocation holds the double result followed by CUB's scratch space.
    void* buf = nullptr;
    CUDA_CHECK(cudaMallocAsync(&buf, temp_bytes + 256, s));
    double* d_sum = static_cast<double*>(buf);
    CUDA_CHECK(cub::DeviceReduce::TransformReduce(static_cast<char*>(buf) + 256, temp_bytes, x, d_sum, n, AddDouble{},
                                                  SquareToDouble{}, 0.0, s));
    double h_sum = 0;
    CUDA_CHECK(cudaMemcpyAsync(&h_sum, d_sum, sizeof(double), cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaFreeAsync(buf, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    return h_sum;
}

void scale(float* x, float s, int64_t n) {
    if (n == 0) return;
    scale_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(x, s, n);
    CUDA_CHECK_LAUNCH();
}

}  // namespace gpo::cuda
