// Philox-4x32-10 and the per-element draws (uniform, normal, gamma, Poisson, their gamma-Poisson mixture), written once
// as host+device inline functions (GPO_HD) so the CPU loops (kernels/cpu/rng.h) and the CUDA kernels
// (kernels/cuda/rng.cu) run the same arithmetic. Every floating operation goes through the *_rn helpers and our own
// log/exp/cos below (only IEEE +, -, *, /, sqrt, which are correctly rounded on both sides), so the results are
// bit-identical on CPU and CUDA.
//
// Counter layout (one 128-bit counter block per element and draw):
//   key     = (seed low 32, seed high 32)
//   counter = (index low 32, index high 32, stream low 32, (stream bits 32..47) | draw << 16)
// index = offset + i (mod 2^64); stream must be < 2^48 (checked in engine/rng.cpp); draw = 0, 1, ... numbers the
// extra counter blocks a rejection sampler consumes (at most MAX_DRAWS), and draw = HOST_DRAW (0xFFFF) is reserved
// for HostRng, so a HostRng and a fill with the same (seed, stream) never share counters.
//
// Uniforms: f32 = (2k + 1) * 2^-24 with k = word >> 9 (23 random bits), f64 = (2k + 1) * 2^-53 with k the top 52
// bits of two words; both exact in their type and strictly inside (0, 1) (min 2^-24 resp. 2^-53).
// Normal: Box-Muller, z = sqrt(-2 log u1) cos(2 pi u2) from words (0, 1) (f32) or (0..3) (f64) of the element's block,
// computed in the output type.
// Gamma and Poisson are computed in double whatever the output type (then rounded once to the output type).
// Guarantee: for f32 fills, CPU and CUDA give bit-identical uniforms, normals, gammas and Poisson counts (no libm or
// CUDA math-library call is involved). tests/parity/parity_rng.cpp checks uniform, normal and Poisson exactly and
// gamma against a contractual 1e-5 relative.
//
// Why the *_rn helpers: nvcc contracts a*b + c into one FMA (different rounding) unless told not to; the __fmul_rn
// / __fadd_rn intrinsics are never contracted. The host compiler only contracts when the target has FMA
// (-mfma / -march=native with GCC's default -ffp-contract=fast); the project does not set such flags, and a warning
// below says so if someone does. Keep it that way or add -ffp-contract=off for the host.
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>

#ifdef __CUDACC__
#define GPO_HD __host__ __device__
#else
#define GPO_HD
#endif

#if !defined(__CUDA_ARCH__) && defined(__FMA__) && defined(__GNUC__)
#warning "kernels/philox.h: host FMA is enabled; compile with -ffp-contract=off or CPU/CUDA random streams may differ"
#endif

