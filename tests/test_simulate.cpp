// Synthetic data (engine/data/simulate.h) and the CSR writer it relies on (io/h5ad.h): simulate config errors, the
// NB sampler's moments, the truth (GRN among treatment genes, effects recomputed independently), the file read back
// by h5ad_read, preprocess_dataset and anndata, determinism, the knockdown seen in the counts, atomic output.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "engine/check.h"
#include "engine/data/preprocess.h"
#include "engine/data/simulate.h"
#include "io/config.h"
#include "io/h5ad.h"
#include "io/hdf5_util.h"
#include "tests/harness.h"

using gpo::test::error_of;

using namespace gpo;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    fs::path dir = fs::path(GPO_BINARY_DIR) / "simulate_test_tmp";
    fs::create_directories(dir);
    return (dir / (std::string(info->name()) + "_" + std::to_string(getpid()) + "_" + name)).string();
}

#define EXPECT_HAS(msg, part) EXPECT_NE(std::string(msg).find(part), std::string::npos) << "message: " << (msg)

std::string small_config_path() { return std::string(GPO_SOURCE_DIR) + "/data/configs/sim_small.json"; }
json small_config(const std::vector<std::string>& sets = {}) {
    return data::simulate_config_load(small_config_path(), sets);
}

// One simulated file of sim_small.json shared by the read-only tests of this process, removed at exit.
struct SmallFile {
    std::string path;
    SmallFile() : path((fs::path(GPO_BINARY_DIR) / ("sim_small_" + std::to_string(getpid()) + ".h5ad")).string()) {
        data::simulate(small_config(), path);
    }
    ~SmallFile() { fs::remove(path); }
};
const std::string& small_file() {
    static SmallFile f;
    return f.path;
}

// uns/<name> of an .h5ad as doubles (numeric arrays the reader skips), with its dims.
std::vector<double> read_uns_numbers(const std::string& path, const std::string& name, std::vector<int64_t>* dims) {
    io::h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    EXPECT_TRUE(f.valid()) << path;
    io::h5::Where w{path, "uns"};
    io::h5::Id uns = io::h5::open_group(f, "uns", io::h5::Where{path, ""});
    io::h5::Id d = io::h5::open_dataset(uns, name, w);
    if (dims) *dims = io::h5::dataset_dims(d, w.sub(name));
    return io::h5::read_doubles(d, w.sub(name));
}

bool anndata_available() { return std::system("python3 -c \"import anndata\" > /dev/null 2>&1") == 0; }
bool require_python() {
    const char* req = std::getenv("GPO_REQUIRE_PYTHON");
    return req && std::string(req) == "1";
}
int run_python(const std::string& script, const std::string& args) {
    std::string cmd = "python3 \"" + std::string(GPO_SOURCE_DIR) + "/tests/python/" + script + "\" " + args;
    return std::system(cmd.c_str());
}

}  // namespace

// ---------------------------------------------------------------------------- config

TEST(SimulateConfig, DefaultsAndCommittedConfigsAreValid) {
    json d = data::simulate_config_load("");
    EXPECT_EQ(d.at("cells").get<int64_t>(), 2000);
    EXPECT_EQ(d.at("genes").get<int64_t>(), 200);
    json r = data::simulate_config_load(std::string(GPO_SOURCE_DIR) + "/data/configs/sim_reference.json");
    EXPECT_EQ(r.at("cells").get<int64_t>(), 129478);
    EXPECT_EQ(r.at("genes").get<int64_t>(), 8563);
    EXPECT_EQ(r.at("perturbed_genes").get<int64_t>() + r.at("extended_genes").get<int64_t>(), 1546);
    json s = small_config({"grn.hops=3"});
    EXPECT_EQ(s.at("grn").at("hops").get<int64_t>(), 3);
}

