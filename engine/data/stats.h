// Statistics used by preprocessing and evaluation: median (lower median, as torch), MAD, the Wilcoxon rank-sum
// test (normal approximation, as scanpy's rank_genes_groups without tie correction), Benjamini-Hochberg
// adjustment, the standard normal CDF.
#pragma once
#include <cstdint>
#include <vector>

namespace gpo::stats {

double median(std::vector<double> v);        // average of the two middle values (numpy)
double lower_median(std::vector<double> v);  // the lower middle value (torch.median)
double mad(const std::vector<double>& v);    // median |x - median(x)|, unscaled
double normal_cdf(double z);
// Two-sided p-value of the Wilcoxon rank-sum test of a vs b (average ranks for ties, no tie correction of the
// variance, as scanpy); also returns the z score.
double wilcoxon_ranksum_p(const std::vector<double>& a, const std::vector<double>& b, double* z_out = nullptr);
// Same test from already sorted samples (ascending), O(n1 + n2): used when one group (the controls) is shared by
// many comparisons and sorted once.
double wilcoxon_ranksum_p_sorted(const std::vector<double>& a_sorted, const std::vector<double>& b_sorted,
                                 double* z_out = nullptr);
// Same test from the sample sizes and a's rank sum in the pooled order (average ranks for ties).
double wilcoxon_ranksum_p_from_rank_sum(double rank_sum_a, double n1, double n2);
// Same test for non-negative samples given as their sorted non-zero values plus a count of zeros (sparse
// expression): the zeros form the lowest tie block. O(nnz_a + nnz_b).
double wilcoxon_ranksum_p_sparse(const std::vector<double>& a_nonzero_sorted, int64_t a_zeros,
                                 const std::vector<double>& b_nonzero_sorted, int64_t b_zeros);
// Benjamini-Hochberg adjusted p-values (monotone, capped at 1), in the input order.
std::vector<double> benjamini_hochberg(const std::vector<double>& p);

}  // namespace gpo::stats
