// Training checkpoints (see checkpoint.h): a safetensors file whose "__metadata__" carries the format, version,
// run config, step/epoch, RNG state and best validation loss; parameters and Adam state as named tensors.
#include "io/checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "engine/check.h"
#include "io/atomic_file.h"
#include "io/hash.h"
#include "gpo_git_sha.h"

namespace gpo::io {

namespace {

using ordered_json = nlohmann::ordered_json;

// Every error names the file: "checkpoint <path>: ...".
#define CKPT_CHECK(cond, path, msg) GPO_CHECK(cond, "checkpoint " << (path) << ": " << msg)
#define CKPT_FAIL(path, msg) CKPT_CHECK(false, path, msg)

const char* const kNotCheckpointHint =
    " HINT: pass a checkpoint written by `gpo-engine train` (a .safetensors file whose metadata has format \""
    "gpo-engine-checkpoint\")";
// safetensors refuses headers above 100 MB; a larger length means the file is something else.
constexpr uint64_t kMaxHeaderBytes = 100000000;

const char* const kReservedKeys[] = {"format", "version", "writer", "config", "rng",
                                     "step",   "epoch",   "best_val_loss", "optim_step",
                                     "checksums", "dataset_identity"};

bool is_reserved(const std::string& key) {
    for (const char* k : kReservedKeys)
        if (key == k) return true;
    return false;
}

bool host_is_little_endian() {
    const uint16_t one = 1;
    unsigned char b;
    std::memcpy(&b, &one, 1);
    return b == 1;
}

const char* st_dtype(DType d) {  // safetensors dtype names
    switch (d) {
        case DType::F32: return "F32";
        case DType::F64: return "F64";
        case DType::I32: return "I32";
    }
    return "?";
}

bool parse_st_dtype(const std::string& s, DType& d) {
    if (s == "F32") d = DType::F32;
    else if (s == "F64") d = DType::F64;
    else if (s == "I32") d = DType::I32;
    else return false;
    return true;
}

std::string format_double(double x) {  // 17 significant digits: the exact double comes back from strtod
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}

struct TensorInfo {
    DType dtype = DType::F32;
    Shape shape;
    uint64_t begin = 0, end = 0;  // bytes into the data section
};

struct Header {
    std::map<std::string, std::string> metadata;
    std::map<std::string, TensorInfo> tensors;
    uint64_t data_start = 0;  // 8 + N
};

// Reads and validates the header: magic/length, JSON, format and version, every tensor entry, and that the
// tensors tile the data section exactly (which is how a truncated file is detected).
Header read_header(const std::string& path) {
    std::error_code ec;
    CKPT_CHECK(std::filesystem::exists(path, ec), path, "no such file");
    CKPT_CHECK(!std::filesystem::is_directory(path, ec), path, "is a directory, not a checkpoint file");
    std::ifstream f(path, std::ios::binary);
    CKPT_CHECK(f, path, "cannot open for reading: " << std::strerror(errno));
    f.seekg(0, std::ios::end);
    const uint64_t size = (uint64_t)f.tellg();
    f.seekg(0);
    CKPT_CHECK(size >= 8, path,
               "not a checkpoint: the file has " << size << " bytes, fewer than the 8-byte header length."
                                                 << kNotCheckpointHint);
    unsigned char lb[8];
    f.read(reinterpret_cast<char*>(lb), 8);
    CKPT_CHECK(f, path, "read failed at the header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | lb[i];
    CKPT_CHECK(n >= 2 && n <= kMaxHeaderBytes && n <= size - 8, path,
               "not a checkpoint: header length " << n << " is impossible for a file of " << size << " bytes."
                                                  << kNotCheckpointHint);
    std::string text(n, '\0');
    f.read(&text[0], (std::streamsize)n);
    CKPT_CHECK(f, path, "read failed in the " << n << "-byte header");

    nlohmann::json h;
    try {
        h = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        CKPT_FAIL(path, "not a checkpoint: the header is not JSON (" << e.what() << ")." << kNotCheckpointHint);
    }
    CKPT_CHECK(h.is_object() && h.contains("__metadata__") && h["__metadata__"].is_object(), path,
               "not a gpo-engine checkpoint: the header has no \"__metadata__\" object." << kNotCheckpointHint);

    Header out;
    out.data_start = 8 + n;
    for (const auto& kv : h["__metadata__"].items()) {
        CKPT_CHECK(kv.value().is_string(), path, "corrupt header: metadata field '" << kv.key() << "' is not a string");
        out.metadata[kv.key()] = kv.value().get<std::string>();
    }
    auto fmt = out.metadata.find("format");
    CKPT_CHECK(fmt != out.metadata.end() && fmt->second == kCheckpointFormat, path,
               "not a gpo-engine checkpoint: metadata format is "
                   << (fmt == out.metadata.end() ? std::string("missing") : "\"" + fmt->second + "\"")
                   << ", expected \"" << kCheckpointFormat << "\"." << kNotCheckpointHint);
    auto ver = out.metadata.find("version");
    const std::string version = ver == out.metadata.end() ? "missing" : ver->second;
    CKPT_CHECK(version == std::to_string(kCheckpointVersion), path,
               "checkpoint format version " << version << ", but this build reads version " << kCheckpointVersion
                                            << ". HINT: retrain, or convert the file with the gpo-engine release "
                                               "that wrote it");

    for (const auto& kv : h.items()) {
        if (kv.key() == "__metadata__") continue;
        const std::string& name = kv.key();
        const nlohmann::json& t = kv.value();
        TensorInfo info;
        CKPT_CHECK(t.is_object() && t.contains("dtype") && t["dtype"].is_string() &&
                       parse_st_dtype(t["dtype"].get<std::string>(), info.dtype),
                   path, "corrupt header: tensor '" << name << "' has no dtype F32, F64 or I32: " << t.dump());
        CKPT_CHECK(t.contains("shape") && t["shape"].is_array(), path,
                   "corrupt header: tensor '" << name << "' has no shape array");
        for (const auto& d : t["shape"]) {
            CKPT_CHECK(d.is_number_unsigned(), path, "corrupt header: tensor '" << name << "' shape " << t["shape"].dump());
            info.shape.push_back((int64_t)d.get<uint64_t>());
        }
        const auto& off = t.contains("data_offsets") ? t["data_offsets"] : nlohmann::json();
        CKPT_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                   path, "corrupt header: tensor '" << name << "' has no data_offsets [begin, end]");
        info.begin = off[0].get<uint64_t>();
        info.end = off[1].get<uint64_t>();
        uint64_t want = dtype_size(info.dtype);  // bytes, with a guard against overflow in corrupt shapes
        for (int64_t d : info.shape) {
            CKPT_CHECK(d == 0 || want <= (uint64_t(1) << 62) / (uint64_t)d, path,
                       "corrupt header: tensor '" << name << "' shape " << t["shape"].dump() << " is too large");
            want *= (uint64_t)d;
        }
        CKPT_CHECK(info.end >= info.begin && info.end - info.begin == want, path,
                   "corrupt header: tensor '" << name << "' " << t["dtype"].get<std::string>()
                                              << shape_str(info.shape) << " needs " << want
                                              << " bytes but data_offsets are " << off.dump());
        out.tensors[name] = info;
    }

    // The tensors must tile [0, data bytes) without gaps or overlaps (safetensors' own rule).
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& kv : out.tensors) ranges.push_back({kv.second.begin, kv.second.end});
    std::sort(ranges.begin(), ranges.end());
    uint64_t covered = 0;
    for (const auto& r : ranges) {
        CKPT_CHECK(r.first == covered, path,
                   "corrupt header: tensor data is not contiguous (a tensor starts at byte " << r.first
                                                                                             << ", expected " << covered << ")");
        covered = r.second;
    }
    const uint64_t data_bytes = size - out.data_start;
    CKPT_CHECK(data_bytes >= covered, path,
               "truncated: the header describes " << covered << " bytes of tensor data but only " << data_bytes
                                                  << " follow it (an interrupted copy?)");
    CKPT_CHECK(data_bytes == covered, path,
               "corrupt: " << data_bytes - covered << " unexpected bytes after the last tensor");
    return out;
}

int64_t parse_int(const std::string& path, const Header& h, const std::string& key) {
    auto it = h.metadata.find(key);
    CKPT_CHECK(it != h.metadata.end(), path, "corrupt metadata: field '" << key << "' is missing");
    const char* s = it->second.c_str();
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s, &end, 10);
    CKPT_CHECK(!it->second.empty() && errno == 0 && *end == '\0', path,
               "corrupt metadata: field '" << key << "' is \"" << it->second << "\", not an integer");
    return (int64_t)v;
}

