// Count matrices larger than the memory budget (preprocess.counts_in_memory_mb) stay on disk: the row builder's
// spill file, X read from the .h5ad in row blocks, preprocessing with every matrix spilled, and a cache whose
// matrices are read row by row give exactly what the in-memory path gives, down to the training batches.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/data/cache.h"
#include "engine/data/loader.h"
#include "engine/data/preprocess.h"
#include "io/config.h"
#include "io/h5ad.h"
#include "tests/harness.h"

using namespace gpo;
namespace fs = std::filesystem;

namespace {

std::string demo_path() { return std::string(GPO_SOURCE_DIR) + "/data/papalexi2021_thp1_eccite.h5ad"; }
nlohmann::json demo_config(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), "data.path=" + demo_path());
    return io::config_load(std::string(GPO_SOURCE_DIR) + "/data/configs/demo.json", extra);
}
std::string scratch(const std::string& name) {
    fs::path p = fs::path(GPO_BINARY_DIR) / "test_out_of_core" / name;
    fs::remove_all(p);
    fs::create_directories(p.parent_path());
    return p.string();
}

// Every row of a and b holds the same entries (b may be file-backed).
void expect_same_rows(const data::Csr& a, const data::Csr& b, const char* what) {
    ASSERT_EQ(a.rows, b.rows) << what;
    ASSERT_EQ(a.cols, b.cols) << what;
    ASSERT_EQ(a.indptr, b.indptr) << what;
    data::RowBuffer ba, bb;
    for (int64_t r = 0; r < a.rows; ++r) {
        data::CsrRow x = a.row(r, ba), y = b.row(r, bb);
        ASSERT_EQ(x.n, y.n) << what << " row " << r;
        for (int64_t k = 0; k < x.n; ++k) {
            ASSERT_EQ(x.idx[k], y.idx[k]) << what << " row " << r;
            ASSERT_EQ(x.val[k], y.val[k]) << what << " row " << r;
        }
    }
}

void expect_same_dataset(const data::Dataset& a, const data::Dataset& b) {
    EXPECT_EQ(a.N, b.N);
    EXPECT_EQ(a.treatment_names, b.treatment_names);  // the extended genes are computed from the counts
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.library, b.library);
    EXPECT_EQ(a.qc, b.qc);
    EXPECT_EQ(a.split, b.split);
    EXPECT_EQ(a.norm_mean, b.norm_mean);
    EXPECT_EQ(a.norm_std, b.norm_std);
    EXPECT_EQ(a.matched_control, b.matched_control);
    EXPECT_EQ(a.has_cf, b.has_cf);
    EXPECT_EQ(a.plate_count, b.plate_count);
    expect_same_rows(a.counts, b.counts, "counts");
    expect_same_rows(a.cf_counts, b.cf_counts, "counterfactual profiles");
}

// A CSR matrix with a pseudo-random pattern (about half the entries set), values 1..7.
io::CsrMatrix pattern(int64_t rows, int64_t cols) {
    io::CsrMatrix m;
    m.rows = rows;
    m.cols = cols;
    m.indptr.assign(1, 0);
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
            uint64_t h = (uint64_t)(r * 7919 + c * 104729) * 0x9E3779B97F4A7C15ull;
            if ((h >> 60) & 1) {
                m.indices.push_back((int32_t)c);
                m.data.push_back((float)(1 + (h >> 40) % 7));
            }
        }
        m.indptr.push_back((int64_t)m.data.size());
    }
    return m;
}

io::AnnDataOut with_names(int64_t rows, int64_t cols) {
    io::AnnDataOut a;
    a.rows = rows;
    a.cols = cols;
    for (int64_t r = 0; r < rows; ++r) a.obs.index.push_back("c" + std::to_string(r));
    for (int64_t c = 0; c < cols; ++c) a.var.index.push_back("g" + std::to_string(c));
    return a;
}

