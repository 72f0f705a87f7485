// Host caching allocator (see host_cache.h): free blocks by size class under one mutex.
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

// The size class a request is served from: the next of 2^k, 1.25 2^k, 1.5 2^k, 1.75 2^k at or above nbytes. Buffers
// whose shapes change a little from step to step (the rows of the perturbations present in a batch) then share
// blocks, at most 25 % larger than asked.
size_t size_class(size_t nbytes) {
    size_t p = 1;
    while (p * 2 <= nbytes) p *= 2;  // p = 2^floor(log2 nbytes)
    for (size_t q : {p, p + p / 4, p + p / 2, p + 3 * (p / 4)})
        if (q >= nbytes) return q;
    return 2 * p;
}

struct Cache {
    std::mutex m;
    std::multimap<size_t, void*> free_blocks;  // size class -> block of that size
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
        const size_t cls = size_class(nbytes);
        auto it = c.free_blocks.find(cls);
        if (it != c.free_blocks.end()) {
            void* p = it->second;
            c.held -= cls;
            c.free_blocks.erase(it);
            return p;
        }
        return std::malloc(cls);
    }
    return std::malloc(nbytes ? nbytes : 1);
}

void host_free(void* ptr, size_t nbytes) {
    if (!ptr) return;
    if (GPO_HOST_CACHE_ON && nbytes >= kMinCached) {
        Cache& c = cache();
        std::lock_guard<std::mutex> lk(c.m);
        const size_t cls = size_class(nbytes);
        if (c.held + cls <= c.limit) {
            c.free_blocks.emplace(cls, ptr);
            c.held += cls;
            return;
        }
    }
    std::free(ptr);
}

}  // namespace gpo
