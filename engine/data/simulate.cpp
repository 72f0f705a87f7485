// Synthetic Perturb-seq (see simulate.h for the design): the simulate config (defaults, merge, validation), the
// ground truth (genes, true GRN, per-perturbation effects), and the cells, drawn in row blocks on worker threads and
// streamed into the .h5ad's CSR X.
#include "engine/data/simulate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "engine/check.h"
#include "engine/rng.h"
#include "io/config.h"
#include "io/h5ad.h"
#include "io/progress.h"
#include "kernels/philox.h"

namespace gpo::data {

using nlohmann::json;

// The one place the simulate config's defaults live: a small dataset that simulates in well under a second.
json simulate_config_defaults() {
    return json::parse(R"({
  "seed": 0,
  "cells": 2000,
  "genes": 200,
  "perturbed_genes": 20,
  "extended_genes": 10,
  "unmeasured_perturbed_genes": 0,
  "control_fraction": 0.1,
  "combination_fraction": 0.0,
  "combinations": 10,
  "grn": {
    "edge_density": 0.05,
    "effect_min": 0.3,
    "effect_max": 1.0,
    "negative_fraction": 0.5,
    "hops": 2,
    "knockdown": 0.8,
    "max_abs_lfc": 5.0,
    "downstream_density": 0.02
  },
  "expression": {
    "latent_dim": 10,
    "basal_scale": 0.3,
    "gene_log_mean_sd": 1.5,
    "treatment_gene_boost": 1.0,
    "library_median": 10000.0,
    "library_log_sd": 0.3,
    "concentration_median": 2.0,
    "concentration_log_sd": 0.5
  },
  "qc": {
    "fail_fraction": 0.05,
    "library_factor": 0.3,
    "gene_fraction": 0.05,
    "log_shift": 2.0
  }
})");
}

