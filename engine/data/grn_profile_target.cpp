// Stand-in GRN targets for unmeasured perturbed genes from perturbation profiles (see grn_profile_target.h).
#include "engine/data/grn_profile_target.h"

#include <algorithm>
#include <cmath>

#include "engine/check.h"
#include "engine/data/stats.h"

namespace gpo::data {

namespace {

// Mean log1p(normalize_total) expression per group over the training split's QC-pass cells: group t < P for the
// cells carrying perturbed treatment t alone, group P for the controls. (P + 1, G) row-major, and the cell counts.
void group_means(const Dataset& ds, int64_t P, std::vector<double>& mean, std::vector<int64_t>& cells) {
    const int64_t G = ds.G;
    mean.assign((size_t)((P + 1) * G), 0.0);
    cells.assign((size_t)(P + 1), 0);
    RowBuffer buf;
    for (int64_t n = 0; n < ds.N; ++n) {
        if (ds.split[(size_t)n] != SPLIT_TRAIN || ds.qc[(size_t)n]) continue;
        const auto& tr = ds.treatments[(size_t)n];
        int64_t grp = -1;
        if (tr.empty()) grp = P;
        else if (tr.size() == 1 && tr[0] < P) grp = tr[0];
        const double lib = ds.library[(size_t)n];
        if (grp < 0 || !(lib > 0)) continue;
        ++cells[(size_t)grp];
        double* m = &mean[(size_t)(grp * G)];
        const CsrRow e = ds.counts.row(n, buf);
        for (int64_t k = 0; k < e.n; ++k) m[e.idx[k]] += std::log1p((double)e.val[k] * ds.normalize_target / lib);
    }
    for (int64_t g = 0; g <= P; ++g)
        if (cells[(size_t)g] > 0)
            for (int64_t c = 0; c < G; ++c) mean[(size_t)(g * G + c)] /= (double)cells[(size_t)g];
}

// k: the median over measured perturbed genes t (with training cells) of the median Δ_nt of the training cells
// perturbed at t alone.
double on_target_change(const Dataset& ds, int64_t P) {
    std::vector<std::vector<double>> per((size_t)P);
    std::vector<float> d((size_t)ds.T);
    for (int64_t n = 0; n < ds.N; ++n) {
        if (ds.split[(size_t)n] != SPLIT_TRAIN || ds.qc[(size_t)n]) continue;
        const auto& tr = ds.treatments[(size_t)n];
        if (tr.size() != 1 || tr[0] >= P || ds.treatment_gene[(size_t)tr[0]] < 0) continue;
        ds.delta_row(n, d.data());
        per[(size_t)tr[0]].push_back(d[(size_t)tr[0]]);
    }
    std::vector<double> medians;
    for (auto& v : per)
        if (!v.empty()) medians.push_back(stats::median(v));
    GPO_CHECK(!medians.empty(), "model.grn_target \"profile\": no measured perturbed gene has perturbed training "
                                "cells, so the on-target change that scales the stand-in targets cannot be measured "
                                "(use \"reference\")");
    return stats::median(medians);
}

}  // namespace

ProfileGrnTarget profile_grn_target(const Dataset& ds) {
    const int64_t T = ds.T, P = ds.n_perturbed, G = ds.G;
    ProfileGrnTarget out;
    std::vector<int64_t> unmeasured;
    for (int64_t j = 0; j < P; ++j)
        if (ds.treatment_gene[(size_t)j] < 0) unmeasured.push_back(j);
    if (unmeasured.empty()) return out;

    std::vector<double> mean;
    std::vector<int64_t> cells;
    group_means(ds, P, mean, cells);
    GPO_CHECK(cells[(size_t)P] > 0, "model.grn_target \"profile\": the training split has no QC-pass control cell");
    // Profiles in units of each gene's training standard deviation.
    std::vector<double> prof((size_t)(P * G), 0.0);
    for (int64_t t = 0; t < P; ++t) {
        if (cells[(size_t)t] == 0) continue;
        for (int64_t g = 0; g < G; ++g)
            prof[(size_t)(t * G + g)] =
                (mean[(size_t)(t * G + g)] - mean[(size_t)(P * G + g)]) / (double)ds.norm_std[(size_t)g];
    }
    out.on_target_change = on_target_change(ds, P);
    out.value.assign((size_t)(T * T), 0.0);
    for (int64_t j : unmeasured) {
        if (cells[(size_t)j] == 0) continue;
        const double* pj = &prof[(size_t)(j * G)];
        double jj = 0;
        for (int64_t g = 0; g < G; ++g) jj += pj[g] * pj[g];
        if (!(jj > 0)) continue;
        ++out.columns;
        for (int64_t t = 0; t < P; ++t) {
            if (t == j || cells[(size_t)t] == 0) continue;
            const double* pt = &prof[(size_t)(t * G)];
            double tj = 0, jj_t = jj;
            for (int64_t g = 0; g < G; ++g) tj += pt[g] * pj[g];
            const int own = ds.treatment_gene[(size_t)t];  // t's own gene: its knock-down, not j's program
            if (own >= 0) tj -= pt[own] * pj[own], jj_t -= pj[own] * pj[own];
            const double a = jj_t > 0 ? std::min(std::fabs(tj) / jj_t, 1.0) : 0.0;  // |.|: repression too
            out.value[(size_t)(t * T + j)] = a * out.on_target_change;
        }
    }
    return out;
}

}  // namespace gpo::data
