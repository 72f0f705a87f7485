// CPU reference for the reduction family: (scaled) sum over one axis of x viewed as (outer, n, inner), which
// covers sum/mean over an axis and over all elements (outer = inner = 1), and a max-shifted logsumexp.
// Plain loops templated on float/double, double accumulators; backward functions accumulate (+=).
#pragma once
#include <cmath>
#include <cstdint>

namespace gpo::cpu {

// y (outer, inner) = scale * sum_k x (outer, n, inner)[:, k, :]   (scale = 1 for sum, 1/n for mean)
template <class T>
void sum_axis_forward(T* y, const T* x, int64_t outer, int64_t n, int64_t inner, double scale) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            double acc = 0;
            for (int64_t k = 0; k < n; ++k) acc += (double)x[(o * n + k) * inner + i];
            y[o * inner + i] = (T)(acc * scale);
        }
}

// dx (outer, n, inner) += scale * dy (outer, inner) broadcast over the axis.
template <class T>
void sum_axis_backward(T* dx, const T* dy, int64_t outer, int64_t n, int64_t inner, double scale) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < n; ++k)
            for (int64_t i = 0; i < inner; ++i) dx[(o * n + k) * inner + i] += (T)(scale * (double)dy[o * inner + i]);
}

// The GPO-VAE mask sparsity term, fused (docs/model.md §4.5): sum over x[0, n) of sigmoid(x) (the stable form of
// UnaryOp::Sigmoid, evaluated in T and added in double, in order). The op sums fixed chunks of these and adds the
// chunk sums in order.
template <class T>
double sigmoid_sum(const T* x, int64_t n) {
    double acc = 0;
    for (int64_t i = 0; i < n; ++i) {
        const T v = x[i];
        const T s = v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
        acc += (double)s;
    }
    return acc;
}

// dx[0, n) += g * s * (1 - s), s = sigmoid(x), g = d loss / d mean times 1 / numel (in T, as the unfused
// sigmoid-then-mean backward computes it).
template <class T>
void sigmoid_mean_backward(T* dx, const T* x, int64_t n, T g) {
    for (int64_t i = 0; i < n; ++i) {
        const T v = x[i];
        const T s = v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
        dx[i] += g * s * (T(1) - s);
    }
}

// y (outer, inner) = m + log sum_k exp(x[:, k, :] - m), m = max_k x (shift 0 when m is not finite, so an all -inf
// slice gives -inf and a +inf entry gives +inf, as torch). x is (outer, n, inner), n >= 1.
template <class T>
void logsumexp_forward(T* y, const T* x, int64_t outer, int64_t n, int64_t inner) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            double m = -INFINITY;
            for (int64_t k = 0; k < n; ++k) m = std::fmax(m, (double)x[(o * n + k) * inner + i]);
            double shift = std::isfinite(m) ? m : 0.0;
            double s = 0;
            for (int64_t k = 0; k < n; ++k) s += std::exp((double)x[(o * n + k) * inner + i] - shift);
            y[o * inner + i] = (T)(shift + std::log(s));
        }
}

// dx (outer, n, inner) += dy (outer, inner) * exp(x - y): the softmax along the axis times the upstream gradient.
template <class T>
void logsumexp_backward(T* dx, const T* dy, const T* x, const T* y, int64_t outer, int64_t n, int64_t inner) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < n; ++k)
            for (int64_t i = 0; i < inner; ++i) {
                int64_t j = (o * n + k) * inner + i;
                dx[j] += (T)((double)dy[o * inner + i] * std::exp((double)x[j] - (double)y[o * inner + i]));
            }
}

}  // namespace gpo::cpu