TEST(SimulateConfig, BadConfigsNameTheKey) {
    std::string p = small_config_path();
    EXPECT_HAS(error_of([&] { small_config({"grn.hopz=3"}); }), "grn.hopz: unknown key");
    EXPECT_HAS(error_of([&] { small_config({"expression.library_median=\"big\""}); }),
               "expression.library_median: expected a number");
    EXPECT_HAS(error_of([&] { small_config({"grn.knockdown=1.0"}); }), "grn.knockdown: expected a number in [0, 1)");
    EXPECT_HAS(error_of([&] { small_config({"grn.hops=1.5"}); }), "grn.hops: expected an integer");
    EXPECT_HAS(error_of([&] { small_config({"cells=0"}); }), "cells: expected an integer in [1,");
    EXPECT_HAS(error_of([&] { small_config({"extended_genes=190"}); }),
               "extended_genes: perturbed_genes + extended_genes");
    EXPECT_HAS(error_of([&] { small_config({"cells=22"}); }),
               "cells: 22 cells leave 18 single-perturbation cells for 20");
    EXPECT_HAS(error_of([&] { small_config({"combinations=0"}); }), "combinations: expected 1 to");
    EXPECT_HAS(error_of([&] { small_config({"grn.effect_max=0.1"}); }), "grn.effect_max: expected a number in [0.3,");
    EXPECT_HAS(error_of([&] { small_config({"qc.fail_fraction=-0.1"}); }), "qc.fail_fraction");
    // from a file: the message names the file and the nested key
    std::string bad = scratch("bad.json");
    { std::ofstream(bad) << R"({"grn": {"density": 0.1}})"; }
    EXPECT_HAS(error_of([&] { data::simulate_config_load(bad); }), bad + ": grn.density: unknown key");
    { std::ofstream(bad) << R"({"grn": 3})"; }
    EXPECT_HAS(error_of([&] { data::simulate_config_load(bad); }), bad + ": grn must be an object");
    EXPECT_HAS(error_of([&] { data::simulate_config_load(bad + ".missing"); }), "cannot open");
    fs::remove(bad);
}

// ---------------------------------------------------------------------------- NB sampler

TEST(SimulateNb, MomentsAndZeroProbability) {
    // Both paths: inversion (mean < 30) and Gamma -> Poisson (mean >= 30).
    const int n = 200000;
    for (auto [mean, c] : std::vector<std::pair<double, double>>{{0.3, 2.0}, {5.0, 0.5}, {20.0, 10.0}, {100.0, 2.0}}) {
        double s = 0, s2 = 0, zeros = 0;
        for (int i = 0; i < n; ++i) {
            double x = data::nb_draw(mean, c, 7, (uint64_t)i);
            ASSERT_TRUE(x >= 0 && x == std::floor(x)) << x;
            s += x, s2 += x * x, zeros += x == 0;
        }
        double m = s / n, var = s2 / n - m * m;
        double var_true = mean + mean * mean / c, p0 = std::pow(c / (c + mean), c);
        // 5 standard errors: of the mean sqrt(var / n); of the sample variance var * sqrt((excess kurtosis + 2) / n)
        // with the NB excess kurtosis 6 / c + c / (mean (c + mean)); of P(0) the binomial sqrt(p (1 - p) / n).
        double kurt = 6.0 / c + c / (mean * (c + mean));
        EXPECT_NEAR(m, mean, 5 * std::sqrt(var_true / n)) << "mean " << mean << " c " << c;
        EXPECT_NEAR(var, var_true, 5 * var_true * std::sqrt((kurt + 2) / n)) << "mean " << mean << " c " << c;
        EXPECT_NEAR(zeros / n, p0, 5 * std::sqrt(p0 * (1 - p0) / n) + 1e-9) << "mean " << mean << " c " << c;
    }
    EXPECT_EQ(data::nb_draw(0.0, 2.0, 7, 3), 0.0);
    EXPECT_EQ(data::nb_draw(4.0, 2.0, 7, 3), data::nb_draw(4.0, 2.0, 7, 3));  // a pure function of its arguments
}

// ---------------------------------------------------------------------------- truth

