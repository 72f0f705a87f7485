// Helpers every op file uses: argument checks that name the op and the shapes, dispatch of CPU kernels on
// float/double, and GPO_CUDA(...) which calls a CUDA launcher (or throws in a build without CUDA).
#pragma once
#include <initializer_list>

#include "engine/check.h"
#include "engine/parallel.h"
#include "engine/tape.h"

#ifdef GPO_WITH_CUDA
#define GPO_CUDA(expr) expr
#else
#define GPO_CUDA(expr) GPO_FAIL("a CUDA tensor reached an op but this build has no CUDA")
#endif

namespace gpo::ops {

// Calls f(T{}) with T = float or double by the CPU tensor's dtype: `dispatch_cpu(x, "op", [&](auto tag) { using T
// = decltype(tag); ... })`.
template <class F>
void dispatch_cpu(const Tensor& t, const char* op, F&& f) {
    if (t.dtype == DType::F32) f(float{});
    else if (t.dtype == DType::F64) f(double{});
    else GPO_FAIL("op " << op << ": expected a floating tensor, got " << t.describe());
}

// All tensors on one device with one floating dtype (f32 on CUDA).
inline void check_same_kind(const char* op, std::initializer_list<const Tensor*> ts) {
    const Tensor* first = *ts.begin();
    for (const Tensor* t : ts) {
        GPO_CHECK(t->device == first->device, "op " << op << ": device mismatch, " << first->describe() << " vs "
                                                    << t->describe());
        GPO_CHECK(t->dtype == first->dtype, "op " << op << ": dtype mismatch, " << first->describe() << " vs "
                                                  << t->describe());
    }
    GPO_CHECK(first->dtype == DType::F32 || first->dtype == DType::F64,
              "op " << op << ": expected f32 or f64, got " << first->describe());
    GPO_CHECK(!(first->device == Device::CUDA && first->dtype != DType::F32),
              "op " << op << ": CUDA kernels are f32 only, got " << first->describe());
}

inline void check_shape(const char* op, const char* what, const Tensor& t, const Shape& expected) {
    GPO_CHECK(t.shape == expected, "op " << op << ": " << what << " is " << shape_str(t.shape) << ", expected "
                                         << shape_str(expected));
}

inline void check_ndim(const char* op, const char* what, const Tensor& t, int nd) {
    GPO_CHECK(t.ndim() == nd, "op " << op << ": " << what << " must have " << nd << " dims, got " << t.describe());
}

// Chunk size of the element-wise CPU loops run on the engine's threads (engine/parallel.h): 16 K elements, tens of
// microseconds of work, well above the cost of waking a thread; fixed, so results never depend on the thread count.
constexpr int64_t kElementGrain = 16384;

// Floating-point operations (2 M N K) of every gemm() call so far in this process, for benchmarks' FLOP/s.
double gemm_flops_total();

// C (M, N) = alpha op(A) op(B) + beta C on whichever device the tensors live (CBLAS or cuBLAS), row-major.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, double alpha, const Tensor& A, const Tensor& B,
          double beta, Tensor& C);

// out += a * x (same shape, device, dtype): the gradient accumulation every backward uses.
void accumulate(Tensor& out, const Tensor& x, double a = 1.0);
// The gradient of v += a * g (same shape), copying instead of adding when v has no gradient yet; nothing when v
// needs none. The backward of add, sub, bias_add and reshape.
void accumulate_grad(Tape& tape, Var v, const Tensor& g, double a = 1.0);

}  // namespace gpo::ops
