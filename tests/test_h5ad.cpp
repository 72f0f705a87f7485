// .h5ad reading and writing (io/h5ad.h): fixtures written by the real anndata package (tests/data/make_fixtures.py,
// whose values are hard-coded here), the real Papalexi 2021 dataset when present, malformed inputs (each error must
// name the file and the field), and write -> read round trips, also checked by anndata (tests/python/).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/check.h"
#include "io/h5ad.h"
#include "io/h5ad_probe.h"
#include "tests/harness.h"

namespace fs = std::filesystem;
using gpo::io::AnnData;
using gpo::io::AnnDataOut;
using gpo::io::Column;
using gpo::io::CsrMatrix;
using gpo::io::H5adReadOptions;
using Kind = gpo::io::Column::Kind;

namespace {

std::string fixture(const std::string& name) { return std::string(GPO_SOURCE_DIR) + "/tests/data/" + name; }

// A per-test scratch path under the build dir (tests may run in parallel processes).
std::string scratch(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    fs::path dir = fs::path(GPO_BINARY_DIR) / "h5ad_test_tmp";
    fs::create_directories(dir);
    return (dir / (std::string(info->name()) + "_" + std::to_string(getpid()) + "_" + name)).string();
}

// The error message of f(), or "" when it does not throw gpo::Error.
template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const gpo::Error& e) {
        return e.what();
    }
    return "";
}

#define EXPECT_HAS(msg, part) EXPECT_NE(std::string(msg).find(part), std::string::npos) << "message: " << (msg)

// COUNTS from make_fixtures.py, as CSR: [[1,0,2],[0,0,3],[4,5,0],[0,6,7]].
const std::vector<int64_t> kIndptr = {0, 2, 3, 5, 7};
const std::vector<int32_t> kIndices = {0, 2, 2, 0, 1, 1, 2};
const std::vector<float> kCounts = {1, 2, 3, 4, 5, 6, 7};

void expect_csr(const CsrMatrix& m, int64_t rows, int64_t cols, const std::vector<int64_t>& indptr,
                const std::vector<int32_t>& indices, const std::vector<float>& data) {
    EXPECT_EQ(m.rows, rows);
    EXPECT_EQ(m.cols, cols);
    EXPECT_EQ(m.indptr, indptr);
    EXPECT_EQ(m.indices, indices);
    EXPECT_EQ(m.data, data);  // exact: every value is a small integer or a multiple of 0.25
}

std::vector<float> scaled(std::vector<float> v, float s, float add) {
    for (float& x : v) x = x * s + add;
    return v;
}

// The obs frame of make_fixtures.py::obs_frame (dense_f32, csr_int32, fixed_strings).
void expect_fixture_obs(const gpo::io::DataFrame& obs) {
    EXPECT_EQ(obs.index_name, "cell_id");
    EXPECT_EQ(obs.index, (std::vector<std::string>{"cell_a", "cell_b", "cell_c", "cell_d"}));
    EXPECT_EQ(obs.order, (std::vector<std::string>{"perturbation", "guide", "score", "n_counts", "pass"}));
    const Column& p = obs.at("perturbation");
    EXPECT_EQ(p.kind, Kind::Categorical);
    EXPECT_EQ(p.categories, (std::vector<std::string>{"STAT1", "non-targeting"}));
    EXPECT_EQ(p.codes, (std::vector<int32_t>{1, 0, -1, 0}));
    EXPECT_FALSE(p.ordered);
    EXPECT_EQ(p.label(0), "non-targeting");
    EXPECT_TRUE(p.missing(2));
    EXPECT_EQ(p.label(2), "");
    const Column& g = obs.at("guide");
    EXPECT_EQ(g.kind, Kind::String);
    EXPECT_EQ(g.strings, (std::vector<std::string>{"NTg1", "STAT1g2", "none", "STAT1g1"}));
    const Column& s = obs.at("score");
    EXPECT_EQ(s.kind, Kind::Numeric);
    EXPECT_FALSE(s.integer);
    EXPECT_EQ(s.numbers, (std::vector<double>{0.5, -1.25, 3.0, 1e-3}));  // float64 in the file: exact
    const Column& n = obs.at("n_counts");
    EXPECT_EQ(n.kind, Kind::Numeric);
    EXPECT_TRUE(n.integer);
    EXPECT_EQ(n.numbers, (std::vector<double>{3, 3, 9, 13}));
    EXPECT_EQ(n.label(3), "13");
    const Column& b = obs.at("pass");
    EXPECT_EQ(b.kind, Kind::Bool);
    EXPECT_EQ(b.bools, (std::vector<uint8_t>{1, 0, 1, 1}));
    EXPECT_EQ(b.label(1), "False");
}

