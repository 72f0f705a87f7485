// CUDA launchers, distributions family (f32): Gaussian sample/log-density/KL, Bernoulli log-pmf with broadcast
// logits, straight-through relaxed-Bernoulli mask. Same meaning and argument order as kernels/cpu/distributions.h;
// backward launchers accumulate (+=) and skip null gradient pointers. The NB likelihood is in kernels/cuda/nb.h.
#pragma once
#include <cstdint>

namespace gpo::cuda {

void gaussian_sample_forward(float* z, const float* mu, const float* scale, const float* eps, int64_t n);
void gaussian_sample_backward(float* dmu, float* dscale, const float* dz, const float* eps, int64_t n);

void gaussian_log_prob_forward(float* lp, const float* x, const float* mu, const float* s, int64_t n);
void gaussian_log_prob_backward(float* dx, float* dmu, float* ds, const float* dlp, const float* x, const float* mu,
                                const float* s, int64_t n);

void std_normal_log_prob_forward(float* lp, const float* x, int64_t n);
void std_normal_log_prob_backward(float* dx, const float* dlp, const float* x, int64_t n);

void gaussian_kl_forward(float* kl, const float* mu1, const float* s1, const float* mu2, const float* s2, int64_t n);
void gaussian_kl_backward(float* dmu1, float* ds1, float* dmu2, float* ds2, const float* dkl, const float* mu1,
                          const float* s1, const float* mu2, const float* s2, int64_t n);

// value (N = P * n), logits (n), element i uses logits[i % n].
void bernoulli_log_prob_forward(float* lp, const float* v, const float* logits, int64_t N, int64_t n, bool clamp);
void bernoulli_log_prob_backward(float* dv, float* dlogits, const float* dlp, const float* v, const float* logits,
                                 int64_t N, int64_t n, bool clamp);

// M (P, n) from logits W (n) and noise u (P, n); dW (n) += sum over P.
void relaxed_bernoulli_st_forward(float* M, const float* W, const float* u, float temperature, int64_t P, int64_t n);
void relaxed_bernoulli_st_backward(float* dW, const float* dM, const float* W, const float* u, float temperature,
                                   int64_t P, int64_t n);

}  // namespace gpo::cuda
