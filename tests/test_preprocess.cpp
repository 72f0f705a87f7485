// Preprocessing: statistics against hand-computed values, Sinkhorn matching, the pipeline on the embedded dataset
// (invariants of every output), determinism, and a clear error for each kind of bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "engine/check.h"
#include "engine/data/preprocess.h"
#include "engine/data/sinkhorn.h"
#include "engine/data/stats.h"
#include "engine/rng.h"
#include "io/config.h"
#include "io/h5ad.h"
#include "tests/harness.h"

using gpo::test::error_of;

using namespace gpo;
using nlohmann::json;

namespace {

std::string demo_path() { return std::string(GPO_SOURCE_DIR) + "/data/papalexi2021_thp1_eccite.h5ad"; }

json demo_config(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), "data.path=" + demo_path());  // later overrides may replace it
    return io::config_load(std::string(GPO_SOURCE_DIR) + "/data/configs/demo.json", extra);
}

const data::Dataset& demo() {
    static data::Dataset ds = data::preprocess_dataset(demo_config());
    return ds;
}

// A small counts file: 8 cells x 3 genes, labels A, B, A+B and the control.
std::string write_small(const std::string& name, std::vector<float> X, std::vector<std::string> labels,
                        std::vector<std::string> genes = {"G1", "G2", "A"}) {
    io::AnnDataOut a;
    a.rows = (int64_t)labels.size();
    a.cols = (int64_t)genes.size();
    a.X = std::move(X);
    for (size_t i = 0; i < labels.size(); ++i) a.obs.index.push_back("c" + std::to_string(i));
    a.obs.add("gene", io::Column::categorical_from_labels(labels));
    a.var.index = genes;
    std::string p = std::string(GPO_BINARY_DIR) + "/" + name;
    io::h5ad_write(p, a);
    return p;
}

std::vector<std::string> small_labels() {
    return {"A", "B", "A+B", "non-targeting", "A", "B", "non-targeting", "non-targeting", "A", "B", "A+B",
            "non-targeting"};
}

std::vector<float> small_counts(int cells, int genes) {
    std::vector<float> x((size_t)cells * genes);
    for (size_t i = 0; i < x.size(); ++i) x[i] = (float)((i * 7) % 5 + 1);
    return x;
}

}  // namespace

TEST(Stats, MediansMadAndBH) {
    EXPECT_DOUBLE_EQ(stats::median({3, 1, 2}), 2.0);
    EXPECT_DOUBLE_EQ(stats::median({4, 1, 3, 2}), 2.5);
    EXPECT_DOUBLE_EQ(stats::lower_median({4, 1, 3, 2}), 2.0);  // torch.median takes the lower middle
    EXPECT_DOUBLE_EQ(stats::mad({1, 2, 3, 4, 100}), 1.0);     // |x - 3| = 2,1,0,1,97 -> median 1
    // BH by hand: p = (0.01, 0.04, 0.03, 0.5), m = 4: sorted 0.01*4/1=0.04, 0.03*4/2=0.06, 0.04*4/3=0.0533,
    // 0.5*4/4=0.5; monotone from the top: 0.04, 0.0533, 0.0533, 0.5.
    std::vector<double> adj = stats::benjamini_hochberg({0.01, 0.04, 0.03, 0.5});
    EXPECT_NEAR(adj[0], 0.04, 1e-12);
    EXPECT_NEAR(adj[1], 0.04 * 4 / 3, 1e-12);
    EXPECT_NEAR(adj[2], 0.04 * 4 / 3, 1e-12);
    EXPECT_NEAR(adj[3], 0.5, 1e-12);
}

