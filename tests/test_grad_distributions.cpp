// Distributions family: values against hand formulas (Gaussian density, KL by numerical integration, Bernoulli
// pmf, straight-through mask rounding and clamps, digamma, NB pmf and its normalisation) and finite-difference
// gradient checks in double (Gaussian, Bernoulli, NB in both clamp regimes). The straight-through mask is checked
// against the ST rule written as a plain loop, and its smooth part by finite differences (see the tests).
#include <limits>

#include "engine/ops/distributions.h"
#include "kernels/cpu/nb.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

const double kEps32 = 1.1920928955078125e-7;  // float32 epsilon, the reference's clamp
const double kLog2Pi = std::log(2.0 * M_PI);

std::vector<double> eval(const std::function<Var(Tape&)>& build) {
    Tape t;
    return t.value(build(t)).to_vector();
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// The reference's relaxed sample before its clamp, written out independently of the op as torch computes it:
// probs = clamp(sigmoid(W), eps, 1-eps), u clamped the same way, s = sigmoid((logit(probs) + logit(u)) / tau).
double relaxed_s(double w, double u, double tau) {
    if (!std::isfinite(w)) w = 0.0;
    double p = std::min(std::max(sigmoid(w), kEps32), 1.0 - kEps32);
    u = std::min(std::max(u, kEps32), 1.0 - kEps32);
    return sigmoid((std::log(p) - std::log1p(-p) + std::log(u) - std::log(1.0 - u)) / tau);
}

}  // namespace

// ---------------------------------------------------------------------------- Gaussian
TEST(GradDistributionsGaussian, ValuesMatchFormulas) {
    Tensor x = random_tensor({4, 5}, DType::F64, 1, -2, 2), mu = random_tensor({4, 5}, DType::F64, 2),
           s = random_tensor({4, 5}, DType::F64, 3, 0.3, 2.0), e = random_tensor({4, 5}, DType::F64, 4, -2, 2);
    auto z = eval([&](Tape& t) { return ops::gaussian_sample(t, t.constant(mu), t.constant(s), e); });
    auto lp = eval([&](Tape& t) { return ops::gaussian_log_prob(t, t.constant(x), t.constant(mu), t.constant(s)); });
    auto sn = eval([&](Tape& t) { return ops::std_normal_log_prob(t, t.constant(x)); });
    for (int i = 0; i < 20; ++i) {
        double xi = x.f64()[i], mi = mu.f64()[i], si = s.f64()[i];
        EXPECT_NEAR(z[i], mi + si * e.f64()[i], 1e-15);
        // Density written as exp(...) / (s sqrt(2 pi)), then logged: same value up to rounding.
        double dens = std::exp(-(xi - mi) * (xi - mi) / (2 * si * si)) / (si * std::sqrt(2 * M_PI));
        EXPECT_NEAR(lp[i], std::log(dens), 1e-12);
        EXPECT_NEAR(sn[i], std::log(std::exp(-xi * xi / 2) / std::sqrt(2 * M_PI)), 1e-12);
    }
}

// KL(N1 || N2) against a numerical integral of N1(x) log(N1(x)/N2(x)) (Simpson, 20,000 panels over mu1 +- 12 s1:
// quadrature error far below 1e-9 for these smooth integrands).
TEST(GradDistributionsGaussian, KlMatchesNumericalIntegral) {
    const double cases[][4] = {{0.0, 1.0, 0.0, 1.0}, {0.3, 0.5, -1.2, 2.0}, {-2.0, 1.7, 1.0, 0.4}, {1.0, 0.05, 1.1, 0.3}};
    std::vector<double> m1, s1, m2, s2;
    for (auto& c : cases) {
        m1.push_back(c[0]), s1.push_back(c[1]), m2.push_back(c[2]), s2.push_back(c[3]);
    }
    auto T = [](const std::vector<double>& v) { return Tensor::from_vector({(int64_t)v.size()}, v, DType::F64); };
    auto kl = eval([&](Tape& t) {
        return ops::gaussian_kl(t, t.constant(T(m1)), t.constant(T(s1)), t.constant(T(m2)), t.constant(T(s2)));
    });
    for (size_t k = 0; k < m1.size(); ++k) {
        auto logn = [](double x, double m, double s) { return -0.5 * std::pow((x - m) / s, 2) - std::log(s) - 0.5 * kLog2Pi; };
        const int N = 20000;
        double a = m1[k] - 12 * s1[k], h = 24 * s1[k] / N, sum = 0;
        for (int i = 0; i <= N; ++i) {
            double x = a + i * h, w = (i == 0 || i == N) ? 1 : (i % 2 ? 4 : 2);
            double l1 = logn(x, m1[k], s1[k]);
            sum += w * std::exp(l1) * (l1 - logn(x, m2[k], s2[k]));
        }
        EXPECT_NEAR(kl[k], sum * h / 3, 1e-9) << "case " << k;
    }
    EXPECT_NEAR(kl[0], 0.0, 1e-15);  // identical distributions
}

