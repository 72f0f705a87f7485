// model.grn_target = "profile" (engine/data/grn_profile_target.h): the stand-in GRN targets of unmeasured perturbed
// genes on a hand-built dataset whose profiles are written out here in closed form.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/check.h"
#include "engine/data/grn_profile_target.h"

using namespace gpo;

namespace {

double L(double c) { return std::log1p(c); }

// Genes: column 0 is treatment A's gene (measured), 1-3 other genes, 4 a filler that brings every library to 20
// (= the normalisation target, so each value is log1p(count)). Treatments A (0, measured), B (1) and C (2) are
// perturbed; B and C are not measured. Standard deviations 1, so profiles are plain mean differences.
struct Cell {
    std::vector<float> counts;  // genes 0-3; the filler is added
    std::vector<int> treatments;
    uint8_t split = data::SPLIT_TRAIN, qc = 0;
};

data::Dataset dataset(const std::vector<Cell>& cells) {
    data::Dataset ds;
    ds.N = (int64_t)cells.size(), ds.G = 5, ds.T = 3, ds.n_perturbed = 3;
    ds.treatment_names = {"A", "B", "C"};
    ds.treatment_gene = {0, -1, -1};
    ds.gene_treatment = {0, -1, -1, -1, -1};
    ds.counts.rows = ds.N, ds.counts.cols = 5;
    ds.normalize_target = 20;
    ds.norm_std.assign(5, 1.f);
    ds.norm_mean.assign(5, 0.f);
    for (const Cell& c : cells) {
        float sum = 0;
        for (int g = 0; g < 4; ++g) {
            if (c.counts[g] != 0) ds.counts.indices.push_back(g), ds.counts.data.push_back(c.counts[g]);
            sum += c.counts[g];
        }
        ds.counts.indices.push_back(4), ds.counts.data.push_back(20 - sum);
        ds.counts.indptr.push_back((int64_t)ds.counts.indices.size());
        ds.library.push_back(20);
        ds.treatments.push_back(c.treatments);
        ds.split.push_back(c.split);
        ds.qc.push_back(c.qc);
    }
    ds.matched_control.assign((size_t)ds.N, 0);  // every cell matched to cell 0, a control
    return ds;
}

}  // namespace

TEST(GrnProfileTarget, StandInsAreProfileRegressionsScaledByTheOnTargetChange) {
    std::vector<Cell> cells = {
        {{3, 0, 0, 0}, {}},          // controls
        {{3, 0, 0, 0}, {}},
        {{3, 3, 1, 0}, {1}},         // B, twice
        {{3, 3, 1, 0}, {1}},
        {{0, 1, 0, 2}, {0}},         // A: its own gene knocked down
        {{3, 0, 0, 7}, {2}},         // C
    };
    // Cells that must not count: a QC-failing B cell, a C cell of the test split, a combination.
    std::vector<Cell> ignored = {{{3, 9, 9, 0}, {1}, data::SPLIT_TRAIN, 1},
                                 {{3, 9, 0, 0}, {2}, data::SPLIT_TEST, 0},
                                 {{0, 5, 5, 5}, {0, 1}, data::SPLIT_TRAIN, 0}};
    data::ProfileGrnTarget s = data::profile_grn_target(dataset(cells));
    std::vector<Cell> all = cells;
    all.insert(all.end(), ignored.begin(), ignored.end());
    data::ProfileGrnTarget s_all = data::profile_grn_target(dataset(all));
    EXPECT_EQ(s_all.value, s.value);

    // Profiles (mean minus control mean) over genes 0-4; the filler is 17 in a control.
    const double pA[5] = {-L(3), L(1), 0, L(2), L(17) - L(17)};
    const double pB[5] = {0, L(3), L(1), 0, L(13) - L(17)};
    const double pC[5] = {0, 0, 0, L(7), L(10) - L(17)};
    // Without A's own gene (column 0) when A is the regulator; B and C have no measured gene.
    const double nB = L(3) * L(3) + L(1) * L(1) + pB[4] * pB[4];
    const double nC = L(7) * L(7) + pC[4] * pC[4];
    const double a_AB = std::fabs(L(1) * L(3)) / nB, a_CB = std::fabs(pC[4] * pB[4]) / nB;
    const double a_AC = std::fabs(L(2) * L(7)) / nC, a_BC = std::fabs(pB[4] * pC[4]) / nC;
    // k: A is the only measured perturbed gene; its cell changes by |log1p(0) - log1p(3)| against its control.
    const double k = L(3);
    EXPECT_NEAR(s.on_target_change, k, 1e-6);  // Δ is float32 (Dataset::delta_row)
    EXPECT_EQ(s.columns, 2);
    ASSERT_EQ(s.value.size(), 9u);
    // Rows: regulator A, B, C; columns: target. Column A (measured) and the diagonal stay 0. float32 Δ: 1e-6.
    const double expect[9] = {0, a_AB * k, a_AC * k, 0, 0, a_BC * k, 0, a_CB * k, 0};
    for (int e = 0; e < 9; ++e) EXPECT_NEAR(s.value[e], expect[e], 1e-6) << "entry " << e;
    EXPECT_GT(a_AB, 0.3);  // the fixture is not degenerate: a clear stand-in edge A -> B
    EXPECT_LT(a_CB, 0.1);  // and a weak one C -> B, through the filler gene alone
}

TEST(GrnProfileTarget, EveryPerturbedGeneMeasuredGivesNoStandIn) {
    std::vector<Cell> cells = {{{3, 0, 0, 0}, {}}, {{0, 1, 0, 2}, {0}}};
    data::Dataset ds = dataset(cells);
    ds.T = 1, ds.n_perturbed = 1, ds.treatment_names = {"A"}, ds.treatment_gene = {0};
    EXPECT_TRUE(data::profile_grn_target(ds).value.empty());
}

TEST(GrnProfileTarget, NoMeasuredPerturbedGeneIsAClearError) {
    std::vector<Cell> cells = {{{3, 0, 0, 0}, {}}, {{3, 3, 1, 0}, {1}}};
    data::Dataset ds = dataset(cells);
    ds.treatment_gene = {-1, -1, -1}, ds.gene_treatment = {-1, -1, -1, -1, -1};
    try {
        data::profile_grn_target(ds);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("model.grn_target"), std::string::npos) << e.what();
    }
}