TEST(Stats, WilcoxonWithTies) {
    // a = {1, 2, 2}, b = {2, 3}: merged 1 2 2 2 3 -> ranks 1, 3, 3, 3, 5; R_a = 1 + 3 + 3 = 7.
    // mean = 3 * 6 / 2 = 9, sd = sqrt(3 * 2 * 6 / 12) = sqrt(3); z = -2 / sqrt(3).
    double z = 0;
    double p = stats::wilcoxon_ranksum_p({1, 2, 2}, {2, 3}, &z);
    EXPECT_NEAR(z, -2.0 / std::sqrt(3.0), 1e-12);
    EXPECT_NEAR(p, std::erfc(2.0 / std::sqrt(3.0) / std::sqrt(2.0)), 1e-12);
    EXPECT_NEAR(stats::wilcoxon_ranksum_p_sorted({1, 2, 2}, {2, 3}), p, 1e-15);
}

TEST(Stats, SparseWilcoxonEqualsDense) {
    // Non-negative samples with many zeros and ties, as expression values.
    std::vector<double> a = {0, 0, 1.5, 0, 2, 2, 0.5}, b = {0, 1.5, 0, 0, 0, 3, 0.5, 0.5, 0};
    std::vector<double> anz, bnz;
    for (double x : a) if (x != 0) anz.push_back(x);
    for (double x : b) if (x != 0) bnz.push_back(x);
    std::sort(anz.begin(), anz.end());
    std::sort(bnz.begin(), bnz.end());
    double dense = stats::wilcoxon_ranksum_p(a, b);
    double sparse = stats::wilcoxon_ranksum_p_sparse(anz, (int64_t)(a.size() - anz.size()), bnz,
                                                     (int64_t)(b.size() - bnz.size()));
    EXPECT_NEAR(sparse, dense, 1e-14);
}

TEST(Sinkhorn, MatchesNearestWhenRegularisationIsSmallRelativeToCost) {
    // Sources sit on top of distinct targets, far apart: the plan concentrates on the diagonal.
    std::vector<double> src = {0, 0, 10, 10, 20, 0}, dst = {20.1, 0, 0.1, 0, 10, 10.1};
    std::vector<int> m = data::sinkhorn_match(src, dst, 2, 1.0, 1.0);
    EXPECT_EQ(m, (std::vector<int>{1, 2, 0}));
}

TEST(Sinkhorn, ManySourcesMatchAsOneAtATime) {
    // Sources of 1 to 300 rows against one target of 700 (groups of up to 512 rows share a GEMM, so sources are
    // cut across several groups), features of 37 columns drawn from a fixed generator; the matches must be the
    // ones of sinkhorn_match on each source alone.
    HostRng rng(9, 1);
    const int d = 37;
    auto draw = [&](size_t rows) {
        std::vector<double> x(rows * d);
        for (double& v : x) v = rng.uniform() * 3.0;
        return x;
    };
    std::vector<double> dst = draw(700);
    std::vector<std::vector<double>> srcs;
    for (size_t rows : {1, 300, 17, 250, 2, 299, 5}) srcs.push_back(draw(rows));
    std::vector<double> joined;
    std::vector<size_t> rows_of;
    for (const auto& x : srcs) {
        joined.insert(joined.end(), x.begin(), x.end());
        rows_of.push_back(x.size() / d);
    }
    std::vector<std::vector<int>> many = data::sinkhorn_match_many(joined, rows_of, dst, d, 0.05, 10.0);
    ASSERT_EQ(many.size(), srcs.size());
    for (size_t s = 0; s < srcs.size(); ++s) {
        ASSERT_EQ(many[s].size(), srcs[s].size() / d);
        // A one-row source has a uniform plan (u K_0j v_j = 1/m for every j in exact arithmetic): its argmax is
        // decided by rounding, so only its range is checked.
        if (srcs[s].size() == (size_t)d) EXPECT_TRUE(many[s][0] >= 0 && many[s][0] < 700);
        else EXPECT_EQ(many[s], data::sinkhorn_match(srcs[s], dst, d, 0.05, 10.0)) << s;
    }
}

