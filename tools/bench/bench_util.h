// Helpers for the op microbenchmarks: register a benchmark for CPU always and for CUDA when a GPU is present,
// sync the GPU inside the timed loop, and report GFLOP/s or GB/s as counters.
// Each row's name is "<op>/<device>/<shape>"; JSON output comes from --benchmark_out (see Makefile.bench).
#pragma once
#include <benchmark/benchmark.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/tape.h"
#include "kernels/cuda/runtime.h"

namespace gpo::bench {

inline std::vector<std::function<void()>>& registrations() {
    static std::vector<std::function<void()>> r;
    return r;
}

// Registers `body(dev)` as a timed function for each device (the CPU alone when cpu_only: code with no CUDA
// build, such as evaluation's metrics). body returns the work done per call.
struct Work {
    double flops = 0;  // floating-point operations per iteration
    double bytes = 0;  // bytes moved per iteration
};

// run: performs one iteration on `dev` (the setup happens in `setup`, untimed).
using SetupFn = std::function<std::function<void()>(Device dev)>;

inline void add(const std::string& name, const std::string& shape, Work work, SetupFn setup, bool cpu_only = false) {
    registrations().push_back([=] {
        std::vector<Device> devs = {Device::CPU};
        if (cuda_available() && !cpu_only) devs.push_back(Device::CUDA);
        for (Device dev : devs) {
            std::string full = name + "/" + device_name(dev) + "/" + shape;
            benchmark::RegisterBenchmark(full.c_str(), [=](benchmark::State& st) {
                std::function<void()> run = setup(dev);
                run();  // warm-up
                if (dev == Device::CUDA) cuda::synchronize();
                for (auto _ : st) {
                    run();
                    if (dev == Device::CUDA) cuda::synchronize();
                }
                if (work.flops > 0)
                    st.counters["GFLOP/s"] = benchmark::Counter(work.flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
                if (work.bytes > 0)
                    st.counters["GB/s"] = benchmark::Counter(work.bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
                st.SetLabel(std::string(device_name(dev)) + " " + shape);
            })->UseRealTime()->Unit(benchmark::kMicrosecond);
        }
    });
}

// Deterministic inputs in [lo, hi) (f32, CPU; a small LCG: the values only need to be varied).
inline Tensor bench_input(const Shape& shape, uint64_t seed, double lo, double hi) {
    std::vector<double> v((size_t)shape_numel(shape));
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (double& x : v) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x = lo + (hi - lo) * (double)(s >> 11) * (1.0 / 9007199254740992.0);
    }
    return Tensor::from_vector(shape, v, DType::F32);
}

// Static registration helper: `static int reg = (register_x(), 0);`
struct Registrar {
    explicit Registrar(std::function<void()> f) { f(); }
};

}  // namespace gpo::bench
