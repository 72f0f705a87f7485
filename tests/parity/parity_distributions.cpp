// CUDA-vs-CPU parity (f32) of the distributions family at odd sizes, forward and backward: Gaussian ops,
// Bernoulli log-pmf (same shape and broadcast, both clamp modes), the straight-through mask (alone and inside
// log q(M)), and the fused NB likelihood (including a full-width 8,563-gene row and a determinism check).
#include <limits>

#include "engine/ops/distributions.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

TEST(ParityDistributionsGaussian, OddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Shape sh = {n, 3};
        Tensor x = random_tensor(sh, DType::F32, 1, -2, 2), mu = random_tensor(sh, DType::F32, 2),
               s = random_tensor(sh, DType::F32, 3, 0.3, 2), mu2 = random_tensor(sh, DType::F32, 4),
               s2 = random_tensor(sh, DType::F32, 5, 0.3, 2), e = random_tensor(sh, DType::F32, 6, -2, 2);
        std::string tag = " n=" + std::to_string(n);
        // Element-wise f32 formulas; libm vs CUDA logf differ by an ulp or two: 1e-5 relative, 1e-5 absolute
        // (values and gradients are O(1)-O(30) for scales >= 0.3).
        test::Tol tol{1e-5, 1e-5};
        test::expect_cuda_matches_cpu(
            "gaussian_sample" + tag,
            [](Tape& t, const std::vector<Var>& v) { return ops::gaussian_sample(t, v[0], v[1], t.value(v[2])); },
            {mu, s, e}, tol);
        test::expect_cuda_matches_cpu(
            "gaussian_log_prob" + tag,
            [](Tape& t, const std::vector<Var>& v) { return ops::gaussian_log_prob(t, v[0], v[1], v[2]); },
            {x, mu, s}, tol);
        test::expect_cuda_matches_cpu(
            "std_normal_log_prob" + tag,
            [](Tape& t, const std::vector<Var>& v) { return ops::std_normal_log_prob(t, v[0]); }, {x}, tol);
        test::expect_cuda_matches_cpu(
            "gaussian_kl" + tag,
            [](Tape& t, const std::vector<Var>& v) { return ops::gaussian_kl(t, v[0], v[1], v[2], v[3]); },
            {mu, s, mu2, s2}, tol);
    }
}

TEST(ParityDistributionsBernoulli, OddSizesSameShapeAndBroadcast) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Tensor L = random_tensor({n, 5}, DType::F32, 7, -4, 4);
        L.f32()[0] = 30.f;  // saturated: clamped branch
        if (n > 1) L.f32()[6] = -30.f;
        Tensor V3 = random_tensor({3, n, 5}, DType::F32, 8, 0, 2);
        for (int64_t i = 0; i < V3.numel(); ++i) V3.f32()[i] = std::floor(V3.f32()[i]);
        Tensor V2 = V3.view(0, {n, 5}).clone();
        for (int clamp = 0; clamp < 2; ++clamp) {
            auto f = [clamp](Tape& t, const std::vector<Var>& v) {
                return ops::bernoulli_log_prob(t, v[0], v[1], clamp);
            };
            std::string tag = " n=" + std::to_string(n) + " clamp=" + std::to_string(clamp);
            // f32 log/exp differences of an ulp; dlogits sums 3 copies; values up to ~30: 1e-5 abs + 1e-5 rel.
            test::expect_cuda_matches_cpu("bernoulli same" + tag, f, {V2, L}, {1e-5, 1e-5});
            test::expect_cuda_matches_cpu("bernoulli broadcast" + tag, f, {V3, L}, {1e-5, 1e-5});
        }
    }
}

// Noise and logits are chosen so that no pre-sigmoid value lies within 1e-3 of 0 (a threshold flip between two
// f32 implementations would be a legitimate 1.0 difference) and no s lies near the clamp edges; a few logits are
// saturated (+-30) or non-finite.
TEST(ParityDistributionsRelaxedST, OddSizesAloneAndInsideLogQ) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    const int64_t P = 4;
    for (int64_t n : test::odd_sizes()) {
        const int64_t C = 5, N = n * C;
        Tensor W = random_tensor({n, C}, DType::F32, 9, -3, 3), U = random_tensor({P, n, C}, DType::F32, 10, 0.01, 0.99);
        W.f32()[0] = 30.f;
        if (n > 1) {
            W.f32()[5] = std::numeric_limits<float>::quiet_NaN();
            W.f32()[7] = -std::numeric_limits<float>::infinity();
            W.f32()[8] = -30.f;
        }
        for (int64_t p = 0; p < P; ++p)
            for (int64_t j = 0; j < N; ++j) {
                float& u = U.f32()[p * N + j];
                double w = std::isfinite(W.f32()[j]) ? W.f32()[j] : 0.0;
                if (std::fabs(w + std::log((double)u) - std::log1p(-(double)u)) < 1e-3) u = u < 0.5f ? u - 0.005f : u + 0.005f;
            }
        std::string tag = " n=" + std::to_string(n);
        for (double tau : {1.0, 0.5}) {
            // M is exact (0/1); dW sums P = 4 terms s(1-s)/tau: 1e-5 abs + 1e-5 rel.
            test::expect_cuda_matches_cpu(
                "relaxed_bernoulli_st" + tag,
                [&](Tape& t, const std::vector<Var>& v) { return ops::relaxed_bernoulli_st(t, v[0], t.value(v[1]), tau); },
                {W, U}, {1e-5, 1e-5});
        }
        // log q(M) with both gradient paths (non-finite logits replaced by 0, as the mask sees them: log q would
        // be NaN there).
        Tensor Wf = W.clone();
        for (int64_t j = 0; j < N; ++j)
            if (!std::isfinite(Wf.f32()[j])) Wf.f32()[j] = 0.f;
        test::expect_cuda_matches_cpu(
            "log q(M)" + tag,
            [](Tape& t, const std::vector<Var>& v) {
                return ops::bernoulli_log_prob(t, ops::relaxed_bernoulli_st(t, v[0], t.value(v[1]), 1.0), v[0], true);
            },
            {Wf, U}, {1e-5, 1e-5});
    }
}

