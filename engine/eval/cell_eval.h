// cell-eval's expression and DE metrics (ArcInstitute/cell-eval 0.8, metrics/_anndata.py, metrics/_de.py with pdex
// for the DE test; the DE part is declared below), computed as that package
// computes them on a pair of AnnData files of raw counts: each side normalised on its own (scanpy normalize_total to
// the median of its cells' non-zero totals, then log1p), pseudobulked per perturbation (mean over cells), and per
// perturbation p against the control c: pearson_delta = Pearson(pred_p - pred_c, real_p - real_c); mse, mae between
// pred_p and real_p; mse_delta, mae_delta between the two effects; discrimination_score_{l1,l2,cosine} = 1 - rank/P
// of the distance from p's predicted effect to p's real effect among the distances to every real effect (the gene
// named p left out; sklearn's distances; ties ranked in perturbation order). Reported per perturbation and as their
// mean (cell-eval's aggregate).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/data/csr.h"
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
// The same for cells given as labels and a row reader (row(r): the stored entries of cell r, valid until the next
// call), e.g. rows of the dataset read in place rather than copied.
std::map<std::string, std::vector<double>> normlog_pseudobulk(const std::vector<std::string>& labels, int64_t genes,
                                                              const std::function<data::CsrRow(int64_t)>& row);

// Per label: the number of cells and, per gene, the sum and the sum of squares of the values normalised as above.
struct NormlogMoments {
    int64_t n = 0;
    std::vector<double> sum, sum_sq;
};
std::map<std::string, NormlogMoments> normlog_moments(const LabelledCells& cells);

struct CellEvalMetrics {
    std::vector<std::string> perts;                        // sorted, the control excluded
    std::map<std::string, std::vector<double>> per_pert;   // metric name -> value per perturbation (NaN: undefined)
    // metric name -> the perturbations it has no value for at all (cell-eval leaves them out of its table: a DE
    // metric over the real significant genes when there are none); the others' NaN propagates into the mean, as
    // polars' mean does in cell-eval's aggregate.
    std::map<std::string, std::vector<bool>> absent;
    std::map<std::string, double> mean;                    // metric name -> mean over the perturbations
};

// The metrics from pseudobulks (label -> G means) of each side; every perturbation of `real` (and the control) must
// be in `pred`. gene_names (G) locate the gene the discrimination scores leave out.
CellEvalMetrics cell_eval_metrics(const std::map<std::string, std::vector<double>>& real,
                                  const std::map<std::string, std::vector<double>>& pred, const std::string& control,
                                  const std::vector<std::string>& gene_names);

// pdex's "ref" mode as cell-eval runs it (pdex 0.3, epsilon 0) on one file's normalised cells: per perturbation
// against the control, per gene, the two-sided Mann-Whitney U p-value (asymptotic, tie-corrected, continuity-
// corrected), Benjamini-Hochberg FDR over the genes, and log2 fold change of the back-transformed pseudobulks
// log2(expm1(mean t) / expm1(mean c)) (0/0 -> 0, x/0 -> +-inf). (G) values per label, control excluded.
struct DeTable {
    std::vector<double> lfc, fdr;
};
std::map<std::string, DeTable> pdex_ref(const LabelledCells& cells, const std::string& control);

// cell-eval's DE metrics from the real and predicted tables, added to `out` per perturbation (out.perts) and as
// means: overlap_at_{N,50,100,200,500}, precision_at_{N,50,100,200,500}, de_direction_match, de_spearman_lfc_sig,
// de_sig_genes_recall, de_nsig_counts_real / _pred, pr_auc, roc_auc. Significant: FDR < 0.05 after cell-eval's
// float32 cast, ranked by |log2 FC| descending (ties in gene order).
void add_de_metrics(const std::map<std::string, DeTable>& real, const std::map<std::string, DeTable>& pred,
                    CellEvalMetrics& out);

}  // namespace gpo::eval
