// Evaluation metrics (engine/eval/metrics.h) against values worked out by hand in the comments: the ATE transform
// and matrix, Pearson, R², top-k with ties, Jaccard, the pooled top-k ATE metrics, GEARS per-perturbation metrics,
// cell-eval discrimination score and overlap@k, Mann-Whitney U with ties, 1-D Wasserstein with unequal sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/check.h"
#include "engine/eval/metrics.h"

using namespace gpo;
using namespace gpo::eval;

// Tolerance for closed-form values computed in double: a few ulps of the operands, far below any real error.
static const double kTol = 1e-12;

TEST(MetricsAte, TransformRowByHand) {
    // x = [1, 3, 0, 4], sum 8: 1e4 x / 8 = [1250, 3750, 0, 5000] -> log2(1 + .)
    double x[4] = {1, 3, 0, 4}, out[4];
    ate_transform_row(x, 4, out);
    EXPECT_NEAR(out[0], std::log(1251.0) / std::log(2.0), kTol);
    EXPECT_NEAR(out[1], std::log(3751.0) / std::log(2.0), kTol);
    EXPECT_EQ(out[2], 0.0);
    EXPECT_NEAR(out[3], std::log(5001.0) / std::log(2.0), kTol);
    double z[3] = {0, 0, 0}, oz[3] = {7, 7, 7};  // an empty cell maps to zeros (the reference would give NaN)
    ate_transform_row(z, 3, oz);
    EXPECT_EQ(oz[0], 0.0);
    EXPECT_EQ(oz[2], 0.0);
}

TEST(MetricsAte, TransformRowEqualsTheFormulaBitForBitWithRepeatedCounts) {
    // Repeated small counts (served from the row's table), counts past the table (64, 1000), fractions, a
    // negative value and zeros: every value equals log2(1 + 1e4 x / sum) computed here, to the bit, and a second
    // row with another sum does not reuse the first row's values.
    const std::vector<double> a = {1, 2, 1, 0, 63, 64, 1000, 2.5, 1, 2, 0, 3, 3, 63, 0.25, -1e-4, 7};
    for (double scale : {1.0, 3.0}) {
        std::vector<double> x = a, out(a.size());
        for (double& v : x) v = v == 0.0 || v != std::floor(v) ? v : v * scale;
        double sum = 0;
        for (double v : x) sum += v;
        ate_transform_row(x.data(), (int64_t)x.size(), out.data());
        for (size_t g = 0; g < x.size(); ++g) {
            const double want = x[g] == 0.0 ? 0.0 : std::log2(1.0 + 1e4 * x[g] / sum);
            EXPECT_EQ(out[g], want) << "x " << x[g] << ", scale " << scale;
        }
    }
}

TEST(MetricsAte, GroupMeansAndAteMatrix) {
    // rows [1,2] [3,5] [5,6] [7,10] in groups 0, 1, 0, -1 (ignored); group 2 has no row.
    // group 0 = mean([1,2],[5,6]) = [3,4]; group 1 = [3,5]; control mean [1,1] -> ATE [[2,3],[2,4]].
    Mat X(4, 2);
    X.data = {1, 2, 3, 5, 5, 6, 7, 10};
    std::vector<int64_t> counts;
    Mat m = group_means(X, {0, 1, 0, -1}, 3, &counts);
    EXPECT_EQ(counts, (std::vector<int64_t>{2, 1, 0}));
    EXPECT_DOUBLE_EQ(m.at(0, 0), 3);
    EXPECT_DOUBLE_EQ(m.at(0, 1), 4);
    EXPECT_TRUE(std::isnan(m.at(2, 0)));
    Mat two(2, 2);
    two.data = {m.at(0, 0), m.at(0, 1), m.at(1, 0), m.at(1, 1)};
    Mat A = ate_matrix(two, {1, 1});
    EXPECT_EQ(A.data, (std::vector<double>{2, 3, 2, 4}));
    EXPECT_THROW(ate_matrix(two, {1, 1, 1}), Error);
    EXPECT_THROW(group_means(X, {0, 1, 5, 0}, 3), Error);
}

TEST(MetricsBasic, PearsonByHand) {
    // a = [1,2,3,4], b = [2,4,5,9]: centred a = [-1.5,-.5,.5,1.5], b = [-3,-1,0,4];
    // sab = 4.5 + .5 + 0 + 6 = 11, saa = 5, sbb = 26 -> r = 11 / sqrt(130)
    EXPECT_NEAR(pearson({1, 2, 3, 4}, {2, 4, 5, 9}), 11.0 / std::sqrt(130.0), kTol);
    EXPECT_NEAR(pearson({1, 2, 3}, {3, 2, 1}), -1.0, kTol);
    EXPECT_TRUE(std::isnan(pearson({1, 2, 3}, {5, 5, 5})));  // constant side: NaN, as scipy
    EXPECT_THROW(pearson({1, 2}, {1, 2, 3}), Error);
}

