// Run configuration: defaults, merge with unknown-key errors, --set overrides, validation (see config.h).
#include "io/config.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/check.h"
#include "io/atomic_file.h"

namespace gpo::io {

// The one place defaults live. Values are the reference configs' (docs/model.md §5, Adamson column where
// datasets differ); null means "not set" (an optional string).
json config_defaults() {
    return json::parse(R"({
  "data": {
    "path": null,
    "perturbation_key": "gene",
    "control_label": "non-targeting",
    "control_labels": [],
    "control_parts": [],
    "combination_delimiter": "+",
    "gene_name_column": null,
    "split_column": null,
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
    "qc": "mad",
    "qc_mad": 3.0,
    "max_extended_genes": 0,
    "extended_min_abs_log2fc": 1.0,
    "extended_max_padj": 0.01,
    "ot_reg": 1.0,
    "ot_cost_scale": 100.0,
    "ot_max_iter": 1000,
    "ot_block_mb": 4096,
    "device": "auto",
    "cf_max_cells": 50,
    "cache_dir": null,
    "counts_in_memory_mb": 4096
  },
  "model": {
    "type": "gpo_vae",
    "inference": "auto",
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
    "grn_target": "reference",
    "grn_prior": null,
    "grn_prior_logit": 2.0,
    "grn_prior_weight": 1.0,
    "sparsity_coeff": 1.0
  },
  "train": {
    "seed": 0,
    "device": "auto",
    "objective": "elbo",
    "dtype": "float32",
    "batch_size": 512,
    "particles": 5,
    "lr": 3e-4,
    "lr_schedule": "constant",
    "lr_warmup_epochs": 0.0,
    "lr_decay_epochs": 0.0,
    "lr_min_fraction": 0.0,
    "mask_lr_scale": 1.0,
    "kl_warmup_epochs": 0.0,
    "penalty_warmup_epochs": 0.0,
    "weight_decay": 1e-6,
    "clip_norm": 100.0,
    "max_epochs": 2000,
    "patience": 30,
    "log_every_steps": 50,
    "checkpoint_every_steps": 0,
    "checkpoint_every_seconds": 120.0
  },
  "evaluate": {
    "split": "test",
    "iwelbo_particles": 100,
    "ate_particles": 2500,
    "ate_library_size": 10000.0,
    "ate_batch": 128,
    "top_k_de": 20,
    "cells_per_real": 1,
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
    } catch (const json::out_of_range&) {
        GPO_FAIL("--set " << assignment << ": the number is out of range (expected a finite number)");
    } catch (const json::exception&) {
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

// ---------------------------------------------------------------------------- the validation table
// Every scalar key with its kind and allowed range, checked before anything is read or written. `docs/config.md`
// explains the meaning of each key; this table is what the engine enforces.
namespace {

enum class Kind { Int, Real, Text, Choice };

struct KeyRule {
    const char* path;     // "train.lr"
    Kind kind;
    double lo, hi;        // range for Int/Real (inclusive unless *_open)
    bool lo_open, hi_open;
    const char* choices;  // Choice: comma-separated allowed values
};

constexpr double kInf = 1e300;

// Table rows: integer(path, lo, hi) and real(...) inclusive unless open; above(path, lo): > lo; at_least: >= lo.
KeyRule integer(const char* p, double lo, double hi) { return {p, Kind::Int, lo, hi, false, false, nullptr}; }
KeyRule real(const char* p, double lo, double hi, bool lo_open, bool hi_open) {
    return {p, Kind::Real, lo, hi, lo_open, hi_open, nullptr};
}
KeyRule above(const char* p, double lo) { return {p, Kind::Real, lo, kInf, true, false, nullptr}; }
KeyRule at_least(const char* p, double lo) { return {p, Kind::Real, lo, kInf, false, false, nullptr}; }
KeyRule one_of(const char* p, const char* choices) { return {p, Kind::Choice, 0, 0, false, false, choices}; }
KeyRule text(const char* p) { return {p, Kind::Text, 0, 0, false, false, nullptr}; }

const std::vector<KeyRule>& key_rules() {
    static const std::vector<KeyRule> rules = {
        text("data.perturbation_key"),
        text("data.control_label"),
        text("data.combination_delimiter"),
        one_of("preprocess.split", "random,heldout_perturbations,heldout_combinations"),
        integer("preprocess.split_seed", 0, 9.2e18),
        one_of("preprocess.qc", "mad,none"),
        above("preprocess.qc_mad", 0),
        integer("preprocess.max_extended_genes", 0, 1e7),
        at_least("preprocess.extended_min_abs_log2fc", 0),
        real("preprocess.extended_max_padj", 0, 1, true, false),
        above("preprocess.ot_reg", 0),
        above("preprocess.ot_cost_scale", 0),
        integer("preprocess.ot_max_iter", 1, 1e7),
        above("preprocess.ot_block_mb", 0),
        one_of("preprocess.device", "auto,cpu,cuda"),
        integer("preprocess.cf_max_cells", 1, 1e7),
        at_least("preprocess.counts_in_memory_mb", 0),
        one_of("model.type", "gpo_vae,sams_vae,cpa_vae,conditional_vae"),
        one_of("model.inference", "auto,mean_field,correlated_z,correlated_e,correlated"),
        integer("model.n_latent", 1, 1e5),
        integer("model.basal_encoder.n_layers", 1, 64),
        integer("model.basal_encoder.hidden", 1, 1e6),
        integer("model.embedding_encoder.n_layers", 1, 64),
        integer("model.embedding_encoder.hidden", 1, 1e6),
        integer("model.qc_encoder.n_layers", 1, 64),
        integer("model.qc_encoder.hidden", 1, 1e6),
        integer("model.decoder.n_layers", 1, 64),
        integer("model.decoder.hidden", 1, 1e6),
        real("model.mask_prior", 0, 1, true, true),
        real("model.mask_init", -50, 50, false, false),
        above("model.embedding_prior_scale", 0),
        above("model.mask_temperature", 0),
        at_least("model.cf_beta", 0),
        one_of("model.cf_term", "reference,kl"),
        one_of("model.grn_target", "reference,measured,profile"),
        real("model.grn_prior_logit", -50, 50, false, false),
        at_least("model.grn_prior_weight", 0),
        one_of("model.qc_alpha", "batch,global"),
        // K-hop propagation repeats a T x T product K times; the reference uses 5, beyond ~100 it only costs time.
        integer("model.grn_hops", 0, 100),
        at_least("model.fc_criteria", 0),
        at_least("model.gloss_coeff", 0),
        at_least("model.sparsity_coeff", 0),
        integer("train.seed", 0, 9.2e18),
        one_of("train.device", "auto,cpu,cuda"),
        one_of("train.objective", "elbo,iwelbo"),
        one_of("train.dtype", "float32,float64"),
        integer("train.batch_size", 1, 1e7),
        integer("train.particles", 1, 1e4),
        real("train.lr", 0, 10, true, false),
        one_of("train.lr_schedule", "constant,cosine"),
        at_least("train.lr_warmup_epochs", 0),
        at_least("train.lr_decay_epochs", 0),
        real("train.lr_min_fraction", 0, 1, false, false),
        real("train.mask_lr_scale", 0, 1e4, false, false),
        at_least("train.kl_warmup_epochs", 0),
        at_least("train.penalty_warmup_epochs", 0),
        at_least("train.weight_decay", 0),
        // Global-norm clipping threshold: 0 would freeze training and a negative value flips every gradient.
        above("train.clip_norm", 0),
        integer("train.max_epochs", 1, 1e9),
        integer("train.patience", 1, 1e9),
        integer("train.log_every_steps", 1, 1e9),
        integer("train.checkpoint_every_steps", 0, 1e12),
        at_least("train.checkpoint_every_seconds", 0),
        one_of("evaluate.split", "train,val,test,all"),
        integer("evaluate.iwelbo_particles", 1, 1e6),
        integer("evaluate.ate_particles", 1, 1e7),
        above("evaluate.ate_library_size", 0),
        integer("evaluate.ate_batch", 1, 1e7),
        integer("evaluate.top_k_de", 1, 1e7),
        integer("evaluate.cells_per_real", 1, 100),
        real("evaluate.grn_threshold", 0, 1, false, false),
    };
    return rules;
}

const json& at_path(const json& cfg, const std::string& dotted) {
    const json* v = &cfg;
    std::stringstream ss(dotted);
    for (std::string p; std::getline(ss, p, '.');) {
        GPO_CHECK(v->is_object() && v->contains(p), dotted << ": missing from the configuration");
        v = &(*v)[p];
    }
    return *v;
}

std::string range_text(const KeyRule& r) {
    std::ostringstream os;
    bool has_lo = r.lo > -kInf, has_hi = r.hi < kInf;
    if (has_lo && has_hi) {
        os << (r.lo_open ? "in (" : "in [") << r.lo << ", " << r.hi << (r.hi_open ? ")" : "]");
    } else if (has_lo) {
        os << (r.lo_open ? "> " : ">= ") << r.lo;
    } else {
        os << (r.hi_open ? "< " : "<= ") << r.hi;
    }
    return os.str();
}

void check_rule(const json& cfg, const KeyRule& r) {
    const json& v = at_path(cfg, r.path);
    switch (r.kind) {
        case Kind::Text:
            GPO_CHECK(v.is_string() && !v.get<std::string>().empty(),
                      r.path << ": expected a non-empty string, got " << v.dump());
            return;
        case Kind::Choice: {
            std::string list = r.choices, val = v.is_string() ? v.get<std::string>() : v.dump();
            std::stringstream ss(list);
            for (std::string c; std::getline(ss, c, ',');)
                if (v.is_string() && val == c) return;
            for (char& ch : list)
                if (ch == ',') ch = '|';
            GPO_FAIL(r.path << ": unknown value '" << val << "', expected one of " << list);
            return;
        }
        case Kind::Int:
        case Kind::Real: {
            bool ok = r.kind == Kind::Real ? v.is_number() : v.is_number_integer();
            if (ok) {
                double x = v.is_number_unsigned() ? (double)v.get<uint64_t>() : v.get<double>();
                ok = std::isfinite(x) && (r.lo_open ? x > r.lo : x >= r.lo) && (r.hi_open ? x < r.hi : x <= r.hi);
            }
            GPO_CHECK(ok, r.path << ": expected " << (r.kind == Kind::Int ? "an integer" : "a number") << " "
                                 << range_text(r) << ", got " << v.dump());
            return;
        }
    }
}

}  // namespace

std::vector<std::string> config_validated_keys() {
    std::vector<std::string> keys;
    for (const auto& r : key_rules()) keys.push_back(r.path);
    return keys;
}

void config_validate(const json& cfg) {
    for (const auto& r : key_rules()) check_rule(cfg, r);
    const json& fr = cfg["preprocess"]["split_fractions"];
    GPO_CHECK(fr.is_array() && fr.size() == 3, "preprocess.split_fractions: expected [train, val, test]");
    double s = 0;
    for (auto& f : fr) {
        GPO_CHECK(f.is_number() && f.get<double>() >= 0 && std::isfinite(f.get<double>()),
                  "preprocess.split_fractions: expected non-negative numbers, got " << fr.dump());
        s += f.get<double>();
    }
    GPO_CHECK(std::abs(s - 1.0) < 1e-6, "preprocess.split_fractions: must sum to 1, got " << s);
    for (const char* list : {"data.control_labels", "data.control_parts", "preprocess.heldout"}) {
        const json& v = at_path(cfg, list);
        GPO_CHECK(v.is_array(), list << ": expected an array of strings, got " << v.dump());
        for (const auto& e : v)
            GPO_CHECK(e.is_string() && !e.get<std::string>().empty(),
                      list << ": expected non-empty strings, got " << v.dump());
    }
    for (const char* opt : {"data.path", "data.counts_layer", "data.cell_filter_column", "data.qc_column",
                            "data.doublet_column", "data.extended_gene_column", "data.gene_name_column",
                            "data.split_column", "preprocess.cache_dir"}) {
        const json& v = at_path(cfg, opt);
        GPO_CHECK(v.is_null() || (v.is_string() && !v.get<std::string>().empty()),
                  opt << ": expected a non-empty string or null, got " << v.dump());
    }
}

json config_load(const std::string& path, const std::vector<std::string>& overrides) {
    json cfg = config_defaults();
    if (!path.empty()) {
        std::ifstream f(path);
        GPO_CHECK(f, path << ": cannot open config file");
        json user;
        try {
            user = json::parse(f);
        } catch (const json::exception& e) {  // parse errors, and numbers out of range such as 1e999
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
