// The gpo-engine binary as a user runs it: info without a GPU, exit codes and messages for bad usage, and the
// whole chain train -> evaluate -> predict -> grn on the embedded dataset with a tiny model, whose outputs must
// open in Python anndata/pandas when available (GPO_REQUIRE_PYTHON=1 makes that check mandatory).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "io/h5ad.h"
#include "tests/cli_harness.h"

namespace fs = std::filesystem;

namespace {

using Result = gpo::test::CliResult;
Result run(const std::string& args) { return gpo::test::run_engine(args); }
using gpo::test::tiny_sets;

bool python_has_anndata() { return std::system("python3 -c 'import anndata, pandas' > /dev/null 2>&1") == 0; }

}  // namespace

TEST(Cli, InfoRunsAndReportsDevices) {
    Result r = run("info");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("CUDA compiled"), std::string::npos) << r.output;
    if (!gpo::cuda_available()) EXPECT_NE(r.output.find("no GPU found"), std::string::npos) << r.output;
}

TEST(Cli, BadUsageGivesClearErrorsAndExitCodes) {
    Result r = run("frobnicate");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("unknown command 'frobnicate'"), std::string::npos) << r.output;
    r = run("train --confg x.json");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("unknown option '--confg'"), std::string::npos) << r.output;
    r = run("evaluate");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("--checkpoint is required"), std::string::npos) << r.output;
    r = run("evaluate --checkpoint /nonexistent/best.ckpt");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("/nonexistent/best.ckpt"), std::string::npos) << r.output;
    r = run("train --config " + std::string(GPO_SOURCE_DIR) + "/data/configs/demo.json --set model.decoder.hiden=3");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("model.decoder.hiden: unknown key"), std::string::npos) << r.output;
}

