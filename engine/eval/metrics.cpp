// Evaluation metrics (see metrics.h for every formula and its source).
#include "engine/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "engine/check.h"
#include "engine/data/stats.h"
#include "engine/eval/distances.h"

namespace gpo::eval {

static const double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------- ATE
void ate_transform_row(const double* x, int64_t G, double* out, double library) {
    double s = 0;
    for (int64_t g = 0; g < G; ++g) s += x[g];
    if (!(s > 0)) {
        std::fill(out, out + G, 0.0);
        return;
    }
    // A zero count transforms to log2(1) = 0 exactly: skipping its log2 changes no bit (most sampled counts are 0).
    // Small whole counts (most of the others) take their value from a table of this row's values, each computed
    // once by the same function: the same bits as computing every one.
    constexpr int kTable = 64;
    double table[kTable];
    std::fill(table, table + kTable, -1.0);  // not yet computed (every value is >= 0)
    for (int64_t g = 0; g < G; ++g) {
        const double v = x[g];
        if (v == 0.0) {
            out[g] = 0.0;
        } else if (v > 0 && v < kTable && v == (double)(int)v) {
            double& t = table[(int)v];
            if (t < 0) t = ate_transform_value(v, s, library);
            out[g] = t;
        } else {
            out[g] = ate_transform_value(v, s, library);
        }
    }
}

Mat group_means(const Mat& X, const std::vector<int>& group, int n_groups, std::vector<int64_t>* counts) {
    GPO_CHECK((int64_t)group.size() == X.rows,
              "group_means: " << group.size() << " group ids for " << X.rows << " rows");
    Mat out(n_groups, X.cols, 0.0);
    std::vector<int64_t> n(n_groups, 0);
    for (int64_t r = 0; r < X.rows; ++r) {
        int gi = group[r];
        GPO_CHECK(gi >= -1 && gi < n_groups, "group_means: row " << r << " has group " << gi << " (n_groups "
                                                                  << n_groups << ")");
        if (gi < 0) continue;
        ++n[gi];
        const double* x = X.row(r);
        double* o = out.row(gi);
        for (int64_t c = 0; c < X.cols; ++c) o[c] += x[c];
    }
    for (int gi = 0; gi < n_groups; ++gi)
        for (int64_t c = 0; c < X.cols; ++c) out.at(gi, c) = n[gi] > 0 ? out.at(gi, c) / (double)n[gi] : kNaN;
    if (counts) *counts = n;
    return out;
}

Mat ate_matrix(const Mat& means, const std::vector<double>& control_mean) {
    GPO_CHECK((int64_t)control_mean.size() == means.cols,
              "ate_matrix: control mean has " << control_mean.size() << " genes, means have " << means.cols);
    Mat A = means;
    for (int64_t t = 0; t < A.rows; ++t)
        for (int64_t g = 0; g < A.cols; ++g) A.at(t, g) -= control_mean[g];
    return A;
}

// ------------------------------------------------------------------------------------------- basic metrics
double pearson(const double* a, const double* b, int64_t n) {
    if (n < 2) return kNaN;
    double ma = 0, mb = 0;
    for (int64_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
    ma /= (double)n;
    mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t i = 0; i < n; ++i) {
        double da = a[i] - ma, db = b[i] - mb;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if (saa <= 0 || sbb <= 0) return kNaN;
    return std::max(-1.0, std::min(1.0, sab / std::sqrt(saa * sbb)));
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
    GPO_CHECK(a.size() == b.size(), "pearson: sizes " << a.size() << " and " << b.size());
    return pearson(a.data(), b.data(), (int64_t)a.size());
}

double r2_score(const double* y_true, const double* y_pred, int64_t n) {
    GPO_CHECK(n > 0, "r2_score: no values");
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m += y_true[i];
    m /= (double)n;
    double ss_res = 0, ss_tot = 0;
    for (int64_t i = 0; i < n; ++i) {
        ss_res += (y_true[i] - y_pred[i]) * (y_true[i] - y_pred[i]);
        ss_tot += (y_true[i] - m) * (y_true[i] - m);
    }
    if (ss_tot == 0) return ss_res == 0 ? 1.0 : 0.0;
    return 1.0 - ss_res / ss_tot;
}

double r2_score(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
    GPO_CHECK(y_true.size() == y_pred.size(), "r2_score: sizes " << y_true.size() << " and " << y_pred.size());
    return r2_score(y_true.data(), y_pred.data(), (int64_t)y_true.size());
}

double mse(const double* a, const double* b, int64_t n) {
    if (n == 0) return kNaN;
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s / (double)n;
}

std::vector<int64_t> top_k_indices(const double* v, int64_t n, int64_t k) {
    k = std::max<int64_t>(0, std::min(k, n));
    std::vector<int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    auto before = [&](int64_t i, int64_t j) {
        double ai = std::fabs(v[i]), aj = std::fabs(v[j]);
        return ai != aj ? ai > aj : i < j;
    };
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), before);
    idx.resize(k);
    return idx;
}

double jaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    std::set<int64_t> sa(a.begin(), a.end()), sb(b.begin(), b.end());
    if (sa.empty() && sb.empty()) return 1.0;
    size_t inter = 0;
    for (int64_t x : sa) inter += sb.count(x);
    return (double)inter / (double)(sa.size() + sb.size() - inter);
}

std::vector<double> jaccard_at_k(const Mat& A, const Mat& B, int64_t k) {
    GPO_CHECK(A.rows == B.rows && A.cols == B.cols, "jaccard_at_k: shapes (" << A.rows << ", " << A.cols
                                                        << ") and (" << B.rows << ", " << B.cols << ")");
    std::vector<double> out(A.rows);
    for (int64_t t = 0; t < A.rows; ++t)
        out[t] = jaccard(top_k_indices(A.row(t), A.cols, k), top_k_indices(B.row(t), B.cols, k));
    return out;
}

double mean(const std::vector<double>& v) {
    if (v.empty()) return kNaN;
    double s = 0;
    for (double x : v) s += x;
    return s / (double)v.size();
}

AteMetrics ate_metrics(const Mat& A, const Mat& B, int64_t top_k, int64_t k1, int64_t k2) {
    GPO_CHECK(A.rows == B.rows && A.cols == B.cols && A.rows > 0, "ate_metrics: data ATE (" << A.rows << ", "
                  << A.cols << ") and model ATE (" << B.rows << ", " << B.cols << ") must have one non-empty shape");
    AteMetrics m;
    m.pearson = pearson(A.data, B.data);
    m.r2 = r2_score(A.data, B.data);
    std::vector<double> a, b;  // the top-k |A_t| entries of every row, pooled
    for (int64_t t = 0; t < A.rows; ++t)
        for (int64_t g : top_k_indices(A.row(t), A.cols, top_k)) {
            a.push_back(A.at(t, g));
            b.push_back(B.at(t, g));
        }
    m.pearson_top = pearson(a, b);
    m.r2_top = r2_score(a, b);
    m.jaccard_k1 = mean(jaccard_at_k(A, B, k1));
    m.jaccard_k2 = mean(jaccard_at_k(A, B, k2));
    return m;
}

// ---------------------------------------------------------------------------- GEARS / cell-eval
static double nan_to_zero(double x) { return std::isnan(x) ? 0.0 : x; }

