// CPU reference, distributions family: Gaussian reparameterised sample, log-density and exact KL; the Bernoulli
// log-pmf with logits broadcast over leading dims; the straight-through relaxed-Bernoulli mask (docs/model.md §3, D12).
// Plain loops templated on float/double; backward functions accumulate (+=) and skip null gradient pointers.
// (The NB likelihood fused with the softmax lives in kernels/cpu/nb.h.)
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace gpo::cpu {

constexpr double kLog2Pi = 1.8378770664093454836;     // log(2 pi)
constexpr double kF32Eps = 1.1920928955078125e-7;     // float32 machine epsilon (torch.finfo(float32).eps)
// logit(1 - eps) = log((1 - eps) / eps): where torch's clamp_probs of sigmoid(W) caps the relaxed-Bernoulli logit.
constexpr double kLogitCap = 15.942385152878742;

// ---------------------------------------------------------------------------- Gaussian
// z (n) = mu (n) + scale (n) * eps (n)
template <class T>
void gaussian_sample_forward(T* z, const T* mu, const T* scale, const T* eps, int64_t n) {
    for (int64_t i = 0; i < n; ++i) z[i] = mu[i] + scale[i] * eps[i];
}

// dmu (n) += dz; dscale (n) += dz * eps.
template <class T>
void gaussian_sample_backward(T* dmu, T* dscale, const T* dz, const T* eps, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        if (dmu) dmu[i] += dz[i];
        if (dscale) dscale[i] += dz[i] * eps[i];
    }
}

// lp (n) = -0.5 z^2 - log s - 0.5 log(2 pi), z = (x - mu) / s; all (n).
template <class T>
void gaussian_log_prob_forward(T* lp, const T* x, const T* mu, const T* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        T z = (x[i] - mu[i]) / s[i];
        lp[i] = T(-0.5) * z * z - std::log(s[i]) - T(0.5 * kLog2Pi);
    }
}

// d lp/dx = -z/s, d lp/dmu = z/s, d lp/ds = (z^2 - 1)/s; all (n).
template <class T>
void gaussian_log_prob_backward(T* dx, T* dmu, T* ds, const T* dlp, const T* x, const T* mu, const T* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        T z = (x[i] - mu[i]) / s[i];
        if (dx) dx[i] += dlp[i] * (-z / s[i]);
        if (dmu) dmu[i] += dlp[i] * (z / s[i]);
        if (ds) ds[i] += dlp[i] * (z * z - T(1)) / s[i];
    }
}

// lp (n) = -0.5 x^2 - 0.5 log(2 pi); dx (n) += dlp * (-x).
template <class T>
void std_normal_log_prob_forward(T* lp, const T* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) lp[i] = T(-0.5) * x[i] * x[i] - T(0.5 * kLog2Pi);
}

template <class T>
void std_normal_log_prob_backward(T* dx, const T* dlp, const T* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dlp[i] * (-x[i]);
}

// kl (n) = log(s2/s1) + (s1^2 + (mu1 - mu2)^2) / (2 s2^2) - 1/2; all (n).
template <class T>
void gaussian_kl_forward(T* kl, const T* mu1, const T* s1, const T* mu2, const T* s2, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        T d = mu1[i] - mu2[i];
        kl[i] = std::log(s2[i] / s1[i]) + (s1[i] * s1[i] + d * d) / (T(2) * s2[i] * s2[i]) - T(0.5);
    }
}

// d/dmu1 = d/s2^2, d/dmu2 = -d/s2^2, d/ds1 = -1/s1 + s1/s2^2, d/ds2 = 1/s2 - (s1^2 + d^2)/s2^3 (d = mu1 - mu2).
template <class T>
void gaussian_kl_backward(T* dmu1, T* ds1, T* dmu2, T* ds2, const T* dkl, const T* mu1, const T* s1, const T* mu2,
                          const T* s2, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        T d = mu1[i] - mu2[i], v2 = s2[i] * s2[i], g = dkl[i];
        if (dmu1) dmu1[i] += g * d / v2;
        if (dmu2) dmu2[i] -= g * d / v2;
        if (ds1) ds1[i] += g * (-T(1) / s1[i] + s1[i] / v2);
        if (ds2) ds2[i] += g * (T(1) / s2[i] - (s1[i] * s1[i] + d * d) / (v2 * s2[i]));
    }
}

// ---------------------------------------------------------------------------- Bernoulli
template <class T>
T sigmoid_ref(T z) {
    return T(1) / (T(1) + std::exp(-z));
}

// log(1 + exp(l)) without overflow.
template <class T>
T softplus_ref(T l) {
    return std::max(l, T(0)) + std::log1p(std::exp(-std::fabs(l)));
}