TEST(SimulateTruth, GrnAmongTreatmentGenesAndEffectsRecomputed) {
    json cfg = small_config();
    data::SimTruth tr = data::simulate_truth(cfg);
    const int64_t P = 20, T = 30, G = 200, K = cfg["grn"]["hops"].get<int64_t>();
    ASSERT_EQ(tr.P, P);
    ASSERT_EQ(tr.T, T);
    ASSERT_EQ(tr.G, G);
    EXPECT_EQ(tr.genes[0], "G0001");
    EXPECT_EQ(tr.genes[199], "G0200");
    ASSERT_FALSE(tr.edge_src.empty());
    std::vector<double> A((size_t)(T * T), 0.0);
    std::set<std::pair<int, int>> seen;
    std::vector<int> in_from_perturbed((size_t)T, 0);
    for (size_t e = 0; e < tr.edge_src.size(); ++e) {
        int i = tr.edge_src[e], j = tr.edge_dst[e];
        ASSERT_TRUE(i >= 0 && i < T && j >= 0 && j < T) << "edge " << i << " -> " << j << " outside treatment genes";
        EXPECT_NE(i, j) << "self-loop";
        EXPECT_TRUE(seen.insert({i, j}).second) << "duplicate edge";
        double w = std::fabs(tr.edge_weight[e]);
        EXPECT_TRUE(w >= 0.3 && w <= 1.0) << w;
        A[(size_t)(i * T + j)] = tr.edge_weight[e];
        if (i < P) in_from_perturbed[(size_t)j] = 1;
    }
    for (int64_t j = P; j < T; ++j) EXPECT_TRUE(in_from_perturbed[(size_t)j]) << "extended gene " << j << " unreached";
    // Effects on the treatment genes: sum_{k=0..K} x0 A^k with x0 = log(0.2) e_p, clipped to +-5, by plain loops.
    for (int64_t p = 0; p < P; ++p) {
        std::vector<double> x((size_t)T, 0.0), total((size_t)T, 0.0);
        x[(size_t)p] = std::log(1.0 - 0.8);
        for (int64_t k = 0; k <= K; ++k) {
            for (int64_t t = 0; t < T; ++t) total[(size_t)t] += x[(size_t)t];
            std::vector<double> nx((size_t)T, 0.0);
            for (int64_t i = 0; i < T; ++i)
                for (int64_t j = 0; j < T; ++j) nx[(size_t)j] += x[(size_t)i] * A[(size_t)(i * T + j)];
            x = nx;
        }
        for (int64_t t = 0; t < T; ++t) {
            double want = std::max(-5.0, std::min(5.0, total[(size_t)t]));
            // float32 storage of a double sum: relative 1e-6 plus an absolute floor for near-zero entries
            EXPECT_NEAR(tr.effects[(size_t)(p * G + t)], want, 1e-6 * std::fabs(want) + 1e-6) << "p " << p << ", t " << t;
        }
        for (int64_t g = 0; g < G; ++g) EXPECT_LE(std::fabs(tr.effects[(size_t)(p * G + g)]), 5.0f);
    }
    // some non-treatment gene responds (downstream density 0.02 over 170 genes and 30 regulators)
    int64_t downstream = 0;
    for (int64_t p = 0; p < P; ++p)
        for (int64_t g = T; g < G; ++g) downstream += tr.effects[(size_t)(p * G + g)] != 0.0f;
    EXPECT_GT(downstream, 0);
}

// ---------------------------------------------------------------------------- the file

TEST(SimulateFile, ReadsBackWithTruth) {
    const std::string& path = small_file();
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    io::AnnData a = io::h5ad_read(path);
    json cfg = small_config();
    data::SimTruth tr = data::simulate_truth(cfg);
    ASSERT_EQ(a.X.rows, 2000);
    ASSERT_EQ(a.X.cols, 200);
    for (float v : a.X.data) ASSERT_TRUE(v > 0 && v == std::floor(v)) << v;  // raw positive integer counts
    EXPECT_EQ(a.var.index, tr.genes);
    const io::Column& ext = a.var.at("extended");
    ASSERT_EQ(ext.kind, io::Column::Kind::Bool);
    for (int64_t g = 0; g < 200; ++g) EXPECT_EQ(ext.bools[(size_t)g], g >= 20 && g < 30) << g;
    // labels: control, the 20 singles, 10 "A+B" pairs (sim_small: 10% combinations)
    const io::Column& pc = a.obs.at("perturbation");
    ASSERT_EQ(pc.kind, io::Column::Kind::Categorical);
    std::map<std::string, int> count;
    for (int64_t n = 0; n < 2000; ++n) count[pc.label((size_t)n)]++;
    EXPECT_EQ(count["non-targeting"], 200);
    int singles = 0, combos = 0;
    for (auto& [label, k] : count) {
        if (label == "non-targeting") continue;
        size_t plus = label.find('+');
        if (plus == std::string::npos) {
            singles++;
            EXPECT_EQ(k, 80) << label;  // 1600 single cells over 20 genes
        } else {
            combos++;
            EXPECT_LT(label.substr(0, plus), label.substr(plus + 1)) << label;
        }
    }
    EXPECT_EQ(singles, 20);
    EXPECT_EQ(combos, 10);
    EXPECT_EQ(a.obs.at("qc_fail").kind, io::Column::Kind::Bool);
    // the truth: edge list, effects and config
    const auto& src = a.uns_string_arrays.at("true_grn_source");
    const auto& dst = a.uns_string_arrays.at("true_grn_target");
    std::vector<int64_t> dims;
    std::vector<double> w = read_uns_numbers(path, "true_grn_weight", &dims);
    ASSERT_EQ(src.size(), tr.edge_src.size());
    ASSERT_EQ(dst.size(), src.size());
    ASSERT_EQ(w.size(), src.size());
    for (size_t e = 0; e < src.size(); ++e) {
        EXPECT_EQ(src[e], tr.genes[(size_t)tr.edge_src[e]]);
        EXPECT_EQ(dst[e], tr.genes[(size_t)tr.edge_dst[e]]);
        EXPECT_EQ(w[e], tr.edge_weight[e]);  // float64 in the file: exact
        EXPECT_NE(src[e], dst[e]);
        EXPECT_LE(src[e], "G0030");  // treatment genes only (names G0001..G0030)
        EXPECT_LE(dst[e], "G0030");
    }
    std::vector<double> eff = read_uns_numbers(path, "true_effects", &dims);
    EXPECT_EQ(dims, (std::vector<int64_t>{20, 200}));
    ASSERT_EQ(eff.size(), tr.effects.size());
    for (size_t i = 0; i < eff.size(); ++i) ASSERT_EQ((float)eff[i], tr.effects[i]) << i;  // float32: exact
    EXPECT_EQ(a.uns_string_arrays.at("true_effects_perturbations").size(), 20u);
    EXPECT_EQ(json::parse(a.uns_strings.at("simulation_config")), cfg);
    EXPECT_EQ(a.uns_numbers.at("true_grn_hops"), 2.0);
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0) << "an HDF5 id was left open";
}

