// Uniform, normal, gamma, Poisson, gamma-Poisson and NB-count fills in AVX2 lanes (four doubles, or eight floats for
// uniforms and normals), and the dispatch (see rng_lanes.h). Every vector function below repeats, operation for
// operation, a piece of kernels/philox.h or kernels/cpu/rng.h; keep them in step (tests/test_rng_lanes.cpp and
// tests/test_rng.cpp compare the values bit for bit).
#include "kernels/cpu/rng_lanes.h"

#include <algorithm>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "kernels/cpu/avx2_choice.h"
#include "kernels/cpu/rng.h"
#include "kernels/philox.h"

namespace gpo::cpu {

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
#define GPO_RNG_AVX2 1
#define GPO_AVX2_INLINE inline __attribute__((always_inline, target("avx2")))

using V = __m256d;   // four double lanes
using I = __m256i;   // four 64-bit integer lanes

GPO_AVX2_INLINE V set1(double x) { return _mm256_set1_pd(x); }
GPO_AVX2_INLINE V add(V a, V b) { return _mm256_add_pd(a, b); }
GPO_AVX2_INLINE V sub(V a, V b) { return _mm256_sub_pd(a, b); }
GPO_AVX2_INLINE V mul(V a, V b) { return _mm256_mul_pd(a, b); }
GPO_AVX2_INLINE V div(V a, V b) { return _mm256_div_pd(a, b); }
GPO_AVX2_INLINE V horner(V p, V x, double c) { return add(mul(p, x), set1(c)); }  // philox::horner, unfused
GPO_AVX2_INLINE V select(V mask, V yes, V no) { return _mm256_blendv_pd(no, yes, mask); }
GPO_AVX2_INLINE V gt(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
GPO_AVX2_INLINE V lt(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
GPO_AVX2_INLINE V le(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_LE_OQ); }
GPO_AVX2_INLINE V ge(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }

// Exact conversions between small integers in 64-bit lanes and doubles (|value| < 2^51): add / subtract the
// magic 2^52 + 2^51, whose mantissa then holds the integer.
constexpr double kMagic = 6755399441055744.0;  // 2^52 + 2^51
GPO_AVX2_INLINE V to_double(I v) {
    return sub(_mm256_castsi256_pd(_mm256_add_epi64(v, _mm256_castpd_si256(set1(kMagic)))), set1(kMagic));
}
GPO_AVX2_INLINE I to_int(V integral) {
    return _mm256_sub_epi64(_mm256_castpd_si256(add(integral, set1(kMagic))), _mm256_castpd_si256(set1(kMagic)));
}

// Counter blocks `draw` of elements index0 + l, l < 4 (philox::block_at lane by lane): each 32-bit word of the
// block in the low half of a 64-bit lane.
struct Block4 {
    I v[4];
};
GPO_AVX2_INLINE Block4 blocks_at(uint64_t seed, uint64_t stream, uint64_t index0, uint32_t draw) {
    const I lo32 = _mm256_set1_epi64x(0xFFFFFFFFll);
    const I index = _mm256_add_epi64(_mm256_set1_epi64x((long long)index0), _mm256_set_epi64x(3, 2, 1, 0));
    I c0 = _mm256_and_si256(index, lo32), c1 = _mm256_srli_epi64(index, 32);
    I c2 = _mm256_set1_epi64x((long long)(uint32_t)stream);
    I c3 = _mm256_set1_epi64x((long long)(((uint32_t)(stream >> 32) & 0xFFFFu) | (draw << 16)));
    const I m0 = _mm256_set1_epi64x(philox::M0), m1 = _mm256_set1_epi64x(philox::M1);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += philox::W0;
            k1 += philox::W1;
        }
        const I p0 = _mm256_mul_epu32(m0, c0), p1 = _mm256_mul_epu32(m1, c2);
        const I n0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1), _mm256_set1_epi64x(k0));
        const I n2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3), _mm256_set1_epi64x(k1));
        c0 = n0;
        c1 = _mm256_and_si256(p1, lo32);
        c2 = n2;
        c3 = _mm256_and_si256(p0, lo32);
    }
    return Block4{{c0, c1, c2, c3}};
}

// philox::u01_32 of the words in the low halves: (w + 1/2) 2^-32 ((double)w is exact: w < 2^32).
GPO_AVX2_INLINE V u01_32(I w) { return mul(add(to_double(w), set1(0.5)), set1(2.3283064365386963e-10)); }

