// Builds the model named by the config's model section for a preprocessed dataset's dimensions.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"
#include "engine/models/gpo_vae.h"
#include "engine/models/model.h"

namespace gpo::models {

// Model configuration from the config's model and train sections and the dataset's dimensions.
GpoVaeConfig gpo_vae_config(const nlohmann::json& cfg, const data::Dataset& ds);
// Declares the parameters in `ps` (not finalized). Throws naming model.type when the type is not available.
std::unique_ptr<Model> create_model(const nlohmann::json& cfg, const data::Dataset& ds, ParamStore& ps);

}  // namespace gpo::models
