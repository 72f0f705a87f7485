// Tape ops for the sparse/GRN family: CSR dosage helpers and product, K-hop GRN accumulation over a subset of
// rows, mean-L1 loss (kernels: kernels/cpu/sparse.h, kernels/cuda/sparse.cu; GEMMs from the linear family).
#include "engine/ops/sparse.h"

#include "engine/ops/dispatch.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/sparse.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/sparse.h"

namespace gpo::ops {

// ---------------------------------------------------------------------------- Dosage helpers
Dosage Dosage::to(Device dev) const {
    Dosage d = *this;
    d.row_ptr = row_ptr.to(dev);
    d.col = col.to(dev);
    d.val = val.to(dev);
    return d;
}

Dosage Dosage::to_dtype(DType dt) const {
    GPO_CHECK(val.device == Device::CPU, "Dosage::to_dtype: needs a CPU dosage, val is " << val.describe());
    GPO_CHECK(dt == DType::F32 || dt == DType::F64, "Dosage::to_dtype: expected f32 or f64, got " << dtype_name(dt));
    Dosage d = *this;
    d.val = val.to_dtype(dt);
    return d;
}

Dosage Dosage::from_lists(const std::vector<std::vector<std::pair<int, double>>>& rows, int64_t cols, DType dt) {
    GPO_CHECK(dt == DType::F32 || dt == DType::F64, "Dosage::from_lists: expected f32 or f64, got " << dtype_name(dt));
    GPO_CHECK(cols >= 0, "Dosage::from_lists: negative column count " << cols);
    std::vector<int32_t> row_ptr{0}, col;
    std::vector<double> val;
    for (size_t n = 0; n < rows.size(); ++n) {
        for (const auto& e : rows[n]) {
            GPO_CHECK(e.first >= 0 && e.first < cols, "Dosage::from_lists: row " << n << " has column " << e.first
                                                                                << ", expected [0, " << cols << ")");
            col.push_back(e.first);
            val.push_back(e.second);
        }
        row_ptr.push_back((int32_t)col.size());
    }
    Dosage d;
    d.rows = (int64_t)rows.size();
    d.cols = cols;
    d.row_ptr = Tensor::from_ints({d.rows + 1}, row_ptr);
    d.col = Tensor::from_ints({(int64_t)col.size()}, col);
    d.val = Tensor::from_vector({(int64_t)val.size()}, val, dt);
    return d;
}

// ---------------------------------------------------------------------------- dosage_gather
static void check_dosage(const Dosage& D, const Tensor& X, int64_t T) {
    GPO_CHECK(D.row_ptr.dtype == DType::I32 && D.col.dtype == DType::I32,
              "op dosage_gather: row_ptr and col must be i32, got " << D.row_ptr.describe() << " and "
                                                                    << D.col.describe());
    GPO_CHECK(D.row_ptr.shape == Shape{D.rows + 1} && D.col.ndim() == 1 && D.val.shape == D.col.shape,
              "op dosage_gather: malformed CSR, rows " << D.rows << ", row_ptr " << shape_str(D.row_ptr.shape)
                                                       << ", col " << shape_str(D.col.shape) << ", val "
                                                       << shape_str(D.val.shape));
    GPO_CHECK(D.row_ptr.device == X.device && D.col.device == X.device && D.val.device == X.device,
              "op dosage_gather: dosage on " << device_name(D.val.device) << ", X is " << X.describe());
    GPO_CHECK(D.val.dtype == X.dtype, "op dosage_gather: dosage values " << D.val.describe() << ", X is "
                                                                          << X.describe());
    GPO_CHECK(D.cols == T, "op dosage_gather: dosage is (" << D.rows << ", " << D.cols << ") but X "
                                                           << shape_str(X.shape) << " has " << T << " rows");
}

Var dosage_gather(Tape& tape, Var x, const Dosage& D) {
    const Tensor& X = tape.value(x);
    check_same_kind("dosage_gather", {&X});
    GPO_CHECK(X.ndim() == 2 || X.ndim() == 3, "op dosage_gather: X must be (T, C) or (P, T, C), got " << X.describe());
    const bool batched = X.ndim() == 3;
    const int64_t P = batched ? X.dim(0) : 1, T = X.dim(-2), C = X.dim(-1), B = D.rows;
    check_dosage(D, X, T);
    Tensor out = Tensor::empty(batched ? Shape{P, B, C} : Shape{B, C}, X.dtype, X.device);
    if (X.is_cuda()) {
        GPO_CUDA(cuda::dosage_gather_forward(out.f32(), X.f32(), D.row_ptr.i32(), D.col.i32(), D.val.f32(), P, B, T,
                                             C));
    } else {
        dispatch_cpu(X, "dosage_gather", [&](auto tag) {
            using V = decltype(tag);
            cpu::dosage_gather_forward<V>(out.ptr<V>(), X.ptr<V>(), D.row_ptr.i32(), D.col.i32(), D.val.ptr<V>(), P,
                                          B, T, C);
        });
    }
    return tape.record("dosage_gather", out, {x}, [x, D, P, B, T, C](Tape& t, const Tensor& dout) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        if (dout.is_cuda()) {
            GPO_CUDA(cuda::dosage_gather_backward(dX->f32(), dout.f32(), D.row_ptr.i32(), D.col.i32(), D.val.f32(), P,
                                                  B, T, C));
        } else {
            dispatch_cpu(dout, "dosage_gather", [&](auto tag) {
                using V = decltype(tag);
                cpu::dosage_gather_backward<V>(dX->ptr<V>(), dout.ptr<V>(), D.row_ptr.i32(), D.col.i32(),
                                               D.val.ptr<V>(), P, B, T, C);
            });
        }
    });
}

