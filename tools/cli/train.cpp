// `gpo-engine preprocess` and `gpo-engine train`.
#include <chrono>
#include <cstdio>

#include "engine/data/preprocess.h"
#include "engine/train/trainer.h"
#include "io/config.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"

namespace gpo::cli {

static data::Dataset load_dataset(const nlohmann::json& cfg) {
    auto t0 = std::chrono::steady_clock::now();
    data::Dataset ds = data::preprocess_dataset(cfg);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%s", data::preprocess_summary(ds, s).c_str());
    return ds;
}

int cmd_preprocess(const std::vector<std::string>& argv) {
    Args a = parse_args("preprocess", argv, {"config", "out"});
    nlohmann::json cfg = io::config_load(a.get("config"), a.sets);
    load_dataset(cfg);
    return 0;
}

int cmd_train(const std::vector<std::string>& argv) {
    Args a = parse_args("train", argv, {"config", "out", "resume", "device", "max-steps"});
    nlohmann::json cfg = io::config_load(a.get("config"), a.sets);
    train::TrainOptions opt;
    opt.out_dir = a.get("out", "runs/" + cfg.at("model").at("type").get<std::string>());
    opt.resume = a.get("resume");
    opt.device = a.get("device");
    if (a.has("max-steps")) opt.max_steps = std::stoll(a.get("max-steps"));
    data::Dataset ds = load_dataset(cfg);
    train::TrainResult r = train::train(cfg, ds, opt);
    std::fprintf(stderr, "trained %lld epochs (%lld steps); best val loss %.4f; output in %s\n", (long long)r.epochs,
                 (long long)r.steps, r.best_val_loss, opt.out_dir.c_str());
    return 0;
}

}  // namespace gpo::cli
