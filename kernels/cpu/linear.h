// CPU reference: GEMM through CBLAS (OpenBLAS) and the bias add/backward, row-major, float or double.
#pragma once
#include <cblas.h>

#include <cstdint>

namespace gpo::cpu {

// C (M, N) = alpha * op(A) op(B) + beta * C, row-major. op(A) is (M, K): A is (M, K), or (K, M) when trans_a.
// op(B) is (K, N): B is (K, N), or (N, K) when trans_b.
inline void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B,
                 float beta, float* C) {
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

inline void gemm(bool trans_a, bool trans_b, int M, int N, int K, double alpha, const double* A, const double* B,
                 double beta, double* C) {
    if (M == 0 || N == 0) return;
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

// y (rows, cols) = x + b (cols), broadcast over rows. y may alias x.
template <class T>
void bias_add_forward(T* y, const T* x, const T* b, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = x[r * cols + c] + b[c];
}

// db (cols) += column sums of dy (rows, cols). (dx += dy is a plain accumulate.)
template <class T>
void bias_add_backward(T* db, const T* dy, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) db[c] += dy[r * cols + c];
}

}  // namespace gpo::cpu