// All Gaussian ops are smooth for scale > 0 (scales drawn in [0.3, 2]).
TEST(GradDistributionsGaussian, FiniteDifferences) {
    Tensor x = random_tensor({3, 4}, DType::F64, 5, -2, 2), mu = random_tensor({3, 4}, DType::F64, 6),
           s = random_tensor({3, 4}, DType::F64, 7, 0.3, 2.0), mu2 = random_tensor({3, 4}, DType::F64, 8),
           s2 = random_tensor({3, 4}, DType::F64, 9, 0.3, 2.0), e = random_tensor({3, 4}, DType::F64, 10, -2, 2);
    // Smooth, O(1)-scaled functions: central differences with eps = 1e-6 are accurate to ~1e-9.
    test::expect_grad_matches(
        "gaussian_sample", [&](Tape& t, const std::vector<Var>& v) { return ops::gaussian_sample(t, v[0], v[1], e); },
        {mu, s}, 1e-8, 1e-6);
    test::expect_grad_matches(
        "gaussian_log_prob",
        [](Tape& t, const std::vector<Var>& v) { return ops::gaussian_log_prob(t, v[0], v[1], v[2]); }, {x, mu, s},
        1e-8, 1e-6);
    test::expect_grad_matches(
        "std_normal_log_prob", [](Tape& t, const std::vector<Var>& v) { return ops::std_normal_log_prob(t, v[0]); },
        {x}, 1e-8, 1e-6);
    test::expect_grad_matches(
        "gaussian_kl",
        [](Tape& t, const std::vector<Var>& v) { return ops::gaussian_kl(t, v[0], v[1], v[2], v[3]); },
        {mu, s, mu2, s2}, 1e-8, 1e-6);
    // Only some inputs needing a gradient (null targets in the backward).
    test::expect_grad_matches(
        "gaussian_kl partial",
        [](Tape& t, const std::vector<Var>& v) { return ops::gaussian_kl(t, v[0], v[1], v[2], v[3]); },
        {mu, s, mu2, s2}, 1e-8, 1e-6, 1e-6, {1, 2});
}

TEST(GradDistributionsGaussian, ShapeMismatchNamesOp) {
    Tape t;
    Var a = t.constant(Tensor::zeros({2, 3}, DType::F64)), b = t.constant(Tensor::zeros({3, 2}, DType::F64));
    try {
        ops::gaussian_log_prob(t, a, a, b);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("gaussian_log_prob"), std::string::npos) << m;
        EXPECT_NE(m.find("[3, 2]"), std::string::npos) << m;
    }
}

// ---------------------------------------------------------------------------- Bernoulli
TEST(GradDistributionsBernoulli, ValuesMatchPmf) {
    // value (P=2, 2, 3) with logits (2, 3) broadcast; logits include saturated +-30.
    std::vector<double> lv = {-30, -2.5, -0.3, 0.0, 1.7, 30};
    std::vector<double> vv = {0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1};
    Tensor L = Tensor::from_vector({2, 3}, lv, DType::F64), V = Tensor::from_vector({2, 2, 3}, vv, DType::F64);
    for (int clamp = 0; clamp < 2; ++clamp) {
        auto lp = eval([&](Tape& t) { return ops::bernoulli_log_prob(t, t.constant(V), t.constant(L), clamp); });
        for (int i = 0; i < 12; ++i) {
            double l = lv[i % 6], v = vv[i];
            double expected;
            if (clamp) {
                double p = std::min(std::max(sigmoid(l), kEps32), 1 - kEps32);
                expected = v == 1 ? std::log(p) : std::log(1 - p);
            } else {
                // log sigmoid(l) for v = 1, log sigmoid(-l) for v = 0, from the plain pmf (no clamp).
                expected = v == 1 ? -std::log1p(std::exp(-l)) : -std::log1p(std::exp(l));
            }
            EXPECT_NEAR(lp[i], expected, 1e-12) << "clamp " << clamp << " i " << i;
        }
    }
    // Clamped: a saturated logit gives log(eps) for the unlikely outcome, not -30.
    auto lp = eval([&](Tape& t) { return ops::bernoulli_log_prob(t, t.constant(V), t.constant(L), true); });
    EXPECT_NEAR(lp[6], std::log(kEps32), 1e-9);  // v = 1 under logit -30
}