PerturbationMetrics perturbation_metrics(const Mat& pred, const Mat& truth, const std::vector<double>& ctrl,
                                         const std::vector<std::vector<int64_t>>& de) {
    GPO_CHECK(pred.rows == truth.rows && pred.cols == truth.cols && (int64_t)ctrl.size() == pred.cols &&
                  (int64_t)de.size() == pred.rows,
              "perturbation_metrics: pred (" << pred.rows << ", " << pred.cols << "), true (" << truth.rows << ", "
                                             << truth.cols << "), control " << ctrl.size() << ", DE lists "
                                             << de.size() << " do not match");
    const int64_t P = pred.rows, G = pred.cols;
    PerturbationMetrics m;
    for (int64_t t = 0; t < P; ++t) {
        const double *p = pred.row(t), *y = truth.row(t);
        std::vector<double> dp(G), dy(G);
        for (int64_t g = 0; g < G; ++g) dp[g] = p[g] - ctrl[g], dy[g] = y[g] - ctrl[g];
        std::vector<double> pd, yd, dpd, dyd;  // restricted to the DE genes
        for (int64_t g : de[t]) {
            GPO_CHECK(g >= 0 && g < G, "perturbation_metrics: DE gene index " << g << " outside [0, " << G << ")");
            pd.push_back(p[g]), yd.push_back(y[g]), dpd.push_back(dp[g]), dyd.push_back(dy[g]);
        }
        m.mse.push_back(mse(p, y, G));
        m.pearson.push_back(nan_to_zero(pearson(p, y, G)));
        m.mse_de.push_back(mse(pd.data(), yd.data(), (int64_t)pd.size()));
        m.pearson_de.push_back(nan_to_zero(pearson(pd, yd)));
        m.pearson_delta.push_back(nan_to_zero(pearson(dp, dy)));
        m.pearson_delta_de.push_back(nan_to_zero(pearson(dpd, dyd)));
    }
    return m;
}

std::vector<double> discrimination_score_l1(const Mat& pred, const Mat& real, const std::vector<int64_t>& exclude) {
    GPO_CHECK(pred.rows == real.rows && pred.cols == real.cols && (int64_t)exclude.size() == pred.rows,
              "discrimination_score_l1: pred effects (" << pred.rows << ", " << pred.cols << "), real effects ("
                                                        << real.rows << ", " << real.cols << "), "
                                                        << exclude.size() << " excluded columns do not match");
    const EffectDistances d = effect_distances(pred.data.data(), pred.rows, real.data.data(), real.rows, pred.cols,
                                               exclude, true);
    return discrimination_scores(d.l1, pred.rows);
}

std::vector<int64_t> ranked_significant(const std::vector<double>& fdr, const std::vector<double>& lfc,
                                        double thr) {
    GPO_CHECK(fdr.size() == lfc.size(), "ranked_significant: " << fdr.size() << " FDRs, " << lfc.size()
                                                               << " fold changes");
    std::vector<int64_t> idx;
    for (size_t i = 0; i < fdr.size(); ++i)
        if (fdr[i] < thr) idx.push_back((int64_t)i);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int64_t i, int64_t j) { return std::fabs(lfc[i]) > std::fabs(lfc[j]); });
    return idx;
}

static double overlap_with(const std::vector<int64_t>& real, const std::vector<int64_t>& pred, int64_t k_eff) {
    if (k_eff <= 0) return 0.0;
    std::set<int64_t> r(real.begin(), real.begin() + std::min<int64_t>(k_eff, (int64_t)real.size()));
    std::set<int64_t> p(pred.begin(), pred.begin() + std::min<int64_t>(k_eff, (int64_t)pred.size()));
    size_t inter = 0;
    for (int64_t x : r) inter += p.count(x);
    return (double)inter / (double)k_eff;
}

double overlap_at_k(const std::vector<int64_t>& real, const std::vector<int64_t>& pred, int64_t k) {
    int64_t n = (int64_t)real.size();
    return overlap_with(real, pred, k > 0 ? std::min(k, n) : n);
}

double precision_at_k(const std::vector<int64_t>& real, const std::vector<int64_t>& pred, int64_t k) {
    int64_t n = (int64_t)pred.size();
    return overlap_with(real, pred, k > 0 ? std::min(k, n) : n);
}

