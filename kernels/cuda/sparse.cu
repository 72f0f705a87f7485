// CUDA: CSR dosage product forward/backward, row gather/scatter-add for the K-hop GRN accumulation, mean-L1 loss
// (reference: kernels/cpu/sparse.h). The GRN powers are cuBLAS GEMMs issued by engine/ops/sparse.cpp.
#include <thrust/iterator/counting_iterator.h>

#include <cub/device/device_reduce.cuh>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/sparse.h"

namespace gpo::cuda {

// ---------------------------------------------------------------------------- kernels
// One thread per output element (p, n, c); threads of a warp share (p, n) and read consecutive c of X rows.
__global__ void dosage_gather_forward_kernel(float* out, const float* X, const int32_t* row_ptr, const int32_t* col,
                                             const float* val, int64_t P, int64_t B, int64_t T, int64_t C) {
    int64_t total = P * B * C;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = i % C, n = (i / C) % B, p = i / (B * C);
        float acc = 0.f;
        for (int32_t k = row_ptr[n]; k < row_ptr[n + 1]; ++k) acc += val[k] * X[(p * T + col[k]) * C + c];
        out[i] = acc;
    }
}

// One thread per upstream element (p, n, c): scatters val[k] dout into dX[p, col[k], c] for each k of row n.
__global__ void dosage_gather_backward_kernel(float* dX, const float* dout, const int32_t* row_ptr,
                                              const int32_t* col, const float* val, int64_t P, int64_t B, int64_t T,
                                              int64_t C) {
    int64_t total = P * B * C;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = i % C, n = (i / C) % B, p = i / (B * C);
        float g = dout[i];
        for (int32_t k = row_ptr[n]; k < row_ptr[n + 1]; ++k) atomicAdd(&dX[(p * T + col[k]) * C + c], val[k] * g);
    }
}

__global__ void gather_rows_kernel(float* out, const float* A, const int32_t* rows, int64_t R, int64_t cols) {
    int64_t total = R * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = A[(int64_t)rows[i / cols] * cols + i % cols];
}

__global__ void scatter_add_rows_kernel(float* dA, const float* dR, const int32_t* rows, int64_t R, int64_t cols) {
    int64_t total = R * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
        atomicAdd(&dA[(int64_t)rows[i / cols] * cols + i % cols], dR[i]);
}

// |pred[i] - target[i]| in double, as the CPU reference.
struct AbsDiff {
    const float* pred;
    const float* target;
    __device__ double operator()(int64_t i) const {
        double d = (double)pred[i] - (double)target[i];
        return d < 0 ? -d : d;
    }
};

struct SumDouble {
    __device__ double operator()(double a, double b) const { return a + b; }
};

__global__ void l1_finalize_kernel(float* out, const double* sum, int64_t n) { out[0] = (float)(sum[0] / (double)n); }

__global__ void l1_backward_kernel(float* dpred, const float* dout, const float* pred, const float* target,
                                   int64_t n) {
    float scale = dout[0] / (float)n;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float d = pred[i] - target[i];
        float s = d > 0.f ? 1.f : (d < 0.f ? -1.f : 0.f);
        dpred[i] += scale * s;
    }
}

// ---------------------------------------------------------------------------- launchers
void dosage_gather_forward(float* out, const float* X, const int32_t* row_ptr, const int32_t* col, const float* val,
                           int64_t P, int64_t B, int64_t T, int64_t C) {
    int64_t total = P * B * C;
    if (total == 0) return;
    dosage_gather_forward_kernel<<<grid_for(total), BLOCK, 0, stream()>>>(out, X, row_ptr, col, val, P, B, T, C);
    CUDA_CHECK_LAUNCH();
}

void dosage_gather_backward(float* dX, const float* dout, const int32_t* row_ptr, const int32_t* col,
                            const float* val, int64_t P, int64_t B, int64_t T, int64_t C) {
    int64_t total = P * B * C;
    if (total == 0) return;
    dosage_gather_backward_kernel<<<grid_for(total), BLOCK, 0, stream()>>>(dX, dout, row_ptr, col, val, P, B, T, C);
    CUDA_CHECK_LAUNCH();
}

void gather_rows(float* out, const float* A, const int32_t* rows, int64_t R, int64_t cols) {
    if (R * cols == 0) return;
    gather_rows_kernel<<<grid_for(R * cols), BLOCK, 0, stream()>>>(out, A, rows, R, cols);
    CUDA_CHECK_LAUNCH();
}

void scatter_add_rows(float* dA, const float* dR, const int32_t* rows, int64_t R, int64_t cols) {
    if (R * cols == 0) return;
    scatter_add_rows_kernel<<<grid_for(R * cols), BLOCK, 0, stream()>>>(dA, dR, rows, R, cols);
    CUDA_CHECK_LAUNCH();
}

void l1_loss_mean_forward(float* out, const float* pred, const float* target, int64_t n) {
    GPO_CHECK(n > 0, "op l1_loss_mean: empty input");
    cudaStream_t s = stream();
    thrust::counting_iterator<int64_t> idx(0);
    AbsDiff op{pred, target};
    // One allocation holds the double result followed by CUB's scratch space.
    size_t temp_bytes = 0;
    CUDA_CHECK(cub::DeviceReduce::TransformReduce(nullptr, temp_bytes, idx, (double*)nullptr, n, SumDouble{}, op,
                                                  0.0, s));
    void* buf = nullptr;
    CUDA_CHECK(cudaMallocAsync(&buf, temp_bytes + 256, s));
    double* sum = static_cast<double*>(buf);
    void* temp = static_cast<char*>(buf) + 256;
    CUDA_CHECK(cub::DeviceReduce::TransformReduce(temp, temp_bytes, idx, sum, n, SumDouble{}, op, 0.0, s));
    l1_finalize_kernel<<<1, 1, 0, s>>>(out, sum, n);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaFreeAsync(buf, s));
}

void l1_loss_mean_backward(float* dpred, const float* dout, const float* pred, const float* target, int64_t n) {
    if (n == 0) return;
    l1_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(dpred, dout, pred, target, n);
    CUDA_CHECK_LAUNCH();
}

}  // namespace gpo::cuda