TEST(Cli, TrainEvaluatePredictGrnChain) {
    fs::path dir = fs::path(GPO_BINARY_DIR) / "test_cli_run";
    fs::remove_all(dir);
    std::string cfg = std::string(GPO_SOURCE_DIR) + "/data/configs/demo.json";
    Result r = run("train --config " + cfg + " --out " + dir.string() + " --device cpu" + tiny_sets());
    ASSERT_EQ(r.code, 0) << r.output;
    std::string ckpt = (dir / "checkpoints" / "best.ckpt").string();
    ASSERT_TRUE(fs::exists(ckpt));
    {  // the start-up line's parameter count: the elements of the checkpoint's param/ tensors
        int64_t params = 0;
        for (const auto& [name, v] : gpo::test::checkpoint_tensors(ckpt, "param/")) params += (int64_t)v.size();
        EXPECT_GT(params, 0);
        const std::string line = "model        gpo_vae, " + std::to_string(params) + " parameters (float32)";
        EXPECT_TRUE(gpo::test::contains(r.output, line)) << r.output;
    }

    r = run("evaluate --checkpoint " + ckpt + " --device cpu --set evaluate.ate_particles=64"
            " --set evaluate.iwelbo_particles=4 --export " + (dir / "export").string());
    ASSERT_EQ(r.code, 0) << r.output;
    for (const char* f : {"real.h5ad", "pred.h5ad", "cells.csv"}) EXPECT_TRUE(fs::exists(dir / "export" / f)) << f;
    std::ifstream rf(dir / "eval" / "report.json");
    ASSERT_TRUE(rf);
    nlohmann::json rep = nlohmann::json::parse(rf);
    EXPECT_EQ(rep["split"], "test");
    EXPECT_EQ(rep["cells"]["perturbations"].get<int>(), 25);
    EXPECT_TRUE(rep["iwelbo"]["mean"].is_number());
    // Stage times: every stage, none negative, together no more than the whole evaluation.
    double staged = 0;
    for (const char* st : {"scope", "data_ate", "model_ate", "baselines", "cell_eval", "metric_tables", "iwelbo"}) {
        ASSERT_TRUE(rep["stage_seconds"].contains(st)) << st;
        EXPECT_GE(rep["stage_seconds"][st].get<double>(), 0.0) << st;
        staged += rep["stage_seconds"][st].get<double>();
    }
    EXPECT_LE(staged, rep["seconds"].get<double>());
    for (const char* k : {"ate_pearson", "ate_pearson_top20", "ate_r2", "jaccard_top20", "ate_pearson_delta",
                          "ate_mse_top20", "ate_pearson_profile_top20", "ate_overlap_top20", "ate_discrimination_l1",
                          "pearson_delta", "mse", "mae", "mse_delta", "mae_delta", "discrimination_score_l1",
                          "discrimination_score_l2", "discrimination_score_cosine"})
        EXPECT_TRUE(rep["metrics"]["model"].contains(k)) << k;
    for (const char* b : {"no_change", "perturbed_mean", "train_mean"})
        EXPECT_TRUE(rep["metrics"]["baselines"].contains(b)) << b;
    EXPECT_EQ(rep["per_perturbation"].size(), 25u);
    {  // Values, not just keys: ranges, the summary equals the mean of the per-perturbation rows, and the baselines
       // behave as their definitions say (docs/metrics.md).
        const auto& mm = rep["metrics"]["model"];
        EXPECT_LT(rep["iwelbo"]["mean"].get<double>(), 0.0);  // a log-likelihood bound of counts
        for (const char* k : {"ate_pearson", "ate_pearson_top20", "pearson_delta", "ate_pearson_profile_top20"}) {
            EXPECT_GE(mm[k].get<double>(), -1.0) << k;
            EXPECT_LE(mm[k].get<double>(), 1.0) << k;
        }
        for (const char* k : {"jaccard_top20", "ate_overlap_top20", "discrimination_score_l1", "ate_discrimination_l1"}) {
            EXPECT_GE(mm[k].get<double>(), 0.0) << k;
            EXPECT_LE(mm[k].get<double>(), 1.0) << k;
        }
        for (const char* k : {"pearson_delta", "mse_delta", "ate_mse_top20", "jaccard_top20", "discrimination_score_l1"}) {
            double sum = 0;
            int n = 0;
            for (const auto& row : rep["per_perturbation"])
                if (row[k].is_number()) sum += row[k].get<double>(), ++n;
            ASSERT_GT(n, 0) << k;
            EXPECT_NEAR(mm[k].get<double>(), sum / n, 1e-9) << k << " is not the mean of the per-perturbation rows";
        }
        const auto& none = rep["metrics"]["baselines"]["no_change"];
        const auto& train = rep["metrics"]["baselines"]["train_mean"];
        // A constant (zero) predicted effect: GEARS's convention sets its correlation to 0, cell-eval's pearsonr
        // leaves NaN (null here), and the ATE Pearson over all entries is undefined too.
        EXPECT_EQ(none["ate_pearson_delta"].get<double>(), 0.0);
        EXPECT_TRUE(none["pearson_delta"].is_null());
        EXPECT_TRUE(none["ate_pearson"].is_null());
        EXPECT_GT(none["ate_mse_top20"].get<double>(), 0.0);  // the mean squared real effect on the DE genes
        // The training cells' own mean of each perturbation predicts its held-out cells far better than no change.
        EXPECT_LT(train["ate_mse_top20"].get<double>(), 0.5 * none["ate_mse_top20"].get<double>());
        EXPECT_LT(train["mse_delta"].get<double>(), none["mse_delta"].get<double>());
        EXPECT_GT(train["ate_pearson"].get<double>(), 0.5);
        EXPECT_GT(train["pearson_delta"].get<double>(), 0.2);
    }
    {  // The exported per-cell table reproduces the evaluated cell counts (QC-pass cells of the test split).
        std::ifstream cf(dir / "cells.csv");
        ASSERT_TRUE(cf);
        std::string line;
        std::getline(cf, line);
        EXPECT_EQ(line, "obs_name,label,split,qc_fail,matched_control,has_counterfactual");
        std::map<std::string, int> test_pass;
        int rows = 0;
        while (std::getline(cf, line)) {
            ++rows;
            std::vector<std::string> f;
            std::stringstream ss(line);
            for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
            if (f.size() >= 4 && f[2] == "test" && f[3] == "0") test_pass[f[1]]++;
        }
        EXPECT_EQ(rows, 19763);
        EXPECT_EQ(test_pass["non-targeting"], rep["cells"]["control"].get<int>());
        for (const auto& p : rep["per_perturbation"])
            EXPECT_EQ(test_pass[p["perturbation"].get<std::string>()], p["cells"].get<int>()) << p["perturbation"];
    }
    {  // per-perturbation table as CSV: a header and one row per evaluated perturbation
        std::ifstream pf(dir / "eval" / "per_perturbation.csv");
        ASSERT_TRUE(pf);
        std::string header, line;
        std::getline(pf, header);
        EXPECT_EQ(header.rfind("perturbation,", 0), 0u) << header;
        EXPECT_NE(header.find("pearson_delta"), std::string::npos) << header;
        int rows = 0;
        while (std::getline(pf, line)) ++rows;
        EXPECT_EQ(rows, 25);
    }
    for (const char* f : {"report.md", "ate_scatter.svg", "training_curves.svg", "per_perturbation_pearson_delta.svg"})
        EXPECT_TRUE(fs::exists(dir / "eval" / f)) << f;

    std::string pred = (dir / "pred.h5ad").string();
    r = run("predict --checkpoint " + ckpt + " --device cpu --perturbations IRF1,IRF1+JAK2 --cells 3 --particles 16"
            " --out " + pred);
    ASSERT_EQ(r.code, 0) << r.output;
    r = run("predict --checkpoint " + ckpt + " --device cpu --perturbations NOTAGENE --out " + pred + ".bad");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("'NOTAGENE'"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(pred + ".bad"));

    std::string grn = (dir / "grn").string();
    r = run("grn --checkpoint " + ckpt + " --device cpu --out " + grn + " --reference " + std::string(GPO_SOURCE_DIR) +
            "/tests/data/edges_small.tsv --random-sets 50");
    ASSERT_EQ(r.code, 0) << r.output;
    for (const char* f : {"grn_edges.csv", "grn_matrices.h5ad", "grn_report.json", "grn_report.md",
                          "grn_perturbed_block.svg"})
        EXPECT_TRUE(fs::exists(fs::path(grn) / f)) << f;
    {  // the path levels of the statistical evaluation are reported: lengths 2 and 3, tested within their pairs
        std::ifstream gf(fs::path(grn) / "grn_report.json");
        nlohmann::json gr = nlohmann::json::parse(gf);
        const nlohmann::json& paths = gr["statistical"]["paths"];
        ASSERT_EQ(paths.size(), 2u) << gr["statistical"].dump();
        for (size_t k = 0; k < 2; ++k) {
            EXPECT_EQ(paths[k]["path_length"].get<int>(), (int)k + 2);
            EXPECT_LE(paths[k]["tested"].get<int64_t>(), paths[k]["pairs"].get<int64_t>());
            EXPECT_EQ(paths[k]["true_positives"].get<int64_t>() + paths[k]["false_positives"].get<int64_t>(),
                      paths[k]["tested"].get<int64_t>());
        }
    }

    if (!python_has_anndata()) {
        const char* req = std::getenv("GPO_REQUIRE_PYTHON");
        if (req && std::string(req) == "1") FAIL() << "GPO_REQUIRE_PYTHON=1 but python3 cannot import anndata";
        GTEST_SKIP() << "python3 with anndata and pandas not available: outputs not opened in Python";
    }
    std::string py = "python3 -c \"import anndata, pandas, json; "
                     "p = anndata.read_h5ad('" + pred + "'); "
                     "assert p.n_obs == 3 * 3 and p.n_vars == 299 and p.X.sum() > 0, p; "
                     "assert set(p.obs['perturbation']) == {'non-targeting', 'IRF1', 'IRF1+JAK2'}; "
                     "g = anndata.read_h5ad('" + grn + "/grn_matrices.h5ad'); assert g.n_obs == g.n_vars; "
                     "e = pandas.read_csv('" + grn + "/grn_edges.csv'); "
                     "assert list(e.columns[:4]) == ['source', 'target', 'mask_probability', 'mean_embedding_effect']; "
                     "assert (e['mask_probability'].diff().dropna() <= 0).all(); "
                     "c = pandas.read_csv('" + (dir / "cells.csv").string() + "', index_col=0); "
                     "assert len(c) == 19763 and set(c['split']) == {'train', 'val', 'test'}, c; "
                     "pp = pandas.read_csv('" + (dir / "eval" / "per_perturbation.csv").string() + "'); "
                     "assert len(pp) == 25 and 'pearson_delta' in pp.columns, pp\"";
    EXPECT_EQ(std::system(py.c_str()), 0) << py;
}

