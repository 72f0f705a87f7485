// Training loop (see trainer.h), in stages: the run folder, the model and optimizer, the loop state (restored
// from a checkpoint when resuming), the epoch loop with its checkpoints, and validation.
#include "engine/train/trainer.h"

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "engine/check.h"
#include "engine/data/loader.h"
#include "engine/device.h"
#include "engine/dist/comm.h"
#include "engine/models/factory.h"
#include "engine/optim.h"
#include "engine/train/schedule.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/jsonl_log.h"
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
            {"kl_qc", t.kl_qc}, {"cf", t.cf},       {"grn", t.grn},   {"sparsity", t.sparsity},
            {"grn_prior", t.grn_prior}};
}

// Noise streams: training steps use stream 0 at the global step; validation uses stream 1 at (epoch, batch).
constexpr uint64_t VAL_STREAM = 1;

struct RunFiles {
    std::string dir, config, metrics, last, best;
};

// The run folder: refuses one that holds a run unless resuming or forced, removes temporary files a killed
// process left behind, and writes the resolved config.
RunFiles prepare_run_folder(const TrainOptions& opt, const json& cfg) {
    RunFiles f;
    fs::path d(opt.out_dir);
    f.dir = opt.out_dir;
    f.config = (d / "config.json").string();
    f.metrics = (d / "metrics.jsonl").string();
    f.last = (d / "checkpoints" / "last.ckpt").string();
    f.best = (d / "checkpoints" / "best.ckpt").string();
    std::error_code ec;
    std::string held;
    for (const std::string& p : {f.metrics, f.last, f.best})
        if (fs::exists(p, ec)) held += (held.empty() ? "" : ", ") + fs::path(p).lexically_relative(d).string();
    if (!held.empty() && opt.resume.empty()) {
        GPO_CHECK(opt.force, "the run folder " << opt.out_dir << " already holds a run (" << held
                                               << "); continue it with --resume " << f.last
                                               << ", start afresh with --force, or choose another --out");
        for (const std::string& p : {f.metrics, f.last, f.best}) fs::remove(p, ec);
    }
    fs::create_directories(d / "checkpoints");
    for (const auto& e : fs::directory_iterator(d / "checkpoints", ec))
        if (e.path().extension() == ".tmp") fs::remove(e.path(), ec);  // a write cut short by a kill
    io::config_save(cfg, f.config);
    return f;
}

// Everything the loop needs to continue exactly where a checkpoint left it.
struct LoopState {
    int64_t epoch = 0, step = 0, batch_in_epoch = 0, bad_epochs = 0;
    double best = std::numeric_limits<double>::infinity();
    double first_val_loss = 0;
    double epoch_loss = 0;   // sum over the epoch's steps so far of loss * cells
    int64_t epoch_cells = 0;

    json to_json(uint64_t seed) const {
        return {{"seed", seed},           {"batch_in_epoch", batch_in_epoch}, {"bad_epochs", bad_epochs},
                {"first_val_loss", first_val_loss}, {"epoch_loss_sum", epoch_loss}, {"epoch_cells", epoch_cells}};
    }
    void restore(const io::CheckpointMeta& m) {
        epoch = m.epoch;
        step = m.step;
        best = m.best_val_loss;
        batch_in_epoch = m.rng.value("batch_in_epoch", (int64_t)0);
        bad_epochs = m.rng.value("bad_epochs", (int64_t)0);
        first_val_loss = m.rng.value("first_val_loss", 0.0);
        epoch_loss = m.rng.value("epoch_loss_sum", 0.0);
        epoch_cells = m.rng.value("epoch_cells", (int64_t)0);
    }
};

// Mean loss over the validation split (no gradients); noise at (epoch, batch) on its own stream. With several
// ranks each takes every ranks-th whole batch and the sums are added over the ranks.
double validation_loss(models::Model& model, ParamStore& ps, const data::Dataset& ds, int64_t batch_size,
                       uint64_t seed, int64_t epoch, Device dev) {
    const DType dt = ps.values().dtype;
    const RngKey val_key{seed, VAL_STREAM};
    double sums[2] = {0, 0};  // loss * cells, cells
    auto vb = data::epoch_batches(ds, data::SPLIT_VAL, batch_size, seed, 0, false);
    for (size_t i = (size_t)dist::rank(); i < vb.size(); i += (size_t)dist::size()) {
        models::Batch b = data::make_batch(ds, vb[i], data::SPLIT_VAL, dt, dev);
        Tape tape;
        NoGradGuard ng(tape);
        models::LossTerms t = model.loss(tape, ps, b, val_key, (uint64_t)(epoch * 100000 + (int64_t)i));
        sums[0] += t.loss * (double)vb[i].size();
        sums[1] += (double)vb[i].size();
    }
    dist::allreduce_sum(sums, 2);
    return sums[0] / std::max(1.0, sums[1]);
}

