// CPU reference fills of the counter-based RNG: plain loops over the per-element draws of kernels/philox.h (the same
// functions the CUDA kernels call). Element i of every fill uses counter index offset + i.
#pragma once
#include <cstdint>

#include "kernels/cpu/nb.h"
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

// Counts of the likelihood's negative binomial (kernels/cpu/nb.h): element i, gene g = (g0 + i) % G, draws
// Poisson(Gamma(shape, rate)) as rng_gamma_poisson_fill with shape = (T) c[g] and rate = (T) nb_gamma_rate(c[g],
// mean[i]), the parameters rounded once to T; a mean that is not finite gives a NaN rate (an infinite one would
// otherwise clamp to rate 1e-6). Invalid parameters give NaN counts (philox::gamma_params_ok); the fill returns the
// index of the first such element, or -1.
template <class T>
GPO_NB_HD inline void nb_counts_params(double c, T mean, T* shape, T* rate) {
    const double mu = (double)mean;
    *shape = (T)c;
    *rate = mu - mu == 0.0 ? (T)nb_gamma_rate(c, mu) : (T)philox::double_of(0x7FF8000000000000ull);
}
template <class T>
int64_t rng_nb_counts_fill(T* out, const T* mean, const double* c, int64_t G, int64_t g0, int64_t n, uint64_t seed,
                           uint64_t stream, uint64_t offset) {
    int64_t first_bad = -1;
    for (int64_t i = 0, g = g0; i < n; ++i, g = g + 1 == G ? 0 : g + 1) {
        T shape, rate;
        nb_counts_params(c[g], mean[i], &shape, &rate);
        if (first_bad < 0 && !philox::gamma_params_ok((double)shape, (double)rate)) first_bad = i;
        out[i] = (T)philox::gamma_poisson_draw((double)shape, (double)rate, seed, stream, offset + (uint64_t)i);
    }
    return first_bad;
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
