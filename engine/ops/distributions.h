// Tape ops, distributions family: Gaussian reparameterised sample, log-density and KL; Bernoulli log-pmf;
// the relaxed-Bernoulli straight-through mask sample (docs/model.md §3, docs/model.md D12); the library-size
// negative-binomial (Gamma-Poisson) log-likelihood fused with the softmax (docs/model.md §2).
// Randomness is always an input tensor (drawn by engine/rng.h), so CPU and CUDA see the same noise.
#pragma once
#include "engine/tape.h"

namespace gpo::ops {

// z = mu + scale * eps (all the same shape; eps is a constant noise tensor).
Var gaussian_sample(Tape& tape, Var mu, Var scale, const Tensor& eps);
// Element-wise log N(x; mu, scale^2) (same shapes).
Var gaussian_log_prob(Tape& tape, Var x, Var mu, Var scale);
// Element-wise log N(x; 0, 1).
Var std_normal_log_prob(Tape& tape, Var x);
// Element-wise KL( N(mu1, s1^2) || N(mu2, s2^2) ) (exact; same shapes).
Var gaussian_kl(Tape& tape, Var mu1, Var s1, Var mu2, Var s2);

// Element-wise Bernoulli log-pmf of `value` (0/1, may carry a straight-through gradient) under `logits`.
// clamp_probs = true (the guide, pyro's clamp): p = clamp(sigmoid(logits), eps, 1-eps), log q = v log p +
// (1-v) log(1-p), gradient to value = log p - log(1-p) and to logits through p (zero where clamped).
// clamp_probs = false (the prior): v * logits - softplus(logits).
// `logits` may be broadcast: shape equal to value's, or value's trailing dims (e.g. (T,T) for (P,T,T)).
Var bernoulli_log_prob(Tape& tape, Var value, Var logits, bool clamp_probs);

// Straight-through relaxed-Bernoulli mask sample (pyro RelaxedBernoulliStraightThrough, docs/model.md §3):
//   W' = nan_to_num(W, 0, 0, 0); u' = clamp(u, eps, 1-eps); s = sigmoid((W' + log u' - log(1-u')) / temperature);
//   s' = clamp(s, eps, 1-eps); M = round_half_even(s')  (eps = 1.1920929e-7, float32 epsilon)
// Backward: dW += sum over particles of dM * s(1-s)/temperature where eps <= s <= 1-eps and W finite.
// logits (T, C); u (P, T, C) uniform noise -> M (P, T, C).
Var relaxed_bernoulli_st(Tape& tape, Var logits, const Tensor& u, double temperature);

// Per-row NB log-likelihood with the library-size softmax mean (docs/model.md §2), fused:
//   rho = softmax(logits[r, :]); mu = library[b] * rho; c = exp(log_theta); r_ = max(c / (mu + 1e-4), 1e-6)
//   out[r] = sum_g lgamma(x+c) - lgamma(c) - lgamma(x+1) + c log r_ - (c + x) log(1 + r_)
// logits (R, G) with R = P * B (rows r use counts row r % B); log_theta (G); counts (B, G) and library (B)
// constants on the same device. Returns (R). Gradients to logits and log_theta.
Var nb_log_prob_softmax(Tape& tape, Var logits, Var log_theta, const Tensor& counts, const Tensor& library);

}  // namespace gpo::ops
