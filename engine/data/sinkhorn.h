// Entropic optimal transport (Sinkhorn, as POT's ot.sinkhorn defaults: uniform marginals, at most max_iter
// iterations, stop when the column-marginal error < tol, checked every 10 iterations) used to match each perturbed
// cell to a control cell (docs/model.md D7): cost = Euclidean distance / cost_scale, match(i) = argmax_j plan_ij.
#pragma once
#include <cstddef>
#include <vector>

namespace gpo::data {

// src (n, d) and dst (m, d) row-major. Returns n indices into dst; the final scalings u (n), v (m) when asked.
// This CPU version (double) is the reference; kernels/cuda/sinkhorn.h runs the same on the GPU in f32.
std::vector<int> sinkhorn_match(const std::vector<double>& src, const std::vector<double>& dst, int d, double reg,
                                double cost_scale, int max_iter = 1000, double tol = 1e-9,
                                std::vector<double>* u_out = nullptr, std::vector<double>* v_out = nullptr);

// The same match for several sources against one target (the cells of each label of a split against that split's
// controls): the target's norms are computed once and the sources' distances come from one GEMM per group of
// sources of up to 512 rows. Each result equals sinkhorn_match's for that source (tests/test_preprocess.cpp), except
// for a one-row source: its plan is uniform in exact arithmetic, so its argmax is decided by the GEMM's rounding.
// The sources are consecutive row ranges of `src` (rows_of[s] rows each, at least one).
std::vector<std::vector<int>> sinkhorn_match_many(const std::vector<double>& src, const std::vector<std::size_t>& rows_of,
                                                  const std::vector<double>& dst, int d, double reg,
                                                  double cost_scale, int max_iter = 1000, double tol = 1e-9);

// The row blocks in which n source cells are matched against m targets so that one block's kernel (rows × m
// doubles) fits in budget_bytes: the fewest blocks that fit, in order, their sizes within one of each other (one
// block when the whole kernel fits; single rows when not even one row does). A block's cells are matched against
// all m targets as their own Sinkhorn problem (preprocess.ot_block_mb, docs/config.md).
std::vector<std::size_t> match_blocks(std::size_t n, std::size_t m, double budget_bytes);

}  // namespace gpo::data
