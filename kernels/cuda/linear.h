// CUDA launchers: GEMM through cuBLAS (FP32) and the bias add/backward. Same meaning as kernels/cpu/linear.h.
#pragma once
#include <cstdint>

namespace gpo::cuda {

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
          float* C);
void bias_add_forward(float* y, const float* x, const float* b, int64_t rows, int64_t cols);
void bias_add_backward(float* db, const float* dy, int64_t rows, int64_t cols);

}  // namespace gpo::cuda
