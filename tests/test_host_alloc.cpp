// The host caching allocator (engine/host_alloc.h): a freed large block is handed to the next request of a similar
// size, small requests and much smaller requests are not served from it, and release empties the cache.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/host_alloc.h"
#include "engine/tensor.h"

using namespace gpo;

#if defined(__SANITIZE_ADDRESS__)
TEST(HostAlloc, CachingIsOffUnderAddressSanitizer) {
    host_release_cached();
    void* p = host_alloc(1 << 20);
    host_free(p, 1 << 20);
    EXPECT_EQ(host_cached_bytes(), 0u);  // every block went back to the system, so ASan still sees a use after free
}
#else
TEST(HostAlloc, LargeBlocksAreReusedSmallOnesAreNot) {
    host_release_cached();
    const size_t big = size_t(3) << 20;
    void* a = host_alloc(big);
    std::memset(a, 1, big);
    host_free(a, big);
    EXPECT_EQ(host_cached_bytes(), big);
    void* b = host_alloc(big - 100);  // similar size: the cached block
    EXPECT_EQ(b, a);
    EXPECT_EQ(host_cached_bytes(), 0u);
    host_free(b, big - 100);
    void* c = host_alloc(big / 2);  // would waste half the block: a new one
    EXPECT_NE(c, a);
    host_free(c, big / 2);
    void* s = host_alloc(100);  // small: plain malloc, never cached
    host_free(s, 100);
    EXPECT_EQ(host_cached_bytes(), big + big / 2);
    host_release_cached();
    EXPECT_EQ(host_cached_bytes(), 0u);
}

TEST(HostAlloc, TensorsGoThroughIt) {
    host_release_cached();
    const void* first;
    {
        Tensor t = Tensor::zeros({512, 512}, DType::F32);  // 1 MiB
        first = t.data();
    }
    Tensor u = Tensor::empty({512, 512}, DType::F32);
    EXPECT_EQ(u.data(), first);  // the same buffer, no new pages to fault in
}
#endif