TEST(MetricsBasic, R2ByHandIncludingNegative) {
    // y = [1,2,3,4] (mean 2.5, SS_tot = 5); pred [1,2,3,5]: SS_res = 1 -> 0.8
    EXPECT_NEAR(r2_score({1, 2, 3, 4}, {1, 2, 3, 5}), 0.8, kTol);
    // pred [4,3,2,1]: SS_res = 9 + 1 + 1 + 9 = 20 -> 1 - 20/5 = -3
    EXPECT_NEAR(r2_score({1, 2, 3, 4}, {4, 3, 2, 1}), -3.0, kTol);
    // constant y_true: sklearn's force_finite gives 1 for a perfect fit, 0 otherwise
    EXPECT_EQ(r2_score({2, 2}, {2, 2}), 1.0);
    EXPECT_EQ(r2_score({2, 2}, {1, 2}), 0.0);
}

TEST(MetricsBasic, TopKWithTies) {
    // |v| = .5, 3, 3, 1, .5, 2: 3 (index 1), 3 (index 2), 2 (5), 1 (3), .5 (0), .5 (4)
    std::vector<double> v = {0.5, -3, 3, 1, -0.5, 2};
    EXPECT_EQ(top_k_indices(v.data(), 6, 4), (std::vector<int64_t>{1, 2, 5, 3}));
    EXPECT_EQ(top_k_indices(v.data(), 6, 5), (std::vector<int64_t>{1, 2, 5, 3, 0}));
    EXPECT_EQ(top_k_indices(v.data(), 6, 10), (std::vector<int64_t>{1, 2, 5, 3, 0, 4}));  // k capped at n
    EXPECT_TRUE(top_k_indices(v.data(), 6, 0).empty());
}

TEST(MetricsBasic, JaccardAtK) {
    // {1,2,3} vs {2,3,4,5}: intersection 2, union 5
    EXPECT_NEAR(jaccard({1, 2, 3}, {5, 4, 3, 2}), 0.4, kTol);
    EXPECT_EQ(jaccard({}, {}), 1.0);
    // k = 2. Row 0: top2 |A| = {0,1}, top2 |B| = {2,1} -> 1/3. Row 1: {3,2} and {3,2} -> 1. Mean 2/3.
    Mat A(2, 4), B(2, 4);
    A.data = {3, 2, 1, 0, 0, 1, 2, 3};
    B.data = {1, 2, 3, 0, 0, 1, -2, -3};
    std::vector<double> j = jaccard_at_k(A, B, 2);
    EXPECT_NEAR(j[0], 1.0 / 3.0, kTol);
    EXPECT_NEAR(j[1], 1.0, kTol);
    EXPECT_NEAR(mean(j), 2.0 / 3.0, kTol);
}

TEST(MetricsAte, TopKPooledMetricsByHand) {
    // A = [[1,-4,2],[0,3,-1]], B = [[2,-3,2],[1,1,0]], top_k = 2 by |A_t|: row 0 -> genes 1, 2; row 1 -> 1, 2.
    // pooled a = [-4,2,3,-1], b = [-3,2,1,0]; both means 0; sab = 12+4+3+0 = 19, saa = 30, sbb = 14
    // -> r = 19 / sqrt(420); SS_res = 1+0+4+1 = 6 -> R² = 1 - 6/30 = 0.8.
    // Jaccard@2: row 0 top2 |A| {1,2}, top2 |B| = |[2,3,2]| -> {1,0} (tie 2 vs 2 keeps index 0) -> 1/3;
    // row 1: {1,2} vs |[1,1,0]| -> {0,1} -> 1/3. Jaccard@3 = 1 (all genes).
    Mat A(2, 3), B(2, 3);
    A.data = {1, -4, 2, 0, 3, -1};
    B.data = {2, -3, 2, 1, 1, 0};
    AteMetrics m = ate_metrics(A, B, 2, 2, 3);
    EXPECT_NEAR(m.pearson_top, 19.0 / std::sqrt(420.0), kTol);
    EXPECT_NEAR(m.r2_top, 0.8, kTol);
    EXPECT_NEAR(m.jaccard_k1, 1.0 / 3.0, kTol);
    EXPECT_NEAR(m.jaccard_k2, 1.0, kTol);
    // all entries: a = [1,-4,2,0,3,-1] (mean 1/6), b = [2,-3,2,1,1,0] (mean 1/2):
    // sab = sum a b - 6 (1/6)(1/2) = (2+12+4+0+3+0) - 0.5 = 20.5; saa = 31 - 1/6; sbb = 19 - 1.5 = 17.5
    EXPECT_NEAR(m.pearson, 20.5 / std::sqrt((31.0 - 1.0 / 6.0) * 17.5), kTol);
    // SS_res = 1+1+0+1+4+1 = 8; SS_tot = 31 - 1/6 -> R² = 1 - 8 / (185/6)
    EXPECT_NEAR(m.r2, 1.0 - 8.0 / (185.0 / 6.0), kTol);
}