// Logits in [-3, 3] plus +-25 (clamped branch, gradient 0 there; far from the clamp kink at |l| = 15.9).
TEST(GradDistributionsBernoulli, FiniteDifferencesSameShapeAndBroadcast) {
    Tensor L = random_tensor({3, 4}, DType::F64, 11, -3, 3);
    L.f64()[1] = 25, L.f64()[6] = -25;
    Tensor V3 = random_tensor({2, 3, 4}, DType::F64, 12, 0, 2);  // floor -> 0/1 below
    for (int64_t i = 0; i < V3.numel(); ++i) V3.f64()[i] = std::floor(V3.f64()[i]);
    Tensor V2 = V3.view(0, {3, 4}).clone();
    for (int clamp = 0; clamp < 2; ++clamp) {
        auto f = [clamp](Tape& t, const std::vector<Var>& v) { return ops::bernoulli_log_prob(t, v[0], v[1], clamp); };
        // Smooth in both inputs away from the kink (linear in value): eps = 1e-6 gives ~1e-9 accuracy.
        test::expect_grad_matches("bernoulli same clamp=" + std::to_string(clamp), f, {V2, L}, 1e-8, 1e-6);
        test::expect_grad_matches("bernoulli broadcast clamp=" + std::to_string(clamp), f, {V3, L}, 1e-8, 1e-6);
    }
    // The clamped gradient to logits is exactly 0 at a saturated logit, and d/dvalue = logit(clamped p).
    Tape t;
    Var v = t.input(V2), l = t.input(L);
    t.backward(ops::bernoulli_log_prob(t, v, l, true), Tensor::full({3, 4}, 1.0, DType::F64));
    EXPECT_EQ(t.grad(l).to_vector()[1], 0.0);
    EXPECT_NEAR(t.grad(v).to_vector()[1], std::log(1 - kEps32) - std::log(kEps32), 1e-9);
}

TEST(GradDistributionsBernoulli, BadBroadcastNamesShapes) {
    Tape t;
    Var v = t.constant(Tensor::zeros({2, 3, 4}, DType::F64)), l = t.constant(Tensor::zeros({4, 3}, DType::F64));
    try {
        ops::bernoulli_log_prob(t, v, l, true);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("bernoulli_log_prob"), std::string::npos) << m;
        EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
    }
}

// ---------------------------------------------------------------------------- straight-through relaxed Bernoulli
TEST(GradDistributionsRelaxedST, RoundingAndClamps) {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    // logits (1, 8) against u (1, 1, 8):
    //  0: W 0, u 0.5 -> s = 0.5 exactly -> rounds to 0 (half to even)
    //  1: W 1e-3, u 0.5 -> s just above 0.5 -> 1
    //  2: W 0, u 0 -> u clamps to eps, s = eps -> 0;  3: W 0, u 1 -> s = 1 - eps -> 1
    //  4: W -40 -> s clamps up to eps -> 0;  5: W 40 -> 1
    //  6: W NaN -> W' = 0, u 0.7 -> 1;  7: W -inf -> W' = 0, u 0.2 -> 0
    std::vector<double> w = {0, 1e-3, 0, 0, -40, 40, nan, -inf}, u = {0.5, 0.5, 0, 1, 0.5, 0.5, 0.7, 0.2};
    std::vector<double> expected = {0, 1, 0, 1, 0, 1, 1, 0};
    for (DType dt : {DType::F64, DType::F32}) {
        Tensor W = Tensor::from_vector({1, 8}, w, dt), U = Tensor::from_vector({1, 1, 8}, u, dt);
        Tape t;
        Var wv = t.input(W);
        Var M = ops::relaxed_bernoulli_st(t, wv, U, 1.0);
        std::vector<double> m = t.value(M).to_vector();
        for (int j = 0; j < 8; ++j) EXPECT_EQ(m[j], expected[j]) << "entry " << j << " " << dtype_name(dt);
        EXPECT_EQ(relaxed_s(0, 0.5, 1.0), 0.5);  // the tie really is a tie
        t.backward(M, Tensor::full({1, 1, 8}, 1.0, dt));
        std::vector<double> g = t.grad(wv).to_vector();
        EXPECT_NEAR(g[0], 0.25, 1e-7);  // s(1-s) at s = 0.5 (float rounding in f32)
        for (int j : {4, 5, 6, 7}) EXPECT_EQ(g[j], 0.0) << "saturated or non-finite entry " << j;
    }
}

