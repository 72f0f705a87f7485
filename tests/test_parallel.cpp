// The engine's CPU threads (engine/parallel.h): every chunk runs exactly once, and the ops that use the threads
// (element-wise maps and their backward, gradient accumulation, random fills, the NB likelihood with its
// log_theta reduction) give bit-identical results with 1, 2 and 5 threads, at sizes that span many chunks.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/ops/distributions.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "kernels/cpu/nb.h"
#include "kernels/cpu/rng.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

// Restores the thread count a test changed.
struct ThreadsGuard {
    int saved = cpu_threads();
    ~ThreadsGuard() { set_cpu_threads(saved); }
};

// Same shape and the same bits in every element (to_vector widens f32 exactly; memcmp also compares NaNs).
bool bit_equal(const Tensor& a, const Tensor& b) {
    if (a.shape != b.shape || a.dtype != b.dtype) return false;
    std::vector<double> x = a.to_vector(), y = b.to_vector();
    return std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
}

// Forward and backward of a graph with every threaded op; returns the output and the input gradients.
std::vector<Tensor> threaded_graph(int threads, DType dt) {
    set_cpu_threads(threads);
    const int64_t R = 256, B = 64, G = 301;  // NB: 256 rows in chunks of 16384 / 301 = 54 rows -> 5 chunks
    Tape t;
    Var x = t.input(random_tensor({R, G}, dt, 1, -3, 3));
    Var y = t.input(random_tensor({R, G}, dt, 2, -3, 3));
    Var log_theta = t.input(random_tensor({G}, dt, 3, -1, 2));
    Tensor counts = random_tensor({B, G}, dt, 4, 0, 6);
    {
        std::vector<double> c = counts.to_vector();
        for (double& v : c) v = std::floor(v);
        counts = Tensor::from_vector(counts.shape, c, dt);
    }
    Tensor library = random_tensor({B}, dt, 5, 100, 3000);
    Tensor noise = Tensor::empty({R, G}, dt, Device::CPU);
    rng_normal(noise, RngKey{11, 2}, 123);  // 77,056 draws: 5 chunks
    Var h = ops::leaky_relu(t, ops::add(t, x, ops::mul(t, y, t.constant(noise))), 0.01);
    Var e = ops::exp(t, ops::scale(t, h, 0.1));
    Var logits = ops::sub(t, e, ops::sigmoid(t, y));
    Var ll = ops::nb_log_prob_softmax(t, logits, log_theta, counts, library);
    Var total = ops::sum_all(t, ll);
    t.backward(total);
    // Gamma and Poisson fills (negative-binomial sampling): 5 chunks each, element i from counter 7 + i.
    Tensor gam = Tensor::empty({R, G}, dt, Device::CPU), pois = Tensor::empty({R, G}, dt, Device::CPU);
    rng_gamma(gam, random_tensor({R, G}, dt, 6, 0.2, 4), random_tensor({R, G}, dt, 7, 0.1, 3), RngKey{11, 3}, 7);
    rng_poisson(pois, gam, RngKey{11, 4}, 7);
    return {t.value(total), t.grad(x), t.grad(y), t.grad(log_theta), noise, gam, pois};
}

}  // namespace

TEST(Parallel, EveryChunkRunsExactlyOnce) {
    ThreadsGuard g;
    for (int threads : {1, 2, 5}) {
        set_cpu_threads(threads);
        for (int64_t n : {0, 1, 2, 7, 1000}) {
            std::vector<std::atomic<int>> hits(n);
            for (auto& h : hits) h = 0;
            parallel_for(n, [&](int64_t c) { hits[c]++; });
            for (int64_t c = 0; c < n; ++c) EXPECT_EQ(hits[c].load(), 1) << "chunk " << c << " of " << n;
        }
        // parallel_ranges covers [0, n) with disjoint ranges of the grain.
        std::vector<int> cover(100003, 0);
        parallel_ranges((int64_t)cover.size(), 4096, [&](int64_t lo, int64_t hi) {
            EXPECT_LE(hi - lo, 4096);
            for (int64_t i = lo; i < hi; ++i) cover[i]++;
        });
        for (size_t i = 0; i < cover.size(); ++i) ASSERT_EQ(cover[i], 1) << "element " << i;
    }
}