namespace {

// Philox streams, one per purpose (any change alters every simulated file: keep them fixed).
enum Stream : uint64_t {
    S_BASE = 101, S_CONC, S_QC_GENE, S_BASAL, S_EDGE, S_EDGE_W, S_EDGE_SIGN, S_EXT, S_DOWN, S_DOWN_W, S_DOWN_SIGN,
    S_LABELS, S_PAIRS, S_Z, S_LIB, S_QC, S_NB_U, S_NB_GAMMA, S_NB_POIS
};

const json& at_path(const json& cfg, const std::string& dotted) {
    const json* v = &cfg;
    std::stringstream ss(dotted);
    for (std::string part; std::getline(ss, part, '.');) v = &v->at(part);
    return *v;
}

int64_t int_at(const json& cfg, const std::string& key, int64_t lo, int64_t hi) {
    const json& v = at_path(cfg, key);
    GPO_CHECK(v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi,
              key << ": expected an integer in [" << lo << ", " << hi << "], got " << v.dump());
    return v.get<int64_t>();
}

// A finite number in the range [lo, hi] (or (lo, ...) / (..., hi) when open).
double num_at(const json& cfg, const std::string& key, double lo, double hi, bool lo_open = false,
              bool hi_open = false) {
    const json& v = at_path(cfg, key);
    double x = v.is_number() ? v.get<double>() : NAN;
    bool ok = std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
    GPO_CHECK(ok, key << ": expected a number in " << (lo_open ? "(" : "[") << lo << ", " << hi << (hi_open ? ")" : "]")
                      << ", got " << v.dump());
    return x;
}

// Cells per kind of label: control, single perturbation, combination.
struct Counts {
    int64_t control = 0, single = 0, comb = 0;
};

Counts label_counts(const json& cfg) {
    int64_t N = cfg.at("cells").get<int64_t>();
    Counts c;
    c.control = std::max<int64_t>(1, std::llround(cfg.at("control_fraction").get<double>() * (double)N));
    c.comb = std::llround(cfg.at("combination_fraction").get<double>() * (double)N);
    c.single = N - c.control - c.comb;
    return c;
}

std::string gene_name(int64_t g, int64_t G) {
    int width = std::max<int>(4, (int)std::to_string(G).size());
    std::string num = std::to_string(g + 1);
    return "G" + std::string((size_t)std::max<int>(0, width - (int)num.size()), '0') + num;
}

double uniform(uint64_t seed, Stream s, uint64_t i) { return philox::uniform_f64(seed, s, i); }
double normal(uint64_t seed, Stream s, uint64_t i) { return philox::normal_f64(seed, s, i); }

// Means below this are drawn by inverting the NB CDF (about mean + 1 steps); above, by Gamma then Poisson.
constexpr double kInversionMaxMean = 30.0;

double nb_from_uniform(double u, double mean, double c, uint64_t seed, uint64_t index) {
    if (!(mean > 0)) return 0;
    if (mean >= kInversionMaxMean) {
        double lambda = philox::gamma_draw(c, c / mean, seed, S_NB_GAMMA, index);
        return philox::poisson_draw(lambda, seed, S_NB_POIS, index);
    }
    // P(0) = (c / (c + mean))^c; P(k + 1) = P(k) (k + c) / (k + 1) * mean / (c + mean).
    double q = mean / (c + mean);
    double p = std::exp(-c * std::log1p(mean / c));
    double cdf = p, k = 0;
    while (u > cdf && p > 1e-300 && k < 1e7) {  // the guards only matter when rounding leaves cdf below u
        p *= (k + c) / (k + 1) * q;
        k += 1;
        cdf += p;
    }
    return k;
}

// The labels: names[0] is the control; targets[i] the perturbed-gene indices of label i; cell[n] the label of cell n.
struct Labels {
    std::vector<std::string> names;
    std::vector<std::vector<int32_t>> targets;
    std::vector<int32_t> cell;
};

Labels make_labels(const json& cfg, const SimTruth& tr, uint64_t seed) {
    Counts c = label_counts(cfg);
    Labels lb;
    lb.names.push_back("non-targeting");
    lb.targets.push_back({});
    for (int32_t p = 0; p < (int32_t)tr.P; ++p) lb.names.push_back(tr.genes[(size_t)p]), lb.targets.push_back({p});
    int64_t n_pairs = 0;
    if (c.comb > 0) {
        int64_t want = cfg.at("combinations").get<int64_t>();
        std::set<std::pair<int32_t, int32_t>> pairs;
        HostRng rng(seed, S_PAIRS);
        while ((int64_t)pairs.size() < want) {
            int32_t a = (int32_t)rng.below((uint64_t)tr.P), b = (int32_t)rng.below((uint64_t)tr.P);
            if (a != b) pairs.insert({std::min(a, b), std::max(a, b)});
        }
        for (const auto& pr : pairs) {
            lb.names.push_back(tr.genes[(size_t)pr.first] + "+" + tr.genes[(size_t)pr.second]);
            lb.targets.push_back({pr.first, pr.second});
        }
        n_pairs = (int64_t)pairs.size();
    }
    lb.cell.reserve((size_t)(c.control + c.single + c.comb));
    for (int64_t k = 0; k < c.control; ++k) lb.cell.push_back(0);
    for (int64_t k = 0; k < c.single; ++k) lb.cell.push_back((int32_t)(1 + k % tr.P));
    for (int64_t k = 0; k < c.comb; ++k) lb.cell.push_back((int32_t)(1 + tr.P + k % n_pairs));
    HostRng rng(seed, S_LABELS);  // Fisher-Yates
    for (size_t i = lb.cell.size(); i > 1; --i) std::swap(lb.cell[i - 1], lb.cell[(size_t)rng.below(i)]);
    return lb;
}

// Everything one worker needs to draw row n of X.
struct CellDrawer {
    const SimTruth& tr;
    const Labels& lb;
    const std::vector<uint8_t>& fail;
    const std::vector<double>& library;
    uint64_t seed;
    double qc_shift;

