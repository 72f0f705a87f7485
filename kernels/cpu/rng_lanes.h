// Uniform, normal, gamma, Poisson, gamma-Poisson and NB-count fills computed four (eight for float uniforms and
// normals) elements at a time in AVX2 lanes, bit-identical to the per-element reference (kernels/cpu/rng.h, which
// runs kernels/philox.h's draws one element at a time).
//
// Each group of four elements runs the common path of the two samplers side by side: the Philox block 0 of every
// element, the first Marsaglia-Tsang proposal accepted by the squeeze (gamma), the multiplication method over up
// to three counter blocks for rates below 10 (Poisson), with philox.h's own log / exp / cos(2 pi u) written
// branch-free for the inputs these paths feed them (the same IEEE operations in the same order, no fused
// multiply-add, so the same bits). An element off the common path (a rejected first proposal, v <= 0, a Poisson
// rate of 10 or more, a count past 11, invalid parameters) is recomputed by the per-element reference. On a CPU
// without AVX2 the fills are the reference itself. tests/test_rng_lanes.cpp checks them against it bit for bit.
#pragma once
#include <cstdint>

namespace gpo::cpu {

// out (n) = uniforms in (0, 1) with counter index offset + i; the values of rng_uniform_fill (rng.h). Float:
// eight AVX2 lanes; double: the reference.
void rng_uniform_fill_lanes(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);
void rng_uniform_fill_lanes(double* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);

// out (n) = standard normals with counter index offset + i; the values of rng_normal_fill (rng.h). Float: eight
// AVX2 lanes of philox::normal_f32 (Box-Muller, no rejection); double: the reference.
void rng_normal_fill_lanes(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);
void rng_normal_fill_lanes(double* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);

// out (n) = Gamma(shape[i], rate[i]) with counter index offset + i; the values of rng_gamma_fill (rng.h).
void rng_gamma_fill_lanes(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed,
                          uint64_t stream, uint64_t offset);
void rng_gamma_fill_lanes(double* out, const double* shape, const double* rate, int64_t n, uint64_t seed,
                          uint64_t stream, uint64_t offset);

// out (n) = Poisson(rate[i]) with counter index offset + i; the values of rng_poisson_fill (rng.h).
void rng_poisson_fill_lanes(float* out, const float* rate, int64_t n, uint64_t seed, uint64_t stream,
                            uint64_t offset);
void rng_poisson_fill_lanes(double* out, const double* rate, int64_t n, uint64_t seed, uint64_t stream,
                            uint64_t offset);

// out (n) = Poisson(Gamma(shape[i], rate[i])) with counter index offset + i; the values of rng_gamma_poisson_fill
// (rng.h). The inversion's lanes (philox::nb_by_inversion) walk side by side; other elements (the two-stage draw,
// invalid parameters) are computed by the reference.
void rng_gamma_poisson_fill_lanes(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed,
                                  uint64_t stream, uint64_t offset);
void rng_gamma_poisson_fill_lanes(double* out, const double* shape, const double* rate, int64_t n, uint64_t seed,
                                  uint64_t stream, uint64_t offset);

// out (n) = counts of the likelihood's negative binomial with mean mean[i] and concentration c[(g0 + i) % G] (G
// genes per row; element i starts at gene g0) with counter index offset + i; the values of rng_nb_counts_fill
// (rng.h). The parameters are computed a chunk at a time beside the draw, never stored whole. Returns the index of
// the first element with invalid parameters (its count is NaN), or -1.
int64_t rng_nb_counts_fill_lanes(float* out, const float* mean, const double* c, int64_t G, int64_t g0, int64_t n,
                                 uint64_t seed, uint64_t stream, uint64_t offset);
int64_t rng_nb_counts_fill_lanes(double* out, const double* mean, const double* c, int64_t G, int64_t g0, int64_t n,
                                 uint64_t seed, uint64_t stream, uint64_t offset);

// Which build the fills above run: "avx2" or "baseline" (the per-element reference). `force` (tests): "baseline"
// makes them run the reference from now on, "" restores the automatic choice.
const char* rng_lanes_build();
void rng_lanes_force_build(const char* force);

}  // namespace gpo::cpu
