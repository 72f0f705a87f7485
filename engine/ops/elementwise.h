// Tape ops, element-wise family: arithmetic, activations, clamps with the reference's gradient semantics,
// broadcasting, reshape, row softmax, concatenation, log-standardise.
// Binary ops need equal shapes; use broadcast_to first (its backward sums over the broadcast dims).
#pragma once
#include <vector>

#include "engine/tape.h"

namespace gpo::ops {

Var add(Tape& tape, Var a, Var b);   // a + b (also the residual add)
Var sub(Tape& tape, Var a, Var b);   // a - b
Var mul(Tape& tape, Var a, Var b);   // a * b
Var scale(Tape& tape, Var x, double s);       // s * x
Var add_scalar(Tape& tape, Var x, double s);  // x + s
Var exp(Tape& tape, Var x);
Var log(Tape& tape, Var x);
Var sqrt(Tape& tape, Var x);
Var square(Tape& tape, Var x);
Var sigmoid(Tape& tape, Var x);
Var abs(Tape& tape, Var x);                     // d|x|/dx = sign(x), 0 at 0 (torch)
Var leaky_relu(Tape& tape, Var x, double negative_slope = 0.01);  // gradient 1 where x > 0, else slope (torch)
// clamp to [lo, hi]; gradient passes where lo <= x <= hi (inclusive, as torch.clamp), else 0.
Var clamp(Tape& tape, Var x, double lo, double hi);
// NaN -> nan, +inf -> posinf, -inf -> neginf; gradient passes where x is finite, else 0 (torch.nan_to_num). On the
// CPU an x without a non-finite value is returned as it is (the same Var: identity and gradient are exact).
Var nan_to_num(Tape& tape, Var x, double nan, double posinf, double neginf);
// Broadcast x to `shape` (numpy rules: x has the same number of dims, each 1 or equal); backward sums.
Var broadcast_to(Tape& tape, Var x, const Shape& shape);
Var reshape(Tape& tape, Var x, const Shape& shape);  // same numel; a view, gradient reshaped back
// Softmax over the last dim (rows of the tensor viewed as (rows, C)).
Var softmax_rows(Tape& tape, Var x);
// Concatenate along the last dim: every part viewed as (rows, C_i) with equal rows (leading dims must match).
Var concat_last(Tape& tape, const std::vector<Var>& parts);
// Log-standardise counts: y = (log(x + 1) - mean) / std per column (mean, std have shape (C)), then
// nan_to_num(1e-6, 1e6, 1e-6) as the reference. x (rows, C). Gradient flows to x only (mean/std are statistics).
Var log_standardize(Tape& tape, Var x, const Tensor& mean, const Tensor& std);

}  // namespace gpo::ops
