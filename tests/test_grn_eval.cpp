// GRN evaluation (engine/eval/grn_eval.h, io/edges.h): the statistical evaluation on synthetic expression with a
// known shifted edge, path levels, the false omission rate on a constructed case, the Dataset adapter by hand,
// reading edge lists (TSV/CSV/gzip/complexes, bad input), precision/recall and the enrichment test, and the real
// TRRUST/STRING files restricted to the Papalexi targets (skipped when the shared data is absent).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "engine/check.h"
#include "engine/data/dataset.h"
#include "engine/eval/grn_eval.h"
#include "engine/models/factory.h"
#include "engine/rng.h"
#include "io/edges.h"
#include "tests/harness.h"

using gpo::test::error_of;

using namespace gpo;
using namespace gpo::eval;

namespace {

std::string fixture(const std::string& name) { return std::string(GPO_SOURCE_DIR) + "/tests/data/" + name; }

// P genes, n cells per group (controls and each perturbed gene), y_cj = 1 + 0.01 c for every gene; shift[i][j]
// is added to gene j in the cells perturbed at i.
GrnExpression synthetic(int64_t P, int64_t n, const std::vector<std::vector<double>>& shift) {
    GrnExpression y;
    y.P = P;
    y.measured.assign(P, 1);
    y.n_control = n;
    y.n_perturbed.assign(P, n);
    y.perturbed.assign(P, {});
    for (int64_t c = 0; c < n; ++c)
        for (int64_t j = 0; j < P; ++j) y.control.push_back(1.0 + 0.01 * (double)c);
    for (int64_t i = 0; i < P; ++i)
        for (int64_t c = 0; c < n; ++c)
            for (int64_t j = 0; j < P; ++j) y.perturbed[i].push_back(1.0 + 0.01 * (double)c + shift[i][j]);
    return y;
}

std::vector<uint8_t> adjacency(int64_t P, const std::vector<std::pair<int, int>>& edges) {
    std::vector<uint8_t> a((size_t)(P * P), 0);
    for (auto [i, j] : edges) a[i * P + j] = 1;
    return a;
}

}  // namespace

TEST(GrnEvalStat, ThresholdNetworkPerturbedBlockNoSelfLoops) {
    // T = 3, P = 2: only the 2 x 2 block counts, strictly above 0.5, never the diagonal.
    double prob[9] = {0.9, 0.7, 0.9,  //
                      0.5, 0.9, 0.9,  //
                      0.9, 0.9, 0.9};
    EXPECT_EQ(threshold_network(prob, 3, 2, 0.5), (std::vector<uint8_t>{0, 1, 0, 0}));
}

TEST(GrnEvalStat, ShiftedEdgeVersusNullEdge) {
    // 3 genes, 40 cells per group. Perturbing 0 shifts gene 1 by +5; nothing else moves.
    // Predicted: 0 -> 1 (true) and 1 -> 2 (null); 0 -> 2 is a path of length 2.
    std::vector<std::vector<double>> shift = {{0, 5, 0}, {0, 0, 0}, {0, 0, 0}};
    GrnStatResult r = grn_statistical_eval(adjacency(3, {{0, 1}, {1, 2}}), synthetic(3, 40, shift));
    ASSERT_EQ(r.edges.n_tested, 2);
    const EdgeTest &e01 = r.edges.tests[0], &e12 = r.edges.tests[1];
    EXPECT_EQ(e01.src, 0);
    EXPECT_EQ(e01.dst, 1);
    // Complete separation, n1 = n2 = 40, no ties: U = 1600, mu = 800, sigma = sqrt(1600 * 81 / 12) = sqrt(10800)
    // z = 799.5 / sqrt(10800), p = erfc(z / sqrt 2) ~ 1e-14. W1 of a shifted copy = the shift, 5.
    double z = 799.5 / std::sqrt(10800.0);
    EXPECT_NEAR(e01.p, std::erfc(z / std::sqrt(2.0)), 1e-20);  // absolute: p itself is ~1e-14
    EXPECT_LT(e01.p, 1e-10);
    EXPECT_NEAR(e01.w1, 5.0, 1e-9);  // sums of 40 exact shifts: rounding of 1 + .01 c + 5 only
    EXPECT_TRUE(e01.significant);
    // Identical samples: U1 = mu, z = -0.5 / sigma < 0 -> p clipped to 1; W1 = 0.
    EXPECT_EQ(e12.p, 1.0);
    EXPECT_NEAR(e12.w1, 0.0, 1e-12);
    EXPECT_FALSE(e12.significant);
    EXPECT_EQ(r.edges.true_positives, 1);
    EXPECT_EQ(r.edges.false_positives, 1);
    EXPECT_NEAR(r.edges.mean_wasserstein, 2.5, 1e-9);
    // Path level 2: only 0 -> 2 (gene 2 does not move when 0 is perturbed).
    ASSERT_EQ(r.paths.size(), 2u);
    EXPECT_EQ(r.paths[0].n_pairs, 1);
    EXPECT_EQ(r.paths[0].false_positives, 1);
    EXPECT_EQ(r.paths[1].n_pairs, 0);
    EXPECT_TRUE(std::isnan(r.paths[1].mean_wasserstein));
    // Non-edges: 1->0, 2->0, 2->1 (the other ordered pairs are joined by a path); none moves.
    EXPECT_EQ(r.n_candidates, 3);
    EXPECT_EQ(r.negatives.n_tested, 3);
    EXPECT_EQ(r.false_omission_rate, 0.0);
}

