// Training loop (see trainer.h).
#include "engine/train/trainer.h"

#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "engine/check.h"
#include "engine/data/loader.h"
#include "engine/device.h"
#include "engine/models/factory.h"
#include "engine/optim.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/progress.h"

namespace gpo::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

struct SignalScope {  // installs the SIGINT/SIGTERM handlers for the loop, restores the old ones after
    void (*old_int)(int), (*old_term)(int);
    SignalScope() {
        g_stop_signal = 0;
        old_int = std::signal(SIGINT, on_stop_signal);
        old_term = std::signal(SIGTERM, on_stop_signal);
    }
    ~SignalScope() {
        std::signal(SIGINT, old_int);
        std::signal(SIGTERM, old_term);
    }
};

json terms_json(const models::LossTerms& t) {
    return {{"loss", t.loss}, {"recon", t.recon}, {"kl_z", t.kl_z}, {"kl_mask", t.kl_mask}, {"kl_emb", t.kl_emb},
            {"kl_qc", t.kl_qc}, {"cf", t.cf},       {"grn", t.grn},   {"sparsity", t.sparsity}};
}

// Noise streams: training steps use stream 0 at the global step; validation uses stream 1 at (epoch, batch).
constexpr uint64_t VAL_STREAM = 1;

}  // namespace