    // Appends the non-zero counts of cell n (column indices increasing) to idx / val; lr is scratch (G).
    void row(int64_t n, std::vector<int32_t>& idx, std::vector<float>& val, std::vector<double>& lr) const {
        const int64_t G = tr.G;
        lr.assign(tr.base_log_rate.begin(), tr.base_log_rate.end());
        if (fail[(size_t)n])
            for (int64_t g = 0; g < G; ++g) lr[(size_t)g] += tr.qc_gene[(size_t)g] ? qc_shift : 0.0;
        for (int64_t l = 0; l < tr.L; ++l) {
            double z = normal(seed, S_Z, (uint64_t)(n * tr.L + l));
            const double* w = tr.basal_map.data() + l * G;
            for (int64_t g = 0; g < G; ++g) lr[(size_t)g] += z * w[g];
        }
        for (int32_t p : lb.targets[(size_t)lb.cell[(size_t)n]]) {
            const float* e = tr.effects.data() + (int64_t)p * G;
            for (int64_t g = 0; g < G; ++g) lr[(size_t)g] += (double)e[g];
        }
        double mx = *std::max_element(lr.begin(), lr.end()), sum = 0;
        for (double& v : lr) sum += (v = std::exp(v - mx));
        const double scale = library[(size_t)n] / sum;  // mean of gene g = library * rho_g
        uint64_t cached = UINT64_MAX;
        philox::Block b{{0, 0, 0, 0}};
        for (int64_t g = 0; g < G; ++g) {
            uint64_t e = (uint64_t)n * (uint64_t)G + (uint64_t)g;
            if ((e >> 2) != cached) b = philox::block_at(seed, S_NB_U, cached = e >> 2, 0);
            double x = nb_from_uniform(philox::u01_32(b.v[e & 3]), lr[(size_t)g] * scale, tr.concentration[(size_t)g],
                                       seed, e);
            if (x > 0) idx.push_back((int32_t)g), val.push_back((float)x);
        }
    }
};

}  // namespace

double nb_draw(double mean, double concentration, uint64_t seed, uint64_t index) {
    philox::Block b = philox::block_at(seed, S_NB_U, index >> 2, 0);
    return nb_from_uniform(philox::u01_32(b.v[index & 3]), mean, concentration, seed, index);
}