// The blocks handed to X_blocks, joined back into one matrix; `blocks` counts them.
io::CsrMatrix read_in_blocks(const std::string& path, int* blocks, const std::string& layer = "") {
    io::CsrMatrix joined;
    joined.indptr.assign(1, 0);
    io::H5adReadOptions opt;
    opt.layer = layer;
    *blocks = 0;
    opt.X_blocks = [&](const io::CsrMatrix& b) {
        ++*blocks;
        EXPECT_GE(b.rows, 1);
        EXPECT_EQ(b.indptr.front(), 0);
        joined.cols = b.cols;
        const int64_t base = joined.indptr.back();
        for (int64_t r = 1; r <= b.rows; ++r) joined.indptr.push_back(base + b.indptr[r]);
        joined.indices.insert(joined.indices.end(), b.indices.begin(), b.indices.end());
        joined.data.insert(joined.data.end(), b.data.begin(), b.data.end());
        joined.rows += b.rows;
    };
    io::AnnData a = io::h5ad_read(path, opt);
    EXPECT_TRUE(a.X.data.empty() && a.X.indptr.empty()) << "X is handed over, not kept";
    EXPECT_EQ(a.X.rows, joined.rows);
    return joined;
}

}  // namespace

TEST(CsrBuilder, SpillsPastTheBudgetAndReadsBackEveryRow) {
    io::CsrMatrix m = pattern(300, 50);
    data::Csr in_memory;
    in_memory.rows = m.rows;
    in_memory.cols = m.cols;
    in_memory.indptr = m.indptr;
    in_memory.indices = m.indices;
    in_memory.data = m.data;
    // A budget of a few rows: the builder spills after them and keeps writing to the file.
    data::CsrBuilder b(m.cols, data::Csr::array_bytes(100), data::default_spill_dir(), "test matrix");
    for (int64_t r = 0; r < m.rows; ++r)
        b.add_row(m.indices.data() + m.indptr[r], m.data.data() + m.indptr[r], m.indptr[r + 1] - m.indptr[r]);
    data::Csr spilled = b.finish();
    ASSERT_TRUE(spilled.on_disk());
    EXPECT_TRUE(spilled.indices.empty() && spilled.data.empty());
    expect_same_rows(in_memory, spilled, "spilled");
    // Blocks of at most ~64 entries cover every entry once, in order.
    int64_t seen = 0;
    spilled.for_each_block(64, [&](int64_t r0, int64_t nr, int64_t k0, const int32_t* idx, const float* val) {
        EXPECT_EQ(k0, seen);
        for (int64_t k = 0; k < spilled.indptr[r0 + nr] - k0; ++k) {
            EXPECT_EQ(idx[k], m.indices[k0 + k]);
            EXPECT_EQ(val[k], m.data[k0 + k]);
        }
        seen = spilled.indptr[r0 + nr];
    });
    EXPECT_EQ(seen, m.nnz());
    // Under the budget nothing is spilled.
    data::CsrBuilder small(m.cols, data::Csr::array_bytes(m.nnz()), data::default_spill_dir(), "test matrix");
    for (int64_t r = 0; r < m.rows; ++r)
        small.add_row(m.indices.data() + m.indptr[r], m.data.data() + m.indptr[r], m.indptr[r + 1] - m.indptr[r]);
    data::Csr kept = small.finish();
    EXPECT_FALSE(kept.on_disk());
    EXPECT_EQ(kept.data, m.data);
}

TEST(H5adBlocks, CsrAndDenseXArriveInRowBlocksEqualToTheWholeMatrix) {
    // 2,400 x 900 at ~50 % density: ~1.1 M entries, more than one read block (2^20 entries) either way.
    io::CsrMatrix m = pattern(2400, 900);
    ASSERT_GT(m.nnz(), 1 << 20);
    const std::string csr_path = scratch("csr.h5ad"), dense_path = scratch("dense.h5ad");
    io::AnnDataOut a = with_names(m.rows, m.cols);
    a.X_csr = m;
    io::h5ad_write(csr_path, a);
    io::AnnDataOut d = with_names(m.rows, m.cols);
    d.X.assign((size_t)(m.rows * m.cols), 0.f);
    for (int64_t r = 0; r < m.rows; ++r)
        for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) d.X[(size_t)(r * m.cols + m.indices[k])] = m.data[k];
    io::h5ad_write(dense_path, d);
    for (const std::string& path : {csr_path, dense_path}) {
        int blocks = 0;
        io::CsrMatrix joined = read_in_blocks(path, &blocks);
        EXPECT_GE(blocks, 2) << path;
        EXPECT_EQ(joined.indptr, m.indptr) << path;
        EXPECT_EQ(joined.indices, m.indices) << path;
        EXPECT_EQ(joined.data, m.data) << path;
    }
}

