// The tiled effect distances (engine/eval/distances.h) against the plain definitions written here as three
// loops (the gene left out by `continue`), on shapes that cut tiles and gene blocks short, with the left-out gene
// at block edges, absent (-1) and out of range; the AVX2 and baseline builds and 1 or 2 threads give the same bits;
// the discrimination rank with ties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/eval/distances.h"
#include "engine/parallel.h"

using namespace gpo;
using namespace gpo::eval;

namespace {

struct Plain {
    std::vector<double> l1, l2, cosine;
};

Plain plain_distances(const std::vector<double>& pred, int64_t P, const std::vector<double>& real, int64_t Q,
                      int64_t G, const std::vector<int64_t>& skip) {
    Plain o;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < Q; ++j) {
            double l1 = 0, sq = 0, dot = 0, nu = 0, nv = 0;
            for (int64_t g = 0; g < G; ++g) {
                if (g == skip[(size_t)i]) continue;
                const double r = real[(size_t)(j * G + g)], p = pred[(size_t)(i * G + g)];
                l1 += std::fabs(r - p), sq += (r - p) * (r - p), dot += r * p, nu += r * r, nv += p * p;
            }
            o.l1.push_back(l1);
            o.l2.push_back(std::sqrt(sq));
            o.cosine.push_back(nu > 0 && nv > 0 ? std::clamp(1.0 - dot / std::sqrt(nu * nv), 0.0, 2.0) : 1.0);
        }
    return o;
}

std::vector<double> random_rows(int64_t n, int64_t G, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd(0.0, 1.0);
    std::vector<double> v((size_t)(n * G));
    for (double& x : v) x = nd(rng);
    return v;
}

}  // namespace

TEST(EffectDistances, EqualThePlainSumsOnShapesThatCutTilesAndBlocksShort) {
    // P = 7 (one full tile of 4 and one of 3), Q = 5, G = 1,100 (two blocks of 512 and one of 76, whose length is
    // not a multiple of the 4 lanes); left-out genes at 0, at a block edge (511, 512), the last gene, none, and out
    // of range.
    const int64_t P = 7, Q = 5, G = 1100;
    const std::vector<double> pred = random_rows(P, G, 1), real = random_rows(Q, G, 2);
    std::vector<double> zero_pred = pred;
    std::fill(zero_pred.begin() + 6 * G, zero_pred.end(), 0.0);  // row 6 predicts no change: cosine 1
    const std::vector<int64_t> skip = {0, 511, 512, G - 1, -1, G + 3, 17};
    for (const std::vector<double>* p : std::vector<const std::vector<double>*>{&pred, &zero_pred}) {
        const EffectDistances d = effect_distances(p->data(), P, real.data(), Q, G, skip, false);
        const Plain e = plain_distances(*p, P, real, Q, G, skip);
        ASSERT_EQ(d.l1.size(), e.l1.size());
        ASSERT_EQ(d.l2.size(), e.l2.size());
        for (size_t k = 0; k < e.l1.size(); ++k) {
            // The sums are the same terms in another order (4 interleaved partial sums per block): ~G rounding
            // errors of the ~1e3 total, far below 1e-10 relative.
            EXPECT_NEAR(d.l1[k], e.l1[k], 1e-10 * e.l1[k]) << k;
            EXPECT_NEAR(d.l2[k], e.l2[k], 1e-10 * e.l2[k]) << k;
            EXPECT_NEAR(d.cosine[k], e.cosine[k], 1e-10) << k;
        }
        const EffectDistances only = effect_distances(p->data(), P, real.data(), Q, G, skip, true);
        EXPECT_EQ(only.l1, d.l1);
        EXPECT_TRUE(only.l2.empty() && only.cosine.empty());
    }
    const EffectDistances z = effect_distances(zero_pred.data(), P, real.data(), Q, G, skip, false);
    for (int64_t j = 0; j < Q; ++j) EXPECT_EQ(z.cosine[(size_t)(6 * Q + j)], 1.0);
}

TEST(EffectDistances, LeavingOutAGeneRemovesExactlyItsTerms) {
    // One gene carries a huge difference; left out, the distances are those of the other genes exactly (the terms
    // are skipped, not subtracted from a total, so nothing of 1e12 remains in the rounding).
    const int64_t G = 9;
    std::vector<double> pred = {1e12, 1, 2, 3, 4, 5, 6, 7, 8}, real = {-1e12, 1, 2, 3, 4, 5, 6, 7, 9};
    const EffectDistances d = effect_distances(pred.data(), 1, real.data(), 1, G, {0}, false);
    EXPECT_EQ(d.l1[0], 1.0);
    EXPECT_EQ(d.l2[0], 1.0);
    // Only the left-out gene is non-zero in the real row: its norm without it is 0, so the cosine distance is 1.
    std::vector<double> spike(G, 0.0);
    spike[0] = 5.0;
    EXPECT_EQ(effect_distances(pred.data(), 1, spike.data(), 1, G, {0}, false).cosine[0], 1.0);
}

TEST(EffectDistances, SameBitsForBothBuildsAndAnyThreadCount) {
    const int64_t P = 13, G = 700;
    const std::vector<double> pred = random_rows(P, G, 3), real = random_rows(P, G, 4);
    std::vector<int64_t> skip(P);
    for (int64_t i = 0; i < P; ++i) skip[(size_t)i] = (i * 53) % G;
    const int threads = cpu_threads();
    set_cpu_threads(1);
    const EffectDistances one = effect_distances(pred.data(), P, real.data(), P, G, skip, false);
    set_cpu_threads(2);
    const EffectDistances two = effect_distances(pred.data(), P, real.data(), P, G, skip, false);
    force_distances_build("baseline");
    const EffectDistances base = effect_distances(pred.data(), P, real.data(), P, G, skip, false);
    force_distances_build("");
    set_cpu_threads(threads);
    for (const EffectDistances* o : {&two, &base}) {
        EXPECT_EQ(o->l1, one.l1);
        EXPECT_EQ(o->l2, one.l2);
        EXPECT_EQ(o->cosine, one.cosine);
    }
}

TEST(EffectDistances, DiscriminationRankKeepsTiesInRowOrder) {
    // Row 0: d00 = 2 is the second smallest -> rank 1 -> 1 - 1/3. Row 1: all equal -> ties before it: j = 0 -> rank
    // 1. Row 2: d22 = 0 the smallest -> 1.
    const std::vector<double> d = {2, 1, 3, 5, 5, 5, 4, 1, 0};
    const std::vector<double> s = discrimination_scores(d, 3);
    EXPECT_DOUBLE_EQ(s[0], 1.0 - 1.0 / 3);
    EXPECT_DOUBLE_EQ(s[1], 1.0 - 1.0 / 3);
    EXPECT_DOUBLE_EQ(s[2], 1.0);
    EXPECT_THROW(discrimination_scores(d, 2), std::exception);
}