// philox::log_rn(double) for normal, positive, finite lanes (its special-value and subnormal branches cannot fire).
GPO_AVX2_INLINE V log_normal(V x) {
    const I b = _mm256_castpd_si256(x);
    I e = _mm256_sub_epi64(_mm256_srli_epi64(b, 52), _mm256_set1_epi64x(1023));
    V m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi64x(0xFFFFFFFFFFFFFll)),
                                              _mm256_set1_epi64x(0x3FF0000000000000ll)));
    const V big = gt(m, set1(1.4142135623730951));
    m = select(big, mul(m, set1(0.5)), m);
    e = _mm256_sub_epi64(e, _mm256_castpd_si256(big));  // + 1 where big (the mask is all ones = -1)
    const V f = sub(m, set1(1.0));
    const V s = div(f, add(set1(2.0), f));
    const V s2 = mul(s, s);
    V p = set1(0.047619047619047616);
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
    const V lm = mul(mul(set1(2.0), s), p);
    const V ed = to_double(e);
    return add(mul(ed, set1(6.93147180369123816490e-01)), add(mul(ed, set1(1.90821492927058770002e-10)), lm));
}

// philox::exp_rn(double) for lanes x <= 0 (not NaN): 0 below -745.2, as there.
GPO_AVX2_INLINE V exp_nonpositive(V x) {
    const V zero = lt(x, set1(-745.2));
    const V xc = select(zero, set1(-745.2), x);  // keeps the lane's k in range; its result is replaced by 0
    const V k = _mm256_floor_pd(add(mul(xc, set1(1.4426950408889634)), set1(0.5)));
    const V r = sub(sub(xc, mul(k, set1(6.93147180369123816490e-01))), mul(k, set1(1.90821492927058770002e-10)));
    V p = set1(1.1470745597729725e-11);
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
    // k1 = k / 2 truncated toward zero (C's int division there), k2 = k - k1; both exact in double.
    const V k1 = _mm256_round_pd(mul(k, set1(0.5)), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC), k2 = sub(k, k1);
    const V s1 = _mm256_castsi256_pd(_mm256_slli_epi64(to_int(add(k1, set1(1023.0))), 52));
    const V s2 = _mm256_castsi256_pd(_mm256_slli_epi64(to_int(add(k2, set1(1023.0))), 52));
    return select(zero, set1(0.0), mul(mul(p, s1), s2));
}

// philox::cos2pi_rn(double), the quadrant switch as selects.
GPO_AVX2_INLINE V cos2pi(V u) {
    const V t = mul(u, set1(4.0));
    const V q = _mm256_floor_pd(add(t, set1(0.5)));
    const V x = mul(sub(t, q), set1(1.5707963267948966));
    const V x2 = mul(x, x);
    V s = set1(2.8114572543455206e-15);
    s = horner(s, x2, -7.647163731819816e-13);
    s = horner(s, x2, 1.6059043836821613e-10);
    s = horner(s, x2, -2.505210838544172e-08);
    s = horner(s, x2, 2.7557319223985893e-06);
    s = horner(s, x2, -0.0001984126984126984);
    s = horner(s, x2, 0.008333333333333333);
    s = horner(s, x2, -0.16666666666666666);
    s = horner(s, x2, 1.0);
    s = mul(s, x);
    V c = set1(-1.5619206968586225e-16);
    c = horner(c, x2, 4.779477332387385e-14);
    c = horner(c, x2, -1.1470745597729725e-11);
    c = horner(c, x2, 2.08767569878681e-09);
    c = horner(c, x2, -2.755731922398589e-07);
    c = horner(c, x2, 2.48015873015873e-05);
    c = horner(c, x2, -0.001388888888888889);
    c = horner(c, x2, 0.041666666666666664);
    c = horner(c, x2, -0.5);
    c = horner(c, x2, 1.0);
    const I quadrant = _mm256_and_si256(to_int(q), _mm256_set1_epi64x(3));  // q in 0..4
    const V sign = set1(-0.0), neg_s = _mm256_xor_pd(s, sign), neg_c = _mm256_xor_pd(c, sign);  // unary minus
    const V is1 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(quadrant, _mm256_set1_epi64x(1)));
    const V is2 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(quadrant, _mm256_set1_epi64x(2)));
    const V is3 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(quadrant, _mm256_set1_epi64x(3)));
    return select(is1, neg_s, select(is2, neg_c, select(is3, s, c)));
}

template <class T>
GPO_AVX2_INLINE V load(const T* p) {
    if constexpr (sizeof(T) == 8) return _mm256_loadu_pd((const double*)p);
    else return _mm256_cvtps_pd(_mm_loadu_ps((const float*)p));
}
template <class T>
GPO_AVX2_INLINE void store(T* p, V v) {
    if constexpr (sizeof(T) == 8) _mm256_storeu_pd((double*)p, v);
    else _mm_storeu_ps((float*)p, _mm256_cvtpd_ps(v));  // round to nearest, as the reference's (float) cast
}

