// Tape ops for perturbations and the GRN: dosage products D X with a sparse (one-hot or multi-hot) D given as
// CSR, without a dense D; the K-hop GRN accumulation over a subset of rows; the mean L1 loss.
#pragma once
#include "engine/tape.h"

namespace gpo::ops {

// Sparse dosage matrix D (rows, T) in CSR form, stored on one device: row_ptr i32 (rows+1), col i32 (nnz),
// val f32/f64 (nnz; dtype as the data it multiplies). Control rows are empty.
struct Dosage {
    Tensor row_ptr, col, val;
    int64_t rows = 0, cols = 0;
    Dosage to(Device dev) const;
    Dosage to_dtype(DType dt) const;  // converts val (CPU only)
    // From per-row lists of (column, value); built on the CPU.
    static Dosage from_lists(const std::vector<std::vector<std::pair<int, double>>>& rows, int64_t cols, DType dt);
};

// out[p, n, :] = sum_k D[n, k] X[p, k, :]. X (P, T, C) or (T, C) (then out is (B, C)). Backward scatter-adds
// into dX (rows of X no cell uses get no gradient).
Var dosage_gather(Tape& tape, Var X, const Dosage& D);

// K-hop GRN accumulation over a subset of rows of S = sum_{k=1..hops+1} A^k / T^(k-1) (docs/model.md §4.4):
//   R_1 = A[rows, :]; R_{k+1} = R_k A / T; returns sum_k R_k, shape (len(rows), T).
// A (T, T); rows i32 (R) on A's device; `hops` = K (K+1 powers, docs/model.md D4). rows = all of 0..T-1 gives S.
Var grn_khop_rows(Tape& tape, Var A, const Tensor& rows, int hops);

// mean over all elements of |pred - target| (torch l1_loss, mean reduction); target is a constant. Returns {1}.
// Gradient sign(pred - target) / n, 0 where equal.
Var l1_loss_mean(Tape& tape, Var pred, const Tensor& target);

}  // namespace gpo::ops