nlohmann::json parse_json_field(const std::string& path, const Header& h, const std::string& key) {
    auto it = h.metadata.find(key);
    CKPT_CHECK(it != h.metadata.end(), path, "corrupt metadata: field '" << key << "' is missing");
    try {
        return nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
        CKPT_FAIL(path, "corrupt metadata: field '" << key << "' is not JSON (" << e.what() << ")");
    }
}

CheckpointMeta parse_meta(const std::string& path, const Header& h) {
    CheckpointMeta m;
    m.config = parse_json_field(path, h, "config");
    m.rng = parse_json_field(path, h, "rng");
    m.step = parse_int(path, h, "step");
    m.epoch = parse_int(path, h, "epoch");
    auto it = h.metadata.find("best_val_loss");
    CKPT_CHECK(it != h.metadata.end(), path, "corrupt metadata: field 'best_val_loss' is missing");
    char* end = nullptr;
    m.best_val_loss = std::strtod(it->second.c_str(), &end);
    CKPT_CHECK(!it->second.empty() && *end == '\0', path,
               "corrupt metadata: field 'best_val_loss' is \"" << it->second << "\", not a number");
    auto ds = h.metadata.find("dataset_identity");
    if (ds != h.metadata.end()) m.dataset_identity = ds->second;
    for (const auto& kv : h.metadata)
        if (!is_reserved(kv.first)) m.extra[kv.first] = kv.second;
    return m;
}

