// Stand-in for kernels/cuda/runtime.cu when the build has no CUDA: no devices, and every CUDA call throws.
#include "engine/check.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sinkhorn.h"

namespace gpo::cuda {

bool compiled() { return false; }
int device_count() { return 0; }
std::string probe_message() { return "this build has no CUDA (configured without nvcc or with GPO_ENABLE_CUDA=OFF)"; }
std::vector<DeviceInfo> devices() { return {}; }
std::string runtime_version() { return "none"; }
std::string driver_version() { return "none"; }
std::string cublas_version() { return "none"; }

[[noreturn]] static void no_cuda() { GPO_FAIL("CUDA requested but " << probe_message()); }
void* device_malloc(size_t) { no_cuda(); }
void device_free(void*) noexcept {}
void copy_to_device(void*, const void*, size_t) { no_cuda(); }
void copy_to_host(void*, const void*, size_t) { no_cuda(); }
void copy_device_to_device(void*, const void*, size_t) { no_cuda(); }
void memset_zero(void*, size_t) { no_cuda(); }
void select_device(int) { no_cuda(); }
void synchronize() {}
size_t peak_memory_used() { return 0; }
void reset_peak_memory() {}
void release_cached_memory() {}

std::vector<int> sinkhorn_match(const std::vector<double>&, const std::vector<double>&, int, double, double, int,
                                double, std::vector<double>*, std::vector<double>*) {
    no_cuda();
}

}  // namespace gpo::cuda
