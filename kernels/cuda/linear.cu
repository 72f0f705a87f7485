// CUDA: GEMM (cuBLAS) and bias add forward/backward (reference: kernels/cpu/linear.h).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/linear.h"

namespace gpo::cuda {

// ---------------------------------------------------------------------------- kernels
__global__ void bias_add_forward_kernel(float* y, const float* x, const float* b, int64_t rows, int64_t cols) {
    int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = x[i] + b[i % cols];
}

// One thread per column walks the rows (reads are coalesced across the threads of a warp).
__global__ void bias_add_backward_kernel(float* db, const float* dy, int64_t rows, int64_t cols) {
    int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float acc = 0.f;
    for (int64_t r = 0; r < rows; ++r) acc += dy[r * cols + c];
    db[c] += acc;
}

// ---------------------------------------------------------------------------- launchers
// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands for cuBLAS.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
          float* C) {
    if (M == 0 || N == 0) return;
    CUBLAS_CHECK(cublasSgemm(cublas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                             N, M, K, &alpha, B, trans_b ? K : N, A, trans_a ? M : K, &beta, C, N));
}

void bias_add_forward(float* y, const float* x, const float* b, int64_t rows, int64_t cols) {
    if (rows * cols == 0) return;
    bias_add_forward_kernel<<<grid_for(rows * cols), BLOCK, 0, stream()>>>(y, x, b, rows, cols);
    CUDA_CHECK_LAUNCH();
}

void bias_add_backward(float* db, const float* dy, int64_t rows, int64_t cols) {
    if (cols == 0) return;
    bias_add_backward_kernel<<<grid_for(cols), BLOCK, 0, stream()>>>(db, dy, rows, cols);
    CUDA_CHECK_LAUNCH();
}

}  // namespace gpo::cuda