// Block sizes for a kernel budget: 10 cells against 4 controls (32 bytes a row) in at most 100 bytes is at most 3
// rows a block, so 4 blocks of near-equal size in order; a budget that holds the kernel gives one block; one smaller
// than a row still matches one cell at a time.
TEST(Sinkhorn, MatchBlocksFitTheBudget) {
    EXPECT_EQ(data::match_blocks(10, 4, 100), (std::vector<size_t>{2, 3, 2, 3}));
    EXPECT_EQ(data::match_blocks(10, 4, 320), (std::vector<size_t>{10}));
    EXPECT_EQ(data::match_blocks(3, 4, 1), (std::vector<size_t>{1, 1, 1}));
    EXPECT_TRUE(data::match_blocks(0, 4, 100).empty());
    EXPECT_THROW(data::match_blocks(10, 4, 0), Error);
}

TEST(Preprocess, EmbeddedDatasetInvariants) {
    const data::Dataset& ds = demo();
    EXPECT_EQ(ds.N, 19763);  // guide_assignment_pass cells (data/README.md)
    EXPECT_EQ(ds.G, 299);
    EXPECT_EQ(ds.n_perturbed, 25);  // CD274 has no assigned cell
    EXPECT_LE(ds.T - ds.n_perturbed, 25);  // preprocess.max_extended_genes in the demo config
    EXPECT_TRUE(std::is_sorted(ds.treatment_names.begin(), ds.treatment_names.begin() + ds.n_perturbed));
    int64_t per[3] = {0, 0, 0};
    for (int64_t n = 0; n < ds.N; ++n) {
        per[ds.split[n]]++;
        // a cell's treatments spell its label; controls have none
        if (ds.labels[n] == ds.control_label) {
            EXPECT_TRUE(ds.treatments[n].empty());
        } else {
            ASSERT_EQ(ds.treatments[n].size(), 1u);
            EXPECT_EQ(ds.treatment_names[ds.treatments[n][0]], ds.labels[n]);
        }
        // the matched control is a control of the same split
        int64_t m = ds.matched_control[n];
        ASSERT_GE(m, 0);
        EXPECT_EQ(ds.labels[m], ds.control_label);
        EXPECT_EQ(ds.split[m], ds.split[n]);
        EXPECT_NEAR(ds.library[n], ds.counts.row_sum(n), 1e-3);
    }
    EXPECT_NEAR(per[0] / (double)ds.N, 0.64, 1e-3);
    EXPECT_NEAR(per[1] / (double)ds.N, 0.16, 1e-3);
    // Normalisation: gene 0's mean of log1p over the train split, recomputed here.
    double s = 0;
    for (int64_t n = 0; n < ds.N; ++n)
        if (ds.split[n] == data::SPLIT_TRAIN)
            for (int64_t k = ds.counts.indptr[n]; k < ds.counts.indptr[n + 1]; ++k)
                if (ds.counts.indices[k] == 0) s += std::log1p(ds.counts.data[k]);
    EXPECT_NEAR(ds.norm_mean[0], s / per[0], 1e-5);
    // Plate counts: cells per treatment per split.
    double total = 0;
    for (int64_t t = 0; t < ds.T; ++t) total += ds.plate_count[data::SPLIT_TRAIN * ds.T + t];
    int64_t perturbed_train = 0;
    for (int64_t n = 0; n < ds.N; ++n) perturbed_train += ds.split[n] == 0 && !ds.treatments[n].empty();
    EXPECT_EQ(total, (double)perturbed_train);
    // QC fails exist and stay a minority (MAD thresholds flag the tails).
    int64_t fails = 0;
    for (uint8_t q : ds.qc) fails += q;
    EXPECT_GT(fails, 0);
    EXPECT_LT(fails, ds.N / 4);
}

