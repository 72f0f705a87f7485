// Shared by every .cu file: checked-call macros that throw gpo::Error naming the call, file and line; the one
// stream and cuBLAS handle the engine uses; launch helpers.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>
#include <cusparse.h>

#include <sstream>

#include "engine/check.h"

namespace gpo::cuda {

[[noreturn]] inline void throw_cuda_error(const char* lib, const char* expr, const char* msg, const char* file,
                                          int line) {
    std::ostringstream os;
    os << lib << " error: " << expr << " failed: " << msg;
    ::gpo::throw_error(file, line, os.str());
}

const char* cublas_status_string(cublasStatus_t s);
const char* curand_status_string(curandStatus_t s);

cudaStream_t stream();          // the engine's stream (created on first use)
cublasHandle_t cublas_handle(); // bound to stream(); created on first use, never before the device probe

constexpr int BLOCK = 256;
inline unsigned grid_for(long long n, int block = BLOCK) {
    long long g = (n + block - 1) / block;
    if (g < 1) g = 1;
    if (g > 65535LL * 32) g = 65535LL * 32;  // kernels use grid-stride loops
    return (unsigned)g;
}

// Element-wise max for CUB block reductions.
struct MaxOp {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

}  // namespace gpo::cuda

// Grid-stride loop over [0, n): `GRID_STRIDE(i, n) { ... }`.
#define GRID_STRIDE(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

#define CUDA_CHECK(expr)                                                                                \
    do {                                                                                                \
        cudaError_t gpo_e_ = (expr);                                                                    \
        if (gpo_e_ != cudaSuccess)                                                                      \
            ::gpo::cuda::throw_cuda_error("CUDA", #expr, cudaGetErrorString(gpo_e_), __FILE__, __LINE__); \
    } while (0)

#define CUBLAS_CHECK(expr)                                                                              \
    do {                                                                                                \
        cublasStatus_t gpo_s_ = (expr);                                                                 \
        if (gpo_s_ != CUBLAS_STATUS_SUCCESS)                                                            \
            ::gpo::cuda::throw_cuda_error("cuBLAS", #expr, ::gpo::cuda::cublas_status_string(gpo_s_),    \
                                          __FILE__, __LINE__);                                          \
    } while (0)

#define CURAND_CHECK(expr)                                                                              \
    do {                                                                                                \
        curandStatus_t gpo_s_ = (expr);                                                                 \
        if (gpo_s_ != CURAND_STATUS_SUCCESS)                                                            \
            ::gpo::cuda::throw_cuda_error("cuRAND", #expr, ::gpo::cuda::curand_status_string(gpo_s_),    \
                                          __FILE__, __LINE__);                                          \
    } while (0)

#define CUSPARSE_CHECK(expr)                                                                            \
    do {                                                                                                \
        cusparseStatus_t gpo_s_ = (expr);                                                               \
        if (gpo_s_ != CUSPARSE_STATUS_SUCCESS)                                                          \
            ::gpo::cuda::throw_cuda_error("cuSPARSE", #expr, cusparseGetErrorString(gpo_s_), __FILE__,   \
                                          __LINE__);                                                    \
    } while (0)

// After every kernel launch.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
