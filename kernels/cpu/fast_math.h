// Float exp and log as plain arithmetic (Cephes' polynomials with a Cody-Waite range reduction), so that loops
// calling them vectorise: the libm calls they replace in the CPU negative-binomial likelihood (kernels/cpu/nb_f32.h)
// are one scalar call per element. Accuracy (tests/test_fast_math.cpp, against double-precision libm):
//   fast_exp: relative error <= 2 ulp on [-87.3, 88.3]; arguments outside are clamped (no overflow to inf, no
//             subnormal results: exp(-100) returns exp(-87.3) = 1.2e-38);
//   fast_log: positive normal arguments; absolute error <= 1e-7 for |log x| <= 1, relative <= 2 ulp beyond.
// No fused multiply-add is used and every operation is IEEE single precision, so scalar, SSE2 and AVX2 code give the
// same bits.
#pragma once
#include <cstdint>
#include <cstring>

namespace gpo::cpu {

inline float bits_as_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline uint32_t float_as_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

inline float fast_exp(float x) {
    x = x < -87.33654f ? -87.33654f : x;
    x = x > 88.37626f ? 88.37626f : x;  // 127.5 ln 2: n <= 127
    // n = round(x / ln 2) by the 1.5 * 2^23 shift (exact for |x / ln 2| < 2^22); r = x - n ln 2 in two parts.
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * r * r + r + 1.0f;
    return y * bits_as_float((uint32_t)((int32_t)n + 127) << 23);  // y * 2^n, n in [-126, 128)
}

inline float fast_log(float x) {
    // x = 2^e m with m in [sqrt(1/2), sqrt(2)); log x = e ln 2 + log m, log m by a polynomial in f = m - 1.
    const uint32_t u = float_as_bits(x);
    int32_t e = (int32_t)((u >> 23) & 0xffu) - 126;
    float m = bits_as_float((u & 0x807fffffu) | 0x3f000000u);  // in [0.5, 1)
    const bool low = m < 0.707106781186547524f;
    e = low ? e - 1 : e;
    const float f = low ? m + m - 1.0f : m - 1.0f;
    const float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    const float fe = (float)e;
    float y = p * f * z;
    y += fe * -2.12194440e-4f;
    y += -0.5f * z;
    return f + y + fe * 0.693359375f;
}

// log(1 + x) for x >= 0 (any float): log of u = 1 + x, corrected for the rounding of u (u - 1 - x is exact), so
// small x keep their relative accuracy.
inline float fast_log1p(float x) {
    const float u = 1.0f + x;
    const float d = u - 1.0f;
    return d == 0.0f ? x : fast_log(u) - (d - x) / u;
}

}  // namespace gpo::cpu
