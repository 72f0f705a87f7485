// A user's own data by config keys alone (docs/data.md): the GEARS layout (exact control labels, "A+ctrl" read as
// the single knockout A), the Replogle layout (Ensembl var index with symbols in var['gene_name']), the CPA layout
// (raw counts in a layer, the user's own split column), and the QC switch. The fixtures are written by anndata
// (tests/data/make_layout_fixtures.py); the counts asserted here are the ones that script writes.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "engine/data/preprocess.h"
#include "engine/data/simulate.h"
#include "io/config.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::error_of;

namespace {

std::string fixture(const std::string& name) { return std::string(GPO_SOURCE_DIR) + "/tests/data/" + name; }

data::Dataset preprocess(const std::string& file, std::vector<std::string> sets) {
    sets.insert(sets.begin(), "data.path=" + fixture(file));
    sets.push_back("preprocess.device=cpu");
    return data::preprocess_dataset(io::config_load("", sets));
}

std::map<std::string, int> label_counts(const data::Dataset& ds) {
    std::map<std::string, int> c;
    for (const auto& l : ds.labels) c[l]++;
    return c;
}

}  // namespace

TEST(DataLayouts, GearsConditionColumnWithCtrlParts) {
    data::Dataset ds = preprocess("layout_gears.h5ad", {"data.perturbation_key=condition", "data.control_label=ctrl",
                                                       "data.control_parts=[\"ctrl\"]"});
    EXPECT_EQ(ds.N, 120);
    EXPECT_EQ(ds.n_perturbed, 3);  // GENE1, GENE2, GENE3
    const std::map<std::string, int> want = {
        {"ctrl", 40}, {"GENE1", 20}, {"GENE2", 20}, {"GENE1+GENE2", 20}, {"GENE3", 20}};
    EXPECT_EQ(label_counts(ds), want);  // "GENE1+ctrl" and "ctrl+GENE2" are single knockouts, not controls
    int singles = 0, doubles = 0, controls = 0;
    for (const auto& t : ds.treatments) (t.empty() ? controls : t.size() == 1 ? singles : doubles)++;
    EXPECT_EQ(controls, 40);
    EXPECT_EQ(singles, 60);
    EXPECT_EQ(doubles, 20);
}

TEST(DataLayouts, ControlLabelsMatchExactlyNotBySubstring) {
    // Without control_parts, "GENE1+ctrl" is not a control (it used to be: any label containing "ctrl" was one),
    // and "ctrl" becomes a perturbation part of the combination labels.
    data::Dataset ds = preprocess("layout_gears.h5ad", {"data.perturbation_key=condition", "data.control_label=ctrl"});
    EXPECT_EQ(label_counts(ds).at("ctrl"), 40);
    EXPECT_EQ(label_counts(ds).at("GENE1+ctrl"), 20);
    // Another exact control label by data.control_labels: the GENE3 cells join the controls.
    ds = preprocess("layout_gears.h5ad", {"data.perturbation_key=condition", "data.control_label=ctrl",
                                          "data.control_parts=[\"ctrl\"]", "data.control_labels=[\"GENE3+ctrl\"]"});
    EXPECT_EQ(label_counts(ds).at("ctrl"), 60);
    EXPECT_EQ(ds.n_perturbed, 2);
}

TEST(DataLayouts, ReplogleEnsemblIndexWithGeneNameColumn) {
    const std::vector<std::string> base = {"data.perturbation_key=gene"};
    // Without the symbol column no target is a measured gene (the engine warns); with it all three are.
    data::Dataset ids = preprocess("layout_replogle.h5ad", base);
    int mapped = 0;
    for (int64_t t = 0; t < ids.n_perturbed; ++t) mapped += ids.treatment_gene[t] >= 0;
    EXPECT_EQ(mapped, 0);
    std::vector<std::string> sets = base;
    sets.push_back("data.gene_name_column=gene_name");
    data::Dataset ds = preprocess("layout_replogle.h5ad", sets);
    EXPECT_EQ(ds.N, 100);
    EXPECT_EQ(ds.n_perturbed, 3);
    EXPECT_EQ(label_counts(ds).at("non-targeting"), 40);
    for (int64_t t = 0; t < ds.n_perturbed; ++t)
        EXPECT_GE(ds.treatment_gene[t], 0) << ds.treatment_names[t] << " should be a measured gene";
    EXPECT_EQ(ds.gene_names[0], "GENE1");
    EXPECT_EQ(ds.gene_names[4], "GENE5");
    EXPECT_EQ(ds.gene_names[5], "GENE5-1");       // duplicated symbol made unique as anndata does
    EXPECT_EQ(ds.gene_names[7], "ENSG00000001007");  // missing symbol: the index entry
}

