// kernels/cpu/fast_math.h against double-precision libm, and the float NB likelihood rows that use it
// (kernels/cpu/nb_f32.h) against the double reference rows of kernels/cpu/nb.h; the AVX2 and baseline builds
// give the same bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/rng.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/nb.h"
#include "kernels/cpu/nb_f32.h"

using namespace gpo;

namespace {
constexpr double kUlp = 1.0 / (1 << 23);  // float's relative spacing at worst (2^-23)
}

TEST(FastMath, ExpWithinTwoUlpOverTheWholeRange) {
    double worst = 0;
    for (float x = -87.0f; x < 88.37f; x += 7.3e-4f) {
        const double ref = std::exp((double)x);
        worst = std::max(worst, std::fabs(cpu::fast_exp(x) - ref) / ref);
    }
    EXPECT_LE(worst, 2 * kUlp) << worst;
    EXPECT_EQ(cpu::fast_exp(0.0f), 1.0f);
    EXPECT_TRUE(std::isfinite(cpu::fast_exp(1000.0f)));       // clamped, not inf
    EXPECT_GT(cpu::fast_exp(-1000.0f), 0.0f);                  // clamped to exp(-87.3), never subnormal
    EXPECT_LT(cpu::fast_exp(-1000.0f), 1.3e-38f);
}

TEST(FastMath, LogAndLog1pWithinTwoUlp) {
    double worst = 0;
    for (float x = 1e-37f; x < 3e38f; x *= 1.00037f) {
        const double ref = std::log((double)x);
        worst = std::max(worst, std::fabs(cpu::fast_log(x) - ref) / std::max(1.0, std::fabs(ref)));
    }
    // Near 1 (log x small) the bound is absolute: float cannot resolve better than ~ulp(1) there.
    EXPECT_LE(worst, 2 * kUlp) << worst;
    EXPECT_EQ(cpu::fast_log(1.0f), 0.0f);
    double worst1p = 0;
    for (float x = 1e-12f; x < 1e7f; x *= 1.00041f) {
        const double ref = std::log1p((double)x);
        worst1p = std::max(worst1p, std::fabs(cpu::fast_log1p(x) - ref) / ref);
    }
    EXPECT_LE(worst1p, 3 * kUlp) << worst1p;  // the rounding correction keeps small x relative
}

namespace {

struct NbCase {
    int64_t R = 12, B = 4, G = 37;
    std::vector<float> logits, c, counts, library, dout;
};

NbCase nb_case() {
    NbCase k;
    HostRng rng(77, 0);
    for (int64_t i = 0; i < k.R * k.G; ++i) k.logits.push_back((float)(4.0 * rng.uniform() - 2.0));
    for (int64_t g = 0; g < k.G; ++g) k.c.push_back((float)std::exp(3.0 * rng.uniform() - 1.5));
    k.c[3] = 1e-7f;  // a rate clamped at 1e-6 (c / mu1 below it)
    for (int64_t i = 0; i < k.B * k.G; ++i) k.counts.push_back(rng.uniform() < 0.6 ? 0.0f : std::floor(20 * rng.uniform()));
    for (int64_t b = 0; b < k.B; ++b) k.library.push_back((float)(100 + 900 * rng.uniform()));
    for (int64_t r = 0; r < k.R; ++r) k.dout.push_back((float)(rng.uniform() - 0.5));
    return k;
}

template <class T>
std::vector<T> as(const std::vector<float>& v) {
    return std::vector<T>(v.begin(), v.end());
}

struct NbResult {
    std::vector<float> out, lse, dlogits, dtheta;
};

NbResult run_f32(const NbCase& k) {
    NbResult r;
    r.out.resize(k.R), r.lse.resize(k.R), r.dlogits.assign(k.R * k.G, 0.f), r.dtheta.assign(k.G, 0.f);
    cpu::nb_forward_rows_f32(r.out.data(), r.lse.data(), k.logits.data(), k.c.data(), k.counts.data(),
                             k.library.data(), 0, k.R, k.B, k.G, nullptr);
    cpu::nb_backward_rows_f32(r.dlogits.data(), r.dtheta.data(), k.dout.data(), r.lse.data(), k.logits.data(),
                              k.c.data(), k.counts.data(), k.library.data(), 0, k.R, k.B, k.G, nullptr);
    return r;
}

}  // namespace

TEST(FastMath, FloatNbRowsEqualTheDoubleReference) {
    const NbCase k = nb_case();
    const NbResult f = run_f32(k);
    std::vector<double> out(k.R), lse(k.R), dl(k.R * k.G, 0.0), dth(k.G, 0.0);
    const auto L = as<double>(k.logits), c = as<double>(k.c), x = as<double>(k.counts), lib = as<double>(k.library),
               d = as<double>(k.dout);
    cpu::nb_log_prob_softmax_forward_rows<double>(out.data(), lse.data(), L.data(), c.data(), x.data(), lib.data(), 0,
                                                  k.R, k.B, k.G);
    cpu::nb_log_prob_softmax_backward_rows<double>(dl.data(), dth.data(), d.data(), lse.data(), L.data(), c.data(),
                                                   x.data(), lib.data(), 0, k.R, k.B, k.G);
    // Float inputs, float arithmetic over 37 genes: each term carries a few float roundings of values up to ~100
    // (the lgamma part), so the row sums agree to ~1e-5 relative; the gradients, sums of products, likewise.
    for (int64_t r = 0; r < k.R; ++r) {
        EXPECT_NEAR(f.out[r], out[r], 2e-5 * std::fabs(out[r]) + 1e-4) << "row " << r;
        EXPECT_NEAR(f.lse[r], lse[r], 1e-5 * std::fabs(lse[r]) + 1e-6) << "row " << r;
    }
    for (int64_t i = 0; i < k.R * k.G; ++i) EXPECT_NEAR(f.dlogits[i], dl[i], 1e-4 * std::fabs(dl[i]) + 1e-5) << i;
    for (int64_t g = 0; g < k.G; ++g) EXPECT_NEAR(f.dtheta[g], dth[g], 1e-4 * std::fabs(dth[g]) + 1e-5) << g;
}

TEST(FastMath, Avx2AndBaselineBuildsGiveTheSameBits) {
    if (std::strcmp(cpu::nb_f32_build(), "avx2") != 0)
        GTEST_SKIP() << "this CPU has no AVX2: only the baseline build runs here";
    const NbCase k = nb_case();
    const NbResult a = run_f32(k);
    cpu::nb_f32_force_build("baseline");
    ASSERT_STREQ(cpu::nb_f32_build(), "baseline");
    const NbResult b = run_f32(k);
    cpu::nb_f32_force_build("");
    ASSERT_STREQ(cpu::nb_f32_build(), "avx2");
    EXPECT_EQ(std::memcmp(a.out.data(), b.out.data(), a.out.size() * 4), 0);
    EXPECT_EQ(std::memcmp(a.lse.data(), b.lse.data(), a.lse.size() * 4), 0);
    EXPECT_EQ(std::memcmp(a.dlogits.data(), b.dlogits.data(), a.dlogits.size() * 4), 0);
    EXPECT_EQ(std::memcmp(a.dtheta.data(), b.dtheta.data(), a.dtheta.size() * 4), 0);
}
