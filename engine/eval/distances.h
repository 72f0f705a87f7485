// Distances from every predicted effect to every real effect, one gene left out per predicted row, and the
// discrimination score built on them (cell-eval's discrimination_score_{l1,l2,cosine}; the ATE table's
// ate_discrimination_l1). At the reference scale (1,546 perturbations x 8,563 genes) that is 2.4 million pairs of
// 8,563-gene rows per predictor, so the sums are tiled (a few predicted rows against a block of genes of every real
// row, kept in cache), vectorised (AVX2 when the CPU has it, the same bits either way) and shared over the engine's
// threads by predicted row (the same values for any thread count).
#pragma once
#include <cstdint>
#include <vector>

namespace gpo::eval {

// Pair (i, j) at [i * Q + j]: l1 = sum |r_j - p_i|, l2 = sqrt(sum (r_j - p_i)^2) and sklearn's cosine distance
// 1 - r_j.p_i / (|r_j| |p_i|) (1 when either is zero, clipped to [0, 2]), all sums over the genes g != skip[i]
// (skip[i] < 0 or >= G: none). pred (P, G) and real (Q, G) row-major. l2 and cosine stay empty when l1_only.
struct EffectDistances {
    std::vector<double> l1, l2, cosine;
};
EffectDistances effect_distances(const double* pred, int64_t P, const double* real, int64_t Q, int64_t G,
                                 const std::vector<int64_t>& skip, bool l1_only);

// For each predicted row i of a square distance table (P = Q): 1 - rank_i / P, rank_i the position of d(i, i) in
// the ascending order of d(i, .) with ties kept in row order (#{j: d_ij < d_ii} + #{j < i: d_ij == d_ii}).
std::vector<double> discrimination_scores(const std::vector<double>& d, int64_t P);

// Forces the baseline (non-AVX2) build ("baseline") or lets the CPU choose again (""): tests compare the two.
void force_distances_build(const char* build);

}  // namespace gpo::eval
