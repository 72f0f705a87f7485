// CPU reference: the library-size negative-binomial (Gamma-Poisson) log-likelihood fused with the row softmax
// (docs/model.md §2), forward and backward, plus digamma. The scalar element functions (digamma, nb_term,
// nb_term_dc, nb_term_dmu1) are host+device so kernels/cuda/nb.cu evaluates exactly the same formulas.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#if defined(__CUDACC__)
#define GPO_NB_HD __host__ __device__
#else
#define GPO_NB_HD
#endif

namespace gpo::cpu {

constexpr double kNbMuShift = 1e-4;  // mu' = mu + 1e-4 (the decoder's shift)
constexpr double kNbMinRate = 1e-6;  // r = max(c / mu', 1e-6)

// The gamma rate of this likelihood's Gamma-Poisson for mean mu and concentration c, in double: max(c / (mu + 1e-4),
// 1e-6), NaN staying NaN (as std::max(q, 1e-6)). What sampling the likelihood draws from (nb_counts_params in
// kernels/cpu/rng.h); nb_term evaluates the same formula in its own type.
GPO_NB_HD inline double nb_gamma_rate(double c, double mu) {
    const double q = c / (mu + kNbMuShift);
    return q < kNbMinRate ? kNbMinRate : q;
}

// digamma(x) for x > 0 (NaN otherwise): shift up with psi(x) = psi(x+1) - 1/x until x >= 10 (double) or 6
// (float), then the asymptotic series ln x - 1/(2x) - sum_k B_2k / (2k x^2k) through x^-14; the first omitted
// term is 3617/(8160 x^16) <= 4.5e-17 at x = 10 (1.6e-13 at 6), so results are accurate to rounding (~1e-15
// relative in double); float stops at 6 to save divisions in the hot kernel.
template <class T>
GPO_NB_HD inline T digamma(T x) {
    using std::log;
    if (!(x > T(0))) return std::numeric_limits<T>::quiet_NaN();
    T acc = T(0);
    const T shift_to = sizeof(T) == sizeof(float) ? T(6) : T(10);
    while (x < shift_to) {
        acc -= T(1) / x;
        x += T(1);
    }
    T f = T(1) / (x * x);
    T series = f * (T(-1.0 / 12) +
                    f * (T(1.0 / 120) +
                         f * (T(-1.0 / 252) +
                              f * (T(1.0 / 240) + f * (T(-1.0 / 132) + f * (T(691.0 / 32760) + f * T(-1.0 / 12)))))));
    return acc + log(x) - T(0.5) / x + series;
}

// One gene's log GammaPoisson(x; c, r) with r = max(c / mu1, 1e-6), mu1 = mu + 1e-4:
//   lgamma(x+c) - lgamma(c) - lgamma(x+1) + c log r - (c+x) log(1+r)   (log1p for accuracy at small r)
// split into the count part nb_lgamma_part(x, c), which does not depend on mu1 (so several rows of the same cell
// share it), and nb_term_from_lgamma, which adds the rest in the same order: nb_term's value either way.
template <class T>
GPO_NB_HD inline T nb_lgamma_part(T x, T c) {
    using std::lgamma;
    return x == T(0) ? T(0) : lgamma(x + c) - lgamma(c) - lgamma(x + T(1));  // exactly 0 at x = 0 (lgamma(1) = 0)
}

template <class T>
GPO_NB_HD inline T nb_term_from_lgamma(T lg, T x, T c, T mu1) {
    using std::log;
    using std::log1p;
    T q = c / mu1;
    T r = q >= T(kNbMinRate) ? q : T(kNbMinRate);
    return lg + c * log(r) - (c + x) * log1p(r);
}

template <class T>
GPO_NB_HD inline T nb_term(T x, T c, T mu1) {
    return nb_term_from_lgamma(nb_lgamma_part(x, c), x, c, mu1);
}

// Partial derivatives of nb_term with respect to c and mu1. The clamp's gradient is torch's: it passes where
// q = c/mu1 >= 1e-6. With the clamp inactive (r = q) the chain rule through q simplifies to
//   d/dc   = psi(x+c) - psi(c) + log(c/(c+mu1)) + (mu1 - x)/(mu1 + c)
//   d/dmu1 = c (x - mu1) / (mu1 (mu1 + c))
// [from d/dr = c/r - (c+x)/(1+r), dq/dc = 1/mu1, dq/dmu1 = -q/mu1]; with the clamp active (r = 1e-6, constant)
//   d/dc   = psi(x+c) - psi(c) + log r - log(1+r),  d/dmu1 = 0.
// nb_term_dc's count part, psi(x+c) - psi(c) (0 at x = 0), shared by the rows of one cell as nb_lgamma_part.
template <class T>
GPO_NB_HD inline T nb_digamma_part(T x, T c) {
    return x == T(0) ? T(0) : digamma(x + c) - digamma(c);  // most counts are 0
}

template <class T>
GPO_NB_HD inline T nb_term_dc_from_digamma(T psi, T x, T c, T mu1) {
    using std::log;
    using std::log1p;
    if (c / mu1 >= T(kNbMinRate)) return psi + log(c / (c + mu1)) + (mu1 - x) / (mu1 + c);
    return psi + log(T(kNbMinRate)) - log1p(T(kNbMinRate));
}

template <class T>
GPO_NB_HD inline T nb_term_dc(T x, T c, T mu1) {
    return nb_term_dc_from_digamma(nb_digamma_part(x, c), x, c, mu1);
}

template <class T>
GPO_NB_HD inline T nb_term_dmu1(T x, T c, T mu1) {
    if (c / mu1 >= T(kNbMinRate)) return c * (x - mu1) / (mu1 * (mu1 + c));
    return T(0);
}

// Rows [r0, r1) of: out (R), lse (R) from logits (R, G), c (G) = exp(log_theta), counts (B, G), library (B);
// R = P * B, row r uses counts row b = r % B:
//   lse[r] = log sum_g exp(logits[r, g]);  rho = exp(logits[r, :] - lse[r])
//   out[r] = sum_g nb_term(counts[b, g], c[g], library[b] * rho[g] + 1e-4)
// lse is kept for the backward. Rows are independent: any split of [0, R) gives the same values. lg (B, G), when
// given, holds nb_lgamma_part of every count (nb_count_parts), computed once for the R / B rows of each cell.
template <class T>
void nb_log_prob_softmax_forward_rows(T* out, T* lse, const T* logits, const T* c, const T* counts, const T* library,
                                      int64_t r0, int64_t r1, int64_t B, int64_t G, const T* lg = nullptr) {
    for (int64_t r = r0; r < r1; ++r) {
        const T* l = logits + r * G;
        const T* x = counts + (r % B) * G;
        T lib = library[r % B];
        T m = l[0];
        for (int64_t g = 1; g < G; ++g) m = std::max(m, l[g]);
        T sum = 0;
        for (int64_t g = 0; g < G; ++g) sum += std::exp(l[g] - m);
        T L = m + std::log(sum);
        T acc = 0;
        const T* lgr = lg ? lg + (r % B) * G : nullptr;
        for (int64_t g = 0; g < G; ++g) {
            T mu1 = lib * std::exp(l[g] - L) + T(kNbMuShift);
            acc += nb_term_from_lgamma(lgr ? lgr[g] : nb_lgamma_part(x[g], c[g]), x[g], c[g], mu1);
        }
        out[r] = acc;
        lse[r] = L;
    }
}

// Rows [b0, b1) of part (B, G) = nb_lgamma_part (digamma = false) or nb_digamma_part (true) of every count.
template <class T>
void nb_count_parts(T* part, const T* counts, const T* c, int64_t b0, int64_t b1, int64_t G, bool digamma_part) {
    for (int64_t b = b0; b < b1; ++b)
        for (int64_t g = 0; g < G; ++g) {
            const T x = counts[b * G + g];
            part[b * G + g] = digamma_part ? nb_digamma_part(x, c[g]) : nb_lgamma_part(x, c[g]);
        }
}

// c (G) = exp(log_theta): once per call, not once per row.
template <class T>
std::vector<T> nb_dispersion(const T* log_theta, int64_t G) {
    std::vector<T> c(G);
    for (int64_t g = 0; g < G; ++g) c[g] = std::exp(log_theta[g]);
    return c;
}

// All rows of the forward above, with log_theta (G).
template <class T>
void nb_log_prob_softmax_forward(T* out, T* lse, const T* logits, const T* log_theta, const T* counts,
                                 const T* library, int64_t R, int64_t B, int64_t G) {
    std::vector<T> c = nb_dispersion(log_theta, G);
    nb_log_prob_softmax_forward_rows(out, lse, logits, c.data(), counts, library, 0, R, B, G);
}

// Rows [r0, r1) of the backward: dlogits (R, G) += dout[r] * rho_k (a_k - sum_g a_g rho_g), a_g = library[b] *
// d nb_term / d mu1 (softmax backward); dlog_theta (G) += sum over the rows of dout[r] * c_g * d nb_term / d c, in
// row order. Either gradient may be null. dout (R), lse (R) from the forward; c (G) = exp(log_theta); other shapes
// as in the forward; psi (B, G), when given, holds nb_digamma_part of every count (nb_count_parts).
template <class T>
void nb_log_prob_softmax_backward_rows(T* dlogits, T* dlog_theta, const T* dout, const T* lse, const T* logits,
                                       const T* c, const T* counts, const T* library, int64_t r0, int64_t r1,
                                       int64_t B, int64_t G, const T* psi = nullptr) {
    std::vector<T> rho(G), a(G);
    for (int64_t r = r0; r < r1; ++r) {
        const T* l = logits + r * G;
        const T* x = counts + (r % B) * G;
        T lib = library[r % B], d = dout[r];
        T dot = 0;
        for (int64_t g = 0; g < G; ++g) {
            rho[g] = std::exp(l[g] - lse[r]);
            T mu1 = lib * rho[g] + T(kNbMuShift);
            a[g] = lib * nb_term_dmu1(x[g], c[g], mu1);
            dot += a[g] * rho[g];
            if (dlog_theta) {
                const T p = psi ? psi[(r % B) * G + g] : nb_digamma_part(x[g], c[g]);
                dlog_theta[g] += d * c[g] * nb_term_dc_from_digamma(p, x[g], c[g], mu1);
            }
        }
        if (dlogits)
            for (int64_t g = 0; g < G; ++g) dlogits[r * G + g] += d * rho[g] * (a[g] - dot);
    }
}

// All rows of the backward above, with log_theta (G).
template <class T>
void nb_log_prob_softmax_backward(T* dlogits, T* dlog_theta, const T* dout, const T* lse, const T* logits,
                                  const T* log_theta, const T* counts, const T* library, int64_t R, int64_t B,
                                  int64_t G) {
    std::vector<T> c = nb_dispersion(log_theta, G);
    nb_log_prob_softmax_backward_rows(dlogits, dlog_theta, dout, lse, logits, c.data(), counts, library, 0, R, B, G);
}

}  // namespace gpo::cpu
