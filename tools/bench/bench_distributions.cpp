// Microbenchmarks, distributions family at reference scale: the fused NB likelihood (512 cells x 5 particles x
// 8,563 genes, forward and forward+backward), the straight-through mask and log q(M) over the ~350 present
// perturbation rows (5 x 350 x 1,546), and the Gaussian ops at 2,560 x 100 (latent 100).
#include <cmath>

#include "engine/ops/distributions.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

namespace {

// Deterministic, mildly varied inputs (uniform-ish in [lo, hi)) without depending on the test harness.
Tensor pattern(const Shape& shape, double lo, double hi, uint64_t seed) {
    std::vector<double> v((size_t)shape_numel(shape));
    uint64_t s = seed * 2654435761ULL + 1;
    for (double& x : v) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x = lo + (hi - lo) * ((s >> 11) * (1.0 / 9007199254740992.0));
    }
    return Tensor::from_vector(shape, v, DType::F32);
}

struct NbData {
    Tensor logits, log_theta, counts, library, seed;
};

NbData nb_data(Device dev, int64_t P, int64_t B, int64_t G) {
    Tensor counts = pattern({B, G}, 0, 6, 3);  // sparse-ish small counts, as in scRNA-seq
    std::vector<double> lib(B, 0.0);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t g = 0; g < G; ++g) {
            float& x = counts.f32()[b * G + g];
            x = x < 4 ? 0.f : std::floor(x * x);
            lib[b] += x;
        }
    return {pattern({P * B, G}, -2, 2, 1).to(dev), pattern({G}, -1, 2, 2).to(dev), counts.to(dev),
            Tensor::from_vector({B}, lib, DType::F32).to(dev), Tensor::full({P * B}, 1.0).to(dev)};
}

}  // namespace

static gpo::bench::Registrar reg([] {
    const int64_t P = 5, B = 512, G = 8563;
    std::string nb_shape = std::to_string(P * B) + "x" + std::to_string(G);
    // Bytes: forward reads logits once (counts are L2-resident per particle); backward reads logits and
    // reads+writes dlogits.
    double rg = 4.0 * P * B * G;
    gpo::bench::add("nb_log_prob_softmax_fwd", nb_shape, {0, rg}, [=](Device dev) {
        NbData d = nb_data(dev, P, B, G);
        return std::function<void()>([=] {
            Tape t;
            NoGradGuard ng(t);
            ops::nb_log_prob_softmax(t, t.constant(d.logits), t.constant(d.log_theta), d.counts, d.library);
        });
    });
    gpo::bench::add("nb_log_prob_softmax_fwd_bwd", nb_shape, {0, 4 * rg}, [=](Device dev) {
        NbData d = nb_data(dev, P, B, G);
        return std::function<void()>([=] {
            Tape t;
            Var out = ops::nb_log_prob_softmax(t, t.input(d.logits), t.input(d.log_theta), d.counts, d.library);
            t.backward(out, d.seed);
        });
    });

    // Straight-through mask over the present perturbation rows, then log q(M) (forward + backward).
    const int64_t PP = 5, T = 350, C = 1546;
    std::string m_shape = std::to_string(PP) + "x" + std::to_string(T) + "x" + std::to_string(C);
    double mbytes = 4.0 * PP * T * C * 3;  // u read, M written, dM read
    gpo::bench::add("relaxed_bernoulli_st_fwd_bwd", m_shape, {0, mbytes}, [=](Device dev) {
        Tensor W = pattern({T, C}, -3, 3, 4).to(dev), u = pattern({PP, T, C}, 0, 1, 5).to(dev);
        Tensor seed = Tensor::full({PP, T, C}, 1.0).to(dev);
        return std::function<void()>([=] {
            Tape t;
            t.backward(ops::relaxed_bernoulli_st(t, t.input(W), u, 1.0), seed);
        });
    });
    gpo::bench::add("log_q_mask_fwd_bwd", m_shape, {0, 2 * mbytes}, [=](Device dev) {
        Tensor W = pattern({T, C}, -3, 3, 4).to(dev), u = pattern({PP, T, C}, 0, 1, 5).to(dev);
        Tensor seed = Tensor::full({PP, T, C}, 1.0).to(dev);
        return std::function<void()>([=] {
            Tape t;
            Var w = t.input(W);
            t.backward(ops::bernoulli_log_prob(t, ops::relaxed_bernoulli_st(t, w, u, 1.0), w, true), seed);
        });
    });

    // Gaussian ops at 2,560 x 100 (z_b of 512 cells x 5 particles), forward + backward.
    const int64_t N = 2560, L = 100;
    std::string g_shape = std::to_string(N) + "x" + std::to_string(L);
    double gb = 4.0 * N * L;
    auto gauss = [=](const char* name, double bytes, int which) {
        gpo::bench::add(name, g_shape, {0, bytes}, [=](Device dev) {
            Tensor x = pattern({N, L}, -2, 2, 6).to(dev), mu = pattern({N, L}, -1, 1, 7).to(dev),
                   s = pattern({N, L}, 0.3, 2, 8).to(dev), mu2 = pattern({N, L}, -1, 1, 9).to(dev),
                   s2 = pattern({N, L}, 0.3, 2, 10).to(dev), seed = Tensor::full({N, L}, 1.0).to(dev);
            return std::function<void()>([=] {
                Tape t;
                Var out;
                if (which == 0) out = ops::gaussian_sample(t, t.input(mu), t.input(s), x);
                if (which == 1) out = ops::gaussian_log_prob(t, t.input(x), t.input(mu), t.input(s));
                if (which == 2) out = ops::std_normal_log_prob(t, t.input(x));
                if (which == 3) out = ops::gaussian_kl(t, t.input(mu), t.input(s), t.input(mu2), t.input(s2));
                t.backward(out, seed);
            });
        });
    };
    gauss("gaussian_sample_fwd_bwd", 6 * gb, 0);
    gauss("gaussian_log_prob_fwd_bwd", 8 * gb, 1);
    gauss("std_normal_log_prob_fwd_bwd", 4 * gb, 2);
    gauss("gaussian_kl_fwd_bwd", 10 * gb, 3);
});
