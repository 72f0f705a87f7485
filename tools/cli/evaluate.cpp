// `gpo-engine evaluate`, `gpo-engine predict` and `gpo-engine grn`: outputs of a trained model.
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "engine/check.h"
#include "engine/eval/evaluate.h"
#include "engine/eval/grn_outputs.h"
#include "engine/eval/predict.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"

namespace gpo::cli {

namespace fs = std::filesystem;

static std::unique_ptr<eval::LoadedModel> load(const Args& a, const std::string& cmd) {
    GPO_CHECK(a.has("checkpoint"), cmd << ": --checkpoint is required (e.g. runs/demo/checkpoints/best.ckpt)");
    return eval::load_model(a.get("checkpoint"), a.get("device"), a.sets, true);
}

int cmd_evaluate(const std::vector<std::string>& argv) {
    Args a = parse_args("evaluate", argv, {"checkpoint", "out", "device", "config"});
    GPO_CHECK(!a.has("config"), "evaluate: the run config comes from the checkpoint; change keys with --set");
    auto m = load(a, "evaluate");
    std::string out = a.get("out", (fs::path(m->run_dir) / "eval").string());
    nlohmann::json r = eval::evaluate_model(*m, out, true);
    const auto& mm = r["metrics"]["model"];
    const auto& pm = r["metrics"]["baselines"]["perturbed_mean"];
    auto show = [](const nlohmann::json& v) { return v.is_null() ? std::string("n/a") : std::to_string(v.get<double>()); };
    std::fprintf(stderr, "top-20 ATE Pearson: model %s, mean of perturbed cells %s; IWELBO %s\n",
                 show(mm["ate_pearson_top20"]).c_str(), show(pm["ate_pearson_top20"]).c_str(),
                 show(r["iwelbo"]["mean"]).c_str());
    return 0;
}

int cmd_predict(const std::vector<std::string>& argv) {
    Args a = parse_args("predict", argv, {"checkpoint", "perturbations", "out", "cells", "particles", "library",
                                          "device", "seed"});
    GPO_CHECK(a.has("out"), "predict: --out FILE.h5ad is required");
    GPO_CHECK(a.has("perturbations"), "predict: --perturbations is required (e.g. \"IRF1,IRF1+JAK2\")");
    auto m = load(a, "predict");
    eval::PredictOptions o;
    std::stringstream ss(a.get("perturbations"));
    for (std::string l; std::getline(ss, l, ',');)
        if (!l.empty()) o.labels.push_back(l);
    if (a.has("cells")) o.sampled_cells = std::stoi(a.get("cells"));
    if (a.has("particles")) o.particles = std::stoi(a.get("particles"));
    if (a.has("library")) o.library = std::stod(a.get("library"));
    if (a.has("seed")) o.seed = std::stoull(a.get("seed"));
    eval::predict_to_h5ad(*m, o, a.get("out"));
    std::fprintf(stderr, "predict: wrote %s\n", a.get("out").c_str());
    return 0;
}

int cmd_grn(const std::vector<std::string>& argv) {
    // --reference may repeat: collect its values before the generic parser (which keeps the last).
    std::vector<std::string> rest, refs;
    for (size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == "--reference") {
            GPO_CHECK(i + 1 < argv.size(), "grn: option --reference needs a value");
            refs.push_back(argv[++i]);
        } else {
            rest.push_back(argv[i]);
        }
    }
    Args a = parse_args("grn", rest, {"checkpoint", "out", "threshold", "top-k", "split", "device", "random-sets"});
    GPO_CHECK(a.has("out"), "grn: --out DIR is required");
    auto m = load(a, "grn");
    eval::GrnOptions o;
    o.threshold = a.has("threshold") ? std::stod(a.get("threshold"))
                                     : m->config["evaluate"]["grn_threshold"].get<double>();
    if (a.has("top-k")) o.top_k = std::stoll(a.get("top-k"));
    o.split = a.get("split", m->config["evaluate"]["split"].get<std::string>());
    if (a.has("random-sets")) o.n_random = std::stoll(a.get("random-sets"));
    o.seed = m->config["train"]["seed"].get<uint64_t>();
    for (const auto& r : refs) o.references.push_back(eval::parse_reference_arg(r));
    eval::grn_outputs(*m, o, a.get("out"), true);
    return 0;
}

}  // namespace gpo::cli
