// Microbenchmark: Sinkhorn OT matching of one perturbation group against a split's controls (reference scale of a
// K562 label: ~130 cells vs ~3,000 controls, and a large Papalexi-like group 1,000 vs 1,500; 25 features).
#include "engine/data/sinkhorn.h"
#include "kernels/cuda/sinkhorn.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

static gpo::bench::Registrar reg([] {
    struct S { int64_t n, m; };
    for (S s : {S{130, 3000}, S{1000, 1500}}) {
        const int d = 25;
        std::string shape = std::to_string(s.n) + "x" + std::to_string(s.m) + "x" + std::to_string(d);
        gpo::bench::add("sinkhorn_match", shape, {}, [=](Device dev) -> std::function<void()> {
            std::vector<double> src = gpo::bench::bench_input({s.n, d}, 1, 0, 3).to_vector();
            std::vector<double> dst = gpo::bench::bench_input({s.m, d}, 2, 0, 3).to_vector();
            if (dev == Device::CPU) return [=] { data::sinkhorn_match(src, dst, d, 1.0, 100.0, 1000, 1e-9); };
#ifdef GPO_WITH_CUDA
            return [=] { cuda::sinkhorn_match(src, dst, d, 1.0, 100.0, 1000, 1e-9); };
#else
            return [] {};
#endif
        });
    }
});
