// `gpo-engine evaluate`, `gpo-engine predict` and `gpo-engine grn`: outputs of a trained model.
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "engine/check.h"
#include "engine/eval/evaluate.h"
#include "engine/eval/grn_outputs.h"
#include "engine/eval/predict.h"
#include "tools/cli/commands.h"

namespace gpo::cli {

namespace fs = std::filesystem;

static std::unique_ptr<eval::LoadedModel> load(const Args& a, const std::string& cmd) {
    GPO_CHECK(a.has("checkpoint"), cmd << ": --checkpoint is required (e.g. runs/demo/checkpoints/best.ckpt)");
    std::string device = a.has("device") ? a.get_choice("device", {"auto", "cpu", "cuda"}, "auto") : "";
    return eval::load_model(a.get("checkpoint"), device, a.all("set"), true);
}

int cmd_evaluate(const Args& a) {
    auto m = load(a, "evaluate");
    std::string out = a.get("out", (fs::path(m->run_dir) / "eval").string());
    nlohmann::json r = eval::evaluate_model(*m, out, true, a.get("export", ""));
    const auto& mm = r["metrics"]["model"];
    const auto& pm = r["metrics"]["baselines"]["perturbed_mean"];
    auto show = [](const nlohmann::json& v) { return v.is_null() ? std::string("n/a") : std::to_string(v.get<double>()); };
    std::fprintf(stderr, "top-20 ATE Pearson: model %s, mean of perturbed cells %s; pearson_delta (cell-eval): model %s, "
                 "mean of perturbed cells %s; IWELBO %s\n",
                 show(mm["ate_pearson_top20"]).c_str(), show(pm["ate_pearson_top20"]).c_str(),
                 show(mm["pearson_delta"]).c_str(), show(pm["pearson_delta"]).c_str(), show(r["iwelbo"]["mean"]).c_str());
    if (a.has("export"))
        std::fprintf(stderr, "evaluate: cell-eval inputs in %s (cell-eval run -ap %s/pred.h5ad -ar %s/real.h5ad "
                             "--pert-col target_gene --control-pert %s)\n",
                     a.get("export").c_str(), a.get("export").c_str(), a.get("export").c_str(),
                     m->dataset.control_label.c_str());
    return 0;
}

int cmd_predict(const Args& a) {
    GPO_CHECK(a.has("out"), "predict: --out FILE.h5ad is required");
    GPO_CHECK(a.has("perturbations"), "predict: --perturbations is required (e.g. \"IRF1,IRF1+JAK2\")");
    eval::PredictOptions o;
    std::stringstream ss(a.get("perturbations"));
    for (std::string l; std::getline(ss, l, ',');)
        if (!l.empty()) o.labels.push_back(l);
    o.cells = (int)a.get_int("cells", 1, 10000000, o.cells);
    o.particles = (int)a.get_int("particles", 1, 1000000, o.particles);
    std::string from = a.get_choice("library-from", {"condition", "control"}, "condition");
    o.library_from = from == "control" ? eval::LibrarySource::Control : eval::LibrarySource::Condition;
    if (a.has("library")) {
        GPO_CHECK(!a.has("library-from"), "predict: give either --library L (one size for every cell) or "
                                          "--library-from, not both");
        o.library = a.get_real("library", 1e-6, 1e12, o.library);
        o.library_from = eval::LibrarySource::Fixed;
    }
    o.means_path = a.get("means", "");
    o.seed = (uint64_t)a.get_int("seed", 0, INT64_MAX, 0);
    auto m = load(a, "predict");
    eval::predict_to_h5ad(*m, o, a.get("out"), true);
    std::fprintf(stderr, "predict: wrote %s%s\n", a.get("out").c_str(),
                 o.means_path.empty() ? "" : (" and " + o.means_path).c_str());
    return 0;
}

int cmd_grn(const Args& a) {
    GPO_CHECK(a.has("out"), "grn: --out DIR is required");
    eval::GrnOptions o;
    if (a.has("threshold")) o.threshold = a.get_real("threshold", 0.0, 1.0, o.threshold);
    o.top_k = a.get_int("top-k", 1, INT64_MAX, 0);
    o.n_random = a.get_int("random-sets", 1, 100000000, o.n_random);
    if (a.has("split")) o.split = a.get_choice("split", {"train", "val", "test", "all"}, "test");
    for (const auto& r : a.all("reference")) o.references.push_back(io::parse_edge_list_arg(r, "--reference"));
    auto m = load(a, "grn");
    if (!a.has("threshold")) o.threshold = m->config["evaluate"]["grn_threshold"].get<double>();
    if (!a.has("split")) o.split = m->config["evaluate"]["split"].get<std::string>();
    o.seed = m->config["train"]["seed"].get<uint64_t>();
    eval::grn_outputs(*m, o, a.get("out"), true);
    return 0;
}

}  // namespace gpo::cli
