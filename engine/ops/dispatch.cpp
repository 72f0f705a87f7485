// Shared op helpers (see dispatch.h).
#include "engine/ops/dispatch.h"

#include "kernels/cpu/basic.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/optim.h"
#include "kernels/cuda/basic.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/optim.h"

namespace gpo::ops {

void accumulate(Tensor& out, const Tensor& x, double a) {
    check_same_kind("accumulate", {&out, &x});
    check_shape("accumulate", "x", x, out.shape);
    if (out.is_cuda()) {
        GPO_CUDA(cuda::axpy(out.f32(), x.f32(), (float)a, out.numel()));
        return;
    }
    dispatch_cpu(out, "accumulate", [&](auto tag) {
        using T = decltype(tag);
        T* y = out.ptr<T>();
        const T* xp = x.ptr<T>();
        parallel_ranges(out.numel(), kElementGrain,
                        [&](int64_t lo, int64_t hi) { cpu::axpy<T>(y + lo, xp + lo, (T)a, hi - lo); });
    });
}

void accumulate_grad(Tape& tape, Var v, const Tensor& g, double a) {
    bool fresh = false;
    Tensor* dv = tape.grad_target(v, &fresh);
    if (!dv) return;
    if (!fresh) {
        accumulate(*dv, g, a);
        return;
    }
    check_shape("accumulate_grad", "g", g, dv->shape);
    dv->copy_from(g);
    if (a != 1.0) {
        if (dv->is_cuda()) {
            GPO_CUDA(cuda::scale(dv->f32(), (float)a, dv->numel()));
        } else {
            dispatch_cpu(*dv, "accumulate_grad", [&](auto tag) {
                using T = decltype(tag);
                cpu::scale<T>(dv->ptr<T>(), (T)a, dv->numel());
            });
        }
    }
}

namespace {
double g_gemm_flops = 0;  // a plain double: GEMMs are issued from one thread
}  // namespace

double gemm_flops_total() { return g_gemm_flops; }

void gemm(bool ta, bool tb, int M, int N, int K, double alpha, const Tensor& A, const Tensor& B, double beta,
          Tensor& C) {
    g_gemm_flops += 2.0 * M * N * K;
    if (C.is_cuda()) {
        GPO_CUDA(cuda::gemm(ta, tb, M, N, K, (float)alpha, A.f32(), B.f32(), (float)beta, C.f32()));
        return;
    }
    dispatch_cpu(C, "gemm", [&](auto tag) {
        using T = decltype(tag);
        cpu::gemm(ta, tb, M, N, K, (T)alpha, A.ptr<T>(), B.ptr<T>(), (T)beta, C.ptr<T>());
    });
}

}  // namespace gpo::ops