TEST(SimulateFile, PreprocessesWithTheRightAxis) {
    json run = io::config_load("", {"data.path=" + small_file(), "data.perturbation_key=perturbation",
                                    "data.extended_gene_column=extended", "data.qc_column=qc_fail"});
    data::Dataset ds = data::preprocess_dataset(run);
    EXPECT_EQ(ds.N, 2000);
    EXPECT_EQ(ds.G, 200);
    EXPECT_EQ(ds.n_perturbed, 20);
    ASSERT_EQ(ds.T, 30);
    data::SimTruth tr = data::simulate_truth(small_config());
    for (int64_t t = 0; t < 30; ++t) {
        EXPECT_EQ(ds.treatment_names[(size_t)t], tr.genes[(size_t)t]);  // treatment t is gene t, as documented
        EXPECT_EQ(ds.treatment_gene[(size_t)t], t);
    }
    io::AnnData a = io::h5ad_read(small_file());
    int64_t combos = 0;
    for (int64_t n = 0; n < ds.N; ++n) {
        EXPECT_EQ(ds.qc[(size_t)n], a.obs.at("qc_fail").bools[(size_t)n]);
        combos += ds.treatments[(size_t)n].size() == 2;
        if (ds.labels[(size_t)n] == "non-targeting") EXPECT_TRUE(ds.treatments[(size_t)n].empty());
    }
    EXPECT_EQ(combos, 200);
}