TEST(Preprocess, CounterfactualsComeFromTheOppositeQcGroup) {
    const data::Dataset& ds = demo();
    // Each gene value of a counterfactual profile is the lower median of draws from the same label, same split,
    // opposite QC status: it must lie within that group's range for the gene.
    int checked = 0;
    for (int64_t n = 0; n < ds.N && checked < 20; ++n) {
        if (!ds.has_cf[n]) continue;
        for (int64_t k = ds.cf_counts.indptr[n]; k < ds.cf_counts.indptr[n + 1]; ++k) {
            int g = ds.cf_counts.indices[k];
            float v = ds.cf_counts.data[k], hi = 0;
            for (int64_t m = 0; m < ds.N; ++m) {
                if (ds.labels[m] != ds.labels[n] || ds.split[m] != ds.split[n] || ds.qc[m] == ds.qc[n]) continue;
                for (int64_t q = ds.counts.indptr[m]; q < ds.counts.indptr[m + 1]; ++q)
                    if (ds.counts.indices[q] == g) hi = std::max(hi, ds.counts.data[q]);
            }
            EXPECT_LE(v, hi) << "cell " << n << " gene " << g;
        }
        ++checked;
    }
    EXPECT_EQ(checked, 20);
}

TEST(Preprocess, CounterfactualProfileIsTheLowerMedianOfTheDrawnCells) {
    // 9 rows x 5 genes with zeros; the expected value is computed densely here: sort the drawn rows' values of each
    // gene (zeros included) and take the ((k-1)/2)-th, torch.median's lower median. A max or a mean fails this.
    data::Csr X;
    X.rows = 9;
    X.cols = 5;
    std::vector<std::vector<float>> dense(9, std::vector<float>(5, 0.f));
    uint64_t state = 7;
    for (int r = 0; r < 9; ++r) {
        for (int g = 0; g < 5; ++g) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            int v = (int)((state >> 33) % 7) - 2;  // about 3 in 7 entries zero
            if (v > 0) {
                dense[r][g] = (float)v;
                X.indices.push_back(g);
                X.data.push_back((float)v);
            }
        }
        X.indptr.push_back((int64_t)X.data.size());
    }
    std::vector<std::vector<float>> scratch;
    for (const std::vector<int64_t>& drawn : std::vector<std::vector<int64_t>>{
             {0, 3, 3, 7, 8}, {1, 2, 4, 6}, {5}, {2, 2, 2, 0, 1, 8, 8, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8}}) {
        std::vector<float> want(5, 0.f);
        for (int g = 0; g < 5; ++g) {
            std::vector<float> col;
            for (int64_t r : drawn) col.push_back(dense[r][g]);
            std::sort(col.begin(), col.end());
            want[g] = col[(col.size() - 1) / 2];
        }
        std::vector<float> got(5, 0.f);
        int last = -1;
        for (const auto& [g, v] : data::lower_median_profile(X, drawn, scratch)) {
            EXPECT_GT(g, last);  // genes ascending, each once
            EXPECT_NE(v, 0.f);   // only non-zero medians are listed
            got[g] = v, last = g;
        }
        EXPECT_EQ(got, want) << "drawn rows starting " << drawn[0] << " (" << drawn.size() << " rows)";
    }
}

TEST(Preprocess, OnlyNonZeroProfilesCountAsCounterfactuals) {
    // The reference uses the cells with cfX.sum(1) != 0; a cell whose median profile is all zeros has none.
    const data::Dataset& ds = demo();
    int64_t with = 0;
    for (int64_t n = 0; n < ds.N; ++n) {
        const bool nonempty = ds.cf_counts.indptr[n + 1] > ds.cf_counts.indptr[n];
        EXPECT_EQ((bool)ds.has_cf[n], nonempty) << "cell " << n;
        with += ds.has_cf[n];
    }
    EXPECT_GT(with, ds.N / 2);
}

TEST(Preprocess, DeterministicAndSeeded) {
    data::Dataset a = data::preprocess_dataset(demo_config());
    const data::Dataset& b = demo();
    EXPECT_EQ(a.split, b.split);
    EXPECT_EQ(a.matched_control, b.matched_control);
    EXPECT_EQ(a.cf_counts.data, b.cf_counts.data);
    data::Dataset c = data::preprocess_dataset(demo_config({"preprocess.split_seed=5"}));
    EXPECT_NE(c.split, b.split);
}