void expect_fixture_var(const gpo::io::DataFrame& var) {
    EXPECT_EQ(var.index_name, "_index");
    EXPECT_EQ(var.index, (std::vector<std::string>{"g1", "g2", "g3"}));
    EXPECT_EQ(var.at("gene_symbol").strings, (std::vector<std::string>{"IRF1", "JAK2", "STAT1"}));
    EXPECT_EQ(var.at("mean").numbers, (std::vector<double>{1.25, 2.75, 3.0}));  // float32 in the file, exact
}

}  // namespace

// ---------------------------------------------------------------------------- anndata-written fixtures

TEST(H5adFixture, DenseFloat32XBecomesCsr) {
    AnnData a = gpo::io::h5ad_read(fixture("dense_f32.h5ad"));
    EXPECT_EQ(a.matrix, "X");
    expect_csr(a.X, 4, 3, kIndptr, kIndices, scaled(kCounts, 0.5f, 0.0f));  // X = 0.5 * COUNTS
    expect_fixture_obs(a.obs);
    expect_fixture_var(a.var);
}

TEST(H5adFixture, UnsValues) {
    AnnData a = gpo::io::h5ad_read(fixture("dense_f32.h5ad"));
    EXPECT_EQ(a.uns_strings.at("control_label"), "non-targeting");
    EXPECT_EQ(a.uns_strings.at("meta/source"), "fixture");  // nested dict
    EXPECT_EQ(a.uns_numbers.at("seed"), 42.0);
    EXPECT_EQ(a.uns_numbers.at("lr"), 0.5);
    EXPECT_EQ(a.uns_string_arrays.at("grna_names"), (std::vector<std::string>{"NTg1", "STAT1g1", "STAT1g2"}));
    EXPECT_EQ(a.uns_strings.size(), 2u);
    EXPECT_EQ(a.uns_numbers.size(), 2u);
}

TEST(H5adFixture, CountsLayerCsrInt32) {
    H5adReadOptions opt;
    opt.layer = "counts";
    AnnData a = gpo::io::h5ad_read(fixture("dense_f32.h5ad"), opt);
    EXPECT_EQ(a.matrix, "layers/counts");
    expect_csr(a.X, 4, 3, kIndptr, kIndices, kCounts);
}

TEST(H5adFixture, CscFloat64LayerConvertedToCsr) {
    H5adReadOptions opt;
    opt.layer = "csc";
    AnnData a = gpo::io::h5ad_read(fixture("dense_f32.h5ad"), opt);
    expect_csr(a.X, 4, 3, kIndptr, kIndices, scaled(kCounts, 1.0f, 0.25f));  // COUNTS + 0.25 where nonzero
}

TEST(H5adFixture, CsrInt32X) {
    AnnData a = gpo::io::h5ad_read(fixture("csr_int32.h5ad"));
    expect_csr(a.X, 4, 3, kIndptr, kIndices, kCounts);
    expect_fixture_obs(a.obs);
    expect_fixture_var(a.var);
    EXPECT_TRUE(a.uns_strings.empty());
}

TEST(H5adFixture, DenseInt64XAndNullableColumns) {
    AnnData a = gpo::io::h5ad_read(fixture("dense_int64_nullable.h5ad"));
    expect_csr(a.X, 4, 3, kIndptr, kIndices, kCounts);
    EXPECT_EQ(a.obs.order, (std::vector<std::string>{"umis", "ok", "dose"}));
    const Column& u = a.obs.at("umis");  // pandas Int64 [7, NA, 9, 10]
    EXPECT_EQ(u.kind, Kind::Numeric);
    EXPECT_TRUE(u.integer);
    EXPECT_EQ(u.numbers[0], 7.0);
    EXPECT_TRUE(std::isnan(u.numbers[1]) && u.missing(1));
    EXPECT_EQ(u.numbers[2], 9.0);
    EXPECT_EQ(u.numbers[3], 10.0);
    const Column& ok = a.obs.at("ok");  // pandas boolean [True, False, NA, True]: Numeric 0/1/NaN
    EXPECT_EQ(ok.kind, Kind::Numeric);
    EXPECT_EQ(ok.numbers[0], 1.0);
    EXPECT_EQ(ok.numbers[1], 0.0);
    EXPECT_TRUE(std::isnan(ok.numbers[2]));
    EXPECT_EQ(ok.numbers[3], 1.0);
    const Column& d = a.obs.at("dose");
    EXPECT_EQ(d.kind, Kind::Categorical);
    EXPECT_TRUE(d.ordered);
    EXPECT_EQ(d.categories, (std::vector<std::string>{"low", "mid", "high"}));
    EXPECT_EQ(d.codes, (std::vector<int32_t>{0, 2, 0, 1}));
    EXPECT_TRUE(a.var.order.empty());  // anndata wrote column-order as an empty float64 array
    EXPECT_TRUE(a.var.columns.empty());
    EXPECT_EQ(a.var.index, (std::vector<std::string>{"g1", "g2", "g3"}));
}