// One optimizer step's objective and gradients. One rank: the whole batch. Several: this rank's shard of it
// (data::shard_range), then the loss terms are summed over the ranks and the flat gradient buffer is summed in this
// rank's part of it (dist::reduce_scatter_sum; optimizer_step updates that part). An empty shard (batch smaller than
// the ranks) contributes zeros.
models::LossTerms step_objective(models::Model& model, ParamStore& ps, const data::Dataset& ds,
                                 const std::vector<int64_t>& cells, RngKey key, uint64_t step, Device dev,
                                 double kl_weight, double penalty_weight) {
    ps.zero_grad();
    const DType dt = ps.values().dtype;
    models::LossTerms t;
    const int ranks = dist::size();
    const data::ShardRange shard = data::shard_range((int64_t)cells.size(), dist::rank(), ranks);
    if (!shard.empty()) {
        models::Batch b = ranks == 1 ? data::make_batch(ds, cells, data::SPLIT_TRAIN, dt, dev)
                                     : data::make_shard_batch(ds, cells, shard, data::SPLIT_TRAIN, dt, dev);
        b.kl_weight = kl_weight, b.penalty_weight = penalty_weight;
        Tape tape;
        t = model.loss(tape, ps, b, key, step);
        tape.backward(t.total);
    }
    t.total = Var{};
    if (ranks > 1) {
        double v[10] = {t.loss, t.recon, t.kl_z, t.kl_mask, t.kl_emb, t.kl_qc, t.cf, t.grn, t.sparsity, t.grn_prior};
        dist::allreduce_sum(v, 10);
        t.loss = v[0], t.recon = v[1], t.kl_z = v[2], t.kl_mask = v[3], t.kl_emb = v[4], t.kl_qc = v[5], t.cf = v[6],
        t.grn = v[7], t.sparsity = v[8], t.grn_prior = v[9];
        dist::reduce_scatter_sum(ps.grads());
    }
    return t;
}

// Clipping and Adam at learning rate lr; returns the gradient norm before clipping. Several ranks: each clips and
// updates `part` of the flat buffers (the part Adam keeps the moments of; the norm from the parts' sums of squares
// over the ranks), then every part is copied from its owner to every rank (dist::allgather_parts), so the
// optimizer's work — at T = 10,000 mostly the 100 M mask logits — is split N ways instead of repeated on every rank.
double optimizer_step(ParamStore& ps, Adam& adam, const dist::Part& part, double clip, double lr) {
    if (dist::size() == 1) {
        const double norm = clip_grad_norm(ps, clip);
        adam.step(ps, lr);
        return norm;
    }
    const double norm = clip_grad_norm_part(ps, clip, part.begin, part.end, [](double local) {
        dist::allreduce_sum(&local, 1);
        return local;
    });
    adam.step(ps, lr);
    dist::allgather_parts(ps.values());
    return norm;
}

}  // namespace

