// Preprocessing cache (see cache.h).
#include "engine/data/cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/check.h"
#include "engine/data/preprocess.h"
#include "engine/device.h"
#include "io/atomic_file.h"
#include "io/binary_file.h"
#include "io/hash.h"

namespace gpo::data {

namespace fs = std::filesystem;
static const char* kMagic = "gpo-engine-dataset";
// Bump when preprocessing results or the file layout change (5: labels matched in groups of ~512 cells, where a
// one-cell label's tie may break differently).
static const uint32_t kVersion = 5;

// What identifies the input file's content: size, inode and device, modification and status-change times in
// nanoseconds (a copy with `cp -p` or `rsync -a` keeps the mtime but gets a new ctime or inode), and a hash of its
// bytes — all of them for files up to 256 MB, otherwise 64 blocks of 64 KB spread over the file plus its last
// 1 MB (HDF5 keeps its metadata at both ends).
std::string input_identity(const std::string& path) {
    struct stat st;
    if (path.empty() || stat(path.c_str(), &st) != 0) return "missing";
    std::ostringstream os;
    os << (long long)st.st_size << " " << (unsigned long long)st.st_ino << " " << (unsigned long long)st.st_dev << " "
       << (long long)st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec << " " << (long long)st.st_ctim.tv_sec << "."
       << st.st_ctim.tv_nsec << " ";
    std::ifstream f(path, std::ios::binary);
    io::Hasher h;
    std::vector<char> buf(1 << 20);
    auto hash_range = [&](uint64_t off, uint64_t n) {
        f.clear();
        f.seekg((std::streamoff)off);
        while (n > 0 && f) {
            uint64_t k = std::min<uint64_t>(n, buf.size());
            f.read(buf.data(), (std::streamsize)k);
            h.update(buf.data(), (size_t)f.gcount());
            n -= k;
        }
    };
    const uint64_t size = (uint64_t)st.st_size;
    if (size <= (256ull << 20)) {
        hash_range(0, size);
    } else {
        for (int b = 0; b < 64; ++b) hash_range(size / 64 * (uint64_t)b, 64 << 10);
        hash_range(size - (1 << 20), 1 << 20);
    }
    os << h.hex();
    return os.str();
}

std::string cache_key(const nlohmann::json& cfg) {
    std::string path = cfg.at("data").at("path").is_string() ? cfg["data"]["path"].get<std::string>() : "";
    io::Hasher h;
    h.update_string(std::string(kMagic) + " v" + std::to_string(kVersion));
    // data.path enters as the absolute file below: `preprocess` given a relative path and `train` (which records
    // it in absolute form) then share the cache.
    nlohmann::json dc = cfg.at("data");
    dc.erase("path");
    h.update_string(dc.dump());
    nlohmann::json pp = cfg.at("preprocess");
    pp.erase("cache_dir");            // where the cache lives does not change its content,
    pp.erase("counts_in_memory_mb");  // nor whether its matrices were held in memory
    h.update_string(pp.dump());
    // OT matching on the GPU (f32) may pick another control on near-ties than the CPU (f64): key by the device used.
    std::string dev = pp.at("device").get<std::string>();
    h.update_string((dev == "cuda" || (dev == "auto" && cuda_available())) ? "gpu" : "cpu");
    std::error_code ec;
    h.update_string(fs::absolute(path, ec).lexically_normal().string());
    h.update_string(input_identity(path));
    return h.hex();
}

std::string default_cache_dir(const nlohmann::json& cfg) {
    const auto& d = cfg.at("preprocess").at("cache_dir");
    if (d.is_string()) return d.get<std::string>();
    if (const char* e = std::getenv("GPO_CACHE_DIR")) return e;
    if (const char* x = std::getenv("XDG_CACHE_HOME")) return std::string(x) + "/gpo-engine";
    if (const char* h = std::getenv("HOME")) return std::string(h) + "/.cache/gpo-engine";
    return "";
}

// A file-backed matrix is copied in blocks (indices, then values: the layout of vec()), never loaded whole.
static void write_csr(io::BinaryWriter& w, const Csr& m) {
    w.pod(m.rows);
    w.pod(m.cols);
    w.vec(m.indptr);
    if (!m.on_disk()) {
        w.vec(m.indices);
        w.vec(m.data);
        return;
    }
    for (int pass = 0; pass < 2; ++pass) {
        w.pod<uint64_t>((uint64_t)m.nnz());
        m.for_each_block(1 << 22, [&](int64_t r0, int64_t nr, int64_t k0, const int32_t* idx, const float* val) {
            const size_t n = (size_t)(m.indptr[r0 + nr] - k0);
            if (pass == 0) w.array(idx, n);
            else w.array(val, n);
        });
    }
}

// Matrices whose arrays exceed `budget` bytes stay in the cache file and are read row by row (csr.h).
static Csr read_csr(io::BinaryReader& r, uint64_t budget, const std::string& path) {
    Csr m;
    m.rows = r.pod<int64_t>();
    m.cols = r.pod<int64_t>();
    m.indptr = r.vec<int64_t>();
    GPO_CHECK(!m.indptr.empty(), path << ": corrupt matrix (no row offsets)");
    if (Csr::array_bytes(m.indptr.back()) <= budget) {
        m.indices = r.vec<int32_t>();
        m.data = r.vec<float>();
        return m;
    }
    uint64_t indices_at = 0, values_at = 0;
    const uint64_t ni = r.skip_vec<int32_t>(indices_at), nv = r.skip_vec<float>(values_at);
    GPO_CHECK((int64_t)ni == m.indptr.back() && (int64_t)nv == m.indptr.back(),
              path << ": corrupt matrix (" << ni << " indices and " << nv << " values for " << m.indptr.back()
                   << " entries)");
    m.file = CsrFile::open(path, indices_at, values_at);
    return m;
}

static void write_dataset(io::BinaryWriter& w, const Dataset& ds, const std::string& key) {
    w.str(kMagic);
    w.pod(kVersion);
    w.str(key);
    w.str(ds.source);
    w.str(ds.control_label);
    for (int64_t v : {ds.N, ds.G, ds.T, ds.n_perturbed, ds.cells_dropped, ds.cells_missing_label}) w.pod(v);
    w.strs(ds.gene_names);
    w.strs(ds.treatment_names);
    w.vec(ds.treatment_gene);
    w.vec(ds.gene_treatment);
    w.strs(ds.labels);
    w.strs(ds.obs_names);
    write_csr(w, ds.counts);
    w.vec(ds.library);
    std::vector<int64_t> toff{0};
    std::vector<int> tval;
    for (const auto& t : ds.treatments) {
        tval.insert(tval.end(), t.begin(), t.end());
        toff.push_back((int64_t)tval.size());
    }
    w.vec(toff);
    w.vec(tval);
    w.vec(ds.qc);
    w.vec(ds.split);
    w.vec(ds.norm_mean);
    w.vec(ds.norm_std);
    w.vec(ds.matched_control);
    w.pod(ds.normalize_target);
    write_csr(w, ds.cf_counts);
    w.vec(ds.has_cf);
    w.vec(ds.plate_count);
    for (double f : ds.n_fail) w.pod(f);
    w.pod(ds.train_fail_fraction);
}

void dataset_save(const Dataset& ds, const std::string& path, const std::string& key) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    GPO_CHECK(!ec, fs::path(path).parent_path().string() << ": cannot create the cache directory: " << ec.message());
    io::with_atomic_path(path, [&](const std::string& tmp) {
        io::BinaryWriter w(tmp);
        write_dataset(w, ds, key);
        w.finish();
    });
}

