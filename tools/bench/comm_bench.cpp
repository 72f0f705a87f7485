// bench_comm: the collectives data-parallel training runs every step (docs/scaling.md), timed under the launcher
// (`mpirun -np N build/bench_comm`; tools/bench/scaling.sh runs it): the sum of a float32 gradient buffer over the
// ranks as one all-reduce (dist::allreduce_sum, MPI_Allreduce) against the optimizer split's reduce-scatter of it
// plus the all-gather of the updated parameters (dist::reduce_scatter_sum + dist::allgather_parts). Rank 0 writes
// JSON (sizes, milliseconds per call, ranks, git sha) to --out.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpo_git_sha.h"
#include "engine/check.h"
#include "engine/dist/comm.h"

using namespace gpo;
using nlohmann::json;

namespace {

// Milliseconds per call of f, the median of `reps` calls after one warm-up (every rank times the same calls; the
// barrier lines them up).
template <typename F>
double median_ms(int reps, F f) {
    f();
    std::vector<double> ms;
    for (int i = 0; i < reps; ++i) {
        dist::barrier();
        const auto t0 = std::chrono::steady_clock::now();
        f();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    bool failed = false;
    try {
        dist::init(&argc, &argv);
        std::string out = "bench_out/comm.json";
        std::vector<int64_t> sizes = {1'000'000, 10'000'000, 100'000'000};
        for (int i = 1; i + 1 < argc; i += 2) {
            if (!std::strcmp(argv[i], "--out")) out = argv[i + 1];
            else if (!std::strcmp(argv[i], "--max-size")) {
                const int64_t max = std::atoll(argv[i + 1]);
                sizes.erase(std::remove_if(sizes.begin(), sizes.end(), [&](int64_t n) { return n > max; }),
                            sizes.end());
            } else
                GPO_FAIL("bench_comm: unknown option " << argv[i] << " (expected --out FILE, --max-size N)");
        }
        json rows = json::array();
        for (int64_t n : sizes) {
            Tensor t = Tensor::full({n}, 1.0, DType::F32);
            const int reps = (int)std::clamp<int64_t>(200'000'000 / n, 5, 50);
            const double allreduce = median_ms(reps, [&] { dist::allreduce_sum(t); });
            const double split = median_ms(reps, [&] {
                dist::reduce_scatter_sum(t);
                dist::allgather_parts(t);
            });
            rows.push_back({{"floats", n}, {"allreduce_ms", allreduce}, {"reduce_scatter_allgather_ms", split},
                            {"reps", reps}});
            if (dist::is_root())
                std::fprintf(stderr, "bench_comm: %lld floats on %d ranks: all-reduce %.2f ms, reduce-scatter + "
                                     "all-gather %.2f ms\n",
                             (long long)n, dist::size(), allreduce, split);
        }
        if (dist::is_root()) {
            json res = {{"benchmark", "collectives per training step (float32)"},
                        {"git_sha", GPO_GIT_SHA},
                        {"device", "cpu"},
                        {"ranks", dist::size()},
                        {"hardware_threads", (int)std::thread::hardware_concurrency()},
                        {"results", rows}};
            std::ofstream f(out);
            GPO_CHECK(f << res.dump(1) << "\n", "bench_comm: cannot write " << out);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_comm: error: %s\n", e.what());
        failed = true;
    }
    dist::finish(failed);
    return failed ? 1 : 0;
}
