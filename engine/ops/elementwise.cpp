// Tape ops of the element-wise family (kernels: kernels/cpu/elementwise.h, kernels/cuda/elementwise.cu):
// unary maps with torch's gradient conventions, add/sub/mul, broadcast_to, reshape, softmax_rows, concat_last,
// log_standardize.
#include "engine/ops/elementwise.h"

#include <cmath>
#include <vector>

#include "engine/ops/dispatch.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"

namespace gpo::ops {

// ---------------------------------------------------------------------------- unary maps
static Var unary(Tape& tape, const char* name, UnaryOp op, Var x, double a = 0, double b = 0, double c = 0) {
    const Tensor& X = tape.value(x);
    check_same_kind(name, {&X});
    Tensor Y = Tensor::empty(X.shape, X.dtype, X.device);
    int64_t n = X.numel();
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::unary_forward(op, Y.f32(), X.f32(), n, (float)a, (float)b, (float)c));
    } else {
        dispatch_cpu(Y, name, [&](auto tag) {
            using T = decltype(tag);
            T* y = Y.ptr<T>();
            const T* xp = X.ptr<T>();
            parallel_ranges(n, kElementGrain, [&](int64_t lo, int64_t hi) {
                cpu::unary_forward<T>(op, y + lo, xp + lo, hi - lo, (T)a, (T)b, (T)c);
            });
        });
    }
    return tape.record(name, Y, {x}, [x, Y, op, a, b, n, name](Tape& t, const Tensor& dY) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        const Tensor& X = t.value(x);
        if (dY.is_cuda()) {
            GPO_CUDA(cuda::unary_backward(op, dX->f32(), dY.f32(), X.f32(), Y.f32(), n, (float)a, (float)b));
        } else {
            dispatch_cpu(dY, name, [&](auto tag) {
                using T = decltype(tag);
                T* dx = dX->ptr<T>();
                const T *dy = dY.ptr<T>(), *xp = X.ptr<T>(), *y = Y.ptr<T>();
                parallel_ranges(n, kElementGrain, [&](int64_t lo, int64_t hi) {
                    cpu::unary_backward<T>(op, dx + lo, dy + lo, xp + lo, y + lo, hi - lo, (T)a, (T)b);
                });
            });
        }
    });
}

Var scale(Tape& tape, Var x, double s) { return unary(tape, "scale", UnaryOp::Scale, x, s); }
Var add_scalar(Tape& tape, Var x, double s) { return unary(tape, "add_scalar", UnaryOp::AddScalar, x, s); }
Var exp(Tape& tape, Var x) { return unary(tape, "exp", UnaryOp::Exp, x); }
Var log(Tape& tape, Var x) { return unary(tape, "log", UnaryOp::Log, x); }
Var sqrt(Tape& tape, Var x) { return unary(tape, "sqrt", UnaryOp::Sqrt, x); }
Var square(Tape& tape, Var x) { return unary(tape, "square", UnaryOp::Square, x); }
Var sigmoid(Tape& tape, Var x) { return unary(tape, "sigmoid", UnaryOp::Sigmoid, x); }
Var abs(Tape& tape, Var x) { return unary(tape, "abs", UnaryOp::Abs, x); }
Var leaky_relu(Tape& tape, Var x, double negative_slope) {
    return unary(tape, "leaky_relu", UnaryOp::LeakyRelu, x, negative_slope);
}
Var clamp(Tape& tape, Var x, double lo, double hi) {
    GPO_CHECK(lo <= hi, "op clamp: lo " << lo << " > hi " << hi << " for " << tape.value(x).describe());
    return unary(tape, "clamp", UnaryOp::Clamp, x, lo, hi);
}
// Whether every value of a CPU tensor is finite (one pass, chunks checked in parallel).
static bool all_finite_cpu(const Tensor& X) {
    bool ok = true;
    dispatch_cpu(X, "nan_to_num", [&](auto tag) {
        using T = decltype(tag);
        const T* p = X.ptr<T>();
        const int64_t n = X.numel(), grain = 1 << 18;
        std::vector<uint8_t> bad((size_t)((n + grain - 1) / grain), 0);
        parallel_ranges(n, grain, [&](int64_t lo, int64_t hi) {
            bool b = false;
            for (int64_t i = lo; i < hi; ++i) b |= !std::isfinite(p[i]);
            bad[(size_t)(lo / grain)] = b;
        });
        for (uint8_t b : bad) ok = ok && !b;
    });
    return ok;
}

