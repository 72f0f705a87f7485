// Statistics for preprocessing and evaluation (see stats.h).
#include "engine/data/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/check.h"

namespace gpo::stats {

double median(std::vector<double> v) {
    GPO_CHECK(!v.empty(), "median of an empty set");
    size_t n = v.size(), h = n / 2;
    std::nth_element(v.begin(), v.begin() + h, v.end());
    double hi = v[h];
    if (n % 2) return hi;
    double lo = *std::max_element(v.begin(), v.begin() + h);
    return 0.5 * (lo + hi);
}

double lower_median(std::vector<double> v) {
    GPO_CHECK(!v.empty(), "median of an empty set");
    size_t h = (v.size() - 1) / 2;
    std::nth_element(v.begin(), v.begin() + h, v.end());
    return v[h];
}

double mad(const std::vector<double>& v) {
    double m = median(v);
    std::vector<double> d(v.size());
    for (size_t i = 0; i < v.size(); ++i) d[i] = std::fabs(v[i] - m);
    return median(d);
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Rank sum of `a` in the merged order of a and b (both sorted ascending), ranks starting after `offset` smaller
// values; runs of equal values get their average rank.
static double rank_sum_sorted(const std::vector<double>& a, const std::vector<double>& b, double offset) {
    const size_t n1 = a.size(), n2 = b.size();
    double rank_sum_a = 0, pos = offset;
    size_t i = 0, j = 0;
    while (i < n1 || j < n2) {
        double x = (j >= n2 || (i < n1 && a[i] <= b[j])) ? a[i] : b[j];
        size_t ca = 0, cb = 0;
        while (i < n1 && a[i] == x) ++i, ++ca;
        while (j < n2 && b[j] == x) ++j, ++cb;
        rank_sum_a += (double)ca * (pos + (double)(ca + cb + 1) / 2.0);
        pos += (double)(ca + cb);
    }
    return rank_sum_a;
}

static double ranksum_p(double rank_sum_a, double n1, double n2, double* z_out) {
    GPO_CHECK(n1 > 0 && n2 > 0, "wilcoxon: both groups need at least one value");
    double n = n1 + n2;
    double z = (rank_sum_a - n1 * (n + 1) / 2.0) / std::sqrt(n1 * n2 * (n + 1) / 12.0);
    if (z_out) *z_out = z;
    return 2.0 * normal_cdf(-std::fabs(z));
}

double wilcoxon_ranksum_p_from_rank_sum(double rank_sum_a, double n1, double n2) {
    return ranksum_p(rank_sum_a, n1, n2, nullptr);
}

double wilcoxon_ranksum_p_sorted(const std::vector<double>& a, const std::vector<double>& b, double* z_out) {
    return ranksum_p(rank_sum_sorted(a, b, 0.0), (double)a.size(), (double)b.size(), z_out);
}

double wilcoxon_ranksum_p_sparse(const std::vector<double>& a_nz, int64_t a_zeros, const std::vector<double>& b_nz,
                                 int64_t b_zeros) {
    double zeros = (double)(a_zeros + b_zeros);
    double rank_sum_a = (double)a_zeros * (zeros + 1) / 2.0 + rank_sum_sorted(a_nz, b_nz, zeros);
    return ranksum_p(rank_sum_a, (double)a_nz.size() + a_zeros, (double)b_nz.size() + b_zeros, nullptr);
}

double wilcoxon_ranksum_p(const std::vector<double>& a, const std::vector<double>& b, double* z_out) {
    std::vector<double> sa = a, sb = b;
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    return wilcoxon_ranksum_p_sorted(sa, sb, z_out);
}

std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
    const size_t m = p.size();
    std::vector<size_t> order(m);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return p[i] < p[j]; });
    std::vector<double> adj(m);
    double running = 1.0;
    for (size_t r = m; r-- > 0;) {
        size_t i = order[r];
        running = std::min(running, p[i] * (double)m / (double)(r + 1));
        adj[i] = std::min(running, 1.0);
    }
    return adj;
}

}  // namespace gpo::stats
