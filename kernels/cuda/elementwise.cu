// CUDA: the element-wise family, forward and backward (reference: kernels/cpu/elementwise.h). Grid-stride loops;
// row softmax uses one block per row with cub::BlockReduce; broadcast backward is a deterministic two-stage
// gather-sum (chunks of each input element's outputs in parallel, then the chunk sums in a fixed order).
#include <cub/block/block_reduce.cuh>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.h"

namespace gpo::cuda {

namespace {

__device__ float unary_value(UnaryOp op, float x, float a, float b, float c) {
    switch (op) {
        case UnaryOp::Scale: return a * x;
        case UnaryOp::AddScalar: return x + a;
        case UnaryOp::Exp: return expf(x);
        case UnaryOp::Log: return logf(x);
        case UnaryOp::Sqrt: return sqrtf(x);
        case UnaryOp::Square: return x * x;
        case UnaryOp::Sigmoid: {
            float e = expf(-fabsf(x));  // stable on both sides
            return x >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
        }
        case UnaryOp::Abs: return fabsf(x);
        case UnaryOp::LeakyRelu: return x > 0.f ? x : a * x;
        case UnaryOp::Clamp: return x < a ? a : (x > b ? b : x);  // NaN stays NaN (fminf/fmaxf would not)
        case UnaryOp::NanToNum:
            if (isnan(x)) return a;
            if (isinf(x)) return x > 0.f ? b : c;
            return x;
    }
    return x;
}

__device__ float unary_grad(UnaryOp op, float dy, float x, float y, float a, float b) {
    switch (op) {
        case UnaryOp::Scale: return a * dy;
        case UnaryOp::AddScalar: return dy;
        case UnaryOp::Exp: return dy * y;
        case UnaryOp::Log: return dy / x;
        case UnaryOp::Sqrt: return dy * 0.5f / y;
        case UnaryOp::Square: return dy * 2.f * x;
        case UnaryOp::Sigmoid: return dy * y * (1.f - y);
        case UnaryOp::Abs: return x > 0.f ? dy : (x < 0.f ? -dy : 0.f);
        case UnaryOp::LeakyRelu: return x > 0.f ? dy : a * dy;
        case UnaryOp::Clamp: return (x >= a && x <= b) ? dy : 0.f;
        case UnaryOp::NanToNum: return isfinite(x) ? dy : 0.f;
    }
    return dy;
}

// Broadcast geometry, shapes padded to 4 dims. A dim is broadcast when in[d] == 1 < out[d].
struct Bcast {
    int64_t in[4], out[4], ostride[4];
    int64_t count;  // output elements per input element (product of the broadcast extents)
};

__device__ bool is_bcast_dim(const Bcast& g, int d) { return g.in[d] == 1 && g.out[d] > 1; }

// Position k (0 <= k < count) of input element i: returns its output index and sets pos (the digits of k over
// the broadcast dims), so bcast_next can walk on without divisions.
__device__ int64_t bcast_start(const Bcast& g, int64_t i, int64_t k, int64_t pos[4]) {
    int64_t o = 0;
    for (int d = 3; d >= 0; --d) {
        pos[d] = 0;
        if (is_bcast_dim(g, d)) {
            pos[d] = k % g.out[d];
            k /= g.out[d];
            o += pos[d] * g.ostride[d];
        } else if (g.in[d] > 1) {
            o += (i % g.in[d]) * g.ostride[d];
            i /= g.in[d];
        }
    }
    return o;
}

// Advances (pos, output index o) to the next broadcast position (an odometer over the broadcast dims).
__device__ int64_t bcast_next(const Bcast& g, int64_t pos[4], int64_t o) {
    for (int d = 3; d >= 0; --d) {
        if (!is_bcast_dim(g, d)) continue;
        o += g.ostride[d];
        if (++pos[d] < g.out[d]) return o;
        o -= g.out[d] * g.ostride[d];
        pos[d] = 0;
    }
    return o;
}

// ---------------------------------------------------------------------------- kernels
__global__ void unary_forward_kernel(UnaryOp op, float* y, const float* x, int64_t n, float a, float b, float c) {
    GRID_STRIDE(i, n) y[i] = unary_value(op, x[i], a, b, c);
}

__global__ void unary_backward_kernel(UnaryOp op, float* dx, const float* dy, const float* x, const float* y,
                                      int64_t n, float a, float b) {
    GRID_STRIDE(i, n) dx[i] += unary_grad(op, dy[i], x[i], y[i], a, b);
}

__global__ void binary_forward_kernel(BinaryOp op, float* y, const float* a, const float* b, int64_t n) {
    GRID_STRIDE(i, n) {
        if (op == BinaryOp::Add) y[i] = a[i] + b[i];
        else if (op == BinaryOp::Sub) y[i] = a[i] - b[i];
        else y[i] = a[i] * b[i];
    }
}

__global__ void mul_backward_kernel(float* da, const float* dy, const float* other, int64_t n) {
    GRID_STRIDE(i, n) da[i] += dy[i] * other[i];
}

__global__ void broadcast_forward_kernel(float* y, const float* x, Bcast g, int64_t n_out) {
    GRID_STRIDE(o, n_out) {
        int64_t rest = o, src = 0, istride = 1;
        for (int d = 3; d >= 0; --d) {
            if (g.out[d] == 1) continue;  // padding dims: no division
            int64_t j = rest % g.out[d];
            rest /= g.out[d];
            if (g.in[d] != 1) src += j * istride;
            istride *= g.in[d];
        }
        y[o] = x[src];
    }
}

// Stage 1: thread t sums chunk s = t / n_in of input element i = t % n_in (adjacent threads take adjacent input
// elements, so a (1, C) -> (R, C) backward reads rows coalesced). out is (S, n_in) partial sums, or dx itself
// (accumulated) when there is one chunk.
__global__ void broadcast_backward_partial_kernel(float* out, bool accumulate, const float* dy, Bcast g, int64_t n_in,
                                                  int64_t S, int64_t chunk) {
    GRID_STRIDE(t, n_in * S) {
        int64_t i = t % n_in, s = t / n_in;
        int64_t k0 = s * chunk, k1 = k0 + chunk < g.count ? k0 + chunk : g.count;
        float acc = 0.f;
        if (k0 < k1) {
            int64_t pos[4];
            int64_t o = bcast_start(g, i, k0, pos);
            for (int64_t k = k0; k < k1; ++k) {
                acc += dy[o];
                o = bcast_next(g, pos, o);
            }
        }
        if (accumulate) out[t] += acc;
        else out[t] = acc;
    }
}

// Stage 2, few chunks: a thread per input element adds its S partials in order.
__global__ void broadcast_backward_finish_thread_kernel(float* dx, const float* partial, int64_t n_in, int64_t S) {
    GRID_STRIDE(i, n_in) {
        float acc = 0.f;
        for (int64_t s = 0; s < S; ++s) acc += partial[s * n_in + i];
        dx[i] += acc;
    }
}

// Stage 2, many chunks: a block per input element, cub::BlockReduce over its partials.
__global__ void broadcast_backward_finish_block_kernel(float* dx, const float* partial, int64_t n_in, int64_t S) {
    using BlockReduce = cub::BlockReduce<float, BLOCK>;
    __shared__ typename BlockReduce::TempStorage tmp;
    for (int64_t i = blockIdx.x; i < n_in; i += gridDim.x) {
        float acc = 0.f;
        for (int64_t s = threadIdx.x; s < S; s += blockDim.x) acc += partial[s * n_in + i];
        float total = BlockReduce(tmp).Sum(acc);
        if (threadIdx.x == 0) dx[i] += total;
        __syncthreads();  // tmp is reused by the next element
    }
}

// One block per row: max, sum of exp(x - max), then the normalised values.
__global__ void softmax_rows_forward_kernel(float* y, const float* x, int64_t rows, int64_t C) {
    using BlockReduce = cub::BlockReduce<float, BLOCK>;
    __shared__ typename BlockReduce::TempStorage tmp;
    __shared__ float shared_val;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * C;
        float m = -INFINITY;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) m = fmaxf(m, xr[c]);
        float row_max = BlockReduce(tmp).Reduce(m, MaxOp());
        if (threadIdx.x == 0) shared_val = row_max;
        __syncthreads();
        m = shared_val;
        float s = 0.f;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += expf(xr[c] - m);
        __syncthreads();  // everyone has read shared_val; tmp may be reused
        float row_sum = BlockReduce(tmp).Sum(s);
        if (threadIdx.x == 0) shared_val = row_sum;
        __syncthreads();
        float inv = 1.f / shared_val;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y[r * C + c] = expf(xr[c] - m) * inv;
        __syncthreads();  // before the next row overwrites shared_val
    }
}