// ---------------------------------------------------------------------------- gamma
// Four lanes of philox::gamma_draw whose first proposal (block 0) is accepted by the squeeze; returns the mask
// (bit l) of the lanes that take another path and must be recomputed.
template <class T, class TOut = T>
GPO_AVX2_INLINE int gamma_group(TOut* out, const T* shape, const T* rate, uint64_t seed, uint64_t stream,
                                uint64_t index0) {
    const Block4 b = blocks_at(seed, stream, index0, 0);
    const V sh = load(shape), ra = load(rate);
    // philox::gamma_params_ok: 0 < shape, rate < 1e300 (false for NaN)
    const V ok = _mm256_and_pd(_mm256_and_pd(gt(sh, set1(0.0)), lt(sh, set1(1e300))),
                               _mm256_and_pd(gt(ra, set1(0.0)), lt(ra, set1(1e300))));
    const V boost = lt(sh, set1(1.0));
    const V a = select(boost, add(sh, set1(1.0)), sh);
    const V d = sub(a, set1(0.3333333333333333));
    const V c = div(set1(1.0), _mm256_sqrt_pd(mul(set1(9.0), d)));
    const V x = mul(_mm256_sqrt_pd(mul(set1(-2.0), log_normal(u01_32(b.v[0])))), cos2pi(u01_32(b.v[1])));
    V v = add(set1(1.0), mul(c, x));
    const V positive = gt(v, set1(0.0));
    v = mul(mul(v, v), v);
    const V u = u01_32(b.v[2]);
    const V x2 = mul(x, x);
    const V squeeze = lt(u, sub(set1(1.0), mul(set1(0.0331), mul(x2, x2))));
    V g = mul(d, v);
    // The boost's exponent log(U) / shape is <= 0 (U < 1); lanes with shape >= 1 compute it and drop it.
    const V boost_factor = exp_nonpositive(div(log_normal(u01_32(b.v[3])), select(ok, sh, set1(1.0))));
    g = select(boost, mul(g, boost_factor), g);
    store(out, div(g, ra));
    return 15 & ~_mm256_movemask_pd(_mm256_and_pd(ok, _mm256_and_pd(positive, squeeze)));
}

template <class T>
__attribute__((target("avx2"))) void gamma_avx2(T* out, const T* shape, const T* rate, int64_t n, uint64_t seed,
                                                uint64_t stream, uint64_t offset) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int redo = gamma_group(out + i, shape + i, rate + i, seed, stream, offset + (uint64_t)i);
        for (int l = 0; l < 4; ++l)
            if (redo >> l & 1)
                out[i + l] = (T)philox::gamma_draw((double)shape[i + l], (double)rate[i + l], seed, stream,
                                                   offset + (uint64_t)(i + l));
    }
    for (; i < n; ++i)
        out[i] = (T)philox::gamma_draw((double)shape[i], (double)rate[i], seed, stream, offset + (uint64_t)i);
}

// ---------------------------------------------------------------------------- Poisson
constexpr int kPoissonBlocks = 3;  // blocks the multiplication method runs side by side: counts 0..11

// Four lanes of philox::poisson_draw: rates below 10 whose count is below 4 kPoissonBlocks (the multiplication
// method), and rates of 10 or more whose first PTRS proposal passes the quick acceptance (us >= 0.07, V <= v_r);
// returns the mask of the other lanes.
template <class T>
GPO_AVX2_INLINE int poisson_group(T* out, const T* rate, uint64_t seed, uint64_t stream, uint64_t index0) {
    const V ra = load(rate);
    const Block4 b0 = blocks_at(seed, stream, index0, 0);
    const V small = _mm256_and_pd(ge(ra, set1(0.0)), lt(ra, set1(10.0)));  // false for NaN
    const V large = _mm256_and_pd(ge(ra, set1(10.0)), lt(ra, set1(1e300)));
    // PTRS (Hoermann 1993) on block 0, as philox::poisson_draw
    const V bb = add(set1(0.931), mul(set1(2.53), _mm256_sqrt_pd(ra)));
    const V aa = add(set1(-0.059), mul(set1(0.02483), bb));
    const V vr = sub(set1(0.9277), div(set1(3.6224), sub(bb, set1(2.0))));
    const V U = sub(u01_32(b0.v[0]), set1(0.5)), Vu = u01_32(b0.v[1]);
    const V us = sub(set1(0.5), _mm256_andnot_pd(set1(-0.0), U));  // 0.5 - |U|
    const V kk = _mm256_floor_pd(add(add(mul(add(div(mul(set1(2.0), aa), us), bb), U), ra), set1(0.43)));
    const V quick = _mm256_and_pd(large, _mm256_and_pd(ge(us, set1(0.07)), le(Vu, vr)));
    // the multiplication method for rates below 10; rate 0 gives 0 without a draw, as there
    const V limit = exp_nonpositive(select(small, sub(set1(0.0), ra), set1(0.0)));
    V active = _mm256_andnot_pd(_mm256_cmp_pd(ra, set1(0.0), _CMP_EQ_OQ), small);
    V prod = set1(1.0), res = select(quick, kk, set1(0.0));
    for (int j = 0; j < kPoissonBlocks && _mm256_movemask_pd(active); ++j) {
        const Block4 b = j == 0 ? b0 : blocks_at(seed, stream, index0, (uint32_t)j);
        for (int w = 0; w < 4; ++w) {
            prod = select(active, mul(prod, u01_32(b.v[w])), prod);
            const V done = _mm256_and_pd(active, le(prod, limit));
            res = select(done, set1((double)(4 * j + w)), res);
            active = _mm256_andnot_pd(done, active);
        }
    }
    store(out, res);
    return (15 & ~_mm256_movemask_pd(_mm256_or_pd(small, quick))) | _mm256_movemask_pd(active);
}

