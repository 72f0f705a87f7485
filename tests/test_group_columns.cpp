// Rank sums of sparse group columns (engine/eval/group_columns.h) against the dense merge: the Mann-Whitney U and
// the tie-free Wilcoxon p-values from GroupColumns equal those of the sorted dense samples bit for bit, on samples
// with many zeros and tied non-zero values (the case of normalised counts).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "engine/data/stats.h"
#include "engine/eval/group_columns.h"
#include "engine/eval/metrics.h"

using namespace gpo;
using namespace gpo::eval;

namespace {

// groups x cells x genes of values in {0, 0, 0, 1, 2, 2.5, 3, ...}: zeros and ties in every column.
struct Dense {
    std::vector<std::vector<std::vector<double>>> v;  // v[group][gene] (unsorted)
};

Dense fill(GroupColumns& cols, const std::vector<int>& cells_per_group, int genes, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pick(0, 9);
    const double levels[10] = {0, 0, 0, 0, 1, 2, 2, 2.5, 3, 7.25};
    Dense d;
    d.v.assign(cells_per_group.size(), std::vector<std::vector<double>>(genes));
    for (size_t g = 0; g < cells_per_group.size(); ++g)
        for (int c = 0; c < cells_per_group[g]; ++c) {
            cols.add_cell((int64_t)g);
            for (int k = 0; k < genes; ++k) {
                const double x = levels[pick(rng)];
                d.v[g][k].push_back(x);
                cols.add_value((int64_t)g, k, x);  // zeros too: add_value drops them
            }
        }
    cols.finish();
    return d;
}

}  // namespace

TEST(GroupColumns, RankTestsEqualTheDenseMerge) {
    const std::vector<int> cells = {1, 2, 7, 30, 400};  // the last group is the control
    const int genes = 6;
    GroupColumns cols((int64_t)cells.size(), genes);
    Dense d = fill(cols, cells, genes, 11);
    const int64_t ctrl = (int64_t)cells.size() - 1;
    int compared = 0;
    for (int64_t a = 0; a < ctrl; ++a)
        for (int k = 0; k < genes; ++k) {
            std::vector<double> x = d.v[(size_t)a][k], y = d.v[(size_t)ctrl][k];
            std::sort(x.begin(), x.end());
            std::sort(y.begin(), y.end());
            const RankSum rs = rank_sum(cols, a, ctrl, k, tie_term(cols, ctrl, k));
            const MwuResult sparse = mann_whitney_u_from_ranks((double)rs.n1, (double)rs.n2, rs.r1, rs.tie);
            const MwuResult dense = mann_whitney_u_sorted(x, y);
            EXPECT_EQ(sparse.u, dense.u) << "group " << a << " gene " << k;
            EXPECT_EQ(sparse.p, dense.p) << "group " << a << " gene " << k;
            EXPECT_EQ(stats::wilcoxon_ranksum_p_from_rank_sum(rs.r1, (double)rs.n1, (double)rs.n2),
                      stats::wilcoxon_ranksum_p_sorted(x, y));
            double s = 0;
            for (double v : x) s += v;
            EXPECT_EQ(cols.mean(a, k), s / (double)x.size());
            ++compared;
        }
    EXPECT_EQ(compared, 4 * genes);
}

TEST(GroupColumns, AllZeroColumnsAndNoZeros) {
    GroupColumns cols(2, 2);
    // gene 0: every value 0 (one tie block; U's p is 1); gene 1: no zeros at all.
    const double a1[] = {1, 3}, b1[] = {2, 3, 3, 5};
    for (double v : a1) cols.add_cell(0), cols.add_value(0, 1, v);
    for (double v : b1) cols.add_cell(1), cols.add_value(1, 1, v);
    cols.finish();
    const RankSum z = rank_sum(cols, 0, 1, 0, tie_term(cols, 1, 0));
    EXPECT_EQ(mann_whitney_u_from_ranks(2, 4, z.r1, z.tie).p, 1.0);
    EXPECT_EQ(z.r1, 2 * 3.5);  // both of a's cells share the average rank (1 + 6) / 2
    const RankSum r = rank_sum(cols, 0, 1, 1, tie_term(cols, 1, 1));
    // Pooled order 1 2 3 3 3 5: a holds rank 1 and one of the three 3s (average rank 4).
    EXPECT_EQ(r.r1, 1.0 + 4.0);
    EXPECT_EQ(r.tie, 3.0 * 3 * 3 - 3);
    EXPECT_EQ(mann_whitney_u_from_ranks(2, 4, r.r1, r.tie).p, mann_whitney_u_sorted({1, 3}, {2, 3, 3, 5}).p);
}
