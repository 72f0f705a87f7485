// Sparse per-group expression columns and the rank tests of many groups against one control group on them.
//
// Evaluation's DE tests compare, for every perturbation and gene, the perturbation's cells with the controls
// (cell-eval's Mann-Whitney U with tie correction; the papers' Wilcoxon without it). Held as cells x genes doubles
// this is gigabytes at the K562 scale, and a merge of the control column for every perturbation costs
// perturbations x genes x controls. Here each group keeps only its sorted non-zero values per gene (the values are
// non-negative: zeros are one tie block, counted), and a group is ranked against the control by binary search in
// the control's column: O(nnz of the group x log nnz of the control). The rank sums and tie terms are sums of
// integers and half-integers, exact in double, so the statistics equal the merge's (dense) ones bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gpo::eval {

class GroupColumns {
public:
    GroupColumns(int64_t groups, int64_t genes);
    // One more cell of `group`; then its stored entries through add_value (value >= 0; 0 counts as a zero).
    void add_cell(int64_t group) { ++cells_[(size_t)group]; }
    void add_value(int64_t group, int gene, double value) {
        if (value != 0.0) pending_[(size_t)group].push_back({(int32_t)gene, value});
    }
    // Sorts every group's columns; call once, after the last add_cell.
    void finish();

    int64_t groups() const { return (int64_t)cells_.size(); }
    int64_t genes() const { return G_; }
    int64_t cells(int64_t group) const { return cells_[(size_t)group]; }
    // Group g's non-zero values of gene k, ascending: [begin, end).
    const double* begin(int64_t group, int64_t gene) const;
    const double* end(int64_t group, int64_t gene) const;
    // Mean of gene k over the group's cells (its non-zero values summed in ascending order, over all its cells).
    double mean(int64_t group, int64_t gene) const;

private:
    struct Entry {
        int32_t gene;
        double value;
    };
    int64_t G_;
    std::vector<int64_t> cells_;
    std::vector<std::vector<Entry>> pending_;
    std::vector<std::vector<double>> values_;    // per group, gene-major
    std::vector<std::vector<uint32_t>> offsets_; // per group, G + 1
};

// Pooled-rank statistics of group a against group b on one gene: the rank sum of a's cells in the pooled order
// (average ranks for ties) and the tie term sum over tie blocks of t^3 - t.
struct RankSum {
    double r1 = 0, tie = 0;
    int64_t n1 = 0, n2 = 0;
};
// b_tie is the tie term of b's non-zero values alone (tie_term(b, gene)), shared by every a.
RankSum rank_sum(const GroupColumns& c, int64_t a, int64_t b, int64_t gene, double b_tie);
double tie_term(const GroupColumns& c, int64_t group, int64_t gene);

}  // namespace gpo::eval