template <class T>
__attribute__((target("avx2"))) void poisson_avx2(T* out, const T* rate, int64_t n, uint64_t seed, uint64_t stream,
                                                  uint64_t offset) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int redo = poisson_group(out + i, rate + i, seed, stream, offset + (uint64_t)i);
        for (int l = 0; l < 4; ++l)
            if (redo >> l & 1)
                out[i + l] = (T)philox::poisson_draw((double)rate[i + l], seed, stream, offset + (uint64_t)(i + l));
    }
    for (; i < n; ++i) out[i] = (T)philox::poisson_draw((double)rate[i], seed, stream, offset + (uint64_t)i);
}
// ---------------------------------------------------------------------------- gamma-Poisson mixture
// philox::u01_f64 of words hi, lo: (2k + 1) 2^-53 with k = hi 2^20 + (lo >> 12), summed from two exact parts (the
// integer 2k + 1 < 2^53 is exact, as the reference's conversion).
GPO_AVX2_INLINE V u01_f64(I hi, I lo) {
    const V high = mul(to_double(hi), set1(2097152.0));  // hi 2^21
    const V low = add(mul(to_double(_mm256_srli_epi64(lo, 12)), set1(2.0)), set1(1.0));
    return mul(add(high, low), set1(1.1102230246251565e-16));
}

// The walk of philox::gamma_poisson_draw's inversion for 4 kNbVectors gathered elements (uniform u, shape, rate
// in double; none of them below the zero squeeze), run until every lane has stopped; counts to k_out. Several
// independent vectors at once: each one's log, exp and walk are long dependency chains that the core overlaps only
// when they are written side by side. Padding lanes (u = 1/2, shape = rate = 1: P(0) = 1/2) stop at once.
constexpr int kNbVectors = 4;
constexpr int kNbWalk = 4 * kNbVectors;
GPO_AVX2_INLINE void nb_walk(double* k_out, const double* uu, const double* ss, const double* rr) {
    V s[kNbVectors], q[kNbVectors], u[kNbVectors], p[kNbVectors], cdf[kNbVectors], k[kNbVectors], act[kNbVectors];
    for (int v = 0; v < kNbVectors; ++v) {
        s[v] = _mm256_loadu_pd(ss + 4 * v);
        u[v] = _mm256_loadu_pd(uu + 4 * v);
        const V r = _mm256_loadu_pd(rr + 4 * v);
        q[v] = div(set1(1.0), add(set1(1.0), r));
        p[v] = exp_nonpositive(mul(s[v], log_normal(mul(r, q[v]))));  // rate q is a normal number for rate >= 0.02
        cdf[v] = p[v];
        k[v] = set1(0.0);
        act[v] = gt(u[v], cdf[v]);
    }
    // Every lane still walking has taken the same number of steps j, so k = j there and 1 / (k + 1) is one scalar
    // division per step (the reference's div_rn(1.0, k + 1), the same bits).
    const V k_max = set1(philox::kNbInversionMaxCount);
    for (double j = 0.0;; j += 1.0) {
        V any = act[0];
        for (int v = 1; v < kNbVectors; ++v) any = _mm256_or_pd(any, act[v]);
        if (!_mm256_movemask_pd(any)) break;
        const V inv_k1 = set1(1.0 / (j + 1.0));
        for (int v = 0; v < kNbVectors; ++v) {
            const V p1 = mul(p[v], mul(mul(add(k[v], s[v]), q[v]), inv_k1));
            p[v] = select(act[v], p1, p[v]);
            k[v] = select(act[v], add(k[v], set1(1.0)), k[v]);
            cdf[v] = select(act[v], add(cdf[v], p1), cdf[v]);
            act[v] = _mm256_and_pd(act[v], _mm256_and_pd(gt(u[v], cdf[v]), lt(k[v], k_max)));
        }
    }
    for (int v = 0; v < kNbVectors; ++v) _mm256_storeu_pd(k_out + 4 * v, k[v]);
}

