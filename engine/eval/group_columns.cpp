// Sparse per-group expression columns and rank sums against a control group (see group_columns.h).
#include "engine/eval/group_columns.h"

#include <algorithm>
#include <limits>

#include "engine/check.h"
#include "engine/parallel.h"

namespace gpo::eval {

GroupColumns::GroupColumns(int64_t groups, int64_t genes)
    : G_(genes), cells_((size_t)groups, 0), pending_((size_t)groups), values_((size_t)groups),
      offsets_((size_t)groups) {
    GPO_CHECK(genes < std::numeric_limits<int32_t>::max(), "group columns: too many genes (" << genes << ")");
}

void GroupColumns::finish() {
    for (const std::vector<Entry>& p : pending_)
        GPO_CHECK(p.size() < std::numeric_limits<uint32_t>::max(), "group columns: a group has " << p.size() << " values");
    parallel_for((int64_t)pending_.size(), [&](int64_t gi) {  // groups are independent
        const size_t g = (size_t)gi;
        std::vector<Entry>& p = pending_[g];
        // Bucketed by gene (a counting sort, in entry order), then each gene's values sorted: gene-major, ascending.
        std::vector<uint32_t>& off = offsets_[g];
        off.assign((size_t)G_ + 1, 0);
        for (const Entry& e : p) ++off[(size_t)e.gene + 1];
        for (int64_t k = 0; k < G_; ++k) off[(size_t)k + 1] += off[(size_t)k];
        std::vector<uint32_t> fill(off.begin(), off.end() - 1);
        values_[g].resize(p.size());
        for (const Entry& e : p) values_[g][fill[(size_t)e.gene]++] = e.value;
        for (int64_t k = 0; k < G_; ++k)
            std::sort(values_[g].begin() + off[(size_t)k], values_[g].begin() + off[(size_t)k + 1]);
        std::vector<Entry>().swap(p);
    });
}

const double* GroupColumns::begin(int64_t group, int64_t gene) const {
    return values_[(size_t)group].data() + offsets_[(size_t)group][(size_t)gene];
}
const double* GroupColumns::end(int64_t group, int64_t gene) const {
    return values_[(size_t)group].data() + offsets_[(size_t)group][(size_t)gene + 1];
}

double GroupColumns::mean(int64_t group, int64_t gene) const {
    double s = 0;
    for (const double* v = begin(group, gene); v != end(group, gene); ++v) s += *v;
    return s / (double)cells(group);
}

double tie_term(const GroupColumns& c, int64_t group, int64_t gene) {
    double tie = 0;
    for (const double *v = c.begin(group, gene), *e = c.end(group, gene); v != e;) {
        const double* w = std::upper_bound(v, e, *v);
        const double t = (double)(w - v);
        tie += t * t * t - t;
        v = w;
    }
    return tie;
}

RankSum rank_sum(const GroupColumns& c, int64_t a, int64_t b, int64_t gene, double b_tie) {
    RankSum r;
    r.n1 = c.cells(a), r.n2 = c.cells(b);
    const double *a0 = c.begin(a, gene), *a1 = c.end(a, gene), *b0 = c.begin(b, gene), *b1 = c.end(b, gene);
    // The zeros: the lowest tie block.
    const double t0 = (double)(r.n1 - (a1 - a0) + r.n2 - (b1 - b0));
    r.r1 = (double)(r.n1 - (a1 - a0)) * (t0 + 1.0) / 2.0;
    r.tie = t0 * t0 * t0 - t0 + b_tie;
    // Each distinct non-zero value of a: its block holds ca of a's and cb of b's values, after t0 zeros, the
    // i smaller values of a and the smaller values of b.
    // a's distinct values ascend, so each search in b starts where the last one ended.
    for (const double *v = a0, *from = b0; v != a1;) {
        const double* w = std::upper_bound(v, a1, *v);
        const double* lo = std::lower_bound(from, b1, *v);
        const double* hi = std::upper_bound(lo, b1, *v);
        const double ca = (double)(w - v), cb = (double)(hi - lo), t = ca + cb;
        const double pos = t0 + (double)(v - a0) + (double)(lo - b0);
        r.r1 += ca * (pos + (t + 1.0) / 2.0);
        r.tie += (t * t * t - t) - (cb * cb * cb - cb);
        v = w, from = hi;
    }
    return r;
}

}  // namespace gpo::eval