namespace {

// P = 2 particles of B cells, G genes: logits in [-2, 2], integer counts mostly in [0, 50) with every 13th at
// ~1000, library = row sums + 1, log_theta in [-1, 2] with every 11th gene at -12 (so the r clamp is active for
// some entries). Inputs: logits, log_theta, counts, library (all f32).
std::vector<Tensor> nb_parity_inputs(int64_t B, int64_t G, uint64_t seed) {
    Tensor logits = random_tensor({2 * B, G}, DType::F32, seed, -2, 2);
    Tensor lt = random_tensor({G}, DType::F32, seed + 1, -1, 2);
    for (int64_t g = 0; g < G; g += 11) lt.f32()[g] = -12.f;
    Tensor counts = random_tensor({B, G}, DType::F32, seed + 2, 0, 50);
    Tensor lib = Tensor::zeros({B}, DType::F32);
    for (int64_t b = 0; b < B; ++b) {
        double sum = 1;
        for (int64_t g = 0; g < G; ++g) {
            float& x = counts.f32()[b * G + g];
            x = std::floor(x);
            if ((b * G + g) % 13 == 0) x = 1000.f + (float)(g % 7);
            sum += x;
        }
        lib.f32()[b] = (float)sum;
    }
    return {logits, lt, counts, lib};
}

Var nb_parity_graph(Tape& t, const std::vector<Var>& v) {
    return ops::nb_log_prob_softmax(t, v[0], v[1], t.value(v[2]), t.value(v[3]));
}

}  // namespace

// Tolerance for the NB graph: f32 with lgammaf/expf/logf from libm vs CUDA (a few ulps of lgamma(x+c) ~ 6e3 for
// counts ~1000), per-row sums of up to 8,563 terms and the log_theta sum over up to 1,034 rows in different
// orders, and gradients scaled by counts up to ~1000: 1e-3 absolute + 1e-3 relative. A wrong index or formula
// gives O(1) relative differences.
TEST(ParityDistributionsNb, OddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        int64_t G = n == 517 ? 601 : n + 2;
        test::expect_cuda_matches_cpu("nb_log_prob_softmax B=" + std::to_string(n) + " G=" + std::to_string(G),
                                      nb_parity_graph, nb_parity_inputs(n, G, 20 + (uint64_t)n), {1e-3, 1e-3});
    }
}

TEST(ParityDistributionsNb, FullWidthRows) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    // 8,563 genes (reference scale): ~17 genes per thread per pass, long block reductions.
    test::expect_cuda_matches_cpu("nb_log_prob_softmax B=3 G=8563", nb_parity_graph, nb_parity_inputs(3, 8563, 31),
                                  {1e-3, 1e-3});
}

TEST(ParityDistributionsNb, OnlyOneGradient) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    std::vector<Tensor> in = nb_parity_inputs(33, 45, 41);
    for (int which = 0; which < 2; ++which) {
        std::vector<std::vector<double>> grads;
        for (Device dev : {Device::CPU, Device::CUDA}) {
            Tape t;
            Var l = t.input(in[0].to(dev), which == 0), th = t.input(in[1].to(dev), which == 1);
            Var out = ops::nb_log_prob_softmax(t, l, th, in[2].to(dev), in[3].to(dev));
            t.backward(out, Tensor::full({66}, 1.0, DType::F32).to(dev));
            EXPECT_FALSE(t.grad(which == 0 ? th : l).defined());
            grads.push_back(t.grad(which == 0 ? l : th).to_vector());
        }
        test::expect_close("nb one gradient " + std::to_string(which), grads[0], grads[1], {1e-3, 1e-3});  // as above
    }
}

// The log_theta gradient is reduced through per-block partial rows in a fixed order: bit-identical across runs.
TEST(ParityDistributionsNb, BackwardIsDeterministic) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    std::vector<Tensor> in = nb_parity_inputs(517, 300, 51);
    std::vector<std::vector<double>> runs;
    for (int rep = 0; rep < 2; ++rep) {
        Tape t;
        Var l = t.input(in[0].to(Device::CUDA)), th = t.input(in[1].to(Device::CUDA));
        Var out = ops::nb_log_prob_softmax(t, l, th, in[2].to(Device::CUDA), in[3].to(Device::CUDA));
        t.backward(out, Tensor::full({1034}, 1.0, DType::F32).to(Device::CUDA));
        std::vector<double> v = t.grad(th).to_vector(), gl = t.grad(l).to_vector(), o = t.value(out).to_vector();
        v.insert(v.end(), gl.begin(), gl.end());
        v.insert(v.end(), o.begin(), o.end());
        runs.push_back(v);
    }
    ASSERT_EQ(runs[0].size(), runs[1].size());
    for (size_t k = 0; k < runs[0].size(); ++k) ASSERT_EQ(runs[0][k], runs[1][k]) << "element " << k;
}
