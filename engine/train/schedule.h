// What changes over training besides the parameters: the learning rate (warm-up, then constant or a cosine decay)
// and the annealing weights of the KL-type and penalty terms (models::Batch::kl_weight, penalty_weight). Every value
// is a function of the fractional epoch at the end of a step (epoch + (batches done + 1) / batches per epoch, so the
// first warm-up step is not wasted at 0), so a resumed run continues exactly. Defaults give the reference's constant rate and full weights (docs/config.md).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace gpo::train {

struct Schedule {
    double lr = 3e-4;
    bool cosine = false;          // train.lr_schedule "cosine"
    double warmup_epochs = 0;     // train.lr_warmup_epochs: linear rise from lr / (warm-up steps) to lr
    double decay_epochs = 0;      // train.lr_decay_epochs: cosine from lr to lr * min_fraction over these epochs
    double min_fraction = 0;      // train.lr_min_fraction
    double kl_warmup_epochs = 0;  // train.kl_warmup_epochs: KL weight rises linearly from 0 to 1
    double penalty_warmup_epochs = 0;  // train.penalty_warmup_epochs: the same for the GRN/sparsity/prior terms

    double lr_at(double epoch) const;
    double kl_weight(double epoch) const { return ramp(epoch, kl_warmup_epochs); }
    double penalty_weight(double epoch) const { return ramp(epoch, penalty_warmup_epochs); }

  private:
    static double ramp(double epoch, double over) { return over > 0 && epoch < over ? epoch / over : 1.0; }
};

// From the config's train section (lr_decay_epochs 0 = max_epochs).
Schedule schedule_from_config(const nlohmann::json& train_cfg);

}  // namespace gpo::train
