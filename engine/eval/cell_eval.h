// cell-eval's expression metrics (ArcInstitute/cell-eval 0.8, metrics/_anndata.py), computed as that package
// computes them on a pair of AnnData files of raw counts: each side normalised on its own (scanpy normalize_total to
// the median of its cells' non-zero totals, then log1p), pseudobulked per perturbation (mean over cells), and per
// perturbation p against the control c: pearson_delta = Pearson(pred_p - pred_c, real_p - real_c); mse, mae between
// pred_p and real_p; mse_delta, mae_delta between the two effects; discrimination_score_{l1,l2,cosine} = 1 - rank/P
// of the distance from p's predicted effect to p's real effect among the distances to every real effect (the gene
// named p left out; sklearn's distances; ties ranked in perturbation order). Reported per perturbation and as their
// mean (cell-eval's aggregate).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "io/h5ad.h"

namespace gpo::eval {

// Cells with their perturbation labels and raw counts (rows of `counts`).
struct LabelledCells {
    std::vector<std::string> labels;
    io::CsrMatrix counts;
};

// Mean of log1p(x * m / sum x) per label (rows of zero total stay 0), m the median of the non-zero row totals of
// `cells` (scanpy's normalize_total default); labels sorted.
std::map<std::string, std::vector<double>> normlog_pseudobulk(const LabelledCells& cells);

struct CellEvalMetrics {
    std::vector<std::string> perts;                        // sorted, the control excluded
    std::map<std::string, std::vector<double>> per_pert;   // metric name -> value per perturbation
    std::map<std::string, double> mean;                    // metric name -> mean over the perturbations
};

// The metrics from pseudobulks (label -> G means) of each side; every perturbation of `real` (and the control) must
// be in `pred`. gene_names (G) locate the gene the discrimination scores leave out.
CellEvalMetrics cell_eval_metrics(const std::map<std::string, std::vector<double>>& real,
                                  const std::map<std::string, std::vector<double>>& pred, const std::string& control,
                                  const std::vector<std::string>& gene_names);

}  // namespace gpo::eval
