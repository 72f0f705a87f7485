// Preprocessing against an independent oracle: tests/oracle/make_preprocess_oracle.py computed, with numpy, scipy
// and POT, the QC flags, the normalize_total target, the train-split normalisation statistics, the Sinkhorn-matched
// controls and the ΔX rows of 240 real cells (tests/oracle/preprocess_240.h5ad, a split column included); the
// engine preprocesses the same file with data.split_column and must agree cell by cell (matched by obs name).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/data/preprocess.h"
#include "io/config.h"
#include "tests/oracle_harness.h"

using namespace gpo;
using nlohmann::json;

namespace {

struct Prepared {
    json fx;
    data::Dataset ds;
    std::map<std::string, int64_t> row_of;  // obs name -> engine row
};

const Prepared& prepared() {
    static const Prepared p = [] {
        Prepared q;
        q.fx = test::load_oracle("preprocess_240.json");
        const std::string h5ad = std::string(GPO_SOURCE_DIR) + "/tests/oracle/preprocess_240.h5ad";
        json cfg = io::config_load("", {"data.path=" + h5ad, "data.perturbation_key=perturbation",
                                        "data.control_label=non-targeting", "data.split_column=split",
                                        "preprocess.max_extended_genes=0", "preprocess.device=cpu"});
        q.ds = data::preprocess_dataset(cfg);
        for (int64_t n = 0; n < q.ds.N; ++n) q.row_of[q.ds.obs_names[n]] = n;
        return q;
    }();
    return p;
}

}  // namespace

TEST(OraclePreprocess, EveryCellIsKeptWithTheFilesSplit) {
    const Prepared& p = prepared();
    const auto names = p.fx["obs_names"].get<std::vector<std::string>>();
    const auto split = p.fx["split"].get<std::vector<std::string>>();
    ASSERT_EQ(p.ds.N, (int64_t)names.size());
    for (size_t i = 0; i < names.size(); ++i)
        EXPECT_EQ(data::split_name(p.ds.split[p.row_of.at(names[i])]), split[i]) << names[i];
    EXPECT_EQ(p.ds.treatment_names, p.fx["treatments"].get<std::vector<std::string>>());
}

TEST(OraclePreprocess, QcFlagsFollowTheMadRules) {
    const Prepared& p = prepared();
    const auto names = p.fx["obs_names"].get<std::vector<std::string>>();
    const auto fail = p.fx["qc_fail"].get<std::vector<int>>();
    int64_t n_fail = 0;
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ((int)p.ds.qc[p.row_of.at(names[i])], fail[i]) << names[i];
        n_fail += fail[i];
    }
    EXPECT_GT(n_fail, 0);  // the rules must actually flag cells here (16 of 240), or this checks nothing
}

TEST(OraclePreprocess, NormalisationStatisticsOfTheTrainSplit) {
    const Prepared& p = prepared();
    EXPECT_EQ(p.ds.normalize_target, p.fx["normalize_target"].get<double>());
    ASSERT_EQ(p.ds.gene_names, p.fx["genes"].get<std::vector<std::string>>());
    const auto mean = test::doubles(p.fx["norm_mean"]), sd = test::doubles(p.fx["norm_std"]);
    for (int64_t g = 0; g < p.ds.G; ++g) {  // stored as float32: 1e-6 relative
        EXPECT_NEAR(p.ds.norm_mean[g], mean[g], 1e-6 * std::max(1.0, std::fabs(mean[g]))) << p.ds.gene_names[g];
        EXPECT_NEAR(p.ds.norm_std[g], sd[g], 1e-6 * std::max(1.0, sd[g])) << p.ds.gene_names[g];
    }
}

