// Loading a trained model from a checkpoint (see loaded_model.h).
#include "engine/eval/loaded_model.h"

#include <cstdio>
#include <filesystem>

#include "engine/check.h"
#include "engine/data/cache.h"
#include "engine/device.h"
#include "engine/models/factory.h"
#include "io/checkpoint.h"
#include "io/config.h"

namespace gpo::eval {

namespace fs = std::filesystem;

std::unique_ptr<LoadedModel> load_model(const std::string& checkpoint, const std::string& device,
                                        const std::vector<std::string>& overrides, bool verbose) {
    auto m = std::make_unique<LoadedModel>();
    m->checkpoint = checkpoint;
    fs::path dir = fs::path(checkpoint).parent_path();
    m->run_dir = (dir.filename() == "checkpoints" ? dir.parent_path() : dir).string();
    if (m->run_dir.empty()) m->run_dir = ".";
    io::CheckpointMeta meta = io::checkpoint_read_meta(checkpoint);
    // Re-validate the stored config against this build's defaults, then apply the overrides.
    nlohmann::json cfg = io::config_defaults();
    io::config_merge(cfg, meta.config, checkpoint + " (stored config)");
    for (const auto& o : overrides) io::config_apply_override(cfg, o);
    io::config_validate(cfg);
    m->config = cfg;
    const nlohmann::json& dp = cfg["data"]["path"];
    GPO_CHECK(dp.is_string(), checkpoint << ": the stored config names no data.path; pass --set data.path=FILE.h5ad");
    std::error_code ec;
    GPO_CHECK(fs::exists(dp.get<std::string>(), ec),
              "the data this model was trained on, " << dp.get<std::string>() << " (data.path in " << checkpoint
                                                     << "), is not there; if it moved, pass --set data.path=NEW_PATH");
    data::LoadInfo info;
    m->dataset = data::load_dataset(cfg, &info);
    const std::string identity = data::dataset_identity(m->dataset);
    GPO_CHECK(meta.dataset_identity.empty() || meta.dataset_identity == identity,
              checkpoint << " was trained on another dataset: the genes or treatments of " << m->dataset.source
                         << " differ from those the model was trained on (identity " << identity << " vs "
                         << meta.dataset_identity << " stored in the checkpoint)");
    if (verbose)
        std::fprintf(stderr, "dataset %s: %lld cells, T = %lld (%s, %.1f s)\n", m->dataset.source.c_str(),
                     (long long)m->dataset.N, (long long)m->dataset.T, info.from_cache ? "cached" : "preprocessed",
                     info.seconds);
    m->device = resolve_device(device.empty() ? cfg.at("train").at("device").get<std::string>() : device);
    // The GRN prior and the GRN target shape only training (initial logits, loss terms): a loaded model neither
    // reads the prior's file nor computes the profile targets.
    nlohmann::json model_cfg = cfg;
    if (model_cfg["model"].contains("grn_prior")) model_cfg["model"]["grn_prior"] = nullptr;
    if (model_cfg["model"].contains("grn_target")) model_cfg["model"]["grn_target"] = "reference";
    m->model = models::create_model(model_cfg, m->dataset, m->params);
    m->params.finalize(Device::CPU, models::param_dtype(cfg));
    io::checkpoint_load(checkpoint, m->params, nullptr);
    m->params.to(m->device);
    return m;
}

std::vector<int> treatments_of_label(const LoadedModel& m, const std::string& label) {
    const std::string delim = m.config.at("data").at("combination_delimiter").get<std::string>();
    const data::Dataset& ds = m.dataset;
    std::vector<int> out;
    if (label == ds.control_label) return out;
    size_t start = 0;
    while (true) {
        size_t p = delim.empty() ? std::string::npos : label.find(delim, start);
        std::string gene = label.substr(start, p == std::string::npos ? std::string::npos : p - start);
        int found = -1;
        for (int64_t t = 0; t < ds.n_perturbed; ++t)
            if (ds.treatment_names[t] == gene) found = (int)t;
        if (found < 0) {
            std::string known;
            for (int64_t t = 0; t < ds.n_perturbed && t < 40; ++t) known += (t ? ", " : "") + ds.treatment_names[t];
            GPO_FAIL("perturbation '" << gene << "' (in '" << label << "') was not seen in training; known: " << known
                                      << (ds.n_perturbed > 40 ? ", ..." : ""));
        }
        out.push_back(found);
        if (p == std::string::npos) break;
        start = p + delim.size();
    }
    return out;
}

}  // namespace gpo::eval
