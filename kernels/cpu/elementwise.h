// CPU reference for the element-wise family: unary maps with their derivatives, binary add/sub/mul, broadcast
// (up to 4 dims) and its summing backward, row softmax, last-dim concatenation, log-standardise.
// Plain loops templated on float/double; backward functions accumulate (+=) into gradients.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace gpo {

// The unary maps (shared by the CPU and CUDA paths). Parameters a, b, c per op:
//   Scale: y = a x          AddScalar: y = x + a        LeakyRelu: a = negative slope
//   Clamp: [a, b]           NanToNum: NaN -> a, +inf -> b, -inf -> c
enum class UnaryOp { Scale, AddScalar, Exp, Log, Sqrt, Square, Sigmoid, Abs, LeakyRelu, Clamp, NanToNum };
enum class BinaryOp { Add, Sub, Mul };

}  // namespace gpo

namespace gpo::cpu {

// y = f(x) for one element.
template <class T>
inline T unary_value(UnaryOp op, T x, T a, T b, T c) {
    switch (op) {
        case UnaryOp::Scale: return a * x;
        case UnaryOp::AddScalar: return x + a;
        case UnaryOp::Exp: return std::exp(x);
        case UnaryOp::Log: return std::log(x);
        case UnaryOp::Sqrt: return std::sqrt(x);
        case UnaryOp::Square: return x * x;
        case UnaryOp::Sigmoid:  // stable on both sides
            return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
        case UnaryOp::Abs: return std::fabs(x);
        case UnaryOp::LeakyRelu: {  // both sides computed, then selected: the loop vectorises (no branch)
            T ax = a * x;
            return x > 0 ? x : ax;
        }
        case UnaryOp::Clamp: return x < a ? a : (x > b ? b : x);  // NaN stays NaN (torch.clamp)
        case UnaryOp::NanToNum:
            if (std::isnan(x)) return a;
            if (std::isinf(x)) return x > 0 ? b : c;
            return x;
    }
    return x;
}

// dx += dy * f'(x) for one element; y = f(x) is passed for ops whose derivative is cheaper from it.
// Masking ops (clamp, nan_to_num) select dy or 0, as torch does.
template <class T>
inline T unary_grad(UnaryOp op, T dy, T x, T y, T a, T b) {
    switch (op) {
        case UnaryOp::Scale: return a * dy;
        case UnaryOp::AddScalar: return dy;
        case UnaryOp::Exp: return dy * y;
        case UnaryOp::Log: return dy / x;
        case UnaryOp::Sqrt: return dy * T(0.5) / y;  // 0.5 / sqrt(x)
        case UnaryOp::Square: return dy * T(2) * x;
        case UnaryOp::Sigmoid: return dy * y * (T(1) - y);
        case UnaryOp::Abs: return x > 0 ? dy : (x < 0 ? -dy : T(0));
        case UnaryOp::LeakyRelu: {
            T ady = a * dy;
            return x > 0 ? dy : ady;
        }
        case UnaryOp::Clamp: return (x >= a && x <= b) ? dy : T(0);
        case UnaryOp::NanToNum: return std::isfinite(x) ? dy : T(0);
    }
    return dy;
}

// Calls f(std::integral_constant<UnaryOp, op>{}): the loops below then see the op as a compile-time constant, the
// switch in unary_value/unary_grad folds away and the compiler vectorises the loop (one op per loop, not a branch
// per element).
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
    switch (op) {
#define GPO_UNARY_CASE(NAME) \
    case UnaryOp::NAME: f(std::integral_constant<UnaryOp, UnaryOp::NAME>{}); return;
        GPO_UNARY_CASE(Scale) GPO_UNARY_CASE(AddScalar) GPO_UNARY_CASE(Exp) GPO_UNARY_CASE(Log)
        GPO_UNARY_CASE(Sqrt) GPO_UNARY_CASE(Square) GPO_UNARY_CASE(Sigmoid) GPO_UNARY_CASE(Abs)
        GPO_UNARY_CASE(LeakyRelu) GPO_UNARY_CASE(Clamp) GPO_UNARY_CASE(NanToNum)
#undef GPO_UNARY_CASE
    }
}

// One op's loops. The parameters arrive by value, so the compiler knows no store to y or dx changes them.
template <UnaryOp OP, class T>
void unary_forward_loop(T* y, const T* x, int64_t n, T a, T b, T c) {
    for (int64_t i = 0; i < n; ++i) y[i] = unary_value(OP, x[i], a, b, c);
}

template <UnaryOp OP, class T>
void unary_backward_loop(T* dx, const T* dy, const T* x, const T* y, int64_t n, T a, T b) {
    for (int64_t i = 0; i < n; ++i) dx[i] += unary_grad(OP, dy[i], x[i], y[i], a, b);
}

// y (n) = f(x) (n)
template <class T>
void unary_forward(UnaryOp op, T* y, const T* x, int64_t n, T a, T b, T c) {
    with_unary_op(op, [=](auto k) { unary_forward_loop<decltype(k)::value>(y, x, n, a, b, c); });
}

// dx (n) += dy (n) * f'(x) (n), with y (n) the forward output.
template <class T>
void unary_backward(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, int64_t n, T a, T b) {
    with_unary_op(op, [=](auto k) { unary_backward_loop<decltype(k)::value>(dx, dy, x, y, n, a, b); });
}