TEST(GrnEvalStat, FalseOmissionRateConstructed) {
    // Perturbing 2 shifts gene 0, but 2 -> 0 is not predicted: among the 3 non-edges {1->0, 2->0, 2->1}
    // exactly one is significant -> FOR = 1/3, and the negatives' mean W1 = 5/3.
    std::vector<std::vector<double>> shift = {{0, 5, 0}, {0, 0, 0}, {5, 0, 0}};
    GrnExpression y = synthetic(3, 40, shift);
    GrnStatResult r = grn_statistical_eval(adjacency(3, {{0, 1}, {1, 2}}), y);
    EXPECT_NEAR(r.false_omission_rate, 1.0 / 3.0, 1e-15);
    EXPECT_NEAR(r.negatives.mean_wasserstein, 5.0 / 3.0, 1e-9);
    // Two of the three drawn: FOR is 0 or 1/2 depending on the draw; the same seed gives the same pairs.
    GrnStatOptions opt;
    opt.omission_samples = 2;
    opt.seed = 7;
    GrnStatResult a = grn_statistical_eval(adjacency(3, {{0, 1}, {1, 2}}), y, opt);
    GrnStatResult b = grn_statistical_eval(adjacency(3, {{0, 1}, {1, 2}}), y, opt);
    ASSERT_EQ(a.negatives.n_tested, 2);
    EXPECT_NE(a.negatives.tests[0].src * 3 + a.negatives.tests[0].dst,
              a.negatives.tests[1].src * 3 + a.negatives.tests[1].dst);  // without replacement
    bool has20 = false;
    for (const auto& t : a.negatives.tests) has20 |= (t.src == 2 && t.dst == 0);
    EXPECT_EQ(a.false_omission_rate, has20 ? 0.5 : 0.0);
    for (int k = 0; k < 2; ++k) {
        EXPECT_EQ(a.negatives.tests[k].src, b.negatives.tests[k].src);
        EXPECT_EQ(a.negatives.tests[k].dst, b.negatives.tests[k].dst);
    }
    // Over many seeds every non-edge pair gets drawn (the draw is not stuck on one subset).
    std::set<int64_t> seen;
    for (uint64_t s = 0; s < 40; ++s) {
        opt.seed = s;
        for (const auto& t : grn_statistical_eval(adjacency(3, {{0, 1}, {1, 2}}), y, opt).negatives.tests)
            seen.insert(t.src * 3 + t.dst);
    }
    EXPECT_EQ(seen, (std::set<int64_t>{1 * 3 + 0, 2 * 3 + 0, 2 * 3 + 1}));
}