// unmeasured_perturbed_genes = U: the first U perturbed genes are perturbed but not measured (a genome-wide screen's
// shape): X, var and true_effects lose their columns, the labels still name them, and preprocessing puts them on
// the treatment axis without a gene column; every other count is the one the full simulation draws.
TEST(SimulateFile, UnmeasuredPerturbedGenes) {
    const std::string full = scratch("full.h5ad"), part = scratch("part.h5ad");
    data::simulate(small_config({"cells=600"}), full);
    data::simulate(small_config({"cells=600", "unmeasured_perturbed_genes=5"}), part);
    io::AnnData a = io::h5ad_read(full), b = io::h5ad_read(part);
    ASSERT_EQ(a.X.cols, 200);
    ASSERT_EQ(b.X.cols, 195);
    EXPECT_EQ(std::vector<std::string>(a.var.index.begin() + 5, a.var.index.end()), b.var.index);
    EXPECT_EQ(a.obs.at("perturbation").codes, b.obs.at("perturbation").codes);
    EXPECT_EQ(a.obs.at("perturbation").categories, b.obs.at("perturbation").categories);
    // Row by row, b's entries are a's entries of the measured columns, shifted by 5.
    ASSERT_EQ(a.X.rows, b.X.rows);
    for (int64_t r = 0; r < a.X.rows; ++r) {
        std::vector<std::pair<int32_t, float>> ea, eb;
        for (int64_t k = a.X.indptr[r]; k < a.X.indptr[r + 1]; ++k)
            if (a.X.indices[k] >= 5) ea.push_back({a.X.indices[k] - 5, a.X.data[k]});
        for (int64_t k = b.X.indptr[r]; k < b.X.indptr[r + 1]; ++k) eb.push_back({b.X.indices[k], b.X.data[k]});
        ASSERT_EQ(ea, eb) << "row " << r;
    }
    std::vector<int64_t> da, db;
    std::vector<double> ta = read_uns_numbers(full, "true_effects", &da), tb = read_uns_numbers(part, "true_effects", &db);
    EXPECT_EQ(da, (std::vector<int64_t>{20, 200}));
    ASSERT_EQ(db, (std::vector<int64_t>{20, 195}));
    for (int64_t p = 0; p < 20; ++p)
        for (int64_t g = 0; g < 195; ++g) ASSERT_EQ(tb[p * 195 + g], ta[p * 200 + g + 5]) << p << ", " << g;

    json run = io::config_load("", {"data.path=" + part, "data.perturbation_key=perturbation",
                                    "data.extended_gene_column=extended", "data.qc_column=qc_fail"});
    data::Dataset ds = data::preprocess_dataset(run);
    EXPECT_EQ(ds.G, 195);
    EXPECT_EQ(ds.n_perturbed, 20);
    ASSERT_EQ(ds.T, 30);
    data::SimTruth tr = data::simulate_truth(small_config());
    for (int64_t t = 0; t < 30; ++t) {
        EXPECT_EQ(ds.treatment_names[(size_t)t], tr.genes[(size_t)t]);
        EXPECT_EQ(ds.treatment_gene[(size_t)t], t < 5 ? -1 : t - 5) << t;
    }
    EXPECT_HAS(error_of([] { small_config({"unmeasured_perturbed_genes=21"}); }), "unmeasured_perturbed_genes");
    fs::remove(full), fs::remove(part);
}

TEST(SimulateFile, DeterministicAcrossThreadsAndBlocks) {
    json cfg = small_config({"cells=700"});
    std::string p1 = scratch("a.h5ad"), p2 = scratch("b.h5ad"), p3 = scratch("c.h5ad");
    data::simulate(cfg, p1, {1, 1024});
    data::simulate(cfg, p2, {3, 97});  // other thread count and block size: same content
    io::AnnData a = io::h5ad_read(p1), b = io::h5ad_read(p2);
    EXPECT_EQ(a.X.indptr, b.X.indptr);
    EXPECT_EQ(a.X.indices, b.X.indices);
    EXPECT_EQ(a.X.data, b.X.data);
    EXPECT_EQ(a.obs.index, b.obs.index);
    EXPECT_EQ(a.obs.at("perturbation").codes, b.obs.at("perturbation").codes);
    EXPECT_EQ(a.obs.at("qc_fail").bools, b.obs.at("qc_fail").bools);
    EXPECT_EQ(a.obs.at("true_library").numbers, b.obs.at("true_library").numbers);
    EXPECT_EQ(a.var.at("true_log_rate").numbers, b.var.at("true_log_rate").numbers);
    EXPECT_EQ(a.uns_strings, b.uns_strings);
    EXPECT_EQ(a.uns_string_arrays, b.uns_string_arrays);
    EXPECT_EQ(read_uns_numbers(p1, "true_effects", nullptr), read_uns_numbers(p2, "true_effects", nullptr));
    EXPECT_EQ(read_uns_numbers(p1, "true_grn_weight", nullptr), read_uns_numbers(p2, "true_grn_weight", nullptr));
    data::simulate(small_config({"cells=700", "seed=1"}), p3);
    io::AnnData c = io::h5ad_read(p3);
    EXPECT_NE(a.X.data, c.X.data);  // another seed: other cells
    EXPECT_NE(read_uns_numbers(p1, "true_grn_weight", nullptr), read_uns_numbers(p3, "true_grn_weight", nullptr));
    for (auto& p : {p1, p2, p3}) fs::remove(p);
}

