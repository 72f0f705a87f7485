// CPU reference for the optimizer: one Adam step over flat buffers (torch.optim.Adam, coupled weight decay), the
// sum of squares (double accumulation) for the global gradient norm, and in-place scaling for clipping.
#pragma once
#include <cmath>
#include <cstdint>

namespace gpo::cpu {

// p, m, v, g (n). As torch's single-tensor Adam: g' = g + wd p; m = lerp(m, g', 1 - b1); v = b2 v + (1 - b2) g'^2;
// p -= step_size * m / (sqrt(v) / bc2_sqrt + eps), with step_size = lr / (1 - b1^t), bc2_sqrt = sqrt(1 - b2^t).
// g is not modified.
template <class T>
void adam_step(T* p, T* m, T* v, const T* g, int64_t n, T step_size, T b1, T b2, T eps, T wd, T bc2_sqrt) {
    for (int64_t i = 0; i < n; ++i) {
        T gi = g[i] + wd * p[i];
        m[i] += (T(1) - b1) * (gi - m[i]);
        v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
        T denom = std::sqrt(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * m[i] / denom;
    }
}

// Returns sum x^2 over n elements, accumulated in double: 8 running partial sums (element i goes to sum i mod 8;
// the tail after the last full group of 8 is added last), then added in order. The order is fixed, so the result
// does not depend on the machine or the thread count, and the compiler can keep the 8 sums in vector registers.
template <class T>
double sum_squares(const T* x, int64_t n) {
    constexpr int kLanes = 8;
    double lane[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int k = 0; k < kLanes; ++k) lane[k] += (double)x[i + k] * (double)x[i + k];
    double s = 0;
    for (int k = 0; k < kLanes; ++k) s += lane[k];
    for (; i < n; ++i) s += (double)x[i] * (double)x[i];
    return s;
}

// x (n) *= s
template <class T>
void scale(T* x, T s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace gpo::cpu