TEST(OraclePreprocess, SinkhornMatchedControlsAndDeltaRows) {
    const Prepared& p = prepared();
    const auto names = p.fx["obs_names"].get<std::vector<std::string>>();
    const auto cand = p.fx["match_candidates"].get<std::vector<std::vector<std::string>>>();
    const auto margin = test::doubles(p.fx["match_margin"]);
    const auto expr = p.fx["treatment_expr"].get<std::vector<std::vector<double>>>();
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < names.size(); ++i) index[names[i]] = i;
    int exact = 0;
    std::vector<float> d(p.ds.T);
    for (size_t i = 0; i < names.size(); ++i) {
        const int64_t n = p.row_of.at(names[i]);
        ASSERT_GE(p.ds.matched_control[n], 0) << names[i];
        const std::string m = p.ds.obs_names[p.ds.matched_control[n]];
        // Where the best control is tied with others (a label with very few cells in a split gets a plan whose
        // entries are nearly equal along its row: with one cell, exactly 1/m), any tied control is a valid match;
        // otherwise the argmax must be POT's (the smallest non-tied margin here is ~2.6e-5, far above rounding).
        EXPECT_TRUE(std::find(cand[i].begin(), cand[i].end(), m) != cand[i].end())
            << names[i] << " matched to " << m << ", POT's best: " << cand[i][0] << " (margin " << margin[i] << ")";
        exact += cand[i].size() == 1;
        // ΔX from numpy's normalised expression of the cell and of the control the engine matched it to.
        p.ds.delta_row(n, d.data());
        const auto& yn = expr[i];
        const auto& ym = expr[index.at(m)];
        for (int64_t t = 0; t < p.ds.T; ++t)  // float32 log1p values: 1e-5 absolute
            EXPECT_NEAR(d[t], std::fabs(yn[t] - ym[t]), 1e-5) << names[i] << " delta[" << p.ds.treatment_names[t]
                                                               << "], matched " << m;
    }
    EXPECT_GT(exact, 150);  // most cells have a unique best control, so the argmax is really tested
}

// A label whose Sinkhorn kernel is over preprocess.ot_block_mb is matched in consecutive blocks of its cells, each
// against all the split's controls: POT's matches of the same blocks (the fixture's block_mb splits 12 labels, the
// training controls into 6 blocks, and moves 28 cells' matches, so the blocks are really tested).
TEST(OraclePreprocess, LabelsOverTheBlockBudgetAreMatchedInBlocks) {
    const json fx = test::load_oracle("preprocess_240.json");
    ASSERT_GT(fx["split_labels_blocked"].get<int>(), 0);
    const std::string h5ad = std::string(GPO_SOURCE_DIR) + "/tests/oracle/preprocess_240.h5ad";
    json cfg = io::config_load("", {"data.path=" + h5ad, "data.perturbation_key=perturbation",
                                    "data.control_label=non-targeting", "data.split_column=split",
                                    "preprocess.max_extended_genes=0", "preprocess.device=cpu",
                                    "preprocess.ot_block_mb=" + fx["block_mb"].dump()});
    const data::Dataset ds = data::preprocess_dataset(cfg);
    const auto names = fx["obs_names"].get<std::vector<std::string>>();
    const auto cand = fx["match_candidates_blocked"].get<std::vector<std::vector<std::string>>>();
    const auto whole = fx["match_candidates"].get<std::vector<std::vector<std::string>>>();
    std::map<std::string, int64_t> row_of;
    for (int64_t n = 0; n < ds.N; ++n) row_of[ds.obs_names[n]] = n;
    int moved = 0;
    for (size_t i = 0; i < names.size(); ++i) {
        const int64_t n = row_of.at(names[i]);
        ASSERT_GE(ds.matched_control[n], 0) << names[i];
        const std::string m = ds.obs_names[ds.matched_control[n]];
        EXPECT_TRUE(std::find(cand[i].begin(), cand[i].end(), m) != cand[i].end())
            << names[i] << " matched to " << m << ", POT's best in its block: " << cand[i][0];
        moved += std::find(whole[i].begin(), whole[i].end(), m) == whole[i].end();
    }
    EXPECT_GT(moved, 0);  // some matches differ from the unblocked ones, or the blocks were not used
}
