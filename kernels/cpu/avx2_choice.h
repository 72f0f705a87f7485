// The run-time choice between a CPU kernel family's AVX2 build and its baseline build: AVX2 when the CPU has it
// (decided once, the same for every thread), the baseline when forced (tests compare the two builds) or on a CPU
// or compiler without it. Used by kernels/cpu/nb_f32.cpp and kernels/cpu/rng_lanes.cpp, one choice each.
#pragma once
#include <atomic>
#include <cstring>

namespace gpo::cpu {

class Avx2Choice {
public:
    bool avx2() {
        int b = state_.load(std::memory_order_relaxed);
        if (b < 0) state_.store(b = detect(), std::memory_order_relaxed);
        return b == 1;
    }
    const char* name() { return avx2() ? "avx2" : "baseline"; }
    // "baseline": run the baseline build from now on; anything else (""): choose by the CPU again.
    void force(const char* build) { state_.store(build && std::strcmp(build, "baseline") == 0 ? 0 : -1); }

private:
    static int detect() {
#if defined(__x86_64__) && defined(__GNUC__)
        return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
        return 0;
#endif
    }
    std::atomic<int> state_{-1};  // 1: AVX2, 0: baseline, -1: not decided yet
};

}  // namespace gpo::cpu
