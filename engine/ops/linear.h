// Tape ops for dense layers: matmul with transposes, bias add, and linear = x W^T + b (PyTorch weight layout).
#pragma once
#include "engine/tape.h"

namespace gpo::ops {

// C = op(A) op(B); A, B are 2-D. trans_a/trans_b transpose the operand before the product.
Var matmul(Tape& tape, Var a, Var b, bool trans_a = false, bool trans_b = false);
// y (rows, C) = x (rows, C) + b (C)
Var bias_add(Tape& tape, Var x, Var b);
// y (N, OUT) = x (N, IN) W^T + b; W is (OUT, IN), b is (OUT) or invalid Var for no bias.
Var linear(Tape& tape, Var x, Var W, Var b);

}  // namespace gpo::ops
