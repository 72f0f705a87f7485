// Tape ops, reduction family: sum and mean over one axis or all elements, logsumexp over an axis (particles).
#pragma once
#include "engine/tape.h"

namespace gpo::ops {

Var sum(Tape& tape, Var x, int axis);   // removes `axis` (negative counts from the end)
Var mean(Tape& tape, Var x, int axis);
Var sum_all(Tape& tape, Var x);         // shape [] -> stored as shape {1}
Var mean_all(Tape& tape, Var x);
// log sum_i exp(x_i) over `axis`, numerically stable (max-shifted); gradient = softmax along the axis.
Var logsumexp(Tape& tape, Var x, int axis);

}  // namespace gpo::ops