TEST(H5adFixture, FixedLengthStringAttributesAndIndex) {
    AnnData a = gpo::io::h5ad_read(fixture("fixed_strings.h5ad"));
    expect_csr(a.X, 4, 3, kIndptr, kIndices, kCounts);
    expect_fixture_obs(a.obs);
    expect_fixture_var(a.var);
}

TEST(H5adFixture, ColumnSelectionAndNoUns) {
    H5adReadOptions opt;
    opt.obs_columns = {"pass", "perturbation"};
    opt.var_columns = {"mean"};
    opt.read_uns = false;
    AnnData a = gpo::io::h5ad_read(fixture("dense_f32.h5ad"), opt);
    EXPECT_EQ(a.obs.order, (std::vector<std::string>{"pass", "perturbation"}));
    EXPECT_EQ(a.obs.columns.size(), 2u);
    EXPECT_EQ(a.obs.at("pass").bools, (std::vector<uint8_t>{1, 0, 1, 1}));
    EXPECT_EQ(a.var.columns.size(), 1u);
    EXPECT_TRUE(a.uns_strings.empty() && a.uns_numbers.empty() && a.uns_string_arrays.empty());
    // kNoColumns: the index only
    opt.obs_columns = {gpo::io::kNoColumns};
    a = gpo::io::h5ad_read(fixture("dense_f32.h5ad"), opt);
    EXPECT_TRUE(a.obs.columns.empty() && a.obs.order.empty());
    EXPECT_EQ(a.obs.index, (std::vector<std::string>{"cell_a", "cell_b", "cell_c", "cell_d"}));
}

// ---------------------------------------------------------------------------- the real dataset

TEST(H5adRealData, Papalexi2021) {
    std::string path = std::string(GPO_SOURCE_DIR) + "/data/papalexi2021_thp1_eccite.h5ad";
    if (!fs::exists(path))
        path = std::string(GPO_SOURCE_DIR) + "/../shared/data/perturbseq/papalexi2021_thp1_eccite_sceptre_lowmoi.h5ad";
    if (!fs::exists(path)) GTEST_SKIP() << "papalexi2021 dataset not found in data/ or ../shared beside the checkout";
    AnnData a = gpo::io::h5ad_read(path);
    ASSERT_EQ(a.X.rows, 20729);
    ASSERT_EQ(a.X.cols, 299);
    EXPECT_EQ(a.X.nnz(), 1390126);
    // first row, from anndata: indices [1, 2, 16, 26, 33, ...], data [3, 3, 2, 1, 1, ...], indptr [0, 73, 144, 231]
    EXPECT_EQ(std::vector<int64_t>(a.X.indptr.begin(), a.X.indptr.begin() + 4), (std::vector<int64_t>{0, 73, 144, 231}));
    EXPECT_EQ(std::vector<int32_t>(a.X.indices.begin(), a.X.indices.begin() + 5), (std::vector<int32_t>{1, 2, 16, 26, 33}));
    EXPECT_EQ(std::vector<float>(a.X.data.begin(), a.X.data.begin() + 5), (std::vector<float>{3, 3, 2, 1, 1}));
    const Column& p = a.obs.at("perturbation");
    ASSERT_EQ(p.kind, Kind::Categorical);
    EXPECT_EQ(p.categories.size(), 26u);
    int64_t nt = 0;
    for (size_t i = 0; i < p.size(); ++i) nt += p.label(i) == "non-targeting";
    EXPECT_EQ(nt, 2386);
    const Column& pass = a.obs.at("guide_assignment_pass");
    ASSERT_EQ(pass.kind, Kind::Bool);
    int64_t npass = 0;
    for (uint8_t b : pass.bools) npass += b;
    EXPECT_EQ(npass, 19763);
    const Column& n = a.obs.at("n_counts");
    int64_t bad = 0;
    for (int64_t r = 0; r < a.X.rows; ++r) {
        double sum = 0;  // integer counts: the float sums are exact
        for (int64_t k = a.X.indptr[(size_t)r]; k < a.X.indptr[(size_t)r + 1]; ++k) sum += a.X.data[(size_t)k];
        bad += sum != n.numbers[(size_t)r];
    }
    EXPECT_EQ(bad, 0) << "rows whose sum differs from obs n_counts";
    EXPECT_EQ(a.obs.index[0], "cell_1");
    EXPECT_EQ(a.var.index[0], "PCBP3");
    EXPECT_EQ(a.uns_strings.at("control_label"), "non-targeting");
    EXPECT_EQ(a.uns_string_arrays.at("grna_names").size(), 110u);
}

