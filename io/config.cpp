// Run configuration: defaults, merge with unknown-key errors, --set overrides, validation (see config.h).
#include "io/config.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/check.h"
#include "io/atomic_file.h"

namespace gpo::io {

// The one place defaults live. Values are the reference configs' (gpo_vae_reference.md §5, Adamson column where
// datasets differ); null means "not set" (an optional string).
json config_defaults() {
    return json::parse(R"({
  "data": {
    "path": null,
    "perturbation_key": "gene",
    "control_label": "non-targeting",
    "combination_delimiter": "+",
    "counts_layer": null,
    "cell_filter_column": null,
    "qc_column": null,
    "doublet_column": null,
    "extended_gene_column": null
  },
  "preprocess": {
    "split": "random",
    "split_fractions": [0.64, 0.16, 0.20],
    "split_seed": 0,
    "heldout": [],
    "qc_mad": 3.0,
    "max_extended_genes": 0,
    "extended_min_abs_log2fc": 1.0,
    "extended_max_padj": 0.01,
    "ot_reg": 1.0,
    "ot_cost_scale": 100.0,
    "ot_max_iter": 1000,
    "device": "auto",
    "cf_max_cells": 50,
    "cache_dir": null
  },
  "model": {
    "type": "gpo_vae",
    "inference": "correlated",
    "n_latent": 100,
    "basal_encoder": {"n_layers": 1, "hidden": 400},
    "embedding_encoder": {"n_layers": 4, "hidden": 400},
    "qc_encoder": {"n_layers": 4, "hidden": 400},
    "decoder": {"n_layers": 2, "hidden": 400},
    "mask_prior": 0.3,
    "mask_init": 0.0,
    "embedding_prior_scale": 1.0,
    "mask_temperature": 1.0,
    "cf_beta": 0.1,
    "cf_term": "reference",
    "qc_alpha": "batch",
    "grn_hops": 5,
    "fc_criteria": 0.4,
    "gloss_coeff": 100.0,
    "sparsity_coeff": 1.0
  },
  "train": {
    "seed": 0,
    "device": "auto",
    "objective": "elbo",
    "batch_size": 512,
    "particles": 5,
    "lr": 3e-4,
    "weight_decay": 1e-6,
    "clip_norm": 100.0,
    "max_epochs": 2000,
    "patience": 30,
    "log_every_steps": 50
  },
  "evaluate": {
    "split": "test",
    "iwelbo_particles": 100,
    "ate_particles": 2500,
    "ate_library_size": 10000.0,
    "ate_batch": 128,
    "top_k_de": 20,
    "grn_threshold": 0.5
  }
})");
}

static const char* type_name(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number()) return "a number";
    if (v.is_string()) return "a string";
    if (v.is_array()) return "an array";
    return "an object";
}

static bool default_is_null(const std::string& dotted_path) {
    static const json defaults = config_defaults();
    std::string ptr = "/" + dotted_path;
    for (char& c : ptr)
        if (c == '.') c = '/';
    json::json_pointer jp(ptr);
    return defaults.contains(jp) && defaults.at(jp).is_null();
}

void config_merge(json& base, const json& user, const std::string& where, const std::string& prefix) {
    GPO_CHECK(user.is_object(), where << ": " << (prefix.empty() ? "the config" : prefix) << " must be an object, got "
                                      << type_name(user));
    for (auto it = user.begin(); it != user.end(); ++it) {
        std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
        GPO_CHECK(base.contains(it.key()), where << ": " << path << ": unknown key");
        json& slot = base[it.key()];
        const json& v = it.value();
        if (slot.is_object()) {
            config_merge(slot, v, where, path);
            continue;
        }
        // Optional keys (null by default) take a string or null, also after a file has set them.
        bool optional = slot.is_null() || default_is_null(path);
        bool ok = optional && (v.is_null() || v.is_string())
                      ? true
                      : (slot.is_number() ? v.is_number() : std::string(type_name(slot)) == type_name(v));
        GPO_CHECK(ok, where << ": " << path << ": expected " << (slot.is_null() ? "a string" : type_name(slot))
                            << ", got " << type_name(v) << " (" << v.dump() << ")");
        slot = v;
    }
}

