// Acceptance tests: GPO-VAE recovers a known gene regulatory network. For each of five simulation seeds a small
// Perturb-seq dataset is simulated from a sparse true GRN at the simulator's default noise (engine/data/simulate.h),
// preprocessed, and a tiny gpo_vae is trained on the CPU for a fixed number of steps. Checks: for every seed the
// learned mask sigmoid(W) ranks the true edges of the perturbed block above the non-edges (AUROC >= 0.8), and the GRN
// evaluation against the true network beats random edge sets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/data/cache.h"
#include "engine/data/simulate.h"
#include "engine/eval/grn_outputs.h"
#include "engine/eval/loaded_model.h"
#include "engine/train/trainer.h"
#include "io/config.h"

using namespace gpo;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The simulated dataset: the simulator's defaults (docs/simulate.md: count noise, QC-fail cells and all) except
// where noted.
// - 15 perturbed + 5 extended genes (T = 20), 150 genes, 8,000 cells: ~460 cells per perturbation, enough for the
//   per-row median of |Δ| that the GRN loss fits to be stable at the default NB noise, small enough to train in
//   about a second.
// - Default GRN law: density 0.1 (~22 edges among the 15 perturbed genes, 210 ordered pairs), |w| ~ U(0.3, 1),
//   knockdown 0.8 (x0 = log 0.2 = -1.6), 2 hops: 2-step descendants of a target change too and count as non-edges
//   here, so the ranking must separate direct effects from indirect ones, as on real data.
// - No combinations.
// The QC flags come from the simulated qc_fail column, so the QC branch is on as with real data.
std::vector<std::string> sim_overrides(int seed) {
    return {"seed=" + std::to_string(seed),
            "cells=8000",
            "genes=150",
            "perturbed_genes=15",
            "extended_genes=5",
            "control_fraction=0.15",
            "combination_fraction=0.0",
            "grn.edge_density=0.1"};
}

// The run config: a tiny model (hidden 32, latent 8, 1 particle) and a fixed schedule (150 Adam steps of 256 cells
// at lr 3e-3, ~13 epochs). The GRN loss (docs/model.md §4.4) regresses row S_t of the K-hop score (S = A + A^2/T + ...
// + A^6/T^5, A = W, model.grn_hops = 5 as in the reference) onto |Δ| - τ for cells perturbed at t; under the L1
// loss the fit is the median over those cells, so S_tj > 0 (and, S being dominated by A, an edge probability
// above 1/2) where the median |Δ_j| exceeds τ. The ranking scored by the AUROC follows the medians and depends
// little on τ (measured at an earlier low-noise setting, seed 3: AUROC 0.925 / 0.958 / 0.953 / 0.914 at
// τ = 0.4 / 0.6 / 0.8 / 1.2); τ sets how many edges clear the 0.5 threshold (there 66 / 28 / 20 / 4 predicted).
// τ = model.fc_criteria = 0.6 lies above most non-edges' medians of |Δ| and below most true edges', so the
// thresholded network of the second test is neither almost empty nor almost full (seed 1 here: 52 predicted, 20 of
// the 23 true edges among them, precision 0.385 vs 0.110 for random sets).
// Seeds 1-8 of the simulation with these settings (default noise): AUROC 0.929, 0.939, 0.868, 0.905, 0.944, 0.854,
// 0.916, 0.939. The tests use seeds 1-5, every one of which must reach the bound 0.8 (0.05 below the worst of the
// eight); with 4,000 cells the same seeds give 0.857-0.943, and with the old tuned setting (seed 3, NB concentration
// 5, no QC-fail cells) 0.958.
json run_config(const std::string& h5ad, const std::string& cache_dir) {
    return io::config_load("", {"data.path=" + h5ad,
                                "data.perturbation_key=perturbation",
                                "data.extended_gene_column=extended",
                                "data.qc_column=qc_fail",
                                "preprocess.split_fractions=[0.7, 0.1, 0.2]",
                                "preprocess.cache_dir=" + cache_dir,
                                "model.n_latent=8",
                                "model.basal_encoder.hidden=32",
                                "model.embedding_encoder.n_layers=2",
                                "model.embedding_encoder.hidden=32",
                                "model.qc_encoder.n_layers=2",
                                "model.qc_encoder.hidden=32",
                                "model.decoder.hidden=32",
                                "model.fc_criteria=0.6",
                                "train.device=cpu",
                                "train.batch_size=256",
                                "train.particles=1",
                                "train.lr=3e-3",
                                "train.max_epochs=1000",
                                "train.patience=1000",
                                "train.log_every_steps=1000"});
}
const int64_t kSteps = 150;