// Four lanes of the two-stage path, philox::gamma_draw (stream) then philox::poisson_draw (stream + 1), through the
// gamma and Poisson groups above, the rate kept in double between them as there; lanes off their common paths
// are recomputed per element. Returns the counts as doubles.
template <class T>
GPO_AVX2_INLINE void two_stage_group(double* counts, const T* shape, const T* rate, uint64_t seed, uint64_t stream,
                                     uint64_t index0) {
    double lambda[4];
    const int redo_gamma = gamma_group(lambda, shape, rate, seed, stream, index0);
    for (int l = 0; l < 4; ++l)
        if (redo_gamma >> l & 1)
            lambda[l] = philox::gamma_draw((double)shape[l], (double)rate[l], seed, stream, index0 + (uint64_t)l);
    const int redo_poisson = poisson_group(counts, lambda, seed, stream + 1, index0);
    for (int l = 0; l < 4; ++l)
        if (redo_poisson >> l & 1) counts[l] = philox::poisson_draw(lambda[l], seed, stream + 1, index0 + (uint64_t)l);
}

// In chunks of kNbChunk elements: (1) per group of four, the inversion's uniforms and the zero squeeze (most
// elements of a cell's small means end here, with 0), the others of the inversion gathered; (2) the gathered ones
// walked kNbWalk at a time; (3) groups holding lanes outside the inversion through the two-stage lanes.
constexpr int kNbChunk = 512;
template <class T>
__attribute__((target("avx2"))) void gamma_poisson_avx2(T* out, const T* shape, const T* rate, int64_t n,
                                                        uint64_t seed, uint64_t stream, uint64_t offset) {
    double wu[kNbChunk + kNbWalk], ws[kNbChunk + kNbWalk], wr[kNbChunk + kNbWalk], wk[kNbChunk + kNbWalk];
    int widx[kNbChunk], two_stage_at[kNbChunk / 4], two_stage_lanes[kNbChunk / 4];
    const int64_t n4 = n & ~(int64_t)3;
    for (int64_t c0 = 0; c0 < n4; c0 += kNbChunk) {
        const int len = (int)std::min<int64_t>(kNbChunk, n4 - c0);
        int nw = 0, ng = 0;
        for (int g = 0; g < len; g += 4) {
            const int64_t i = c0 + g;
            const V sh = load(shape + i), ra = load(rate + i);
            const V ok = _mm256_and_pd(_mm256_and_pd(gt(sh, set1(0.0)), lt(sh, set1(1e300))),
                                       _mm256_and_pd(gt(ra, set1(0.0)), lt(ra, set1(1e300))));
            const V inv = _mm256_and_pd(ok, _mm256_and_pd(ge(ra, set1(philox::kNbInversionMinRate)),
                                                          le(sh, mul(set1(philox::kNbInversionMaxMean), ra))));
            const int outside = 15 & ~_mm256_movemask_pd(inv);
            if (outside) {
                two_stage_at[ng] = g;
                two_stage_lanes[ng++] = outside;
            }
            if (outside == 15) continue;
            const Block4 b = blocks_at(seed, stream, offset + (uint64_t)i, 0);
            const V u = u01_f64(b.v[0], b.v[1]);
            const V squeeze = mul(sub(set1(1.0), div(sh, ra)), set1(0.999999999999));  // philox::nb_zero_squeeze
            const int walk = _mm256_movemask_pd(_mm256_andnot_pd(le(u, squeeze), inv));
            store(out + i, set1(0.0));  // the squeezed lanes' count; the others are written below
            if (!walk) continue;
            double ub[4];
            _mm256_storeu_pd(ub, u);
            for (int l = 0; l < 4; ++l)
                if (walk >> l & 1) {
                    widx[nw] = g + l;
                    wu[nw] = ub[l];
                    ws[nw] = (double)shape[i + l];
                    wr[nw++] = (double)rate[i + l];
                }
        }
        for (int w = nw; w % kNbWalk; ++w) wu[w] = 0.5, ws[w] = 1.0, wr[w] = 1.0;
        for (int w = 0; w < nw; w += kNbWalk) nb_walk(wk + w, wu + w, ws + w, wr + w);
        for (int w = 0; w < nw; ++w) out[c0 + widx[w]] = (T)wk[w];
        // Lanes outside the inversion: valid ones take the two-stage lanes, invalid ones the reference (NaN).
        for (int t = 0; t < ng; ++t) {
            const int64_t i = c0 + two_stage_at[t];
            double counts[4];
            two_stage_group(counts, shape + i, rate + i, seed, stream, offset + (uint64_t)i);
            for (int l = 0; l < 4; ++l)
                if (two_stage_lanes[t] >> l & 1)
                    out[i + l] = philox::gamma_params_ok((double)shape[i + l], (double)rate[i + l])
                                     ? (T)counts[l]
                                     : (T)philox::gamma_poisson_draw((double)shape[i + l], (double)rate[i + l], seed,
                                                                     stream, offset + (uint64_t)(i + l));
        }
    }
    for (int64_t i = n4; i < n; ++i)
        out[i] = (T)philox::gamma_poisson_draw((double)shape[i], (double)rate[i], seed, stream, offset + (uint64_t)i);
}

