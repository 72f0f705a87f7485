// Microbenchmarks for the sparse/GRN family at reference scale: the K-hop GRN accumulation (T = 1546, 5 hops)
// forward + backward over the ~350 rows present in a batch and over all rows, and the one-hot dosage product
// z_p = D (M . E) for 5 particles x 512 cells.
#include "engine/ops/sparse.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

static std::function<void()> grn_fwd_bwd(Device dev, int64_t T, int64_t R, int hops) {
    Tensor A = Tensor::full({T, T}, 0.5 / (double)T).to(dev);
    std::vector<int32_t> r((size_t)R);
    for (int64_t i = 0; i < R; ++i) r[i] = (int32_t)((i * 37) % T);  // distinct when R <= T (37 is prime to 1546)
    Tensor rows = Tensor::from_ints({R}, r).to(dev);
    Tensor seed = Tensor::full({R, T}, 1.0).to(dev);
    return [=] {
        Tape t;
        Var S = ops::grn_khop_rows(t, t.input(A), rows, hops);
        t.backward(S, seed);
    };
}

static ops::Dosage one_hot(int64_t B, int64_t T) {
    std::vector<std::vector<std::pair<int, double>>> lists((size_t)B);
    for (int64_t n = 0; n < B; ++n)
        if (n % 8 != 0) lists[n].push_back({(int)((n * 131) % T), 1.0});  // every 8th cell a control
    return ops::Dosage::from_lists(lists, T, DType::F32);
}

static gpo::bench::Registrar reg([] {
    const int64_t T = 1546;
    const int hops = 5;
    for (int64_t R : {int64_t(350), T}) {
        std::string shape = "T" + std::to_string(T) + "_hops" + std::to_string(hops) + "_rows" + std::to_string(R);
        // forward: K GEMMs (R, T) x (T, T); backward: K GEMMs for the G_k and one (T, K R) x (K R, T) for dA.
        double flops = 3 * 2.0 * hops * (double)R * T * T;
        gpo::bench::add("grn_khop_rows_fwd_bwd", shape, {flops, 0},
                        [=](Device dev) { return grn_fwd_bwd(dev, T, R, hops); });
    }
    const int64_t P = 5, B = 512, C = 1546;
    std::string shape = "P" + std::to_string(P) + "_T" + std::to_string(T) + "_C" + std::to_string(C) + "_B" +
                        std::to_string(B) + "_onehot";
    // Forward: read one X row and write one output row per (particle, cell).
    gpo::bench::add("dosage_gather_fwd", shape, {0, 2.0 * 4 * P * B * C}, [=](Device dev) {
        Tensor X = Tensor::full({P, T, C}, 0.01).to(dev);
        ops::Dosage D = one_hot(B, T).to(dev);
        return std::function<void()>([=] {
            Tape t;
            NoGradGuard ng(t);
            ops::dosage_gather(t, t.constant(X), D);
        });
    });
    // Forward + backward: the above, plus zeroing dX (P T C) and a read of dout and read-modify-write of dX rows.
    gpo::bench::add("dosage_gather_fwd_bwd", shape, {0, 4.0 * (2 * P * B * C + P * T * C + 3 * P * B * C)},
                    [=](Device dev) {
                        Tensor X = Tensor::full({P, T, C}, 0.01).to(dev);
                        Tensor seed = Tensor::full({P, B, C}, 1.0).to(dev);
                        ops::Dosage D = one_hot(B, T).to(dev);
                        return std::function<void()>([=] {
                            Tape t;
                            Var y = ops::dosage_gather(t, t.input(X), D);
                            t.backward(y, seed);
                        });
                    });
});
