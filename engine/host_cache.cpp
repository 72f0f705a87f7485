// Host caching allocator (see host_cache.h): a size-ordered multimap of free blocks under one mutex.
#include "engine/host_cache.h"

#include <cstdlib>
#include <map>
#include <mutex>

#if defined(__SANITIZE_ADDRESS__)
#define GPO_HOST_CACHE_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GPO_HOST_CACHE_ON 0
#endif
#endif
#ifndef GPO_HOST_CACHE_ON
#define GPO_HOST_CACHE_ON 1
#endif

namespace gpo {

namespace {

constexpr size_t kMinCached = 64 << 10;

struct Cache {
    std::mutex m;
    std::multimap<size_t, void*> free_blocks;  // size as last requested (a block may be up to 1/8 larger) -> block
    size_t held = 0;
    size_t limit;
    Cache() {
        const char* env = std::getenv("GPO_HOST_CACHE_MB");
        long mb = env ? std::atol(env) : 2048;
        limit = mb > 0 ? (size_t)mb << 20 : 0;
    }
};

Cache& cache() {
    static Cache* c = new Cache();  // never destroyed: tensors freed during static destruction may still return here
    return *c;
}

}  // namespace

void* host_alloc(size_t nbytes) {
    if (GPO_HOST_CACHE_ON && nbytes >= kMinCached) {
        Cache& c = cache();
        std::lock_guard<std::mutex> lk(c.m);
        auto it = c.free_blocks.lower_bound(nbytes);
        if (it != c.free_blocks.end() && it->first - nbytes <= it->first / 8) {
            void* p = it->second;
            c.held -= it->first;
            c.free_blocks.erase(it);
            return p;
        }
    }
    return std::malloc(nbytes ? nbytes : 1);
}

void host_free(void* ptr, size_t nbytes) {
    if (!ptr) return;
    if (GPO_HOST_CACHE_ON && nbytes >= kMinCached) {
        Cache& c = cache();
        std::lock_guard<std::mutex> lk(c.m);
        if (c.held + nbytes <= c.limit) {
            c.free_blocks.emplace(nbytes, ptr);
            c.held += nbytes;
            return;
        }
    }
    std::free(ptr);
}

size_t host_cache_bytes() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lk(c.m);
    return c.held;
}

}  // namespace gpo