// The metrics that carry cell-eval's names equal what cell-eval itself computes on the exported pair
// (tests/python/check_cell_eval.py runs cell_eval.MetricsEvaluator and compares per perturbation and in aggregate),
// and GEARS's DE-gene metrics equal GEARS's formulas on scanpy's DE genes (tests/python/check_gears.py).
TEST(Cli, CellEvalAndGearsOnTheExportedPairEqualTheReport) {
    fs::path dir = fs::path(GPO_BINARY_DIR) / "test_cli_cell_eval";
    fs::remove_all(dir);
    Result r = run("train --config " + std::string(GPO_SOURCE_DIR) + "/data/configs/demo.json --out " + dir.string() +
                   " --device cpu" + tiny_sets());
    ASSERT_EQ(r.code, 0) << r.output;
    r = run("evaluate --checkpoint " + (dir / "checkpoints" / "best.ckpt").string() + " --device cpu" +
            " --set evaluate.ate_particles=16 --set evaluate.iwelbo_particles=2 --export " + (dir / "export").string());
    ASSERT_EQ(r.code, 0) << r.output;
    // evaluate.cells_per_real = 3: three predicted cells per real cell, each at the library size of the real cell it
    // mirrors (obs library_cell), in the real cells' order; the real side is the same file.
    r = run("evaluate --checkpoint " + (dir / "checkpoints" / "best.ckpt").string() + " --device cpu" +
            " --set evaluate.ate_particles=16 --set evaluate.iwelbo_particles=2 --set evaluate.cells_per_real=3" +
            " --out " + (dir / "eval3").string() + " --export " + (dir / "export3").string());
    ASSERT_EQ(r.code, 0) << r.output;
    {
        const gpo::io::AnnData real = gpo::io::h5ad_read((dir / "export" / "real.h5ad").string());
        const gpo::io::AnnData real3 = gpo::io::h5ad_read((dir / "export3" / "real.h5ad").string());
        const gpo::io::AnnData pred1 = gpo::io::h5ad_read((dir / "export" / "pred.h5ad").string());
        const gpo::io::AnnData pred3 = gpo::io::h5ad_read((dir / "export3" / "pred.h5ad").string());
        ASSERT_GT(real.X.rows, 0);
        EXPECT_EQ(real3.obs.index, real.obs.index);
        EXPECT_EQ(pred1.X.rows, real.X.rows);
        ASSERT_EQ(pred3.X.rows, 3 * real.X.rows);
        const gpo::io::Column& mirror = pred3.obs.at("library_cell");
        const gpo::io::Column& label = pred3.obs.at("target_gene");
        const gpo::io::Column& real_label = real.obs.at("target_gene");
        int64_t wrong = 0;
        for (int64_t i = 0; i < pred3.X.rows; ++i)
            wrong += mirror.label((size_t)i) != real.obs.index[(size_t)(i / 3)] ||
                     label.label((size_t)i) != real_label.label((size_t)(i / 3));
        EXPECT_EQ(wrong, 0) << "predicted cells not in groups of three mirroring the real cells in order";
        std::ifstream f3(dir / "eval3" / "report.json"), f1(dir / "eval" / "report.json");
        const nlohmann::json rep3 = nlohmann::json::parse(f3), rep1 = nlohmann::json::parse(f1);
        EXPECT_EQ(rep3.at("predicted_cells").at("per_real_cell"), 3);
        EXPECT_EQ(rep1.at("predicted_cells").at("per_real_cell"), 1);
    }
    if (std::system("python3 -c 'import cell_eval' > /dev/null 2>&1") != 0) {
        const char* req = std::getenv("GPO_REQUIRE_PYTHON");
        if (req && std::string(req) == "1") FAIL() << "GPO_REQUIRE_PYTHON=1 but python3 cannot import cell_eval";
        GTEST_SKIP() << "python3 with cell-eval not available (pip install cell-eval): not compared";
    }
    Result c = gpo::test::run_shell("python3 " + std::string(GPO_SOURCE_DIR) + "/tests/python/check_cell_eval.py " +
                                    (dir / "export").string() + " " + (dir / "eval" / "report.json").string());
    EXPECT_EQ(c.code, 0) << c.output;
    EXPECT_NE(c.output.find("0 differ"), std::string::npos) << c.output;
    // The three-cells-per-real-cell pair: cell-eval on it equals that report too.
    Result c3 = gpo::test::run_shell("python3 " + std::string(GPO_SOURCE_DIR) + "/tests/python/check_cell_eval.py " +
                                     (dir / "export3").string() + " " + (dir / "eval3" / "report.json").string());
    EXPECT_EQ(c3.code, 0) << c3.output;
    EXPECT_NE(c3.output.find("0 differ"), std::string::npos) << c3.output;
    // scanpy comes with cell-eval.
    Result g = gpo::test::run_shell("python3 " + std::string(GPO_SOURCE_DIR) + "/tests/python/check_gears.py " +
                                    (dir / "export").string() + " " + (dir / "eval" / "report.json").string());
    EXPECT_EQ(g.code, 0) << g.output;
    EXPECT_NE(g.output.find("3 metrics x 25 perturbations compared, 0 differ"), std::string::npos) << g.output;
}

