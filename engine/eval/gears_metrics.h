// GEARS's DE-gene metrics (snap-stanford/GEARS f374e43): the 20 DE genes of each perturbation as GEARS defines them
// (gears/data_utils.py rank_genes_groups_by_cov: scanpy's rank_genes_groups against the control, method t-test,
// rankby_abs, on the log-normalised cells), and on those genes, per perturbation p with pseudobulks pred_p, real_p
// and the real control c:
//   mse_de           = mean over the DE genes of (pred_p - real_p)^2              (gears/inference.py compute_metrics)
//   pearson_de       = Pearson(pred_p, real_p), 0 when undefined                   (compute_metrics)
//   pearson_delta_de = Pearson(pred_p - c, real_p - c), 0 when undefined           (deeper_analysis)
// Reported per perturbation and as the mean over the perturbations (GEARS's aggregate). Cells are normalised as for
// cell-eval (each side to its own median total, log1p); the DE genes come from the evaluated real cells (GEARS
// ranks on its whole processed dataset; on the exported pair the real file is that dataset). docs/metrics.md.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/eval/cell_eval.h"

namespace gpo::eval {

// Per perturbation (control excluded): the n_top genes with the largest |Welch t| against the control, in order
// (scanpy's t-test: means and unbiased variances as mean(x^2) - mean(x)^2 scaled by n/(n-1), a NaN score counts
// as 0; ties in gene order, where scanpy's order is unspecified).
std::map<std::string, std::vector<int64_t>> gears_de_genes(const std::map<std::string, NormlogMoments>& real,
                                                           const std::string& control, int n_top = 20);

// Adds mse_de, pearson_de and pearson_delta_de for out.perts (every one must have DE genes and a pred pseudobulk).
void add_gears_metrics(const std::map<std::string, std::vector<double>>& real_pb,
                       const std::map<std::string, std::vector<double>>& pred_pb,
                       const std::map<std::string, std::vector<int64_t>>& de, const std::string& control,
                       CellEvalMetrics& out);

}  // namespace gpo::eval
