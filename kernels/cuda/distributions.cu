// CUDA (f32), distributions family: Gaussian sample/log-density/KL, Bernoulli log-pmf (broadcast logits),
// straight-through relaxed-Bernoulli mask (reference: kernels/cpu/distributions.h). Element-wise kernels use
// grid-stride loops; the backward of broadcast logits gives one thread per logit and loops over the copies
// (deterministic, no atomics).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/distributions.h"

namespace gpo::cuda {

namespace {
constexpr float kHalfLog2Pi = 0.91893853320467274f;  // 0.5 log(2 pi)
constexpr float kEps = 1.1920928955078125e-7f;       // float32 epsilon (pyro clamp_probs)

__device__ inline float sigmoidf_(float z) { return 1.f / (1.f + expf(-z)); }
__device__ inline float softplusf_(float l) { return fmaxf(l, 0.f) + log1pf(expf(-fabsf(l))); }
__device__ inline float clamp_eps(float p) { return fminf(fmaxf(p, kEps), 1.f - kEps); }

// Pre-clamp relaxed sample s = sigmoid((W' + log u' - log(1-u')) / temperature).
// The reference's logit from probs = clamp(sigmoid(W), eps, 1-eps): capped at +-logit(1 - eps).
constexpr float kLogitCapF = 15.942385152878742f;
__device__ inline float relaxed_s(float w, float u, float temperature) {
    float w2 = isfinite(w) ? fminf(fmaxf(w, -kLogitCapF), kLogitCapF) : 0.f;
    float u2 = clamp_eps(u);
    return sigmoidf_((w2 + logf(u2) - log1pf(-u2)) / temperature);
}
}  // namespace

// ---------------------------------------------------------------------------- kernels
__global__ void gaussian_sample_forward_kernel(float* z, const float* mu, const float* scale, const float* eps,
                                               int64_t n) {
    GRID_STRIDE(i, n) z[i] = mu[i] + scale[i] * eps[i];
}

__global__ void gaussian_sample_backward_kernel(float* dmu, float* dscale, const float* dz, const float* eps,
                                                int64_t n) {
    GRID_STRIDE(i, n) {
        if (dmu) dmu[i] += dz[i];
        if (dscale) dscale[i] += dz[i] * eps[i];
    }
}

__global__ void gaussian_log_prob_forward_kernel(float* lp, const float* x, const float* mu, const float* s,
                                                 int64_t n) {
    GRID_STRIDE(i, n) {
        float z = (x[i] - mu[i]) / s[i];
        lp[i] = -0.5f * z * z - logf(s[i]) - kHalfLog2Pi;
    }
}

__global__ void gaussian_log_prob_backward_kernel(float* dx, float* dmu, float* ds, const float* dlp, const float* x,
                                                  const float* mu, const float* s, int64_t n) {
    GRID_STRIDE(i, n) {
        float z = (x[i] - mu[i]) / s[i];
        if (dx) dx[i] += dlp[i] * (-z / s[i]);
        if (dmu) dmu[i] += dlp[i] * (z / s[i]);
        if (ds) ds[i] += dlp[i] * (z * z - 1.f) / s[i];
    }
}

__global__ void std_normal_log_prob_forward_kernel(float* lp, const float* x, int64_t n) {
    GRID_STRIDE(i, n) lp[i] = -0.5f * x[i] * x[i] - kHalfLog2Pi;
}

__global__ void std_normal_log_prob_backward_kernel(float* dx, const float* dlp, const float* x, int64_t n) {
    GRID_STRIDE(i, n) dx[i] += dlp[i] * (-x[i]);
}

__global__ void gaussian_kl_forward_kernel(float* kl, const float* mu1, const float* s1, const float* mu2,
                                           const float* s2, int64_t n) {
    GRID_STRIDE(i, n) {
        float d = mu1[i] - mu2[i];
        kl[i] = logf(s2[i] / s1[i]) + (s1[i] * s1[i] + d * d) / (2.f * s2[i] * s2[i]) - 0.5f;
    }
}

__global__ void gaussian_kl_backward_kernel(float* dmu1, float* ds1, float* dmu2, float* ds2, const float* dkl,
                                            const float* mu1, const float* s1, const float* mu2, const float* s2,
                                            int64_t n) {
    GRID_STRIDE(i, n) {
        float d = mu1[i] - mu2[i], v2 = s2[i] * s2[i], g = dkl[i];
        if (dmu1) dmu1[i] += g * d / v2;
        if (dmu2) dmu2[i] -= g * d / v2;
        if (ds1) ds1[i] += g * (-1.f / s1[i] + s1[i] / v2);
        if (ds2) ds2[i] += g * (1.f / s2[i] - (s1[i] * s1[i] + d * d) / (v2 * s2[i]));
    }
}

__global__ void bernoulli_log_prob_forward_kernel(float* lp, const float* v, const float* logits, int64_t N,
                                                  int64_t n, bool clamp) {
    GRID_STRIDE(i, N) {
        float l = logits[i % n];
        if (clamp) {
            float p = clamp_eps(sigmoidf_(l));
            lp[i] = v[i] * logf(p) + (1.f - v[i]) * logf(1.f - p);
        } else {
            lp[i] = v[i] * l - softplusf_(l);
        }
    }
}

// One thread per logit j: walks the P = N / n copies, writes dv for each and sums dlogits[j] in order.
__global__ void bernoulli_log_prob_backward_kernel(float* dv, float* dlogits, const float* dlp, const float* v,
                                                   const float* logits, int64_t N, int64_t n, bool clamp) {
    GRID_STRIDE(j, n) {
        float l = logits[j], s = sigmoidf_(l);
        float p = clamp ? clamp_eps(s) : s;
        bool inside = !clamp || (s >= kEps && s <= 1.f - kEps);
        float dv_factor = clamp ? logf(p) - logf(1.f - p) : l;
        float acc = 0.f;
        for (int64_t i = j; i < N; i += n) {
            if (dv) dv[i] += dlp[i] * dv_factor;
            acc += dlp[i] * (v[i] - p);
        }
        if (dlogits && inside) dlogits[j] += acc;
    }
}

__global__ void relaxed_bernoulli_st_forward_kernel(float* M, const float* W, const float* u, float temperature,
                                                    int64_t P, int64_t n) {
    GRID_STRIDE(i, P * n) {
        float s = clamp_eps(relaxed_s(W[i % n], u[i], temperature));
        M[i] = s > 0.5f ? 1.f : 0.f;  // round half to even on [eps, 1-eps]: 0.5 -> 0
    }
}

// One thread per logit j, summing its P particles in order.
__global__ void relaxed_bernoulli_st_backward_kernel(float* dW, const float* dM, const float* W, const float* u,
                                                     float temperature, int64_t P, int64_t n) {
    GRID_STRIDE(j, n) {
        float w = W[j];
        if (!isfinite(w) || fabsf(w) >= kLogitCapF) continue;
        float acc = 0.f;
        for (int64_t p = 0; p < P; ++p) {
            float s = relaxed_s(w, u[p * n + j], temperature);
            if (s >= kEps && s <= 1.f - kEps) acc += dM[p * n + j] * s * (1.f - s) / temperature;
        }
        dW[j] += acc;
    }
}


// ---------------------------------------------------------------------------- launchers
void gaussian_sample_forward(float* z, const float* mu, const float* scale, const float* eps, int64_t n) {
    if (n == 0) return;
    gaussian_sample_forward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(z, mu, scale, eps, n);
    CUDA_CHECK_LAUNCH();
}

void gaussian_sample_backward(float* dmu, float* dscale, const float* dz, const float* eps, int64_t n) {
    if (n == 0 || (!dmu && !dscale)) return;
    gaussian_sample_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(dmu, dscale, dz, eps, n);
    CUDA_CHECK_LAUNCH();
}

void gaussian_log_prob_forward(float* lp, const float* x, const float* mu, const float* s, int64_t n) {
    if (n == 0) return;
    gaussian_log_prob_forward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(lp, x, mu, s, n);
    CUDA_CHECK_LAUNCH();
}

void gaussian_log_prob_backward(float* dx, float* dmu, float* ds, const float* dlp, const float* x, const float* mu,
                                const float* s, int64_t n) {
    if (n == 0 || (!dx && !dmu && !ds)) return;
    gaussian_log_prob_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(dx, dmu, ds, dlp, x, mu, s, n);
    CUDA_CHECK_LAUNCH();
}

void std_normal_log_prob_forward(float* lp, const float* x, int64_t n) {
    if (n == 0) return;
    std_normal_log_prob_forward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(lp, x, n);
    CUDA_CHECK_LAUNCH();
}

void std_normal_log_prob_backward(float* dx, const float* dlp, const float* x, int64_t n) {
    if (n == 0 || !dx) return;
    std_normal_log_prob_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(dx, dlp, x, n);
    CUDA_CHECK_LAUNCH();
}

void gaussian_kl_forward(float* kl, const float* mu1, const float* s1, const float* mu2, const float* s2, int64_t n) {
    if (n == 0) return;
    gaussian_kl_forward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(kl, mu1, s1, mu2, s2, n);
    CUDA_CHECK_LAUNCH();
}

void gaussian_kl_backward(float* dmu1, float* ds1, float* dmu2, float* ds2, const float* dkl, const float* mu1,
                          const float* s1, const float* mu2, const float* s2, int64_t n) {
    if (n == 0 || (!dmu1 && !ds1 && !dmu2 && !ds2)) return;
    gaussian_kl_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(dmu1, ds1, dmu2, ds2, dkl, mu1, s1, mu2, s2, n);
    CUDA_CHECK_LAUNCH();
}

void bernoulli_log_prob_forward(float* lp, const float* v, const float* logits, int64_t N, int64_t n, bool clamp) {
    if (N == 0) return;
    bernoulli_log_prob_forward_kernel<<<grid_for(N), BLOCK, 0, stream()>>>(lp, v, logits, N, n, clamp);
    CUDA_CHECK_LAUNCH();
}

void bernoulli_log_prob_backward(float* dv, float* dlogits, const float* dlp, const float* v, const float* logits,
                                 int64_t N, int64_t n, bool clamp) {
    if (N == 0 || (!dv && !dlogits)) return;
    bernoulli_log_prob_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(dv, dlogits, dlp, v, logits, N, n, clamp);
    CUDA_CHECK_LAUNCH();
}

void relaxed_bernoulli_st_forward(float* M, const float* W, const float* u, float temperature, int64_t P, int64_t n) {
    if (P * n == 0) return;
    relaxed_bernoulli_st_forward_kernel<<<grid_for(P * n), BLOCK, 0, stream()>>>(M, W, u, temperature, P, n);
    CUDA_CHECK_LAUNCH();
}

void relaxed_bernoulli_st_backward(float* dW, const float* dM, const float* W, const float* u, float temperature,
                                   int64_t P, int64_t n) {
    if (P * n == 0 || !dW) return;
    relaxed_bernoulli_st_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(dW, dM, W, u, temperature, P, n);
    CUDA_CHECK_LAUNCH();
}

}  // namespace gpo::cuda