// Beyond |W| = logit(1 - eps) ~ 15.94 torch clamps sigmoid(W), so the logit the noise is added to stops growing and
// no gradient reaches W, even where the relaxed sample itself is far from its clamp: W = +-18 with u = 2e-7 or
// 1 - 2e-7 gives s ~ 0.63 / 0.37 (the uncapped rule would pass s(1-s) ~ 0.23 of gradient), W = 25 with u = 3e-7 s ~ 0.7.
TEST(GradDistributionsRelaxedST, NoGradientBeyondTheProbabilityClamp) {
    std::vector<double> w = {18, -18, 25, -30}, u = {2e-7, 1 - 2e-7, 3e-7, 0.5};
    for (DType dt : {DType::F64, DType::F32}) {
        Tensor W = Tensor::from_vector({1, 4}, w, dt), U = Tensor::from_vector({1, 1, 4}, u, dt);
        Tape t;
        Var wv = t.input(W);
        Var M = ops::relaxed_bernoulli_st(t, wv, U, 1.0);
        std::vector<double> m = t.value(M).to_vector();
        for (int j = 0; j < 4; ++j) {
            double s = relaxed_s(w[j], u[j], 1.0);
            EXPECT_EQ(m[j], std::min(std::max(s, kEps32), 1 - kEps32) > 0.5 ? 1.0 : 0.0)
                << "entry " << j << " (s = " << s << ") " << dtype_name(dt);
        }
        EXPECT_GT(relaxed_s(18, 2e-7, 1.0) * (1 - relaxed_s(18, 2e-7, 1.0)), 0.2);  // s well inside its clamp
        t.backward(M, Tensor::full({1, 1, 4}, 1.0, dt));
        for (double g : t.grad(wv).to_vector()) EXPECT_EQ(g, 0.0) << dtype_name(dt);
    }
}

// dW must equal the straight-through rule sum_p dM * s(1-s)/tau (inside the clamp, W finite), written as a plain
// loop here; finite differences of M itself are 0 almost everywhere, so they cannot check this.
TEST(GradDistributionsRelaxedST, BackwardMatchesStraightThroughRule) {
    const int64_t P = 3, T = 4, C = 5;
    const double tau = 0.7;
    Tensor W = random_tensor({T, C}, DType::F64, 21, -3, 3), U = random_tensor({P, T, C}, DType::F64, 22, 0.01, 0.99);
    W.f64()[2] = 40, W.f64()[7] = -40, W.f64()[11] = std::numeric_limits<double>::quiet_NaN();
    Tensor dM = random_tensor({P, T, C}, DType::F64, 23, -1, 1);
    Tape t;
    Var w = t.input(W);
    Var M = ops::relaxed_bernoulli_st(t, w, U, tau);
    t.backward(M, dM);
    std::vector<double> g = t.grad(w).to_vector(), m = t.value(M).to_vector();
    for (int64_t j = 0; j < T * C; ++j) {
        double expected = 0;
        for (int64_t p = 0; p < P; ++p) {
            double s = relaxed_s(W.f64()[j], U.f64()[p * T * C + j], tau);
            double sc = std::min(std::max(s, kEps32), 1 - kEps32);
            EXPECT_EQ(m[p * T * C + j], std::nearbyint(sc)) << "M[" << p << ", " << j << "]";  // default mode: half even
            if (std::isfinite(W.f64()[j]) && s >= kEps32 && s <= 1 - kEps32)
                expected += dM.f64()[p * T * C + j] * s * (1 - s) / tau;
        }
        EXPECT_NEAR(g[j], expected, 1e-14) << "dW[" << j << "]";  // same arithmetic: rounding only
    }
    EXPECT_EQ(g[2], 0.0);
    EXPECT_EQ(g[7], 0.0);
    EXPECT_EQ(g[11], 0.0);
}

