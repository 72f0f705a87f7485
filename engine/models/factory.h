// Builds the model named by the config's model section for a preprocessed dataset's dimensions.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"
#include "engine/models/gpo_vae.h"
#include "engine/models/model.h"
#include "engine/models/sams_vae.h"

namespace gpo::models {

// Model configuration from the config's model and train sections and the dataset's dimensions.
GpoVaeConfig gpo_vae_config(const nlohmann::json& cfg, const data::Dataset& ds);
// model.grn_prior ("PATH[,options]" as `grn --reference`): the reference network's edges between two treatments,
// as flat indices t * T + j (an undirected edge both ways; self-loops and genes off the treatment axis dropped).
// Throws naming the key when the file cannot be read or no edge falls on the axis.
std::vector<int64_t> grn_prior_edges(const std::string& arg, const data::Dataset& ds);
// The same for sams_vae, cpa_vae and conditional_vae (model.type selects; model.inference the guide variant).
SamsVaeConfig sams_vae_config(const nlohmann::json& cfg, const data::Dataset& ds);
// The dtype of the parameters and batches: train.dtype ("float32", the default and the only one on a GPU, or
// "float64", on the CPU, for exactness checks such as tests/test_distributed.cpp; configs without the key are f32).
DType param_dtype(const nlohmann::json& cfg);
// Declares the parameters in `ps` (not finalized). Throws naming model.type when the type is unknown.
std::unique_ptr<Model> create_model(const nlohmann::json& cfg, const data::Dataset& ds, ParamStore& ps);

}  // namespace gpo::models