void simulate_config_validate(const json& cfg) {
    int_at(cfg, "seed", 0, INT64_MAX);
    int64_t N = int_at(cfg, "cells", 1, INT32_MAX);
    int64_t G = int_at(cfg, "genes", 1, INT32_MAX);
    int64_t P = int_at(cfg, "perturbed_genes", 1, G);
    int64_t E = int_at(cfg, "extended_genes", 0, G);
    GPO_CHECK(P + E <= G, "extended_genes: perturbed_genes + extended_genes = " << P + E << " exceeds genes = " << G);
    int64_t U = int_at(cfg, "unmeasured_perturbed_genes", 0, P);
    GPO_CHECK(U < G, "unmeasured_perturbed_genes: " << U << " leaves no measured gene of " << G);
    double fc = num_at(cfg, "control_fraction", 0, 1, false, true);
    double fm = num_at(cfg, "combination_fraction", 0, 1, false, true);
    GPO_CHECK(fc + fm < 1, "combination_fraction: control_fraction + combination_fraction = " << fc + fm
                                                                                               << ", must be < 1");
    int64_t n_pairs = int_at(cfg, "combinations", 0, INT32_MAX);
    Counts c = label_counts(cfg);
    GPO_CHECK(c.single >= P, "cells: " << N << " cells leave " << c.single << " single-perturbation cells for "
                                       << P << " perturbed genes (each needs at least one); raise cells or lower "
                                          "control_fraction / combination_fraction");
    if (c.comb > 0) {
        GPO_CHECK(P >= 2, "combination_fraction: combinations need at least 2 perturbed genes");
        int64_t max_pairs = std::min<int64_t>(P * (P - 1) / 2, c.comb);
        GPO_CHECK(n_pairs >= 1 && n_pairs <= max_pairs,
                  "combinations: expected 1 to " << max_pairs << " distinct pairs (at most P(P-1)/2 = "
                                                 << P * (P - 1) / 2 << " and at most the " << c.comb
                                                 << " combination cells), got " << n_pairs);
    }
    num_at(cfg, "grn.edge_density", 0, 1);
    double emin = num_at(cfg, "grn.effect_min", 0, 1e3);
    num_at(cfg, "grn.effect_max", emin, 1e3);
    num_at(cfg, "grn.negative_fraction", 0, 1);
    int_at(cfg, "grn.hops", 0, 64);
    num_at(cfg, "grn.knockdown", 0, 1, false, true);
    num_at(cfg, "grn.max_abs_lfc", 0, 50, true);
    num_at(cfg, "grn.downstream_density", 0, 1);
    int_at(cfg, "expression.latent_dim", 0, 10000);
    num_at(cfg, "expression.basal_scale", 0, 10);
    num_at(cfg, "expression.gene_log_mean_sd", 0, 10);
    num_at(cfg, "expression.treatment_gene_boost", -10, 10);
    num_at(cfg, "expression.library_median", 0, 1e7, true);
    num_at(cfg, "expression.library_log_sd", 0, 5);
    num_at(cfg, "expression.concentration_median", 0, 1e6, true);
    num_at(cfg, "expression.concentration_log_sd", 0, 5);
    num_at(cfg, "qc.fail_fraction", 0, 1, false, true);
    num_at(cfg, "qc.library_factor", 0, 10, true);
    num_at(cfg, "qc.gene_fraction", 0, 1);
    num_at(cfg, "qc.log_shift", -10, 10);
}

json simulate_config_load(const std::string& path, const std::vector<std::string>& overrides) {
    json cfg = simulate_config_defaults();
    if (!path.empty()) {
        std::ifstream f(path);
        GPO_CHECK(f, path << ": cannot open simulate config file");
        json user;
        try {
            user = json::parse(f);
        } catch (const json::parse_error& e) {
            GPO_FAIL(path << ": not valid JSON: " << e.what());
        }
        io::config_merge(cfg, user, path);
    }
    for (const std::string& o : overrides) io::config_apply_override(cfg, o);
    simulate_config_validate(cfg);
    return cfg;
}