TEST(MetricsGears, PerturbationMetricsByHand) {
    // control c = [1,1,1]; pred = [[2,3,1],[1,1,1]], true = [[2,4,1],[0,2,1]]; DE genes {0,1} and {1,2}.
    Mat pred(2, 3), truth(2, 3);
    pred.data = {2, 3, 1, 1, 1, 1};
    truth.data = {2, 4, 1, 0, 2, 1};
    PerturbationMetrics m = perturbation_metrics(pred, truth, {1, 1, 1}, {{0, 1}, {1, 2}});
    // Row 0: mse = (0 + 1 + 0)/3. Pearson([2,3,1],[2,4,1]): centred [0,1,-1], [-1/3,5/3,-4/3]; sab = 3, saa = 2,
    // sbb = 42/9 -> 3 / sqrt(2 * 42/9). Deltas [1,2,0], [1,3,0] are shifts of the same vectors: same r.
    double r0 = 3.0 / std::sqrt(2.0 * 42.0 / 9.0);
    EXPECT_NEAR(m.mse[0], 1.0 / 3.0, kTol);
    EXPECT_NEAR(m.pearson[0], r0, kTol);
    EXPECT_NEAR(m.pearson_delta[0], r0, kTol);
    // DE genes 0, 1: mse ((2-2)² + (3-4)²)/2 = 0.5; Pearson([2,3],[2,4]) = 1; deltas [1,2],[1,3] -> 1
    EXPECT_NEAR(m.mse_de[0], 0.5, kTol);
    EXPECT_NEAR(m.pearson_de[0], 1.0, kTol);
    EXPECT_NEAR(m.pearson_delta_de[0], 1.0, kTol);
    // Row 1: pred constant -> every correlation NaN -> 0 (GEARS); mse (1 + 1 + 0)/3; mse_de ((1-2)² + 0)/2
    EXPECT_NEAR(m.mse[1], 2.0 / 3.0, kTol);
    EXPECT_EQ(m.pearson[1], 0.0);
    EXPECT_EQ(m.pearson_delta[1], 0.0);
    EXPECT_EQ(m.pearson_de[1], 0.0);
    EXPECT_NEAR(m.mse_de[1], 0.5, kTol);
    EXPECT_THROW(perturbation_metrics(pred, truth, {1, 1, 1}, {{0, 7}, {1}}), Error);
}

TEST(MetricsCellEval, DiscriminationScoreL1ByHand) {
    // real effects e0, e1, e2 (unit vectors); P = 3, score = 1 - rank / 3.
    Mat real(3, 3), pred(3, 3);
    real.data = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    // p0 = [.9,.1,0]: d = [.1+.1, .9+.9, .9+.1+1] = [.2, 1.8, 2.0] -> rank 0 -> 1
    // p1 = [5,1,0]:   d = [4+1, 5+0, 5+1+1] = [5, 5, 7]; tie with row 0 which sorts first -> rank 1 -> 2/3
    // p2 = [0,0,0]:   d = [1, 1, 1] -> every row ties, p2 is last -> rank 2 -> 1/3
    pred.data = {0.9, 0.1, 0, 5, 1, 0, 0, 0, 0};
    std::vector<double> s = discrimination_score_l1(pred, real, {-1, -1, -1});
    EXPECT_NEAR(s[0], 1.0, kTol);
    EXPECT_NEAR(s[1], 2.0 / 3.0, kTol);
    EXPECT_NEAR(s[2], 1.0 / 3.0, kTol);
    // Excluding column 0 for p1 (its target gene): d = [0+1+0, 1-1=0, 1+1] = [1, 0, 2] -> rank 0 -> 1
    s = discrimination_score_l1(pred, real, {-1, 0, -1});
    EXPECT_NEAR(s[1], 1.0, kTol);
}

TEST(MetricsCellEval, OverlapAtK) {
    std::vector<int64_t> real = {5, 3, 9, 1}, pred = {3, 7, 5, 2, 1};
    EXPECT_NEAR(overlap_at_k(real, pred, 2), 0.5, kTol);        // {5,3} vs {3,7}
    EXPECT_NEAR(overlap_at_k(real, pred, 3), 2.0 / 3.0, kTol);  // {5,3,9} vs {3,7,5}
    EXPECT_NEAR(overlap_at_k(real, pred, 0), 0.5, kTol);        // N = 4: {5,3,9,1} vs {3,7,5,2}
    EXPECT_NEAR(overlap_at_k(real, pred, 10), 0.5, kTol);       // k capped at |real| = 4
    EXPECT_NEAR(precision_at_k(real, pred, 0), 0.6, kTol);      // k = |pred| = 5: {5,3,1} of 5
    EXPECT_EQ(overlap_at_k({}, pred, 5), 0.0);
    // fdr < .05: genes 0, 2, 3, 4 with |lfc| 1, 2, .5, 2 -> 2, 4 (tie, index order), 0, 3
    EXPECT_EQ(ranked_significant({0.01, 0.2, 0.04, 0.001, 0.03}, {1, 5, -2, 0.5, 2}),
              (std::vector<int64_t>{2, 4, 0, 3}));
}