TEST(H5adBlocks, CscLayerArrivesConvertedAsOneBlock) {
    const std::string path = std::string(GPO_SOURCE_DIR) + "/tests/data/dense_f32.h5ad";
    io::H5adReadOptions opt;
    opt.layer = "csc";
    io::AnnData whole = io::h5ad_read(path, opt);
    int blocks = 0;
    io::CsrMatrix joined = read_in_blocks(path, &blocks, "csc");
    EXPECT_EQ(blocks, 1);
    EXPECT_EQ(joined.indptr, whole.X.indptr);
    EXPECT_EQ(joined.indices, whole.X.indices);
    EXPECT_EQ(joined.data, whole.X.data);
}

TEST(OutOfCore, PreprocessWithEveryMatrixOnDiskEqualsInMemory) {
    // The demo config filters cells (guide_assignment_pass) and computes 25 extended genes from the counts, so the
    // kept-rows copy and the gene-blocked transpose (one gene per pass at a zero budget) are both exercised.
    data::Dataset mem = data::preprocess_dataset(demo_config());
    data::Dataset disk = data::preprocess_dataset(demo_config({"preprocess.counts_in_memory_mb=0"}));
    EXPECT_FALSE(mem.counts.on_disk());
    EXPECT_FALSE(mem.cf_counts.on_disk());
    EXPECT_TRUE(disk.counts.on_disk());
    EXPECT_TRUE(disk.cf_counts.on_disk());
    EXPECT_GT(mem.T, mem.n_perturbed) << "the demo has extended genes";
    expect_same_dataset(mem, disk);
}

TEST(OutOfCore, CacheOverTheBudgetIsReadRowByRowAndGivesTheSameBatches) {
    const std::string dir = scratch("cache");
    data::LoadInfo info;
    data::Dataset mem = data::load_dataset(demo_config(), &info, dir);
    ASSERT_FALSE(info.cache_file.empty());
    data::Dataset disk;
    ASSERT_TRUE(data::dataset_load(info.cache_file, data::cache_key(demo_config()), disk, 0));
    EXPECT_TRUE(disk.counts.on_disk());
    EXPECT_TRUE(disk.cf_counts.on_disk());
    expect_same_dataset(mem, disk);
    // The budget is not part of the key: load_dataset with a zero budget takes the same cache, on disk.
    data::LoadInfo again;
    data::Dataset via_config = data::load_dataset(demo_config({"preprocess.counts_in_memory_mb=0"}), &again, dir);
    EXPECT_TRUE(again.from_cache);
    EXPECT_TRUE(via_config.counts.on_disk());
    // A training batch (counts, standardised counts and counterfactuals, Δ against the matched controls).
    std::vector<int64_t> cells = mem.cells_of_split(data::SPLIT_TRAIN);
    cells.resize(std::min<size_t>(cells.size(), 64));
    models::Batch a = data::make_batch(mem, cells, data::SPLIT_TRAIN, DType::F64, Device::CPU);
    data::read_ahead(disk, cells);  // the trainer's read-ahead hint: changes nothing but timing
    models::Batch b = data::make_batch(disk, cells, data::SPLIT_TRAIN, DType::F64, Device::CPU);
    EXPECT_EQ(a.counts.to_vector(), b.counts.to_vector());
    EXPECT_EQ(a.norm_x.to_vector(), b.norm_x.to_vector());
    EXPECT_EQ(a.cf_norm_x.to_vector(), b.cf_norm_x.to_vector());
    EXPECT_EQ(a.delta.to_vector(), b.delta.to_vector());
    EXPECT_EQ(a.library.to_vector(), b.library.to_vector());
}
