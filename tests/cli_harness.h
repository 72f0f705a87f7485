// Running the gpo-engine binary from tests: run() captures exit code and output (stdout + stderr); the tiny
// model settings every CLI test trains with; a scratch folder per test under the build directory; a checkpoint's
// tensors read straight from its file.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpo::test {

struct CliResult {
    int code;            // exit status, or 128 + signal when the process was killed by a signal
    std::string output;  // stdout and stderr together
};

inline CliResult run_shell(const std::string& cmd) {
    std::array<char, 4096> buf;
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return {-1, "popen failed"};
    while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    int status = pclose(p);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    return {code, out};
}

inline std::string engine_binary() { return std::string(GPO_BINARY_DIR) + "/gpo-engine"; }

inline CliResult run_engine(const std::string& args) { return run_shell(engine_binary() + " " + args); }

inline std::string demo_config() { return std::string(GPO_SOURCE_DIR) + "/data/configs/demo.json"; }

// A tiny model on the embedded dataset: one epoch takes about a second on one core.
inline std::string tiny_sets() {
    return " --set data.path=" + std::string(GPO_SOURCE_DIR) + "/data/papalexi2021_thp1_eccite.h5ad" +
           " --set model.n_latent=8 --set model.basal_encoder.hidden=16 --set model.embedding_encoder.hidden=16"
           " --set model.qc_encoder.hidden=16 --set model.decoder.hidden=16 --set train.batch_size=256"
           " --set train.particles=2 --set train.max_epochs=1 --set preprocess.cache_dir=" +
           std::string(GPO_BINARY_DIR) + "/test_cli_cache";
}

inline std::filesystem::path scratch_dir(const std::string& name) {
    std::filesystem::path p = std::filesystem::path(GPO_BINARY_DIR) / "test_scratch" / name;
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    return p;
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The tensors whose names start with `prefix` ("param/...", "optim/...", F32 or F64) of a checkpoint (safetensors
// layout, io/checkpoint.h).
inline std::map<std::string, std::vector<double>> checkpoint_tensors(const std::string& path, const std::string& prefix) {
    std::ifstream f(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::map<std::string, std::vector<double>> out;
    if (bytes.size() < 8) return out;
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    nlohmann::json h = nlohmann::json::parse(bytes.substr(8, n));
    for (auto& [name, t] : h.items()) {
        if (name.rfind(prefix, 0) != 0) continue;
        uint64_t b = t["data_offsets"][0], e = t["data_offsets"][1];
        const char* at = bytes.data() + 8 + n + b;
        std::vector<double> v;
        if (t["dtype"] == "F32") {
            std::vector<float> f((e - b) / 4);
            std::memcpy(f.data(), at, e - b);
            v.assign(f.begin(), f.end());
        } else if (t["dtype"] == "F64") {
            v.resize((e - b) / 8);
            std::memcpy(v.data(), at, e - b);
        }
        out[name] = v;
    }
    return out;
}

}  // namespace gpo::test
