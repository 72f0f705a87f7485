// Tape ops for matmul, bias add and linear (kernels: kernels/cpu/linear.h, kernels/cuda/linear.cu).
#include "engine/ops/linear.h"

#include "engine/ops/dispatch.h"
#include "kernels/cpu/linear.h"
#include "kernels/cuda/linear.h"

namespace gpo::ops {

Var matmul(Tape& tape, Var a, Var b, bool trans_a, bool trans_b) {
    const Tensor& A = tape.value(a);
    const Tensor& B = tape.value(b);
    check_same_kind("matmul", {&A, &B});
    check_ndim("matmul", "A", A, 2);
    check_ndim("matmul", "B", B, 2);
    int64_t M = trans_a ? A.dim(1) : A.dim(0), K = trans_a ? A.dim(0) : A.dim(1);
    int64_t KB = trans_b ? B.dim(1) : B.dim(0), N = trans_b ? B.dim(0) : B.dim(1);
    GPO_CHECK(K == KB, "op matmul: inner sizes differ, op(A) is [" << M << ", " << K << "] and op(B) is [" << KB
                                                                   << ", " << N << "] (A " << shape_str(A.shape)
                                                                   << ", B " << shape_str(B.shape) << ")");
    Tensor C = Tensor::empty({M, N}, A.dtype, A.device);
    if (K == 0) C.zero_();
    else gemm(trans_a, trans_b, (int)M, (int)N, (int)K, 1.0, A, B, 0.0, C);

    return tape.record("matmul", C, {a, b}, [a, b, trans_a, trans_b, M, N, K](Tape& t, const Tensor& dC) {
        const Tensor& A = t.value(a);
        const Tensor& B = t.value(b);
        // beta 0 when the gradient was just allocated (uninitialised), 1 to accumulate into an existing one.
        bool fresh = false;
        if (Tensor* dA = t.grad_target(a, &fresh)) {
            // dop(A) = dC op(B)^T  (M, K); if A was transposed, dA = dop(A)^T = op(B) dC^T.
            if (!trans_a) gemm(false, !trans_b, (int)M, (int)K, (int)N, 1.0, dC, B, fresh ? 0.0 : 1.0, *dA);
            else gemm(trans_b, true, (int)K, (int)M, (int)N, 1.0, B, dC, fresh ? 0.0 : 1.0, *dA);
        }
        if (Tensor* dB = t.grad_target(b, &fresh)) {
            // dop(B) = op(A)^T dC  (K, N); if B was transposed, dB = dC^T op(A).
            if (!trans_b) gemm(!trans_a, false, (int)K, (int)N, (int)M, 1.0, A, dC, fresh ? 0.0 : 1.0, *dB);
            else gemm(true, trans_a, (int)N, (int)K, (int)M, 1.0, dC, A, fresh ? 0.0 : 1.0, *dB);
        }
    });
}

Var bias_add(Tape& tape, Var x, Var b) {
    const Tensor& X = tape.value(x);
    const Tensor& Bv = tape.value(b);
    check_same_kind("bias_add", {&X, &Bv});
    check_ndim("bias_add", "x", X, 2);
    check_shape("bias_add", "b", Bv, {X.dim(1)});
    int64_t rows = X.dim(0), cols = X.dim(1);
    Tensor Y = Tensor::empty(X.shape, X.dtype, X.device);
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::bias_add_forward(Y.f32(), X.f32(), Bv.f32(), rows, cols));
    } else {
        dispatch_cpu(Y, "bias_add", [&](auto tag) {
            using T = decltype(tag);
            cpu::bias_add_forward<T>(Y.ptr<T>(), X.ptr<T>(), Bv.ptr<T>(), rows, cols);
        });
    }
    return tape.record("bias_add", Y, {x, b}, [x, b, rows, cols](Tape& t, const Tensor& dY) {
        accumulate_grad(t, x, dY);
        if (Tensor* dB = t.grad_target(b)) {
            if (dY.is_cuda()) {
                GPO_CUDA(cuda::bias_add_backward(dB->f32(), dY.f32(), rows, cols));
            } else {
                dispatch_cpu(dY, "bias_add", [&](auto tag) {
                    using T = decltype(tag);
                    cpu::bias_add_backward<T>(dB->ptr<T>(), dY.ptr<T>(), rows, cols);
                });
            }
        }
    });
}

Var linear(Tape& tape, Var x, Var W, Var b) {
    Var y = matmul(tape, x, W, false, true);
    return b.valid() ? bias_add(tape, y, b) : y;
}

}  // namespace gpo::ops