TEST(GrnEvalStat, PathLevelsUntestablePairsAndBadInput) {
    // Chain 0 -> 1 -> 2 -> 3 (+ a diagonal entry, ignored): length 2: 0->2, 1->3; length 3: 0->3.
    std::vector<std::vector<double>> shift(4, std::vector<double>(4, 0.0));
    GrnExpression y = synthetic(4, 10, shift);
    y.measured[3] = 0;        // gene 3 is not measured: pairs into 3 cannot be tested
    y.n_perturbed[2] = 0;     // no cell perturbed at 2
    y.perturbed[2].clear();
    auto adj = adjacency(4, {{0, 1}, {1, 2}, {2, 3}, {1, 1}});
    GrnStatResult r = grn_statistical_eval(adj, y);
    EXPECT_EQ(r.edges.n_pairs, 3);
    EXPECT_EQ(r.edges.n_tested, 2);  // 2 -> 3 has neither cells nor a measured target
    EXPECT_EQ(r.paths[0].n_pairs, 2);
    EXPECT_EQ(r.paths[0].n_tested, 1);  // 1 -> 3 untestable
    EXPECT_EQ(r.paths[1].n_pairs, 1);
    EXPECT_EQ(r.paths[1].n_tested, 0);
    // pairs i != j with no path: 1->0, 2->0, 2->1, 3->0, 3->1, 3->2; testable needs cells at i (not 2) and a
    // measured j (not 3): 1->0, 3->0, 3->1, 3->2
    EXPECT_EQ(r.n_candidates, 4);
    EXPECT_THROW(grn_statistical_eval(std::vector<uint8_t>(5, 0), y), Error);
}

TEST(GrnEvalStat, DatasetAdapterByHand) {
    // 5 cells x 3 genes; treatments: 0 (gene column 0, measured) and 1 (not measured).
    // cells: c0 control, c1 control, c2 at 0, c3 at 1, c4 at {0,1} (a combination, not used); all in the test split
    // except c1 (train). Libraries 10, 20, 10, 30, 10.
    data::Dataset ds;
    ds.N = 5, ds.G = 3, ds.T = 2, ds.n_perturbed = 2;
    ds.treatment_gene = {0, -1};
    ds.gene_treatment = {0, -1, -1};
    ds.counts.rows = 5, ds.counts.cols = 3;
    // gene-0 counts 2, 4, 0, 3, 1; the rest of each library in gene 1
    ds.counts.indptr = {0, 2, 4, 5, 7, 9};
    ds.counts.indices = {0, 1, 0, 1, 1, 0, 1, 0, 1};
    ds.counts.data = {2, 8, 4, 16, 10, 3, 27, 1, 9};
    ds.library = {10, 20, 10, 30, 10};
    ds.treatments = {{}, {}, {0}, {1}, {0, 1}};
    ds.split = {2, 0, 2, 2, 2};
    // All cells: median library of [10,20,10,30,10] = 10; y = log1p(count * 10 / lib) for gene 0:
    // c0 log1p(2), c1 log1p(2), c2 0, c3 log1p(1); gene 1 (treatment 1) is not measured -> 0.
    GrnExpression y = grn_expression_from_dataset(ds, -1);
    EXPECT_EQ(y.measured, (std::vector<uint8_t>{1, 0}));
    ASSERT_EQ(y.n_control, 2);
    EXPECT_NEAR(y.control[0], std::log1p(2.0), 1e-15);
    EXPECT_NEAR(y.control[2], std::log1p(2.0), 1e-15);
    EXPECT_EQ(y.control[1], 0.0);
    EXPECT_EQ(y.n_perturbed, (std::vector<int64_t>{1, 1}));
    EXPECT_EQ(y.perturbed[0][0], 0.0);
    EXPECT_NEAR(y.perturbed[1][0], std::log1p(1.0), 1e-15);
    // Test split only: cells c0, c2, c3, c4, median library 10 still; one control.
    GrnExpression t = grn_expression_from_dataset(ds, data::SPLIT_TEST);
    EXPECT_EQ(t.n_control, 1);
    EXPECT_NEAR(t.control[0], std::log1p(2.0), 1e-15);
}