TEST(DataLayouts, CpaCountsLayerAndOwnSplitColumn) {
    // X holds log-normalised values: refused, naming the fix.
    std::string m = error_of([] { preprocess("layout_cpa.h5ad", {"data.perturbation_key=perturbation",
                                                                 "data.control_label=control"}); });
    EXPECT_NE(m.find("data.counts_layer"), std::string::npos) << m;
    data::Dataset ds = preprocess("layout_cpa.h5ad", {"data.perturbation_key=perturbation", "data.control_label=control",
                                                      "data.counts_layer=counts", "data.split_column=split"});
    EXPECT_EQ(ds.N, 120);
    EXPECT_EQ(ds.n_perturbed, 2);
    int per_split[3] = {0, 0, 0};
    for (uint8_t s : ds.split) per_split[s]++;
    // The column has no validation cells: 0.16 / (0.64 + 0.16) of the 60 train cells become validation cells.
    EXPECT_EQ(per_split[data::SPLIT_TRAIN], 48);
    EXPECT_EQ(per_split[data::SPLIT_VAL], 12);
    EXPECT_EQ(per_split[data::SPLIT_TEST], 60);  // test and ood
    for (int64_t n = 0; n < 60; ++n) EXPECT_NE(ds.split[n], data::SPLIT_TEST) << n;
    for (int64_t n = 60; n < 120; ++n) EXPECT_EQ(ds.split[n], data::SPLIT_TEST) << n;
}

TEST(DataLayouts, BadSplitValueNamesColumnAndValue) {
    std::string m = error_of([] {
        preprocess("layout_cpa.h5ad", {"data.perturbation_key=perturbation", "data.control_label=control",
                                       "data.counts_layer=counts", "data.split_column=perturbation"});
    });
    EXPECT_NE(m.find("obs column 'perturbation'"), std::string::npos) << m;
    EXPECT_NE(m.find("'control'"), std::string::npos) << m;
}

TEST(DataLayouts, QcCanBeSwitchedOffAndHaemoglobinRuleSparesHbegf) {
    data::Dataset off = preprocess("layout_gears.h5ad", {"data.perturbation_key=condition", "data.control_label=ctrl",
                                                        "data.control_parts=[\"ctrl\"]", "preprocess.qc=none"});
    int fails = 0;
    for (uint8_t q : off.qc) fails += q;
    EXPECT_EQ(fails, 0);
    EXPECT_FALSE(data::qc_gene_class("HBEGF").haemoglobin);
    EXPECT_FALSE(data::qc_gene_class("HBS1L").haemoglobin);
    EXPECT_FALSE(data::qc_gene_class("HBP1").haemoglobin);
    EXPECT_TRUE(data::qc_gene_class("HBB").haemoglobin);
    EXPECT_TRUE(data::qc_gene_class("HBA2").haemoglobin);
    EXPECT_TRUE(data::qc_gene_class("MT-CO1").mito);
    EXPECT_TRUE(data::qc_gene_class("RPL13").ribo);
    EXPECT_FALSE(data::qc_gene_class("MTOR").mito);
}

TEST(DataLayouts, HeldOutLabelsMatchAsSetsOfGenes) {
    // "GENE2+GENE1" names the cells the file labels "GENE1+GENE2"; "GENE3+ctrl" the single knockout GENE3.
    data::Dataset ds = preprocess("layout_gears.h5ad",
                                  {"data.perturbation_key=condition", "data.control_label=ctrl",
                                   "data.control_parts=[\"ctrl\"]", "preprocess.split=heldout_perturbations",
                                   "preprocess.heldout=[\"GENE2+GENE1\", \"GENE3+ctrl\"]"});
    std::map<std::string, int> test_labels;
    for (int64_t n = 0; n < ds.N; ++n)
        if (ds.split[n] == data::SPLIT_TEST) test_labels[ds.labels[n]]++;
    const std::map<std::string, int> want = {{"GENE1+GENE2", 20}, {"GENE3", 20}};
    EXPECT_EQ(test_labels, want);
}

TEST(DataLayouts, NoCellLeftSaysWhy) {
    // Every label is a control part: no perturbed cell; and a filter that keeps nothing says which counts.
    std::string m = error_of([] {
        preprocess("layout_gears.h5ad", {"data.perturbation_key=condition", "data.control_label=nothing-matches"});
    });
    EXPECT_NE(m.find("no cell labelled 'nothing-matches'"), std::string::npos) << m;
    // A filter column that keeps no cell (simulated qc_fail with no failing cell): the message gives the counts.
    const std::string sim = std::string(GPO_BINARY_DIR) + "/layout_nofail.h5ad";
    data::SimulateOptions so;
    data::simulate(data::simulate_config_load("", {"cells=200", "genes=40", "perturbed_genes=4", "extended_genes=0",
                                                   "combinations=0", "combination_fraction=0", "qc.fail_fraction=0"}),
                   sim, so);
    m = error_of([&] {
        data::preprocess_dataset(io::config_load("", {"data.path=" + sim, "data.perturbation_key=perturbation",
                                                      "data.cell_filter_column=qc_fail"}));
    });
    EXPECT_NE(m.find("no cell left: of 200 cells, 200 fail the filter column 'qc_fail'"), std::string::npos) << m;
}
