// `gpo-engine evaluate`: the metrics of the field for a trained model on one split (docs/model.md §7, docs/metrics.md,
// docs/model.md D9): test IWELBO; the ATE ("perturbseq" transform) of data vs model with Pearson/R² over all genes and the
// top-20 DE genes, Jaccard@20/50; the GEARS and cell-eval metrics under their own names; the same for baselines
// (no change, mean of all perturbed cells, training mean per perturbation, additive for combinations); per-
// perturbation rows. Writes report.json, report.md and SVG figures into the output folder.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "engine/eval/loaded_model.h"

namespace gpo::eval {

// export_dir (optional): also write the cell-eval input pair there (real.h5ad, pred.h5ad, cells.csv).
nlohmann::json evaluate_model(LoadedModel& m, const std::string& out_dir, bool verbose,
                              const std::string& export_dir = "");

}  // namespace gpo::eval
