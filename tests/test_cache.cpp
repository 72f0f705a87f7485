// Preprocessing cache: a round trip restores every field, the key follows the config and the input file's content,
// a cache of another key is ignored, a corrupt cache is an error naming the file and is rebuilt by load_dataset, the
// validator refuses out-of-range indices, an unwritable cache directory does not stop a run.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "engine/check.h"
#include "engine/data/cache.h"
#include "io/config.h"
#include "tests/harness.h"

using namespace gpo;
namespace fs = std::filesystem;
using gpo::test::error_of;

namespace {
nlohmann::json cfg_with(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), "data.path=" + std::string(GPO_SOURCE_DIR) + "/data/papalexi2021_thp1_eccite.h5ad");
    return io::config_load(std::string(GPO_SOURCE_DIR) + "/data/configs/demo.json", extra);
}
std::string fresh(const std::string& name) {
    fs::path p = fs::path(GPO_BINARY_DIR) / "test_cache" / name;
    fs::remove_all(p);
    return p.string();
}
}  // namespace

TEST(Cache, RoundTripRestoresEveryField) {
    std::string dir = fresh("roundtrip");
    data::LoadInfo first, second;
    data::Dataset a = data::load_dataset(cfg_with(), &first, dir);
    data::Dataset b = data::load_dataset(cfg_with(), &second, dir);
    EXPECT_FALSE(first.from_cache);
    EXPECT_TRUE(second.from_cache);
    EXPECT_EQ(first.cache_file, second.cache_file);
    EXPECT_EQ(a.N, b.N);
    EXPECT_EQ(a.T, b.T);
    EXPECT_EQ(a.treatment_names, b.treatment_names);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.obs_names, b.obs_names);
    EXPECT_EQ(a.counts.data, b.counts.data);
    EXPECT_EQ(a.counts.indices, b.counts.indices);
    EXPECT_EQ(a.treatments, b.treatments);
    EXPECT_EQ(a.qc, b.qc);
    EXPECT_EQ(a.split, b.split);
    EXPECT_EQ(a.norm_mean, b.norm_mean);
    EXPECT_EQ(a.norm_std, b.norm_std);
    EXPECT_EQ(a.matched_control, b.matched_control);
    EXPECT_EQ(a.cf_counts.data, b.cf_counts.data);
    EXPECT_EQ(a.has_cf, b.has_cf);
    EXPECT_EQ(a.plate_count, b.plate_count);
    EXPECT_EQ(a.gene_treatment, b.gene_treatment);
    EXPECT_EQ(a.normalize_target, b.normalize_target);
    EXPECT_EQ(a.train_fail_fraction, b.train_fail_fraction);
}

TEST(Cache, KeyFollowsConfigButNotCacheLocation) {
    std::string k = data::cache_key(cfg_with());
    EXPECT_EQ(k, data::cache_key(cfg_with()));
    EXPECT_NE(k, data::cache_key(cfg_with({"preprocess.split_seed=3"})));
    EXPECT_NE(k, data::cache_key(cfg_with({"data.control_label=ctrl"})));
    EXPECT_EQ(k, data::cache_key(cfg_with({"preprocess.cache_dir=/tmp/elsewhere"})));
    EXPECT_EQ(k, data::cache_key(cfg_with({"train.lr=0.1", "model.n_latent=7"})));  // training keys do not matter
    EXPECT_EQ(k, data::cache_key(cfg_with({"preprocess.counts_in_memory_mb=0"})));  // in memory or not, same data
    // The same file named relatively (as a user types it for `preprocess`) and absolutely (as `train` records it).
    const fs::path abs = fs::path(GPO_SOURCE_DIR) / "data" / "papalexi2021_thp1_eccite.h5ad";
    const std::string rel = fs::relative(abs, fs::current_path()).string();
    ASSERT_FALSE(fs::path(rel).is_absolute());
    EXPECT_EQ(k, data::cache_key(cfg_with({"data.path=" + rel})));
    EXPECT_EQ(k, data::cache_key(cfg_with({"data.path=" + (abs.parent_path() / "." / abs.filename()).string()})));
}

TEST(Cache, OtherKeyIsIgnoredAndCorruptFileIsAnError) {
    std::string dir = fresh("keys");
    data::LoadInfo info;
    data::load_dataset(cfg_with(), &info, dir);
    data::Dataset ds;
    EXPECT_FALSE(data::dataset_load(info.cache_file, "another-key", ds));
    EXPECT_FALSE(data::dataset_load(dir + "/missing.gpods", "k", ds));
    // Truncate the cache: it claims to be ours but its data is cut.
    std::string key = data::cache_key(cfg_with());
    fs::resize_file(info.cache_file, fs::file_size(info.cache_file) / 2);
    try {
        data::dataset_load(info.cache_file, key, ds);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(info.cache_file), std::string::npos) << e.what();
    }
}

