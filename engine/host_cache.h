// A caching allocator for host tensor storage. Training allocates and frees the same large buffers every step
// (activations, gradients); from the C library each one is a fresh mmap whose pages fault in on first touch and go
// back to the system on free (measured: 4.5 % of a one-thread demo step in page faults and page clearing). Requests
// of 64 KiB or more are served in size classes (2^k, 1.25, 1.5, 1.75 x 2^k), kept on free and handed out again for
// the next request of the same class. At most GPO_HOST_CACHE_MB (default 2048) MiB are kept; beyond that blocks go
// back to the C library. Thread-safe. The AddressSanitizer build caches nothing, so use-after-free is still found.
#pragma once
#include <cstddef>

namespace gpo {

void* host_alloc(size_t nbytes);           // nullptr when out of memory
void host_free(void* ptr, size_t nbytes);  // nbytes as passed to host_alloc

}  // namespace gpo
