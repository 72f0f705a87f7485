// `gpo-engine predict`: cells sampled from a trained model for seen perturbations and combinations of seen ones,
// as AnnData a scanpy or cell-eval user takes unchanged. The cells file holds raw counts (CSR, written in row blocks
// so it is never held whole), each cell at a library size drawn from real cells of its condition (or of the
// controls); obs carries the label under the input's perturbation column name, the library size, where it came
// from and the real cell it was taken from. Mean profiles go to a separate file on request. The control comes first.
#pragma once
#include <string>
#include <vector>

#include "engine/eval/loaded_model.h"
#include "io/h5ad.h"

namespace gpo::eval {

enum class LibrarySource {
    Condition,  // library sizes of QC-pass real cells with the same perturbation; the controls' when there are none
    Control,    // library sizes of QC-pass control cells
    Fixed,      // one library size for every cell (PredictOptions::library)
};

struct PredictOptions {
    std::vector<std::string> labels;  // e.g. {"IRF1", "IRF1+JAK2"}
    int cells = 100;                  // sampled cells per perturbation (and for the control)
    LibrarySource library_from = LibrarySource::Condition;
    double library = 0;               // Fixed: the library size; mean profiles: 0 = the dataset's median
    std::string means_path;           // "" = no mean-profile file
    int particles = 500;              // particles averaged into each mean profile
    uint64_t seed = 0;
};

// k cells of one condition (treatments; empty = control) sampled from the model, cell p at library size
// libraries[p]: one generate() call at library 1 (k particles), NB means rescaled per cell, counts drawn from the
// model's likelihood; noise from (seed, streams 90/91) at `step`. Returns the counts as CSR (k rows).
io::CsrMatrix sample_cells(LoadedModel& m, const std::vector<int>& treatments, const std::vector<double>& libraries,
                           uint64_t seed, uint64_t step);

// Labels of `opt.labels` (after the control) whose treatments have no training cell: their embeddings were never
// trained, so their predictions rest on the initialisation.
std::vector<std::string> untrained_labels(const LoadedModel& m, const std::vector<std::string>& labels);

// Writes the sampled cells to `cells_path` and, when opt.means_path is set, the mean profiles there. Both atomic:
// on any error neither a partial nor an overwritten file is left.
void predict_to_h5ad(LoadedModel& m, const PredictOptions& opt, const std::string& cells_path, bool verbose);

}  // namespace gpo::eval
