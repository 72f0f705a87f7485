// CPU reference fills of the counter-based RNG: plain loops over the per-element draws of kernels/philox.h (the same
// functions the CUDA kernels call). Element i of every fill uses counter index offset + i.
#pragma once
#include <cstdint>

#include "kernels/philox.h"

namespace gpo::cpu {

inline float rng_uniform_at(float, uint64_t seed, uint64_t stream, uint64_t index) {
    return philox::uniform_f32(seed, stream, index);
}
inline double rng_uniform_at(double, uint64_t seed, uint64_t stream, uint64_t index) {
    return philox::uniform_f64(seed, stream, index);
}
inline float rng_normal_at(float, uint64_t seed, uint64_t stream, uint64_t index) {
    return philox::normal_f32(seed, stream, index);
}
inline double rng_normal_at(double, uint64_t seed, uint64_t stream, uint64_t index) {
    return philox::normal_f64(seed, stream, index);
}

// out (n) = uniform draws in (0, 1).
template <class T>
void rng_uniform_fill(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    for (int64_t i = 0; i < n; ++i) out[i] = rng_uniform_at(T{}, seed, stream, offset + (uint64_t)i);
}

// out (n) = standard normal draws.
template <class T>
void rng_normal_fill(T* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    for (int64_t i = 0; i < n; ++i) out[i] = rng_normal_at(T{}, seed, stream, offset + (uint64_t)i);
}

// out (n) = Gamma(shape[i], rate[i]); shape, rate (n). Computed in double, rounded once to T.
template <class T>
void rng_gamma_fill(T* out, const T* shape, const T* rate, int64_t n, uint64_t seed, uint64_t stream,
                    uint64_t offset) {
    for (int64_t i = 0; i < n; ++i)
        out[i] = (T)philox::gamma_draw((double)shape[i], (double)rate[i], seed, stream, offset + (uint64_t)i);
}

// out (n) = Poisson(rate[i]) as floating values; rate (n).
template <class T>
void rng_poisson_fill(T* out, const T* rate, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    for (int64_t i = 0; i < n; ++i)
        out[i] = (T)philox::poisson_draw((double)rate[i], seed, stream, offset + (uint64_t)i);
}

// out (n) = a draw of the Gamma(shape[i], rate[i])-Poisson mixture (the negative binomial of philox.h's
// gamma_poisson_draw) as floating values; uses streams `stream` and `stream + 1`.
template <class T>
void rng_gamma_poisson_fill(T* out, const T* shape, const T* rate, int64_t n, uint64_t seed, uint64_t stream,
                            uint64_t offset) {
    for (int64_t i = 0; i < n; ++i)
        out[i] = (T)philox::gamma_poisson_draw((double)shape[i], (double)rate[i], seed, stream, offset + (uint64_t)i);
}

// Index of the first element with invalid parameters, or -1 (gamma: shape, rate > 0 finite; Poisson: rate >= 0
// finite).
template <class T>
int64_t rng_first_bad_gamma(const T* shape, const T* rate, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!philox::gamma_params_ok((double)shape[i], (double)rate[i])) return i;
    return -1;
}
template <class T>
int64_t rng_first_bad_poisson(const T* rate, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!philox::poisson_rate_ok((double)rate[i])) return i;
    return -1;
}

}  // namespace gpo::cpu