TEST(Parallel, NestedLoopsRunInline) {
    ThreadsGuard g;
    set_cpu_threads(3);
    std::vector<std::atomic<int>> hits(64);
    for (auto& h : hits) h = 0;
    parallel_for(8, [&](int64_t a) { parallel_for(8, [&](int64_t b) { hits[a * 8 + b]++; }); });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(Parallel, ThreadedOpsAreBitIdenticalForEveryThreadCount) {
    ThreadsGuard g;
    for (DType dt : {DType::F32, DType::F64}) {
        std::vector<Tensor> one = threaded_graph(1, dt);
        for (int threads : {2, 5}) {
            std::vector<Tensor> many = threaded_graph(threads, dt);
            const char* names[] = {"loss", "d x", "d y", "d log_theta", "normal noise", "gamma draws", "Poisson draws"};
            ASSERT_EQ(one.size(), sizeof(names) / sizeof(names[0]));
            for (size_t k = 0; k < one.size(); ++k)
                EXPECT_TRUE(bit_equal(one[k], many[k]))
                    << names[k] << " differs between 1 and " << threads << " threads (" << dtype_name(dt) << ")";
        }
    }
}

// The threaded fills take element i's counter from its position in the whole tensor: equal to the kernels' fill
// of the whole range in one loop (kernels/cpu/rng.h), whatever the chunking.
TEST(Parallel, ChunkedGammaAndPoissonFillsEqualTheOneLoopKernels) {
    ThreadsGuard g;
    set_cpu_threads(3);
    const int64_t n = 70001;  // 5 chunks of kElementGrain, the last one short
    Tensor shape = random_tensor({n}, DType::F32, 31, 0.2, 4), rate = random_tensor({n}, DType::F32, 32, 0.1, 3);
    Tensor gam = Tensor::empty({n}, DType::F32, Device::CPU), pois = Tensor::empty({n}, DType::F32, Device::CPU);
    rng_gamma(gam, shape, rate, RngKey{5, 6}, 99);
    rng_poisson(pois, gam, RngKey{5, 7}, 99);
    std::vector<float> g1(n), p1(n);
    cpu::rng_gamma_fill<float>(g1.data(), shape.f32(), rate.f32(), n, 5, 6, 99);
    cpu::rng_poisson_fill<float>(p1.data(), gam.f32(), n, 5, 7, 99);
    EXPECT_EQ(std::memcmp(g1.data(), gam.f32(), n * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(p1.data(), pois.f32(), n * sizeof(float)), 0);
}

TEST(Parallel, ChunkedNbBackwardEqualsTheOneLoopReference) {
    // The op sums the log_theta gradient per row chunk, then the chunks in order; the kernel's one-loop version
    // (kernels/cpu/nb.h) adds row by row. In double the two orders agree to rounding: 1e-12 relative is ~1e4
    // ulps of headroom for sums of 256 terms.
    ThreadsGuard g;
    set_cpu_threads(2);
    const int64_t R = 256, B = 64, G = 301;
    Tensor logits = random_tensor({R, G}, DType::F64, 21, -2, 2);
    Tensor lt = random_tensor({G}, DType::F64, 22, -1, 2);
    Tensor counts = random_tensor({B, G}, DType::F64, 23, 0, 4);
    {
        std::vector<double> c = counts.to_vector();
        for (double& v : c) v = std::floor(v);
        counts = Tensor::from_vector(counts.shape, c, DType::F64);
    }
    Tensor library = random_tensor({B}, DType::F64, 24, 100, 3000);
    Tape t;
    Var l = t.input(logits), th = t.input(lt);
    t.backward(ops::sum_all(t, ops::nb_log_prob_softmax(t, l, th, counts, library)));
    std::vector<double> out(R), lse(R), dl(R * G, 0.0), dth(G, 0.0), ones(R, 1.0);
    cpu::nb_log_prob_softmax_forward<double>(out.data(), lse.data(), logits.f64(), lt.f64(), counts.f64(),
                                             library.f64(), R, B, G);
    cpu::nb_log_prob_softmax_backward<double>(dl.data(), dth.data(), ones.data(), lse.data(), logits.f64(),
                                              lt.f64(), counts.f64(), library.f64(), R, B, G);
    std::vector<double> got_th = t.grad(th).to_vector(), got_l = t.grad(l).to_vector();
    for (int64_t g2 = 0; g2 < G; ++g2)
        EXPECT_NEAR(got_th[g2], dth[g2], 1e-12 * (1 + std::fabs(dth[g2]))) << "log_theta " << g2;
    for (int64_t i = 0; i < R * G; ++i) ASSERT_EQ(got_l[i], dl[i]) << "logits " << i;  // rows: same arithmetic
}