// ---------------------------------------------------------------------------- bad input

TEST(H5adErrors, MissingFile) {
    std::string msg = error_of([] { gpo::io::h5ad_read("no/such/dir/x.h5ad"); });
    EXPECT_HAS(msg, "no/such/dir/x.h5ad: cannot open file");
}

TEST(H5adErrors, NotHdf5) {
    std::string path = scratch("text.h5ad");
    std::ofstream(path) << "cell,gene\n1,2\n";
    std::string msg = error_of([&] { gpo::io::h5ad_read(path); });
    EXPECT_HAS(msg, path + ": not an HDF5 file");
    fs::remove(path);
}

TEST(H5adErrors, TruncatedFile) {
    std::string path = scratch("truncated.h5ad");
    fs::copy_file(fixture("dense_f32.h5ad"), path, fs::copy_options::overwrite_existing);
    fs::resize_file(path, fs::file_size(path) / 2);
    std::string msg = error_of([&] { gpo::io::h5ad_read(path); });
    EXPECT_HAS(msg, path + ": ");
    EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("not an HDF5") != std::string::npos) << msg;
    fs::remove(path);
}

TEST(H5adErrors, MissingXListsLayers) {
    std::string msg = error_of([] { gpo::io::h5ad_read(fixture("bad.h5ad")); });
    EXPECT_HAS(msg, "bad.h5ad: X not found");
    EXPECT_HAS(msg, "available layers: bad_encoding, bad_indptr, unrepresentable");
}

TEST(H5adErrors, MissingLayer) {
    H5adReadOptions opt;
    opt.layer = "spliced";
    std::string msg = error_of([&] { gpo::io::h5ad_read(fixture("dense_f32.h5ad"), opt); });
    EXPECT_HAS(msg, "dense_f32.h5ad: layer 'spliced' not found (available layers: counts, csc)");
}

TEST(H5adErrors, MissingColumn) {
    H5adReadOptions opt;
    opt.obs_columns = {"gene"};
    std::string msg = error_of([&] { gpo::io::h5ad_read(fixture("dense_f32.h5ad"), opt); });
    EXPECT_HAS(msg, "dense_f32.h5ad: obs column 'gene' not found (available: perturbation, guide, score, n_counts, pass)");
    // DataFrame::at gives the same form after a full read
    AnnData a = gpo::io::h5ad_read(fixture("dense_f32.h5ad"));
    msg = error_of([&] { a.var.at("gene"); });
    EXPECT_HAS(msg, "dense_f32.h5ad: var column 'gene' not found (available: gene_symbol, mean)");
}

TEST(H5adErrors, IndptrLengthMismatch) {
    H5adReadOptions opt;
    opt.layer = "bad_indptr";
    std::string msg = error_of([&] { gpo::io::h5ad_read(fixture("bad.h5ad"), opt); });
    EXPECT_HAS(msg, "bad.h5ad: layers/bad_indptr/indptr: has length 4, expected rows + 1 = 5");
}

TEST(H5adErrors, UnknownEncoding) {
    H5adReadOptions opt;
    opt.layer = "bad_encoding";
    std::string msg = error_of([&] { gpo::io::h5ad_read(fixture("bad.h5ad"), opt); });
    EXPECT_HAS(msg, "bad.h5ad: layers/bad_encoding has encoding-type 'foo', expected csr_matrix, csc_matrix or a "
                    "dense 2-D dataset");
}

