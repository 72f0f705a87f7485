// Microbenchmark: evaluation's all-pairs effect distances (engine/eval/distances.h) at the reference scale, 1,546
// perturbations x 8,563 genes: the L1 distances alone (the ATE table's ate_discrimination_l1) and L1, L2 and cosine
// together (cell-eval's discrimination scores), each once per predictor in `gpo-engine evaluate`. CPU only (the
// metrics have no CUDA build). FLOPs per gene and pair: 4 for L1 alone ((r - p) m, |.|, +), 11 for all three
// (d = (r - p) m; |d|, d^2, r p, r^2 m, each added).
#include "engine/eval/distances.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

static gpo::bench::Registrar reg([] {
    const int64_t P = 1546, G = 8563;
    const std::string shape = std::to_string(P) + "x" + std::to_string(P) + "x" + std::to_string(G);
    for (bool l1_only : {true, false}) {
        const double flops = (double)P * (double)P * (double)G * (l1_only ? 4.0 : 11.0);
        gpo::bench::add(l1_only ? "effect_distances_l1" : "effect_distances_l1_l2_cosine", shape, {flops, 0},
                        [=](Device) -> std::function<void()> {
                            auto pred = std::make_shared<std::vector<double>>(
                                gpo::bench::bench_input({P, G}, 1, -1, 1).to_vector());
                            auto real = std::make_shared<std::vector<double>>(
                                gpo::bench::bench_input({P, G}, 2, -1, 1).to_vector());
                            auto skip = std::make_shared<std::vector<int64_t>>(P);
                            for (int64_t i = 0; i < P; ++i) (*skip)[(size_t)i] = (i * 5) % G;
                            return [=] { eval::effect_distances(pred->data(), P, real->data(), P, G, *skip, l1_only); };
                        },
                        true);
    }
});