Var nan_to_num(Tape& tape, Var x, double nan, double posinf, double neginf) {
    // On finite values nan_to_num is the identity with gradient 1: on the CPU such an x is passed through (no copy,
    // no gradient buffer; at T = 10,000 the mask logits' copy and its gradient are 800 MB). On a GPU the check
    // would cost a host sync, so the op always runs there.
    if (!tape.value(x).is_cuda() && all_finite_cpu(tape.value(x))) return x;
    return unary(tape, "nan_to_num", UnaryOp::NanToNum, x, nan, posinf, neginf);
}

// ---------------------------------------------------------------------------- binary maps
static Var binary(Tape& tape, const char* name, BinaryOp op, Var a, Var b) {
    const Tensor& A = tape.value(a);
    const Tensor& B = tape.value(b);
    check_same_kind(name, {&A, &B});
    check_shape(name, "b", B, A.shape);
    Tensor Y = Tensor::empty(A.shape, A.dtype, A.device);
    int64_t n = A.numel();
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::binary_forward(op, Y.f32(), A.f32(), B.f32(), n));
    } else {
        dispatch_cpu(Y, name, [&](auto tag) {
            using T = decltype(tag);
            T* y = Y.ptr<T>();
            const T *ap = A.ptr<T>(), *bp = B.ptr<T>();
            parallel_ranges(n, kElementGrain, [&](int64_t lo, int64_t hi) {
                cpu::binary_forward<T>(op, y + lo, ap + lo, bp + lo, hi - lo);
            });
        });
    }
    return tape.record(name, Y, {a, b}, [a, b, op, n, name](Tape& t, const Tensor& dY) {
        // d(a*b) needs the other operand; add/sub pass dY through (with sign -1 to b for sub).
        auto mul_grad = [&](Tensor& dst, const Tensor& other) {
            if (dY.is_cuda()) {
                GPO_CUDA(cuda::mul_backward(dst.f32(), dY.f32(), other.f32(), n));
            } else {
                dispatch_cpu(dY, name, [&](auto tag) {
                    using T = decltype(tag);
                    T* d = dst.ptr<T>();
                    const T *dy = dY.ptr<T>(), *o = other.ptr<T>();
                    parallel_ranges(n, kElementGrain, [&](int64_t lo, int64_t hi) {
                        cpu::mul_backward<T>(d + lo, dy + lo, o + lo, hi - lo);
                    });
                });
            }
        };
        if (op != BinaryOp::Mul) {
            accumulate_grad(t, a, dY);
            accumulate_grad(t, b, dY, op == BinaryOp::Sub ? -1.0 : 1.0);
            return;
        }
        if (Tensor* dA = t.grad_target(a)) mul_grad(*dA, t.value(b));
        if (Tensor* dB = t.grad_target(b)) mul_grad(*dB, t.value(a));
    });
}

Var add(Tape& tape, Var a, Var b) { return binary(tape, "add", BinaryOp::Add, a, b); }
Var sub(Tape& tape, Var a, Var b) { return binary(tape, "sub", BinaryOp::Sub, a, b); }
Var mul(Tape& tape, Var a, Var b) { return binary(tape, "mul", BinaryOp::Mul, a, b); }