// One block per row: dot = sum dy * y, then dx += y * (dy - dot).
__global__ void softmax_rows_backward_kernel(float* dx, const float* dy, const float* y, int64_t rows, int64_t C) {
    using BlockReduce = cub::BlockReduce<float, BLOCK>;
    __shared__ typename BlockReduce::TempStorage tmp;
    __shared__ float shared_val;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float d = 0.f;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) d += dy[r * C + c] * y[r * C + c];
        float dot = BlockReduce(tmp).Sum(d);
        if (threadIdx.x == 0) shared_val = dot;
        __syncthreads();
        dot = shared_val;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dx[r * C + c] += y[r * C + c] * (dy[r * C + c] - dot);
        __syncthreads();
    }
}

__global__ void concat_part_forward_kernel(float* y, const float* x, int64_t rows, int64_t C, int64_t C_total,
                                           int64_t off) {
    GRID_STRIDE(i, rows * C) y[(i / C) * C_total + off + i % C] = x[i];
}

__global__ void concat_part_backward_kernel(float* dx, const float* dy, int64_t rows, int64_t C, int64_t C_total,
                                            int64_t off) {
    GRID_STRIDE(i, rows * C) dx[i] += dy[(i / C) * C_total + off + i % C];
}

__global__ void log_standardize_forward_kernel(float* y, const float* x, const float* mean, const float* std,
                                               int64_t n, int64_t C) {
    GRID_STRIDE(i, n) {
        int64_t c = i % C;
        float z = (logf(x[i] + 1.f) - mean[c]) / std[c];
        if (isnan(z)) z = 1e-6f;
        else if (isinf(z)) z = z > 0.f ? 1e6f : 1e-6f;
        y[i] = z;
    }
}

