// Microbenchmarks of the RNG fills at reference scale: uniform and normal noise for 5 particles x T = 1,546
// treatments x 1,546 (the relaxed-Bernoulli mask noise), and negative-binomial counts of 2,500 x 8,563, as a gamma
// then a Poisson fill, as the one-step gamma-Poisson fill, and as the likelihood's counts from means (parameter
// tensors then the draw, against rng_nb_counts); each on the CPU also with the per-element reference fills instead
// of the AVX2 lanes (`_per_element`; kernels/cpu/rng_lanes.h; the same values). GB/s counts the bytes written and
// read (f32).
#include <algorithm>
#include <cmath>

#include "engine/parallel.h"
#include "engine/rng.h"
#include "kernels/cpu/rng_lanes.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

// Registers `name` and `name_per_element`: the same fills, the second with the CPU's lane fills forced onto the
// per-element reference while it runs (on a GPU both rows run the same kernels).
static void add_with_reference(const std::string& name, const std::string& shape, gpo::bench::Work work,
                               gpo::bench::SetupFn setup) {
    gpo::bench::add(name, shape, work, setup);
    gpo::bench::add(name + "_per_element", shape, work, [setup](Device dev) {
        std::function<void()> fill = setup(dev);
        return std::function<void()>([fill] {
            cpu::rng_lanes_force_build("baseline");
            fill();
            cpu::rng_lanes_force_build("");
        });
    });
}

static gpo::bench::Registrar reg([] {
    const int64_t P = 5, T = 1546, N = 2500, G = 8563;
    const std::string shape_noise = std::to_string(P) + "x" + std::to_string(T) + "x" + std::to_string(T);
    const double noise_bytes = 4.0 * P * T * T;
    add_with_reference("rng_uniform", shape_noise, {0, noise_bytes}, [=](Device dev) {
        auto out = std::make_shared<Tensor>(Tensor::empty({P, T, T}, DType::F32, dev));
        return std::function<void()>([=] { rng_uniform(*out, {1, 0}, 0); });
    });
    add_with_reference("rng_normal", shape_noise, {0, noise_bytes}, [=](Device dev) {
        auto out = std::make_shared<Tensor>(Tensor::empty({P, T, T}, DType::F32, dev));
        return std::function<void()>([=] { rng_normal(*out, {1, 1}, 0); });
    });
    // NB-like parameters: shape (inverse dispersion) in [0.2, 5], rate = shape / mean with means log-uniform in
    // [0.01, 100] (as a cell's genes: most means small; 73 % of them at most 8, the inversion's range).
    const std::string shape_counts = std::to_string(N) + "x" + std::to_string(G);
    auto nb_params = [=](Device dev) {
        std::vector<double> shape((size_t)(N * G)), rate((size_t)(N * G));
        for (size_t i = 0; i < shape.size(); ++i) {
            double k = 0.2 + 4.8 * (double)(i % 97) / 96.0, mean = 0.01 * std::pow(1e4, (double)(i % 89) / 88.0);
            shape[i] = k;
            rate[i] = k / mean;
        }
        return std::make_pair(std::make_shared<Tensor>(Tensor::from_vector({N, G}, shape, DType::F32).to(dev)),
                              std::make_shared<Tensor>(Tensor::from_vector({N, G}, rate, DType::F32).to(dev)));
    };
    // Two stages: gamma reads shape and rate and writes; Poisson reads the gamma draws and writes: 5 f32 per element.
    add_with_reference("rng_gamma_then_poisson", shape_counts, {0, 5 * 4.0 * N * G}, [=](Device dev) {
        auto params = nb_params(dev);
        auto S = params.first, R = params.second;
        auto g = std::make_shared<Tensor>(Tensor::empty({N, G}, DType::F32, dev));
        auto c = std::make_shared<Tensor>(Tensor::empty({N, G}, DType::F32, dev));
        return std::function<void()>([=] {
            rng_gamma(*g, *S, *R, {2, 0}, 0);
            rng_poisson(*c, *g, {2, 1}, 0);
        });
    });
    // The same law in one draw (rng_gamma_poisson: inversion where the mean is <= 8): reads 2 f32, writes 1.
    add_with_reference("rng_gamma_poisson", shape_counts, {0, 3 * 4.0 * N * G}, [=](Device dev) {
        auto params = nb_params(dev);
        auto S = params.first, R = params.second;
        auto c = std::make_shared<Tensor>(Tensor::empty({N, G}, DType::F32, dev));
        return std::function<void()>([=] { rng_gamma_poisson(*c, *S, *R, {2, 0}, 0); });
    });
    // The likelihood's counts from its means (what generate() draws): concentrations per gene in [0.2, 5], means as
    // above. Before: shape and rate tensors filled on the host (as sample_gamma_poisson did up to e05cdf9: reads 1,
    // writes 2, then the draw reads 2 and writes 1); rng_nb_counts: parameters beside the draw (reads 1, writes 1).
    auto nb_means = [=](Device dev) {
        std::vector<double> mean((size_t)(N * G)), c((size_t)G);
        for (size_t i = 0; i < mean.size(); ++i) mean[i] = 0.01 * std::pow(1e4, (double)(i % 89) / 88.0);
        for (int64_t g = 0; g < G; ++g) c[(size_t)g] = 0.2 + 4.8 * (double)(g % 97) / 96.0;
        return std::make_pair(std::make_shared<Tensor>(Tensor::from_vector({N, G}, mean, DType::F32).to(dev)), c);
    };
    add_with_reference("rng_nb_params_then_gamma_poisson", shape_counts, {0, 6 * 4.0 * N * G}, [=](Device dev) {
        auto means = nb_means(dev);
        auto M = means.first;
        const std::vector<double> c = means.second;
        auto out = std::make_shared<Tensor>(Tensor::empty({N, G}, DType::F32, dev));
        return std::function<void()>([=] {
            const Tensor mh = M->to(Device::CPU);
            Tensor sh = Tensor::empty({N, G}, DType::F32), rt = Tensor::empty({N, G}, DType::F32);
            const float* mu = mh.f32();
            float *shp = sh.f32(), *rtp = rt.f32();
            parallel_ranges(N, std::max<int64_t>(1, 16384 / G), [&](int64_t r0, int64_t r1) {
                for (int64_t i = r0 * G; i < r1 * G; i += G)
                    for (int64_t g = 0; g < G; ++g) {
                        shp[i + g] = (float)c[g];
                        rtp[i + g] = (float)std::max(c[g] / ((double)mu[i + g] + 1e-4), 1e-6);
                    }
            });
            rng_gamma_poisson(*out, sh.to(dev), rt.to(dev), {2, 0}, 0);
        });
    });
    add_with_reference("rng_nb_counts", shape_counts, {0, 2 * 4.0 * N * G}, [=](Device dev) {
        auto means = nb_means(dev);
        auto M = means.first;
        const std::vector<double> c = means.second;
        auto out = std::make_shared<Tensor>(Tensor::empty({N, G}, DType::F32, dev));
        return std::function<void()>([=] { rng_nb_counts(*out, *M, c, {2, 0}, 0); });
    });
});