TrainResult train(const json& cfg, const data::Dataset& ds, const TrainOptions& opt) {
    const json& tc = cfg.at("train");
    const Device dev = resolve_device(opt.device.empty() ? tc.at("device").get<std::string>() : opt.device);
    const uint64_t seed = tc.at("seed").get<uint64_t>();
    const int64_t batch_size = tc.at("batch_size").get<int64_t>();
    const int64_t max_epochs = tc.at("max_epochs").get<int64_t>();
    const int64_t patience = tc.at("patience").get<int64_t>();
    const int64_t log_every = std::max<int64_t>(1, tc.at("log_every_steps").get<int64_t>());
    const double clip = tc.at("clip_norm").get<double>();

    fs::create_directories(fs::path(opt.out_dir) / "checkpoints");
    const std::string last_path = (fs::path(opt.out_dir) / "checkpoints" / "last.ckpt").string();
    const std::string best_path = (fs::path(opt.out_dir) / "checkpoints" / "best.ckpt").string();
    io::config_save(cfg, (fs::path(opt.out_dir) / "config.json").string());

    ParamStore ps;
    auto model = models::create_model(cfg, ds, ps);
    ps.finalize(Device::CPU, DType::F32);
    model->init_params(ps, seed);
    ps.to(dev);
    Adam adam(AdamConfig{tc.at("lr").get<double>(), 0.9, 0.999, 1e-8, tc.at("weight_decay").get<double>()}, ps);

    TrainResult res;
    int64_t epoch = 0, step = 0, batch_in_epoch = 0, bad_epochs = 0;
    double best = std::numeric_limits<double>::infinity();
    if (!opt.resume.empty()) {
        io::CheckpointMeta m = io::checkpoint_load(opt.resume, ps, &adam);
        epoch = m.epoch;
        step = m.step;
        best = m.best_val_loss;
        batch_in_epoch = m.rng.value("batch_in_epoch", 0);
        bad_epochs = m.rng.value("bad_epochs", 0);
        res.first_val_loss = m.rng.value("first_val_loss", 0.0);
        if (!opt.quiet)
            std::fprintf(stderr, "resumed from %s at epoch %lld, step %lld\n", opt.resume.c_str(), (long long)epoch,
                         (long long)step);
    }

    std::ofstream metrics((fs::path(opt.out_dir) / "metrics.jsonl").string(), std::ios::app);
    GPO_CHECK(metrics, opt.out_dir << "/metrics.jsonl: cannot open for writing");

    auto save = [&](const std::string& path) {
        io::CheckpointMeta m;
        m.config = cfg;
        m.step = step;
        m.epoch = epoch;
        m.best_val_loss = best;
        m.rng = {{"seed", seed}, {"batch_in_epoch", batch_in_epoch}, {"bad_epochs", bad_epochs},
                 {"first_val_loss", res.first_val_loss}};
        io::checkpoint_save(path, ps, &adam, m);
    };

    SignalScope signals;
    const RngKey train_key{seed, 0}, val_key{seed, VAL_STREAM};
    while (epoch < max_epochs) {
        auto batches = data::epoch_batches(ds, data::SPLIT_TRAIN, batch_size, seed, (uint64_t)epoch, true);
        io::Progress bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(max_epochs));
        double epoch_loss = 0;
        int64_t epoch_cells = 0;
        for (; batch_in_epoch < (int64_t)batches.size(); ++batch_in_epoch) {
            const auto& cells = batches[batch_in_epoch];
            models::Batch b = data::make_batch(ds, cells, data::SPLIT_TRAIN, DType::F32, dev);
            ps.zero_grad();
            Tape tape;
            models::LossTerms t = model->loss(tape, ps, b, train_key, (uint64_t)step);
            GPO_CHECK(std::isfinite(t.loss), "training diverged: loss is " << t.loss << " at step " << step
                                                                           << " (try a smaller train.lr)");
            tape.backward(t.total);
            double gnorm = clip_grad_norm(ps, clip);
            adam.step(ps);
            ++step;
            res.step_losses.push_back(t.loss);
            epoch_loss += t.loss * (double)cells.size();
            epoch_cells += (int64_t)cells.size();
            if (step % log_every == 0) {
                json j = terms_json(t);
                j["type"] = "step";
                j["epoch"] = epoch;
                j["step"] = step;
                j["grad_norm"] = gnorm;
                metrics << j.dump() << "\n";
                metrics.flush();
            }
            if (!opt.quiet) {
                char s[64];
                std::snprintf(s, sizeof s, "loss %.4g", t.loss);
                bar.update(batch_in_epoch + 1, (int64_t)batches.size(), s);
            }
            bool step_limit = opt.max_steps >= 0 && step >= opt.max_steps;
            if (g_stop_signal || step_limit) {
                ++batch_in_epoch;
                save(last_path);
                res.interrupted = g_stop_signal != 0;
                if (!opt.quiet && g_stop_signal)
                    bar.finish_line("interrupted: checkpoint written to " + last_path + " (resume with --resume)");
                res.epochs = epoch;
                res.steps = step;
                res.best_val_loss = best;
                return res;
            }
        }
        // ---------------------------------------------------------------- validation
        double val_sum = 0;
        int64_t val_cells = 0;
        {
            auto vb = data::epoch_batches(ds, data::SPLIT_VAL, batch_size, seed, 0, false);
            for (size_t i = 0; i < vb.size(); ++i) {
                models::Batch b = data::make_batch(ds, vb[i], data::SPLIT_VAL, DType::F32, dev);
                Tape tape;
                NoGradGuard ng(tape);
                models::LossTerms t = model->loss(tape, ps, b, val_key, (uint64_t)(epoch * 100000 + (int64_t)i));
                val_sum += t.loss * (double)vb[i].size();
                val_cells += (int64_t)vb[i].size();
            }
        }
        double val = val_sum / (double)std::max<int64_t>(1, val_cells);
        double train_loss = epoch_cells ? epoch_loss / (double)epoch_cells : 0;
        ++epoch;
        batch_in_epoch = 0;
        if (res.first_val_loss == 0) res.first_val_loss = val;
        res.last_val_loss = val;
        bool improved = val < best;
        if (improved) {
            best = val;
            bad_epochs = 0;
        } else {
            ++bad_epochs;
        }
        metrics << json{{"type", "epoch"}, {"epoch", epoch}, {"step", step}, {"train_loss", train_loss},
                        {"val_loss", val}, {"best_val_loss", best}}
                       .dump()
                << "\n";
        metrics.flush();
        if (improved) save(best_path);
        save(last_path);
        if (!opt.quiet) {
            char s[160];
            std::snprintf(s, sizeof s, "epoch %lld: train loss %.4f, val loss %.4f%s", (long long)epoch, train_loss,
                          val, improved ? " (best)" : "");
            bar.finish_line(s);
        }
        if (bad_epochs >= patience) {
            res.early_stopped = true;
            if (!opt.quiet)
                std::fprintf(stderr, "early stopping: no improvement of the validation loss for %lld epochs\n",
                             (long long)patience);
            break;
        }
        if (g_stop_signal) {
            res.interrupted = true;
            break;
        }
    }
    res.epochs = epoch;
    res.steps = step;
    res.best_val_loss = best;
    return res;
}

}  // namespace gpo::train