TEST(SimulateFile, PerturbedCellsShowTheKnockdown) {
    // For each perturbed gene t: r_t = log(mean of x_t / library over the (QC-pass) cells perturbed at t only) -
    // log(the same over QC-pass control cells). Expected: the true log-fold change effects[t][t] minus the shift of
    // the softmax normaliser, log sum_g rho0_g exp(effects[t][g]) with rho0 = softmax(true_log_rate) (the basal
    // latent averages out to first order). Bound per t: 5 standard errors of r_t (delta method, from the data) plus
    // 0.15 for the first-order approximations (basal latent, Jensen); pooled over t: 0.1 plus 5 pooled SEs.
    // Without the knockdown r_t would be near 0 instead of about log(0.2) = -1.6.
    const std::string& path = small_file();
    io::AnnData a = io::h5ad_read(path);
    data::SimTruth tr = data::simulate_truth(small_config());
    const int64_t N = a.X.rows, G = a.X.cols, P = tr.P;
    const io::Column& pc = a.obs.at("perturbation");
    const auto& fail = a.obs.at("qc_fail").bools;
    std::vector<double> lib((size_t)N, 0.0);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = a.X.indptr[(size_t)n]; k < a.X.indptr[(size_t)n + 1]; ++k)
            lib[(size_t)n] += a.X.data[(size_t)k];
    auto value = [&](int64_t n, int64_t g) {
        for (int64_t k = a.X.indptr[(size_t)n]; k < a.X.indptr[(size_t)n + 1]; ++k)
            if (a.X.indices[(size_t)k] == g) return a.X.data[(size_t)k] / lib[(size_t)n];
        return 0.0;
    };
    auto log_mean_se = [&](const std::vector<int64_t>& cells, int64_t g, double* se) {
        double s = 0, s2 = 0;
        for (int64_t n : cells) {
            double v = value(n, g);
            s += v, s2 += v * v;
        }
        double m = s / (double)cells.size(), var = s2 / (double)cells.size() - m * m;
        *se = std::sqrt(var / (double)cells.size()) / m;
        return std::log(m);
    };
    std::vector<int64_t> ctrl;
    std::map<std::string, std::vector<int64_t>> by;
    for (int64_t n = 0; n < N; ++n)
        if (!fail[(size_t)n]) (pc.label((size_t)n) == "non-targeting" ? ctrl : by[pc.label((size_t)n)]).push_back(n);
    double mx = *std::max_element(tr.base_log_rate.begin(), tr.base_log_rate.end()), z = 0;
    std::vector<double> rho0((size_t)G);
    for (int64_t g = 0; g < G; ++g) z += (rho0[(size_t)g] = std::exp(tr.base_log_rate[(size_t)g] - mx));
    for (double& r : rho0) r /= z;
    double sum_dev = 0, sum_var = 0;
    for (int64_t t = 0; t < P; ++t) {
        const std::vector<int64_t>& cells = by.at(tr.genes[(size_t)t]);
        ASSERT_GE(cells.size(), 60u);
        double se_p, se_c;
        double r = log_mean_se(cells, t, &se_p) - log_mean_se(ctrl, t, &se_c);
        double shift = 0;
        for (int64_t g = 0; g < G; ++g) shift += rho0[(size_t)g] * std::exp((double)tr.effects[(size_t)(t * G + g)]);
        double expect = tr.effects[(size_t)(t * G + t)] - std::log(shift);
        double se = std::sqrt(se_p * se_p + se_c * se_c);
        EXPECT_NEAR(r, expect, 5 * se + 0.15) << "perturbation " << tr.genes[(size_t)t] << " se " << se;
        sum_dev += r - expect;
        sum_var += se * se;
    }
    EXPECT_NEAR(sum_dev / P, 0.0, 0.1 + 5 * std::sqrt(sum_var) / P);
    // QC-fail cells have their library lowered (factor 0.3): a gross check of the QC truth
    double lf = 0, lp = 0, nf = 0, np = 0;
    for (int64_t n = 0; n < N; ++n) (fail[(size_t)n] ? lf : lp) += lib[(size_t)n], (fail[(size_t)n] ? nf : np) += 1;
    ASSERT_GT(nf, 20);
    EXPECT_LT(lf / nf, 0.6 * lp / np);
}

TEST(SimulateFile, ReadByAnndata) {
    if (!anndata_available()) {
        if (require_python()) FAIL() << "GPO_REQUIRE_PYTHON=1 but `python3 -c \"import anndata\"` failed";
        GTEST_SKIP() << "python3 with anndata not available (pip install anndata); set GPO_REQUIRE_PYTHON=1 to fail";
    }
    EXPECT_EQ(run_python("check_simulated_h5ad.py", "\"" + small_file() + "\" 2000 200 20 10"), 0)
        << "anndata rejected the simulated file";
}