// Finds `name` in the file and checks its dtype and shape against what the model expects.
const TensorInfo& expect_tensor(const std::string& path, const Header& h, const std::string& name, DType dtype,
                                const Shape& shape, const char* what) {
    auto it = h.tensors.find(name);
    CKPT_CHECK(it != h.tensors.end(), path,
               "tensor '" << name << "' (" << what << ", " << dtype_name(dtype) << shape_str(shape)
                          << ") is missing from the file");
    const TensorInfo& t = it->second;
    CKPT_CHECK(t.dtype == dtype && t.shape == shape, path,
               "tensor '" << name << "' is " << dtype_name(t.dtype) << shape_str(t.shape) << " in the file but "
                          << dtype_name(dtype) << shape_str(shape) << " in the " << what
                          << " (a different model config or dtype?)");
    return t;
}

// Reads one tensor's bytes into dst (nbytes = t.end - t.begin), checks them against the stored checksum and,
// for floating-point data, that every value is finite.
void read_bytes(std::ifstream& f, const std::string& path, const Header& h, const nlohmann::json& checksums,
                const std::string& name, const TensorInfo& t, void* dst) {
    f.seekg((std::streamoff)(h.data_start + t.begin));
    const size_t nb = (size_t)(t.end - t.begin);
    f.read(static_cast<char*>(dst), (std::streamsize)nb);
    CKPT_CHECK(f, path, "read failed in tensor '" << name << "'");
    CKPT_CHECK(checksums.contains(name) && checksums[name].is_string(), path,
               "corrupt metadata: no checksum for tensor '" << name << "'");
    const std::string got = hash_hex(hash_bytes(dst, nb));
    CKPT_CHECK(got == checksums[name].get<std::string>(), path,
               "corrupt: tensor '" << name << "' does not match its checksum (stored "
                                   << checksums[name].get<std::string>() << ", computed " << got
                                   << "); the file was damaged after it was written");
    const int64_t n = (int64_t)(nb / dtype_size(t.dtype));
    for (int64_t i = 0; i < n; ++i) {
        double v = t.dtype == DType::F32 ? (double)static_cast<const float*>(dst)[i]
                   : t.dtype == DType::F64 ? static_cast<const double*>(dst)[i] : 0.0;
        CKPT_CHECK(std::isfinite(v), path,
                   "tensor '" << name << "' holds a non-finite value (" << v << ") at element " << i
                              << "; a checkpoint of a diverged run cannot be used");
    }
}

}  // namespace