// ------------------------------------------------------------------------------------------- edge list reading
TEST(GrnEvalEdges, ReadsTsvCsvGzipAndComplexes) {
    // TRRUST-like: no header, TF and target in columns 0, 1; the duplicate A->B row and the self-loop are dropped.
    io::EdgeListSpec tsv;
    io::EdgeList d = io::read_edge_list(fixture("edges_small.tsv"), tsv);
    using E = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(d.edges, (E{{"A", "B"}, {"B", "C"}, {"C", "D"}, {"D", "A"}, {"X", "A"}}));
    EXPECT_EQ(d.rows, 7);
    // CSV with header and named columns, undirected: B,A repeats A,B.
    io::EdgeListSpec csv;
    csv.header = true;
    csv.source_col = "from_gene";
    csv.target_col = "to_gene";
    csv.directed = false;
    io::EdgeList u = io::read_edge_list(fixture("edges_small.csv"), csv);
    EXPECT_EQ(u.edges, (E{{"A", "B"}, {"C", "B"}, {"C", "D"}, {"A", "D"}, {"E", "Y"}}));
    // gzip, header, columns by index; C,B repeats B,C when undirected.
    io::EdgeListSpec gz;
    gz.header = true;
    gz.directed = false;
    io::EdgeList g = io::read_edge_list(fixture("edges_small.tsv.gz"), gz);
    EXPECT_EQ(g.edges, (E{{"A", "B"}, {"B", "C"}, {"C", "D"}, {"D", "A"}}));
    // Complexes: Human rows only; {A,B,C} -> AB, AC, BC; {C,D} -> CD; {B,A} repeats AB.
    io::EdgeList c = io::read_complex_edges(fixture("edges_complexes.tsv"), "subunits(Gene name)", ';', "Organism",
                                            "Human");
    EXPECT_FALSE(c.directed);
    EXPECT_EQ(c.edges, (E{{"A", "B"}, {"A", "C"}, {"B", "C"}, {"C", "D"}}));
    EXPECT_EQ(c.rows, 3);
}

TEST(GrnEvalEdges, BadInputNamesFileAndLine) {
    std::string missing = fixture("no_such_edges.tsv");
    std::string msg = error_of([&] { io::read_edge_list(missing, {}); });
    EXPECT_NE(msg.find(missing), std::string::npos) << msg;
    EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;

    io::EdgeListSpec spec;
    spec.header = true;
    spec.source_col = "regulator";
    msg = error_of([&] { io::read_edge_list(fixture("edges_small.csv"), spec); });
    EXPECT_NE(msg.find("edges_small.csv"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'regulator'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("from_gene"), std::string::npos) << msg;  // lists the columns there are

    msg = error_of([&] { io::read_edge_list(fixture("edges_bad.tsv"), {}); });
    EXPECT_NE(msg.find("edges_bad.tsv: line 3"), std::string::npos) << msg;

    io::EdgeListSpec noheader;
    noheader.source_col = "gene1";
    msg = error_of([&] { io::read_edge_list(fixture("edges_small.tsv"), noheader); });
    EXPECT_NE(msg.find("need a header"), std::string::npos) << msg;
}

// ------------------------------------------------------------------------------------------ biological evaluation
TEST(GrnEvalBio, PrecisionRecallOnFixture) {
    std::vector<std::string> genes = {"A", "B", "C", "D", "E"};
    io::EdgeList d = io::read_edge_list(fixture("edges_small.tsv"), {});
    // restricted directed reference: A->B, B->C, C->D, D->A (X->A leaves the gene set)
    EXPECT_EQ(restrict_reference(d, genes),
              (std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {1, 2}, {2, 3}, {3, 0}}));
    // predicted A->B (hit), C->B (reverse of B->C: a miss when directed), C->D (hit), E->E (self-loop, ignored)
    std::vector<std::pair<int64_t, int64_t>> pred = {{0, 1}, {2, 1}, {2, 3}, {4, 4}};
    BioEvalResult r = bio_eval(pred, genes, d, 50, 1);
    EXPECT_EQ(r.n_predicted, 3);
    EXPECT_EQ(r.n_reference, 4);
    EXPECT_EQ(r.hits, 2);
    EXPECT_NEAR(r.precision, 2.0 / 3.0, 1e-15);
    EXPECT_NEAR(r.recall, 0.5, 1e-15);
    // Undirected: {B,C} now matches; reference {AB, BC, CD, AD} -> precision 3/3, recall 3/4.
    d.directed = false;
    r = bio_eval(pred, genes, d, 50, 1);
    EXPECT_EQ(r.hits, 3);
    EXPECT_NEAR(r.precision, 1.0, 1e-15);
    EXPECT_NEAR(r.recall, 0.75, 1e-15);
    // Nothing predicted: precision undefined, recall 0, p = 1.
    r = bio_eval({}, genes, d, 50, 1);
    EXPECT_TRUE(std::isnan(r.precision));
    EXPECT_EQ(r.recall, 0.0);
    EXPECT_EQ(r.enrichment_p, 1.0);
    EXPECT_THROW(bio_eval({{0, 9}}, genes, d, 10, 1), Error);
}