TEST(Preprocess, HeldOutPerturbationsFormTheTestSplit) {
    data::Dataset ds = data::preprocess_dataset(demo_config({"preprocess.split=heldout_perturbations",
                                                             "preprocess.heldout=[\"IRF1\",\"JAK2\"]"}));
    for (int64_t n = 0; n < ds.N; ++n) {
        bool held = ds.labels[n] == "IRF1" || ds.labels[n] == "JAK2";
        EXPECT_EQ(ds.split[n] == data::SPLIT_TEST, held) << ds.labels[n];
    }
}

TEST(Preprocess, CombinationsAreMultiHot) {
    std::string p = write_small("pp_combo.h5ad", small_counts(12, 3), small_labels());
    data::Dataset ds = data::preprocess_dataset(demo_config({"data.path=" + p, "data.perturbation_key=gene",
                                                             "data.cell_filter_column=null",
                                                             "preprocess.max_extended_genes=0",
                                                             "preprocess.split_fractions=[0.5,0.25,0.25]"}));
    EXPECT_EQ(ds.treatment_names, (std::vector<std::string>{"A", "B"}));
    EXPECT_EQ(ds.treatments[2], (std::vector<int>{0, 1}));
    EXPECT_EQ(ds.treatment_gene[0], 2);   // "A" is also a measured gene
    EXPECT_EQ(ds.treatment_gene[1], -1);  // "B" is not
}

TEST(Preprocess, BadInputGivesClearErrors) {
    auto cfg_for = [&](const std::string& path, std::vector<std::string> extra = {}) {
        extra.insert(extra.begin(), {"data.path=" + path, "data.perturbation_key=gene", "data.cell_filter_column=null",
                                     "preprocess.max_extended_genes=0", "preprocess.split_fractions=[0.5,0.25,0.25]"});
        return demo_config(extra);
    };
    auto expect_error = [&](const json& cfg, const std::vector<std::string>& needles) {
        std::string m = error_of([&] { data::preprocess_dataset(cfg); });
        ASSERT_FALSE(m.empty()) << "expected an error";
        for (const std::string& n : needles) EXPECT_NE(m.find(n), std::string::npos) << m;
    };
    expect_error(cfg_for("/nonexistent/x.h5ad"), {"/nonexistent/x.h5ad"});
    std::string ok = write_small("pp_ok.h5ad", small_counts(12, 3), small_labels());
    expect_error(cfg_for(ok, {"data.control_label=ctrl"}), {"pp_ok.h5ad", "'ctrl'", "data.control_label"});
    expect_error(cfg_for(ok, {"data.perturbation_key=guide"}), {"pp_ok.h5ad", "'guide'"});
    std::vector<float> neg = small_counts(12, 3);
    neg[4] = -1;
    expect_error(cfg_for(write_small("pp_neg.h5ad", neg, small_labels())), {"pp_neg.h5ad", "raw counts", "-1"});
    std::vector<float> frac = small_counts(12, 3);
    frac[5] = 0.5f;
    expect_error(cfg_for(write_small("pp_frac.h5ad", frac, small_labels())), {"pp_frac.h5ad", "0.5"});
    std::vector<float> nan = small_counts(12, 3);
    nan[7] = NAN;
    expect_error(cfg_for(write_small("pp_nan.h5ad", nan, small_labels())), {"pp_nan.h5ad", "raw counts", "nan"});
    expect_error(cfg_for(write_small("pp_dup.h5ad", small_counts(12, 3), small_labels(), {"G1", "G1", "A"})),
                 {"pp_dup.h5ad", "duplicated gene name 'G1'"});
    expect_error(cfg_for(ok, {"preprocess.split=heldout_perturbations", "preprocess.heldout=[\"C\"]"}),
                 {"preprocess.heldout", "'C'", "no cells"});
    expect_error(cfg_for(ok, {"preprocess.split_fractions=[1.0,0.0,0.0]"}), {"val split is empty"});
    std::vector<std::string> bad = small_labels();
    bad[0] = "A+";
    expect_error(cfg_for(write_small("pp_label.h5ad", small_counts(12, 3), bad)), {"malformed label 'A+'"});
}