TEST(H5adErrors, ValueNotRepresentableAsFloat32) {
    H5adReadOptions opt;
    opt.layer = "unrepresentable";
    std::string msg = error_of([&] { gpo::io::h5ad_read(fixture("bad.h5ad"), opt); });
    EXPECT_HAS(msg, "bad.h5ad: layers/unrepresentable: value 16777217 at row 3, column 2 is not representable");
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0) << "an HDF5 id was left open after an error";
}

// ---------------------------------------------------------------------------- writing

namespace {

// The file checked by tests/python/check_written_h5ad.py "roundtrip" (keep the two in sync).
AnnDataOut roundtrip_data() {
    AnnDataOut a;
    a.rows = 3;
    a.cols = 4;
    a.X = {-1, -0.5f, 0, 0.5f, 0, 0, 0, 0, 3, 3.5f, 0, 4.5f};
    a.layers["counts"] = {1, 0, 2, 0, 0, 0, 0, 0, 5, 6, 0, 7};
    a.obs.index_name = "cell";
    a.obs.index = {"c0", "c1", "c2"};
    a.obs.add("perturbation", Column::categorical({"STAT1", "non-targeting"}, {1, -1, 0}));
    a.obs.add("guide", Column::string({"NTg1", "x", "STAT1g1"}));
    a.obs.add("n_counts", Column::numeric({3, 0, 18}, true));
    a.obs.add("umis", Column::numeric({1, NAN, 3}, true));
    a.obs.add("score", Column::numeric({0.25, -1.5, 1e-3}));
    a.obs.add("pass", Column::boolean({1, 0, 1}));
    a.obs.add("dose", Column::categorical({"low", "high"}, {0, 1, 1}, true));
    a.var.index = {"IRF1", "JAK2", "STAT1", "MYC"};
    a.var.add("gene_symbol", Column::string({"irf1", "jak2", "stat1", "myc"}));
    a.var.add("mean", Column::numeric({0.5, 1.0, 1.5, 2.0}));
    a.obsm["z"] = {3, 2, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}};
    a.varm["w"] = {4, 1, {1, 2, 3, 4}};
    a.uns_strings["control_label"] = "non-targeting";
    a.uns_strings["note"] = "\xc3\xbc\xc3\xb1\xc3\xaf";  // "üñï" in UTF-8
    a.uns_numbers["lr"] = 0.001;
    a.uns_numbers["seed"] = 7;
    a.uns_string_arrays["grna_names"] = {"NTg1", "STAT1g1"};
    return a;
}

AnnDataOut minimal_data() {
    AnnDataOut a;
    a.rows = 2;
    a.cols = 3;
    a.X.assign(6, 0.0f);
    a.obs.index = {"a", "b"};
    a.var.index = {"g1", "g2", "g3"};
    return a;
}

bool anndata_available() { return std::system("python3 -c \"import anndata\" > /dev/null 2>&1") == 0; }

// Runs the anndata checker on path (tests/python/check_written_h5ad.py <path> <which>).
void check_with_anndata(const std::string& path, const std::string& which) {
    std::string cmd = "python3 \"" + std::string(GPO_SOURCE_DIR) + "/tests/python/check_written_h5ad.py\" \"" + path +
                      "\" " + which;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "anndata rejected the file written by h5ad_write: " << cmd;
}

}  // namespace

