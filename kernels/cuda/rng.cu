// CUDA: counter-based RNG fills (uniform, normal, gamma, Poisson, gamma-Poisson), one thread per element in
// grid-stride loops, each calling the same per-element draw as the CPU reference (kernels/philox.h, kernels/cpu/rng.h).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/rng.h"
#include "kernels/cpu/rng.h"
#include "kernels/philox.h"

namespace gpo::cuda {

// ---------------------------------------------------------------------------- kernels
__global__ void rng_uniform_kernel(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = philox::uniform_f32(seed, stream, offset + (uint64_t)i);
}

__global__ void rng_normal_kernel(float* out, int64_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = philox::normal_f32(seed, stream, offset + (uint64_t)i);
}

// n_bad (one counter) += number of elements with invalid parameters (their output is NaN).
__global__ void rng_gamma_kernel(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed,
                                 uint64_t stream, uint64_t offset, unsigned long long* n_bad) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        double a = shape[i], r = rate[i];
        if (!philox::gamma_params_ok(a, r)) atomicAdd(n_bad, 1ull);
        out[i] = (float)philox::gamma_draw(a, r, seed, stream, offset + (uint64_t)i);
    }
}

__global__ void rng_poisson_kernel(float* out, const float* rate, int64_t n, uint64_t seed, uint64_t stream,
                                   uint64_t offset, unsigned long long* n_bad) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        double r = rate[i];
        if (!philox::poisson_rate_ok(r)) atomicAdd(n_bad, 1ull);
        out[i] = (float)philox::poisson_draw(r, seed, stream, offset + (uint64_t)i);
    }
}

__global__ void rng_gamma_poisson_kernel(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed,
                                         uint64_t stream, uint64_t offset, unsigned long long* n_bad) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        double a = shape[i], r = rate[i];
        if (!philox::gamma_params_ok(a, r)) atomicAdd(n_bad, 1ull);
        out[i] = (float)philox::gamma_poisson_draw(a, r, seed, stream, offset + (uint64_t)i);
    }
}

__global__ void rng_nb_counts_kernel(float* out, const float* mean, const double* c, int64_t G, int64_t n,
                                     uint64_t seed, uint64_t stream, uint64_t offset, unsigned long long* n_bad) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float a, r;
        cpu::nb_counts_params(c[i % G], mean[i], &a, &r);
        if (!philox::gamma_params_ok(a, r)) atomicAdd(n_bad, 1ull);
        out[i] = (float)philox::gamma_poisson_draw(a, r, seed, stream, offset + (uint64_t)i);
    }
}

// ---------------------------------------------------------------------------- launchers
// One device counter for the invalid-parameter counts, allocated on first use (kept for the process lifetime).
static unsigned long long* bad_counter() {
    static unsigned long long* p = nullptr;
    if (!p) CUDA_CHECK(cudaMalloc(&p, sizeof(unsigned long long)));
    return p;
}

static int64_t read_bad_counter(unsigned long long* d) {
    unsigned long long h = 0;
    CUDA_CHECK(cudaMemcpyAsync(&h, d, sizeof(h), cudaMemcpyDeviceToHost, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    return (int64_t)h;
}

void rng_uniform_fill(float* out, int64_t n, uint64_t seed, uint64_t strm, uint64_t offset) {
    if (n == 0) return;
    rng_uniform_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(out, n, seed, strm, offset);
    CUDA_CHECK_LAUNCH();
}

void rng_normal_fill(float* out, int64_t n, uint64_t seed, uint64_t strm, uint64_t offset) {
    if (n == 0) return;
    rng_normal_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(out, n, seed, strm, offset);
    CUDA_CHECK_LAUNCH();
}

int64_t rng_gamma_fill(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed, uint64_t strm,
                       uint64_t offset) {
    if (n == 0) return 0;
    unsigned long long* bad = bad_counter();
    CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(*bad), stream()));
    rng_gamma_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(out, shape, rate, n, seed, strm, offset, bad);
    CUDA_CHECK_LAUNCH();
    return read_bad_counter(bad);
}

int64_t rng_poisson_fill(float* out, const float* rate, int64_t n, uint64_t seed, uint64_t strm, uint64_t offset) {
    if (n == 0) return 0;
    unsigned long long* bad = bad_counter();
    CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(*bad), stream()));
    rng_poisson_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(out, rate, n, seed, strm, offset, bad);
    CUDA_CHECK_LAUNCH();
    return read_bad_counter(bad);
}

int64_t rng_gamma_poisson_fill(float* out, const float* shape, const float* rate, int64_t n, uint64_t seed,
                               uint64_t strm, uint64_t offset) {
    if (n == 0) return 0;
    unsigned long long* bad = bad_counter();
    CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(*bad), stream()));
    rng_gamma_poisson_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(out, shape, rate, n, seed, strm, offset, bad);
    CUDA_CHECK_LAUNCH();
    return read_bad_counter(bad);
}

// The concentrations' device copy, grown on demand (kept for the process lifetime, as the counter).
int64_t rng_nb_counts_fill(float* out, const float* mean, const double* c_host, int64_t G, int64_t n, uint64_t seed,
                           uint64_t strm, uint64_t offset) {
    if (n == 0) return 0;
    static double* c_dev = nullptr;
    static int64_t c_cap = 0;
    if (G > c_cap) {
        if (c_dev) CUDA_CHECK(cudaFree(c_dev));
        c_dev = nullptr;
        c_cap = 0;
        CUDA_CHECK(cudaMalloc(&c_dev, sizeof(double) * (size_t)G));
        c_cap = G;
    }
    // Synchronous with the host for pageable memory, so c_host may go once this returns.
    CUDA_CHECK(cudaMemcpyAsync(c_dev, c_host, sizeof(double) * (size_t)G, cudaMemcpyHostToDevice, stream()));
    unsigned long long* bad = bad_counter();
    CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(*bad), stream()));
    rng_nb_counts_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(out, mean, c_dev, G, n, seed, strm, offset, bad);
    CUDA_CHECK_LAUNCH();
    return read_bad_counter(bad);
}

}  // namespace gpo::cuda
