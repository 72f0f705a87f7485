// CUDA runtime wrapper (see runtime.h): the device probe, memory and copies, the engine's stream and cuBLAS handle.
#include "kernels/cuda/runtime.h"

#include <map>
#include <mutex>
#include <unordered_map>

#include "kernels/cuda/common.cuh"

namespace gpo::cuda {

const char* cublas_status_string(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        default: return "unknown cuBLAS status";
    }
}

const char* curand_status_string(curandStatus_t s) {
    switch (s) {
        case CURAND_STATUS_NOT_INITIALIZED: return "CURAND_STATUS_NOT_INITIALIZED";
        case CURAND_STATUS_ALLOCATION_FAILED: return "CURAND_STATUS_ALLOCATION_FAILED";
        case CURAND_STATUS_LAUNCH_FAILURE: return "CURAND_STATUS_LAUNCH_FAILURE";
        default: return "unknown cuRAND status";
    }
}

bool compiled() { return true; }

namespace {
std::once_flag g_probe_once;
int g_device_count = 0;
std::string g_probe_message;

void probe() {
    int n = 0;  // cudaGetDeviceCount leaves n unwritten on error (no driver): start at 0
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        g_probe_message = std::string("no usable CUDA device (") + cudaGetErrorString(e) + ")";
        (void)cudaGetLastError();  // clear the sticky error
        g_device_count = 0;
        return;
    }
    g_device_count = n;
    if (n == 0) g_probe_message = "no CUDA device found";
}
}  // namespace

int device_count() {
    std::call_once(g_probe_once, probe);
    return g_device_count;
}

void select_device(int index) {
    GPO_CHECK(index >= 0 && index < device_count(),
              "select_device: device " << index << " of " << device_count());
    CUDA_CHECK(cudaSetDevice(index));
}

std::string probe_message() {
    device_count();
    return g_probe_message;
}

std::vector<DeviceInfo> devices() {
    std::vector<DeviceInfo> out;
    for (int i = 0; i < device_count(); ++i) {
        cudaDeviceProp p;
        CUDA_CHECK(cudaGetDeviceProperties(&p, i));
        DeviceInfo d;
        d.index = i;
        d.name = p.name;
        d.total_memory = p.totalGlobalMem;
        d.sm_major = p.major;
        d.sm_minor = p.minor;
        d.multiprocessors = p.multiProcessorCount;
        out.push_back(d);
    }
    return out;
}

static std::string version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

std::string runtime_version() {
    int v = 0;
    if (cudaRuntimeGetVersion(&v) != cudaSuccess) return "unknown";
    return version_string(v);
}

std::string driver_version() {
    int v = 0;
    if (cudaDriverGetVersion(&v) != cudaSuccess || v == 0) return "none";
    return version_string(v);
}

std::string cublas_version() {
    int major = 0, minor = 0, patch = 0;
    cublasGetProperty(MAJOR_VERSION, &major);
    cublasGetProperty(MINOR_VERSION, &minor);
    cublasGetProperty(PATCH_LEVEL, &patch);
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

static void require_device() {
    GPO_CHECK(device_count() > 0, "CUDA requested but " << probe_message());
}

// ---------------------------------------------------------------------------- caching allocator
// cudaMalloc/cudaFree synchronise and cost ~100 us each; a training step allocates hundreds of tensors. Freed blocks
// are kept and reused for a later request of a similar size. Reuse is safe without events because the engine
// enqueues all device work on one stream: work that used a freed block precedes, in stream order, any work on its
// next owner. On an out-of-memory error the cache is released and the allocation retried.
namespace {

struct BlockCache {
    std::mutex mu;
    std::unordered_map<void*, size_t> live;       // block -> its size
    std::multimap<size_t, void*> free_blocks;     // size -> cached block
    size_t in_use = 0, peak = 0;
};

BlockCache& block_cache() {
    static BlockCache* c = new BlockCache;  // never destroyed: freeing at exit would race the driver's teardown
    return *c;
}

size_t round_size(size_t b) {
    const size_t small = 512, large = 2u << 20;
    if (b < (1u << 20)) return (b + small - 1) / small * small;
    return (b + large - 1) / large * large;
}

void release_cached_locked(BlockCache& c) {
    for (auto& kv : c.free_blocks) cudaFree(kv.second);
    c.free_blocks.clear();
}

}  // namespace

void* device_malloc(size_t bytes) {
    require_device();
    const size_t want = round_size(bytes ? bytes : 1);
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    // Smallest cached block that fits without wasting more than a quarter (+1 MiB).
    auto it = c.free_blocks.lower_bound(want);
    void* p = nullptr;
    size_t got = want;
    if (it != c.free_blocks.end() && it->first <= want + want / 4 + (1u << 20)) {
        p = it->second;
        got = it->first;
        c.free_blocks.erase(it);
    } else {
        cudaError_t e = cudaMalloc(&p, want);
        if (e == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            CUDA_CHECK(cudaStreamSynchronize(stream()));
            release_cached_locked(c);
            e = cudaMalloc(&p, want);
        }
        CUDA_CHECK(e);
    }
    c.live[p] = got;
    c.in_use += got;
    if (c.in_use > c.peak) c.peak = c.in_use;
    return p;
}

void device_free(void* p) noexcept {
    if (!p) return;
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.live.find(p);
    if (it == c.live.end()) {  // not ours: should not happen; free it directly
        cudaFree(p);
        return;
    }
    c.in_use -= it->second;
    c.free_blocks.emplace(it->second, p);
    c.live.erase(it);
}

void release_cached_memory() {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (!c.free_blocks.empty()) CUDA_CHECK(cudaStreamSynchronize(stream()));
    release_cached_locked(c);
}

size_t peak_memory_used() {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    return c.peak;
}

void reset_peak_memory() {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.peak = c.in_use;
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_device_to_device(void* dst, const void* src, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void memset_zero(void* p, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream()));
}

void synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream())); }


cudaStream_t stream() {
    static cudaStream_t s = [] {
        require_device();
        cudaStream_t st;
        CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
        return st;
    }();
    return s;
}

cublasHandle_t cublas_handle() {
    static cublasHandle_t h = [] {
        require_device();
        cublasHandle_t handle;
        CUBLAS_CHECK(cublasCreate(&handle));
        CUBLAS_CHECK(cublasSetStream(handle, stream()));
        // FP32 everywhere by default: parity with the CPU reference matters more than TF32 speed.
        CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
        return handle;
    }();
    return h;
}

}  // namespace gpo::cuda
