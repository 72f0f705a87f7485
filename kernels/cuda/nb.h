// CUDA launchers (f32): the NB log-likelihood fused with the row softmax (reference: kernels/cpu/nb.h).
// Forward: one block per row (online max/sum-exp, then the per-gene terms and a block sum).
// Backward: a fixed number of blocks walk the rows; each block adds its rows' log_theta gradient into its own row
// of a (scratch_rows, G) buffer, which a second kernel sums in a fixed order (deterministic, no atomics).
#pragma once
#include <cstdint>

namespace gpo::cuda {

// out (R), lse (R) from logits (R, G), log_theta (G), counts (B, G), library (B); R = P * B.
void nb_log_prob_softmax_forward(float* out, float* lse, const float* logits, const float* log_theta,
                                 const float* counts, const float* library, int64_t R, int64_t B, int64_t G);

// Rows of the scratch buffer the backward needs (scratch is (rows, G) floats); depends on R and the device.
int64_t nb_log_prob_softmax_scratch_rows(int64_t R);

// dlogits (R, G) += ..., dlog_theta (G) += ... (either may be null; scratch may be null when dlog_theta is).
void nb_log_prob_softmax_backward(float* dlogits, float* dlog_theta, float* scratch, const float* dout,
                                  const float* lse, const float* logits, const float* log_theta, const float* counts,
                                  const float* library, int64_t R, int64_t B, int64_t G);

}  // namespace gpo::cuda
