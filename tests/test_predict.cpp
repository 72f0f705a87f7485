// `gpo-engine predict` as a user runs it on a tiny model of the embedded dataset: sampled cells hold raw counts at
// library sizes drawn from real cells of their own condition (or the controls, or one fixed size), the label column
// is named as in the input, mean profiles go to their own file, predictions from untrained embeddings are flagged,
// and runs are reproducible. The real library sizes are read independently of the engine's preprocessing: row
// sums of the input .h5ad, QC flags from the run folder's cells.csv.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <sstream>

#include "io/h5ad.h"
#include "tests/cli_harness.h"

namespace fs = std::filesystem;
using gpo::test::contains;
using gpo::test::run_engine;

namespace {

const std::string kData = std::string(GPO_SOURCE_DIR) + "/data/papalexi2021_thp1_eccite.h5ad";

// A tiny model with IRF1 held out (its cells form the test split), trained once per test process. ctest runs each
// test in its own process, possibly at the same time as the others, so the run folder is the test's own.
const std::string& checkpoint() {
    static const std::string ckpt = [] {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        fs::path dir = gpo::test::scratch_dir(std::string("predict_run_") + info->name());
        gpo::test::CliResult r = run_engine("train --config " + gpo::test::demo_config() + " --out " + (dir / "run").string() +
                                            " --device cpu" + gpo::test::tiny_sets() +
                                            " --set preprocess.split=heldout_perturbations"
                                            " --set 'preprocess.heldout=[\"IRF1\"]'");
        EXPECT_EQ(r.code, 0) << r.output;
        return (dir / "run" / "checkpoints" / "best.ckpt").string();
    }();
    return ckpt;
}

// A real cell of the input: its label and QC flag from the run folder's cells.csv, its library size the row sum of
// its raw counts in the input file.
struct RealCell {
    std::string label;
    bool qc_pass = false;
    double library = 0;
};

std::map<std::string, RealCell> real_cells() {
    gpo::io::AnnData in = gpo::io::h5ad_read(kData);
    std::map<std::string, RealCell> out;
    for (int64_t r = 0; r < in.X.rows; ++r) {
        double s = 0;
        for (int64_t i = in.X.indptr[r]; i < in.X.indptr[r + 1]; ++i) s += in.X.data[i];
        out[in.obs.index[r]].library = s;
    }
    std::ifstream f(fs::path(checkpoint()).parent_path().parent_path() / "cells.csv");
    std::string line;
    std::getline(f, line);  // obs_name,label,split,qc_fail,matched_control,has_counterfactual
    while (std::getline(f, line)) {
        std::vector<std::string> v;
        std::stringstream ss(line);
        for (std::string x; std::getline(ss, x, ',');) v.push_back(x);
        if (v.size() < 4) continue;
        out[v[0]].label = v[1];
        out[v[0]].qc_pass = v[3] == "0";
    }
    return out;
}

// Each sampled cell's library size is that of the real cell it names, a QC-pass cell labelled `pool_of(label)`.
void expect_libraries_from_real_cells(const gpo::io::AnnData& p, const std::function<std::string(std::string)>& pool_of) {
    static const auto real = real_cells();
    const auto& label = p.obs.at("perturbation");
    for (int64_t i = 0; i < p.X.rows; ++i) {
        const std::string cell = p.obs.at("library_cell").strings[i];
        ASSERT_TRUE(real.count(cell)) << "library_cell '" << cell << "' is not a cell of the input";
        const RealCell& c = real.at(cell);
        EXPECT_EQ(c.label, pool_of(label.label(i))) << cell;
        EXPECT_TRUE(c.qc_pass) << cell;
        EXPECT_EQ(p.obs.at("library_size").numbers[i], c.library) << cell;
    }
}

double row_sum(const gpo::io::CsrMatrix& X, int64_t r) {
    double s = 0;
    for (int64_t i = X.indptr[r]; i < X.indptr[r + 1]; ++i) s += X.data[i];
    return s;
}

}  // namespace