TEST(H5adWrite, RoundTrip) {
    std::string path = scratch("roundtrip.h5ad");
    AnnDataOut out = roundtrip_data();
    gpo::io::h5ad_write(path, out);
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    AnnData a = gpo::io::h5ad_read(path);
    // dense X comes back as CSR: row 0 has (0,-1) (1,-0.5) (3,0.5), row 1 is empty, row 2 (0,3) (1,3.5) (3,4.5)
    expect_csr(a.X, 3, 4, {0, 3, 3, 6}, {0, 1, 3, 0, 1, 3}, {-1, -0.5f, 0.5f, 3, 3.5f, 4.5f});
    H5adReadOptions opt;
    opt.layer = "counts";
    expect_csr(gpo::io::h5ad_read(path, opt).X, 3, 4, {0, 2, 2, 5}, {0, 2, 0, 1, 3}, {1, 2, 5, 6, 7});
    EXPECT_EQ(a.obs.index_name, "cell");
    EXPECT_EQ(a.obs.index, out.obs.index);
    EXPECT_EQ(a.obs.order, out.obs.order);
    EXPECT_EQ(a.obs.at("perturbation").categories, (std::vector<std::string>{"STAT1", "non-targeting"}));
    EXPECT_EQ(a.obs.at("perturbation").codes, (std::vector<int32_t>{1, -1, 0}));
    EXPECT_EQ(a.obs.at("guide").strings, (std::vector<std::string>{"NTg1", "x", "STAT1g1"}));
    EXPECT_EQ(a.obs.at("n_counts").numbers, (std::vector<double>{3, 0, 18}));
    EXPECT_TRUE(a.obs.at("n_counts").integer);
    const Column& u = a.obs.at("umis");
    EXPECT_TRUE(u.integer && u.numbers[0] == 1 && std::isnan(u.numbers[1]) && u.numbers[2] == 3);
    EXPECT_EQ(a.obs.at("score").numbers, (std::vector<double>{0.25, -1.5, 1e-3}));
    EXPECT_EQ(a.obs.at("pass").kind, Kind::Bool);
    EXPECT_EQ(a.obs.at("pass").bools, (std::vector<uint8_t>{1, 0, 1}));
    EXPECT_TRUE(a.obs.at("dose").ordered);
    EXPECT_EQ(a.var.index, out.var.index);
    EXPECT_EQ(a.var.index_name, "_index");
    EXPECT_EQ(a.var.at("mean").numbers, (std::vector<double>{0.5, 1.0, 1.5, 2.0}));
    EXPECT_EQ(a.uns_strings, out.uns_strings);
    EXPECT_EQ(a.uns_numbers, out.uns_numbers);
    EXPECT_EQ(a.uns_string_arrays, out.uns_string_arrays);
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0) << "an HDF5 id was left open";
    fs::remove(path);
}

TEST(H5adWrite, ReadByAnndata) {
    // Skips without python3 + anndata, unless GPO_REQUIRE_PYTHON=1 (CI installs anndata).
    if (!anndata_available()) {
        const char* req = std::getenv("GPO_REQUIRE_PYTHON");
        if (req && std::string(req) == "1") FAIL() << "GPO_REQUIRE_PYTHON=1 but `python3 -c \"import anndata\"` failed";
        GTEST_SKIP() << "python3 with anndata not available (pip install anndata); set GPO_REQUIRE_PYTHON=1 to fail";
    }
    std::string path = scratch("anndata_roundtrip.h5ad");
    std::string path2 = scratch("anndata_minimal.h5ad");
    gpo::io::h5ad_write(path, roundtrip_data());
    gpo::io::h5ad_write(path2, minimal_data());
    check_with_anndata(path, "roundtrip");
    check_with_anndata(path2, "minimal");
    fs::remove(path);
    fs::remove(path2);
}

TEST(H5adWrite, FailedWriteLeavesNoFile) {
    std::string path = scratch("failed.h5ad");
    // caught before any file is created: X has the wrong size
    AnnDataOut bad = minimal_data();
    bad.X.pop_back();
    std::string msg = error_of([&] { gpo::io::h5ad_write(path, bad); });
    EXPECT_HAS(msg, path + ": X has 5 values, expected rows x cols = 2 x 3 = 6");
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    // fails half-way through writing, after the temporary file exists: uns key "x" is both a string and a number
    AnnDataOut bad2 = minimal_data();
    bad2.uns_strings["x"] = "y";
    bad2.uns_numbers["x"] = 1.0;
    msg = error_of([&] { gpo::io::h5ad_write(path, bad2); });
    EXPECT_HAS(msg, path + ": uns/x: cannot create the dataset");
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    // a failed write over an existing file leaves the old file intact
    gpo::io::h5ad_write(path, roundtrip_data());
    EXPECT_FALSE(error_of([&] { gpo::io::h5ad_write(path, bad2); }).empty());
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    EXPECT_EQ(gpo::io::h5ad_read(path).X.rows, 3);
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0) << "an HDF5 id was left open after a failed write";
    fs::remove(path);
}

