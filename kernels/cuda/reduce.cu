// CUDA: the reduction family, forward and backward (reference: kernels/cpu/reduce.h). x is viewed as
// (outer, n, inner). Whole-tensor sums use cub::DeviceReduce::Sum; axis reductions use a thread per output
// (coalesced when inner is large) or a block per output with cub::BlockReduce (contiguous or few long slices).
#include <cub/block/block_reduce.cuh>
#include <cub/device/device_reduce.cuh>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/reduce.h"

namespace gpo::cuda {

namespace {

// A block per output pays off when the reduced slice is contiguous (inner == 1) or when there are too few
// outputs to fill the GPU with a thread each.
bool use_block_per_output(int64_t outer, int64_t n, int64_t inner) {
    int64_t outputs = outer * inner;
    return (inner == 1 && n >= 32) || (outputs < 2048 && n >= 256);
}

unsigned grid_blocks(int64_t outputs) { return (unsigned)(outputs < 65535 ? outputs : 65535); }

// ---------------------------------------------------------------------------- kernels
// Thread t sums chunk s = t / outputs of output j = t % outputs over the axis. out is (S, outputs) partial sums,
// or y itself (scaled) when there is one chunk.
__global__ void sum_axis_partial_kernel(float* out, bool final, const float* x, int64_t outer, int64_t n,
                                        int64_t inner, int64_t S, int64_t chunk, float scale) {
    int64_t outputs = outer * inner;
    GRID_STRIDE(t, outputs * S) {
        int64_t j = t % outputs, s = t / outputs;
        int64_t o = j / inner, i = j % inner;
        int64_t k0 = s * chunk, k1 = k0 + chunk < n ? k0 + chunk : n;
        float acc = 0.f;
        for (int64_t k = k0; k < k1; ++k) acc += x[(o * n + k) * inner + i];
        out[t] = final ? acc * scale : acc;
    }
}

// y (outputs) = scale * the S partial sums of each output, added in order.
__global__ void sum_axis_finish_kernel(float* y, const float* partial, int64_t outputs, int64_t S, float scale) {
    GRID_STRIDE(j, outputs) {
        float acc = 0.f;
        for (int64_t s = 0; s < S; ++s) acc += partial[s * outputs + j];
        y[j] = acc * scale;
    }
}

__global__ void sum_axis_block_kernel(float* y, const float* x, int64_t outer, int64_t n, int64_t inner,
                                      float scale) {
    using BlockReduce = cub::BlockReduce<float, BLOCK>;
    __shared__ typename BlockReduce::TempStorage tmp;
    for (int64_t j = blockIdx.x; j < outer * inner; j += gridDim.x) {
        int64_t o = j / inner, i = j % inner;
        float acc = 0.f;
        for (int64_t k = threadIdx.x; k < n; k += blockDim.x) acc += x[(o * n + k) * inner + i];
        float total = BlockReduce(tmp).Sum(acc);
        if (threadIdx.x == 0) y[j] = total * scale;
        __syncthreads();  // tmp is reused by the next output
    }
}

__global__ void scale_kernel(float* y, float scale) { y[0] *= scale; }

__global__ void sum_axis_backward_kernel(float* dx, const float* dy, int64_t outer, int64_t n, int64_t inner,
                                         float scale) {
    GRID_STRIDE(j, outer * n * inner) {
        int64_t o = j / (n * inner), i = j % inner;
        dx[j] += scale * dy[o * inner + i];
    }
}

__device__ float lse_finish(float m, float s) {
    float shift = isfinite(m) ? m : 0.f;  // all -inf gives -inf, a +inf entry gives +inf (torch)
    return shift + logf(s);
}

__global__ void logsumexp_thread_kernel(float* y, const float* x, int64_t outer, int64_t n, int64_t inner) {
    GRID_STRIDE(j, outer * inner) {
        int64_t o = j / inner, i = j % inner;
        const float* xs = x + o * n * inner + i;
        float m = -INFINITY;
        for (int64_t k = 0; k < n; ++k) m = fmaxf(m, xs[k * inner]);
        float shift = isfinite(m) ? m : 0.f;
        float s = 0.f;
        for (int64_t k = 0; k < n; ++k) s += expf(xs[k * inner] - shift);
        y[j] = lse_finish(m, s);
    }
}

__global__ void logsumexp_block_kernel(float* y, const float* x, int64_t outer, int64_t n, int64_t inner) {
    using BlockReduce = cub::BlockReduce<float, BLOCK>;
    __shared__ typename BlockReduce::TempStorage tmp;
    __shared__ float shared_max;
    for (int64_t j = blockIdx.x; j < outer * inner; j += gridDim.x) {
        int64_t o = j / inner, i = j % inner;
        const float* xs = x + o * n * inner + i;
        float m = -INFINITY;
        for (int64_t k = threadIdx.x; k < n; k += blockDim.x) m = fmaxf(m, xs[k * inner]);
        float block_max = BlockReduce(tmp).Reduce(m, MaxOp());
        if (threadIdx.x == 0) shared_max = block_max;
        __syncthreads();
        m = shared_max;
        float shift = isfinite(m) ? m : 0.f;
        float s = 0.f;
        for (int64_t k = threadIdx.x; k < n; k += blockDim.x) s += expf(xs[k * inner] - shift);
        __syncthreads();  // tmp reuse
        float total = BlockReduce(tmp).Sum(s);
        if (threadIdx.x == 0) y[j] = lse_finish(m, total);
        __syncthreads();  // before the next output overwrites shared_max
    }
}

__global__ void logsumexp_backward_kernel(float* dx, const float* dy, const float* x, const float* y, int64_t outer,
                                          int64_t n, int64_t inner) {
    GRID_STRIDE(j, outer * n * inner) {
        int64_t oi = (j / (n * inner)) * inner + j % inner;
        dx[j] += dy[oi] * expf(x[j] - y[oi]);
    }
}

}  // namespace

// ---------------------------------------------------------------------------- launchers
void sum_axis_forward(float* y, const float* x, int64_t outer, int64_t n, int64_t inner, float scale) {
    int64_t outputs = outer * inner;
    if (outputs == 0) return;
    if (n == 0) {
        CUDA_CHECK(cudaMemsetAsync(y, 0, (size_t)outputs * sizeof(float), stream()));
        return;
    }
    if (outputs == 1) {  // the whole tensor: cub::DeviceReduce (multi-block tree reduction)
        size_t bytes = 0;
        CUDA_CHECK(cub::DeviceReduce::Sum(nullptr, bytes, x, y, n, stream()));
        void* tmp = nullptr;
        CUDA_CHECK(cudaMallocAsync(&tmp, bytes > 0 ? bytes : 1, stream()));
        CUDA_CHECK(cub::DeviceReduce::Sum(tmp, bytes, x, y, n, stream()));
        CUDA_CHECK(cudaFreeAsync(tmp, stream()));
        if (scale != 1.f) {
            scale_kernel<<<1, 1, 0, stream()>>>(y, scale);
            CUDA_CHECK_LAUNCH();
        }
        return;
    }
    if (use_block_per_output(outer, n, inner)) {
        sum_axis_block_kernel<<<grid_blocks(outputs), BLOCK, 0, stream()>>>(y, x, outer, n, inner, scale);
        CUDA_CHECK_LAUNCH();
        return;
    }
    // Chunks of the axis so that about 256k threads run, each summing at least ~16 terms; at most 32 chunks.
    int64_t S = (262144 + outputs - 1) / outputs;
    if (S > n / 16) S = n / 16;
    if (S > 32) S = 32;
    if (S < 1) S = 1;
    int64_t chunk = (n + S - 1) / S;
    S = (n + chunk - 1) / chunk;  // no empty chunks
    if (S == 1) {
        sum_axis_partial_kernel<<<grid_for(outputs), BLOCK, 0, stream()>>>(y, true, x, outer, n, inner, 1, chunk,
                                                                           scale);
        CUDA_CHECK_LAUNCH();
        return;
    }
    float* partial = nullptr;
    CUDA_CHECK(cudaMallocAsync((void**)&partial, (size_t)(S * outputs) * sizeof(float), stream()));
    sum_axis_partial_kernel<<<grid_for(S * outputs), BLOCK, 0, stream()>>>(partial, false, x, outer, n, inner, S,
                                                                           chunk, scale);
    CUDA_CHECK_LAUNCH();
    sum_axis_finish_kernel<<<grid_for(outputs), BLOCK, 0, stream()>>>(y, partial, outputs, S, scale);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaFreeAsync(partial, stream()));
}

