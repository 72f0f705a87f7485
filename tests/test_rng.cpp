// Tests of the counter-based RNG (engine/rng.h, kernels/philox.h) on the CPU: Random123 known-answer vectors, the
// documented counter layout, our log/exp/cos against libm, determinism and slicing, distribution moments and
// chi-square goodness of fit, parameter checks, and HostRng.
// Statistical bounds: a moment must lie within 6 standard errors (two-sided normal tail 2e-9); a chi-square statistic
// with df degrees of freedom must stay below df + 6 sqrt(2 df) (its mean + 6 sd; tail probability < 1e-4 for the df
// used here). All seeds are fixed, so the tests are deterministic; the bounds say how unlucky a correct generator
// would have to be to fail.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "engine/rng.h"
#include "kernels/cpu/rng.h"
#include "kernels/cpu/rng_lanes.h"
#include "kernels/philox.h"
#include "tests/harness.h"

using namespace gpo;

namespace {

std::vector<double> fill(const char* kind, int64_t n, DType dt, RngKey key, uint64_t offset) {
    Tensor t = Tensor::empty({n}, dt);
    if (std::string(kind) == "uniform") rng_uniform(t, key, offset);
    else rng_normal(t, key, offset);
    return t.to_vector();
}

std::vector<double> gamma_fill(int64_t n, double shape, double rate, DType dt, RngKey key, uint64_t offset = 0) {
    Tensor out = Tensor::empty({n}, dt);
    rng_gamma(out, Tensor::full({n}, shape, dt), Tensor::full({n}, rate, dt), key, offset);
    return out.to_vector();
}

std::vector<double> poisson_fill(int64_t n, double rate, DType dt, RngKey key, uint64_t offset = 0) {
    Tensor out = Tensor::empty({n}, dt);
    rng_poisson(out, Tensor::full({n}, rate, dt), key, offset);
    return out.to_vector();
}

struct Moments {
    double mean = 0, var = 0;
};
Moments moments(const std::vector<double>& v) {
    Moments m;
    for (double x : v) m.mean += x;
    m.mean /= (double)v.size();
    for (double x : v) m.var += (x - m.mean) * (x - m.mean);
    m.var /= (double)(v.size() - 1);
    return m;
}

// Checks sample mean and variance against (mean, var) with the standard errors sqrt(var / n) and
// sqrt((mu4 - var^2) / n), mu4 the true fourth central moment.
void expect_moments(const std::string& what, const std::vector<double>& v, double mean, double var, double mu4) {
    Moments m = moments(v);
    double n = (double)v.size();
    double se_mean = std::sqrt(var / n), se_var = std::sqrt((mu4 - var * var) / n);
    EXPECT_NEAR(m.mean, mean, 6 * se_mean) << what << " mean";
    EXPECT_NEAR(m.var, var, 6 * se_var) << what << " variance";
}

double chi2_bound(int df) { return df + 6.0 * std::sqrt(2.0 * df); }

// Pearson statistic of observed counts against expected counts.
double chi2(const std::vector<double>& observed, const std::vector<double>& expected) {
    double s = 0;
    for (size_t k = 0; k < observed.size(); ++k) {
        double d = observed[k] - expected[k];
        s += d * d / expected[k];
    }
    return s;
}

// Chi-square of values whose CDF maps them to uniforms: `bins` equiprobable bins of cdf(x).
template <class F>
void expect_cdf_fits(const std::string& what, const std::vector<double>& v, F cdf, int bins = 20) {
    std::vector<double> obs(bins, 0.0), expct(bins, (double)v.size() / bins);
    for (double x : v) obs[std::min(bins - 1, (int)(cdf(x) * bins))] += 1;
    EXPECT_LT(chi2(obs, expct), chi2_bound(bins - 1)) << what;
}

// Chi-square of integer draws against pmf(k), k = 0..kmax: consecutive values merged until each bin expects >= 5,
// the mass above kmax added to the last bin.
template <class F>
void expect_pmf_fits(const std::string& what, const std::vector<double>& v, int kmax, F pmf) {
    const double n = (double)v.size();
    std::vector<double> obs(kmax + 1, 0.0), O, E;
    for (double x : v) obs[std::min(kmax, (int)x)] += 1;
    double o_acc = 0, e_acc = 0, pmf_sum = 0;
    for (int k = 0; k <= kmax; ++k) {
        const double pk = pmf(k);
        pmf_sum += pk;
        o_acc += obs[k];
        e_acc += n * pk;
        if (e_acc >= 5) {
            O.push_back(o_acc);
            E.push_back(e_acc);
            o_acc = e_acc = 0;
        }
    }
    ASSERT_FALSE(O.empty()) << what;
    O.back() += o_acc;
    E.back() += e_acc + n * std::max(0.0, 1.0 - pmf_sum);  // the mass above kmax
    EXPECT_LT(chi2(O, E), chi2_bound((int)O.size() - 1)) << what << " with " << O.size() << " bins";
}

}  // namespace