__global__ void log_standardize_backward_kernel(float* dx, const float* dy, const float* x, const float* mean,
                                                const float* std, int64_t n, int64_t C) {
    GRID_STRIDE(i, n) {
        int64_t c = i % C;
        float z = (logf(x[i] + 1.f) - mean[c]) / std[c];
        if (isfinite(z)) dx[i] += dy[i] / ((x[i] + 1.f) * std[c]);
    }
}

Bcast make_bcast(const int64_t in[4], const int64_t out[4]) {
    Bcast g;
    int64_t s = 1;
    g.count = 1;
    for (int d = 3; d >= 0; --d) {
        g.in[d] = in[d];
        g.out[d] = out[d];
        g.ostride[d] = s;
        s *= out[d];
        if (in[d] == 1) g.count *= out[d];
    }
    return g;
}

}  // namespace

// ---------------------------------------------------------------------------- launchers
void unary_forward(UnaryOp op, float* y, const float* x, int64_t n, float a, float b, float c) {
    if (n == 0) return;
    unary_forward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(op, y, x, n, a, b, c);
    CUDA_CHECK_LAUNCH();
}

void unary_backward(UnaryOp op, float* dx, const float* dy, const float* x, const float* y, int64_t n, float a,
                    float b) {
    if (n == 0) return;
    unary_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(op, dx, dy, x, y, n, a, b);
    CUDA_CHECK_LAUNCH();
}

void binary_forward(BinaryOp op, float* y, const float* a, const float* b, int64_t n) {
    if (n == 0) return;
    binary_forward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(op, y, a, b, n);
    CUDA_CHECK_LAUNCH();
}

void mul_backward(float* da, const float* dy, const float* other, int64_t n) {
    if (n == 0) return;
    mul_backward_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(da, dy, other, n);
    CUDA_CHECK_LAUNCH();
}

void broadcast_forward(float* y, const float* x, const int64_t in[4], const int64_t out[4]) {
    Bcast g = make_bcast(in, out);
    int64_t n_out = out[0] * out[1] * out[2] * out[3];
    if (n_out == 0) return;
    broadcast_forward_kernel<<<grid_for(n_out), BLOCK, 0, stream()>>>(y, x, g, n_out);
    CUDA_CHECK_LAUNCH();
}

