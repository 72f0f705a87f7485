// Counter-based random numbers: Philox-4x32-10 with identical streams on CPU and CUDA for the same (seed, stream,
// offset). Element i of a fill is a pure function of (seed, stream, offset + i), so any slice can be reproduced on
// either device. Fills: uniform in (0, 1), standard normal, Gamma(shape, rate), Poisson(rate) and their mixture
// Poisson(Gamma(shape, rate)), also as the counts of the NB likelihood.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace gpo {

struct RngKey {
    uint64_t seed = 0;
    uint64_t stream = 0;  // independent sub-streams: one per purpose (mask noise, z noise, shuffling, ...)
};

// out (any shape, f32 or f64, CPU or CUDA): element i gets the draw for counter offset + i.
void rng_uniform(Tensor& out, RngKey key, uint64_t offset);
void rng_normal(Tensor& out, RngKey key, uint64_t offset);
// Gamma(shape[i], rate[i]) per element (shape, rate tensors of out's shape, dtype and device).
void rng_gamma(Tensor& out, const Tensor& shape, const Tensor& rate, RngKey key, uint64_t offset);
// Poisson(rate[i]) per element, returned as floating values.
void rng_poisson(Tensor& out, const Tensor& rate, RngKey key, uint64_t offset);
// Poisson(Gamma(shape[i], rate[i])) per element in one draw (the negative binomial with mean shape / rate; see
// kernels/philox.h gamma_poisson_draw), returned as floating values. Uses streams key.stream and key.stream + 1: an
// element outside the inversion's range gets exactly rng_gamma on key.stream followed by rng_poisson on
// key.stream + 1.
void rng_gamma_poisson(Tensor& out, const Tensor& shape, const Tensor& rate, RngKey key, uint64_t offset);
// Counts of the NB likelihood (kernels/cpu/nb.h) with means `mean` (..., G) and per-gene concentrations c (G,
// host doubles): element i draws what rng_gamma_poisson draws for shape (T) c[g] and rate (T) max(c[g] / (mean[i] +
// 1e-4), 1e-6), g = i % G, rounded once to out's type T — without the shape and rate tensors (computed beside the
// draw). out has mean's shape, dtype and device; streams key.stream and key.stream + 1 as rng_gamma_poisson.
void rng_nb_counts(Tensor& out, const Tensor& mean, const std::vector<double>& concentration, RngKey key,
                   uint64_t offset);

// A host-side generator for shuffling and sampling indices: a Philox stream consumed sequentially.
class HostRng {
  public:
    HostRng(uint64_t seed, uint64_t stream) : key_{seed, stream} {}
    uint32_t next_u32();
    double uniform();                 // (0, 1)
    uint64_t below(uint64_t n);       // uniform in [0, n), unbiased
    uint64_t counter() const { return counter_; }
    void set_counter(uint64_t c) { counter_ = c; }  // for checkpoint/resume

  private:
    RngKey key_;
    uint64_t counter_ = 0;  // words consumed
};

}  // namespace gpo
