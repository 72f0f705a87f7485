// CUDA (f32): the NB log-likelihood fused with the row softmax, forward and backward (reference and the shared
// element formulas: kernels/cpu/nb.h). One block per row; the log_theta gradient goes through per-block partial
// rows summed in a fixed order, so results are deterministic.
#include "kernels/cpu/nb.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/nb.h"

namespace gpo::cuda {

namespace {
constexpr int NB_THREADS = 512;  // 8563 genes -> ~17 per thread per pass
constexpr unsigned FULL_MASK = 0xffffffffu;
constexpr float kMuShift = (float)cpu::kNbMuShift;

__device__ inline float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

// Sum over the block; every thread gets the result. buf: shared float[32] (reusable across calls).
__device__ inline float block_sum(float v, float* buf) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();  // a previous call may still be reading buf
    if (lane == 0) buf[warp] = v;
    __syncthreads();
    return warp_sum(lane < nwarps ? buf[lane] : 0.f);
}

// (m, s) <- merge of two partial softmax normalisers: max m and sum of exp(v - m). Commutative bit for bit, so
// butterfly shuffles leave every lane with the same value.
__device__ inline void max_sum_merge(float& m, float& s, float m2, float s2) {
    float M = fmaxf(m, m2);
    if (M == -INFINITY) return;  // both empty
    s = s * expf(m - M) + s2 * expf(m2 - M);
    m = M;
}

__device__ inline void block_max_sum(float& m, float& s, float* bm, float* bs) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    for (int o = 16; o > 0; o >>= 1) max_sum_merge(m, s, __shfl_xor_sync(FULL_MASK, m, o), __shfl_xor_sync(FULL_MASK, s, o));
    __syncthreads();
    if (lane == 0) {
        bm[warp] = m;
        bs[warp] = s;
    }
    __syncthreads();
    m = lane < nwarps ? bm[lane] : -INFINITY;
    s = lane < nwarps ? bs[lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) max_sum_merge(m, s, __shfl_xor_sync(FULL_MASK, m, o), __shfl_xor_sync(FULL_MASK, s, o));
}
}  // namespace

// ---------------------------------------------------------------------------- kernels
// out (R), lse (R); logits (R, G), log_theta (G), counts (B, G), library (B). Blocks walk rows r.
__global__ void __launch_bounds__(NB_THREADS) nb_forward_kernel(float* out, float* lse, const float* logits,
                                                                const float* log_theta, const float* counts,
                                                                const float* library, int64_t R, int64_t B,
                                                                int64_t G) {
    __shared__ float bm[32], bs[32];
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
        const float* l = logits + r * G;
        const float* x = counts + (r % B) * G;
        float lib = library[r % B];
        // Online max and sum of exp over this thread's genes, then merged over the block.
        float m = -INFINITY, s = 0.f;
        for (int64_t g = threadIdx.x; g < G; g += blockDim.x) {
            float v = l[g];
            if (v > m) {
                s = s * expf(m - v) + 1.f;
                m = v;
            } else if (m != -INFINITY) {
                s += expf(v - m);
            }
        }
        block_max_sum(m, s, bm, bs);
        float L = m + logf(s);
        float acc = 0.f;
        for (int64_t g = threadIdx.x; g < G; g += blockDim.x)
            acc += cpu::nb_term(x[g], expf(log_theta[g]), lib * expf(l[g] - L) + kMuShift);
        acc = block_sum(acc, bm);
        if (threadIdx.x == 0) {
            out[r] = acc;
            lse[r] = L;
        }
    }
}

