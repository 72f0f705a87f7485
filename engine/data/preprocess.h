// Native Perturb-seq preprocessing (docs/model.md §1, §6; docs/model.md D1, D3, D6-D8): reads the .h5ad named by the config's
// data section, filters cells, builds the treatment axis, QC flags, splits, normalisation statistics, OT-matched
// controls and counterfactual profiles. Every problem with the input is a gpo::Error naming the file and field.
#pragma once
#include <cstdint>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/data/dataset.h"

namespace gpo::data {

Dataset preprocess_dataset(const nlohmann::json& cfg);
// preprocess.counts_in_memory_mb in bytes: the most one count matrix may take in memory (csr.h).
uint64_t counts_budget_bytes(const nlohmann::json& cfg);
// A few lines for the terminal: cells per split, perturbations, T, QC-fail fraction, time.
std::string preprocess_summary(const Dataset& ds, double seconds);

// The element-wise lower median (torch.median's: the ((k-1)/2)-th smallest of k values) of the rows `drawn` of X
// (repeats count), as (gene, value) pairs of its non-zero entries, genes ascending. `scratch` is a work buffer
// reused between calls (one vector per gene, left empty).
std::vector<std::pair<int, float>> lower_median_profile(const Csr& X, const std::vector<int64_t>& drawn,
                                                        std::vector<std::vector<float>>& scratch);

// The gene classes the MAD QC rules use (docs/data.md): mitochondrial "MT-" prefix, ribosomal "RPS"/"RPL" prefix,
// haemoglobin by an explicit list (HBA1, HBA2, HBB, HBD, HBE1, HBG1, HBG2, HBM, HBQ1, HBZ; not HBEGF or HBS1L).
struct QcGeneClass {
    bool mito = false, ribo = false, haemoglobin = false;
};
QcGeneClass qc_gene_class(const std::string& symbol);

}  // namespace gpo::data
