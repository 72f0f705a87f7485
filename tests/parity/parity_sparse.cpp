// CUDA-vs-CPU parity of the sparse/GRN family at odd sizes: dosage_gather ((P, T, C) and (T, C), one-hot,
// multi-hot and empty rows), grn_khop_rows (row subsets with repeats, and all rows), l1_loss_mean.
#include "engine/ops/sparse.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

// Deterministic dosage lists: row n has n % 3 entries (0 = control, 1 = one-hot, 2 = combination), columns
// spread over [0, T) by a multiplicative hash (repeats across rows on purpose), values 1 or 0.5.
std::vector<std::vector<std::pair<int, double>>> make_lists(int64_t B, int64_t T) {
    std::vector<std::vector<std::pair<int, double>>> lists((size_t)B);
    for (int64_t n = 0; n < B; ++n)
        for (int64_t k = 0; k < n % 3; ++k) {
            int col = (int)((n * 2654435761ULL + k * 40503ULL) % (uint64_t)T);
            lists[n].push_back({col, k == 0 ? 1.0 : 0.5});
        }
    return lists;
}

std::vector<int32_t> make_rows(int64_t R, int64_t T) {
    std::vector<int32_t> rows((size_t)R);
    for (int64_t i = 0; i < R; ++i) rows[i] = (int32_t)((i * 7 + 3) % T);  // repeats when R > T / gcd
    return rows;
}

}  // namespace

TEST(ParitySparse, DosageGatherOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        const int64_t B = n, T = n == 517 ? 33 : n + 2, C = n == 517 ? 7 : n, P = 3;
        ops::Dosage Dcpu = ops::Dosage::from_lists(make_lists(B, T), T, DType::F32);
        ops::Dosage Dgpu = Dcpu.to(Device::CUDA);
        auto build = [&](Tape& t, const std::vector<Var>& v) {
            return ops::dosage_gather(t, v[0], t.value(v[0]).is_cuda() ? Dgpu : Dcpu);
        };
        // At most 2 products per output and ~B/T * 2 scatter terms per dX entry in f32, atomics reorder them.
        test::expect_cuda_matches_cpu("dosage_gather (P,T,C) n=" + std::to_string(n), build,
                                      {random_tensor({P, T, C}, DType::F32, 51)}, {1e-5, 1e-5});
        test::expect_cuda_matches_cpu("dosage_gather (T,C) n=" + std::to_string(n), build,
                                      {random_tensor({T, C}, DType::F32, 52)}, {1e-5, 1e-5});
    }
}

TEST(ParitySparse, GrnKhopOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t T : test::odd_sizes()) {
        for (int64_t R : {T, (T + 1) / 2 + 1}) {
            Tensor rows = Tensor::from_ints({R}, make_rows(R, T));
            auto build = [&](Tape& t, const std::vector<Var>& v) {
                return ops::grn_khop_rows(t, v[0], t.value(v[1]), 5);
            };
            // f32 GEMMs with inner sizes up to 5 x 517 summed in different orders (cuBLAS vs OpenBLAS);
            // entries are O(1): 1e-4 relative plus the same absolute floor.
            test::expect_cuda_matches_cpu("grn_khop_rows T=" + std::to_string(T) + " R=" + std::to_string(R), build,
                                          {random_tensor({T, T}, DType::F32, 53), rows}, {1e-4, 1e-4});
        }
    }
}

TEST(ParitySparse, L1LossOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Tensor pred = random_tensor({n, 3}, DType::F32, 54), target = random_tensor({n, 3}, DType::F32, 55);
        // Both sides take f32 differences exactly and sum them in double; the mean rounds once to f32.
        // Gradients are +-1/n (or 0 on ties, identical on both sides).
        test::expect_cuda_matches_cpu(
            "l1_loss_mean n=" + std::to_string(n),
            [](Tape& t, const std::vector<Var>& v) { return ops::l1_loss_mean(t, v[0], t.value(v[1])); },
            {pred, target}, {1e-6, 1e-6});
    }
}
