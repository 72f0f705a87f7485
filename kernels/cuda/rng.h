// CUDA launchers of the counter-based RNG fills (f32), same meaning and bit-identical results as kernels/cpu/rng.h:
// element i uses counter index offset + i (kernels/philox.h).
#pragma once
#include <cstdint>

namespace gpo::cuda {

// out (n) = uniform draws in (0, 1) / standard normal draws.
void rng_uniform_fill(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);
void rng_normal_fill(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);
// out (n) = Gamma(shape[i], rate[i]) / Poisson(rate[i]). Invalid parameters give NaN; the return value is how many
// elements had invalid parameters (the launcher waits for the kernel to count them).
int64_t rng_gamma_fill(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed, uint64_t stream,
                       uint64_t offset);
int64_t rng_poisson_fill(float* out, const float* rate, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset);
// out (n) = Poisson(Gamma(shape[i], rate[i])) in one draw (philox::gamma_poisson_draw; streams stream, stream + 1);
// returns the number of elements with invalid parameters, as rng_gamma_fill.
int64_t rng_gamma_poisson_fill(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed,
                               uint64_t stream, uint64_t offset);
// out (n) = counts of the NB likelihood with means mean (n) and concentrations c_host (G, host memory, copied to
// the device), gene i % G (kernels/cpu/rng.h rng_nb_counts_fill with g0 = 0); returns the number of elements with
// invalid gamma parameters, as rng_gamma_fill.
int64_t rng_nb_counts_fill(float* out, const float* mean, const double* c_host, int64_t G, int64_t n, uint64_t seed,
                           uint64_t stream, uint64_t offset);

}  // namespace gpo::cuda
