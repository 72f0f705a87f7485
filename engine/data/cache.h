// Preprocessing cache: one file per (input .h5ad, data + preprocess config sections), so later runs skip the work.
// The key hashes the config sections, the input's absolute path and content identity (size, inode, nanosecond
// mtime and ctime, and a hash of its bytes), and the format version; a stale or foreign file is simply
// recomputed. The payload carries a checksum and every index is range-checked on load; a damaged cache file is
// rebuilt with a message, never used and never fatal. Location: preprocess.cache_dir, else $GPO_CACHE_DIR, else
// $XDG_CACHE_HOME/gpo-engine, else ~/.cache/gpo-engine (no cache when none can be created).
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>

#include "engine/data/dataset.h"

namespace gpo::data {

std::string cache_key(const nlohmann::json& cfg);
std::string default_cache_dir(const nlohmann::json& cfg);  // "" when there is none
void dataset_save(const Dataset& ds, const std::string& path, const std::string& key);  // atomic
// Loads a cache file; returns false (and leaves ds untouched) when the file is missing or for another key/version.
// Throws for a file that claims to be a cache but is corrupt. A count matrix whose arrays exceed budget_bytes is
// not loaded: it is read row by row from the cache file when used (csr.h).
bool dataset_load(const std::string& path, const std::string& key, Dataset& ds, uint64_t budget_bytes = UINT64_MAX);


struct LoadInfo {
    bool from_cache = false;
    std::string cache_file;  // "" when caching is off
    double seconds = 0;
};
// The dataset of the config: from the cache when valid, otherwise preprocessed (and cached). cache_dir overrides
// the default location when not empty.
Dataset load_dataset(const nlohmann::json& cfg, LoadInfo* info = nullptr, const std::string& cache_dir = "");

}  // namespace gpo::data
