// `gpo-engine predict`: predicted mean expression profiles (and, on request, sampled cells) for seen perturbations
// and combinations of seen ones, written as AnnData (obs: perturbation, kind; var: gene names; the control first).
#pragma once
#include <string>
#include <vector>

#include "engine/eval/loaded_model.h"

namespace gpo::eval {

struct PredictOptions {
    std::vector<std::string> labels;  // e.g. {"IRF1", "IRF1+JAK2"}
    int particles = 500;              // particles averaged into each mean profile
    int sampled_cells = 0;            // sampled cells per perturbation (0 = means only)
    double library = 0;               // library size of the profiles; 0 = the dataset's median library size
    uint64_t seed = 0;
};

void predict_to_h5ad(LoadedModel& m, const PredictOptions& opt, const std::string& out_path);

}  // namespace gpo::eval
