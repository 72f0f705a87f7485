// Model factory (see factory.h).
#include "engine/models/factory.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "engine/check.h"
#include "engine/data/grn_profile_target.h"
#include "io/edges.h"

namespace gpo::models {

std::vector<int64_t> grn_prior_edges(const std::string& arg, const data::Dataset& ds) {
    auto [path, spec] = io::parse_edge_list_arg(arg, "model.grn_prior");
    io::EdgeList list = io::read_edge_list(path, spec);
    std::unordered_map<std::string, int64_t> index;
    for (int64_t t = 0; t < ds.T; ++t) index.emplace(ds.treatment_names[(size_t)t], t);
    std::vector<uint8_t> on((size_t)(ds.T * ds.T), 0);
    for (const auto& [a, b] : list.edges) {
        auto ia = index.find(a), ib = index.find(b);
        if (ia == index.end() || ib == index.end() || ia->second == ib->second) continue;
        on[(size_t)(ia->second * ds.T + ib->second)] = 1;
        if (!list.directed) on[(size_t)(ib->second * ds.T + ia->second)] = 1;
    }
    std::vector<int64_t> edges;
    for (int64_t e = 0; e < ds.T * ds.T; ++e)
        if (on[(size_t)e]) edges.push_back(e);
    GPO_CHECK(!edges.empty(), "model.grn_prior: " << path << " (" << list.edges.size()
                                                  << " edges) has no edge between two treatments of this dataset "
                                                     "(the treatment axis: its perturbed and extended genes)");
    return edges;
}

// The keys every model family reads the same way (dimensions, encoders, decoder, masks, particles, objective).
template <class Config>
static void read_shared_keys(const nlohmann::json& cfg, const data::Dataset& ds, Config& c) {
    const auto& m = cfg.at("model");
    c.G = ds.G;
    c.T = ds.T;
    c.L = m.at("n_latent").get<int64_t>();
    c.basal_layers = m.at("basal_encoder").at("n_layers").get<int>();
    c.basal_hidden = m.at("basal_encoder").at("hidden").get<int>();
    c.emb_layers = m.at("embedding_encoder").at("n_layers").get<int>();
    c.emb_hidden = m.at("embedding_encoder").at("hidden").get<int>();
    c.dec_layers = m.at("decoder").at("n_layers").get<int>();
    c.dec_hidden = m.at("decoder").at("hidden").get<int>();
    c.mask_prior = m.at("mask_prior").get<double>();
    c.mask_init = m.at("mask_init").get<double>();
    c.embedding_prior_scale = m.at("embedding_prior_scale").get<double>();
    c.temperature = m.at("mask_temperature").get<double>();
    c.particles = cfg.at("train").at("particles").get<int>();
    c.iwelbo = cfg.at("train").at("objective").get<std::string>() == "iwelbo";
}

GpoVaeConfig gpo_vae_config(const nlohmann::json& cfg, const data::Dataset& ds) {
    const auto& m = cfg.at("model");
    GpoVaeConfig c;
    read_shared_keys(cfg, ds, c);
    c.qc_layers = m.at("qc_encoder").at("n_layers").get<int>();
    c.qc_hidden = m.at("qc_encoder").at("hidden").get<int>();
    c.cf_beta = m.at("cf_beta").get<double>();
    c.cf_exact_kl = m.at("cf_term").get<std::string>() == "kl";
    c.alpha_global = m.at("qc_alpha").get<std::string>() == "global";
    c.alpha_value = ds.train_fail_fraction;
    c.qc_branch = ds.n_fail[data::SPLIT_TRAIN] > 0;  // D3: no QC-fail training cell -> no QC branch
    c.hops = m.at("grn_hops").get<int>();
    c.tau = m.at("fc_criteria").get<double>();
    c.gloss_coeff = m.at("gloss_coeff").get<double>();
    const std::string grn_target = m.value("grn_target", std::string("reference"));
    if (grn_target == "profile") {
        data::ProfileGrnTarget st = data::profile_grn_target(ds);
        double mx = 0, sum = 0;
        int64_t nz = 0;
        for (double v : st.value) mx = std::max(mx, v), sum += v, nz += v > 0;
        std::fprintf(stderr,
                     "model.grn_target profile: stand-in changes into %lld unmeasured perturbed genes, on-target "
                     "change k = %.4g, %lld non-zero (mean %.4g, max %.4g)\n",
                     (long long)st.columns, st.on_target_change, (long long)nz, nz ? sum / (double)nz : 0.0, mx);
        c.grn_stand_in = std::move(st.value);
    }
    if (grn_target == "measured") {
        c.grn_measured.assign((size_t)ds.T, 1);
        for (int64_t t = 0; t < ds.T; ++t) c.grn_measured[(size_t)t] = ds.treatment_gene[(size_t)t] >= 0;
    }
    c.sparsity_coeff = m.at("sparsity_coeff").get<double>();
    if (m.contains("grn_prior") && m.at("grn_prior").is_string()) {
        c.prior_edges = grn_prior_edges(m.at("grn_prior").get<std::string>(), ds);
        c.prior_logit = m.at("grn_prior_logit").get<double>();
        c.prior_weight = m.at("grn_prior_weight").get<double>();
    }
    return c;
}

SamsVaeConfig sams_vae_config(const nlohmann::json& cfg, const data::Dataset& ds) {
    const auto& m = cfg.at("model");
    SamsVaeConfig c;
    c.type = m.at("type").get<std::string>();
    c.inference = m.at("inference").get<std::string>();
    // "auto": each model's published guide (SAMS-VAE's best, correlated; CPA-VAE's free q(E) with q(z_b | x, d E)).
    if (c.inference == "auto") c.inference = c.type == "cpa_vae" ? "correlated_z" : "correlated";
    read_shared_keys(cfg, ds, c);
    return c;
}

DType param_dtype(const nlohmann::json& cfg) {
    const std::string d = cfg.contains("train") ? cfg["train"].value("dtype", std::string("float32")) : "float32";
    GPO_CHECK(d == "float32" || d == "float64", "train.dtype: expected float32 or float64, got " << d);
    return d == "float64" ? DType::F64 : DType::F32;
}

std::unique_ptr<Model> create_model(const nlohmann::json& cfg, const data::Dataset& ds, ParamStore& ps) {
    const std::string type = cfg.at("model").at("type").get<std::string>();
    if (type == "gpo_vae") return std::make_unique<GpoVae>(gpo_vae_config(cfg, ds), ps);
    GPO_CHECK(type == "sams_vae" || type == "cpa_vae" || type == "conditional_vae",
              "model.type: unknown model '" << type << "' (expected gpo_vae, sams_vae, cpa_vae or conditional_vae)");
    return std::make_unique<SamsVae>(sams_vae_config(cfg, ds), ps);
}

}  // namespace gpo::models
