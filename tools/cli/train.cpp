// `gpo-engine preprocess` and `gpo-engine train`.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "engine/check.h"
#include "engine/data/cache.h"
#include "engine/data/preprocess.h"
#include "engine/dist/comm.h"
#include "engine/parallel.h"
#include "engine/train/trainer.h"
#include "io/config.h"
#include "tools/cli/commands.h"

namespace gpo::cli {

namespace fs = std::filesystem;

static data::Dataset load_dataset(const nlohmann::json& cfg, const std::string& cache_dir = "", bool quiet = false) {
    data::LoadInfo info;
    data::Dataset ds = data::load_dataset(cfg, &info, cache_dir);
    if (quiet) return ds;
    std::fprintf(stderr, "%s", data::preprocess_summary(ds, info.seconds).c_str());
    if (info.from_cache) std::fprintf(stderr, "cache        read %s\n", info.cache_file.c_str());
    else if (!info.cache_file.empty()) std::fprintf(stderr, "cache        wrote %s\n", info.cache_file.c_str());
    return ds;
}

int cmd_preprocess(const Args& a) {
    GPO_CHECK(a.has("config"), "preprocess: --config FILE.json is required (e.g. data/configs/demo.json)");
    nlohmann::json cfg = io::config_load(a.get("config"), a.all("set"));
    data::Dataset ds = load_dataset(cfg, a.get("out"));  // --out DIR: where the cache file goes
    if (a.has("out")) {
        const std::string table = (fs::path(a.get("out")) / "cells.csv").string();
        data::write_cell_table(ds, table);
        std::fprintf(stderr, "cells        wrote %s (split, QC flag, matched control per cell)\n", table.c_str());
    }
    return 0;
}

int cmd_train(const Args& a) {
    GPO_CHECK(a.has("config"), "train: --config FILE.json is required (e.g. data/configs/demo.json)");
    GPO_CHECK(!(a.has("resume") && a.has("force")), "train: --resume and --force exclude each other");
    nlohmann::json cfg = io::config_load(a.get("config"), a.all("set"));
    // The run records where its data is in absolute form, so evaluate/predict/grn work from any directory.
    if (cfg["data"]["path"].is_string())
        cfg["data"]["path"] = fs::absolute(cfg["data"]["path"].get<std::string>()).lexically_normal().string();
    train::TrainOptions opt;
    opt.out_dir = a.get("out", "runs/" + cfg.at("model").at("type").get<std::string>());
    opt.resume = a.get("resume");
    opt.force = a.has("force");
    if (a.has("device")) opt.device = a.get_choice("device", {"auto", "cpu", "cuda"}, "auto");
    opt.max_steps = a.get_int("max-steps", 1, INT64_MAX, -1);
    if (!a.has("max-steps") && std::getenv("GPO_MAX_STEPS")) {
        opt.max_steps = parse_int(std::getenv("GPO_MAX_STEPS"), "train: GPO_MAX_STEPS (environment)", 1, INT64_MAX);
        if (dist::is_root()) std::fprintf(stderr, "train: stopping after %lld steps (GPO_MAX_STEPS)\n", (long long)opt.max_steps);
    }
    // Several ranks: rank 0 preprocesses first (and writes the cache), then the others read it.
    data::Dataset ds;
    if (dist::is_root()) ds = load_dataset(cfg);
    dist::barrier();
    if (!dist::is_root()) ds = load_dataset(cfg, "", true);
    if (dist::size() > 1 && dist::is_root())
        std::fprintf(stderr, "ranks        %d (MPI), %d CPU thread(s) each: each takes 1/%d of every batch of %lld cells\n",
                     dist::size(), cpu_threads(), dist::size(), (long long)cfg["train"]["batch_size"].get<int64_t>());
    train::TrainResult r = train::train(cfg, ds, opt);
    if (!dist::is_root()) return r.interrupted ? 128 + r.signal : 0;
    if (r.interrupted) {
        std::fprintf(stderr, "train: stopped by signal %d after %lld steps; resume with --resume %s/checkpoints/last.ckpt\n",
                     r.signal, (long long)r.steps, opt.out_dir.c_str());
        return 128 + r.signal;  // the shell convention for a process ended by a signal (130 SIGINT, 143 SIGTERM)
    }
    std::fprintf(stderr, "trained %lld epochs (%lld steps)%s; best val loss %.4f; output in %s\n", (long long)r.epochs,
                 (long long)r.steps, r.early_stopped ? ", stopped early" : "", r.best_val_loss, opt.out_dir.c_str());
    return 0;
}

}  // namespace gpo::cli
