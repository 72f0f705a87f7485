// CUDA launchers for the sparse/GRN family (f32): CSR dosage product and its scatter-add backward, row gather and
// scatter-add for the K-hop GRN accumulation, mean-L1 loss. Same meaning as kernels/cpu/sparse.h.
#pragma once
#include <cstdint>

namespace gpo::cuda {

// out (P, B, C) = D X[p]; D (B, T) CSR (row_ptr (B+1), col (nnz), val (nnz)); X (P, T, C).
void dosage_gather_forward(float* out, const float* X, const int32_t* row_ptr, const int32_t* col, const float* val,
                           int64_t P, int64_t B, int64_t T, int64_t C);
// dX (P, T, C) += D^T dout[p] (atomicAdd: summation order across cells sharing a column is not fixed).
void dosage_gather_backward(float* dX, const float* dout, const int32_t* row_ptr, const int32_t* col,
                            const float* val, int64_t P, int64_t B, int64_t T, int64_t C);
// out (R, cols) = A[rows, :]
void gather_rows(float* out, const float* A, const int32_t* rows, int64_t R, int64_t cols);
// dA[rows[i], :] += dR[i, :] (atomicAdd, so repeated rows accumulate)
void scatter_add_rows(float* dA, const float* dR, const int32_t* rows, int64_t R, int64_t cols);
// out[0] = mean |pred - target| over n > 0 elements (CUB reduction in double, deterministic).
void l1_loss_mean_forward(float* out, const float* pred, const float* target, int64_t n);
// dpred (n) += dout[0] / n * sign(pred - target); dout is a device scalar.
void l1_loss_mean_backward(float* dpred, const float* dout, const float* pred, const float* target, int64_t n);

}  // namespace gpo::cuda
