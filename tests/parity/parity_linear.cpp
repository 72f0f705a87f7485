// CUDA-vs-CPU parity of matmul (all transposes), bias add and linear at odd sizes.
#include "engine/ops/linear.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

TEST(ParityLinear, MatmulOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes())
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb) {
                int64_t M = n, K = (n % 5) + 3, N = n == 517 ? 33 : n + 2;
                Tensor A = random_tensor(ta ? Shape{K, M} : Shape{M, K}, DType::F32, 11);
                Tensor B = random_tensor(tb ? Shape{N, K} : Shape{K, N}, DType::F32, 12);
                // f32 sums of up to ~517 terms in different orders: 1e-4 relative plus a small absolute floor.
                test::expect_cuda_matches_cpu(
                    "matmul n=" + std::to_string(n),
                    [&](Tape& t, const std::vector<Var>& v) { return ops::matmul(t, v[0], v[1], ta, tb); }, {A, B},
                    {1e-4, 1e-4});
            }
}

TEST(ParityLinear, LinearOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Tensor x = random_tensor({n, 7}, DType::F32, 13), W = random_tensor({n, 7}, DType::F32, 14),
               b = random_tensor({n}, DType::F32, 15);
        test::expect_cuda_matches_cpu(
            "linear n=" + std::to_string(n),
            [](Tape& t, const std::vector<Var>& v) { return ops::linear(t, v[0], v[1], v[2]); }, {x, W, b},
            {1e-4, 1e-4});  // dW sums n rows in f32
    }
}