TEST(SimulateFile, WrittenAtomically) {
    std::string path = scratch("atomic.h5ad");
    json cfg = small_config({"cells=300", "combination_fraction=0.0"});
    data::simulate(cfg, path);
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    auto before = fs::file_size(path);
    // a bad config fails before anything is written; the old file stays
    json bad = cfg;
    bad["grn"]["knockdown"] = 2.0;
    EXPECT_HAS(error_of([&] { data::simulate(bad, path); }), "grn.knockdown");
    EXPECT_EQ(fs::file_size(path), before);
    // a failure half-way through streaming X leaves neither a partial file nor the temporary
    io::AnnDataOut out;
    out.rows = 4;
    out.cols = 2;
    out.obs.index = {"a", "b", "c", "d"};
    out.var.index = {"g1", "g2"};
    int calls = 0;
    out.X_blocks = [&](io::CsrMatrix& b) -> bool {
        if (++calls == 2) GPO_FAIL("source failed on purpose");
        b.rows = 2, b.cols = 2, b.indptr = {0, 1, 1}, b.indices = {1}, b.data = {3};
        return true;
    };
    EXPECT_HAS(error_of([&] { io::h5ad_write(path, out); }), "source failed on purpose");
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    EXPECT_EQ(fs::file_size(path), before);
    EXPECT_EQ(io::h5ad_read(path).X.rows, 300);
    std::string fresh = scratch("never.h5ad");
    EXPECT_FALSE(error_of([&] { io::h5ad_write(fresh, out); }).empty());
    EXPECT_FALSE(fs::exists(fresh));
    EXPECT_FALSE(fs::exists(fresh + ".tmp"));
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0) << "an HDF5 id was left open after a failed write";
    fs::remove(path);
}

// ---------------------------------------------------------------------------- CSR writer

namespace {

// The file checked by tests/python/check_written_h5ad.py "csr" (keep the two in sync): X 5 x 4 streamed in blocks
// of rows [0, 2), [2, 3), [3, 5); X = [[0,1.5,0,2],[0,0,0,0],[3,0,0,0],[0,0,4,5],[6,0,0,0]].
io::AnnDataOut csr_data(bool streamed) {
    io::AnnDataOut a;
    a.rows = 5;
    a.cols = 4;
    io::CsrMatrix X{5, 4, {0, 2, 2, 3, 5, 6}, {1, 3, 0, 2, 3, 0}, {1.5f, 2, 3, 4, 5, 6}};
    if (streamed) {
        auto blocks = std::make_shared<std::vector<io::CsrMatrix>>(std::vector<io::CsrMatrix>{
            {2, 4, {0, 2, 2}, {1, 3}, {1.5f, 2}}, {1, 4, {0, 1}, {0}, {3}}, {2, 4, {0, 2, 3}, {2, 3, 0}, {4, 5, 6}}});
        auto next = std::make_shared<size_t>(0);
        a.X_blocks = [blocks, next](io::CsrMatrix& b) {
            if (*next == blocks->size()) return false;
            b = (*blocks)[(*next)++];
            return true;
        };
    } else {
        a.X_csr = X;
    }
    a.csr_layers["counts"] = io::CsrMatrix{5, 4, {0, 1, 1, 1, 2, 4}, {0, 3, 1, 2}, {1, 7, 2, 9}};
    for (int i = 0; i < 5; ++i) a.obs.index.push_back("c" + std::to_string(i));
    a.var.index = {"g0", "g1", "g2", "g3"};
    a.uns_arrays["w"] = {0.5, -1.25};
    a.uns_matrices["m"] = io::DenseMatrix{2, 3, {1, 2, 3, 4, 5, 6}};
    return a;
}

}  // namespace