void config_apply_override(json& cfg, const std::string& assignment) {
    size_t eq = assignment.find('=');
    GPO_CHECK(eq != std::string::npos && eq > 0,
              "--set " << assignment << ": expected section.key=value (e.g. train.lr=1e-3)");
    std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
    json value;
    try {
        value = json::parse(text);
    } catch (const json::parse_error&) {
        value = text;  // a bare word is a string
    }
    // Build {"a": {"b": value}} and merge, so overrides get the same checks as files.
    json patch = value;
    std::vector<std::string> parts;
    std::stringstream ss(key);
    for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) patch = json{{*it, patch}};
    config_merge(cfg, patch, "--set " + assignment);
}

static void check_one_of(const json& cfg, const char* section, const char* key, std::vector<std::string> allowed) {
    std::string v = cfg[section][key].get<std::string>();
    for (auto& a : allowed)
        if (v == a) return;
    std::string list;
    for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    GPO_FAIL(section << "." << key << ": unknown value '" << v << "', expected one of " << list);
}

void config_validate(const json& cfg) {
    check_one_of(cfg, "model", "type", {"gpo_vae", "sams_vae", "cpa_vae", "conditional_vae"});
    check_one_of(cfg, "model", "inference", {"mean_field", "correlated_z", "correlated_e", "correlated"});
    check_one_of(cfg, "model", "cf_term", {"reference", "kl"});
    check_one_of(cfg, "model", "qc_alpha", {"batch", "global"});
    check_one_of(cfg, "train", "objective", {"elbo", "iwelbo"});
    check_one_of(cfg, "train", "device", {"auto", "cpu", "cuda"});
    check_one_of(cfg, "preprocess", "device", {"auto", "cpu", "cuda"});
    check_one_of(cfg, "preprocess", "split", {"random", "heldout_perturbations", "heldout_combinations"});
    check_one_of(cfg, "evaluate", "split", {"train", "val", "test", "all"});
    const json& fr = cfg["preprocess"]["split_fractions"];
    GPO_CHECK(fr.is_array() && fr.size() == 3, "preprocess.split_fractions: expected [train, val, test]");
    double s = 0;
    for (auto& f : fr) {
        GPO_CHECK(f.is_number() && f.get<double>() >= 0, "preprocess.split_fractions: expected non-negative numbers");
        s += f.get<double>();
    }
    GPO_CHECK(std::abs(s - 1.0) < 1e-6, "preprocess.split_fractions: must sum to 1, got " << s);
    auto positive_int = [&](const char* sec, const char* key) {
        const json& v = cfg[sec][key];
        GPO_CHECK(v.is_number_integer() && v.get<long long>() > 0,
                  sec << "." << key << ": expected a positive integer, got " << v.dump());
    };
    positive_int("model", "n_latent");
    positive_int("train", "batch_size");
    positive_int("train", "particles");
    positive_int("train", "max_epochs");
    positive_int("evaluate", "iwelbo_particles");
    positive_int("evaluate", "ate_particles");
    GPO_CHECK(cfg["model"]["grn_hops"].is_number_integer() && cfg["model"]["grn_hops"].get<int>() >= 0,
              "model.grn_hops: expected an integer >= 0");
    double pi = cfg["model"]["mask_prior"].get<double>();
    GPO_CHECK(pi > 0 && pi < 1, "model.mask_prior: expected a probability in (0, 1), got " << pi);
    GPO_CHECK(cfg["train"]["lr"].get<double>() > 0, "train.lr: expected > 0");
}

json config_load(const std::string& path, const std::vector<std::string>& overrides) {
    json cfg = config_defaults();
    if (!path.empty()) {
        std::ifstream f(path);
        GPO_CHECK(f, path << ": cannot open config file");
        json user;
        try {
            user = json::parse(f);
        } catch (const json::parse_error& e) {
            GPO_FAIL(path << ": not valid JSON: " << e.what());
        }
        config_merge(cfg, user, path);
    }
    for (const auto& o : overrides) config_apply_override(cfg, o);
    config_validate(cfg);
    return cfg;
}

void config_save(const json& cfg, const std::string& path) { write_file_atomic(path, cfg.dump(2) + "\n"); }

}  // namespace gpo::io