TEST(Predict, SampledCellsCarryRealLibrarySizesOfTheirConditionAndTheInputsLabelColumn) {
    fs::path dir = gpo::test::scratch_dir("predict_cells");
    const std::string out = (dir / "p.h5ad").string(), means = (dir / "m.h5ad").string();
    // JAK2+IRF1 names the same gene set as IRF1+JAK2: one condition.
    gpo::test::CliResult r = run_engine("predict --checkpoint " + checkpoint() + " --device cpu --perturbations "
                                        "STAT1,IRF1,IRF1+JAK2,JAK2+IRF1 --cells 60 --particles 8 --out " + out +
                                        " --means " + means);
    ASSERT_EQ(r.code, 0) << r.output;
    // IRF1 is held out: no training cell carries it, so its prediction (and the double's) is flagged.
    EXPECT_TRUE(contains(r.output, "warning") && contains(r.output, "IRF1, IRF1+JAK2")) << r.output;

    gpo::io::AnnData p = gpo::io::h5ad_read(out);
    ASSERT_EQ(p.X.rows, 4 * 60);  // control, STAT1, IRF1, IRF1+JAK2
    ASSERT_EQ(p.X.cols, 299);
    ASSERT_TRUE(p.obs.has("perturbation"));  // data.perturbation_key of the demo config
    const auto& label = p.obs.at("perturbation");
    const auto& lib = p.obs.at("library_size").numbers;
    const auto& from = p.obs.at("library_from");
    // Real cells of the double do not exist in this dataset: its library sizes come from the controls.
    expect_libraries_from_real_cells(p, [](std::string l) { return l == "IRF1+JAK2" ? "non-targeting" : l; });
    std::map<std::string, int> per_label;
    double ratio = 0;
    for (int64_t i = 0; i < p.X.rows; ++i) {
        const std::string l = label.label(i);
        ++per_label[l];
        EXPECT_EQ(from.label(i), l == "IRF1+JAK2" ? "control" : "condition") << l;
        for (int64_t k = p.X.indptr[i]; k < p.X.indptr[i + 1]; ++k)
            EXPECT_EQ(p.X.data[k], std::round(p.X.data[k])) << "X holds counts";
        ratio += row_sum(p.X, i) / lib[i] / p.X.rows;
    }
    EXPECT_EQ(per_label, (std::map<std::string, int>{{"non-targeting", 60}, {"STAT1", 60}, {"IRF1", 60},
                                                     {"IRF1+JAK2", 60}}));
    // A cell's NB means sum to its library size; its count total scatters around it (about 16 % per cell for these
    // libraries and dispersions), so the mean ratio over 240 cells is within a few per cent of 1.
    EXPECT_NEAR(ratio, 1.0, 0.08);
    EXPECT_EQ(p.uns_string_arrays.at("untrained_perturbations"), (std::vector<std::string>{"IRF1", "IRF1+JAK2"}));

    gpo::io::AnnData m = gpo::io::h5ad_read(means);
    ASSERT_EQ(m.X.rows, 4);
    EXPECT_EQ(m.obs.index, (std::vector<std::string>{"non-targeting", "STAT1", "IRF1", "IRF1+JAK2"}));
    const double median = m.uns_numbers.at("library_size");
    EXPECT_GT(median, 50);
    for (int64_t i = 0; i < 4; ++i)  // expected counts: each profile sums to the library size (float32 rounding)
        EXPECT_NEAR(row_sum(m.X, i), median, 1e-4 * median) << m.obs.index[i];
}

TEST(Predict, FixedOrControlLibrariesSeedsAndBadOptions) {
    fs::path dir = gpo::test::scratch_dir("predict_options");
    auto run = [&](const std::string& args, const std::string& file) {
        return run_engine("predict --checkpoint " + checkpoint() + " --device cpu --perturbations STAT1 --cells 50 " +
                          args + " --out " + (dir / file).string());
    };
    ASSERT_EQ(run("--library 5000", "fixed.h5ad").code, 0);
    gpo::io::AnnData f = gpo::io::h5ad_read((dir / "fixed.h5ad").string());
    double total = 0;
    for (int64_t i = 0; i < f.X.rows; ++i) {
        EXPECT_EQ(f.obs.at("library_size").numbers[i], 5000);
        EXPECT_EQ(f.obs.at("library_from").label(i), "fixed");
        total += row_sum(f.X, i);
    }
    // 100 cells at 5000 UMIs: the mean total is within a few per cent of 5000 (per-cell sd ~15 %).
    EXPECT_NEAR(total / f.X.rows, 5000, 0.06 * 5000);

    ASSERT_EQ(run("--library-from control", "ctl.h5ad").code, 0);
    gpo::io::AnnData c = gpo::io::h5ad_read((dir / "ctl.h5ad").string());
    expect_libraries_from_real_cells(c, [](std::string) { return "non-targeting"; });
    for (int64_t i = 0; i < c.X.rows; ++i) EXPECT_EQ(c.obs.at("library_from").label(i), "control");

    // The same seed reproduces the cells exactly; another seed does not.
    ASSERT_EQ(run("--seed 7", "s7a.h5ad").code, 0);
    ASSERT_EQ(run("--seed 7", "s7b.h5ad").code, 0);
    ASSERT_EQ(run("--seed 8", "s8.h5ad").code, 0);
    auto a = gpo::io::h5ad_read((dir / "s7a.h5ad").string()), b = gpo::io::h5ad_read((dir / "s7b.h5ad").string()),
         e = gpo::io::h5ad_read((dir / "s8.h5ad").string());
    EXPECT_EQ(a.X.data, b.X.data);
    EXPECT_EQ(a.X.indices, b.X.indices);
    EXPECT_NE(a.X.data, e.X.data);

    gpo::test::CliResult r = run("--library 5000 --library-from control", "bad.h5ad");
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.output, "either --library")) << r.output;
    r = run("--cells 0", "bad.h5ad");
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.output, "--cells")) << r.output;
    r = run("--means " + (dir / "bad.h5ad").string(), "bad.h5ad");
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.output, "same file")) << r.output;
    EXPECT_FALSE(fs::exists(dir / "bad.h5ad"));
    // A failing cells file leaves no means file behind.
    r = run_engine("predict --checkpoint " + checkpoint() + " --device cpu --perturbations STAT1 --means " +
                   (dir / "m.h5ad").string() + " --out /nonexistent/p.h5ad");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_FALSE(fs::exists(dir / "m.h5ad"));
}