const int kSeeds[] = {1, 2, 3, 4, 5};

// One simulated dataset and one trained model per seed, kept for the whole suite (~1.5 s each).
struct Trained {
    fs::path dir;
    std::string h5ad, reference_tsv;
    std::unique_ptr<eval::LoadedModel> model;
    std::set<std::pair<std::string, std::string>> true_edges;  // (source, target) gene names, all T x T
    double t_simulate = 0, t_preprocess = 0, t_train = 0;
    int64_t true_edges_in_block = 0;

    explicit Trained(int seed) {
        dir = fs::path(GPO_BINARY_DIR) / ("grn_recovery_" + std::to_string(getpid()) + "_" + std::to_string(seed));
        fs::remove_all(dir);
        fs::create_directories(dir);
        h5ad = (dir / "sim.h5ad").string();
        auto t0 = std::chrono::steady_clock::now();
        json sim = data::simulate_config_load("", sim_overrides(seed));
        data::SimulateOptions so;
        so.threads = 2;
        data::simulate(sim, h5ad, so);
        t_simulate = seconds_since(t0);

        // The true network as a directed edge list (gene names), as a user would export it from uns/true_grn_*.
        data::SimTruth truth = data::simulate_truth(sim);
        reference_tsv = (dir / "true_grn.tsv").string();
        std::ofstream tsv(reference_tsv);
        for (size_t e = 0; e < truth.edge_src.size(); ++e) {
            const std::string &s = truth.genes[truth.edge_src[e]], &d = truth.genes[truth.edge_dst[e]];
            true_edges.insert({s, d});
            tsv << s << "\t" << d << "\n";
            true_edges_in_block += truth.edge_src[e] < truth.P && truth.edge_dst[e] < truth.P;
        }
        tsv.close();

        t0 = std::chrono::steady_clock::now();
        json cfg = run_config(h5ad, (dir / "cache").string());
        data::Dataset ds = data::load_dataset(cfg);
        t_preprocess = seconds_since(t0);

        t0 = std::chrono::steady_clock::now();
        train::TrainOptions to;
        to.out_dir = (dir / "run").string();
        to.quiet = true;
        to.max_steps = kSteps;
        train::TrainResult r = train::train(cfg, ds, to);
        t_train = seconds_since(t0);
        std::printf("[ grn     ] seed %d: simulate %.1f s, preprocess %.1f s, train %lld steps (%lld epochs) %.1f s, "
                    "loss %.1f -> %.1f\n",
                    seed, t_simulate, t_preprocess, (long long)r.steps, (long long)r.epochs, t_train,
                    r.step_losses.front(), r.step_losses.back());
        // The fixed schedule ends at the last checkpoint (best.ckpt would depend on the noisy validation loss).
        model = eval::load_model(to.out_dir + "/checkpoints/last.ckpt", "cpu", {}, false);
    }
    ~Trained() { fs::remove_all(dir); }
};

Trained& trained(int seed) {
    static std::map<int, std::unique_ptr<Trained>> cache;
    auto& t = cache[seed];
    if (!t) t = std::make_unique<Trained>(seed);
    return *t;
}

// AUROC by the rank-sum (Mann-Whitney) formula: rank all scores ascending (1-based, tied scores get the mean of
// their ranks), R+ = sum of the positives' ranks, AUROC = (R+ - n+ (n+ + 1) / 2) / (n+ n-), i.e. the probability
// that a random positive scores above a random negative, ties counting 1/2.
double auroc(const std::vector<double>& score, const std::vector<int>& label) {
    const size_t n = score.size();
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
    std::vector<double> rank(n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && score[order[j + 1]] == score[order[i]]) ++j;
        double mean_rank = 0.5 * (double)(i + j) + 1.0;  // ranks i+1 .. j+1
        for (size_t k = i; k <= j; ++k) rank[order[k]] = mean_rank;
        i = j + 1;
    }
    double n_pos = 0, n_neg = 0, r_pos = 0;
    for (size_t i = 0; i < n; ++i) {
        if (label[i]) n_pos += 1, r_pos += rank[i];
        else n_neg += 1;
    }
    return (r_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

}  // namespace