// ---------------------------------------------------------------------------- the likelihood's NB counts
// rng_nb_counts_fill (rng.h) a chunk of kNbChunk at a time: the chunk's parameters (shape (T) c, rate (T) max(c / (mu
// + 1e-4), 1e-6), kernels/cpu/nb.h nb_gamma_rate) in lanes into buffers, row segment by row segment, then the
// gamma-Poisson lanes over them. Returns the index of the first element with invalid parameters, or -1.
template <class T>
__attribute__((target("avx2"))) int64_t nb_counts_avx2(T* out, const T* mean, const double* c, int64_t G, int64_t g0,
                                                       int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    T shape[kNbChunk], rate[kNbChunk];
    int64_t first_bad = -1, g = g0;
    for (int64_t c0 = 0; c0 < n; c0 += kNbChunk) {
        const int len = (int)std::min<int64_t>(kNbChunk, n - c0);
        const T* mu = mean + c0;
        for (int k = 0; k < len;) {
            const int run = (int)std::min<int64_t>(len - k, G - g);  // genes g .. g + run - 1 of one row
            int j = 0;
            for (; j + 4 <= run; j += 4) {
                const V cv = _mm256_loadu_pd(c + g + j);
                const V m = load(mu + k + j);
                const V q = div(cv, add(m, set1(kNbMuShift)));
                const V finite = _mm256_cmp_pd(sub(m, m), set1(0.0), _CMP_EQ_OQ);  // m - m is NaN for inf, NaN
                store(shape + k + j, cv);
                store(rate + k + j, select(finite, select(lt(q, set1(kNbMinRate)), set1(kNbMinRate), q), sub(m, m)));
            }
            for (; j < run; ++j) nb_counts_params(c[g + j], mu[k + j], &shape[k + j], &rate[k + j]);
            k += run;
            g += run;
            if (g == G) g = 0;
        }
        if (first_bad < 0) {
            const int64_t b = rng_first_bad_gamma(shape, rate, len);
            if (b >= 0) first_bad = c0 + b;
        }
        gamma_poisson_avx2(out + c0, shape, rate, len, seed, stream, offset + (uint64_t)c0);
    }
    return first_bad;
}

// ---------------------------------------------------------------------------- float uniforms and normals
using F = __m256;  // eight float lanes

GPO_AVX2_INLINE F fset1(float x) { return _mm256_set1_ps(x); }
GPO_AVX2_INLINE F fadd(F a, F b) { return _mm256_add_ps(a, b); }
GPO_AVX2_INLINE F fsub(F a, F b) { return _mm256_sub_ps(a, b); }
GPO_AVX2_INLINE F fmul(F a, F b) { return _mm256_mul_ps(a, b); }
GPO_AVX2_INLINE F fhorner(F p, F x, float c) { return fadd(fmul(p, x), fset1(c)); }
GPO_AVX2_INLINE F fselect(F mask, F yes, F no) { return _mm256_blendv_ps(no, yes, mask); }

// Word w of the blocks of elements index0 .. index0 + 7, as eight 32-bit lanes.
struct Block8 {
    __m256i v[4];
};
GPO_AVX2_INLINE Block8 blocks8_at(uint64_t seed, uint64_t stream, uint64_t index0) {
    const Block4 lo = blocks_at(seed, stream, index0, 0), hi = blocks_at(seed, stream, index0 + 4, 0);
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // the low halves of the 64-bit lanes first
    Block8 b;
    for (int w = 0; w < 4; ++w) {
        const __m128i l = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(lo.v[w], even));
        const __m128i h = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(hi.v[w], even));
        b.v[w] = _mm256_set_m128i(h, l);
    }
    return b;
}

