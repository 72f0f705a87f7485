// The float CPU path of the negative-binomial likelihood with its row softmax: the same quantities as
// nb_log_prob_softmax_forward_rows / backward_rows in kernels/cpu/nb.h (the reference, used for double), with
// fast_exp / fast_log (kernels/cpu/fast_math.h) in loops the compiler vectorises, the per-gene terms computed
// into a row buffer and summed in gene order, and rho = exp(l - m) / sum(exp(l - m)) from the softmax's own
// exponentials (one exp per element instead of two). An AVX2 build of the same code is chosen at run time when
// the CPU has AVX2; both give the same bits (no fused multiply-add; tests/test_fast_math.cpp).
#pragma once
#include <cstdint>

namespace gpo::cpu {

// Rows [r0, r1): out[r] = sum_g nb_term(counts[b, g], c[g], library[b] rho_rg + 1e-4), lse[r] = log sum exp of
// row r; b = r % B; lg (B, G) = nb_lgamma_part of every count, or null (computed here).
void nb_forward_rows_f32(float* out, float* lse, const float* logits, const float* c, const float* counts,
                         const float* library, int64_t r0, int64_t r1, int64_t B, int64_t G, const float* lg);

// Rows [r0, r1) of the backward (nb.h's nb_log_prob_softmax_backward_rows); psi (B, G) = nb_digamma_part of
// every count, or null.
void nb_backward_rows_f32(float* dlogits, float* dlog_theta, const float* dout, const float* lse, const float* logits,
                          const float* c, const float* counts, const float* library, int64_t r0, int64_t r1,
                          int64_t B, int64_t G, const float* psi);

// Which build the two functions above run: "avx2" or "baseline" (x86-64 SSE2). `force` (tests): "baseline"
// makes them run the baseline build from now on, "" restores the automatic choice.
const char* nb_f32_build();
void nb_f32_force_build(const char* force);

}  // namespace gpo::cpu