void broadcast_backward(float* dx, const float* dy, const int64_t in[4], const int64_t out[4]) {
    Bcast g = make_bcast(in, out);
    int64_t n_in = in[0] * in[1] * in[2] * in[3];
    if (n_in == 0) return;
    if (g.count == 0) return;  // an empty target: nothing to add
    // Split each input element's `count` outputs into S chunks so that about 256k threads run (enough to saturate
    // memory), each summing at least ~16 outputs; S <= 65536.
    int64_t S = (262144 + n_in - 1) / n_in;
    if (S > g.count / 16) S = g.count / 16;
    if (S > 65536) S = 65536;
    if (S < 1) S = 1;
    int64_t chunk = (g.count + S - 1) / S;
    S = (g.count + chunk - 1) / chunk;  // no empty chunks
    if (S == 1) {
        broadcast_backward_partial_kernel<<<grid_for(n_in), BLOCK, 0, stream()>>>(dx, true, dy, g, n_in, 1, chunk);
        CUDA_CHECK_LAUNCH();
        return;
    }
    float* partial = nullptr;
    CUDA_CHECK(cudaMallocAsync((void**)&partial, (size_t)(S * n_in) * sizeof(float), stream()));
    broadcast_backward_partial_kernel<<<grid_for(S * n_in), BLOCK, 0, stream()>>>(partial, false, dy, g, n_in, S,
                                                                                  chunk);
    CUDA_CHECK_LAUNCH();
    if (S <= 32) {
        broadcast_backward_finish_thread_kernel<<<grid_for(n_in), BLOCK, 0, stream()>>>(dx, partial, n_in, S);
    } else {
        unsigned grid = (unsigned)(n_in < 65535 ? n_in : 65535);
        broadcast_backward_finish_block_kernel<<<grid, BLOCK, 0, stream()>>>(dx, partial, n_in, S);
    }
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaFreeAsync(partial, stream()));
}

void softmax_rows_forward(float* y, const float* x, int64_t rows, int64_t C) {
    if (rows == 0 || C == 0) return;
    unsigned grid = (unsigned)(rows < 65535 ? rows : 65535);
    softmax_rows_forward_kernel<<<grid, BLOCK, 0, stream()>>>(y, x, rows, C);
    CUDA_CHECK_LAUNCH();
}

void softmax_rows_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t C) {
    if (rows == 0 || C == 0) return;
    unsigned grid = (unsigned)(rows < 65535 ? rows : 65535);
    softmax_rows_backward_kernel<<<grid, BLOCK, 0, stream()>>>(dx, dy, y, rows, C);
    CUDA_CHECK_LAUNCH();
}

void concat_part_forward(float* y, const float* x, int64_t rows, int64_t C, int64_t C_total, int64_t off) {
    if (rows * C == 0) return;
    concat_part_forward_kernel<<<grid_for(rows * C), BLOCK, 0, stream()>>>(y, x, rows, C, C_total, off);
    CUDA_CHECK_LAUNCH();
}

void concat_part_backward(float* dx, const float* dy, int64_t rows, int64_t C, int64_t C_total, int64_t off) {
    if (rows * C == 0) return;
    concat_part_backward_kernel<<<grid_for(rows * C), BLOCK, 0, stream()>>>(dx, dy, rows, C, C_total, off);
    CUDA_CHECK_LAUNCH();
}

void log_standardize_forward(float* y, const float* x, const float* mean, const float* std, int64_t rows,
                             int64_t C) {
    if (rows * C == 0) return;
    log_standardize_forward_kernel<<<grid_for(rows * C), BLOCK, 0, stream()>>>(y, x, mean, std, rows * C, C);
    CUDA_CHECK_LAUNCH();
}

void log_standardize_backward(float* dx, const float* dy, const float* x, const float* mean, const float* std,
                              int64_t rows, int64_t C) {
    if (rows * C == 0) return;
    log_standardize_backward_kernel<<<grid_for(rows * C), BLOCK, 0, stream()>>>(dx, dy, x, mean, std, rows * C, C);
    CUDA_CHECK_LAUNCH();
}

}  // namespace gpo::cuda