TEST(H5adWrite, ColumnSizeMismatchNamesTheColumn) {
    AnnDataOut a = minimal_data();
    a.obs.add("dose", Column::numeric({1, 2, 3}));
    std::string path = scratch("mismatch.h5ad");
    std::string msg = error_of([&] { gpo::io::h5ad_write(path, a); });
    EXPECT_HAS(msg, path + ": obs column 'dose' has 3 values, expected 2");
    EXPECT_FALSE(fs::exists(path));
}

TEST(H5adWrite, LargeDenseReadInRowBlocks) {
    // 2,500 x 500 = 1.25M values: more than one 2^20-element read block, and chunked + gzip on write.
    AnnDataOut a;
    a.rows = 2500;
    a.cols = 500;
    auto value = [](int64_t i, int64_t j) { return (i * 7 + j * 3) % 11 == 0 ? (float)(i % 5 + 1) : 0.0f; };
    a.X.resize((size_t)(a.rows * a.cols));
    for (int64_t i = 0; i < a.rows; ++i)
        for (int64_t j = 0; j < a.cols; ++j) a.X[(size_t)(i * a.cols + j)] = value(i, j);
    for (int64_t i = 0; i < a.rows; ++i) a.obs.index.push_back("c" + std::to_string(i));
    for (int64_t j = 0; j < a.cols; ++j) a.var.index.push_back("g" + std::to_string(j));
    std::string path = scratch("large.h5ad");
    gpo::io::h5ad_write(path, a);
    AnnData b = gpo::io::h5ad_read(path);
    ASSERT_EQ(b.X.rows, a.rows);
    ASSERT_EQ(b.X.cols, a.cols);
    int64_t k = 0, bad = 0;
    for (int64_t i = 0; i < a.rows; ++i) {
        bad += b.X.indptr[(size_t)i] != k;
        for (int64_t j = 0; j < a.cols; ++j) {
            if (value(i, j) == 0.0f) continue;
            bad += k >= b.X.nnz() || b.X.indices[(size_t)k] != j || b.X.data[(size_t)k] != value(i, j);
            ++k;
        }
    }
    EXPECT_EQ(b.X.nnz(), k);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(b.obs.index[2499], "c2499");
    fs::remove(path);
}

// ---------------------------------------------------------------------------- crash isolation (io/h5ad_probe.h)

TEST(H5adProbe, LibraryCrashOnACorruptFileBecomesAnErrorNamingTheField) {
    // One flipped bit (byte 15830, bit 6) of an anndata-written fixture makes libhdf5 1.10 dereference garbage while
    // reading X's attributes. Found by tools/fuzz/fuzz.py; the position is specific to this fixture file.
    std::string bytes = gpo::test::file_bytes(fixture("csr_int32.h5ad"));
    ASSERT_GT(bytes.size(), 15830u);
    bytes[15830] ^= (char)(1 << 6);
    const std::string mutant = (fs::path(GPO_BINARY_DIR) / "probe_crash.h5ad").string();
    std::ofstream(mutant, std::ios::binary | std::ios::trunc) << bytes;

    // Unprotected, the read really crashes the process (checked in a child, so this test survives it).
    pid_t pid = fork();
    if (pid == 0) {
        try {
            gpo::io::h5ad_read_unprobed(mutant, {});
        } catch (...) {
            _exit(3);
        }
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "this libhdf5 no longer crashes on the mutant (exit " << WEXITSTATUS(status)
                                     << "); pick another crashing mutant with tools/fuzz/fuzz.py";

    // Through the probe: a clear error naming the file and the field, and this process is still alive.
    std::string m = error_of([&] { gpo::io::h5ad_read(mutant); });
    EXPECT_NE(m.find(mutant), std::string::npos) << m;
    EXPECT_NE(m.find("HDF5 crashed reading X"), std::string::npos) << m;
}

TEST(H5adProbe, HangIsStoppedAtTheTimeLimit) {
    // The probe's clock: a read that cannot finish within the limit is stopped and reported. A valid file read
    // with a limit far below its read time would be flaky, so the limit is tested on a FIFO that never delivers
    // data (HDF5 blocks opening it).
    const std::string fifo = (fs::path(GPO_BINARY_DIR) / "probe_fifo.h5ad").string();
    fs::remove(fifo);
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    gpo::io::ProbeLimits lim;
    lim.seconds = 1;
    std::string m = error_of([&] { gpo::io::h5ad_probe(fifo, {}, lim); });
    EXPECT_NE(m.find("did not finish reading"), std::string::npos) << m;
    fs::remove(fifo);
}
