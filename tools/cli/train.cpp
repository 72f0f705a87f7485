// `gpo-engine preprocess` and `gpo-engine train`.
#include <cstdio>

#include "engine/data/cache.h"
#include "engine/data/preprocess.h"
#include "engine/train/trainer.h"
#include "io/config.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"

namespace gpo::cli {

static data::Dataset load_dataset(const nlohmann::json& cfg, const std::string& cache_dir = "") {
    data::LoadInfo info;
    data::Dataset ds = data::load_dataset(cfg, &info, cache_dir);
    std::fprintf(stderr, "%s", data::preprocess_summary(ds, info.seconds).c_str());
    if (info.from_cache) std::fprintf(stderr, "cache        read %s\n", info.cache_file.c_str());
    else if (!info.cache_file.empty()) std::fprintf(stderr, "cache        wrote %s\n", info.cache_file.c_str());
    return ds;
}

int cmd_preprocess(const std::vector<std::string>& argv) {
    Args a = parse_args("preprocess", argv, {"config", "out"});
    nlohmann::json cfg = io::config_load(a.get("config"), a.sets);
    load_dataset(cfg, a.get("out"));  // --out DIR: where the cache file goes
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
