// The training loop of `gpo-engine train`: seeded shuffling, P particles, Adam with coupled weight decay,
// global-norm clipping, validation each epoch, early stopping on the validation loss, best/last checkpoints,
// exact resume, SIGINT/SIGTERM -> checkpoint and exit, progress bar and a JSON-lines metrics log.
// Under an MPI launcher (engine/dist/comm.h, docs/scaling.md) every rank trains on its shard of each batch and the
// gradients are summed over the ranks; rank 0 alone writes the folder, the log and the checkpoints.
// Output folder: config.json, cells.csv (data::write_cell_table: split, QC flag, matched control per cell),
// metrics.jsonl, checkpoints/best.ckpt, checkpoints/last.ckpt.
//
// Never losing a result:
//  - a folder that already holds a run is refused unless resuming (resume) or starting afresh (force);
//  - last.ckpt is also written every train.checkpoint_every_steps steps and every train.checkpoint_every_seconds
//    seconds, with the partial-epoch loss sums, so a SIGKILL loses at most that much work;
//  - on resume, metrics.jsonl loses its torn last line and the lines after the checkpoint (they are written
//    again), so an interrupted-and-resumed run leaves the same log as an uninterrupted one;
//  - a checkpoint of another dataset (gene/treatment names) or with damaged tensors is refused.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace gpo::train {

struct TrainOptions {
    std::string out_dir;
    std::string resume;   // checkpoint to resume from ("" = fresh start)
    std::string device;   // auto | cpu | cuda (overrides train.device when not empty)
    bool force = false;   // start afresh in a folder that holds a run (its metrics and checkpoints are replaced)
    bool quiet = false;   // no progress output (tests)
    int64_t max_steps = -1;  // stop after this many optimizer steps in total (tests, benchmarks); -1 = no limit
};

struct TrainResult {
    int64_t epochs = 0, steps = 0;
    double best_val_loss = 0, last_val_loss = 0, first_val_loss = 0;
    bool interrupted = false, early_stopped = false;
    int signal = 0;                   // SIGINT/SIGTERM that stopped the run (0 = none)
    std::vector<double> step_losses;  // every training step's loss, in order (this process only)
};

TrainResult train(const nlohmann::json& cfg, const data::Dataset& ds, const TrainOptions& opt);

}  // namespace gpo::train
