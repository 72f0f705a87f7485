// Evaluation metrics as pure functions on plain arrays (double precision): the GPO-VAE/SAMS-VAE ATE metrics
// (docs/model.md §7), the GEARS and cell-eval prediction metrics (docs/metrics.md), and the two-sample statistics
// of the CausalBench GRN evaluation (Mann-Whitney U, 1-D Wasserstein) as scipy computes them.
#pragma once
#include <cstddef>
#include <cmath>
#include <cstdint>
#include <vector>

namespace gpo::eval {

// Dense row-major matrix: element (r, c) is data[r * cols + c].
struct Mat {
    int64_t rows = 0, cols = 0;
    std::vector<double> data;
    Mat() = default;
    Mat(int64_t r, int64_t c, double fill = 0.0) : rows(r), cols(c), data((size_t)(r * c), fill) {}
    double* row(int64_t r) { return data.data() + r * cols; }
    const double* row(int64_t r) const { return data.data() + r * cols; }
    double& at(int64_t r, int64_t c) { return data[(size_t)(r * cols + c)]; }
    double at(int64_t r, int64_t c) const { return data[(size_t)(r * cols + c)]; }
};

// ---------------------------------------------------------------------------------------------- ATE (docs/model.md §7)
// The "perturbseq" transform of one cell: out[g] = log2(1 + L * x[g] / sum_g' x[g']) with L = 1e4 (G values).
// A row that sums to 0 gives zeros (the reference divides 0 by 0 and gets NaN).
void ate_transform_row(const double* x, int64_t G, double* out, double library = 1e4);
// One value of it: a count x of a cell whose counts sum to `total` (> 0).
inline double ate_transform_value(double x, double total, double library = 1e4) {
    return std::log2(1.0 + library * x / total);
}
// Per-group means of the rows of X (N, G): group[n] in [0, n_groups) or -1 (the row is ignored).
// Returns (n_groups, G); a group without rows gets NaN. counts (optional) receives the rows per group.
Mat group_means(const Mat& X, const std::vector<int>& group, int n_groups, std::vector<int64_t>* counts = nullptr);
// ATE matrix: A[t, g] = means[t, g] - control_mean[g] (means (P, G), control_mean (G)).
Mat ate_matrix(const Mat& means, const std::vector<double>& control_mean);

// ------------------------------------------------------------------------------------------- basic metrics
// Pearson correlation of a and b (n values), mean-centred two-pass formula; NaN when either side is constant
// (scipy.stats.pearsonr returns NaN there too).
double pearson(const double* a, const double* b, int64_t n);
double pearson(const std::vector<double>& a, const std::vector<double>& b);
// sklearn.metrics.r2_score(y_true, y_pred) for one output: 1 - SS_res / SS_tot, SS_tot around the scalar mean of
// y_true. With SS_tot = 0, sklearn (force_finite=True) gives 1 when SS_res = 0 and 0 otherwise.
double r2_score(const double* y_true, const double* y_pred, int64_t n);
double r2_score(const std::vector<double>& y_true, const std::vector<double>& y_pred);
double mse(const double* a, const double* b, int64_t n);
// Indices of the k largest |v[i]| (n values, k capped at n), largest first; equal |v| keep the smaller index first.
std::vector<int64_t> top_k_indices(const double* v, int64_t n, int64_t k);
// |a ∩ b| / |a ∪ b| of two index sets (duplicates ignored); 1 when both are empty.
double jaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
// Per row t: jaccard(top_k |A_t|, top_k |B_t|) for A, B of the same shape (P, G) (GPO-VAE jaccard_sim_top{k}).
std::vector<double> jaccard_at_k(const Mat& A, const Mat& B, int64_t k);
double mean(const std::vector<double>& v);  // NaN for an empty vector

// GPO-VAE get_ate_metrics with A = data ATE, B = model ATE (P, G): Pearson and R² over all P*G entries, the
// top-k variants over the k entries of largest |A_t| in every row t (pooled over rows), Jaccard@k1/k2.
struct AteMetrics {
    double pearson = 0, r2 = 0, pearson_top = 0, r2_top = 0, jaccard_k1 = 0, jaccard_k2 = 0;
};
AteMetrics ate_metrics(const Mat& A_data, const Mat& A_model, int64_t top_k = 20, int64_t jaccard_k1 = 20,
                       int64_t jaccard_k2 = 50);

// ---------------------------------------------------------------------------- GEARS / cell-eval (docs/metrics.md)
// Per perturbation t (rows of (P, G) matrices of mean expression), with the control mean c (G) and the DE genes
// de[t] (for GPO-VAE: top_k_indices of the data ATE row, k = 20):
//   mse = mean_g (pred_t - true_t)², pearson = Pearson(pred_t, true_t)
//   mse_de, pearson_de: the same over the genes de[t]
//   pearson_delta = Pearson(pred_t - c, true_t - c); pearson_delta_de: the same over de[t]
// NaN correlations (a constant side) become 0, as GEARS does (cell-eval leaves NaN; this is the only difference).
struct PerturbationMetrics {
    std::vector<double> mse, pearson, mse_de, pearson_de, pearson_delta, pearson_delta_de;  // (P) each
};
PerturbationMetrics perturbation_metrics(const Mat& pred_means, const Mat& true_means,
                                         const std::vector<double>& control_mean,
                                         const std::vector<std::vector<int64_t>>& de);

// cell-eval discrimination_score (metric l1): for perturbation p, the L1 distances from the predicted effect of p
// to every real effect (rows of (P, G) effect matrices, effect = mean_pert - mean_ctrl), the column exclude_col[p]
// left out (the target gene; -1 = none); rank = 0-based position of p in the ascending order of distances (stable:
// ties keep row order); score_p = 1 - rank / P (1 best, 1/P worst).
std::vector<double> discrimination_score_l1(const Mat& pred_effects, const Mat& real_effects,
                                            const std::vector<int64_t>& exclude_col);

// cell-eval DE gene lists: indices with fdr < threshold, sorted by |log2fc| descending (ties by index).
std::vector<int64_t> ranked_significant(const std::vector<double>& fdr, const std::vector<double>& log2fc,
                                        double fdr_threshold = 0.05);
// cell-eval overlap_at_k: k_eff = min(k, |real|) (k <= 0 means all real genes, overlap_at_N);
// |real[:k_eff] ∩ pred[:k_eff]| / k_eff; 0 when k_eff = 0. precision_at_k caps k by |pred| instead.
double overlap_at_k(const std::vector<int64_t>& real_ranked, const std::vector<int64_t>& pred_ranked, int64_t k);
double precision_at_k(const std::vector<int64_t>& real_ranked, const std::vector<int64_t>& pred_ranked, int64_t k);

// ------------------------------------------------------------------------------------- two-sample statistics
// scipy.stats.mannwhitneyu(x, y, alternative="two-sided", use_continuity=True, method="asymptotic"):
//   U1 = R1 - n1 (n1 + 1) / 2 (R1 = rank sum of x, average ranks for ties), U2 = n1 n2 - U1, U = max(U1, U2)
//   sigma = sqrt(n1 n2 / 12 * ((n + 1) - sum_ties (t³ - t) / (n (n - 1))))
//   z = (U - n1 n2 / 2 - 0.5) / sigma, p = min(1, 2 * (1 - Phi(z)))
// u is U1 (scipy's returned statistic). When every value is tied (sigma = 0) p = 1 (scipy: 2 sf(-inf) clipped).
struct MwuResult {
    double u = 0, z = 0, p = 1;
};
MwuResult mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y);
// The same from samples sorted ascending, O(n1 + n2).
MwuResult mann_whitney_u_sorted(const std::vector<double>& x_sorted, const std::vector<double>& y_sorted);
// The same from sample sizes, x's pooled rank sum R1 and the tie term sum (t³ - t) (group_columns.h).
MwuResult mann_whitney_u_from_ranks(double n1, double n2, double r1, double tie);

// Threshold-free scores of `scores` against binary `labels`: AUROC = P(a positive scores above a negative), ties 1/2
// (sklearn roc_auc_score, = auc(roc_curve)); AUPRC = sklearn average_precision_score: sum over the distinct scores,
// descending, of (recall_k - recall_{k-1}) * precision_k. NaN when there is no positive or no negative.
struct RankingScores {
    int64_t positives = 0, pairs = 0;
    double auroc = 0, auprc = 0;
};
RankingScores ranking_scores(const std::vector<double>& scores, const std::vector<int>& labels);

// scipy.stats.wasserstein_distance(u, v) with equal weights: ∫ |F_u(t) - F_v(t)| dt over the empirical CDFs.
double wasserstein_1d(const std::vector<double>& u, const std::vector<double>& v);
double wasserstein_1d_sorted(const std::vector<double>& u_sorted, const std::vector<double>& v_sorted);

}  // namespace gpo::eval
