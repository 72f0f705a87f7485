// Plain C++ view of the CUDA runtime that the engine needs (no CUDA headers here, so engine/ and io/ never include
// them): device probe, memory, copies. Implemented in kernels/cuda/runtime.cu, or by kernels/no_cuda.cpp when the
// build has no CUDA (then every call except device_count throws).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace gpo::cuda {

struct DeviceInfo {
    int index = 0;
    std::string name;
    size_t total_memory = 0;
    int sm_major = 0, sm_minor = 0, multiprocessors = 0;
};

bool compiled();                   // true when this build has the CUDA kernels
int device_count();                // 0 on any CUDA error (no driver, no device); never throws
std::string probe_message();       // why device_count() is 0, or "" when a device was found
std::vector<DeviceInfo> devices(); // empty when device_count() == 0
std::string runtime_version();     // e.g. "13.0" (the runtime the binary carries), "none" without CUDA
std::string driver_version();      // "none" when no driver
std::string cublas_version();
// Makes device `index` (0 <= index < device_count()) this process's device; called before any other CUDA call that
// allocates, launches or creates a stream (the data-parallel ranks of one machine: engine/device.cpp).
void select_device(int index);

void* device_malloc(size_t bytes);
void device_free(void* p) noexcept;
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_device_to_device(void* dst, const void* src, size_t bytes);
void memset_zero(void* p, size_t bytes);
void synchronize();
// Device memory goes through a caching allocator (freed blocks are reused; see runtime.cu).
size_t peak_memory_used();   // most bytes held by live tensors since start or the last reset
void reset_peak_memory();
void release_cached_memory(); // returns cached free blocks to the driver

}  // namespace gpo::cuda