// ---------------------------------------------------------------------------- grn_khop_rows
static void gather_rows_any(Tensor& out, const Tensor& A, const Tensor& rows, int64_t R, int64_t cols) {
    if (A.is_cuda()) {
        GPO_CUDA(cuda::gather_rows(out.f32(), A.f32(), rows.i32(), R, cols));
        return;
    }
    dispatch_cpu(A, "grn_khop_rows", [&](auto tag) {
        using V = decltype(tag);
        cpu::gather_rows<V>(out.ptr<V>(), A.ptr<V>(), rows.i32(), R, cols);
    });
}

static void scatter_add_rows_any(Tensor& dA, const Tensor& dR, const Tensor& rows, int64_t R, int64_t cols) {
    if (dA.is_cuda()) {
        GPO_CUDA(cuda::scatter_add_rows(dA.f32(), dR.f32(), rows.i32(), R, cols));
        return;
    }
    dispatch_cpu(dA, "grn_khop_rows", [&](auto tag) {
        using V = decltype(tag);
        cpu::scatter_add_rows<V>(dA.ptr<V>(), dR.ptr<V>(), rows.i32(), R, cols);
    });
}

Var grn_khop_rows(Tape& tape, Var a, const Tensor& rows, int hops) {
    const Tensor& A = tape.value(a);
    check_same_kind("grn_khop_rows", {&A});
    check_ndim("grn_khop_rows", "A", A, 2);
    const int64_t T = A.dim(0);
    GPO_CHECK(A.dim(1) == T, "op grn_khop_rows: A must be square, got " << A.describe());
    GPO_CHECK(hops >= 0, "op grn_khop_rows: hops must be >= 0, got " << hops);
    GPO_CHECK(rows.dtype == DType::I32 && rows.ndim() == 1 && rows.device == A.device,
              "op grn_khop_rows: rows must be i32 (R) on A's device, got " << rows.describe() << " with A "
                                                                           << A.describe());
    const int64_t R = rows.dim(0);
    if (!rows.is_cuda()) {  // on CUDA the indices stay on the device (no sync); callers build them on the CPU
        for (int64_t i = 0; i < R; ++i)
            GPO_CHECK(rows.i32()[i] >= 0 && rows.i32()[i] < T,
                      "op grn_khop_rows: rows[" << i << "] = " << rows.i32()[i] << " outside [0, " << T << ")");
    }
    // Rs ((K+1) R, T) stacks R_1 .. R_{K+1}: R_1 = A[rows, :], R_{k+1} = R_k A / T. Kept for backward.
    const int K = hops;
    const double invT = 1.0 / (double)T;
    Tensor Rs = Tensor::empty({(int64_t)(K + 1) * R, T}, A.dtype, A.device);
    Tensor R1 = Rs.view(0, {R, T});
    gather_rows_any(R1, A, rows, R, T);
    Tensor S = R1.clone();
    for (int k = 1; k <= K; ++k) {
        Tensor prev = Rs.view((int64_t)(k - 1) * R * T, {R, T});
        Tensor next = Rs.view((int64_t)k * R * T, {R, T});
        gemm(false, false, (int)R, (int)T, (int)T, invT, prev, A, 0.0, next);
        accumulate(S, next);
    }
    return tape.record("grn_khop_rows", S, {a}, [a, rows, Rs, K, R, T, invT](Tape& t, const Tensor& dS) {
        Tensor* dA = t.grad_target(a);
        if (!dA) return;
        const Tensor& A = t.value(a);
        // Gs ((K+1) R, T) stacks G_k = dL/dR_k: G_{K+1} = dS, G_k = dS + G_{k+1} A^T / T.
        Tensor Gs = Tensor::empty(Rs.shape, Rs.dtype, Rs.device);
        Gs.view((int64_t)K * R * T, {R, T}).copy_from(dS);
        for (int k = K; k >= 1; --k) {
            Tensor g = Gs.view((int64_t)(k - 1) * R * T, {R, T});
            g.copy_from(dS);
            gemm(false, true, (int)R, (int)T, (int)T, invT, Gs.view((int64_t)k * R * T, {R, T}), A, 1.0, g);
        }
        // dA += sum_{k=1..K} R_k^T G_{k+1} / T: one GEMM over the stacked (K R) inner dimension.
        if (K > 0 && R > 0)
            gemm(true, false, (int)T, (int)T, (int)(K * R), invT, Rs.view(0, {K * R, T}),
                     Gs.view(R * T, {K * R, T}), 1.0, *dA);
        // dA[rows, :] += G_1 (the gather that made R_1).
        scatter_add_rows_any(*dA, Gs.view(0, {R, T}), rows, R, T);
    });
}