void checkpoint_save(const std::string& path, const ParamStore& ps, const Adam* adam, const CheckpointMeta& meta) {
    CKPT_CHECK(host_is_little_endian(), path, "checkpoints are little-endian; this host is not");
    CKPT_CHECK(ps.finalized(), path, "cannot save: the parameter store is not finalized");
    const DType dt = ps.values().dtype;
    const size_t es = dtype_size(dt);
    for (const auto& kv : meta.extra)
        CKPT_CHECK(!kv.first.empty() && !is_reserved(kv.first), path,
                   "cannot save: extra metadata key '" << kv.first << "' is empty or reserved");

    // Host copies (a CUDA store is copied once; the file never depends on the device that wrote it).
    std::vector<std::pair<std::string, Tensor>> tensors;  // name -> host tensor, in file order
    Tensor values = ps.values().to(Device::CPU);
    for (const auto& e : ps.entries()) tensors.push_back({"param/" + e.name, values.view(e.offset, e.shape)});
    if (adam) {
        const Adam& a = *adam;
        for (const Tensor* s : {&a.exp_avg(), &a.exp_avg_sq()})
            CKPT_CHECK(s->shape == values.shape && s->dtype == dt, path,
                       "cannot save: Adam state " << s->describe() << " does not match the parameters "
                                                  << ps.values().describe());
        tensors.push_back({"optim/exp_avg", a.exp_avg().to(Device::CPU)});
        tensors.push_back({"optim/exp_avg_sq", a.exp_avg_sq().to(Device::CPU)});
    }

    ordered_json md = ordered_json::object();
    md["format"] = kCheckpointFormat;
    md["version"] = std::to_string(kCheckpointVersion);
    md["writer"] = std::string("gpo-engine ") + GPO_GIT_SHA;
    md["step"] = std::to_string(meta.step);
    md["epoch"] = std::to_string(meta.epoch);
    md["best_val_loss"] = format_double(meta.best_val_loss);
    if (adam) md["optim_step"] = std::to_string(adam->steps());
    md["rng"] = meta.rng.dump();
    md["config"] = meta.config.dump();
    md["dataset_identity"] = meta.dataset_identity;
    nlohmann::json sums = nlohmann::json::object();
    for (const auto& t : tensors) sums[t.first] = hash_hex(hash_bytes(t.second.data(), t.second.nbytes()));
    md["checksums"] = sums.dump();
    for (const auto& kv : meta.extra) md[kv.first] = kv.second;
    ordered_json header = ordered_json::object();
    header["__metadata__"] = md;
    uint64_t off = 0;
    for (const auto& t : tensors) {
        const uint64_t nb = (uint64_t)t.second.numel() * es;
        header[t.first] = {{"dtype", st_dtype(dt)}, {"shape", t.second.shape}, {"data_offsets", {off, off + nb}}};
        off += nb;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // tensor data starts 8-byte aligned (as safetensors pads)

    with_atomic_path(path, [&](const std::string& tmp) {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        CKPT_CHECK(f, tmp, "cannot open for writing: " << std::strerror(errno));
        unsigned char lb[8];
        for (int i = 0; i < 8; ++i) lb[i] = (unsigned char)((uint64_t)text.size() >> (8 * i));
        f.write(reinterpret_cast<const char*>(lb), 8);
        f.write(text.data(), (std::streamsize)text.size());
        for (const auto& t : tensors) f.write(static_cast<const char*>(t.second.data()), (std::streamsize)t.second.nbytes());
        f.flush();
        CKPT_CHECK(f, tmp, "write failed: " << std::strerror(errno));
        f.close();
        CKPT_CHECK(f, tmp, "close failed: " << std::strerror(errno));
    });
}

CheckpointMeta checkpoint_read_meta(const std::string& path) {
    Header h = read_header(path);
    return parse_meta(path, h);
}

CheckpointMeta checkpoint_load(const std::string& path, ParamStore& ps, Adam* adam) {
    CKPT_CHECK(host_is_little_endian(), path, "checkpoints are little-endian; this host is not");
    CKPT_CHECK(ps.finalized(), path, "cannot load into a parameter store that is not finalized");
    Header h = read_header(path);
    CheckpointMeta meta = parse_meta(path, h);
    const DType dt = ps.values().dtype;
    const size_t es = dtype_size(dt);

    // Names must match exactly in both directions.
    std::vector<const TensorInfo*> infos;
    for (const auto& e : ps.entries())
        infos.push_back(&expect_tensor(path, h, "param/" + e.name, dt, e.shape, "model"));
    for (const auto& kv : h.tensors) {
        if (kv.first.rfind("param/", 0) != 0) continue;
        bool known = false;
        for (const auto& e : ps.entries()) known = known || kv.first == "param/" + e.name;
        CKPT_CHECK(known, path,
                   "the file has parameter '" << kv.first << "' " << dtype_name(kv.second.dtype)
                                              << shape_str(kv.second.shape)
                                              << " that the model does not declare (a different model config?)");
    }
    const TensorInfo *im = nullptr, *iv = nullptr;
    int64_t optim_step = 0;
    if (adam) {
        for (const Tensor* s : {&adam->exp_avg(), &adam->exp_avg_sq()})
            CKPT_CHECK(s->shape == ps.values().shape && s->dtype == dt, path,
                       "cannot load: Adam state " << s->describe() << " does not match the parameters "
                                                  << ps.values().describe());
        im = &expect_tensor(path, h, "optim/exp_avg", dt, ps.values().shape, "optimizer");
        iv = &expect_tensor(path, h, "optim/exp_avg_sq", dt, ps.values().shape, "optimizer");
        optim_step = parse_int(path, h, "optim_step");
    }

    // Read everything into host buffers first, so a failure leaves the store and the optimizer untouched.
    const nlohmann::json checksums = parse_json_field(path, h, "checksums");
    CKPT_CHECK(checksums.is_object(), path, "corrupt metadata: field 'checksums' is not an object");
    std::ifstream f(path, std::ios::binary);
    CKPT_CHECK(f, path, "cannot open for reading: " << std::strerror(errno));
    Tensor values = Tensor::empty(ps.values().shape, dt, Device::CPU);
    for (size_t i = 0; i < infos.size(); ++i) {
        const auto& e = ps.entries()[i];
        read_bytes(f, path, h, checksums, "param/" + e.name, *infos[i], static_cast<char*>(values.data()) + e.offset * es);
    }
    Tensor m, v;
    if (adam) {
        m = Tensor::empty(values.shape, dt, Device::CPU);
        v = Tensor::empty(values.shape, dt, Device::CPU);
        read_bytes(f, path, h, checksums, "optim/exp_avg", *im, m.data());
        read_bytes(f, path, h, checksums, "optim/exp_avg_sq", *iv, v.data());
    }
    ps.values().copy_from(values);
    if (adam) {
        adam->exp_avg().copy_from(m);
        adam->exp_avg_sq().copy_from(v);
        adam->set_steps(optim_step);
    }
    return meta;
}

}  // namespace gpo::io