TEST(GrnEvalBio, EnrichmentSmallForReferenceUniformForRandom) {
    // 30 genes, a random directed reference of 300 of the 870 ordered pairs.
    const int64_t P = 30;
    std::vector<std::string> genes;
    for (int64_t i = 0; i < P; ++i) genes.push_back("G" + std::to_string(i));
    HostRng rng(123, 0);
    io::EdgeList ref;
    std::set<std::pair<int64_t, int64_t>> ref_set;
    while (ref_set.size() < 300) {
        int64_t i = (int64_t)rng.below(P), j = (int64_t)rng.below(P);
        if (i != j && ref_set.insert({i, j}).second) ref.edges.push_back({genes[i], genes[j]});
    }
    // A network equal to the reference: 300 hits where random sets expect 300 * 300 / 870 ~ 103, so no random set
    // reaches it and p = (1 + 0) / (1 + 200), the smallest possible value.
    std::vector<std::pair<int64_t, int64_t>> same(ref_set.begin(), ref_set.end());
    BioEvalResult r = bio_eval(same, genes, ref, 200, 5);
    EXPECT_EQ(r.hits, 300);
    EXPECT_NEAR(r.enrichment_p, 1.0 / 201.0, 1e-15);
    EXPECT_NEAR(r.expected_hits, 300.0 * 300.0 / 870.0, 5.0);  // hypergeometric mean 103.4, sd ~6.7 / sqrt(200)
    // Random networks of 60 edges: p-values roughly uniform (hits ~ hypergeometric, mean 20.7, sd ~3.3, so ties
    // make p slightly conservative). 200 networks: the fraction below 0.05 has sd ~0.015 under uniformity.
    int n_low = 0, n_half = 0;
    double sum_p = 0;
    const int n_nets = 200;
    for (int k = 0; k < n_nets; ++k) {
        std::set<std::pair<int64_t, int64_t>> s;
        while (s.size() < 60) {
            int64_t i = (int64_t)rng.below(P), j = (int64_t)rng.below(P);
            if (i != j) s.insert({i, j});
        }
        BioEvalResult q = bio_eval({s.begin(), s.end()}, genes, ref, 199, 1000 + k);
        n_low += q.enrichment_p <= 0.05;
        n_half += q.enrichment_p <= 0.5;
        sum_p += q.enrichment_p;
    }
    EXPECT_LE(n_low, 0.1 * n_nets);          // valid test: P(p <= .05) <= .05 (+ 3 sd)
    EXPECT_GE(n_half, 0.3 * n_nets);         // not stuck at 1
    EXPECT_LE(n_half, 0.6 * n_nets);
    EXPECT_GT(sum_p / n_nets, 0.4);          // mean of a uniform is .5; ties push it up a little
    EXPECT_LT(sum_p / n_nets, 0.65);
}