// value (N) with N = P * n, logits (n): element i uses logits[i % n] (logits broadcast over a leading dim).
// clamp: p = clamp(sigmoid(l), eps, 1-eps), lp = v log p + (1-v) log(1-p); else lp = v l - softplus(l).
template <class T>
void bernoulli_log_prob_forward(T* lp, const T* v, const T* logits, int64_t N, int64_t n, bool clamp) {
    const T eps = T(kF32Eps);
    for (int64_t i = 0; i < N; ++i) {
        T l = logits[i % n];
        if (clamp) {
            T p = std::min(std::max(sigmoid_ref(l), eps), T(1) - eps);
            lp[i] = v[i] * std::log(p) + (T(1) - v[i]) * std::log(T(1) - p);
        } else {
            lp[i] = v[i] * l - softplus_ref(l);
        }
    }
}

// dv (N) += dlp * dlp/dv; dlogits (n) += sum over the P copies of dlp * dlp/dl.
// clamp: dlp/dv = log p - log(1-p); dlp/dl = v - p where eps <= sigmoid(l) <= 1-eps, else 0.
// no clamp: dlp/dv = l; dlp/dl = v - sigmoid(l).
template <class T>
void bernoulli_log_prob_backward(T* dv, T* dlogits, const T* dlp, const T* v, const T* logits, int64_t N, int64_t n,
                                 bool clamp) {
    const T eps = T(kF32Eps);
    for (int64_t i = 0; i < N; ++i) {
        T l = logits[i % n], s = sigmoid_ref(l);
        if (clamp) {
            T p = std::min(std::max(s, eps), T(1) - eps);
            bool inside = s >= eps && s <= T(1) - eps;
            if (dv) dv[i] += dlp[i] * (std::log(p) - std::log(T(1) - p));
            if (dlogits && inside) dlogits[i % n] += dlp[i] * (v[i] - p);
        } else {
            if (dv) dv[i] += dlp[i] * l;
            if (dlogits) dlogits[i % n] += dlp[i] * (v[i] - s);
        }
    }
}

// ---------------------------------------------------------------------------- relaxed Bernoulli, straight-through
// The relaxed sample before its clamp: s = sigmoid((W' + log u' - log(1-u')) / temperature) with
// W' = W if finite else 0 and u' = clamp(u, eps, 1-eps) (eps = float32 epsilon for float and double).
template <class T>
T relaxed_bernoulli_s(T w, T u, T temperature) {
    const T eps = T(kF32Eps);
    // The reference computes the logit from probs = clamp(sigmoid(W), eps, 1-eps): beyond +-kLogitCap it is capped.
    T w2 = std::isfinite(w) ? std::min(std::max(w, T(-kLogitCap)), T(kLogitCap)) : T(0);
    T u2 = std::min(std::max(u, eps), T(1) - eps);
    return sigmoid_ref((w2 + std::log(u2) - std::log1p(-u2)) / temperature);
}

// M (P, n) = round_half_even(clamp(s, eps, 1-eps)); logits W (n) (n = T*C), noise u (P, n).
// On [eps, 1-eps] round-half-to-even is "1 if s > 0.5 else 0" (0.5 rounds to 0).
template <class T>
void relaxed_bernoulli_st_forward(T* M, const T* W, const T* u, T temperature, int64_t P, int64_t n) {
    const T eps = T(kF32Eps);
    for (int64_t p = 0; p < P; ++p)
        for (int64_t j = 0; j < n; ++j) {
            T s = relaxed_bernoulli_s(W[j], u[p * n + j], temperature);
            T sc = std::min(std::max(s, eps), T(1) - eps);
            M[p * n + j] = sc > T(0.5) ? T(1) : T(0);
        }
}

// dW (n) += sum_p dM (P, n) * s (1 - s) / temperature where W is finite, |W| < kLogitCap and eps <= s <= 1-eps
// (straight-through: dM/ds' = 1; the clamps and nan_to_num pass no gradient outside their range).
template <class T>
void relaxed_bernoulli_st_backward(T* dW, const T* dM, const T* W, const T* u, T temperature, int64_t P, int64_t n) {
    const T eps = T(kF32Eps);
    for (int64_t p = 0; p < P; ++p)
        for (int64_t j = 0; j < n; ++j) {
            if (!std::isfinite(W[j]) || std::fabs(W[j]) >= T(kLogitCap)) continue;
            T s = relaxed_bernoulli_s(W[j], u[p * n + j], temperature);
            if (s >= eps && s <= T(1) - eps) dW[j] += dM[p * n + j] * s * (T(1) - s) / temperature;
        }
}

}  // namespace gpo::cpu
