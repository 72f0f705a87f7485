// Learning-rate schedule and annealing weights (see schedule.h).
#include "engine/train/schedule.h"

#include <algorithm>
#include <cmath>

namespace gpo::train {

double Schedule::lr_at(double epoch) const {
    double f = 1.0;
    if (cosine) {
        const double t = std::clamp((epoch - warmup_epochs) / std::max(decay_epochs, 1e-12), 0.0, 1.0);
        f = min_fraction + (1.0 - min_fraction) * 0.5 * (1.0 + std::cos(M_PI * t));
    }
    if (warmup_epochs > 0 && epoch < warmup_epochs) f *= epoch / warmup_epochs;
    return lr * f;
}

Schedule schedule_from_config(const nlohmann::json& tc) {
    Schedule s;
    s.lr = tc.at("lr").get<double>();
    s.cosine = tc.at("lr_schedule").get<std::string>() == "cosine";
    s.warmup_epochs = tc.at("lr_warmup_epochs").get<double>();
    s.decay_epochs = tc.at("lr_decay_epochs").get<double>();
    if (!(s.decay_epochs > 0)) s.decay_epochs = tc.at("max_epochs").get<double>();
    s.min_fraction = tc.at("lr_min_fraction").get<double>();
    s.kl_warmup_epochs = tc.at("kl_warmup_epochs").get<double>();
    s.penalty_warmup_epochs = tc.at("penalty_warmup_epochs").get<double>();
    return s;
}

}  // namespace gpo::train