// ---------------------------------------------------------------------------- shapes
Var broadcast_to(Tape& tape, Var x, const Shape& shape) {
    const Tensor& X = tape.value(x);
    check_same_kind("broadcast_to", {&X});
    GPO_CHECK(X.ndim() == (int)shape.size() && X.ndim() >= 1 && X.ndim() <= 4,
              "op broadcast_to: x " << shape_str(X.shape) << " and target " << shape_str(shape)
                                    << " must have the same number of dims, 1 to 4");
    int64_t in[4] = {1, 1, 1, 1}, out[4] = {1, 1, 1, 1};
    int pad = 4 - X.ndim();
    for (int d = 0; d < X.ndim(); ++d) {
        GPO_CHECK(X.shape[d] == shape[d] || X.shape[d] == 1,
                  "op broadcast_to: cannot broadcast " << shape_str(X.shape) << " to " << shape_str(shape)
                                                       << " (dim " << d << ")");
        in[pad + d] = X.shape[d];
        out[pad + d] = shape[d];
    }
    Tensor Y = Tensor::empty(shape, X.dtype, X.device);
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::broadcast_forward(Y.f32(), X.f32(), in, out));
    } else {
        dispatch_cpu(Y, "broadcast_to", [&](auto tag) {
            using T = decltype(tag);
            cpu::broadcast_forward<T>(Y.ptr<T>(), X.ptr<T>(), in, out);
        });
    }
    std::vector<int64_t> in_v(in, in + 4), out_v(out, out + 4);  // closures copy arrays as vectors
    return tape.record("broadcast_to", Y, {x}, [x, in_v, out_v](Tape& t, const Tensor& dY) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        if (dY.is_cuda()) {
            GPO_CUDA(cuda::broadcast_backward(dX->f32(), dY.f32(), in_v.data(), out_v.data()));
        } else {
            dispatch_cpu(dY, "broadcast_to", [&](auto tag) {
                using T = decltype(tag);
                cpu::broadcast_backward<T>(dX->ptr<T>(), dY.ptr<T>(), in_v.data(), out_v.data());
            });
        }
    });
}

Var reshape(Tape& tape, Var x, const Shape& shape) {
    const Tensor& X = tape.value(x);
    GPO_CHECK(shape_numel(shape) == X.numel(),
              "op reshape: cannot reshape " << shape_str(X.shape) << " to " << shape_str(shape) << " (sizes differ)");
    Tensor Y = X.reshape(shape);  // a view of the same storage
    Shape in_shape = X.shape;
    return tape.record("reshape", Y, {x}, [x, in_shape](Tape& t, const Tensor& dY) {
        accumulate_grad(t, x, dY.reshape(in_shape));
    });
}

// ---------------------------------------------------------------------------- softmax, concat
Var softmax_rows(Tape& tape, Var x) {
    const Tensor& X = tape.value(x);
    check_same_kind("softmax_rows", {&X});
    GPO_CHECK(X.ndim() >= 1, "op softmax_rows: x must have at least 1 dim, got " << X.describe());
    int64_t C = X.dim(-1), rows = C == 0 ? 0 : X.numel() / C;
    Tensor Y = Tensor::empty(X.shape, X.dtype, X.device);
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::softmax_rows_forward(Y.f32(), X.f32(), rows, C));
    } else {
        dispatch_cpu(Y, "softmax_rows", [&](auto tag) {
            using T = decltype(tag);
            T* y = Y.ptr<T>();
            const T* xp = X.ptr<T>();
            // Rows are independent: whole rows per range, the same values for any thread count.
            parallel_ranges(rows, std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, C)),
                            [&](int64_t r0, int64_t r1) {
                                cpu::softmax_rows_forward<T>(y + r0 * C, xp + r0 * C, r1 - r0, C);
                            });
        });
    }
    return tape.record("softmax_rows", Y, {x}, [x, Y, rows, C](Tape& t, const Tensor& dY) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        if (dY.is_cuda()) {
            GPO_CUDA(cuda::softmax_rows_backward(dX->f32(), dY.f32(), Y.f32(), rows, C));
        } else {
            dispatch_cpu(dY, "softmax_rows", [&](auto tag) {
                using T = decltype(tag);
                cpu::softmax_rows_backward<T>(dX->ptr<T>(), dY.ptr<T>(), Y.ptr<T>(), rows, C);
            });
        }
    });
}