SimTruth simulate_truth(const json& cfg) {
    simulate_config_validate(cfg);
    const uint64_t seed = cfg.at("seed").get<uint64_t>();
    const json& gc = cfg.at("grn");
    const json& ec = cfg.at("expression");
    SimTruth tr;
    tr.G = cfg.at("genes").get<int64_t>();
    tr.P = cfg.at("perturbed_genes").get<int64_t>();
    tr.T = tr.P + cfg.at("extended_genes").get<int64_t>();
    tr.L = ec.at("latent_dim").get<int64_t>();
    const int64_t G = tr.G, P = tr.P, T = tr.T;

    // Genes: names, baseline log-rates, concentrations, the QC-artifact genes, the basal map.
    const double sd = ec.at("gene_log_mean_sd").get<double>(), boost = ec.at("treatment_gene_boost").get<double>();
    const double c_med = ec.at("concentration_median").get<double>();
    const double c_sd = ec.at("concentration_log_sd").get<double>();
    const double qc_frac = cfg.at("qc").at("gene_fraction").get<double>();
    for (int64_t g = 0; g < G; ++g) {
        tr.genes.push_back(gene_name(g, G));
        tr.base_log_rate.push_back(sd * normal(seed, S_BASE, (uint64_t)g) + (g < T ? boost : 0.0));
        tr.concentration.push_back(c_med * std::exp(c_sd * normal(seed, S_CONC, (uint64_t)g)));
        tr.qc_gene.push_back(uniform(seed, S_QC_GENE, (uint64_t)g) < qc_frac ? 1 : 0);
    }
    const double bscale = tr.L > 0 ? ec.at("basal_scale").get<double>() / std::sqrt((double)tr.L) : 0.0;
    tr.basal_map.resize((size_t)(tr.L * G));
    for (int64_t i = 0; i < tr.L * G; ++i) tr.basal_map[(size_t)i] = bscale * normal(seed, S_BASAL, (uint64_t)i);

    // True GRN among the T treatment genes; weights are pure functions of (i, j).
    const double density = gc.at("edge_density").get<double>(), neg = gc.at("negative_fraction").get<double>();
    const double emin = gc.at("effect_min").get<double>(), emax = gc.at("effect_max").get<double>();
    auto weight = [&](Stream sw, Stream ss, uint64_t i) {
        double w = emin + (emax - emin) * uniform(seed, sw, i);
        return uniform(seed, ss, i) < neg ? -w : w;
    };
    std::set<std::pair<int32_t, int32_t>> edges;
    for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
            if (i != j && uniform(seed, S_EDGE, (uint64_t)(i * T + j)) < density)
                edges.insert({(int32_t)i, (int32_t)j});
    std::vector<uint8_t> reached((size_t)T, 0);  // has an in-edge from a perturbed gene
    for (const auto& e : edges)
        if (e.first < P) reached[(size_t)e.second] = 1;
    for (int64_t j = P; j < T; ++j)  // every extended gene responds to at least one perturbation
        if (!reached[(size_t)j]) {
            int64_t i = std::min<int64_t>(P - 1, (int64_t)(uniform(seed, S_EXT, (uint64_t)j) * (double)P));
            edges.insert({(int32_t)i, (int32_t)j});
        }
    for (const auto& e : edges) {  // std::set order: sorted by (src, dst)
        tr.edge_src.push_back(e.first);
        tr.edge_dst.push_back(e.second);
        tr.edge_weight.push_back(weight(S_EDGE_W, S_EDGE_SIGN, (uint64_t)(e.first * T + e.second)));
    }

    // Downstream weights B: treatment gene t -> non-treatment gene g.
    const double ddens = gc.at("downstream_density").get<double>();
    std::vector<std::vector<std::pair<int32_t, double>>> down((size_t)T);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t g = T; g < G; ++g) {
            uint64_t i = (uint64_t)(t * G + g);
            if (uniform(seed, S_DOWN, i) < ddens)
                down[(size_t)t].push_back({(int32_t)g, weight(S_DOWN_W, S_DOWN_SIGN, i)});
        }

    // Effects: x_0 = log(1 - knockdown) e_p, x_k = x_{k-1} A, treatment effect = sum_{k=0..K} x_k; then B; clip.
    const double kd = std::log(1.0 - gc.at("knockdown").get<double>());
    const int64_t K = gc.at("hops").get<int64_t>();
    const double clip = gc.at("max_abs_lfc").get<double>();
    tr.effects.assign((size_t)(P * G), 0.0f);
    std::vector<double> x((size_t)T), nx((size_t)T), total((size_t)T), eff((size_t)G);
    for (int64_t p = 0; p < P; ++p) {
        std::fill(x.begin(), x.end(), 0.0);
        x[(size_t)p] = kd;
        total = x;
        for (int64_t k = 0; k < K; ++k) {
            std::fill(nx.begin(), nx.end(), 0.0);
            for (size_t e = 0; e < tr.edge_src.size(); ++e)
                nx[(size_t)tr.edge_dst[e]] += x[(size_t)tr.edge_src[e]] * tr.edge_weight[e];
            x.swap(nx);
            for (int64_t t = 0; t < T; ++t) total[(size_t)t] += x[(size_t)t];
        }
        std::fill(eff.begin(), eff.end(), 0.0);
        for (int64_t t = 0; t < T; ++t) {
            eff[(size_t)t] = total[(size_t)t];
            for (const auto& gw : down[(size_t)t]) eff[(size_t)gw.first] += total[(size_t)t] * gw.second;
        }
        for (int64_t g = 0; g < G; ++g)
            tr.effects[(size_t)(p * G + g)] = (float)std::max(-clip, std::min(clip, eff[(size_t)g]));
    }
    return tr;
}

