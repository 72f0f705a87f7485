// Tape ops of the reduction family (kernels: kernels/cpu/reduce.h, kernels/cuda/reduce.cu). Every reduction
// views x as (outer, n, inner) around the reduced axis; "all elements" is outer = inner = 1. A result with no
// dims left is stored as shape {1}.
#include "engine/ops/reduce.h"

#include <vector>

#include "engine/ops/dispatch.h"
#include "engine/parallel.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.h"

namespace gpo::ops {

namespace {

struct AxisView {
    int64_t outer = 1, n = 1, inner = 1;
    Shape out_shape;  // x's shape without the axis ({1} when nothing is left)
};

AxisView view_axis(const char* op, const Tensor& X, int axis) {
    int nd = X.ndim();
    GPO_CHECK(nd >= 1, "op " << op << ": x must have at least 1 dim, got " << X.describe());
    GPO_CHECK(axis >= -nd && axis < nd, "op " << op << ": axis " << axis << " out of range for " << X.describe());
    if (axis < 0) axis += nd;
    AxisView v;
    for (int d = 0; d < nd; ++d) {
        if (d < axis) v.outer *= X.shape[d];
        else if (d > axis) v.inner *= X.shape[d];
        if (d != axis) v.out_shape.push_back(X.shape[d]);
    }
    v.n = X.shape[axis];
    if (v.out_shape.empty()) v.out_shape = {1};
    return v;
}

AxisView view_all(const Tensor& X) {
    AxisView v;
    v.n = X.numel();
    v.out_shape = {1};
    return v;
}

// y = scale * sum over the view's axis; backward dx += scale * dy broadcast back.
Var scaled_sum(Tape& tape, const char* op, Var x, const AxisView& v, double scale) {
    const Tensor& X = tape.value(x);
    Tensor Y = Tensor::empty(v.out_shape, X.dtype, X.device);
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::sum_axis_forward(Y.f32(), X.f32(), v.outer, v.n, v.inner, (float)scale));
    } else {
        dispatch_cpu(Y, op, [&](auto tag) {
            using T = decltype(tag);
            cpu::sum_axis_forward<T>(Y.ptr<T>(), X.ptr<T>(), v.outer, v.n, v.inner, scale);
        });
    }
    return tape.record(op, Y, {x}, [x, v, scale, op](Tape& t, const Tensor& dY) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        if (dY.is_cuda()) {
            GPO_CUDA(cuda::sum_axis_backward(dX->f32(), dY.f32(), v.outer, v.n, v.inner, (float)scale));
        } else {
            dispatch_cpu(dY, op, [&](auto tag) {
                using T = decltype(tag);
                cpu::sum_axis_backward<T>(dX->ptr<T>(), dY.ptr<T>(), v.outer, v.n, v.inner, scale);
            });
        }
    });
}

}  // namespace

Var sum(Tape& tape, Var x, int axis) {
    const Tensor& X = tape.value(x);
    check_same_kind("sum", {&X});
    return scaled_sum(tape, "sum", x, view_axis("sum", X, axis), 1.0);
}

Var mean(Tape& tape, Var x, int axis) {
    const Tensor& X = tape.value(x);
    check_same_kind("mean", {&X});
    AxisView v = view_axis("mean", X, axis);
    GPO_CHECK(v.n > 0, "op mean: axis " << axis << " of " << X.describe() << " is empty");
    return scaled_sum(tape, "mean", x, v, 1.0 / (double)v.n);
}

Var sum_all(Tape& tape, Var x) {
    const Tensor& X = tape.value(x);
    check_same_kind("sum_all", {&X});
    return scaled_sum(tape, "sum_all", x, view_all(X), 1.0);
}

Var mean_all(Tape& tape, Var x) {
    const Tensor& X = tape.value(x);
    check_same_kind("mean_all", {&X});
    GPO_CHECK(X.numel() > 0, "op mean_all: x is empty, " << X.describe());
    return scaled_sum(tape, "mean_all", x, view_all(X), 1.0 / (double)X.numel());
}

Var sigmoid_mean(Tape& tape, Var x) {
    const Tensor& X = tape.value(x);
    check_same_kind("sigmoid_mean", {&X});
    const int64_t n = X.numel();
    GPO_CHECK(n > 0, "op sigmoid_mean: x is empty, " << X.describe());
    constexpr int64_t kChunk = 1 << 20;  // fixed chunks: the sum does not depend on the thread count
    Tensor Y = Tensor::empty({1}, X.dtype, X.device);
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::sigmoid_mean_forward(Y.f32(), X.f32(), n));
    } else {
        dispatch_cpu(Y, "sigmoid_mean", [&](auto tag) {
            using T = decltype(tag);
            const T* xp = X.ptr<T>();
            std::vector<double> part((size_t)((n + kChunk - 1) / kChunk));
            parallel_ranges(n, kChunk, [&](int64_t lo, int64_t hi) {
                part[(size_t)(lo / kChunk)] = cpu::sigmoid_sum<T>(xp + lo, hi - lo);
            });
            double acc = 0;
            for (double p : part) acc += p;
            Y.ptr<T>()[0] = (T)(acc * (1.0 / (double)n));
        });
    }
    return tape.record("sigmoid_mean", Y, {x}, [x, n](Tape& t, const Tensor& dY) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        const Tensor& X = t.value(x);
        if (dY.is_cuda()) {
            GPO_CUDA(cuda::sigmoid_mean_backward(dX->f32(), dY.f32(), X.f32(), n));
        } else {
            dispatch_cpu(dY, "sigmoid_mean", [&](auto tag) {
                using T = decltype(tag);
                const T g = (T)((1.0 / (double)n) * (double)dY.ptr<T>()[0]);
                T* dx = dX->ptr<T>();
                const T* xp = X.ptr<T>();
                parallel_ranges(n, 1 << 16, [&](int64_t lo, int64_t hi) {
                    cpu::sigmoid_mean_backward<T>(dx + lo, xp + lo, hi - lo, g);
                });
            });
        }
    });
}

Var logsumexp(Tape& tape, Var x, int axis) {
    const Tensor& X = tape.value(x);
    check_same_kind("logsumexp", {&X});
    AxisView v = view_axis("logsumexp", X, axis);
    GPO_CHECK(v.n > 0, "op logsumexp: axis " << axis << " of " << X.describe() << " is empty");
    Tensor Y = Tensor::empty(v.out_shape, X.dtype, X.device);
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::logsumexp_forward(Y.f32(), X.f32(), v.outer, v.n, v.inner));
    } else {
        dispatch_cpu(Y, "logsumexp", [&](auto tag) {
            using T = decltype(tag);
            cpu::logsumexp_forward<T>(Y.ptr<T>(), X.ptr<T>(), v.outer, v.n, v.inner);
        });
    }
    return tape.record("logsumexp", Y, {x}, [x, Y, v](Tape& t, const Tensor& dY) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        const Tensor& X = t.value(x);
        if (dY.is_cuda()) {
            GPO_CUDA(cuda::logsumexp_backward(dX->f32(), dY.f32(), X.f32(), Y.f32(), v.outer, v.n, v.inner));
        } else {
            dispatch_cpu(dY, "logsumexp", [&](auto tag) {
                using T = decltype(tag);
                cpu::logsumexp_backward<T>(dX->ptr<T>(), dY.ptr<T>(), X.ptr<T>(), Y.ptr<T>(), v.outer, v.n,
                                           v.inner);
            });
        }
    });
}

}  // namespace gpo::ops
