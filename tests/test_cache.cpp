// Preprocessing cache: a round trip restores every field, the key follows the config and the input file, a cache of
// another key is ignored, a corrupt cache is an error naming the file, an unwritable cache directory does not stop a
// run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/check.h"
#include "engine/data/cache.h"
#include "io/config.h"

using namespace gpo;
namespace fs = std::filesystem;

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