namespace gpo::philox {

constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // Weyl key increments
constexpr uint32_t MAX_DRAWS = 0xFFFEu;                 // counter blocks one element may use (draw 0..MAX_DRAWS-1)
constexpr uint32_t HOST_DRAW = 0xFFFFu;                 // draw field of HostRng's counters

struct Block {
    uint32_t v[4];
};

// ---------------------------------------------------------------------------- the Philox-4x32-10 core
GPO_HD inline Block philox4x32_10(Block c, uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += W0;
            k1 += W1;
        }
        uint64_t p0 = (uint64_t)M0 * c.v[0];
        uint64_t p1 = (uint64_t)M1 * c.v[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c = Block{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    }
    return c;
}

// The counter block `draw` of element `index` (layout above).
GPO_HD inline Block block_at(uint64_t seed, uint64_t stream, uint64_t index, uint32_t draw) {
    Block c{{(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream,
             ((uint32_t)(stream >> 32) & 0xFFFFu) | (draw << 16)}};
    return philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

// ---------------------------------------------------------------------------- uncontracted IEEE arithmetic
#ifdef __CUDA_ARCH__
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ inline float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ inline float floor_rn(float a) { return floorf(a); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ inline double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ inline double sqrt_rn(double a) { return __dsqrt_rn(a); }
__device__ inline double floor_rn(double a) { return floor(a); }
__device__ inline uint32_t bits_of(float x) { return __float_as_uint(x); }
__device__ inline float float_of(uint32_t b) { return __uint_as_float(b); }
__device__ inline uint64_t bits_of(double x) { return (uint64_t)__double_as_longlong(x); }
__device__ inline double double_of(uint64_t b) { return __longlong_as_double((long long)b); }
#else
inline float mul_rn(float a, float b) { return a * b; }
inline float add_rn(float a, float b) { return a + b; }
inline float sub_rn(float a, float b) { return a - b; }
inline float div_rn(float a, float b) { return a / b; }
inline float sqrt_rn(float a) { return std::sqrt(a); }
inline float floor_rn(float a) { return std::floor(a); }
inline double mul_rn(double a, double b) { return a * b; }
inline double add_rn(double a, double b) { return a + b; }
inline double sub_rn(double a, double b) { return a - b; }
inline double div_rn(double a, double b) { return a / b; }
inline double sqrt_rn(double a) { return std::sqrt(a); }
inline double floor_rn(double a) { return std::floor(a); }
inline uint32_t bits_of(float x) { uint32_t b; std::memcpy(&b, &x, 4); return b; }
inline float float_of(uint32_t b) { float x; std::memcpy(&x, &b, 4); return x; }
inline uint64_t bits_of(double x) { uint64_t b; std::memcpy(&b, &x, 8); return b; }
inline double double_of(uint64_t b) { double x; std::memcpy(&x, &b, 8); return x; }
#endif

// p * c + a without contraction (one Horner step).
GPO_HD inline float horner(float p, float x, float c) { return add_rn(mul_rn(p, x), c); }
GPO_HD inline double horner(double p, double x, double c) { return add_rn(mul_rn(p, x), c); }

// ---------------------------------------------------------------------------- log, exp, cos(2 pi u)
// log x = e ln2 + 2 atanh(s), s = (m - 1) / (m + 1), m in [sqrt(1/2), sqrt(2)], |s| <= 0.1716; the atanh series is
// cut where the next term is below 2e-9 (f32) resp. 6e-19 (f64) relative. Error: a few ulp.
GPO_HD inline float log_rn(float x) {
    if (!(x > 0.f)) return x == 0.f ? float_of(0xFF800000u) : float_of(0x7FC00000u);  // -inf, NaN
    if (x == float_of(0x7F800000u)) return x;
    int e = 0;
    if ((bits_of(x) >> 23) == 0) {  // subnormal: scale into the normal range
        x = mul_rn(x, 16777216.f);
        e = -24;
    }
    uint32_t b = bits_of(x);
    e += (int)(b >> 23) - 127;
    float m = float_of((b & 0x7FFFFFu) | 0x3F800000u);  // [1, 2)
    if (m > 1.41421354f) {
        m = mul_rn(m, 0.5f);
        e += 1;
    }
    float f = sub_rn(m, 1.f);  // exact (Sterbenz)
    float s = div_rn(f, add_rn(2.f, f));
    float s2 = mul_rn(s, s);
    float p = 0.111111112f;
    p = horner(p, s2, 0.142857149f);
    p = horner(p, s2, 0.2f);
    p = horner(p, s2, 0.333333343f);
    p = horner(p, s2, 1.f);
    float lm = mul_rn(mul_rn(2.f, s), p);
    float ef = (float)e;
    return add_rn(mul_rn(ef, 0.693145751953125f), add_rn(mul_rn(ef, 1.42860682e-06f), lm));  // ln2 = hi + lo
}

GPO_HD inline double log_rn(double x) {
    if (!(x > 0.0)) return x == 0.0 ? double_of(0xFFF0000000000000ull) : double_of(0x7FF8000000000000ull);
    if (x == double_of(0x7FF0000000000000ull)) return x;
    int e = 0;
    if ((bits_of(x) >> 52) == 0) {  // subnormal
        x = mul_rn(x, 18014398509481984.0);  // 2^54
        e = -54;
    }
    uint64_t b = bits_of(x);
    e += (int)(b >> 52) - 1023;
    double m = double_of((b & 0xFFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    if (m > 1.4142135623730951) {
        m = mul_rn(m, 0.5);
        e += 1;
    }
    double f = sub_rn(m, 1.0);
    double s = div_rn(f, add_rn(2.0, f));
    double s2 = mul_rn(s, s);
    double p = 0.047619047619047616;  // 1/21
    p = horner(p, s2, 0.05263157894736842);
    p = horner(p, s2, 0.058823529411764705);
    p = horner(p, s2, 0.06666666666666667);
    p = horner(p, s2, 0.07692307692307693);
    p = horner(p, s2, 0.09090909090909091);
    p = horner(p, s2, 0.1111111111111111);
    p = horner(p, s2, 0.14285714285714285);
    p = horner(p, s2, 0.2);
    p = horner(p, s2, 0.3333333333333333);
    p = horner(p, s2, 1.0);
    double lm = mul_rn(mul_rn(2.0, s), p);
    double ed = (double)e;
    // fdlibm's split of ln2: e * LN2_HI is exact for |e| < 2^20.
    return add_rn(mul_rn(ed, 6.93147180369123816490e-01), add_rn(mul_rn(ed, 1.90821492927058770002e-10), lm));
}

// exp x = 2^k exp(r), k = round(x / ln2), |r| <= 0.347, Taylor series to r^14 (next term < 1e-19 relative).
GPO_HD inline double exp_rn(double x) {
    if (x != x) return x;
    if (x > 709.78) return double_of(0x7FF0000000000000ull);
    if (x < -745.2) return 0.0;
    double k = floor_rn(add_rn(mul_rn(x, 1.4426950408889634), 0.5));
    double r = sub_rn(sub_rn(x, mul_rn(k, 6.93147180369123816490e-01)), mul_rn(k, 1.90821492927058770002e-10));
    double p = 1.1470745597729725e-11;  // 1/14!
    p = horner(p, r, 1.6059043836821613e-10);
    p = horner(p, r, 2.08767569878681e-09);
    p = horner(p, r, 2.505210838544172e-08);
    p = horner(p, r, 2.755731922398589e-07);
    p = horner(p, r, 2.7557319223985893e-06);
    p = horner(p, r, 2.48015873015873e-05);
    p = horner(p, r, 0.0001984126984126984);
    p = horner(p, r, 0.001388888888888889);
    p = horner(p, r, 0.008333333333333333);
    p = horner(p, r, 0.041666666666666664);
    p = horner(p, r, 0.16666666666666666);
    p = horner(p, r, 0.5);
    p = horner(p, r, 1.0);
    p = horner(p, r, 1.0);
    // 2^k in two normal factors (k in [-1075, 1024]); the second product rounds once, also into subnormals.
    int ki = (int)k, k1 = ki / 2, k2 = ki - k1;
    double s1 = double_of((uint64_t)(k1 + 1023) << 52), s2 = double_of((uint64_t)(k2 + 1023) << 52);
    return mul_rn(mul_rn(p, s1), s2);
}

// cos(2 pi u) for u in [0, 1]: quadrant q = round(4u) (exact reduction f = 4u - q in [-1/2, 1/2]), x = f pi/2, then
// the sin/cos Taylor series on |x| <= pi/4 (cut below 2e-9 resp. 1e-19).
GPO_HD inline float cos2pi_rn(float u) {
    float t = mul_rn(u, 4.f);
    float q = floor_rn(add_rn(t, 0.5f));
    float x = mul_rn(sub_rn(t, q), 1.57079637f);
    float x2 = mul_rn(x, x);
    float s = 2.75573188e-06f;  // 1/9!
    s = horner(s, x2, -0.000198412701f);
    s = horner(s, x2, 0.00833333377f);
    s = horner(s, x2, -0.166666672f);
    s = horner(s, x2, 1.f);
    s = mul_rn(s, x);
    float c = -2.75573188e-07f;  // -1/10!
    c = horner(c, x2, 2.48015876e-05f);
    c = horner(c, x2, -0.00138888892f);
    c = horner(c, x2, 0.0416666679f);
    c = horner(c, x2, -0.5f);
    c = horner(c, x2, 1.f);
    switch ((int)q & 3) {
        case 0: return c;
        case 1: return -s;
        case 2: return -c;
        default: return s;
    }
}

GPO_HD inline double cos2pi_rn(double u) {
    double t = mul_rn(u, 4.0);
    double q = floor_rn(add_rn(t, 0.5));
    double x = mul_rn(sub_rn(t, q), 1.5707963267948966);
    double x2 = mul_rn(x, x);
    double s = 2.8114572543455206e-15;  // 1/17!
    s = horner(s, x2, -7.647163731819816e-13);
    s = horner(s, x2, 1.6059043836821613e-10);
    s = horner(s, x2, -2.505210838544172e-08);
    s = horner(s, x2, 2.7557319223985893e-06);
    s = horner(s, x2, -0.0001984126984126984);
    s = horner(s, x2, 0.008333333333333333);
    s = horner(s, x2, -0.16666666666666666);
    s = horner(s, x2, 1.0);
    s = mul_rn(s, x);
    double c = -1.5619206968586225e-16;  // -1/18!
    c = horner(c, x2, 4.779477332387385e-14);
    c = horner(c, x2, -1.1470745597729725e-11);
    c = horner(c, x2, 2.08767569878681e-09);
    c = horner(c, x2, -2.755731922398589e-07);
    c = horner(c, x2, 2.48015873015873e-05);
    c = horner(c, x2, -0.001388888888888889);
    c = horner(c, x2, 0.041666666666666664);
    c = horner(c, x2, -0.5);
    c = horner(c, x2, 1.0);
    switch ((int)q & 3) {
        case 0: return c;
        case 1: return -s;
        case 2: return -c;
        default: return s;
    }
}

// ---------------------------------------------------------------------------- words -> uniforms
GPO_HD inline float u01_f32(uint32_t w) {
    return mul_rn((float)((w >> 9) * 2u + 1u), 5.9604644775390625e-08f);  // 2^-24
}
GPO_HD inline double u01_f64(uint32_t hi, uint32_t lo) {
    uint64_t k = ((uint64_t)hi << 20) | (lo >> 12);                              // 52 bits
    return mul_rn((double)(2 * k + 1), 1.1102230246251565e-16);                  // 2^-53
}
// 32-bit resolution in double, (w + 1/2) 2^-32: the uniforms inside the gamma and Poisson samplers.
GPO_HD inline double u01_32(uint32_t w) { return mul_rn(add_rn((double)w, 0.5), 2.3283064365386963e-10); }

// ---------------------------------------------------------------------------- per-element draws
// Element `index` of a fill with key (seed, stream).
GPO_HD inline float uniform_f32(uint64_t seed, uint64_t stream, uint64_t index) {
    return u01_f32(block_at(seed, stream, index, 0).v[0]);
}
GPO_HD inline double uniform_f64(uint64_t seed, uint64_t stream, uint64_t index) {
    Block b = block_at(seed, stream, index, 0);
    return u01_f64(b.v[0], b.v[1]);
}
GPO_HD inline float normal_f32(uint64_t seed, uint64_t stream, uint64_t index) {
    Block b = block_at(seed, stream, index, 0);
    float r = sqrt_rn(mul_rn(-2.f, log_rn(u01_f32(b.v[0]))));
    return mul_rn(r, cos2pi_rn(u01_f32(b.v[1])));
}
GPO_HD inline double normal_f64(uint64_t seed, uint64_t stream, uint64_t index) {
    Block b = block_at(seed, stream, index, 0);
    double r = sqrt_rn(mul_rn(-2.0, log_rn(u01_f64(b.v[0], b.v[1]))));
    return mul_rn(r, cos2pi_rn(u01_f64(b.v[2], b.v[3])));
}

GPO_HD inline bool gamma_params_ok(double shape, double rate) {
    return shape > 0.0 && shape < 1e300 && rate > 0.0 && rate < 1e300;  // also false for NaN and inf
}
GPO_HD inline bool poisson_rate_ok(double rate) { return rate >= 0.0 && rate < 1e300; }

// Gamma(shape, rate) by Marsaglia & Tsang (2000): d = a - 1/3, c = 1/sqrt(9d); draw x ~ N(0,1), v = (1 + cx)^3,
// accept when u < 1 - 0.0331 x^4 or log u < x^2/2 + d(1 - v + log v); the result is d v / rate. Shape a < 1 uses the
// boost Gamma(a) = Gamma(a + 1) * U^(1/a). Draw j uses counter block j: x from words 0, 1 (Box-Muller), u from
// word 2; the boost U is word 3 of block 0. Returns NaN for invalid parameters (the engine checks them first).
GPO_HD inline double gamma_draw(double shape, double rate, uint64_t seed, uint64_t stream, uint64_t index) {
    if (!gamma_params_ok(shape, rate)) return double_of(0x7FF8000000000000ull);
    bool boost = shape < 1.0;
    double a = boost ? add_rn(shape, 1.0) : shape;
    double d = sub_rn(a, 0.3333333333333333);
    double c = div_rn(1.0, sqrt_rn(mul_rn(9.0, d)));
    double g = d;  // returned only if all MAX_DRAWS blocks reject (probability < 0.05^65534)
    Block b0{{0, 0, 0, 0}};
    for (uint32_t j = 0; j < MAX_DRAWS; ++j) {
        Block b = block_at(seed, stream, index, j);
        if (j == 0) b0 = b;
        double x = mul_rn(sqrt_rn(mul_rn(-2.0, log_rn(u01_32(b.v[0])))), cos2pi_rn(u01_32(b.v[1])));
        double v = add_rn(1.0, mul_rn(c, x));
        if (v <= 0.0) continue;
        v = mul_rn(mul_rn(v, v), v);
        double u = u01_32(b.v[2]);
        double x2 = mul_rn(x, x);
        if (u < sub_rn(1.0, mul_rn(0.0331, mul_rn(x2, x2))) ||
            log_rn(u) < add_rn(mul_rn(0.5, x2), mul_rn(d, add_rn(sub_rn(1.0, v), log_rn(v))))) {
            g = mul_rn(d, v);
            break;
        }
    }
    if (boost) g = mul_rn(g, exp_rn(div_rn(log_rn(u01_32(b0.v[3])), shape)));
    return div_rn(g, rate);
}

// log Gamma(x) for x >= 1 (log k! = loggam(k + 1)): Stirling series after shifting x up to >= 7 (as numpy's
// random_loggam).
GPO_HD inline double loggam(double x) {
    if (x == 1.0 || x == 2.0) return 0.0;
    int n = x < 7.0 ? (int)sub_rn(7.0, x) : 0;
    double x0 = add_rn(x, (double)n);
    double r = div_rn(1.0, x0), x2 = mul_rn(r, r);
    double g = -1.39243221690590e+00;
    g = horner(g, x2, 1.796443723688307e-01);
    g = horner(g, x2, -2.955065359477124e-02);
    g = horner(g, x2, 6.410256410256410e-03);
    g = horner(g, x2, -1.917526917526918e-03);
    g = horner(g, x2, 8.417508417508418e-04);
    g = horner(g, x2, -5.952380952380952e-04);
    g = horner(g, x2, 7.936507936507937e-04);
    g = horner(g, x2, -2.777777777777778e-03);
    g = horner(g, x2, 8.333333333333333e-02);
    double gl = add_rn(add_rn(div_rn(g, x0), 0.9189385332046727),  // 0.5 log(2 pi)
                       sub_rn(mul_rn(sub_rn(x0, 0.5), log_rn(x0)), x0));
    for (int k = 0; k < n; ++k) {
        gl = sub_rn(gl, log_rn(sub_rn(x0, 1.0)));
        x0 = sub_rn(x0, 1.0);
    }
    return gl;
}

// Poisson(rate). rate < 10: multiplication (Knuth): count uniforms until their product drops to exp(-rate); the
// uniforms are words 0..3 of blocks 0, 1, ... in order. rate >= 10: PTRS, the transformed rejection of Hormann
// (1993), one attempt per block from words 0, 1 (constants as in numpy's random_poisson_ptrs). rate 0 gives 0;
// invalid rates give NaN (the engine checks them first).
GPO_HD inline double poisson_draw(double rate, uint64_t seed, uint64_t stream, uint64_t index) {
    if (!poisson_rate_ok(rate)) return double_of(0x7FF8000000000000ull);
    if (rate == 0.0) return 0.0;
    if (rate < 10.0) {
        double limit = exp_rn(-rate), prod = 1.0, k = 0.0;
        for (uint32_t j = 0; j < MAX_DRAWS; ++j) {
            Block b = block_at(seed, stream, index, j);
            for (int w = 0; w < 4; ++w) {
                prod = mul_rn(prod, u01_32(b.v[w]));
                if (prod <= limit) return k;
                k = add_rn(k, 1.0);
            }
        }
        return k;
    }
    double slam = sqrt_rn(rate), loglam = log_rn(rate);
    double bb = add_rn(0.931, mul_rn(2.53, slam));
    double aa = add_rn(-0.059, mul_rn(0.02483, bb));
    double log_invalpha = log_rn(add_rn(1.1239, div_rn(1.1328, sub_rn(bb, 3.4))));
    double vr = sub_rn(0.9277, div_rn(3.6224, sub_rn(bb, 2.0)));
    double k = floor_rn(rate);  // returned only if every block rejects (never in practice: acceptance > 0.9)
    for (uint32_t j = 0; j < MAX_DRAWS; ++j) {
        Block b = block_at(seed, stream, index, j);
        double U = sub_rn(u01_32(b.v[0]), 0.5), V = u01_32(b.v[1]);
        double us = sub_rn(0.5, U < 0.0 ? -U : U);
        double kk = floor_rn(add_rn(add_rn(mul_rn(add_rn(div_rn(mul_rn(2.0, aa), us), bb), U), rate), 0.43));
        if (us >= 0.07 && V <= vr) return kk;
        if (kk < 0.0 || (us < 0.013 && V > us)) continue;
        double lhs = sub_rn(add_rn(log_rn(V), log_invalpha), log_rn(add_rn(div_rn(aa, mul_rn(us, us)), bb)));
        double rhs = sub_rn(add_rn(-rate, mul_rn(kk, loglam)), loggam(add_rn(kk, 1.0)));
        if (lhs <= rhs) return kk;
    }
    return k;
}

// The Gamma(shape, rate)-Poisson mixture, i.e. the negative binomial with mean shape / rate and P(0) =
// (rate / (1 + rate))^shape: what sampling x ~ Poisson(Gamma(shape, rate)) gives, in one draw. Where the mean is at
// most kNbInversionMaxMean and rate >= kNbInversionMinRate, by inversion of one uniform u (words 0, 1 of block 0):
// 0 at once when u is below nb_zero_squeeze, else the smallest k with P(0) + ... + P(k) >= u, stepping
// P(k + 1) = P(k) ((k + shape) q) (1 / (k + 1)) with q = 1 / (1 + rate) (expected k + 1 steps; the tail past
// kNbInversionMaxCount is below q^2048 <= e^-40 for those rates, where the walk stops). Elsewhere the two-stage draw
// itself: lambda = gamma_draw(shape, rate) on `stream`, then poisson_draw(lambda) on stream + 1.
// Which path an element takes depends only on its parameters, so both are exact draws from the same law.
constexpr double kNbInversionMaxMean = 8.0;
constexpr double kNbInversionMinRate = 0.02;
constexpr double kNbInversionMaxCount = 2048.0;
GPO_HD inline bool nb_by_inversion(double shape, double rate) {
    return rate >= kNbInversionMinRate && shape <= mul_rn(kNbInversionMaxMean, rate);
}
// P(0) = (1 + m / shape)^-shape >= 1 - m for the mean m = shape / rate (the function is convex in m): a uniform at
// most this bound (1 - m, shrunk by 1e-12 for the rounding of m) gives 0 without the log and exp of P(0).
GPO_HD inline double nb_zero_squeeze(double shape, double rate) {
    return mul_rn(sub_rn(1.0, div_rn(shape, rate)), 0.999999999999);
}
GPO_HD inline double gamma_poisson_draw(double shape, double rate, uint64_t seed, uint64_t stream, uint64_t index) {
    if (!gamma_params_ok(shape, rate)) return double_of(0x7FF8000000000000ull);
    if (!nb_by_inversion(shape, rate))
        return poisson_draw(gamma_draw(shape, rate, seed, stream, index), seed, stream + 1, index);
    Block b = block_at(seed, stream, index, 0);
    double u = u01_f64(b.v[0], b.v[1]);
    if (u <= nb_zero_squeeze(shape, rate)) return 0.0;
    double q = div_rn(1.0, add_rn(1.0, rate));
    double p = exp_rn(mul_rn(shape, log_rn(mul_rn(rate, q))));
    double cdf = p, k = 0.0;
    while (u > cdf && k < kNbInversionMaxCount) {
        p = mul_rn(p, mul_rn(mul_rn(add_rn(k, shape), q), div_rn(1.0, add_rn(k, 1.0))));
        k = add_rn(k, 1.0);
        cdf = add_rn(cdf, p);
    }
    return k;
}

}  // namespace gpo::philox