// philox::u01_f32: (2 (w >> 9) + 1) 2^-24, the integer < 2^24 converts exactly.
GPO_AVX2_INLINE F u01_f32(__m256i w) {
    const __m256i k = _mm256_add_epi32(_mm256_slli_epi32(_mm256_srli_epi32(w, 9), 1), _mm256_set1_epi32(1));
    return fmul(_mm256_cvtepi32_ps(k), fset1(5.9604644775390625e-08f));
}

// philox::log_rn(float) for normal, positive, finite lanes.
GPO_AVX2_INLINE F log_normal_f32(F x) {
    const __m256i b = _mm256_castps_si256(x);
    __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127));
    F m = _mm256_castsi256_ps(
        _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x7FFFFF)), _mm256_set1_epi32(0x3F800000)));
    const F big = _mm256_cmp_ps(m, fset1(1.41421354f), _CMP_GT_OQ);
    m = fselect(big, fmul(m, fset1(0.5f)), m);
    e = _mm256_sub_epi32(e, _mm256_castps_si256(big));
    const F f = fsub(m, fset1(1.f));
    const F s = _mm256_div_ps(f, fadd(fset1(2.f), f));
    const F s2 = fmul(s, s);
    F p = fset1(0.111111112f);
    p = fhorner(p, s2, 0.142857149f);
    p = fhorner(p, s2, 0.2f);
    p = fhorner(p, s2, 0.333333343f);
    p = fhorner(p, s2, 1.f);
    const F lm = fmul(fmul(fset1(2.f), s), p);
    const F ef = _mm256_cvtepi32_ps(e);
    return fadd(fmul(ef, fset1(0.693145751953125f)), fadd(fmul(ef, fset1(1.42860682e-06f)), lm));
}

// philox::cos2pi_rn(float), the quadrant switch as selects.
GPO_AVX2_INLINE F cos2pi_f32(F u) {
    const F t = fmul(u, fset1(4.f));
    const F q = _mm256_floor_ps(fadd(t, fset1(0.5f)));
    const F x = fmul(fsub(t, q), fset1(1.57079637f));
    const F x2 = fmul(x, x);
    F s = fset1(2.75573188e-06f);
    s = fhorner(s, x2, -0.000198412701f);
    s = fhorner(s, x2, 0.00833333377f);
    s = fhorner(s, x2, -0.166666672f);
    s = fhorner(s, x2, 1.f);
    s = fmul(s, x);
    F c = fset1(-2.75573188e-07f);
    c = fhorner(c, x2, 2.48015876e-05f);
    c = fhorner(c, x2, -0.00138888892f);
    c = fhorner(c, x2, 0.0416666679f);
    c = fhorner(c, x2, -0.5f);
    c = fhorner(c, x2, 1.f);
    const __m256i quadrant = _mm256_and_si256(_mm256_cvttps_epi32(q), _mm256_set1_epi32(3));  // q in 0..4
    const F sign = fset1(-0.f), neg_s = _mm256_xor_ps(s, sign), neg_c = _mm256_xor_ps(c, sign);
    const F is1 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(quadrant, _mm256_set1_epi32(1)));
    const F is2 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(quadrant, _mm256_set1_epi32(2)));
    const F is3 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(quadrant, _mm256_set1_epi32(3)));
    return fselect(is1, neg_s, fselect(is2, neg_c, fselect(is3, s, c)));
}

__attribute__((target("avx2"))) void uniform_f32_avx2(float* out, int64_t n, uint64_t seed, uint64_t stream,
                                                      uint64_t offset) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, u01_f32(blocks8_at(seed, stream, offset + (uint64_t)i).v[0]));
    for (; i < n; ++i) out[i] = philox::uniform_f32(seed, stream, offset + (uint64_t)i);
}

__attribute__((target("avx2"))) void normal_f32_avx2(float* out, int64_t n, uint64_t seed, uint64_t stream,
                                                     uint64_t offset) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const Block8 b = blocks8_at(seed, stream, offset + (uint64_t)i);
        const F r = _mm256_sqrt_ps(fmul(fset1(-2.f), log_normal_f32(u01_f32(b.v[0]))));
        _mm256_storeu_ps(out + i, fmul(r, cos2pi_f32(u01_f32(b.v[1]))));
    }
    for (; i < n; ++i) out[i] = philox::normal_f32(seed, stream, offset + (uint64_t)i);
}
#endif

