// Tape ops, reduction family: sum and mean over one axis or all elements, logsumexp over an axis (particles).
#pragma once
#include "engine/tape.h"

namespace gpo::ops {

Var sum(Tape& tape, Var x, int axis);   // removes `axis` (negative counts from the end)
Var mean(Tape& tape, Var x, int axis);
Var sum_all(Tape& tape, Var x);         // shape [] -> stored as shape {1}
Var mean_all(Tape& tape, Var x);
// mean(sigmoid(x)) over all elements, fused: no sigmoid tensor and no broadcast gradient are made, the backward
// adds into x's gradient directly (GPO-VAE's mask sparsity term over the T x T logits, docs/model.md §4.5). Equal
// to mean_all(sigmoid(x)); on the CPU bit for bit up to 2^20 elements, beyond that the double sum of 2^20-element
// chunks is added chunk by chunk (the same for any thread count).
Var sigmoid_mean(Tape& tape, Var x);
// log sum_i exp(x_i) over `axis`, numerically stable (max-shifted); gradient = softmax along the axis.
Var logsumexp(Tape& tape, Var x, int axis);

}  // namespace gpo::ops