// The smooth part of the ST gradient by finite differences: the op's dW must equal sum_p dM * ds/dW where ds/dW
// is a central difference of the relaxed sample s(W) (computed here, before rounding). This checks the derivative
// formula (temperature, noise terms) without relying on it. Inputs keep s inside the clamp range.
TEST(GradDistributionsRelaxedST, SmoothPartMatchesFiniteDifferences) {
    const int64_t P = 4, n = 12;
    const double tau = 0.6, h = 1e-6;
    Tensor W = random_tensor({3, 4}, DType::F64, 31, -2, 2), U = random_tensor({P, 3, 4}, DType::F64, 32, 0.05, 0.95);
    Tensor dM = random_tensor({P, 3, 4}, DType::F64, 33, 0.5, 1.5);
    Tape t;
    Var w = t.input(W);
    t.backward(ops::relaxed_bernoulli_st(t, w, U, tau), dM);
    std::vector<double> g = t.grad(w).to_vector();
    for (int64_t j = 0; j < n; ++j) {
        double numeric = 0;
        for (int64_t p = 0; p < P; ++p) {
            double u = U.f64()[p * n + j], wj = W.f64()[j];
            numeric += dM.f64()[p * n + j] * (relaxed_s(wj + h, u, tau) - relaxed_s(wj - h, u, tau)) / (2 * h);
        }
        EXPECT_NEAR(g[j], numeric, 1e-8) << "dW[" << j << "]";  // central differences, h = 1e-6: ~1e-10 error
    }
}

// The model's composition log q(M) = bernoulli_log_prob(relaxed_bernoulli_st(W, u), W, clamp) sends gradient to
// W along two paths. Finite differences of the composition see only the smooth path through p (M is locally
// constant: inputs keep every pre-sigmoid value at least 1e-3 from the 0.5 threshold), so
// dW (tape) - [ST path: sum_p dlogq * logit(p) * s(1-s)/tau, as a loop] must match them.
TEST(GradDistributionsRelaxedST, CompositionWithLogQ) {
    const int64_t P = 3, n = 10;
    const double tau = 1.0;
    Tensor W = random_tensor({2, 5}, DType::F64, 41, -2, 2), U = random_tensor({P, 2, 5}, DType::F64, 42, 0.05, 0.95);
    for (int64_t p = 0; p < P; ++p)
        for (int64_t j = 0; j < n; ++j) {
            double& u = U.f64()[p * n + j];
            double z = W.f64()[j] + std::log(u) - std::log(1 - u);
            if (std::fabs(z) < 1e-3) u = 0.5 + 0.2 * (u - 0.5) + 0.1;  // move away from the threshold
            ASSERT_GT(std::fabs(W.f64()[j] + std::log(u) - std::log(1 - u)), 1e-3);
        }
    auto logq = [&](Tape& t, const std::vector<Var>& v) {
        return ops::bernoulli_log_prob(t, ops::relaxed_bernoulli_st(t, v[0], U, tau), v[0], true);
    };
    Tensor w8 = random_tensor({P, 2, 5}, DType::F64, 43, 0.5, 1.5);  // loss weights: L = sum w8 * log q
    Tape t;
    Var w = t.input(W);
    t.backward(logq(t, {w}), w8);
    std::vector<double> g = t.grad(w).to_vector();
    for (int64_t j = 0; j < n; ++j) {
        double st_path = 0, lp_minus = 0, lp_plus = 0, h = 1e-6;
        for (int64_t p = 0; p < P; ++p) {
            double s = relaxed_s(W.f64()[j], U.f64()[p * n + j], tau);
            double pr = sigmoid(W.f64()[j]);
            st_path += w8.f64()[p * n + j] * (std::log(pr) - std::log(1 - pr)) * s * (1 - s) / tau;
            double m = s > 0.5 ? 1 : 0;
            auto lq = [&](double wv) { double q = sigmoid(wv); return m * std::log(q) + (1 - m) * std::log(1 - q); };
            lp_plus += w8.f64()[p * n + j] * lq(W.f64()[j] + h);
            lp_minus += w8.f64()[p * n + j] * lq(W.f64()[j] - h);
        }
        double fd = (lp_plus - lp_minus) / (2 * h);
        EXPECT_NEAR(g[j] - st_path, fd, 1e-8) << "dW[" << j << "]";  // central differences: ~1e-10 error
    }
}