TEST(GrnRecoveryAuroc, RankFormulaOnHandCases) {
    // Perfect, reversed and fully tied rankings, and one hand-counted case: positives {0.9, 0.4}, negatives
    // {0.5, 0.4, 0.1}: pairs won 3 (0.9 beats all) + 1 (0.4 > 0.1) + 0.5 (0.4 = 0.4) = 4.5 of 6.
    EXPECT_DOUBLE_EQ(auroc({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}), 1.0);
    EXPECT_DOUBLE_EQ(auroc({0.1, 0.2, 0.8, 0.9}, {1, 1, 0, 0}), 0.0);
    EXPECT_DOUBLE_EQ(auroc({0.5, 0.5, 0.5}, {1, 0, 0}), 0.5);
    EXPECT_DOUBLE_EQ(auroc({0.9, 0.4, 0.5, 0.4, 0.1}, {1, 1, 0, 0, 0}), 4.5 / 6.0);
}

// AUROC of sigmoid(W) over the ordered pairs i != j of the perturbed block against the true edges.
double block_auroc(Trained& tr) {
    eval::LoadedModel& m = *tr.model;
    const data::Dataset& ds = m.dataset;
    const int64_t T = ds.T, P = ds.n_perturbed;
    EXPECT_EQ(T, 20);
    EXPECT_EQ(P, 15);
    std::vector<double> W = m.params.value(m.model->mask_logits()).to(Device::CPU).to_vector();
    EXPECT_EQ((int64_t)W.size(), T * T);
    // Matched to the truth by gene name (the treatment axis is ds.treatment_names, not the file's gene order).
    std::vector<double> score;
    std::vector<int> label;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j) {
            if (i == j) continue;
            score.push_back(1.0 / (1.0 + std::exp(-W[i * T + j])));
            label.push_back(tr.true_edges.count({ds.treatment_names[i], ds.treatment_names[j]}) ? 1 : 0);
        }
    int64_t n_pos = 0;
    for (int l : label) n_pos += l;
    EXPECT_EQ(n_pos, tr.true_edges_in_block);
    EXPECT_GE(n_pos, 5) << "too few true edges in the perturbed block for a meaningful AUROC";
    double a = auroc(score, label);
    std::printf("[ grn     ] perturbed block: %lld true edges of %zu ordered pairs, AUROC of sigmoid(W) = %.3f\n",
                (long long)n_pos, label.size(), a);
    return a;
}

TEST(GrnRecovery, LearnedMaskRanksTrueEdgesOfThePerturbedBlock) {
    double sum = 0;
    for (int seed : kSeeds) {
        SCOPED_TRACE("simulation seed " + std::to_string(seed));
        double a = block_auroc(trained(seed));
        EXPECT_GE(a, 0.8);
        sum += a;
    }
    std::printf("[ grn     ] mean AUROC over %zu seeds: %.3f\n", std::size(kSeeds), sum / std::size(kSeeds));
}

TEST(GrnRecovery, EvaluationAgainstTrueNetworkBeatsRandom) {
    Trained& tr = trained(kSeeds[0]);
    auto t0 = std::chrono::steady_clock::now();
    eval::GrnOptions opt;  // default threshold 0.5 on sigmoid(W), 1,000 random edge sets
    opt.references.push_back(io::parse_edge_list_arg(tr.reference_tsv + ",tsv,directed", "--reference"));
    json report = eval::grn_outputs(*tr.model, opt, (tr.dir / "grn").string(), false);
    std::ifstream f(tr.dir / "grn" / "grn_report.json");
    ASSERT_TRUE(f) << "grn_report.json not written";
    json written = json::parse(f);
    ASSERT_EQ(written["biological"].size(), 1u);
    json b = written["biological"][0];
    const double n_pred = b["predicted"].get<double>(), hits = b["hits"].get<double>();
    const double precision = b["precision"].get<double>(), expected = b["expected_hits_random"].get<double>();
    const double random_precision = expected / n_pred;
    std::printf("[ grn     ] biological: %.0f predicted edges in the perturbed block, %.0f hits of %lld true, "
                "precision %.3f vs random %.3f, fold %.2f, p %.4f (%.1f s)\n",
                n_pred, hits, b["reference_edges_among_perturbed"].get<long long>(), precision, random_precision,
                b["fold_enrichment"].get<double>(), b["enrichment_p"].get<double>(), seconds_since(t0));
    std::printf("[ grn     ] suite setup: simulate %.1f s + preprocess %.1f s + train %.1f s\n", tr.t_simulate,
                tr.t_preprocess, tr.t_train);
    ASSERT_GT(n_pred, 0) << "no edge above the threshold";
    EXPECT_EQ(b["reference_edges_among_perturbed"].get<int64_t>(), tr.true_edges_in_block);
    EXPECT_DOUBLE_EQ(precision, hits / n_pred);  // the report is self-consistent
    EXPECT_GT(precision, random_precision);
    EXPECT_GT(b["fold_enrichment"].get<double>(), 1.0);
    EXPECT_LT(b["enrichment_p"].get<double>(), 0.05);
}
