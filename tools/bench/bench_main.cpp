// main() for every bench_* program: registers nothing itself; adds device and git sha to the JSON context and
// runs the benchmarks the program registered. CUDA benchmarks register themselves only when a GPU is present
// (see tools/bench/bench_util.h).
#include <benchmark/benchmark.h>

#include "engine/device.h"
#include "tools/bench/bench_util.h"
#include "gpo_git_sha.h"
#include "kernels/cuda/runtime.h"

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    benchmark::AddCustomContext("git_sha", GPO_GIT_SHA);
    std::string dev = "cpu";
    if (gpo::cuda_available()) dev += ", " + gpo::cuda::devices()[0].name;
    benchmark::AddCustomContext("devices", dev);
    benchmark::AddCustomContext("cuda", gpo::cuda_available() ? "present" : gpo::cuda::probe_message());
    for (auto& fn : gpo::bench::registrations()) fn();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
