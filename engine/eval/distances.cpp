// Tiled all-pairs distance sums between predicted and real effects (distances.h). Genes in blocks of kBlock; within
// a block, kRealGroup real rows at a time (kept in L2) against every tile of kTile predicted rows of a thread's range
// (the tile's block copied, the left-out gene zeroed, with a 0/1 mask beside it, in L1). Each pair's sums over a
// block are kLanes interleaved partial sums added in a fixed order, then added to the pair's total block by block.
// So every value depends on the shapes only: not on the thread count, nor on the build (the AVX2 build has no FMA
// contraction).
#include "engine/eval/distances.h"

#include <algorithm>
#include <cmath>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "engine/check.h"
#include "engine/parallel.h"
#include "kernels/cpu/avx2_choice.h"

namespace gpo::eval {
namespace {

constexpr int64_t kTile = 4;     // predicted rows per tile
constexpr int64_t kBlock = 512;  // genes per block: a tile's copy and mask are 2 x 4 x 4 KB
constexpr int kLanes = 4;        // interleaved partial sums (one AVX2 register of doubles)

// Sums of one block [g0, g1) for the tile's kTile rows (p: copies with the left-out gene 0, m: its 0/1 mask, both
// indexed from g0) against the real rows [j0, j1): l1 += sum |d|, sq += sum d^2, dot += sum r p, nu += sum r^2 m, with
// d = (r - p) m; out arrays indexed [t * Q + j]. kL1Only keeps l1 alone. Lane l of a pair's partial sums takes the
// genes g0 + l, g0 + l + kLanes, ... in order (the tail's genes lanes 0, 1, ...), and the lanes add as
// (0 + 1) + (2 + 3): the AVX2 version below does the same operations on the same lanes.
struct Lanes {
    double a1[kTile][kLanes], a2[kTile][kLanes], a3[kTile][kLanes], a4[kTile][kLanes];
};

template <bool kL1Only>
inline void lane_term(Lanes& a, int64_t t, int l, double x, double p, double m) {
    const double d = (x - p) * m;
    a.a1[t][l] += std::fabs(d);
    if (!kL1Only) {
        a.a2[t][l] += d * d;
        a.a3[t][l] += x * p;
        a.a4[t][l] += x * x * m;
    }
}

// The genes past the last whole group of kLanes, then the lanes into the totals.
template <bool kL1Only>
inline void finish_pair_sums(Lanes& a, const double (*p)[kBlock], const double (*m)[kBlock], const double* r,
                             int64_t g, int64_t n, int64_t j, int64_t Q, double* l1, double* sq, double* dot,
                             double* nu) {
    for (int l = 0; g < n; ++g, ++l)
        for (int64_t t = 0; t < kTile; ++t) lane_term<kL1Only>(a, t, l, r[g], p[t][g], m[t][g]);
    auto sum = [](const double* v) { return (v[0] + v[1]) + (v[2] + v[3]); };
    for (int64_t t = 0; t < kTile; ++t) {
        l1[t * Q + j] += sum(a.a1[t]);
        if (!kL1Only) {
            sq[t * Q + j] += sum(a.a2[t]);
            dot[t * Q + j] += sum(a.a3[t]);
            nu[t * Q + j] += sum(a.a4[t]);
        }
    }
}

template <bool kL1Only>
void block_sums(const double (*p)[kBlock], const double (*m)[kBlock], const double* real, int64_t j0, int64_t j1,
                int64_t Q, int64_t G, int64_t g0, int64_t g1, double* l1, double* sq, double* dot, double* nu) {
    const int64_t n = g1 - g0;
    for (int64_t j = j0; j < j1; ++j) {
        const double* r = real + j * G + g0;
        Lanes a{};
        int64_t g = 0;
        for (; g + kLanes <= n; g += kLanes)
            for (int64_t t = 0; t < kTile; ++t)
                for (int l = 0; l < kLanes; ++l) lane_term<kL1Only>(a, t, l, r[g + l], p[t][g + l], m[t][g + l]);
        finish_pair_sums<kL1Only>(a, p, m, r, g, n, j, Q, l1, sq, dot, nu);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define GPO_DISTANCES_AVX2 1
// block_sums with one AVX2 register per pair's lanes; two tile rows at a time when all four sums are kept (8
// accumulators), all four rows for L1 alone.
template <bool kL1Only>
__attribute__((target("avx2"))) void block_sums_avx2(const double (*p)[kBlock], const double (*m)[kBlock],
                                                     const double* real, int64_t j0, int64_t j1, int64_t Q, int64_t G,
                                                     int64_t g0, int64_t g1, double* l1, double* sq, double* dot,
                                                     double* nu) {
    const int64_t n = g1 - g0, whole = n / kLanes * kLanes;
    const __m256d sign = _mm256_set1_pd(-0.0);
    constexpr int64_t kRows = kL1Only ? kTile : 2;  // tile rows per pass over the real row's block
    for (int64_t j = j0; j < j1; ++j) {
        const double* r = real + j * G + g0;
        Lanes a;
        for (int64_t t0 = 0; t0 < kTile; t0 += kRows) {
            __m256d a1[kRows], a2[kRows], a3[kRows], a4[kRows];
            for (int64_t u = 0; u < kRows; ++u)
                a1[u] = a2[u] = a3[u] = a4[u] = _mm256_setzero_pd();
            for (int64_t g = 0; g < whole; g += kLanes) {
                const __m256d x = _mm256_loadu_pd(r + g);
                for (int64_t u = 0; u < kRows; ++u) {
                    const __m256d pv = _mm256_load_pd(p[t0 + u] + g), mv = _mm256_load_pd(m[t0 + u] + g);
                    const __m256d d = _mm256_mul_pd(_mm256_sub_pd(x, pv), mv);
                    a1[u] = _mm256_add_pd(a1[u], _mm256_andnot_pd(sign, d));
                    if (!kL1Only) {
                        a2[u] = _mm256_add_pd(a2[u], _mm256_mul_pd(d, d));
                        a3[u] = _mm256_add_pd(a3[u], _mm256_mul_pd(x, pv));
                        a4[u] = _mm256_add_pd(a4[u], _mm256_mul_pd(_mm256_mul_pd(x, x), mv));
                    }
                }
            }
            for (int64_t u = 0; u < kRows; ++u) {
                _mm256_storeu_pd(a.a1[t0 + u], a1[u]);
                if (kL1Only) continue;
                _mm256_storeu_pd(a.a2[t0 + u], a2[u]);
                _mm256_storeu_pd(a.a3[t0 + u], a3[u]);
                _mm256_storeu_pd(a.a4[t0 + u], a4[u]);
            }
        }
        finish_pair_sums<kL1Only>(a, p, m, r, whole, n, j, Q, l1, sq, dot, nu);
    }
}
#endif

using BlockSums = void (*)(const double (*)[kBlock], const double (*)[kBlock], const double*, int64_t, int64_t,
                          int64_t, int64_t, int64_t, int64_t, double*, double*, double*, double*);

constexpr int64_t kRealGroup = 64;  // real rows whose block (64 x 4 KB) stays in L2 while a range's tiles pass it
constexpr int64_t kRanges = 16;     // tile ranges shared over the threads

// The tile of predicted rows [i0, i0 + kTile) over genes [g0, g1) into p and m (rows past P repeat the last row;
// their sums land in the outputs' padding rows), adding its sum of p^2 to nv when add_nv.
inline void copy_tile(double (*p)[kBlock], double (*m)[kBlock], const double* pred, int64_t P, int64_t i0,
                      int64_t G, int64_t g0, int64_t g1, const std::vector<int64_t>& skip, double* nv, bool add_nv) {
    for (int64_t t = 0; t < kTile; ++t) {
        const int64_t i = std::min(i0 + t, P - 1);
        const double* src = pred + i * G;
        for (int64_t g = g0; g < g1; ++g) {
            const bool kept = g != skip[(size_t)i];
            p[t][g - g0] = kept ? src[g] : 0.0;
            m[t][g - g0] = kept ? 1.0 : 0.0;
            if (add_nv) nv[t] += p[t][g - g0] * p[t][g - g0];
        }
    }
}

// Every pair's totals, in (tiles * kTile, Q) arrays (nv: tiles * kTile): gene block by gene block (the order of
// each pair's additions), and within a block a group of real rows at a time against every tile of a range.
void all_tiles(BlockSums block, const double* pred, int64_t P, const double* real, int64_t Q, int64_t G,
               const std::vector<int64_t>& skip, double* l1, double* sq, double* dot, double* nu, double* nv) {
    const int64_t tiles = (P + kTile - 1) / kTile;
    parallel_ranges(tiles, std::max<int64_t>(1, (tiles + kRanges - 1) / kRanges), [&](int64_t t0, int64_t t1) {
        alignas(64) double p[kTile][kBlock], m[kTile][kBlock];
        for (int64_t g0 = 0; g0 < G; g0 += kBlock) {
            const int64_t g1 = std::min(G, g0 + kBlock);
            for (int64_t j0 = 0; j0 < Q; j0 += kRealGroup)
                for (int64_t tile = t0; tile < t1; ++tile) {
                    const int64_t i0 = tile * kTile, at = i0 * Q;
                    copy_tile(p, m, pred, P, i0, G, g0, g1, skip, nv ? nv + i0 : nullptr, nv && j0 == 0);
                    block(p, m, real, j0, std::min(Q, j0 + kRealGroup), Q, G, g0, g1, l1 + at, sq ? sq + at : nullptr,
                          dot ? dot + at : nullptr, nu ? nu + at : nullptr);
                }
        }
    });
}

cpu::Avx2Choice g_build;

}  // namespace

void force_distances_build(const char* build) { g_build.force(build); }

EffectDistances effect_distances(const double* pred, int64_t P, const double* real, int64_t Q, int64_t G,
                                 const std::vector<int64_t>& skip, bool l1_only) {
    GPO_CHECK(P >= 0 && Q >= 0 && G >= 0 && (int64_t)skip.size() == P,
              "effect distances: " << P << " predicted rows, " << Q << " real rows, " << G << " genes and "
                                   << skip.size() << " left-out genes do not fit");
    EffectDistances out;
    if (P == 0 || Q == 0) return out;
    const size_t padded = (size_t)(((P + kTile - 1) / kTile) * kTile);  // rows of whole tiles
    out.l1.assign(padded * (size_t)Q, 0.0);
    std::vector<double> sq(l1_only ? 0 : out.l1.size()), dot(sq.size()), nu(sq.size()), nv(l1_only ? 0 : padded);
    BlockSums block = l1_only ? block_sums<true> : block_sums<false>;
#ifdef GPO_DISTANCES_AVX2
    if (g_build.avx2()) block = l1_only ? block_sums_avx2<true> : block_sums_avx2<false>;
#endif
    all_tiles(block, pred, P, real, Q, G, skip, out.l1.data(), l1_only ? nullptr : sq.data(),
              l1_only ? nullptr : dot.data(), l1_only ? nullptr : nu.data(), l1_only ? nullptr : nv.data());
    out.l1.resize((size_t)(P * Q));
    if (l1_only) return out;
    out.l2.resize(out.l1.size()), out.cosine.resize(out.l1.size());
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < Q; ++j) {
            const size_t k = (size_t)(i * Q + j);
            out.l2[k] = std::sqrt(sq[k]);
            out.cosine[k] = nu[k] > 0 && nv[(size_t)i] > 0
                                ? std::clamp(1.0 - dot[k] / std::sqrt(nu[k] * nv[(size_t)i]), 0.0, 2.0)
                                : 1.0;
        }
    return out;
}

std::vector<double> discrimination_scores(const std::vector<double>& d, int64_t P) {
    GPO_CHECK((int64_t)d.size() == P * P, "discrimination scores: " << d.size() << " distances for " << P
                                                                     << " perturbations (expected P x P)");
    std::vector<double> score((size_t)P);
    for (int64_t i = 0; i < P; ++i) {
        const double* row = d.data() + i * P;
        int64_t rank = 0;
        for (int64_t j = 0; j < P; ++j) rank += row[j] < row[i] || (row[j] == row[i] && j < i);
        score[(size_t)i] = 1.0 - (double)rank / (double)P;
    }
    return score;
}

}  // namespace gpo::eval