// ---------------------------------------------------------------------------- digamma and the NB likelihood
TEST(GradDistributionsNb, DigammaAccuracy) {
    const double gamma = 0.57721566490153286061;
    EXPECT_NEAR(cpu::digamma(1.0), -gamma, 2e-15);  // a few ulps: the recurrence adds 9 terms
    EXPECT_NEAR(cpu::digamma(0.5), -gamma - 2 * std::log(2.0), 4e-15);
    double h9 = 0;
    for (int k = 1; k <= 9; ++k) h9 += 1.0 / k;
    EXPECT_NEAR(cpu::digamma(10.0), h9 - gamma, 1e-14);  // psi(n) = H_{n-1} - gamma
    // Small x: psi(x) = -1/x - gamma + sum_k (-1)^k zeta(k) x^{k-1}, k >= 2 (terms beyond zeta(6) < 1e-17).
    const double zeta[] = {0, 0, 1.6449340668482264, 1.2020569031595943, 1.0823232337111382, 1.0369277551433699,
                           1.0173430619844491};
    for (double x : {1e-3, 1e-6}) {
        double s = -1 / x - gamma;
        for (int k = 2; k <= 6; ++k) s += (k % 2 ? -1 : 1) * zeta[k] * std::pow(x, k - 1);
        EXPECT_NEAR(cpu::digamma(x), s, 1e-12 * std::fabs(s)) << x;
    }
    for (double x : {1e-4, 0.03, 0.7, 2.5, 9.999, 10.0, 10.001, 13.7, 250.0, 1e4, 1e7}) {
        // Recurrence across the series threshold, relative 1e-13.
        double rec = cpu::digamma(x + 1) - cpu::digamma(x);
        EXPECT_NEAR(rec, 1 / x, 1e-13 * (1 / x + std::fabs(cpu::digamma(x)))) << x;
        // The derivative of std::lgamma by central differences (step 1e-5 x: truncation and rounding ~1e-8
        // relative).
        double h = 1e-5 * x;
        double fd = (std::lgamma(x + h) - std::lgamma(x - h)) / (2 * h);
        EXPECT_NEAR(cpu::digamma(x), fd, 1e-7 * (1 + std::fabs(fd))) << x;
    }
    EXPECT_TRUE(std::isnan(cpu::digamma(0.0)));
    EXPECT_TRUE(std::isnan(cpu::digamma(-1.5)));
    EXPECT_NEAR(cpu::digamma(2.5f), (float)cpu::digamma(2.5), 1e-6f);  // float path: rounding only
}