// --------------------------------------------------------------------------------- the shared reference networks
TEST(GrnEvalReal, PapalexiTargetsInTrrustAndString) {
    // The shared data folder sits beside the repository checkout (../shared); no absolute path.
    const std::string dir = std::string(GPO_SOURCE_DIR) + "/../shared/data/grn/";
    const std::string trrust = dir + "trrust_v2_human.tsv";
    const std::string string_db = dir + "string_v12_human_no_textmining_700_top3.tsv.gz";
    if (!std::filesystem::exists(trrust) || !std::filesystem::exists(string_db))
        GTEST_SKIP() << "reference networks not found under " << dir << " (shared data absent)";
    // The 25 Papalexi targets with cells (shared/data/README.md).
    std::vector<std::string> targets = {"IFNGR1", "IFNGR2", "CD86",   "ATF2",  "IRF1",     "JAK2",   "MARCH8",
                                        "TNFRSF14", "CAV1", "ETV7",   "CMTM6", "NFKBIA",   "STAT2",  "STAT5A",
                                        "SMAD4",  "POU2F2", "PDCD1LG2", "IRF7", "UBE2L6",  "STAT3",  "STAT1",
                                        "BRD4",   "CUL3",   "MYC",    "SPI1"};
    ASSERT_EQ(targets.size(), 25u);
    auto idx = [&](const std::string& g) {
        return (int64_t)(std::find(targets.begin(), targets.end(), g) - targets.begin());
    };

    io::EdgeList t = io::read_edge_list(trrust, {});  // no header, TF -> target, directed
    EXPECT_EQ(t.rows, 9396);
    auto tr = restrict_reference(t, targets);
    EXPECT_EQ(tr.size(), 15u);  // README: 15 directed edges
    std::set<std::pair<int64_t, int64_t>> trs(tr.begin(), tr.end());
    EXPECT_TRUE(trs.count({idx("STAT1"), idx("IRF1")}));
    EXPECT_TRUE(trs.count({idx("POU2F2"), idx("SPI1")}));
    EXPECT_TRUE(trs.count({idx("SMAD4"), idx("MYC")}));
    EXPECT_FALSE(trs.count({idx("IRF1"), idx("STAT1")}));  // direction matters

    io::EdgeListSpec s;
    s.header = true;
    s.source_col = "gene1";
    s.target_col = "gene2";
    s.directed = false;
    io::EdgeList st = io::read_edge_list(string_db, s);
    auto sr = restrict_reference(st, targets);
    EXPECT_EQ(sr.size(), 20u);  // README: 20 undirected edges
    std::set<std::pair<int64_t, int64_t>> srs(sr.begin(), sr.end());
    auto und = [&](const std::string& a, const std::string& b) {
        int64_t i = idx(a), j = idx(b);
        return std::make_pair(std::min(i, j), std::max(i, j));
    };
    EXPECT_TRUE(srs.count(und("IFNGR1", "IFNGR2")));
    EXPECT_TRUE(srs.count(und("JAK2", "STAT1")));
    EXPECT_TRUE(srs.count(und("MYC", "BRD4")));

    // The TRRUST network scored against itself and against STRING (shared edges such as STAT1-IRF1).
    BioEvalResult self = bio_eval(tr, targets, t, 200, 0);
    EXPECT_EQ(self.hits, 15);
    EXPECT_EQ(self.precision, 1.0);
    EXPECT_EQ(self.recall, 1.0);
    EXPECT_LT(self.enrichment_p, 0.01);
}

TEST(GrnEvalEdges, TruncatedGzipIsAnErrorAtEveryCutPoint) {
    // A gzip file cut anywhere inside its compressed stream or trailer must fail, never return fewer edges.
    std::string text;
    for (int i = 0; i < 3000; ++i) text += "G" + std::to_string(i) + "\tG" + std::to_string(i + 1) + "\n";
    const std::string whole = (std::filesystem::path(GPO_BINARY_DIR) / "edges_whole.tsv.gz").string();
    {
        gzFile g = gzopen(whole.c_str(), "wb");
        ASSERT_NE(g, nullptr);
        ASSERT_EQ(gzwrite(g, text.data(), (unsigned)text.size()), (int)text.size());
        ASSERT_EQ(gzclose(g), Z_OK);
    }
    EXPECT_EQ(io::read_edge_list(whole, {}).edges.size(), 3000u);
    const std::string bytes = gpo::test::file_bytes(whole);
    const std::string cut = (std::filesystem::path(GPO_BINARY_DIR) / "edges_cut.tsv.gz").string();
    for (double frac : {0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.99}) {
        size_t n = (size_t)(frac * (double)bytes.size());
        std::ofstream(cut, std::ios::binary).write(bytes.data(), (std::streamsize)n);
        std::string msg = error_of([&] { io::read_edge_list(cut, {}); });
        EXPECT_NE(msg.find("truncated or corrupt"), std::string::npos) << "cut at " << n << ": " << msg;
    }
    // Without its 8-byte trailer (CRC and length) the data is complete but unverified: also an error.
    std::ofstream(cut, std::ios::binary).write(bytes.data(), (std::streamsize)(bytes.size() - 8));
    EXPECT_NE(error_of([&] { io::read_edge_list(cut, {}); }).find("truncated"), std::string::npos);
}