// ---------------------------------------------------------------------------- the core
TEST(RngPhilox, KnownAnswerVectors) {
    // Random123 kat_vectors, philox4x32 10 rounds: counter, key -> output.
    struct Kat {
        philox::Block ctr;
        uint32_t k0, k1;
        philox::Block out;
    };
    const Kat kats[] = {
        {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
        {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
         {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
        {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
         {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
    };
    for (const Kat& k : kats) {
        philox::Block got = philox::philox4x32_10(k.ctr, k.k0, k.k1);
        for (int w = 0; w < 4; ++w) EXPECT_EQ(got.v[w], k.out.v[w]) << "word " << w;
    }
}

TEST(RngPhilox, CounterLayoutOfFills) {
    // Element i of a fill is block (index lo, index hi, stream lo, stream bits 32..47) with key (seed lo, seed hi),
    // computed here by hand from the core; uniform f32 = ((w0 >> 9) * 2 + 1) 2^-24.
    const uint64_t seed = 0x0123456789ABCDEFull, stream = 0x0000BEEF12345678ull, offset = (1ull << 33) + 5;
    RngKey key{seed, stream};
    std::vector<double> u32 = fill("uniform", 9, DType::F32, key, offset);
    std::vector<double> u64 = fill("uniform", 9, DType::F64, key, offset);
    std::vector<double> z64 = fill("normal", 9, DType::F64, key, offset);
    std::vector<double> z32 = fill("normal", 9, DType::F32, key, offset);
    for (int i = 0; i < 9; ++i) {
        uint64_t idx = offset + i;
        philox::Block c{{(uint32_t)idx, (uint32_t)(idx >> 32), 0x12345678u, 0xBEEFu}};
        philox::Block b = philox::philox4x32_10(c, 0x89ABCDEFu, 0x01234567u);
        EXPECT_EQ(u32[i], ((b.v[0] >> 9) * 2.0 + 1.0) * std::ldexp(1.0, -24)) << i;
        double k52 = std::ldexp((double)b.v[0], 20) + (double)(b.v[1] >> 12);
        EXPECT_EQ(u64[i], (2 * k52 + 1) * std::ldexp(1.0, -53)) << i;
        // Box-Muller with libm: our log/cos are accurate to a few ulp, so 1e-14 absolute (|z| < 9).
        double v1 = (2 * (std::ldexp((double)b.v[0], 20) + (b.v[1] >> 12)) + 1) * std::ldexp(1.0, -53);
        double v2 = (2 * (std::ldexp((double)b.v[2], 20) + (b.v[3] >> 12)) + 1) * std::ldexp(1.0, -53);
        EXPECT_NEAR(z64[i], std::sqrt(-2 * std::log(v1)) * std::cos(2 * M_PI * v2), 1e-14) << i;
        // f32: the same formula from the f32 uniforms, evaluated in double; float rounding of ~10 operations on
        // |z| < 6 stays below 2e-6 absolute.
        double w1 = ((b.v[0] >> 9) * 2.0 + 1.0) * std::ldexp(1.0, -24);
        double w2 = ((b.v[1] >> 9) * 2.0 + 1.0) * std::ldexp(1.0, -24);
        EXPECT_NEAR(z32[i], std::sqrt(-2 * std::log(w1)) * std::cos(2 * M_PI * w2), 2e-6) << i;
    }
}

TEST(RngMath, LogExpCosMatchLibm) {
    // Our IEEE-only log/exp/cos(2 pi u) against libm: double within 4 ulp (4 * 2^-52 relative, plus 1e-300 for
    // results at 0), float within 8 ulp of the double result (cos: absolute, since it crosses zero).
    uint64_t s = 42;
    auto next = [&] {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return (double)(s >> 11) * std::ldexp(1.0, -53);
    };
    const double eps64 = std::ldexp(1.0, -52), eps32 = std::ldexp(1.0, -23);
    for (int k = 0; k < 20000; ++k) {
        double x = std::exp(-745.0 * next() + 300.0 * next());  // spans the normal and subnormal range
        EXPECT_NEAR(philox::log_rn(x), std::log(x), 4 * eps64 * std::fabs(std::log(x)) + 1e-300) << x;
        float xf = (float)std::ldexp(next() + 0.5, -(int)(next() * 140));
        double lxf = std::log((double)xf);
        EXPECT_NEAR(philox::log_rn(xf), lxf, 8 * eps32 * std::fabs(lxf) + 1e-30) << xf;
        double y = -740.0 + 1445.0 * next();
        double ey = std::exp(y);
        double tol = ey > 2.3e-308 ? 4 * eps64 * ey : 4.95e-324 * 2;  // subnormal results: 2 units of 2^-1074
        EXPECT_NEAR(philox::exp_rn(y), ey, tol) << y;
        double u = next();
        EXPECT_NEAR(philox::cos2pi_rn(u), std::cos(2 * M_PI * u), 4 * eps64) << u;
        EXPECT_NEAR(philox::cos2pi_rn((float)u), std::cos(2 * M_PI * (double)(float)u), 8 * eps32) << u;
    }
    EXPECT_EQ(philox::log_rn(1.0), 0.0);
    EXPECT_EQ(philox::exp_rn(0.0), 1.0);
    EXPECT_EQ(philox::exp_rn(-800.0), 0.0);
    EXPECT_TRUE(std::isinf(philox::exp_rn(800.0)));
}

// ---------------------------------------------------------------------------- determinism and slices
TEST(RngFill, DeterministicPerKey) {
    RngKey a{7, 1}, b{7, 2}, c{8, 1};
    for (DType dt : {DType::F32, DType::F64})
        for (const char* kind : {"uniform", "normal"}) {
            std::vector<double> x = fill(kind, 1000, dt, a, 123), y = fill(kind, 1000, dt, a, 123);
            EXPECT_EQ(x, y) << kind;
            std::vector<double> xs = fill(kind, 1000, dt, b, 123), xk = fill(kind, 1000, dt, c, 123);
            int same_stream = 0, same_seed = 0;
            for (int i = 0; i < 1000; ++i) {
                same_stream += x[i] == xs[i];
                same_seed += x[i] == xk[i];
            }
            // Independent f32 uniforms coincide with probability 2^-23 per element: 0 expected, allow 2.
            EXPECT_LE(same_stream, 2) << kind << ": another stream gives the same values";
            EXPECT_LE(same_seed, 2) << kind << ": another seed gives the same values";
        }
}

TEST(RngFill, SliceEqualsOffsetFill) {
    // Fill of 100 at offset 0 == fill of 50 at offset 50 for its second half, for every fill and dtype.
    RngKey key{99, 3};
    for (DType dt : {DType::F32, DType::F64}) {
        for (const char* kind : {"uniform", "normal"}) {
            std::vector<double> full = fill(kind, 100, dt, key, 0), half = fill(kind, 50, dt, key, 50);
            for (int i = 0; i < 50; ++i) EXPECT_EQ(full[50 + i], half[i]) << kind << " " << i;
        }
        std::vector<double> shape(100), rate(100), prate(100);
        for (int i = 0; i < 100; ++i) {
            shape[i] = 0.25 + 0.125 * (i % 40);
            rate[i] = 0.5 + 0.25 * (i % 7);
            prate[i] = i % 3 == 0 ? 0.0 : (i % 3 == 1 ? 2.5 : 40.0 + i);
        }
        Tensor S = Tensor::from_vector({100}, shape, dt), R = Tensor::from_vector({100}, rate, dt),
               P = Tensor::from_vector({100}, prate, dt);
        Tensor g100 = Tensor::empty({100}, dt), g50 = Tensor::empty({50}, dt);
        rng_gamma(g100, S, R, key, 0);
        rng_gamma(g50, S.view(50, {50}), R.view(50, {50}), key, 50);
        Tensor p100 = Tensor::empty({100}, dt), p50 = Tensor::empty({50}, dt);
        rng_poisson(p100, P, key, 0);
        rng_poisson(p50, P.view(50, {50}), key, 50);
        std::vector<double> gf = g100.to_vector(), gh = g50.to_vector(), pf = p100.to_vector(), ph = p50.to_vector();
        for (int i = 0; i < 50; ++i) {
            EXPECT_EQ(gf[50 + i], gh[i]) << "gamma " << i;
            EXPECT_EQ(pf[50 + i], ph[i]) << "poisson " << i;
        }
    }
}

TEST(RngFill, GammaPoissonF32IsRoundedF64) {
    // Gamma and Poisson run in double whatever the output dtype: the f32 fill is the f64 fill rounded once
    // (parameters exactly representable in float).
    RngKey key{5, 6};
    for (double shape : {0.5, 1.0, 5.5}) {
        std::vector<double> g32 = gamma_fill(500, shape, 2.0, DType::F32, key);
        std::vector<double> g64 = gamma_fill(500, shape, 2.0, DType::F64, key);
        for (int i = 0; i < 500; ++i) EXPECT_EQ(g32[i], (double)(float)g64[i]) << shape << " " << i;
    }
    std::vector<double> p32 = poisson_fill(500, 37.5, DType::F32, key), p64 = poisson_fill(500, 37.5, DType::F64, key);
    EXPECT_EQ(p32, p64);
}

// ---------------------------------------------------------------------------- distributions
TEST(RngUniform, RangeMomentsAndFit) {
    const int64_t n = 1000000;
    for (DType dt : {DType::F32, DType::F64}) {
        std::vector<double> u = fill("uniform", n, dt, {2024, 0}, 17);
        double lo = *std::min_element(u.begin(), u.end()), hi = *std::max_element(u.begin(), u.end());
        EXPECT_GT(lo, 0.0);
        EXPECT_LT(hi, 1.0);
        expect_moments("uniform", u, 0.5, 1.0 / 12, 1.0 / 80);  // mu4 of U(0,1) about its mean is 1/80
        expect_cdf_fits("uniform", u, [](double x) { return x; }, 100);
    }
}

TEST(RngNormal, MomentsAndFit) {
    const int64_t n = 1000000;
    for (DType dt : {DType::F32, DType::F64}) {
        std::vector<double> z = fill("normal", n, dt, {31337, 4}, 0);
        expect_moments("normal", z, 0.0, 1.0, 3.0);
        expect_cdf_fits("normal", z, [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }, 40);
        // Tails: P(|z| > 3) = 0.0026998, binomial standard error sqrt(p (1 - p) / n).
        double p = 0.0026997960632601866, beyond = 0;
        for (double x : z) beyond += std::fabs(x) > 3;
        EXPECT_NEAR(beyond / n, p, 6 * std::sqrt(p * (1 - p) / n));
    }
}

TEST(RngGamma, MomentsForSeveralShapes) {
    const int64_t n = 200000;
    const double rate = 2.0;
    for (double k : {0.3, 1.0, 5.5})
        for (DType dt : {DType::F32, DType::F64}) {
            std::vector<double> g = gamma_fill(n, k, rate, dt, {11, 12}, 1000);
            for (double x : g) ASSERT_TRUE(x >= 0 && std::isfinite(x)) << x;
            // Gamma(k, rate): mean k/r, variance k/r^2, mu4 = (3 + 6/k) var^2 (excess kurtosis 6/k).
            double var = k / (rate * rate);
            expect_moments("gamma shape " + std::to_string(k), g, k / rate, var, (3 + 6 / k) * var * var);
        }
    // Shape 1 is exponential: CDF 1 - exp(-rate x) gives a full goodness-of-fit test.
    std::vector<double> e = gamma_fill(n, 1.0, rate, DType::F64, {11, 13});
    expect_cdf_fits("gamma shape 1", e, [&](double x) { return 1 - std::exp(-rate * x); });
}

TEST(RngPoisson, MomentsAndPmfFit) {
    const int64_t n = 200000;
    for (double lam : {0.5, 4.0, 30.0, 1000.0}) {
        std::vector<double> p = poisson_fill(n, lam, DType::F64, {21, 22}, 7);
        for (double x : p) ASSERT_TRUE(x >= 0 && x == std::floor(x)) << x;
        // Poisson: mean = variance = lam, fourth central moment lam (1 + 3 lam).
        expect_moments("poisson " + std::to_string(lam), p, lam, lam, lam * (1 + 3 * lam));
        expect_pmf_fits("poisson " + std::to_string(lam), p, (int)(lam + 20 * std::sqrt(lam) + 20),
                        [&](int k) { return std::exp(k * std::log(lam) - lam - std::lgamma(k + 1.0)); });
    }
    // f32 output and a rate exactly 0.
    std::vector<double> z = poisson_fill(100, 0.0, DType::F32, {21, 22});
    for (double x : z) EXPECT_EQ(x, 0.0);
}

// The one-step gamma-Poisson draw against the negative binomial's pmf, written here from lgamma (P(k) =
// Gamma(k + a) / (Gamma(a) k!) (r / (1 + r))^a (1 + r)^-k for shape a, rate r), on both of its paths: inversion
// (mean a / r <= 8, r >= 0.02: a geometric, a heavy tail with a long walk, a mean near 8) and the two-stage draw
// (mean 20; rate below 0.02).
TEST(RngGammaPoisson, MomentsAndPmfFitOnBothPaths) {
    const int64_t n = 200000;
    const double params[][2] = {{1.0, 0.85}, {0.05, 0.021}, {60.0, 8.0}, {2.0, 0.1}, {0.002, 0.001}};
    for (const auto& ar : params) {
        const double a = ar[0], r = ar[1];
        const std::string what = "gamma-poisson shape " + std::to_string(a) + " rate " + std::to_string(r) +
                                 (philox::nb_by_inversion(a, r) ? " (inversion)" : " (two-stage)");
        for (DType dt : {DType::F32, DType::F64}) {
            Tensor out = Tensor::empty({n}, dt);
            rng_gamma_poisson(out, Tensor::full({n}, a, dt), Tensor::full({n}, r, dt), {41, 42}, 3);
            std::vector<double> x = out.to_vector();
            for (double v : x) ASSERT_TRUE(v >= 0 && v == std::floor(v)) << what << ": " << v;
            // mean a / r, variance a / r (1 + 1 / r): the mean within 6 standard errors.
            const double mean = a / r, var = mean * (1 + 1 / r);
            EXPECT_NEAR(moments(x).mean, mean, 6 * std::sqrt(var / n)) << what;
            if (dt == DType::F64)
                expect_pmf_fits(what, x, (int)(mean + 40 * std::sqrt(var) + 20), [&](int k) {
                    return std::exp(std::lgamma(k + a) - std::lgamma(a) - std::lgamma(k + 1.0) +
                                    a * std::log(r / (1 + r)) - k * std::log1p(r));
                });
        }
    }
}

// Outside the inversion's range the draw is exactly rng_gamma on the key's stream then rng_poisson on the next
// (the documented contract of engine/rng.h); inside it, P(0) is the inversion's: a uniform below it gives 0.
TEST(RngGammaPoisson, TwoStagePathIsGammaThenPoisson) {
    const int64_t n = 1000;
    const RngKey key{8, 60};
    for (double r : {0.1, 0.01}) {
        const double a = r == 0.1 ? 2.0 : 0.5;  // means 20 and 50
        ASSERT_FALSE(philox::nb_by_inversion(a, r));
        Tensor sh = Tensor::full({n}, a, DType::F64), ra = Tensor::full({n}, r, DType::F64);
        Tensor one = Tensor::empty({n}, DType::F64), lambda = Tensor::empty({n}, DType::F64),
               two = Tensor::empty({n}, DType::F64);
        rng_gamma_poisson(one, sh, ra, key, 5);
        rng_gamma(lambda, sh, ra, key, 5);
        rng_poisson(two, lambda, RngKey{key.seed, key.stream + 1}, 5);
        EXPECT_EQ(one.to_vector(), two.to_vector()) << "rate " << r;
    }
    EXPECT_TRUE(philox::nb_by_inversion(1.0, 0.85));
    EXPECT_FALSE(philox::nb_by_inversion(8.5, 1.0));  // mean 8.5
    EXPECT_FALSE(philox::nb_by_inversion(0.1, 0.019));
}

// rng_nb_counts draws, element for element, what rng_gamma_poisson draws for the likelihood's gamma parameters
// written out here (docs/model.md §2: shape c_g, rate max(c_g / (mu + 1e-4), 1e-6), in double, rounded once to the
// tensors' type). 600 rows of 37 genes: more elements than one thread's range (16,384), so ranges start mid-row;
// means from 0 (and one negative, whose rate clamps to 1e-6) to 50 take both paths; AVX2 and the reference build.
TEST(RngNbCounts, EqualsGammaPoissonOfTheLikelihoodsParameters) {
    const int64_t rows = 600, G = 37, n = rows * G;
    std::vector<double> c(G), mu(n);
    for (int64_t g = 0; g < G; ++g) c[g] = std::exp(-2.0 + 4.0 * (double)g / (double)(G - 1));  // 0.14 .. 7.4
    for (int64_t i = 0; i < n; ++i) mu[i] = 1e-3 * std::pow(5e4, (double)((i * 7919) % 1000) / 999.0);
    mu[5] = 0.0;
    mu[6] = -0.5;
    // The parameters themselves (a count changes with them only rarely): the formula above, clamp included.
    for (double cg : {0.3, 2.0})
        for (double m : {-0.5, 0.0, 1e-6, 0.7, 40.0}) {
            float sh = 0, rt = 0;
            cpu::nb_counts_params(cg, (float)m, &sh, &rt);
            EXPECT_EQ(sh, (float)cg);
            EXPECT_EQ(rt, (float)std::max(cg / ((double)(float)m + 1e-4), 1e-6)) << "c " << cg << ", mean " << m;
        }
    const RngKey key{12, 60};
    for (const char* build : {"", "baseline"}) {
        cpu::rng_lanes_force_build(build);
        for (DType dt : {DType::F32, DType::F64}) {
            std::vector<double> shape(n), rate(n);
            for (int64_t i = 0; i < n; ++i) {
                const double cg = c[i % G], r = std::max(cg / (mu[i] + 1e-4), 1e-6);
                shape[i] = dt == DType::F32 ? (double)(float)cg : cg;
                rate[i] = dt == DType::F32 ? (double)(float)r : r;
            }
            Tensor mean = Tensor::from_vector({rows, G}, mu, dt);
            Tensor want = Tensor::empty({rows, G}, dt), got = Tensor::empty({rows, G}, dt);
            rng_gamma_poisson(want, Tensor::from_vector({rows, G}, shape, dt), Tensor::from_vector({rows, G}, rate, dt),
                              key, 9);
            rng_nb_counts(got, mean, c, key, 9);
            const std::vector<double> w = want.to_vector(), h = got.to_vector();
            int64_t differ = 0;
            for (int64_t i = 0; i < n; ++i) differ += w[i] != h[i];
            EXPECT_EQ(differ, 0) << "build '" << build << "', " << (dt == DType::F32 ? "f32" : "f64");
        }
    }
    cpu::rng_lanes_force_build("");
}

TEST(RngNbCounts, InvalidMeansAndConcentrationsThrowNamingTheElement) {
    const RngKey key{1, 1};
    const int64_t G = 8;  // rows of 8: element 12 sits in a group of four lanes
    Tensor out = Tensor::empty({2, G}, DType::F64);
    const std::vector<double> c = {1.0, 0.5, 2.0, 1.0, 1.0, 3.0, 1.0, 0.2};
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    // Means that are not finite, and -1e-4 (rate c / 0 = inf). The AVX2 lanes and the reference build.
    for (const char* build : {"", "baseline"})
        for (double bad : {nan, inf, -inf, -1e-4}) {
            cpu::rng_lanes_force_build(build);
            std::vector<double> mu(2 * G, 1.0);
            mu[12] = bad;
            try {
                rng_nb_counts(out, Tensor::from_vector({2, G}, mu, DType::F64), c, key, 0);
                ADD_FAILURE() << "no error for mean " << bad << ", build '" << build << "'";
            } catch (const Error& e) {
                EXPECT_NE(std::string(e.what()).find("element 12 "), std::string::npos) << e.what();
            }
        }
    cpu::rng_lanes_force_build("");
    Tensor ones = Tensor::full({2, G}, 1.0, DType::F64);
    for (double bad : {0.0, -1.0, nan, inf}) {
        std::vector<double> cb = c;
        cb[5] = bad;
        EXPECT_THROW(rng_nb_counts(out, ones, cb, key, 0), Error) << "concentration " << bad;
    }
    EXPECT_THROW(rng_nb_counts(out, ones, {1.0, 1.0}, key, 0), Error);                          // 2 genes, rows of 8
    EXPECT_THROW(rng_nb_counts(out, Tensor::full({G, 2}, 1.0, DType::F64), c, key, 0), Error);  // shape mismatch
    EXPECT_THROW(rng_nb_counts(out, ones, c, RngKey{1, (1ull << 48) - 1}, 0), Error);           // stream + 1
    rng_nb_counts(out, ones, c, key, 0);
    for (double x : out.to_vector()) EXPECT_TRUE(x >= 0 && x == std::floor(x)) << x;
}

TEST(RngFill, InvalidParametersThrow) {
    RngKey key{1, 1};
    Tensor out = Tensor::empty({3}, DType::F64);
    Tensor good = Tensor::full({3}, 1.0, DType::F64);
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    for (double bad : {0.0, -1.0, nan, inf}) {
        Tensor b = Tensor::from_vector({3}, {1.0, bad, 2.0}, DType::F64);
        EXPECT_THROW(rng_gamma(out, b, good, key, 0), Error) << "shape " << bad;
        EXPECT_THROW(rng_gamma(out, good, b, key, 0), Error) << "rate " << bad;
        EXPECT_THROW(rng_gamma_poisson(out, b, good, key, 0), Error) << "gamma-poisson shape " << bad;
        EXPECT_THROW(rng_gamma_poisson(out, good, b, key, 0), Error) << "gamma-poisson rate " << bad;
        if (bad != 0.0) {
            EXPECT_THROW(rng_poisson(out, b, key, 0), Error) << "poisson rate " << bad;
        }
    }
    EXPECT_THROW(rng_gamma(out, Tensor::full({4}, 1.0, DType::F64), good, key, 0), Error);   // shape mismatch
    EXPECT_THROW(rng_poisson(out, Tensor::full({3}, 1.0, DType::F32), key, 0), Error);       // dtype mismatch
    EXPECT_THROW(rng_uniform(out, RngKey{1, 1ull << 48}, 0), Error);                           // stream too large
    EXPECT_THROW(rng_gamma_poisson(out, good, good, RngKey{1, (1ull << 48) - 1}, 0), Error);  // stream + 1 too large
    Tensor ints = Tensor::from_ints({2}, {1, 2});
    EXPECT_THROW(rng_normal(ints, key, 0), Error);
}

// ---------------------------------------------------------------------------- HostRng
TEST(RngHost, WordsAndResume) {
    HostRng r(77, 5);
    std::vector<uint32_t> words;
    for (int i = 0; i < 10; ++i) words.push_back(r.next_u32());
    EXPECT_EQ(r.counter(), 10u);
    // Word w = word w % 4 of block (w / 4, 0, stream lo, stream bits 32..47 | 0xFFFF << 16), key (seed lo, hi).
    for (int w = 0; w < 10; ++w) {
        philox::Block b = philox::philox4x32_10(philox::Block{{(uint32_t)(w / 4), 0, 5, 0xFFFF0000u}}, 77, 0);
        EXPECT_EQ(words[w], b.v[w % 4]) << w;
    }
    HostRng s(77, 5);
    s.set_counter(6);
    for (int w = 6; w < 10; ++w) EXPECT_EQ(s.next_u32(), words[w]);
    for (int i = 0; i < 1000; ++i) {
        double u = r.uniform();
        ASSERT_TRUE(u > 0 && u < 1) << u;
    }
}

TEST(RngHost, BelowIsUniform) {
    HostRng r(2025, 0);
    EXPECT_THROW(r.below(0), Error);
    EXPECT_EQ(r.below(1), 0u);
    for (uint64_t n : {2ull, 7ull, 1000ull, 3000000019ull /* > 2^31: rejection is frequent */}) {
        int bins = (int)std::min<uint64_t>(n, 100);
        int64_t draws = 200000;
        std::vector<double> obs(bins, 0.0);
        for (int64_t i = 0; i < draws; ++i) {
            uint64_t x = r.below(n);
            ASSERT_LT(x, n);
            obs[(size_t)(x * (uint64_t)bins / n)] += 1;  // n % bins == 0 or n huge: bins nearly equiprobable
        }
        std::vector<double> expct(bins);
        for (int b = 0; b < bins; ++b) {
            // The values x with x * bins / n == b are [lo, hi).
            uint64_t lo = (b * n + bins - 1) / bins, hi = ((b + 1) * n + bins - 1) / bins;
            expct[b] = draws * (double)(hi - lo) / (double)n;
        }
        EXPECT_LT(chi2(obs, expct), chi2_bound(bins - 1)) << "below(" << n << ")";
    }
    // n > 2^32 takes the 64-bit path: range and mean (uniform on [0, n): sd n / sqrt(12)).
    const uint64_t big = 5000000000123ull;
    double sum = 0;
    const int draws = 100000;
    for (int i = 0; i < draws; ++i) {
        uint64_t x = r.below(big);
        ASSERT_LT(x, big);
        sum += (double)x;
    }
    EXPECT_NEAR(sum / draws, (big - 1) / 2.0, 6 * big / std::sqrt(12.0 * draws));
}
