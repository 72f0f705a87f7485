// Host caching allocator (see host_alloc.h).
#include "engine/host_alloc.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include "engine/check.h"

namespace gpo {

namespace {

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer every block goes back to the system, so a use after free is still caught.
constexpr size_t kMinCached = ~size_t(0);
#else
constexpr size_t kMinCached = size_t(64) << 10;
#endif
constexpr size_t kGranule = size_t(4) << 10;

struct HostCache {
    std::mutex mu;
    std::multimap<size_t, void*> free_blocks;  // rounded size -> block
    size_t cached = 0;
};

HostCache& cache() {
    static HostCache* c = new HostCache();  // never destroyed: tensors freed during static destruction still work
    return *c;
}

size_t rounded(size_t b) { return (b + kGranule - 1) / kGranule * kGranule; }

}  // namespace

void* host_alloc(size_t bytes) {
    if (bytes < kMinCached) {
        void* p = std::malloc(bytes ? bytes : 1);
        GPO_CHECK(p, "out of host memory allocating " << bytes << " bytes");
        return p;
    }
    const size_t want = rounded(bytes);
    {
        HostCache& c = cache();
        std::lock_guard<std::mutex> lock(c.mu);
        auto it = c.free_blocks.lower_bound(want);
        if (it != c.free_blocks.end() && it->first <= want + want / 4) {
            void* p = it->second;
            c.cached -= it->first;
            c.free_blocks.erase(it);
            // When freed it is filed under the new request's size, at most its real size: never over-reported.
            return p;
        }
    }
    void* p = std::malloc(want);
    if (!p) {
        host_release_cached();
        p = std::malloc(want);
    }
    GPO_CHECK(p, "out of host memory allocating " << bytes << " bytes");
    return p;
}

void host_free(void* ptr, size_t bytes) noexcept {
    if (!ptr) return;
    if (bytes < kMinCached) {
        std::free(ptr);
        return;
    }
    const size_t want = rounded(bytes);
    HostCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.cached + want > kHostCacheMaxBytes) {
        std::free(ptr);
        return;
    }
    c.free_blocks.emplace(want, ptr);
    c.cached += want;
}

void host_release_cached() noexcept {
    HostCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& kv : c.free_blocks) std::free(kv.second);
    c.free_blocks.clear();
    c.cached = 0;
}

size_t host_cached_bytes() noexcept {
    HostCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    return c.cached;
}

}  // namespace gpo