// ---------------------------------------------------------------------------- l1_loss_mean
Var l1_loss_mean(Tape& tape, Var pred, const Tensor& target) {
    const Tensor& P = tape.value(pred);
    check_same_kind("l1_loss_mean", {&P, &target});
    check_shape("l1_loss_mean", "target", target, P.shape);
    const int64_t n = P.numel();
    GPO_CHECK(n > 0, "op l1_loss_mean: empty input " << P.describe());
    Tensor out = Tensor::empty({1}, P.dtype, P.device);
    if (P.is_cuda()) {
        GPO_CUDA(cuda::l1_loss_mean_forward(out.f32(), P.f32(), target.f32(), n));
    } else {
        dispatch_cpu(P, "l1_loss_mean", [&](auto tag) {
            using V = decltype(tag);
            out.ptr<V>()[0] = (V)(cpu::l1_sum<V>(P.ptr<V>(), target.ptr<V>(), n) / (double)n);
        });
    }
    return tape.record("l1_loss_mean", out, {pred}, [pred, target, n](Tape& t, const Tensor& dout) {
        Tensor* dP = t.grad_target(pred);
        if (!dP) return;
        const Tensor& P = t.value(pred);
        if (dout.is_cuda()) {
            GPO_CUDA(cuda::l1_loss_mean_backward(dP->f32(), dout.f32(), P.f32(), target.f32(), n));
        } else {
            dispatch_cpu(dout, "l1_loss_mean", [&](auto tag) {
                using V = decltype(tag);
                V scale = (V)((double)dout.ptr<V>()[0] / (double)n);
                cpu::l1_backward<V>(dP->ptr<V>(), P.ptr<V>(), target.ptr<V>(), scale, n);
            });
        }
    });
}

}  // namespace gpo::ops
