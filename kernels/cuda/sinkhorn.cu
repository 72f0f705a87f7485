// CUDA Sinkhorn matching (reference: engine/data/sinkhorn.cpp).
#include <cub/block/block_reduce.cuh>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sinkhorn.h"

namespace gpo::cuda {

// ---------------------------------------------------------------------------- kernels
// K[i, j] = exp(-|src_i - dst_j| / scale / reg), K (n, m) row-major.
__global__ void sinkhorn_cost_kernel(float* K, const float* src, const float* dst, int n, int m, int d, float inv) {
    GRID_STRIDE(idx, (int64_t)n * m) {
        int i = (int)(idx / m), j = (int)(idx % m);
        float s = 0.f;
        for (int k = 0; k < d; ++k) {
            float diff = src[(int64_t)i * d + k] - dst[(int64_t)j * d + k];
            s += diff * diff;
        }
        K[idx] = expf(-sqrtf(s) * inv);
    }
}

// out[j] = num / den[j]
__global__ void sinkhorn_divide_kernel(float* out, float num, const float* den, int n) {
    GRID_STRIDE(j, n) out[j] = num / den[j];
}

// err_parts[j] = (v[j] * Ktu[j] - b)^2
__global__ void sinkhorn_marginal_error_kernel(float* err, const float* v, const float* Ktu, float b, int m) {
    GRID_STRIDE(j, m) {
        float c = v[j] * Ktu[j] - b;
        err[j] = c * c;
    }
}

// One block per row: argmax_j K[i, j] v[j] (the first index on ties, as the CPU loop).
template <int BLOCK_T>
__global__ void sinkhorn_argmax_kernel(int* match, const float* K, const float* v, int m) {
    int i = blockIdx.x;
    float best = -1.f;
    int arg = 0;
    for (int j = threadIdx.x; j < m; j += BLOCK_T) {
        float g = K[(int64_t)i * m + j] * v[j];
        if (g > best) best = g, arg = j;
    }
    typedef cub::BlockReduce<cub::KeyValuePair<int, float>, BLOCK_T> Reduce;
    __shared__ typename Reduce::TempStorage tmp;
    cub::KeyValuePair<int, float> kv(arg, best);
    kv = Reduce(tmp).Reduce(kv, [](const cub::KeyValuePair<int, float>& a, const cub::KeyValuePair<int, float>& b) {
        if (a.value != b.value) return a.value > b.value ? a : b;
        return a.key < b.key ? a : b;
    });
    if (threadIdx.x == 0) match[i] = kv.key;
}

// ---------------------------------------------------------------------------- launcher
namespace {
struct DeviceBuffer {  // scratch memory for one call
    void* p = nullptr;
    explicit DeviceBuffer(size_t bytes) { p = device_malloc(bytes); }
    ~DeviceBuffer() { device_free(p); }
    float* f() const { return static_cast<float*>(p); }
    int* i() const { return static_cast<int*>(p); }
};
}  // namespace

std::vector<int> sinkhorn_match(const std::vector<double>& src, const std::vector<double>& dst, int d, double reg,
                                double cost_scale, int max_iter, double tol, std::vector<double>* u_out,
                                std::vector<double>* v_out) {
    const int n = (int)(src.size() / d), m = (int)(dst.size() / d);
    GPO_CHECK(n > 0 && m > 0, "sinkhorn (cuda): empty source (" << n << ") or target (" << m << ")");
    GPO_CHECK(reg > 0, "sinkhorn (cuda): reg must be > 0");
    std::vector<float> hs(src.begin(), src.end()), hd(dst.begin(), dst.end());
    DeviceBuffer dsrc(hs.size() * 4), ddst(hd.size() * 4), K((size_t)n * m * 4), u(n * 4), v(m * 4), Ktu(m * 4),
        Kv(n * 4), err(m * 4), match(n * 4);
    copy_to_device(dsrc.p, hs.data(), hs.size() * 4);
    copy_to_device(ddst.p, hd.data(), hd.size() * 4);
    sinkhorn_cost_kernel<<<grid_for((int64_t)n * m), BLOCK, 0, stream()>>>(K.f(), dsrc.f(), ddst.f(), n, m, d,
                                                                          (float)(1.0 / cost_scale / reg));
    CUDA_CHECK_LAUNCH();
    const float a = 1.f / (float)n, b = 1.f / (float)m, one = 1.f, zero = 0.f;
    std::vector<float> init_u(n, a), init_v(m, b);
    copy_to_device(u.p, init_u.data(), n * 4);
    copy_to_device(v.p, init_v.data(), m * 4);
    // Row-major K (n, m) is column-major K^T (m, n): K^T u = gemv(N) and K v = gemv(T) on that view.
    cublasHandle_t h = cublas_handle();
    std::vector<float> herr(m);
    for (int it = 0; it < max_iter; ++it) {
        CUBLAS_CHECK(cublasSgemv(h, CUBLAS_OP_N, m, n, &one, K.f(), m, u.f(), 1, &zero, Ktu.f(), 1));
        sinkhorn_divide_kernel<<<grid_for(m), BLOCK, 0, stream()>>>(v.f(), b, Ktu.f(), m);
        CUDA_CHECK_LAUNCH();
        CUBLAS_CHECK(cublasSgemv(h, CUBLAS_OP_T, m, n, &one, K.f(), m, v.f(), 1, &zero, Kv.f(), 1));
        sinkhorn_divide_kernel<<<grid_for(n), BLOCK, 0, stream()>>>(u.f(), a, Kv.f(), n);
        CUDA_CHECK_LAUNCH();
        if (it % 10 == 0) {  // column marginal of the current plan: v_j (K^T u)_j with the new u
            CUBLAS_CHECK(cublasSgemv(h, CUBLAS_OP_N, m, n, &one, K.f(), m, u.f(), 1, &zero, Ktu.f(), 1));
            sinkhorn_marginal_error_kernel<<<grid_for(m), BLOCK, 0, stream()>>>(err.f(), v.f(), Ktu.f(), b, m);
            CUDA_CHECK_LAUNCH();
            copy_to_host(herr.data(), err.p, m * 4);
            double e = 0;
            for (float x : herr) e += x;
            GPO_CHECK(std::isfinite(e), "sinkhorn (cuda): numerical failure (underflow of exp(-cost/reg)); increase "
                                        "reg or cost_scale");
            if (std::sqrt(e) < tol) break;
        }
    }
    sinkhorn_argmax_kernel<256><<<n, 256, 0, stream()>>>(match.i(), K.f(), v.f(), m);
    CUDA_CHECK_LAUNCH();
    std::vector<int> out(n);
    copy_to_host(out.data(), match.p, n * 4);
    if (u_out || v_out) {
        std::vector<float> hu(n), hv(m);
        copy_to_host(hu.data(), u.p, n * 4);
        copy_to_host(hv.data(), v.p, m * 4);
        if (u_out) u_out->assign(hu.begin(), hu.end());
        if (v_out) v_out->assign(hv.begin(), hv.end());
    }
    return out;
}

}  // namespace gpo::cuda