namespace {

struct NbInputs {
    Tensor logits, log_theta, counts, library;
};

// P = 2 particles x B = 3 cells, G genes. Counts include zeros and large values. `mixed`: genes 5 and 6 get
// log_theta = -13 / -14 (c ~ 1e-6) with libraries >= 800, so c/mu' < 1e-6 there (the r clamp is active) while
// every other entry has c/mu' >> 1e-6.
NbInputs nb_inputs(bool mixed) {
    const int64_t P = 2, B = 3, G = 7;
    NbInputs in;
    in.logits = random_tensor({P * B, G}, DType::F64, 51, -2, 2);
    in.log_theta = random_tensor({G}, DType::F64, 52, -1, 2);
    std::vector<double> x = {0, 1, 7, 250, 0, 3, 4000,  //
                             12, 0, 0, 1, 60, 0, 2,     //
                             3, 900, 5, 0, 18, 1, 0};
    in.counts = Tensor::from_vector({B, G}, x, DType::F64);
    std::vector<double> lib = mixed ? std::vector<double>{1500, 5000, 800} : std::vector<double>{12, 300, 2500};
    in.library = Tensor::from_vector({B}, lib, DType::F64);
    if (mixed) in.log_theta.f64()[5] = -13, in.log_theta.f64()[6] = -14;
    return in;
}

// Softmax of a row, plainly.
std::vector<double> softmax_row(const Tensor& logits, int64_t r) {
    int64_t G = logits.dim(1);
    std::vector<double> e(G);
    double sum = 0;
    for (int64_t g = 0; g < G; ++g) sum += (e[g] = std::exp(logits.f64()[r * G + g]));
    for (double& v : e) v /= sum;
    return e;
}

// Counts the entries where the r clamp is active, and asserts every entry is at least 5% away from the kink.
int64_t nb_clamped_entries(const NbInputs& in) {
    int64_t R = in.logits.dim(0), G = in.logits.dim(1), B = in.counts.dim(0), clamped = 0;
    for (int64_t r = 0; r < R; ++r) {
        std::vector<double> rho = softmax_row(in.logits, r);
        for (int64_t g = 0; g < G; ++g) {
            double q = std::exp(in.log_theta.f64()[g]) / (in.library.f64()[r % B] * rho[g] + 1e-4);
            EXPECT_GT(std::fabs(std::log(q / 1e-6)), 0.05) << "entry (" << r << ", " << g << ") is near the clamp";
            clamped += q < 1e-6;
        }
    }
    return clamped;
}

Var nb_graph(Tape& t, const std::vector<Var>& v, const NbInputs& in) {
    return ops::nb_log_prob_softmax(t, v[0], v[1], in.counts, in.library);
}

}  // namespace

// Forward against the NB pmf in its mean form (docs/model.md §2, second line) with a plain softmax, and, where the
// clamp is active, the rate form with r = 1e-6.
TEST(GradDistributionsNb, ValueMatchesDirectFormula) {
    for (bool mixed : {false, true}) {
        NbInputs in = nb_inputs(mixed);
        int64_t clamped = nb_clamped_entries(in);
        EXPECT_EQ(clamped > 0, mixed);
        int64_t R = in.logits.dim(0), G = in.logits.dim(1), B = in.counts.dim(0);
        auto out = eval([&](Tape& t) {
            return ops::nb_log_prob_softmax(t, t.constant(in.logits), t.constant(in.log_theta), in.counts, in.library);
        });
        ASSERT_EQ((int64_t)out.size(), R);
        for (int64_t r = 0; r < R; ++r) {
            std::vector<double> rho = softmax_row(in.logits, r);
            double expected = 0;
            for (int64_t g = 0; g < G; ++g) {
                double x = in.counts.f64()[(r % B) * G + g], c = std::exp(in.log_theta.f64()[g]);
                double mu1 = in.library.f64()[r % B] * rho[g] + 1e-4;
                double base = std::lgamma(x + c) - std::lgamma(c) - std::lgamma(x + 1);
                if (c / mu1 >= 1e-6)
                    expected += base + c * std::log(c / (c + mu1)) + x * std::log(mu1 / (c + mu1));
                else
                    expected += base + c * std::log(1e-6) - (c + x) * std::log(1 + 1e-6);
            }
            // Sums of ~7 terms up to ~3e4 (lgamma of 4000) in another algebraic form: rounding ~1e-11 relative.
            EXPECT_NEAR(out[r], expected, 1e-9 * (1 + std::fabs(expected))) << "row " << r << " mixed " << mixed;
        }
    }
}

// With one gene the softmax is 1 and mu = library: exp(out) over x = 0..399 is the NB pmf with mean mu' = 20 + 1e-4
// and concentration 3, so it sums to 1 and has mean mu' (the tail beyond 399 is below 1e-20).
TEST(GradDistributionsNb, PmfNormalisesWithMeanMuPlusShift) {
    const int64_t B = 400;
    std::vector<double> x(B);
    for (int64_t b = 0; b < B; ++b) x[b] = (double)b;
    Tensor counts = Tensor::from_vector({B, 1}, x, DType::F64), lib = Tensor::full({B}, 20.0, DType::F64);
    auto out = eval([&](Tape& t) {
        return ops::nb_log_prob_softmax(t, t.constant(Tensor::zeros({B, 1}, DType::F64)),
                                        t.constant(Tensor::full({1}, std::log(3.0), DType::F64)), counts, lib);
    });
    double total = 0, mean = 0;
    for (int64_t b = 0; b < B; ++b) total += std::exp(out[b]), mean += b * std::exp(out[b]);
    EXPECT_NEAR(total, 1.0, 1e-12);  // ~400 terms of rounding
    EXPECT_NEAR(mean, 20.0001, 1e-10);
}

