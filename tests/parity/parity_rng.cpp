// CUDA-vs-CPU parity of the RNG fills (engine/rng.h) at odd sizes and at a large offset: uniform, normal, Poisson,
// gamma-Poisson and the NB counts must be bit-identical; gamma is bit-identical by construction too
// (kernels/philox.h: the same IEEE-only double arithmetic on both sides), and is checked against the documented
// guarantee of 1e-5 relative.
#include <cmath>

#include "engine/rng.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

const uint64_t kOffsets[] = {0, (1ull << 33) + 5};
const RngKey kKey{0xDEADBEEFCAFEF00Dull, 0x0000123456789ABCull};  // both seed words and all stream bits in use

// Fills `kind` on CPU and on CUDA with the same key and offset; params are CPU f32 tensors of shape {n}.
std::vector<double> fill_on(Device dev, const std::string& kind, int64_t n, uint64_t offset,
                            const std::vector<Tensor>& params) {
    Tensor out = Tensor::empty({n}, DType::F32, dev);
    if (kind == "uniform") rng_uniform(out, kKey, offset);
    else if (kind == "normal") rng_normal(out, kKey, offset);
    else if (kind == "gamma") rng_gamma(out, params[0].to(dev), params[1].to(dev), kKey, offset);
    else if (kind == "gamma_poisson") rng_gamma_poisson(out, params[0].to(dev), params[1].to(dev), kKey, offset);
    else rng_poisson(out, params[0].to(dev), kKey, offset);
    return out.to_vector();
}

void expect_parity(const std::string& kind, const std::vector<Tensor>& params, int64_t n, uint64_t offset,
                   test::Tol tol) {
    std::vector<double> cpu = fill_on(Device::CPU, kind, n, offset, params);
    std::vector<double> gpu = fill_on(Device::CUDA, kind, n, offset, params);
    test::expect_close(kind + " n=" + std::to_string(n) + " offset=" + std::to_string(offset), cpu, gpu, tol);
}

}  // namespace

TEST(ParityRng, UniformAndNormalBitIdentical) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes())
        for (uint64_t off : kOffsets) {
            // Same Philox words and the same uncontracted float operations on both sides: exact.
            expect_parity("uniform", {}, n, off, {0.0, 0.0});
            expect_parity("normal", {}, n, off, {0.0, 0.0});
        }
}

TEST(ParityRng, GammaMatches) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes())
        for (uint64_t off : kOffsets) {
            Tensor shape = random_tensor({n}, DType::F32, 31, 0.05, 6.0);  // both sides of the shape < 1 boost
            Tensor rate = random_tensor({n}, DType::F32, 32, 0.2, 4.0);
            // Guarantee: 1e-5 relative (the design gives exact equality; see kernels/philox.h).
            expect_parity("gamma", {shape, rate}, n, off, {0.0, 1e-5});
        }
}

TEST(ParityRng, PoissonBitIdentical) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes())
        for (uint64_t off : kOffsets) {
            // Rates over both samplers (multiplication below 10, PTRS above), with exact zeros mixed in.
            std::vector<double> r = random_tensor({n}, DType::F64, 33, -300.0, 1500.0).to_vector();
            for (int64_t i = 0; i < n; ++i) {
                if (r[i] < 0) r[i] = i % 3 == 0 ? 0.0 : -r[i] / 30.0;  // 0 or in (0, 10)
            }
            expect_parity("poisson", {Tensor::from_vector({n}, r, DType::F32)}, n, off, {0.0, 0.0});
        }
}

TEST(ParityRng, GammaPoissonBitIdentical) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes())
        for (uint64_t off : kOffsets) {
            // Means from 0.0025 to 1,200 and rates from 0.005 to 4: both the inversion (mean <= 8, rate >= 0.02)
            // and the two-stage gamma-then-Poisson draw. Counts are integers from the same IEEE-only arithmetic on
            // both sides (kernels/philox.h): exact.
            Tensor shape = random_tensor({n}, DType::F32, 34, 0.01, 6.0);
            Tensor rate = random_tensor({n}, DType::F32, 35, 0.005, 4.0);
            expect_parity("gamma_poisson", {shape, rate}, n, off, {0.0, 0.0});
        }
}

TEST(ParityRng, NbCountsBitIdentical) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    const int64_t G = 37;
    std::vector<double> c(G);
    for (int64_t g = 0; g < G; ++g) c[g] = 0.1 + 0.2 * (double)g;  // 0.1 .. 7.3
    for (int64_t rows : {1, 7, 1000})
        for (uint64_t off : kOffsets) {
            // Means from 0.001 to 60: both the inversion and the two-stage draw. The parameters are formed from the
            // same double arithmetic on both sides (kernels/cpu/rng.h nb_counts_params), then as gamma_poisson: exact.
            Tensor mean = random_tensor({rows, G}, DType::F32, 36, 0.001, 60.0);
            Tensor cpu_out = Tensor::empty({rows, G}, DType::F32), gpu_out = Tensor::empty({rows, G}, DType::F32,
                                                                                           Device::CUDA);
            rng_nb_counts(cpu_out, mean, c, kKey, off);
            rng_nb_counts(gpu_out, mean.to(Device::CUDA), c, kKey, off);
            test::expect_close("nb_counts rows=" + std::to_string(rows) + " offset=" + std::to_string(off),
                               cpu_out.to_vector(), gpu_out.to_vector(), {0.0, 0.0});
        }
}

TEST(ParityRng, InvalidParametersThrowOnCuda) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    Tensor out = Tensor::empty({3}, DType::F32, Device::CUDA);
    Tensor good = Tensor::full({3}, 1.0).to(Device::CUDA);
    Tensor bad = Tensor::from_vector({3}, {1.0, -1.0, 2.0}, DType::F32).to(Device::CUDA);
    EXPECT_THROW(rng_gamma(out, bad, good, kKey, 0), Error);
    EXPECT_THROW(rng_gamma(out, good, bad, kKey, 0), Error);
    EXPECT_THROW(rng_poisson(out, bad, kKey, 0), Error);
    EXPECT_THROW(rng_gamma_poisson(out, bad, good, kKey, 0), Error);
    Tensor nan_mean = Tensor::from_vector({3}, {1.0, std::nan(""), 2.0}, DType::F32).to(Device::CUDA);
    EXPECT_THROW(rng_nb_counts(out, nan_mean, {1.0, 1.0, 1.0}, kKey, 0), Error);
    // After a rejected call the next valid one still works (the device counter is reset per call).
    EXPECT_NO_THROW(rng_gamma(out, good, good, kKey, 0));
    EXPECT_NO_THROW(rng_poisson(out, good, kKey, 0));
}
