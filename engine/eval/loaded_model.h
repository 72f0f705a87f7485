// A trained model brought back from a checkpoint: its run config (with --set overrides applied), the preprocessed
// dataset (from the cache when valid), the model and its parameters on the chosen device. Shared by evaluate,
// predict and grn.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/models/model.h"
#include "engine/params.h"

namespace gpo::eval {

struct LoadedModel {
    std::string checkpoint, run_dir;  // run_dir: the folder holding checkpoints/ (or the checkpoint's folder)
    nlohmann::json config;
    data::Dataset dataset;
    ParamStore params;
    std::unique_ptr<models::Model> model;
    Device device = Device::CPU;
};

// overrides: "section.key=value" applied to the checkpoint's config (e.g. evaluate.ate_particles=200).
std::unique_ptr<LoadedModel> load_model(const std::string& checkpoint, const std::string& device,
                                        const std::vector<std::string>& overrides, bool verbose);

// Treatment indices of a label such as "IRF1" or "IRF1+JAK2" (delimiter from the config); throws naming the label
// and listing the known perturbations when a gene is not on the treatment axis.
std::vector<int> treatments_of_label(const LoadedModel& m, const std::string& label);

}  // namespace gpo::eval
