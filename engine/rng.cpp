// Counter-based random fills (engine/rng.h): argument checks, then the CPU loops (kernels/cpu/rng.h) or the CUDA
// launchers (kernels/cuda/rng.cu); and HostRng, a sequential Philox stream on the host. Layout: kernels/philox.h.
#include "engine/rng.h"

#include <atomic>

#include "engine/ops/dispatch.h"
#include "kernels/cpu/rng.h"
#include "kernels/cpu/rng_lanes.h"
#include "kernels/cuda/rng.h"
#include "kernels/philox.h"

namespace gpo {

static void check_key(const char* op, RngKey key) {
    GPO_CHECK((key.stream >> 48) == 0, "op " << op << ": stream " << key.stream
                                              << " does not fit the counter layout (streams must be < 2^48)");
}

// A fill's output: f32/f64 on CPU, f32 on CUDA.
static void check_out(const char* op, const Tensor& out) {
    GPO_CHECK(out.defined(), "op " << op << ": output tensor is undefined");
    ops::check_same_kind(op, {&out});
}

void rng_uniform(Tensor& out, RngKey key, uint64_t offset) {
    check_key("rng_uniform", key);
    check_out("rng_uniform", out);
    if (out.is_cuda()) {
        GPO_CUDA(cuda::rng_uniform_fill(out.f32(), out.numel(), key.seed, key.stream, offset));
        return;
    }
    ops::dispatch_cpu(out, "rng_uniform", [&](auto tag) {
        using T = decltype(tag);
        T* o = out.ptr<T>();  // element i draws counter offset + i, whichever thread fills it
        parallel_ranges(out.numel(), ops::kElementGrain, [&](int64_t lo, int64_t hi) {
            cpu::rng_uniform_fill_lanes(o + lo, hi - lo, key.seed, key.stream, offset + (uint64_t)lo);
        });
    });
}

void rng_normal(Tensor& out, RngKey key, uint64_t offset) {
    check_key("rng_normal", key);
    check_out("rng_normal", out);
    if (out.is_cuda()) {
        GPO_CUDA(cuda::rng_normal_fill(out.f32(), out.numel(), key.seed, key.stream, offset));
        return;
    }
    ops::dispatch_cpu(out, "rng_normal", [&](auto tag) {
        using T = decltype(tag);
        T* o = out.ptr<T>();  // element i draws counter offset + i, whichever thread fills it
        parallel_ranges(out.numel(), ops::kElementGrain, [&](int64_t lo, int64_t hi) {
            cpu::rng_normal_fill_lanes(o + lo, hi - lo, key.seed, key.stream, offset + (uint64_t)lo);
        });
    });
}

void rng_gamma(Tensor& out, const Tensor& shape, const Tensor& rate, RngKey key, uint64_t offset) {
    check_key("rng_gamma", key);
    check_out("rng_gamma", out);
    ops::check_same_kind("rng_gamma", {&out, &shape, &rate});
    ops::check_shape("rng_gamma", "shape", shape, out.shape);
    ops::check_shape("rng_gamma", "rate", rate, out.shape);
    int64_t n = out.numel();
    if (out.is_cuda()) {
        int64_t bad = 0;
        GPO_CUDA(bad = cuda::rng_gamma_fill(out.f32(), shape.f32(), rate.f32(), n, key.seed, key.stream, offset));
        GPO_CHECK(bad == 0, "op rng_gamma: " << bad << " of " << n << " elements of " << out.describe()
                                             << " have invalid parameters (need shape > 0 and rate > 0, finite)");
        return;
    }
    ops::dispatch_cpu(out, "rng_gamma", [&](auto tag) {
        using T = decltype(tag);
        int64_t i = cpu::rng_first_bad_gamma<T>(shape.ptr<T>(), rate.ptr<T>(), n);
        GPO_CHECK(i < 0, "op rng_gamma: element " << i << " of " << out.describe() << " has shape "
                                                  << shape.ptr<T>()[i] << " and rate " << rate.ptr<T>()[i]
                                                  << " (need shape > 0 and rate > 0, finite)");
        T* o = out.ptr<T>();  // element i draws counter offset + i, whichever thread fills it
        const T *sh = shape.ptr<T>(), *ra = rate.ptr<T>();
        parallel_ranges(n, ops::kElementGrain, [&](int64_t lo, int64_t hi) {
            cpu::rng_gamma_fill_lanes(o + lo, sh + lo, ra + lo, hi - lo, key.seed, key.stream, offset + (uint64_t)lo);
        });
    });
}

void rng_poisson(Tensor& out, const Tensor& rate, RngKey key, uint64_t offset) {
    check_key("rng_poisson", key);
    check_out("rng_poisson", out);
    ops::check_same_kind("rng_poisson", {&out, &rate});
    ops::check_shape("rng_poisson", "rate", rate, out.shape);
    int64_t n = out.numel();
    if (out.is_cuda()) {
        int64_t bad = 0;
        GPO_CUDA(bad = cuda::rng_poisson_fill(out.f32(), rate.f32(), n, key.seed, key.stream, offset));
        GPO_CHECK(bad == 0, "op rng_poisson: " << bad << " of " << n << " elements of " << out.describe()
                                               << " have an invalid rate (need rate >= 0, finite)");
        return;
    }
    ops::dispatch_cpu(out, "rng_poisson", [&](auto tag) {
        using T = decltype(tag);
        int64_t i = cpu::rng_first_bad_poisson<T>(rate.ptr<T>(), n);
        GPO_CHECK(i < 0, "op rng_poisson: element " << i << " of " << out.describe() << " has rate "
                                                    << rate.ptr<T>()[i] << " (need rate >= 0, finite)");
        T* o = out.ptr<T>();
        const T* ra = rate.ptr<T>();
        parallel_ranges(n, ops::kElementGrain, [&](int64_t lo, int64_t hi) {
            cpu::rng_poisson_fill_lanes(o + lo, ra + lo, hi - lo, key.seed, key.stream, offset + (uint64_t)lo);
        });
    });
}

void rng_gamma_poisson(Tensor& out, const Tensor& shape, const Tensor& rate, RngKey key, uint64_t offset) {
    check_key("rng_gamma_poisson", key);
    check_key("rng_gamma_poisson", RngKey{key.seed, key.stream + 1});  // the two-stage path's Poisson stream
    check_out("rng_gamma_poisson", out);
    ops::check_same_kind("rng_gamma_poisson", {&out, &shape, &rate});
    ops::check_shape("rng_gamma_poisson", "shape", shape, out.shape);
    ops::check_shape("rng_gamma_poisson", "rate", rate, out.shape);
    int64_t n = out.numel();
    if (out.is_cuda()) {
        int64_t bad = 0;
        GPO_CUDA(bad = cuda::rng_gamma_poisson_fill(out.f32(), shape.f32(), rate.f32(), n, key.seed, key.stream,
                                                    offset));
        GPO_CHECK(bad == 0, "op rng_gamma_poisson: " << bad << " of " << n << " elements of " << out.describe()
                                                     << " have invalid parameters"
                                                     << " (need shape > 0 and rate > 0, finite)");
        return;
    }
    ops::dispatch_cpu(out, "rng_gamma_poisson", [&](auto tag) {
        using T = decltype(tag);
        int64_t i = cpu::rng_first_bad_gamma<T>(shape.ptr<T>(), rate.ptr<T>(), n);
        GPO_CHECK(i < 0, "op rng_gamma_poisson: element " << i << " of " << out.describe() << " has shape "
                                                          << shape.ptr<T>()[i] << " and rate " << rate.ptr<T>()[i]
                                                          << " (need shape > 0 and rate > 0, finite)");
        T* o = out.ptr<T>();
        const T *sh = shape.ptr<T>(), *ra = rate.ptr<T>();
        parallel_ranges(n, ops::kElementGrain, [&](int64_t lo, int64_t hi) {
            cpu::rng_gamma_poisson_fill_lanes(o + lo, sh + lo, ra + lo, hi - lo, key.seed, key.stream,
                                              offset + (uint64_t)lo);
        });
    });
}

void rng_nb_counts(Tensor& out, const Tensor& mean, const std::vector<double>& concentration, RngKey key,
                   uint64_t offset) {
    check_key("rng_nb_counts", key);
    check_key("rng_nb_counts", RngKey{key.seed, key.stream + 1});  // the two-stage path's Poisson stream
    check_out("rng_nb_counts", out);
    ops::check_same_kind("rng_nb_counts", {&out, &mean});
    ops::check_shape("rng_nb_counts", "mean", mean, out.shape);
    const int64_t G = (int64_t)concentration.size(), n = out.numel();
    GPO_CHECK(G > 0 && !mean.shape.empty() && mean.shape.back() == G,
              "op rng_nb_counts: means " << mean.describe() << " are not rows of the " << G
                                         << " genes of the concentrations");
    const char* need = " (need shape > 0 and rate > 0, finite: a finite concentration > 0 and a finite mean)";
    if (out.is_cuda()) {
        int64_t bad = 0;
        GPO_CUDA(bad = cuda::rng_nb_counts_fill(out.f32(), mean.f32(), concentration.data(), G, n, key.seed,
                                                key.stream, offset));
        GPO_CHECK(bad == 0, "op rng_nb_counts: " << bad << " of " << n << " elements of " << out.describe()
                                                 << " have invalid gamma parameters" << need);
        return;
    }
    ops::dispatch_cpu(out, "rng_nb_counts", [&](auto tag) {
        using T = decltype(tag);
        T* o = out.ptr<T>();
        const T* mu = mean.ptr<T>();
        std::atomic<int64_t> first_bad{n};
        parallel_ranges(n, ops::kElementGrain, [&](int64_t lo, int64_t hi) {
            const int64_t b = cpu::rng_nb_counts_fill_lanes(o + lo, mu + lo, concentration.data(), G, lo % G, hi - lo,
                                                            key.seed, key.stream, offset + (uint64_t)lo);
            for (int64_t cur = first_bad.load(); b >= 0 && lo + b < cur;)
                if (first_bad.compare_exchange_weak(cur, lo + b)) break;
        });
        const int64_t i = first_bad.load();
        if (i == n) return;
        T shape, rate;
        cpu::nb_counts_params(concentration[i % G], mu[i], &shape, &rate);
        GPO_FAIL("op rng_nb_counts: element " << i << " of " << out.describe() << " has mean " << mu[i]
                                              << " and concentration " << concentration[i % G] << ", i.e. gamma shape "
                                              << shape << " and rate " << rate << need);
    });
}

// ---------------------------------------------------------------------------- HostRng
// Word w of the stream is word w % 4 of the counter block (index w / 4, draw HOST_DRAW), so set_counter(c) resumes
// exactly. Each call recomputes its block (simple; the host uses this for shuffles, not bulk noise).
uint32_t HostRng::next_u32() {
    check_key("HostRng", key_);
    philox::Block b = philox::block_at(key_.seed, key_.stream, counter_ / 4, philox::HOST_DRAW);
    uint32_t w = b.v[counter_ % 4];
    ++counter_;
    return w;
}

// (2k + 1) 2^-53 with k the top 52 bits of two words: exact, strictly inside (0, 1).
double HostRng::uniform() {
    uint32_t hi = next_u32(), lo = next_u32();
    return philox::u01_f64(hi, lo);
}

// Rejection: draw x uniform on [0, 2^32) (or [0, 2^64) when n > 2^32) and reject the top 2^b mod n values, so that
// x mod n is exactly uniform.
uint64_t HostRng::below(uint64_t n) {
    GPO_CHECK(n > 0, "HostRng::below: n must be positive");
    if (n <= 0xFFFFFFFFull) {
        uint32_t m = (uint32_t)n;
        uint32_t rem = (uint32_t)(0u - m) % m;  // 2^32 mod n
        for (;;) {
            uint32_t x = next_u32();
            if (x <= 0xFFFFFFFFu - rem) return x % m;
        }
    }
    uint64_t rem = (0ull - n) % n;  // 2^64 mod n
    for (;;) {
        uint64_t x = ((uint64_t)next_u32() << 32) | next_u32();
        if (x <= 0xFFFFFFFFFFFFFFFFull - rem) return x % n;
    }
}

}  // namespace gpo