TEST(Cache, UnwritableDirectoryDoesNotStopTheRun) {
    std::string file = fresh("blocker");
    fs::create_directories(fs::path(file).parent_path());
    std::ofstream(file) << "a file where the cache directory should be";
    data::LoadInfo info;
    data::Dataset ds = data::load_dataset(cfg_with(), &info, file + "/sub");
    EXPECT_EQ(ds.N, 19763);
    EXPECT_FALSE(info.from_cache);
    EXPECT_TRUE(info.cache_file.empty());
}

TEST(Cache, DamagedCacheIsRebuiltNotUsedNotFatal) {
    std::string dir = fresh("damaged");
    data::LoadInfo info;
    data::Dataset good = data::load_dataset(cfg_with(), &info, dir);
    const std::string key = data::cache_key(cfg_with());
    // Four bytes in the middle of the payload (inside the counts): the checksum no longer matches.
    std::string bytes = gpo::test::file_bytes(info.cache_file);
    for (int i = 0; i < 4; ++i) bytes[bytes.size() / 2 + i] = (char)0xff;
    std::ofstream(info.cache_file, std::ios::binary | std::ios::trunc) << bytes;
    data::Dataset ds;
    std::string m = error_of([&] { data::dataset_load(info.cache_file, key, ds); });
    EXPECT_NE(m.find("checksum"), std::string::npos) << m;
    data::LoadInfo again;
    data::Dataset rebuilt = data::load_dataset(cfg_with(), &again, dir);
    EXPECT_FALSE(again.from_cache);  // recomputed, not read
    EXPECT_EQ(rebuilt.N, good.N);
    EXPECT_EQ(rebuilt.counts.indices, good.counts.indices);
    data::LoadInfo third;
    data::load_dataset(cfg_with(), &third, dir);
    EXPECT_TRUE(third.from_cache);  // and the rebuilt cache is good again
}

TEST(Cache, OutOfRangeIndicesAreRefusedByTheValidator) {
    // What a corrupt payload with a valid checksum (or a preprocessing bug) would feed the models.
    data::Dataset ds = data::load_dataset(cfg_with(), nullptr, fresh("validator"));
    EXPECT_NO_THROW(data::validate_dataset(ds, "good"));
    auto refused = [&](const std::function<void(data::Dataset&)>& damage, const std::string& says) {
        data::Dataset d = ds;
        damage(d);
        std::string m = error_of([&] { data::validate_dataset(d, "the cache"); });
        EXPECT_NE(m.find(says), std::string::npos) << says << ": " << m;
    };
    refused([](data::Dataset& d) { d.counts.indices[7] = (int32_t)d.G + 5; }, "counts (column index");
    refused([](data::Dataset& d) { d.counts.indptr[3] = d.counts.indptr[4] + 1; }, "counts (row offsets decrease");
    refused([](data::Dataset& d) { d.gene_treatment[0] = (int)d.T; }, "gene treatment");
    refused([](data::Dataset& d) { d.treatments[d.N - 1].push_back((int)d.T + 1); }, "treatment");
    refused([](data::Dataset& d) { d.matched_control[0] = d.N; }, "matched control");
    refused([](data::Dataset& d) { d.split[1] = 7; }, "flags of cell 1");
    refused([](data::Dataset& d) { d.norm_std[2] = std::nanf(""); }, "normalisation of gene 2");
    refused([](data::Dataset& d) { d.labels.pop_back(); }, "labels");
}

TEST(Cache, SameSizeReplacementWithRestoredMtimeChangesTheKey) {
    // The old key (path, size, whole-second mtime) served stale data here: cp -p / rsync -a keep the mtime.
    std::string dir = fresh("stale");
    fs::create_directories(dir);
    const std::string file = dir + "/input.bin";
    std::string content(300000, 'a');
    std::ofstream(file, std::ios::binary) << content;
    auto cfg = cfg_with({"data.path=" + file});
    const std::string k1 = data::cache_key(cfg);
    EXPECT_EQ(k1, data::cache_key(cfg));  // stable while nothing changes
    const auto mtime = fs::last_write_time(file);
    content[123456] = 'b';  // same size, other content
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    fs::last_write_time(file, mtime);
    EXPECT_EQ(fs::file_size(file), 300000u);
    EXPECT_NE(data::cache_key(cfg), k1);
}
