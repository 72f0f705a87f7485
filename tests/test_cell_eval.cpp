// cell-eval's expression metrics on hand-made inputs (the comparison with cell-eval itself on real exported cells is
// Cli.CellEvalAndGearsOnTheExportedPairEqualTheReport): scanpy's normalize_total target and zero rows, and each metric's
// formula, including sklearn's cosine distance for a zero effect and the order of tied distances.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/eval/cell_eval.h"

using namespace gpo::eval;

TEST(CellEval, NormlogPseudobulkUsesTheMedianOfNonZeroTotals) {
    LabelledCells c;
    c.labels = {"A", "A", "ctrl", "ctrl", "ctrl"};
    // rows: [1, 1] (total 2), [4, 0] (4), [0, 6] (6), [0, 0] (0: stays 0), [3, 5] (8)
    c.counts.rows = 5;
    c.counts.cols = 2;
    c.counts.indptr = {0, 2, 3, 4, 4, 6};
    c.counts.indices = {0, 1, 0, 1, 0, 1};
    c.counts.data = {1, 1, 4, 6, 3, 5};
    auto pb = normlog_pseudobulk(c);
    const double m = 0.5 * (4 + 6);  // median of the non-zero totals {2, 4, 6, 8}
    EXPECT_NEAR(pb["A"][0], (std::log1p(1 * m / 2) + std::log1p(4 * m / 4)) / 2, 1e-12);
    EXPECT_NEAR(pb["A"][1], std::log1p(1 * m / 2) / 2, 1e-12);
    EXPECT_NEAR(pb["ctrl"][0], std::log1p(3 * m / 8) / 3, 1e-12);  // the zero row counts in the mean
    EXPECT_NEAR(pb["ctrl"][1], (std::log1p(6 * m / 6) + std::log1p(5 * m / 8)) / 3, 1e-12);
}

TEST(CellEval, MetricFormulasOnHandValues) {
    // Genes: X, A, B. Real effects: A -> (1, 0, 2), B -> (0, 3, 1); predicted: A -> (2, 0, 4), B -> (1, 1, 1).
    std::map<std::string, std::vector<double>> real = {{"ctrl", {1, 1, 1}}, {"A", {2, 1, 3}}, {"B", {1, 4, 2}}};
    std::map<std::string, std::vector<double>> pred = {{"ctrl", {0, 0, 0}}, {"A", {2, 0, 4}}, {"B", {1, 1, 1}}};
    CellEvalMetrics r = cell_eval_metrics(real, pred, "ctrl", {"X", "A", "B"});
    ASSERT_EQ(r.perts, (std::vector<std::string>{"A", "B"}));
    EXPECT_NEAR(r.per_pert["pearson_delta"][0], 1.0, 1e-12);  // (2, 0, 4) is 2 x (1, 0, 2)
    EXPECT_NEAR(r.per_pert["mse"][0], (0 + 1 + 1) / 3.0, 1e-12);
    EXPECT_NEAR(r.per_pert["mae_delta"][1], (1 + 2 + 0) / 3.0, 1e-12);
    // A's predicted effect without gene "A": (2, 4); real effects without it: A (1, 2), B (0, 1): L1 3 vs 5 -> rank 0.
    EXPECT_EQ(r.per_pert["discrimination_score_l1"][0], 1.0);
    // B's predicted effect without gene "B": (1, 1); real: A (1, 0) L1 1, B (0, 3) L1 3 -> rank 1 -> 1 - 1/2.
    EXPECT_EQ(r.per_pert["discrimination_score_l1"][1], 0.5);
    EXPECT_NEAR(r.mean["mse"], (r.per_pert["mse"][0] + r.per_pert["mse"][1]) / 2, 1e-12);

    // A constant prediction (zero effects): cosine distance 1 to everything (sklearn), ties in perturbation order.
    std::map<std::string, std::vector<double>> flat = {{"ctrl", {0, 0, 0}}, {"A", {0, 0, 0}}, {"B", {0, 0, 0}}};
    CellEvalMetrics z = cell_eval_metrics(real, flat, "ctrl", {"X", "A", "B"});
    EXPECT_EQ(z.per_pert["discrimination_score_cosine"], (std::vector<double>{1.0, 0.5}));
    EXPECT_TRUE(std::isnan(z.per_pert["pearson_delta"][0]));  // scipy's pearsonr of a constant: NaN
}