// y (n) = a (n) op b (n)
template <class T>
void binary_forward(BinaryOp op, T* y, const T* a, const T* b, int64_t n) {
    if (op == BinaryOp::Add)
        for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
    else if (op == BinaryOp::Sub)
        for (int64_t i = 0; i < n; ++i) y[i] = a[i] - b[i];
    else
        for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

// Backward of y = a * b for one side: da (n) += dy (n) * other (n). (add/sub use a plain accumulate.)
template <class T>
void mul_backward(T* da, const T* dy, const T* other, int64_t n) {
    for (int64_t i = 0; i < n; ++i) da[i] += dy[i] * other[i];
}

// Broadcast, shapes padded to 4 dims: x (in[0..3]) -> y (out[0..3]), each in[d] is 1 or out[d].
template <class T>
void broadcast_forward(T* y, const T* x, const int64_t in[4], const int64_t out[4]) {
    int64_t o = 0;
    for (int64_t i0 = 0; i0 < out[0]; ++i0)
        for (int64_t i1 = 0; i1 < out[1]; ++i1)
            for (int64_t i2 = 0; i2 < out[2]; ++i2)
                for (int64_t i3 = 0; i3 < out[3]; ++i3) {
                    int64_t j0 = in[0] == 1 ? 0 : i0, j1 = in[1] == 1 ? 0 : i1;
                    int64_t j2 = in[2] == 1 ? 0 : i2, j3 = in[3] == 1 ? 0 : i3;
                    y[o++] = x[((j0 * in[1] + j1) * in[2] + j2) * in[3] + j3];
                }
}

// dx (in) += dy (out) summed over the broadcast dims (in double: one input element may collect millions of terms).
template <class T>
void broadcast_backward(T* dx, const T* dy, const int64_t in[4], const int64_t out[4]) {
    std::vector<double> acc((size_t)(in[0] * in[1] * in[2] * in[3]), 0.0);
    int64_t o = 0;
    for (int64_t i0 = 0; i0 < out[0]; ++i0)
        for (int64_t i1 = 0; i1 < out[1]; ++i1)
            for (int64_t i2 = 0; i2 < out[2]; ++i2)
                for (int64_t i3 = 0; i3 < out[3]; ++i3) {
                    int64_t j0 = in[0] == 1 ? 0 : i0, j1 = in[1] == 1 ? 0 : i1;
                    int64_t j2 = in[2] == 1 ? 0 : i2, j3 = in[3] == 1 ? 0 : i3;
                    acc[((j0 * in[1] + j1) * in[2] + j2) * in[3] + j3] += (double)dy[o++];
                }
    for (size_t i = 0; i < acc.size(); ++i) dx[i] += (T)acc[i];
}

// y (rows, C) = softmax of each row of x (rows, C), max-shifted; sums in double (each exponential computed once,
// kept in a row buffer).
template <class T>
void softmax_rows_forward(T* y, const T* x, int64_t rows, int64_t C) {
    std::vector<double> e((size_t)C);
    for (int64_t r = 0; r < rows; ++r) {
        const T* xr = x + r * C;
        T* yr = y + r * C;
        T m = xr[0];
        for (int64_t c = 1; c < C; ++c) m = xr[c] > m ? xr[c] : m;
        double s = 0;
        for (int64_t c = 0; c < C; ++c) s += (e[c] = std::exp((double)xr[c] - (double)m));
        for (int64_t c = 0; c < C; ++c) yr[c] = (T)(e[c] / s);
    }
}

// dx (rows, C) += y * (dy - sum_c dy * y) per row; y (rows, C) is the forward output.
template <class T>
void softmax_rows_backward(T* dx, const T* dy, const T* y, int64_t rows, int64_t C) {
    for (int64_t r = 0; r < rows; ++r) {
        double dot = 0;
        for (int64_t c = 0; c < C; ++c) dot += (double)dy[r * C + c] * (double)y[r * C + c];
        for (int64_t c = 0; c < C; ++c) dx[r * C + c] += (T)((double)y[r * C + c] * ((double)dy[r * C + c] - dot));
    }
}

// y (rows, C_total)[:, off:off+C] = x (rows, C)   (one part of a last-dim concatenation)
template <class T>
void concat_part_forward(T* y, const T* x, int64_t rows, int64_t C, int64_t C_total, int64_t off) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < C; ++c) y[r * C_total + off + c] = x[r * C + c];
}

// dx (rows, C) += dy (rows, C_total)[:, off:off+C]
template <class T>
void concat_part_backward(T* dx, const T* dy, int64_t rows, int64_t C, int64_t C_total, int64_t off) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < C; ++c) dx[r * C + c] += dy[r * C_total + off + c];
}

// z = (log(x + 1) - mean_c) / std_c for x (rows, C), mean (C), std (C): the value before nan_to_num.
template <class T>
T log_standardize_raw(T x, T mean, T std) {
    return (std::log(x + T(1)) - mean) / std;
}

// y (rows, C) = nan_to_num(z, nan = 1e-6, posinf = 1e6, neginf = 1e-6) with z as above.
template <class T>
void log_standardize_forward(T* y, const T* x, const T* mean, const T* std, int64_t rows, int64_t C) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < C; ++c) {
            T z = log_standardize_raw(x[r * C + c], mean[c], std[c]);
            if (std::isnan(z)) z = T(1e-6);
            else if (std::isinf(z)) z = z > 0 ? T(1e6) : T(1e-6);
            y[r * C + c] = z;
        }
}

// dx (rows, C) += dy / ((x + 1) std_c) where z was finite, else 0.
template <class T>
void log_standardize_backward(T* dx, const T* dy, const T* x, const T* mean, const T* std, int64_t rows,
                              int64_t C) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < C; ++c) {
            int64_t i = r * C + c;
            T z = log_standardize_raw(x[i], mean[c], std[c]);
            if (std::isfinite(z)) dx[i] += dy[i] / ((x[i] + T(1)) * std[c]);
        }
}

}  // namespace gpo::cpu