// Block b walks rows b, b + gridDim.x, ...: pass 1 sums dot = sum_g a_g rho_g (a_g = lib d term/d mu1) and adds
// dout * c * d term/dc into its scratch row (scratch (gridDim.x, G), zeroed; each gene owned by one thread);
// pass 2 adds dout * rho_k (a_k - dot) into dlogits. dlogits or scratch may be null.
__global__ void __launch_bounds__(NB_THREADS) nb_backward_kernel(float* dlogits, float* scratch, const float* dout,
                                                                 const float* lse, const float* logits,
                                                                 const float* log_theta, const float* counts,
                                                                 const float* library, int64_t R, int64_t B,
                                                                 int64_t G) {
    __shared__ float buf[32];
    float* part = scratch ? scratch + blockIdx.x * G : nullptr;
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
        const float* l = logits + r * G;
        const float* x = counts + (r % B) * G;
        float lib = library[r % B], d = dout[r], L = lse[r];
        float dot = 0.f;
        for (int64_t g = threadIdx.x; g < G; g += blockDim.x) {
            float c = expf(log_theta[g]), rho = expf(l[g] - L);
            float mu1 = lib * rho + kMuShift;
            if (dlogits) dot += lib * cpu::nb_term_dmu1(x[g], c, mu1) * rho;
            if (part) part[g] += d * c * cpu::nb_term_dc(x[g], c, mu1);
        }
        if (!dlogits) continue;
        dot = block_sum(dot, buf);
        float* dl = dlogits + r * G;
        for (int64_t g = threadIdx.x; g < G; g += blockDim.x) {
            float c = expf(log_theta[g]), rho = expf(l[g] - L);
            float a = lib * cpu::nb_term_dmu1(x[g], c, lib * rho + kMuShift);
            dl[g] += d * rho * (a - dot);
        }
    }
}

// dlog_theta (G) += sum over the rows of scratch (rows, G), in row order.
__global__ void nb_column_sum_kernel(float* dlog_theta, const float* scratch, int64_t rows, int64_t G) {
    for (int64_t g = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; g < G; g += (int64_t)gridDim.x * blockDim.x) {
        float acc = 0.f;
        for (int64_t b = 0; b < rows; ++b) acc += scratch[b * G + g];
        dlog_theta[g] += acc;
    }
}

// ---------------------------------------------------------------------------- launchers
void nb_log_prob_softmax_forward(float* out, float* lse, const float* logits, const float* log_theta,
                                 const float* counts, const float* library, int64_t R, int64_t B, int64_t G) {
    if (R == 0) return;
    unsigned grid = (unsigned)(R < 65535 ? R : 65535);
    nb_forward_kernel<<<grid, NB_THREADS, 0, stream()>>>(out, lse, logits, log_theta, counts, library, R, B, G);
    CUDA_CHECK_LAUNCH();
}

// Two resident blocks per multiprocessor (launch bounds allow it): enough rows in flight, small scratch.
int64_t nb_log_prob_softmax_scratch_rows(int64_t R) {
    int dev = 0, sms = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    int64_t blocks = 2 * (int64_t)(sms > 0 ? sms : 1);
    return R < blocks ? R : blocks;
}

void nb_log_prob_softmax_backward(float* dlogits, float* dlog_theta, float* scratch, const float* dout,
                                  const float* lse, const float* logits, const float* log_theta, const float* counts,
                                  const float* library, int64_t R, int64_t B, int64_t G) {
    if (R == 0 || G == 0 || (!dlogits && !dlog_theta)) return;
    int64_t rows = nb_log_prob_softmax_scratch_rows(R);
    if (dlog_theta) {
        GPO_CHECK(scratch != nullptr, "nb_log_prob_softmax_backward: a scratch buffer is needed for dlog_theta");
        CUDA_CHECK(cudaMemsetAsync(scratch, 0, (size_t)(rows * G) * sizeof(float), stream()));
    } else {
        scratch = nullptr;
    }
    nb_backward_kernel<<<(unsigned)rows, NB_THREADS, 0, stream()>>>(dlogits, scratch, dout, lse, logits, log_theta,
                                                                     counts, library, R, B, G);
    CUDA_CHECK_LAUNCH();
    if (dlog_theta) {
        nb_column_sum_kernel<<<grid_for(G), BLOCK, 0, stream()>>>(dlog_theta, scratch, rows, G);
        CUDA_CHECK_LAUNCH();
    }
}

}  // namespace gpo::cuda