bool dataset_load(const std::string& path, const std::string& key, Dataset& out, uint64_t budget) {
    io::BinaryReader r(path);
    if (!r.is_open()) return false;
    // A cheap look at the header first: another version or key is not an error, just not this cache.
    auto header_matches = [&] { return r.str() == kMagic && r.pod<uint32_t>() == kVersion && r.str() == key; };
    try {
        if (!header_matches()) return false;
    } catch (const Error&) {
        return false;  // too short to be a cache of this key
    }
    r.verify_checksum();  // rewinds: the header is read again below, now as verified data
    header_matches();
    Dataset ds;
    ds.source = r.str();
    ds.control_label = r.str();
    int64_t* dims[] = {&ds.N, &ds.G, &ds.T, &ds.n_perturbed, &ds.cells_dropped, &ds.cells_missing_label};
    for (int64_t* d : dims) *d = r.pod<int64_t>();
    ds.gene_names = r.strs();
    ds.treatment_names = r.strs();
    ds.treatment_gene = r.vec<int>();
    ds.gene_treatment = r.vec<int>();
    ds.labels = r.strs();
    ds.obs_names = r.strs();
    ds.counts = read_csr(r, budget, path);
    ds.library = r.vec<float>();
    std::vector<int64_t> toff = r.vec<int64_t>();
    std::vector<int> tval = r.vec<int>();
    GPO_CHECK(ds.N >= 0 && (int64_t)toff.size() == ds.N + 1 && toff.front() == 0 &&
                  toff.back() == (int64_t)tval.size(),
              path << ": corrupt treatments");
    for (int64_t n = 0; n < ds.N; ++n) {
        GPO_CHECK(toff[n] <= toff[n + 1], path << ": corrupt treatments (offsets decrease at cell " << n << ")");
        ds.treatments.emplace_back(tval.begin() + toff[n], tval.begin() + toff[n + 1]);
    }
    ds.qc = r.vec<uint8_t>();
    ds.split = r.vec<uint8_t>();
    ds.norm_mean = r.vec<float>();
    ds.norm_std = r.vec<float>();
    ds.matched_control = r.vec<int64_t>();
    ds.normalize_target = r.pod<double>();
    ds.cf_counts = read_csr(r, budget, path);
    ds.has_cf = r.vec<uint8_t>();
    ds.plate_count = r.vec<double>();
    for (double& f : ds.n_fail) f = r.pod<double>();
    ds.train_fail_fraction = r.pod<double>();
    GPO_CHECK(r.at_end(), path << ": corrupt file (trailing bytes)");
    validate_dataset(ds, path);
    out = std::move(ds);
    return true;
}