// Trains a tiny gpo_vae on the GEARS-layout fixture into dir/run with one held-out label under the given split.
static Result train_gears_layout(const fs::path& dir, const std::string& split, const std::string& heldout) {
    const std::string sets =
        " --set data.path=" + std::string(GPO_SOURCE_DIR) + "/tests/data/layout_gears.h5ad" +
        " --set data.perturbation_key=condition --set data.control_label=ctrl --set 'data.control_parts=[\"ctrl\"]'"
        " --set data.cell_filter_column=null --set preprocess.max_extended_genes=0"
        " --set preprocess.split=" + split + " --set 'preprocess.heldout=[\"" + heldout + "\"]'" +
        " --set model.n_latent=4 --set model.basal_encoder.hidden=8 --set model.embedding_encoder.hidden=8"
        " --set model.qc_encoder.hidden=8 --set model.decoder.hidden=8 --set train.batch_size=32"
        " --set train.max_epochs=2 --set preprocess.cache_dir=" + (dir / "cache").string();
    return run("train --config " + std::string(GPO_SOURCE_DIR) + "/data/configs/demo.json --out " +
               (dir / "run").string() + " --device cpu" + sets);
}

// Held-out combinations (GEARS layout, GENE1+GENE2 held out, its singles in training): evaluate works although the
// test split holds no control (the controls of every split are used, and the report says so), its rows are the
// held-out combination only, with evaluate.split = test and = all, and the additive baseline is reported.
TEST(Cli, HeldOutCombinationsEvaluateOnTheHeldOutLabels) {
    fs::path dir = fs::path(GPO_BINARY_DIR) / "test_cli_heldout_combo";
    fs::remove_all(dir);
    Result r = train_gears_layout(dir, "heldout_combinations", "GENE2+GENE1");
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string ckpt = (dir / "run" / "checkpoints" / "best.ckpt").string();
    for (const char* split : {"test", "all"}) {
        SCOPED_TRACE(split);
        const fs::path out = dir / (std::string("eval_") + split);
        r = run("evaluate --checkpoint " + ckpt + " --device cpu --out " + out.string() +
                " --set evaluate.ate_particles=16 --set evaluate.iwelbo_particles=2 --set evaluate.split=" + split);
        ASSERT_EQ(r.code, 0) << r.output;
        std::ifstream f(out / "report.json");
        nlohmann::json rep = nlohmann::json::parse(f);
        EXPECT_EQ(rep["cells"]["perturbations"].get<int>(), 1);
        ASSERT_EQ(rep["per_perturbation"].size(), 1u);
        EXPECT_EQ(rep["per_perturbation"][0]["perturbation"], "GENE1+GENE2");  // held-out labels match as sets
        EXPECT_TRUE(rep["cells"]["held_out_labels_only"].get<bool>());
        if (std::string(split) == "test") {
            EXPECT_EQ(rep["cells"]["controls_from"], "all splits");
            EXPECT_NE(r.output.find("no QC-pass control cell"), std::string::npos) << r.output;
        }
        {  // the controls counted are the QC-pass controls of every split, as cells.csv lists them
            std::ifstream cf(dir / "run" / "cells.csv");
            std::string line;
            std::getline(cf, line);
            int pass_controls = 0;
            while (std::getline(cf, line)) {
                std::vector<std::string> v;
                std::stringstream ss(line);
                for (std::string x; std::getline(ss, x, ',');) v.push_back(x);
                pass_controls += v.size() >= 4 && v[1] == "ctrl" && v[3] == "0";
            }
            EXPECT_EQ(rep["cells"]["control"].get<int>(), pass_controls);
            EXPECT_GT(pass_controls, 0);
        }
        const auto& add = rep["metrics"]["baselines"]["additive"];
        ASSERT_TRUE(add.is_object());
        EXPECT_TRUE(add["ate_mse_top20"].is_number());
        EXPECT_TRUE(add["mse_delta"].is_number());
        EXPECT_TRUE(rep["additive_singles_without_training_cells"].empty());
        // The held-out combination's singles are both in training: its prediction rests on trained rows.
        EXPECT_TRUE(rep["untrained_perturbations"].empty()) << rep["untrained_perturbations"].dump();
        EXPECT_TRUE(rep["per_perturbation"][0]["trained_embedding"].get<bool>());
        EXPECT_EQ(r.output.find("untrained embeddings"), std::string::npos) << r.output;
    }
}

