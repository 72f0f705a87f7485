// GRN targets for perturbed genes whose expression is not measured (model.grn_target = "profile", docs/quality.md).
//
// The GRN loss (docs/model.md §4.4) regresses row t of the K-hop scores onto Δ − τ, where Δ_nj is the cell's change
// of gene j against its matched control. For a perturbed gene j that is not among the measured genes Δ_nj is 0, so
// every edge t → j is pulled to −τ whatever the data say. Here such a column gets a value derived from what the
// data do show: j's own downstream program. If t regulates j, perturbing t partly reproduces the effect of
// perturbing j on the measured genes (with the sign of the edge: a repressor's loss raises j), so
//
//   a_tj = min(|<p_t, p_j>| / <p_j, p_j>, 1)
//
// (the regression coefficient of t's perturbation profile on j's; p_t = mean log1p(normalize_total) expression of
// the training split's QC-pass cells carrying t alone minus that of its QC-pass controls, each gene divided by its
// training standard deviation, over the measured genes except t's own), and the stand-in change is a_tj · k, where
// k is the typical on-target change of a measured perturbed gene (the median over those genes of the median Δ of the
// cells perturbed at that gene). a = 0 (no shared program) gives Δ = 0, the reference's value. On simulated data
// the a_tj alone rank the true edges into unmeasured genes at AUROC 0.78-0.90 (docs/quality.md); the signed
// coefficient clipped at 0 only at 0.46-0.59, since half the simulated edges repress.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/data/dataset.h"

namespace gpo::data {

struct ProfileGrnTarget {
    // (T * T) row-major: value[t * T + j] is the stand-in Δ for a cell perturbed at t in column j; non-zero only in
    // the columns of unmeasured perturbed genes (never on the diagonal).
    std::vector<double> value;
    double on_target_change = 0;  // k
    int64_t columns = 0;          // unmeasured perturbed genes with a profile
};

// Throws naming model.grn_target when no measured perturbed gene has perturbed cells (k cannot be calibrated) or
// the training split has no QC-pass control cell. Returns an empty `value` when every perturbed gene is measured.
ProfileGrnTarget profile_grn_target(const Dataset& ds);

}  // namespace gpo::data
