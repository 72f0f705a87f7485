// Host memory for tensors through a caching allocator: a training step allocates and frees the same buffer
// sizes every step, and large glibc allocations are fresh mmaps whose pages fault in on first touch (the demo
// training spent a third of its CPU time in the kernel on 2.9 million page faults per 100 steps). Freed blocks of
// 64 KiB and more are kept and handed to the next request of a similar size (best fit, at most a quarter wasted);
// smaller ones go straight to malloc. The cache holds at most kHostCacheMaxBytes. Thread-safe. Off under
// AddressSanitizer (a cached block would hide a use after free).
#pragma once
#include <cstddef>

namespace gpo {

constexpr size_t kHostCacheMaxBytes = size_t(4) << 30;

void* host_alloc(size_t bytes);              // throws gpo::Error when the memory is not there
void host_free(void* ptr, size_t bytes) noexcept;  // bytes: the size passed to host_alloc
void host_release_cached() noexcept;         // returns every cached block to the system
size_t host_cached_bytes() noexcept;

}  // namespace gpo