Dataset load_dataset(const nlohmann::json& cfg, LoadInfo* info, const std::string& cache_dir) {
    auto t0 = std::chrono::steady_clock::now();
    LoadInfo li;
    std::string dir = cache_dir.empty() ? default_cache_dir(cfg) : cache_dir;
    std::string key = cache_key(cfg);
    Dataset ds;
    if (!dir.empty()) {
        li.cache_file = (fs::path(dir) / (key + ".gpods")).string();
        try {
            li.from_cache = dataset_load(li.cache_file, key, ds, counts_budget_bytes(cfg));
        } catch (const Error& e) {  // a damaged cache is never fatal: it is rebuilt
            std::fprintf(stderr, "preprocess: the cache %s is damaged (%s); rebuilding it\n", li.cache_file.c_str(),
                         e.what());
            ds = Dataset();
            li.from_cache = false;
        }
    }
    if (!li.from_cache) {
        ds = preprocess_dataset(cfg);
        if (!dir.empty()) {
            try {
                dataset_save(ds, li.cache_file, key);
            } catch (const Error& e) {  // an unwritable cache must not stop the run
                std::fprintf(stderr, "preprocess: not caching (%s)\n", e.what());
                li.cache_file.clear();
            }
        }
    }
    li.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (info) *info = li;
    return ds;
}

}  // namespace gpo::data