void sum_axis_backward(float* dx, const float* dy, int64_t outer, int64_t n, int64_t inner, float scale) {
    int64_t total = outer * n * inner;
    if (total == 0) return;
    sum_axis_backward_kernel<<<grid_for(total), BLOCK, 0, stream()>>>(dx, dy, outer, n, inner, scale);
    CUDA_CHECK_LAUNCH();
}

void logsumexp_forward(float* y, const float* x, int64_t outer, int64_t n, int64_t inner) {
    int64_t outputs = outer * inner;
    if (outputs == 0) return;
    if (use_block_per_output(outer, n, inner) || outputs == 1)
        logsumexp_block_kernel<<<grid_blocks(outputs), BLOCK, 0, stream()>>>(y, x, outer, n, inner);
    else
        logsumexp_thread_kernel<<<grid_for(outputs), BLOCK, 0, stream()>>>(y, x, outer, n, inner);
    CUDA_CHECK_LAUNCH();
}

void logsumexp_backward(float* dx, const float* dy, const float* x, const float* y, int64_t outer, int64_t n,
                        int64_t inner) {
    int64_t total = outer * n * inner;
    if (total == 0) return;
    logsumexp_backward_kernel<<<grid_for(total), BLOCK, 0, stream()>>>(dx, dy, x, y, outer, n, inner);
    CUDA_CHECK_LAUNCH();
}

}  // namespace gpo::cuda