SimulateStats simulate(const json& cfg, const std::string& out_path, const SimulateOptions& opt) {
    auto t0 = std::chrono::steady_clock::now();
    GPO_CHECK(!out_path.empty(), "simulate: no output path (--out)");
    GPO_CHECK(opt.block_rows >= 1, "simulate: block_rows must be >= 1, got " << opt.block_rows);
    const SimTruth tr = simulate_truth(cfg);  // validates cfg
    const uint64_t seed = cfg.at("seed").get<uint64_t>();
    const int64_t N = cfg.at("cells").get<int64_t>(), G = tr.G;
    const json& ec = cfg.at("expression");
    const json& qc = cfg.at("qc");
    const Labels lb = make_labels(cfg, tr, seed);
    // The first U perturbed genes are simulated but not measured: their columns are left out of X and var (the
    // perturbations still name them), as a genome-wide screen perturbs genes it does not measure.
    const int64_t U = cfg.at("unmeasured_perturbed_genes").get<int64_t>(), Gw = G - U;
    auto measured = [&](const auto& v) { return std::vector<typename std::decay_t<decltype(v)>::value_type>(v.begin() + U, v.end()); };

    // Per-cell QC status and library size (also written to obs as the truth).
    std::vector<uint8_t> fail((size_t)N);
    std::vector<double> library((size_t)N);
    const double lib_med = ec.at("library_median").get<double>(), lib_sd = ec.at("library_log_sd").get<double>();
    const double fail_frac = qc.at("fail_fraction").get<double>(), lib_factor = qc.at("library_factor").get<double>();
    SimulateStats st;
    for (int64_t n = 0; n < N; ++n) {
        fail[(size_t)n] = uniform(seed, S_QC, (uint64_t)n) < fail_frac;
        library[(size_t)n] = lib_med * std::exp(lib_sd * normal(seed, S_LIB, (uint64_t)n)) *
                             (fail[(size_t)n] ? lib_factor : 1.0);
        st.qc_fail += fail[(size_t)n];
        st.combination_cells += lb.targets[(size_t)lb.cell[(size_t)n]].size() == 2;
    }
    const CellDrawer drawer{tr, lb, fail, library, seed, qc.at("log_shift").get<double>()};

    io::AnnDataOut out;
    out.rows = N;
    out.cols = Gw;
    int width = (int)std::to_string(N).size();
    std::vector<std::string> labels((size_t)N);
    for (int64_t n = 0; n < N; ++n) {
        std::string num = std::to_string(n);
        out.obs.index.push_back("cell" + std::string((size_t)(width - (int)num.size()), '0') + num);
        labels[(size_t)n] = lb.names[(size_t)lb.cell[(size_t)n]];
    }
    out.obs.add("perturbation", io::Column::categorical_from_labels(labels));
    labels = {};
    out.obs.add("qc_fail", io::Column::boolean(fail));
    out.obs.add("true_library", io::Column::numeric(library));
    out.var.index = measured(tr.genes);
    std::vector<uint8_t> is_ext((size_t)G, 0), is_pert((size_t)G, 0);
    for (int64_t g = 0; g < G; ++g) is_pert[(size_t)g] = g < tr.P, is_ext[(size_t)g] = g >= tr.P && g < tr.T;
    out.var.add("perturbed", io::Column::boolean(measured(is_pert)));
    out.var.add("extended", io::Column::boolean(measured(is_ext)));
    out.var.add("true_log_rate", io::Column::numeric(measured(tr.base_log_rate)));
    out.var.add("true_concentration", io::Column::numeric(measured(tr.concentration)));
    out.var.add("qc_gene", io::Column::boolean(measured(tr.qc_gene)));
    out.uns_strings["simulation_config"] = cfg.dump();
    std::vector<std::string> src, dst;
    for (size_t e = 0; e < tr.edge_src.size(); ++e) {
        src.push_back(tr.genes[(size_t)tr.edge_src[e]]);
        dst.push_back(tr.genes[(size_t)tr.edge_dst[e]]);
    }
    out.uns_string_arrays["true_grn_source"] = std::move(src);
    out.uns_string_arrays["true_grn_target"] = std::move(dst);
    out.uns_arrays["true_grn_weight"] = tr.edge_weight;
    {  // the measured genes' columns
        std::vector<float> eff((size_t)(tr.P * Gw));
        for (int64_t p = 0; p < tr.P; ++p)
            std::copy(tr.effects.begin() + p * G + U, tr.effects.begin() + (p + 1) * G, eff.begin() + p * Gw);
        out.uns_matrices["true_effects"] = io::DenseMatrix{tr.P, Gw, std::move(eff)};
    }
    out.uns_string_arrays["true_effects_perturbations"] =
        std::vector<std::string>(tr.genes.begin(), tr.genes.begin() + tr.P);
    out.uns_numbers["true_grn_hops"] = (double)cfg.at("grn").at("hops").get<int64_t>();
    out.uns_numbers["true_knockdown_lfc"] = std::log(1.0 - cfg.at("grn").at("knockdown").get<double>());

    // X in row blocks: each worker draws a contiguous slice of the block's rows into its own buffers.
    const int nthreads = std::max(1, opt.threads > 0 ? opt.threads : (int)std::thread::hardware_concurrency());
    struct RowBuf {
        std::vector<int32_t> idx;
        std::vector<float> val;
        std::vector<int64_t> end;  // per row of the slice: entries so far
        std::vector<double> scratch;
    };
    std::vector<RowBuf> bufs((size_t)nthreads);
    int64_t next_row = 0;
    io::Progress progress("simulate");
    out.X_blocks = [&](io::CsrMatrix& block) -> bool {
        if (next_row >= N) return false;
        const int64_t r0 = next_row, nr = std::min(opt.block_rows, N - r0);
        const int64_t per = (nr + nthreads - 1) / nthreads;
        auto work = [&](int k) {
            RowBuf& b = bufs[(size_t)k];
            b.idx.clear(), b.val.clear(), b.end.clear();
            for (int64_t r = r0 + k * per; r < std::min(r0 + nr, r0 + (k + 1) * per); ++r) {
                const size_t from = b.idx.size();
                drawer.row(r, b.idx, b.val, b.scratch);
                if (U > 0) {  // drop the unmeasured columns, renumber the others
                    size_t to = from;
                    for (size_t e = from; e < b.idx.size(); ++e)
                        if (b.idx[e] >= U) b.idx[to] = (int32_t)(b.idx[e] - U), b.val[to] = b.val[e], ++to;
                    b.idx.resize(to), b.val.resize(to);
                }
                b.end.push_back((int64_t)b.idx.size());
            }
        };
        std::vector<std::thread> pool;
        for (int k = 1; k < nthreads; ++k) pool.emplace_back(work, k);
        work(0);
        for (std::thread& th : pool) th.join();
        block.rows = nr;
        block.cols = Gw;
        block.indptr.assign(1, 0);
        for (const RowBuf& b : bufs) {
            int64_t base = block.nnz();
            block.indices.insert(block.indices.end(), b.idx.begin(), b.idx.end());
            block.data.insert(block.data.end(), b.val.begin(), b.val.end());
            for (int64_t e : b.end) block.indptr.push_back(base + e);
        }
        st.nnz += block.nnz();
        next_row = r0 + nr;
        if (opt.progress) progress.update(next_row, N, std::to_string(st.nnz) + " non-zeros");
        return true;
    };
    io::h5ad_write(out_path, out);
    st.cells = N;
    st.genes = Gw;
    st.T = tr.T;
    st.edges = (int64_t)tr.edge_src.size();
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return st;
}

}  // namespace gpo::data