// Finite differences in both regimes. The loss sums terms up to ~3e4 (lgamma(4000)), so the rounding error of a
// central difference with eps = 1e-5 is ~1e-16 * 1e5 / 1e-5 = 1e-6 absolute; truncation is ~eps^2 * O(10).
// Tolerance: 2e-5 absolute plus 1e-6 relative (gradients reach ~1e3 for large counts with small mu).
TEST(GradDistributionsNb, FiniteDifferencesClampInactive) {
    NbInputs in = nb_inputs(false);
    EXPECT_EQ(nb_clamped_entries(in), 0);
    auto f = [&](Tape& t, const std::vector<Var>& v) { return nb_graph(t, v, in); };
    test::expect_grad_matches("nb inactive", f, {in.logits, in.log_theta}, 2e-5, 1e-6, 1e-5);
    test::expect_grad_matches("nb inactive, logits only", f, {in.logits, in.log_theta}, 2e-5, 1e-6, 1e-5, {0});
    test::expect_grad_matches("nb inactive, log_theta only", f, {in.logits, in.log_theta}, 2e-5, 1e-6, 1e-5, {1});
}

TEST(GradDistributionsNb, FiniteDifferencesClampActive) {
    NbInputs in = nb_inputs(true);
    EXPECT_GT(nb_clamped_entries(in), 0);
    auto f = [&](Tape& t, const std::vector<Var>& v) { return nb_graph(t, v, in); };
    test::expect_grad_matches("nb mixed", f, {in.logits, in.log_theta}, 2e-5, 1e-6, 1e-5);
}

// Where the clamp is active the term does not depend on mu, so a row whose genes are all clamped gives zero
// gradient to its logits (checked exactly), while log_theta still gets c * (psi(x+c) - psi(c) + log r - log(1+r)).
TEST(GradDistributionsNb, ClampedRowHasNoLogitGradient) {
    Tensor logits = Tensor::from_vector({1, 3}, {0.1, -0.4, 0.3}, DType::F64);
    Tensor lt = Tensor::full({3}, -14.0, DType::F64);  // c = 8.3e-7, mu' >= ~2700 -> q ~ 3e-10
    Tensor counts = Tensor::from_vector({1, 3}, {5, 0, 2000}, DType::F64), lib = Tensor::full({1}, 1e4, DType::F64);
    Tape t;
    Var l = t.input(logits), th = t.input(lt);
    t.backward(ops::nb_log_prob_softmax(t, l, th, counts, lib), Tensor::full({1}, 1.0, DType::F64));
    for (double g : t.grad(l).to_vector()) EXPECT_EQ(g, 0.0);
    std::vector<double> gt = t.grad(th).to_vector();
    double c = std::exp(-14.0);
    for (int g = 0; g < 3; ++g) {
        double x = counts.f64()[g];
        double expected = c * (cpu::digamma(x + c) - cpu::digamma(c) + std::log(1e-6) - std::log1p(1e-6));
        EXPECT_NEAR(gt[g], expected, 1e-12 * (1 + std::fabs(expected)));  // same formula: rounding only
    }
}

TEST(GradDistributionsNb, BadShapesNameOp) {
    Tape t;
    Var l = t.constant(Tensor::zeros({5, 4}, DType::F64)), th = t.constant(Tensor::zeros({4}, DType::F64));
    try {
        ops::nb_log_prob_softmax(t, l, th, Tensor::zeros({2, 4}, DType::F64), Tensor::zeros({2}, DType::F64));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("nb_log_prob_softmax"), std::string::npos) << m;
        EXPECT_NE(m.find("[5, 4]"), std::string::npos) << m;
    }
}
