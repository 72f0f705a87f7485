// CPU reference: the smallest building blocks (axpy accumulation, fill). Templated on float/double.
#pragma once
#include <cstdint>

namespace gpo::cpu {

// y (n) += a * x (n)
template <class T>
void axpy(T* y, const T* x, T a, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

template <class T>
void fill(T* y, T v, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = v;
}

}  // namespace gpo::cpu