TEST(GrnEval, RankingScoresEqualSklearnOnAHandCase) {
    // labels/scores with ties across classes (0.8: one positive, one negative; 0.5: two negatives); sklearn 1.x:
    // roc_auc_score = 0.6333333333333333, average_precision_score = 0.6805555555555556.
    std::vector<int> y = {1, 0, 1, 0, 0, 1, 0, 0};
    std::vector<double> s = {0.9, 0.8, 0.8, 0.3, 0.5, 0.1, 0.5, 0.2};
    eval::RankingScores r = eval::ranking_scores(s, y);
    EXPECT_EQ(r.positives, 3);
    EXPECT_NEAR(r.auroc, 0.6333333333333333, 1e-12);
    EXPECT_NEAR(r.auprc, 0.6805555555555556, 1e-12);
    EXPECT_TRUE(std::isnan(eval::ranking_scores({0.1, 0.2}, {0, 0}).auroc));  // no positive pair
}

TEST(GrnEval, EdgeRankingOverThePerturbedBlockDirectedAndUndirected) {
    // T = 3 (2 perturbed + 1 extended): ordered pairs of the block are A->B and B->A only.
    std::vector<double> prob = {0.5, 0.9, 0.7,   // A -> (A, B, E)
                                0.2, 0.5, 0.7,   // B -> ...
                                0.7, 0.7, 0.5};  // E -> ...
    io::EdgeList directed;
    directed.directed = true;
    directed.edges = {{"A", "B"}};
    eval::RankingScores d = eval::edge_ranking(prob, 3, 2, {"A", "B"}, directed);
    EXPECT_EQ(d.pairs, 2);
    EXPECT_EQ(d.positives, 1);
    EXPECT_EQ(d.auroc, 1.0);  // A->B (0.9) above B->A (0.2)
    directed.edges = {{"B", "A"}};
    EXPECT_EQ(eval::edge_ranking(prob, 3, 2, {"A", "B"}, directed).auroc, 0.0);
    io::EdgeList undirected = directed;
    undirected.directed = false;  // {A, B}: both ordered pairs positive, no negative
    EXPECT_EQ(eval::edge_ranking(prob, 3, 2, {"A", "B"}, undirected).positives, 2);
    EXPECT_TRUE(std::isnan(eval::edge_ranking(prob, 3, 2, {"A", "B"}, undirected).auroc));
}

// model.grn_prior: a reference network's edges between two treatments as flat indices t * T + j; genes off the
// treatment axis and self-loops are dropped, an undirected file gives both orientations.
TEST(GrnEvalEdges, GrnPriorEdgesOnTheTreatmentAxis) {
    data::Dataset ds;
    ds.T = 3;
    ds.treatment_names = {"A", "B", "D"};
    // edges_small.tsv: A->B, B->C, A->B, C->D, D->A, X->A, A->A.
    EXPECT_EQ(models::grn_prior_edges(fixture("edges_small.tsv"), ds), (std::vector<int64_t>{0 * 3 + 1, 2 * 3 + 0}));
    EXPECT_EQ(models::grn_prior_edges(fixture("edges_small.tsv") + ",undirected", ds),
              (std::vector<int64_t>{0 * 3 + 1, 0 * 3 + 2, 1 * 3 + 0, 2 * 3 + 0}));
    ds.treatment_names = {"P", "Q", "R"};
    try {
        models::grn_prior_edges(fixture("edges_small.tsv"), ds);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("model.grn_prior"), std::string::npos) << e.what();
    }
    EXPECT_THROW(models::grn_prior_edges(fixture("edges_small.tsv") + ",sideways", ds), Error);
}