// A held-out single perturbation (GEARS layout, GENE3 held out: it is in no combination, so no training cell carries
// it) is predicted from an untrained embedding row: evaluate warns and the report says so per perturbation. (GENE1
// held out would still be trained through the GENE1+GENE2 training cells.)
TEST(Cli, HeldOutPerturbationIsFlaggedAsUntrained) {
    fs::path dir = fs::path(GPO_BINARY_DIR) / "test_cli_heldout_single";
    fs::remove_all(dir);
    Result r = train_gears_layout(dir, "heldout_perturbations", "GENE3");
    ASSERT_EQ(r.code, 0) << r.output;
    r = run("evaluate --checkpoint " + (dir / "run" / "checkpoints" / "best.ckpt").string() + " --device cpu --out " +
            (dir / "eval").string() + " --set evaluate.ate_particles=16 --set evaluate.iwelbo_particles=2");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("rest on untrained embeddings"), std::string::npos) << r.output;
    std::ifstream f(dir / "eval" / "report.json");
    nlohmann::json rep = nlohmann::json::parse(f);
    bool saw_gene3 = false;
    for (const auto& row : rep["per_perturbation"]) {
        const std::string label = row["perturbation"].get<std::string>();
        const bool has_gene3 = label.find("GENE3") != std::string::npos;
        saw_gene3 = saw_gene3 || has_gene3;
        EXPECT_EQ(row["trained_embedding"].get<bool>(), !has_gene3) << label;
    }
    EXPECT_TRUE(saw_gene3) << rep["per_perturbation"].dump();
    EXPECT_FALSE(rep["untrained_perturbations"].empty());
}
