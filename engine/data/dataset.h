// The preprocessed dataset every subcommand works from (docs/model.md §1 and §6, docs/model.md D1, D3, D6-D8): raw counts
// kept sparse, the treatment axis (perturbed genes, then extended genes), per-cell treatments, QC flags, splits,
// train-split normalisation statistics, OT-matched controls, counterfactual profiles (sparse) and plate counts.
// ΔX rows are derived per batch from the counts and the matched control (delta_row), never stored densely.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/csr.h"

namespace gpo::data {

enum Split : uint8_t { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 };
const char* split_name(int s);

struct Dataset;
// A digest of what a trained model's shapes and meaning depend on: the gene names (in order) and the treatment
// axis. Stored in checkpoints; evaluate/predict/grn/--resume refuse a checkpoint of another dataset with it.
std::string dataset_identity(const Dataset& ds);
// Checks every size and index of a dataset (CSR structure, treatment, gene, control and split indices, finite
// values); throws naming `what` (the cache file) and the first violated field.
void validate_dataset(const Dataset& ds, const std::string& what);
// The per-cell assignment as CSV, keyed by the input's obs names (written atomically): obs_name, label (canonical,
// docs/data.md), split (train/val/test), qc_fail (0/1), matched_control (obs name of the OT-matched control cell,
// empty when none), has_counterfactual (0/1). pandas.read_csv(path, index_col=0) lines it up with adata.obs.
void write_cell_table(const Dataset& ds, const std::string& path);

struct Dataset {
    std::string source;                       // the .h5ad path
    int64_t N = 0, G = 0, T = 0, n_perturbed = 0;
    std::vector<std::string> gene_names;      // (G) var index
    std::vector<std::string> treatment_names; // (T) sorted perturbed genes, then sorted extended genes
    std::vector<int> treatment_gene;          // (T) column of the treatment's gene in X, -1 when not measured
    std::vector<int> gene_treatment;          // (G) inverse: treatment index of gene g, -1 when none
    std::vector<std::string> labels;          // (N) perturbation label as in the file (control -> control label)
    std::vector<std::string> obs_names;       // (N) cell names
    Csr counts;                               // (N, G) raw counts of the kept cells
    std::vector<float> library;               // (N) row sums of counts
    std::vector<std::vector<int>> treatments; // (N) treatment indices of each cell; empty = control
    std::vector<uint8_t> qc;                  // (N) 1 = fails QC
    std::vector<uint8_t> split;               // (N) Split
    std::vector<float> norm_mean, norm_std;   // (G) of log1p(train counts), unbiased std, 0 -> 1 (D8)
    std::vector<int64_t> matched_control;     // (N) row of the OT-matched control in the same split
    double normalize_target = 0;              // median library size (normalize_total target)
    Csr cf_counts;                            // (N, G) counterfactual profiles (empty rows = none, D1)
    std::vector<uint8_t> has_cf;              // (N)
    std::vector<double> plate_count;          // (3 * T) cells with d_t != 0 per split: [split * T + t]
    double n_fail[3] = {0, 0, 0};             // QC-fail cells per split
    double train_fail_fraction = 0;
    std::string control_label;
    int64_t cells_dropped = 0, cells_missing_label = 0;  // rows of the file not kept

    // log1p(normalize_total) of the treatment-gene columns of cell n (T values, 0 where the gene is not measured).
    void treatment_expression(int64_t n, float* out) const;
    // Δ_n = |Y_n - Y_match(n)| over the treatment columns (T values), 0 for cells without a match.
    void delta_row(int64_t n, float* out) const;
    std::vector<int64_t> cells_of_split(int s) const;
};

}  // namespace gpo::data