Var concat_last(Tape& tape, const std::vector<Var>& parts) {
    GPO_CHECK(!parts.empty(), "op concat_last: no parts");
    const Tensor& P0 = tape.value(parts[0]);
    GPO_CHECK(P0.ndim() >= 1, "op concat_last: part 0 must have at least 1 dim, got " << P0.describe());
    Shape lead(P0.shape.begin(), P0.shape.end() - 1);
    int64_t rows = shape_numel(lead), C_total = 0;
    std::vector<int64_t> widths;
    for (size_t i = 0; i < parts.size(); ++i) {
        const Tensor& P = tape.value(parts[i]);
        check_same_kind("concat_last", {&P0, &P});
        Shape lead_i = P.ndim() >= 1 ? Shape(P.shape.begin(), P.shape.end() - 1) : Shape{};
        GPO_CHECK(P.ndim() >= 1 && lead_i == lead, "op concat_last: part " << i << " is " << shape_str(P.shape)
                                                                           << ", part 0 is " << shape_str(P0.shape)
                                                                           << " (leading dims must match)");
        widths.push_back(P.dim(-1));
        C_total += P.dim(-1);
    }
    Shape out_shape = lead;
    out_shape.push_back(C_total);
    Tensor Y = Tensor::empty(out_shape, P0.dtype, P0.device);
    int64_t off = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
        const Tensor& P = tape.value(parts[i]);
        if (Y.is_cuda()) {
            GPO_CUDA(cuda::concat_part_forward(Y.f32(), P.f32(), rows, widths[i], C_total, off));
        } else {
            dispatch_cpu(Y, "concat_last", [&](auto tag) {
                using T = decltype(tag);
                cpu::concat_part_forward<T>(Y.ptr<T>(), P.ptr<T>(), rows, widths[i], C_total, off);
            });
        }
        off += widths[i];
    }
    return tape.record("concat_last", Y, parts, [parts, widths, rows, C_total](Tape& t, const Tensor& dY) {
        int64_t off = 0;
        for (size_t i = 0; i < parts.size(); ++i) {
            if (Tensor* dP = t.grad_target(parts[i])) {
                if (dY.is_cuda()) {
                    GPO_CUDA(cuda::concat_part_backward(dP->f32(), dY.f32(), rows, widths[i], C_total, off));
                } else {
                    dispatch_cpu(dY, "concat_last", [&](auto tag) {
                        using T = decltype(tag);
                        cpu::concat_part_backward<T>(dP->ptr<T>(), dY.ptr<T>(), rows, widths[i], C_total, off);
                    });
                }
            }
            off += widths[i];
        }
    });
}

// ---------------------------------------------------------------------------- log-standardise
Var log_standardize(Tape& tape, Var x, const Tensor& mean, const Tensor& std) {
    const Tensor& X = tape.value(x);
    check_same_kind("log_standardize", {&X, &mean, &std});
    GPO_CHECK(X.ndim() >= 1, "op log_standardize: x must have at least 1 dim, got " << X.describe());
    int64_t C = X.dim(-1), rows = C == 0 ? 0 : X.numel() / C;
    check_shape("log_standardize", "mean", mean, {C});
    check_shape("log_standardize", "std", std, {C});
    Tensor Y = Tensor::empty(X.shape, X.dtype, X.device);
    if (Y.is_cuda()) {
        GPO_CUDA(cuda::log_standardize_forward(Y.f32(), X.f32(), mean.f32(), std.f32(), rows, C));
    } else {
        dispatch_cpu(Y, "log_standardize", [&](auto tag) {
            using T = decltype(tag);
            cpu::log_standardize_forward<T>(Y.ptr<T>(), X.ptr<T>(), mean.ptr<T>(), std.ptr<T>(), rows, C);
        });
    }
    return tape.record("log_standardize", Y, {x}, [x, mean, std, rows, C](Tape& t, const Tensor& dY) {
        Tensor* dX = t.grad_target(x);
        if (!dX) return;
        const Tensor& X = t.value(x);
        if (dY.is_cuda()) {
            GPO_CUDA(cuda::log_standardize_backward(dX->f32(), dY.f32(), X.f32(), mean.f32(), std.f32(), rows, C));
        } else {
            dispatch_cpu(dY, "log_standardize", [&](auto tag) {
                using T = decltype(tag);
                cpu::log_standardize_backward<T>(dX->ptr<T>(), dY.ptr<T>(), X.ptr<T>(), mean.ptr<T>(), std.ptr<T>(),
                                                 rows, C);
            });
        }
    });
}

}  // namespace gpo::ops
