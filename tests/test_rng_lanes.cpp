// The uniform, normal, gamma, Poisson and gamma-Poisson lane fills (kernels/cpu/rng_lanes.h) against the per-element
// reference fills (kernels/cpu/rng.h: philox::gamma_draw / poisson_draw one element at a time), bit for bit, in float
// and double, over parameters that take every path: the squeeze-accepted first proposal, rejections, shape < 1 (the
// boost, down to exponents below -745), Poisson rates of 0, below 10 and above, counts past the lanes' 12 uniforms, and
// lengths that leave a tail shorter than a group.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/cpu/rng.h"
#include "kernels/cpu/rng_lanes.h"

using namespace gpo;

namespace {

// Shapes and rates on a grid that mixes tiny, near-1 and large shapes with rates over eight decades; n = 4,099
// (not a multiple of 8).
template <class T>
void gamma_params(std::vector<T>& shape, std::vector<T>& rate) {
    const double shapes[] = {1e-3, 0.02, 0.2, 0.5, 0.999, 1.0, 1.0001, 1.7, 3.0, 9.5, 60.0, 1e4, 0.0013};
    const double rates[] = {1e-4, 0.01, 0.3, 1.0, 2.5, 40.0, 1e3, 1e4, 0.07, 5.0, 17.0};
    for (int i = 0; i < 4099; ++i) {
        shape.push_back((T)(shapes[i % 13] * (1.0 + 0.001 * (i % 7))));
        rate.push_back((T)rates[(i / 13) % 11]);
    }
}

template <class T>
void poisson_params(std::vector<T>& rate) {
    const double rates[] = {0.0, 1e-7, 0.05, 0.4, 1.0, 2.2, 4.0, 6.5, 8.0, 9.99, 10.0, 14.0, 80.0, 3e3, 1.3};
    for (int i = 0; i < 6007; ++i) rate.push_back((T)(rates[i % 15] * (1.0 + 0.0007 * (i % 5))));
}

template <class T>
void expect_same_bits(const std::vector<T>& a, const std::vector<T>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size());
    int64_t differ = 0, first = -1;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) {
            if (first < 0) first = (int64_t)i;
            ++differ;
        }
    EXPECT_EQ(differ, 0) << what << ": " << differ << " of " << a.size() << " values differ from the reference, "
                         << "first at " << first << " (" << (first >= 0 ? (double)a[first] : 0.0) << " vs "
                         << (first >= 0 ? (double)b[first] : 0.0) << ")";
}

template <class T>
void check_both_fills(const char* build) {
    const uint64_t seed = 0x1234567890ull, stream = 77, offset = (1ull << 32) - 5;  // index crosses 2^32
    std::vector<T> nref(100003), ngot(100003);  // every quadrant of cos(2 pi u), uniforms down to ~2^-24
    cpu::rng_normal_fill<T>(nref.data(), (int64_t)nref.size(), seed, stream, offset);
    cpu::rng_normal_fill_lanes(ngot.data(), (int64_t)ngot.size(), seed, stream, offset);
    expect_same_bits(ngot, nref, (std::string("normal, ") + build).c_str());
    cpu::rng_uniform_fill<T>(nref.data(), (int64_t)nref.size(), seed, stream, offset);
    cpu::rng_uniform_fill_lanes(ngot.data(), (int64_t)ngot.size(), seed, stream, offset);
    expect_same_bits(ngot, nref, (std::string("uniform, ") + build).c_str());

    std::vector<T> shape, rate;
    gamma_params(shape, rate);
    std::vector<T> ref(shape.size()), got(shape.size());
    cpu::rng_gamma_fill<T>(ref.data(), shape.data(), rate.data(), (int64_t)ref.size(), seed, stream, offset);
    cpu::rng_gamma_fill_lanes(got.data(), shape.data(), rate.data(), (int64_t)got.size(), seed, stream, offset);
    expect_same_bits(got, ref, (std::string("gamma, ") + build).c_str());

    std::vector<T> prate;
    poisson_params(prate);
    std::vector<T> pref(prate.size()), pgot(prate.size());
    cpu::rng_poisson_fill<T>(pref.data(), prate.data(), (int64_t)pref.size(), seed, stream, offset);
    cpu::rng_poisson_fill_lanes(pgot.data(), prate.data(), (int64_t)pgot.size(), seed, stream, offset);
    expect_same_bits(pgot, pref, (std::string("poisson, ") + build).c_str());

    // the gamma grid takes both gamma-Poisson paths: inversion (mean <= 8, rate >= 0.02; heavy tails and walks of
    // hundreds of steps for small shapes at rate 0.07) and the two-stage draw (large means, rates 1e-4 and 0.01)
    cpu::rng_gamma_poisson_fill<T>(ref.data(), shape.data(), rate.data(), (int64_t)ref.size(), seed, stream, offset);
    cpu::rng_gamma_poisson_fill_lanes(got.data(), shape.data(), rate.data(), (int64_t)got.size(), seed, stream,
                                      offset);
    expect_same_bits(got, ref, (std::string("gamma-poisson, ") + build).c_str());
}

}  // namespace

TEST(RngLanes, FillsEqualTheReferenceBitForBit) {
    if (std::strcmp(cpu::rng_lanes_build(), "avx2") != 0)
        GTEST_SKIP() << "this CPU has no AVX2: the fills are the per-element reference itself here";
    check_both_fills<float>(cpu::rng_lanes_build());
    check_both_fills<double>(cpu::rng_lanes_build());
}

// The fallback a CPU without AVX2 runs.
TEST(RngLanes, BaselineBuildEqualsTheReferenceBitForBit) {
    cpu::rng_lanes_force_build("baseline");
    ASSERT_STREQ(cpu::rng_lanes_build(), "baseline");
    check_both_fills<float>("baseline");
    check_both_fills<double>("baseline");
    cpu::rng_lanes_force_build("");
}

// Sub-ranges start anywhere: a fill of [lo, n) with offset + lo equals the tail of the whole fill (what the
// engine's threads do).
TEST(RngLanes, ChunkedFillsEqualTheWholeFill) {
    std::vector<float> shape, rate;
    gamma_params(shape, rate);
    const int64_t n = (int64_t)shape.size(), lo = 1237;
    std::vector<float> whole(n), part(n);
    cpu::rng_gamma_fill_lanes(whole.data(), shape.data(), rate.data(), n, 9, 3, 100);
    cpu::rng_gamma_fill_lanes(part.data(), shape.data(), rate.data(), lo, 9, 3, 100);
    cpu::rng_gamma_fill_lanes(part.data() + lo, shape.data() + lo, rate.data() + lo, n - lo, 9, 3, 100 + lo);
    expect_same_bits(part, whole, "gamma in two chunks");
}