TrainResult train(const json& cfg, const data::Dataset& ds, const TrainOptions& opt) {
    const json& tc = cfg.at("train");
    const Device dev = resolve_device(opt.device.empty() ? tc.at("device").get<std::string>() : opt.device);
    const uint64_t seed = tc.at("seed").get<uint64_t>();
    const int64_t batch_size = tc.at("batch_size").get<int64_t>();
    const int64_t max_epochs = tc.at("max_epochs").get<int64_t>();
    const int64_t patience = tc.at("patience").get<int64_t>();
    const int64_t log_every = std::max<int64_t>(1, tc.at("log_every_steps").get<int64_t>());
    const int64_t ckpt_every_steps = tc.at("checkpoint_every_steps").get<int64_t>();
    const double ckpt_every_seconds = tc.at("checkpoint_every_seconds").get<double>();
    const double clip = tc.at("clip_norm").get<double>();
    const std::string identity = data::dataset_identity(ds);
    // Data-parallel ranks (engine/dist/comm.h): rank 0 writes the run folder, the log and the checkpoints and
    // shows progress; every rank trains on its shard of each batch.
    const bool root = dist::is_root();
    const bool quiet = opt.quiet || !root;
    if (!quiet && dist::size() > 1 && dev == Device::CUDA)
        std::fprintf(stderr, "gradients    staged through host memory between the GPUs (NCCL is not built yet: "
                             "docs/scaling.md)\n");

    // ---------------------------------------------------------------- model, optimizer, state
    ParamStore ps;
    auto model = models::create_model(cfg, ds, ps);
    const DType dtype = models::param_dtype(cfg);
    GPO_CHECK(dtype == DType::F32 || dev == Device::CPU, "train.dtype=float64 runs on the CPU only (--device cpu)");
    ps.finalize(Device::CPU, dtype);
    model->init_params(ps, seed);
    ps.to(dev);
    if (!quiet)
        std::fprintf(stderr, "model        %s, %lld parameters (%s)\n", cfg["model"]["type"].get<std::string>().c_str(),
                     (long long)ps.values().numel(), dtype == DType::F32 ? "float32" : "float64");
    Adam adam(AdamConfig{tc.at("lr").get<double>(), 0.9, 0.999, 1e-8, tc.at("weight_decay").get<double>()}, ps);
    const Schedule schedule = schedule_from_config(tc);
    const double mask_lr_scale = tc.at("mask_lr_scale").get<double>();
    if (mask_lr_scale != 1.0 && model->mask_logits() >= 0) {
        const ParamStore::Entry& w = ps.entries()[(size_t)model->mask_logits()];
        adam.set_lr_scale(w.offset, shape_numel(w.shape), mask_lr_scale);
    }

    TrainResult res;
    LoopState st;
    if (!opt.resume.empty()) {
        io::CheckpointMeta m = io::checkpoint_load(opt.resume, ps, &adam);
        GPO_CHECK(m.dataset_identity.empty() || m.dataset_identity == identity,
                  "--resume " << opt.resume << ": the checkpoint was trained on another dataset (its gene or "
                              << "treatment names differ from " << ds.source << ")");
        st.restore(m);
        if (!quiet)
            std::fprintf(stderr, "resumed from %s at epoch %lld, step %lld\n", opt.resume.c_str(),
                         (long long)st.epoch, (long long)st.step);
    }
    const dist::Part part = dist::my_part(ps.values().numel());
    adam.set_part(part.begin, part.end);  // after the load: each rank keeps its part's moments (all on one rank)
    RunFiles files;
    std::unique_ptr<io::JsonlLog> metrics_log;  // rank 0 only
    const LoopState at_start = st;
    if (root) {
        files = prepare_run_folder(opt, cfg);
        data::write_cell_table(ds, (fs::path(files.dir) / "cells.csv").string());  // split, QC, matched control per cell
        // On resume the log keeps what the checkpoint covers; the later lines are written again below.
        metrics_log = std::make_unique<io::JsonlLog>(
            files.metrics, opt.resume.empty() ? io::JsonlLog::Mode::Truncate : io::JsonlLog::Mode::Append,
            [&](const json& j) {
                std::string type = j.value("type", "");
                if (type == "step") return j.value("step", (int64_t)0) <= at_start.step;
                if (type == "epoch") return j.value("epoch", (int64_t)0) <= at_start.epoch;
                return true;
            });
        if (metrics_log->dropped_lines() && !quiet)
            std::fprintf(stderr, "%s: dropped %lld incomplete line(s) left by an interrupted run\n",
                         files.metrics.c_str(), (long long)metrics_log->dropped_lines());
    }
    dist::barrier();  // the other ranks start once the run folder is accepted (a refusal aborts every rank)
    auto log_line = [&](const json& j) {
        if (metrics_log) metrics_log->write(j);
    };

    auto save = [&](const std::string& path) {  // called by every rank at the same step
        // Several ranks: each keeps the Adam moments of its part only; rank 0 collects them into a whole state.
        std::unique_ptr<Adam> whole;
        if (dist::size() > 1) {
            if (root) whole = std::make_unique<Adam>(adam.config(), ps);
            dist::gather_parts_to_root(adam.exp_avg(), root ? &whole->exp_avg() : nullptr);
            dist::gather_parts_to_root(adam.exp_avg_sq(), root ? &whole->exp_avg_sq() : nullptr);
            if (whole) whole->set_steps(adam.steps());
        }
        if (!root) return;
        io::CheckpointMeta m;
        m.config = cfg;
        m.step = st.step;
        m.epoch = st.epoch;
        m.best_val_loss = st.best;
        m.rng = st.to_json(seed);
        m.dataset_identity = identity;
        io::checkpoint_save(path, ps, whole ? whole.get() : &adam, m);
    };
    auto finish = [&]() {  // the result, from the loop state
        res.epochs = st.epoch;
        res.steps = st.step;
        res.best_val_loss = st.best;
        res.first_val_loss = st.first_val_loss;
        return res;
    };
    using clock = std::chrono::steady_clock;
    auto last_save = clock::now();

    // ---------------------------------------------------------------- the epoch loop
    SignalScope signals;
    const RngKey train_key{seed, 0};
    while (st.epoch < max_epochs) {
        auto batches = data::epoch_batches(ds, data::SPLIT_TRAIN, batch_size, seed, (uint64_t)st.epoch, true);
        io::Progress bar("epoch " + std::to_string(st.epoch + 1) + "/" + std::to_string(max_epochs));
        while (st.batch_in_epoch < (int64_t)batches.size()) {
            const auto& cells = batches[st.batch_in_epoch];
            if (st.batch_in_epoch + 1 < (int64_t)batches.size())  // one batch of rows read ahead (files on disk)
                data::read_ahead(ds, batches[st.batch_in_epoch + 1]);
            const double at_epoch = (double)st.epoch + (double)(st.batch_in_epoch + 1) / (double)batches.size();
            models::LossTerms t = step_objective(*model, ps, ds, cells, train_key, (uint64_t)st.step, dev,
                                                 schedule.kl_weight(at_epoch), schedule.penalty_weight(at_epoch));
            GPO_CHECK(std::isfinite(t.loss), "training diverged: loss is " << t.loss << " at step " << st.step
                                                                           << " (try a smaller train.lr)");
            const double lr = schedule.lr_at(at_epoch);
            const double gnorm = optimizer_step(ps, adam, part, clip, lr);
            ++st.step;
            ++st.batch_in_epoch;
            res.step_losses.push_back(t.loss);
            st.epoch_loss += t.loss * (double)cells.size();
            st.epoch_cells += (int64_t)cells.size();
            if (st.step % log_every == 0) {
                json j = terms_json(t);
                j["type"] = "step";
                j["epoch"] = st.epoch;
                j["step"] = st.step;
                j["grad_norm"] = gnorm;
                j["lr"] = lr;
                log_line(j);
            }
            if (!quiet) {
                char s[64];
                std::snprintf(s, sizeof s, "loss %.4g", t.loss);
                bar.update(st.batch_in_epoch, (int64_t)batches.size(), s);
            }
            const bool step_limit = opt.max_steps >= 0 && st.step >= opt.max_steps;
            const int stop_signal = (int)dist::allreduce_max((int64_t)g_stop_signal);  // every rank stops together
            if (stop_signal || step_limit) {
                save(files.last);
                res.interrupted = stop_signal != 0;
                res.signal = stop_signal;
                if (!quiet && stop_signal)
                    bar.finish_line("interrupted: checkpoint written to " + files.last + " (resume with --resume)");
                return finish();
            }
            const bool by_steps = ckpt_every_steps > 0 && st.step % ckpt_every_steps == 0;
            bool by_time = ckpt_every_seconds > 0 &&
                           std::chrono::duration<double>(clock::now() - last_save).count() >= ckpt_every_seconds;
            if (ckpt_every_seconds > 0) by_time = dist::allreduce_max(by_time) != 0;  // the ranks save together
            if ((by_steps || by_time) && st.batch_in_epoch < (int64_t)batches.size()) {
                save(files.last);
                last_save = clock::now();
            }
        }
        // ---------------------------------------------------------------- validation, early stopping
        const double val = validation_loss(*model, ps, ds, batch_size, seed, st.epoch, dev);
        const double train_loss = st.epoch_cells ? st.epoch_loss / (double)st.epoch_cells : 0;
        ++st.epoch;
        st.batch_in_epoch = 0;
        st.epoch_loss = 0;
        st.epoch_cells = 0;
        if (st.first_val_loss == 0) st.first_val_loss = val;
        res.last_val_loss = val;
        const bool improved = val < st.best;
        if (improved) {
            st.best = val;
            st.bad_epochs = 0;
        } else {
            ++st.bad_epochs;
        }
        log_line({{"type", "epoch"}, {"epoch", st.epoch}, {"step", st.step}, {"train_loss", train_loss},
                       {"val_loss", val}, {"best_val_loss", st.best}});
        if (improved) save(files.best);
        save(files.last);
        last_save = clock::now();
        if (!quiet) {
            char s[160];
            std::snprintf(s, sizeof s, "epoch %lld: train loss %.4f, val loss %.4f%s", (long long)st.epoch,
                          train_loss, val, improved ? " (best)" : "");
            bar.finish_line(s);
        }
        if (st.bad_epochs >= patience) {
            res.early_stopped = true;
            if (!quiet)
                std::fprintf(stderr, "early stopping: no improvement of the validation loss for %lld epochs\n",
                             (long long)patience);
            break;
        }
        if (const int stop_signal = (int)dist::allreduce_max((int64_t)g_stop_signal)) {
            res.interrupted = true;
            res.signal = stop_signal;
            break;
        }
    }
    return finish();
}

}  // namespace gpo::train
