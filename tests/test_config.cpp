// Config: defaults, merging, unknown keys and wrong types named by path, --set overrides, validation, atomic save.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <fstream>

#include "engine/check.h"
#include "io/config.h"
#include "tests/harness.h"

using gpo::test::error_of;

using namespace gpo;
using gpo::io::json;

static std::string write_temp(const std::string& name, const std::string& text) {
    std::string p = std::string(GPO_BINARY_DIR) + "/" + name;
    std::ofstream(p) << text;
    return p;
}

TEST(Config, DefaultsAreTheReferenceValues) {
    json c = io::config_load("");
    EXPECT_EQ(c["model"]["type"], "gpo_vae");
    EXPECT_DOUBLE_EQ(c["model"]["mask_prior"].get<double>(), 0.3);
    EXPECT_EQ(c["model"]["grn_hops"].get<int>(), 5);
    EXPECT_DOUBLE_EQ(c["train"]["lr"].get<double>(), 3e-4);
    EXPECT_DOUBLE_EQ(c["train"]["weight_decay"].get<double>(), 1e-6);
    EXPECT_DOUBLE_EQ(c["train"]["clip_norm"].get<double>(), 100.0);
    EXPECT_EQ(c["train"]["batch_size"].get<int>(), 512);
    EXPECT_EQ(c["data"]["perturbation_key"], "gene");
    EXPECT_EQ(c["data"]["control_label"], "non-targeting");
}

TEST(Config, FileMergesOntoDefaults) {
    std::string p = write_temp("cfg_ok.json", R"({"model": {"decoder": {"hidden": 64}}, "train": {"lr": 0.01}})");
    json c = io::config_load(p);
    EXPECT_EQ(c["model"]["decoder"]["hidden"].get<int>(), 64);
    EXPECT_EQ(c["model"]["decoder"]["n_layers"].get<int>(), 2);  // untouched default
    EXPECT_DOUBLE_EQ(c["train"]["lr"].get<double>(), 0.01);
}

TEST(Config, UnknownKeyNamesItsPath) {
    std::string p = write_temp("cfg_bad.json", R"({"model": {"decoder": {"hiden": 64}}})");
    std::string m = error_of([&] { io::config_load(p); });
    EXPECT_NE(m.find("model.decoder.hiden: unknown key"), std::string::npos) << m;
    EXPECT_NE(m.find("cfg_bad.json"), std::string::npos) << m;
}

TEST(Config, WrongTypeNamesExpectedType) {
    std::string p = write_temp("cfg_type.json", R"({"train": {"lr": "fast"}})");
    std::string m = error_of([&] { io::config_load(p); });
    EXPECT_NE(m.find("train.lr: expected a number"), std::string::npos) << m;
}

TEST(Config, UnknownModelTypeIsAnError) {
    std::string m = error_of([&] { io::config_load("", {"model.type=gpt"}); });
    EXPECT_NE(m.find("model.type"), std::string::npos) << m;
    EXPECT_NE(m.find("gpo_vae"), std::string::npos) << m;
}

TEST(Config, OverridesParseJsonOrString) {
    json c = io::config_load("", {"train.lr=1e-3", "data.path=/tmp/x.h5ad", "model.decoder.hidden=32",
                                  "train.device=cpu"});
    EXPECT_DOUBLE_EQ(c["train"]["lr"].get<double>(), 1e-3);
    EXPECT_EQ(c["data"]["path"], "/tmp/x.h5ad");
    EXPECT_EQ(c["model"]["decoder"]["hidden"].get<int>(), 32);
    EXPECT_FALSE(error_of([&] { io::config_load("", {"train.nope=1"}); }).empty());
    EXPECT_NE(error_of([&] { io::config_load("", {"trainlr"}); }).find("section.key=value"), std::string::npos);
}

