// Running the gpo-engine binary from tests: run() captures exit code and output (stdout + stderr); the tiny
// model settings every CLI test trains with; a scratch folder per test under the build directory.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

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

}  // namespace gpo::test
