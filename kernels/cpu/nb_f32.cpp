// Float NB likelihood rows with vectorisable exp/log, and the AVX2 / baseline dispatch (see nb_f32.h).
#include "kernels/cpu/nb_f32.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/avx2_choice.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/nb.h"

namespace gpo::cpu {

namespace {

#define GPO_ALWAYS_INLINE inline __attribute__((always_inline))

// Per-thread row buffers (G floats each), reused across calls.
struct RowBuffers {
    std::vector<float> a, b;
    void fit(int64_t G) {
        if ((int64_t)a.size() < G) a.resize((size_t)G), b.resize((size_t)G);
    }
};
thread_local RowBuffers t_buf;

GPO_ALWAYS_INLINE void forward_body(float* out, float* lse, const float* logits, const float* c, const float* counts,
                                    const float* library, int64_t r0, int64_t r1, int64_t B, int64_t G,
                                    const float* lg) {
    t_buf.fit(G);
    float* e = t_buf.a.data();     // exp(l - m), then the terms
    float* part = t_buf.b.data();  // the count part of each term
    const float min_rate = (float)kNbMinRate, shift = (float)kNbMuShift;
    for (int64_t r = r0; r < r1; ++r) {
        const float* l = logits + r * G;
        const float* x = counts + (r % B) * G;
        const float lib = library[r % B];
        float m = l[0];
        for (int64_t g = 1; g < G; ++g) m = std::max(m, l[g]);
        for (int64_t g = 0; g < G; ++g) e[g] = fast_exp(l[g] - m);
        float sum = 0;
        for (int64_t g = 0; g < G; ++g) sum += e[g];
        lse[r] = m + std::log(sum);
        if (lg) {
            std::memcpy(part, lg + (r % B) * G, sizeof(float) * (size_t)G);
        } else {
            for (int64_t g = 0; g < G; ++g) part[g] = nb_lgamma_part(x[g], c[g]);
        }
        const float scale = lib / sum;
        for (int64_t g = 0; g < G; ++g) {
            const float mu1 = e[g] * scale + shift;
            const float q = c[g] / mu1;
            const float rate = q >= min_rate ? q : min_rate;
            const float l1p = fast_log1p(rate);
            // lgamma part + c log r - (c + x) log(1 + r), as nb_term_from_lgamma
            e[g] = part[g] + c[g] * (fast_log(rate) - l1p) - x[g] * l1p;
        }
        float acc = 0;
        for (int64_t g = 0; g < G; ++g) acc += e[g];
        out[r] = acc;
    }
}

GPO_ALWAYS_INLINE void backward_body(float* dlogits, float* dlog_theta, const float* dout, const float* lse,
                                     const float* logits, const float* c, const float* counts, const float* library,
                                     int64_t r0, int64_t r1, int64_t B, int64_t G, const float* psi) {
    t_buf.fit(G);
    float* rho = t_buf.a.data();
    float* a = t_buf.b.data();
    std::vector<float> psi_row;  // digamma parts of a row when not given (tests; the op always passes them)
    const float min_rate = (float)kNbMinRate, shift = (float)kNbMuShift;
    const float clamped_dc = (float)(std::log(kNbMinRate) - std::log1p(kNbMinRate));
    for (int64_t r = r0; r < r1; ++r) {
        const float* l = logits + r * G;
        const float* x = counts + (r % B) * G;
        const float lib = library[r % B], d = dout[r], L = lse[r];
        for (int64_t g = 0; g < G; ++g) {
            rho[g] = fast_exp(l[g] - L);
            const float mu1 = lib * rho[g] + shift;
            const bool active = c[g] / mu1 >= min_rate;  // nb_term_dmu1: 0 where the rate is clamped
            a[g] = active ? lib * (c[g] * (x[g] - mu1) / (mu1 * (mu1 + c[g]))) : 0.0f;
        }
        float dot = 0;
        for (int64_t g = 0; g < G; ++g) dot += a[g] * rho[g];
        if (dlog_theta) {
            const float* p = psi ? psi + (r % B) * G : nullptr;
            if (!p) {
                psi_row.resize((size_t)G);
                for (int64_t g = 0; g < G; ++g) psi_row[(size_t)g] = nb_digamma_part(x[g], c[g]);
                p = psi_row.data();
            }
            for (int64_t g = 0; g < G; ++g) {
                const float mu1 = lib * rho[g] + shift;
                const bool active = c[g] / mu1 >= min_rate;
                // nb_term_dc_from_digamma (both sides evaluated, so the loop has no branch)
                const float free_dc = fast_log(c[g] / (c[g] + mu1)) + (mu1 - x[g]) / (mu1 + c[g]);
                const float dc = active ? free_dc : clamped_dc;
                dlog_theta[g] += d * c[g] * (p[g] + dc);
            }
        }
        if (dlogits)
            for (int64_t g = 0; g < G; ++g) dlogits[r * G + g] += d * rho[g] * (a[g] - dot);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define GPO_NB_AVX2 1
__attribute__((target("avx2"))) void forward_avx2(float* out, float* lse, const float* logits, const float* c,
                                                  const float* counts, const float* library, int64_t r0, int64_t r1,
                                                  int64_t B, int64_t G, const float* lg) {
    forward_body(out, lse, logits, c, counts, library, r0, r1, B, G, lg);
}
__attribute__((target("avx2"))) void backward_avx2(float* dlogits, float* dlog_theta, const float* dout,
                                                   const float* lse, const float* logits, const float* c,
                                                   const float* counts, const float* library, int64_t r0, int64_t r1,
                                                   int64_t B, int64_t G, const float* psi) {
    backward_body(dlogits, dlog_theta, dout, lse, logits, c, counts, library, r0, r1, B, G, psi);
}
#endif

Avx2Choice g_build;

}  // namespace

void nb_forward_rows_f32(float* out, float* lse, const float* logits, const float* c, const float* counts,
                         const float* library, int64_t r0, int64_t r1, int64_t B, int64_t G, const float* lg) {
#ifdef GPO_NB_AVX2
    if (g_build.avx2()) return forward_avx2(out, lse, logits, c, counts, library, r0, r1, B, G, lg);
#endif
    forward_body(out, lse, logits, c, counts, library, r0, r1, B, G, lg);
}

void nb_backward_rows_f32(float* dlogits, float* dlog_theta, const float* dout, const float* lse, const float* logits,
                          const float* c, const float* counts, const float* library, int64_t r0, int64_t r1,
                          int64_t B, int64_t G, const float* psi) {
#ifdef GPO_NB_AVX2
    if (g_build.avx2())
        return backward_avx2(dlogits, dlog_theta, dout, lse, logits, c, counts, library, r0, r1, B, G, psi);
#endif
    backward_body(dlogits, dlog_theta, dout, lse, logits, c, counts, library, r0, r1, B, G, psi);
}

const char* nb_f32_build() { return g_build.name(); }

void nb_f32_force_build(const char* force) { g_build.force(force); }

}  // namespace gpo::cpu