TEST(Config, ValidationCatchesRanges) {
    EXPECT_NE(error_of([&] { io::config_load("", {"preprocess.split_fractions=[0.5,0.5,0.5]"}); })
                  .find("sum to 1"),
              std::string::npos);
    EXPECT_NE(error_of([&] { io::config_load("", {"train.batch_size=0"}); }).find("train.batch_size"),
              std::string::npos);
    EXPECT_NE(error_of([&] { io::config_load("", {"model.mask_prior=1.5"}); }).find("model.mask_prior"),
              std::string::npos);
}

TEST(Config, MissingAndInvalidFiles) {
    EXPECT_NE(error_of([&] { io::config_load("/nonexistent/c.json"); }).find("cannot open"), std::string::npos);
    std::string p = write_temp("cfg_syntax.json", "{not json");
    EXPECT_NE(error_of([&] { io::config_load(p); }).find("not valid JSON"), std::string::npos);
}

TEST(Config, SaveIsAtomicAndRoundTrips) {
    std::string p = std::string(GPO_BINARY_DIR) + "/cfg_saved.json";
    json c = io::config_load("", {"train.seed=7"});
    io::config_save(c, p);
    std::ifstream f(p + ".tmp");
    EXPECT_FALSE(f.good());  // no temp file left behind
    EXPECT_EQ(io::config_load(p)["train"]["seed"].get<int>(), 7);
}

TEST(Config, EveryOutOfRangeValueIsRefusedNamingTheKey) {
    // Each of these was accepted, or failed deep inside without the key, before the validation table.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"train.clip_norm=-1", "train.clip_norm"},          {"train.clip_norm=0", "train.clip_norm"},
        {"model.grn_hops=100000000", "model.grn_hops"},     {"model.decoder.hidden=0", "model.decoder.hidden"},
        {"model.basal_encoder.hidden=-3", "model.basal_encoder.hidden"},
        {"model.embedding_encoder.n_layers=0", "model.embedding_encoder.n_layers"},
        {"model.mask_temperature=0", "model.mask_temperature"},
        {"train.weight_decay=-1e-6", "train.weight_decay"}, {"train.seed=-1", "train.seed"},
        {"train.patience=-1", "train.patience"},            {"preprocess.ot_max_iter=-5", "preprocess.ot_max_iter"},
        {"preprocess.cf_max_cells=-1", "preprocess.cf_max_cells"}, {"evaluate.ate_batch=0", "evaluate.ate_batch"},
        {"data.control_label=\"\"", "data.control_label"},   {"train.lr=1e999", "out of range"},
        {"train.batch_size=2.5", "train.batch_size"},       {"evaluate.grn_threshold=1.5", "evaluate.grn_threshold"},
        {"model.type=gpo", "model.type"},                   {"train.checkpoint_every_seconds=-1",
                                                             "train.checkpoint_every_seconds"},
    };
    for (const auto& [set, says] : cases) {
        std::string m = error_of([&] { io::config_load("", {set}); });
        EXPECT_NE(m.find(says), std::string::npos) << set << " -> '" << m << "'";
    }
    // The boundaries that are allowed stay allowed.
    EXPECT_TRUE(error_of([&] { io::config_load("", {"model.grn_hops=0", "model.cf_beta=0", "train.seed=0"}); })
                    .empty());
}

TEST(Config, HugeNumberInAFileIsAClearError) {
    std::string p = write_temp("cfg_huge.json", R"({"train": {"lr": 1e999}})");
    std::string m = error_of([&] { io::config_load(p); });
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_NE(m.find("not valid JSON"), std::string::npos) << m;
}

TEST(Config, EveryNumericDefaultKeyIsInTheValidationTable) {
    // A new numeric or string key added to the defaults must get a rule (kind and range) in the table.
    std::vector<std::string> rules = io::config_validated_keys();
    std::function<void(const json&, const std::string&)> walk = [&](const json& j, const std::string& prefix) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
            if (it->is_object()) {
                walk(*it, path);
            } else if (it->is_number() || it->is_string()) {
                EXPECT_NE(std::find(rules.begin(), rules.end(), path), rules.end()) << path << " has no rule";
            }
        }
    };
    walk(io::config_defaults(), "");
}