// ---------------------------------------------------------------------------- builds and dispatch
Avx2Choice g_build;  // the baseline is the per-element reference of rng.h

template <class T>
void gamma_fill(T* out, const T* shape, const T* rate, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
#ifdef GPO_RNG_AVX2
    if (g_build.avx2()) return gamma_avx2(out, shape, rate, n, seed, stream, offset);
#endif
    rng_gamma_fill<T>(out, shape, rate, n, seed, stream, offset);
}
template <class T>
void poisson_fill(T* out, const T* rate, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
#ifdef GPO_RNG_AVX2
    if (g_build.avx2()) return poisson_avx2(out, rate, n, seed, stream, offset);
#endif
    rng_poisson_fill<T>(out, rate, n, seed, stream, offset);
}

template <class T>
void gamma_poisson_fill(T* out, const T* shape, const T* rate, int64_t n, uint64_t seed, uint64_t stream,
                        uint64_t offset) {
#ifdef GPO_RNG_AVX2
    if (g_build.avx2()) return gamma_poisson_avx2(out, shape, rate, n, seed, stream, offset);
#endif
    rng_gamma_poisson_fill<T>(out, shape, rate, n, seed, stream, offset);
}

template <class T>
int64_t nb_counts_fill(T* out, const T* mean, const double* c, int64_t G, int64_t g0, int64_t n, uint64_t seed,
                       uint64_t stream, uint64_t offset) {
#ifdef GPO_RNG_AVX2
    if (g_build.avx2()) return nb_counts_avx2(out, mean, c, G, g0, n, seed, stream, offset);
#endif
    return rng_nb_counts_fill<T>(out, mean, c, G, g0, n, seed, stream, offset);
}

}  // namespace

void rng_uniform_fill_lanes(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
#ifdef GPO_RNG_AVX2
    if (g_build.avx2()) return uniform_f32_avx2(out, n, seed, stream, offset);
#endif
    rng_uniform_fill<float>(out, n, seed, stream, offset);
}
void rng_uniform_fill_lanes(double* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    rng_uniform_fill<double>(out, n, seed, stream, offset);
}

void rng_normal_fill_lanes(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
#ifdef GPO_RNG_AVX2
    if (g_build.avx2()) return normal_f32_avx2(out, n, seed, stream, offset);
#endif
    rng_normal_fill<float>(out, n, seed, stream, offset);
}
void rng_normal_fill_lanes(double* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    rng_normal_fill<double>(out, n, seed, stream, offset);
}

void rng_gamma_fill_lanes(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed,
                          uint64_t stream, uint64_t offset) {
    gamma_fill(out, shape, rate, n, seed, stream, offset);
}
void rng_gamma_fill_lanes(double* out, const double* shape, const double* rate, int64_t n, uint64_t seed,
                          uint64_t stream, uint64_t offset) {
    gamma_fill(out, shape, rate, n, seed, stream, offset);
}
void rng_poisson_fill_lanes(float* out, const float* rate, int64_t n, uint64_t seed, uint64_t stream,
                            uint64_t offset) {
    poisson_fill(out, rate, n, seed, stream, offset);
}
void rng_poisson_fill_lanes(double* out, const double* rate, int64_t n, uint64_t seed, uint64_t stream,
                            uint64_t offset) {
    poisson_fill(out, rate, n, seed, stream, offset);
}

void rng_gamma_poisson_fill_lanes(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed,
                                  uint64_t stream, uint64_t offset) {
    gamma_poisson_fill(out, shape, rate, n, seed, stream, offset);
}
void rng_gamma_poisson_fill_lanes(double* out, const double* shape, const double* rate, int64_t n, uint64_t seed,
                                  uint64_t stream, uint64_t offset) {
    gamma_poisson_fill(out, shape, rate, n, seed, stream, offset);
}

int64_t rng_nb_counts_fill_lanes(float* out, const float* mean, const double* c, int64_t G, int64_t g0, int64_t n,
                                 uint64_t seed, uint64_t stream, uint64_t offset) {
    return nb_counts_fill(out, mean, c, G, g0, n, seed, stream, offset);
}
int64_t rng_nb_counts_fill_lanes(double* out, const double* mean, const double* c, int64_t G, int64_t g0, int64_t n,
                                 uint64_t seed, uint64_t stream, uint64_t offset) {
    return nb_counts_fill(out, mean, c, G, g0, n, seed, stream, offset);
}

const char* rng_lanes_build() { return g_build.name(); }

void rng_lanes_force_build(const char* force) { g_build.force(force); }

}  // namespace gpo::cpu
