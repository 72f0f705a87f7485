// CUDA-vs-CPU parity of the Sinkhorn matching used for OT-matched controls: the scalings agree and every match is
// the CPU's best control or one whose plan value is within float rounding of it.
#include <cmath>

#include "engine/data/sinkhorn.h"
#include "kernels/cuda/sinkhorn.h"
#include "tests/harness.h"

using namespace gpo;

TEST(ParitySinkhorn, OddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    const int d = 7;
    for (int64_t n : test::odd_sizes()) {
        int64_t m = n == 1 ? 3 : n + 4;
        std::vector<double> src = test::random_tensor({n, d}, DType::F64, 71, 0, 3).to_vector();
        std::vector<double> dst = test::random_tensor({m, d}, DType::F64, 72, 0, 3).to_vector();
        std::vector<double> u_cpu, v_cpu, u_gpu, v_gpu;
        // Cost scale 1 (not the reference 100) so the plan is far from uniform and the argmax is informative.
        std::vector<int> cpu = data::sinkhorn_match(src, dst, d, 1.0, 1.0, 1000, 1e-9, &u_cpu, &v_cpu);
        std::vector<int> gpu = cuda::sinkhorn_match(src, dst, d, 1.0, 1.0, 1000, 1e-9, &u_gpu, &v_gpu);
        // f32 iterations against f64 ones: the converged scalings agree to ~1e-5 relative; 1e-3 leaves margin.
        test::expect_close("sinkhorn u n=" + std::to_string(n), u_cpu, u_gpu, {0, 1e-3});
        test::expect_close("sinkhorn v n=" + std::to_string(n), v_cpu, v_gpu, {0, 1e-3});
        for (int64_t i = 0; i < n; ++i) {
            if (cpu[i] == gpu[i]) continue;
            auto plan = [&](int j) {  // K_ij v_j from the CPU's scalings
                double s = 0;
                for (int k = 0; k < d; ++k) s += (src[i * d + k] - dst[j * d + k]) * (src[i * d + k] - dst[j * d + k]);
                return std::exp(-std::sqrt(s)) * v_cpu[j];
            };
            EXPECT_NEAR(plan(gpu[i]), plan(cpu[i]), 1e-4 * plan(cpu[i])) << "row " << i << " of n=" << n;
        }
    }
}