// Two-sided p of the asymptotic MWU from z, written independently of the library: 2 (1 - Phi(z)) = erfc(z / √2).
static double p_from_z(double z) { return std::min(1.0, std::erfc(z / std::sqrt(2.0))); }

TEST(MetricsStats, MannWhitneyWithTiesByHand) {
    // x = [1,2,2,3], y = [2,3,4,5,5]; merged: 1 | 2 2 2 | 3 3 | 4 | 5 5 with ranks 1 | 3 3 3 | 5.5 5.5 | 7 | 8.5 8.5
    // R1 = 1 + 3 + 3 + 5.5 = 12.5, U1 = 12.5 - 4*5/2 = 2.5, U2 = 20 - 2.5 = 17.5, U = 17.5, mu = 10
    // ties: (27-3) + (8-2) + (8-2) = 36; n(n-1) = 72; sigma = sqrt(20/12 * (10 - 36/72)) = sqrt(95/6)
    // z = (17.5 - 10 - 0.5) / sigma; scipy 1.17 gives p = 0.07854585095119067
    MwuResult r = mann_whitney_u({1, 2, 2, 3}, {2, 3, 4, 5, 5});
    double z = 7.0 / std::sqrt(95.0 / 6.0);
    EXPECT_NEAR(r.u, 2.5, kTol);
    EXPECT_NEAR(r.z, z, kTol);
    EXPECT_NEAR(r.p, p_from_z(z), kTol);
    EXPECT_NEAR(r.p, 0.07854585095119067, 1e-12);  // scipy value, printed to 16 digits
    // swapped samples: U1 becomes 17.5, same p
    MwuResult s = mann_whitney_u({5, 4, 3, 5, 2}, {3, 2, 1, 2});
    EXPECT_NEAR(s.u, 17.5, kTol);
    EXPECT_NEAR(s.p, r.p, kTol);
    // no ties: x = [.5,1.5,9], y = [2,3,4,7]: R1 = 1+2+7 = 10, U1 = 4, U = 8, mu = 6, sigma = sqrt(8)
    // z = 1.5 / sqrt(8); scipy: 0.5958830905651777
    MwuResult t = mann_whitney_u({0.5, 1.5, 9}, {2, 3, 4, 7});
    EXPECT_NEAR(t.u, 4.0, kTol);
    EXPECT_NEAR(t.p, p_from_z(1.5 / std::sqrt(8.0)), kTol);
    EXPECT_NEAR(t.p, 0.5958830905651777, 1e-12);
    // every value tied: sigma = 0 -> p = 1 (scipy: 1.0), U1 = n1 n2 / 2 = 3
    MwuResult u = mann_whitney_u({1, 1}, {1, 1, 1});
    EXPECT_EQ(u.p, 1.0);
    EXPECT_NEAR(u.u, 3.0, kTol);
    EXPECT_THROW(mann_whitney_u({}, {1.0}), Error);
}

TEST(MetricsStats, WassersteinUnequalSizes) {
    // u = [0,2,4], v = [1,3]: |F_u - F_v| on [0,1) 1/3, [1,2) |1/3-1/2|, [2,3) |2/3-1/2|, [3,4) |2/3-1|
    // = 1/3 + 1/6 + 1/6 + 1/3 = 1 (scipy: 1.0)
    EXPECT_NEAR(wasserstein_1d({4, 0, 2}, {3, 1}), 1.0, kTol);
    // ties: u = [1,1,2], v = [1,3]: [1,2) |2/3 - 1/2| = 1/6, [2,3) |1 - 1/2| = 1/2 -> 2/3 (scipy: 0.666...)
    EXPECT_NEAR(wasserstein_1d({1, 1, 2}, {1, 3}), 2.0 / 3.0, kTol);
    // identical samples: 0; a shifted copy: the shift
    EXPECT_NEAR(wasserstein_1d({1, 5, 2}, {2, 1, 5}), 0.0, kTol);
    EXPECT_NEAR(wasserstein_1d({1, 5, 2}, {3.5, 7.5, 4.5}), 2.5, kTol);
    EXPECT_THROW(wasserstein_1d({}, {1.0}), Error);
}