// ---------------------------------------------------------------------------- fused sigmoid mean (mask sparsity)
namespace gpo::cuda {

namespace {

constexpr int kSigmoidMeanBlocks = 1024;  // fixed grid: the partial sums and their order depend on n only

__device__ float stable_sigmoid(float v) {
    float e = expf(-fabsf(v));
    return v >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
}

__global__ void sigmoid_sum_partial_kernel(float* partial, const float* x, int64_t n) {
    using BlockReduce = cub::BlockReduce<float, BLOCK>;
    __shared__ typename BlockReduce::TempStorage tmp;
    float acc = 0.f;
    for (int64_t i = (int64_t)blockIdx.x * BLOCK + threadIdx.x; i < n; i += (int64_t)gridDim.x * BLOCK)
        acc += stable_sigmoid(x[i]);
    float total = BlockReduce(tmp).Sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void sigmoid_mean_finish_kernel(float* y, const float* partial, int blocks, float scale) {
    using BlockReduce = cub::BlockReduce<float, BLOCK>;
    __shared__ typename BlockReduce::TempStorage tmp;
    float acc = 0.f;
    for (int b = threadIdx.x; b < blocks; b += BLOCK) acc += partial[b];
    float total = BlockReduce(tmp).Sum(acc);
    if (threadIdx.x == 0) y[0] = total * scale;
}

__global__ void sigmoid_mean_backward_kernel(float* dx, const float* dy, const float* x, int64_t n, float scale) {
    const float g = dy[0] * scale;
    GRID_STRIDE(i, n) {
        float s = stable_sigmoid(x[i]);
        dx[i] += g * s * (1.f - s);
    }
}

}  // namespace

void sigmoid_mean_forward(float* y, const float* x, int64_t n) {
    if (n <= 0) {
        CUDA_CHECK(cudaMemsetAsync(y, 0, sizeof(float), stream()));
        return;
    }
    int64_t want = (n + BLOCK - 1) / BLOCK;
    const int blocks = (int)(want < kSigmoidMeanBlocks ? want : kSigmoidMeanBlocks);
    float* partial = nullptr;
    CUDA_CHECK(cudaMallocAsync(&partial, (size_t)blocks * sizeof(float), stream()));
    sigmoid_sum_partial_kernel<<<blocks, BLOCK, 0, stream()>>>(partial, x, n);
    CUDA_CHECK_LAUNCH();
    sigmoid_mean_finish_kernel<<<1, BLOCK, 0, stream()>>>(y, partial, blocks, 1.f / (float)n);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaFreeAsync(partial, stream()));
}

void sigmoid_mean_backward(float* dx, const float* dy, const float* x, int64_t n) {
    if (n <= 0) return;
    sigmoid_mean_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(dx, dy, x, n, 1.f / (float)n);
    CUDA_CHECK_LAUNCH();
}

}  // namespace gpo::cuda
