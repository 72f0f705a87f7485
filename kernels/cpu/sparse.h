// CPU reference for the sparse/GRN family: the CSR dosage product D X and its scatter-add backward, the row
// gather/scatter-add that starts (and ends) the K-hop GRN accumulation, and the mean-L1 loss. Plain loops,
// templated on float/double. (The GRN powers themselves are GEMMs: kernels/cpu/linear.h gemm.)
#pragma once
#include <cstdint>

namespace gpo::cpu {

// out (P, B, C) = D X[p] for each p: out[p, n, c] = sum_{k in row n} val[k] X[p, col[k], c].
// D (B, T) in CSR: row_ptr (B+1), col (nnz) in [0, T), val (nnz). X (P, T, C). Empty rows give zeros.
template <class T>
void dosage_gather_forward(T* out, const T* X, const int32_t* row_ptr, const int32_t* col, const T* val, int64_t P,
                           int64_t B, int64_t Tn, int64_t C) {
    for (int64_t p = 0; p < P; ++p)
        for (int64_t n = 0; n < B; ++n) {
            T* o = out + (p * B + n) * C;
            for (int64_t c = 0; c < C; ++c) o[c] = T(0);
            for (int32_t k = row_ptr[n]; k < row_ptr[n + 1]; ++k) {
                const T* x = X + (p * Tn + col[k]) * C;
                for (int64_t c = 0; c < C; ++c) o[c] += val[k] * x[c];
            }
        }
}

// dX (P, T, C) += D^T dout[p]: dX[p, col[k], c] += val[k] dout[p, n, c] for every k in row n. dout (P, B, C).
template <class T>
void dosage_gather_backward(T* dX, const T* dout, const int32_t* row_ptr, const int32_t* col, const T* val,
                            int64_t P, int64_t B, int64_t Tn, int64_t C) {
    for (int64_t p = 0; p < P; ++p)
        for (int64_t n = 0; n < B; ++n) {
            const T* g = dout + (p * B + n) * C;
            for (int32_t k = row_ptr[n]; k < row_ptr[n + 1]; ++k) {
                T* d = dX + (p * Tn + col[k]) * C;
                for (int64_t c = 0; c < C; ++c) d[c] += val[k] * g[c];
            }
        }
}

// out (R, cols) = A[rows, :]; A (?, cols), rows (R).
template <class T>
void gather_rows(T* out, const T* A, const int32_t* rows, int64_t R, int64_t cols) {
    for (int64_t i = 0; i < R; ++i)
        for (int64_t c = 0; c < cols; ++c) out[i * cols + c] = A[(int64_t)rows[i] * cols + c];
}

// dA[rows[i], :] += dR[i, :] for i in 0..R-1 (repeated rows accumulate); dA (?, cols), dR (R, cols).
template <class T>
void scatter_add_rows(T* dA, const T* dR, const int32_t* rows, int64_t R, int64_t cols) {
    for (int64_t i = 0; i < R; ++i)
        for (int64_t c = 0; c < cols; ++c) dA[(int64_t)rows[i] * cols + c] += dR[i * cols + c];
}

// Returns sum_i |pred[i] - target[i]| over n elements, accumulated in double.
template <class T>
double l1_sum(const T* pred, const T* target, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
        double d = (double)pred[i] - (double)target[i];
        s += d < 0 ? -d : d;
    }
    return s;
}

// dpred (n) += scale * sign(pred - target), sign 0 where equal; scale = upstream gradient / n.
template <class T>
void l1_backward(T* dpred, const T* pred, const T* target, T scale, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        T d = pred[i] - target[i];
        T s = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
        dpred[i] += scale * s;
    }
}

}  // namespace gpo::cpu
