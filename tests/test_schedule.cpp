// Learning-rate schedule and annealing weights (engine/train/schedule.h) against their closed forms, and the
// config keys that select them.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/train/schedule.h"
#include "io/config.h"

using namespace gpo;

TEST(Schedule, DefaultsAreTheReferenceConstantRateAndFullWeights) {
    train::Schedule s = train::schedule_from_config(io::config_defaults().at("train"));
    for (double e : {0.01, 0.5, 3.0, 1999.0}) {
        EXPECT_EQ(s.lr_at(e), 3e-4);
        EXPECT_EQ(s.kl_weight(e), 1.0);
        EXPECT_EQ(s.penalty_weight(e), 1.0);
    }
}

TEST(Schedule, WarmupCosineAndRampsFollowTheirFormulas) {
    nlohmann::json tc = io::config_defaults().at("train");
    tc["lr"] = 1e-3, tc["lr_schedule"] = "cosine", tc["lr_warmup_epochs"] = 4.0, tc["lr_decay_epochs"] = 20.0;
    tc["lr_min_fraction"] = 0.1, tc["kl_warmup_epochs"] = 10.0, tc["penalty_warmup_epochs"] = 5.0;
    train::Schedule s = train::schedule_from_config(tc);
    // Warm-up: linear in the epoch, times the cosine factor (1 before the decay starts).
    EXPECT_NEAR(s.lr_at(1.0), 1e-3 * 1.0 / 4.0, 1e-18);
    EXPECT_NEAR(s.lr_at(4.0), 1e-3, 1e-18);
    // Cosine from epoch 4 to 24: lr (0.1 + 0.9 * (1 + cos(pi t)) / 2), t = (e - 4) / 20.
    EXPECT_NEAR(s.lr_at(14.0), 1e-3 * (0.1 + 0.9 * 0.5), 1e-15);
    EXPECT_NEAR(s.lr_at(9.0), 1e-3 * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25))), 1e-15);
    EXPECT_NEAR(s.lr_at(24.0), 1e-4, 1e-18);
    EXPECT_NEAR(s.lr_at(100.0), 1e-4, 1e-18);  // stays at the floor
    EXPECT_NEAR(s.kl_weight(2.5), 0.25, 1e-15);
    EXPECT_EQ(s.kl_weight(10.0), 1.0);
    EXPECT_NEAR(s.penalty_weight(1.0), 0.2, 1e-15);
    EXPECT_EQ(s.penalty_weight(7.0), 1.0);
    // lr_decay_epochs 0: the decay spans max_epochs.
    tc["lr_decay_epochs"] = 0.0, tc["max_epochs"] = 100, tc["lr_warmup_epochs"] = 0.0;
    train::Schedule d = train::schedule_from_config(tc);
    EXPECT_NEAR(d.lr_at(50.0), 1e-3 * (0.1 + 0.9 * 0.5), 1e-15);
}