TEST(SimulateCsrWriter, RoundTripWholeAndStreamed) {
    for (bool streamed : {false, true}) {
        std::string path = scratch(streamed ? "streamed.h5ad" : "whole.h5ad");
        io::h5ad_write(path, csr_data(streamed));
        io::AnnData a = io::h5ad_read(path);
        EXPECT_EQ(a.X.rows, 5);
        EXPECT_EQ(a.X.cols, 4);
        EXPECT_EQ(a.X.indptr, (std::vector<int64_t>{0, 2, 2, 3, 5, 6}));
        EXPECT_EQ(a.X.indices, (std::vector<int32_t>{1, 3, 0, 2, 3, 0}));
        EXPECT_EQ(a.X.data, (std::vector<float>{1.5f, 2, 3, 4, 5, 6}));
        io::H5adReadOptions opt;
        opt.layer = "counts";
        io::AnnData l = io::h5ad_read(path, opt);
        EXPECT_EQ(l.X.indptr, (std::vector<int64_t>{0, 1, 1, 1, 2, 4}));
        EXPECT_EQ(l.X.indices, (std::vector<int32_t>{0, 3, 1, 2}));
        EXPECT_EQ(l.X.data, (std::vector<float>{1, 7, 2, 9}));
        std::vector<int64_t> dims;
        EXPECT_EQ(read_uns_numbers(path, "w", &dims), (std::vector<double>{0.5, -1.25}));
        EXPECT_EQ(read_uns_numbers(path, "m", &dims), (std::vector<double>{1, 2, 3, 4, 5, 6}));
        EXPECT_EQ(dims, (std::vector<int64_t>{2, 3}));
        if (anndata_available()) {
            std::string cmd = "python3 \"" + std::string(GPO_SOURCE_DIR) + "/tests/python/check_written_h5ad.py\" \"" +
                              path + "\" csr";
            EXPECT_EQ(std::system(cmd.c_str()), 0) << "anndata rejected the CSR file: " << cmd;
        } else if (require_python()) {
            ADD_FAILURE() << "GPO_REQUIRE_PYTHON=1 but `python3 -c \"import anndata\"` failed";
        }
        fs::remove(path);
    }
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

TEST(SimulateCsrWriter, LargeStreamCrossesChunks) {
    // 3,000 rows x 300 cols, ~1.35M non-zeros: several 1 MiB (262,144-element) chunks and the 16-chunk buffer.
    const int64_t R = 3000, C = 300;
    auto value = [](int64_t i, int64_t j) { return (i * 7 + j * 3) % 2 == 0 ? (float)((i + j) % 9 + 1) : 0.0f; };
    io::AnnDataOut a;
    a.rows = R;
    a.cols = C;
    for (int64_t i = 0; i < R; ++i) a.obs.index.push_back("c" + std::to_string(i));
    for (int64_t j = 0; j < C; ++j) a.var.index.push_back("g" + std::to_string(j));
    int64_t next = 0;
    a.X_blocks = [&](io::CsrMatrix& b) {
        if (next == R) return false;
        int64_t nr = std::min<int64_t>(R - next, 211);  // blocks not aligned with chunks
        b.rows = nr, b.cols = C, b.indptr = {0};
        for (int64_t i = next; i < next + nr; ++i) {
            for (int64_t j = 0; j < C; ++j)
                if (value(i, j) != 0) b.indices.push_back((int32_t)j), b.data.push_back(value(i, j));
            b.indptr.push_back((int64_t)b.data.size());
        }
        next += nr;
        return true;
    };
    std::string path = scratch("large.h5ad");
    io::h5ad_write(path, a);
    io::AnnData r = io::h5ad_read(path);
    ASSERT_EQ(r.X.rows, R);
    int64_t k = 0, bad = 0;
    for (int64_t i = 0; i < R; ++i) {
        bad += r.X.indptr[(size_t)i] != k;
        for (int64_t j = 0; j < C; ++j) {
            if (value(i, j) == 0) continue;
            bad += k >= r.X.nnz() || r.X.indices[(size_t)k] != j || r.X.data[(size_t)k] != value(i, j);
            ++k;
        }
    }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(r.X.nnz(), k);
    fs::remove(path);
}

TEST(SimulateCsrWriter, BadCsrNamesTheProblem) {
    std::string path = scratch("bad.h5ad");
    io::AnnDataOut a = csr_data(false);
    a.X_csr->indices[1] = 0;  // row 0: columns 1 then 0
    EXPECT_HAS(error_of([&] { io::h5ad_write(path, a); }), "X row 0 has column indices not strictly increasing");
    a = csr_data(false);
    a.X_csr->indices[2] = 4;
    EXPECT_HAS(error_of([&] { io::h5ad_write(path, a); }), "X row 2 has column index 4, outside [0, 4)");
    a = csr_data(false);
    a.X = {1};
    EXPECT_HAS(error_of([&] { io::h5ad_write(path, a); }), "X: set only one of X (dense), X_csr and X_blocks");
    a = csr_data(false);
    a.csr_layers["counts"].indptr.pop_back();
    EXPECT_HAS(error_of([&] { io::h5ad_write(path, a); }), "layers/counts indptr has 5 entries, expected rows + 1 = 6");
    a = csr_data(true);
    a.csr_layers.clear();
    a.rows = 6;
    a.obs.index.push_back("c5");
    EXPECT_HAS(error_of([&] { io::h5ad_write(path, a); }), "X: the row blocks had 5 rows in all, expected 6");
    a = csr_data(true);
    a.csr_layers.clear();
    a.rows = 4;
    a.obs.index.pop_back();
    EXPECT_HAS(error_of([&] { io::h5ad_write(path, a); }), "X row block at row 3 has 2 rows, more than the 4 rows");
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
}