// ------------------------------------------------------------------------------------- two-sample statistics
MwuResult mann_whitney_u_sorted(const std::vector<double>& x, const std::vector<double>& y) {
    const size_t n1 = x.size(), n2 = y.size();
    GPO_CHECK(n1 > 0 && n2 > 0, "mann_whitney_u: both samples need at least one value (" << n1 << ", " << n2 << ")");
    // Walk the distinct values of the merged order: a run of t equal values gets the average of its ranks and
    // adds t³ - t to the tie term.
    double r1 = 0, tie = 0;
    size_t i = 0, j = 0, pos = 0;
    while (i < n1 || j < n2) {
        double v = (j >= n2 || (i < n1 && x[i] <= y[j])) ? x[i] : y[j];
        size_t cx = 0, cy = 0;
        while (i < n1 && x[i] == v) ++i, ++cx;
        while (j < n2 && y[j] == v) ++j, ++cy;
        double t = (double)(cx + cy);
        r1 += (double)cx * ((double)pos + (t + 1.0) / 2.0);
        tie += t * t * t - t;
        pos += cx + cy;
    }
    return mann_whitney_u_from_ranks((double)n1, (double)n2, r1, tie);
}

MwuResult mann_whitney_u_from_ranks(double dn1, double dn2, double r1, double tie) {
    const double dn = dn1 + dn2;
    MwuResult r;
    r.u = r1 - dn1 * (dn1 + 1.0) / 2.0;
    double u = std::max(r.u, dn1 * dn2 - r.u);
    double sigma = std::sqrt(dn1 * dn2 / 12.0 * ((dn + 1.0) - tie / (dn * (dn - 1.0))));
    if (!(sigma > 0)) {  // every value tied
        r.z = 0;
        r.p = 1.0;
        return r;
    }
    r.z = (u - dn1 * dn2 / 2.0 - 0.5) / sigma;
    r.p = std::min(1.0, 2.0 * stats::normal_cdf(-r.z));
    return r;
}

MwuResult mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y) {
    std::vector<double> sx = x, sy = y;
    std::sort(sx.begin(), sx.end());
    std::sort(sy.begin(), sy.end());
    return mann_whitney_u_sorted(sx, sy);
}

RankingScores ranking_scores(const std::vector<double>& scores, const std::vector<int>& labels) {
    RankingScores r;
    const size_t n = scores.size();
    r.pairs = (int64_t)n;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    for (int l : labels) r.positives += l != 0;
    const double npos = (double)r.positives, nneg = (double)(n - r.positives);
    if (npos == 0 || nneg == 0) {
        r.auroc = r.auprc = NAN;
        return r;
    }
    // Walk the distinct scores from the top: each block of tied scores is one threshold.
    double tp = 0, fp = 0, auc = 0, ap = 0, prev_recall = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double btp = 0, bfp = 0;
        while (j < n && scores[order[j]] == scores[order[i]]) (labels[order[j]] ? btp : bfp) += 1, ++j;
        auc += bfp * (tp + 0.5 * btp);  // (positive, negative) pairs ordered right: positives above, ties 1/2
        tp += btp, fp += bfp;
        const double recall = tp / npos;
        ap += (recall - prev_recall) * (tp / (tp + fp));
        prev_recall = recall;
        i = j;
    }
    r.auroc = auc / (npos * nneg);
    r.auprc = ap;
    return r;
}

double wasserstein_1d_sorted(const std::vector<double>& u, const std::vector<double>& v) {
    const size_t nu = u.size(), nv = v.size();
    GPO_CHECK(nu > 0 && nv > 0, "wasserstein_1d: both samples need at least one value (" << nu << ", " << nv << ")");
    // Between consecutive distinct values a < b of the merged sample, F_u and F_v are constant (the fraction of
    // values <= a), so the integral is the sum of |F_u(a) - F_v(a)| (b - a).
    double w = 0;
    size_t i = 0, j = 0;
    double prev = std::min(u[0], v[0]);
    while (i < nu || j < nv) {
        double x = (j >= nv || (i < nu && u[i] <= v[j])) ? u[i] : v[j];
        w += std::fabs((double)i / (double)nu - (double)j / (double)nv) * (x - prev);
        while (i < nu && u[i] == x) ++i;
        while (j < nv && v[j] == x) ++j;
        prev = x;
    }
    return w;
}

double wasserstein_1d(const std::vector<double>& u, const std::vector<double>& v) {
    std::vector<double> su = u, sv = v;
    std::sort(su.begin(), su.end());
    std::sort(sv.begin(), sv.end());
    return wasserstein_1d_sorted(su, sv);
}

}  // namespace gpo::eval
