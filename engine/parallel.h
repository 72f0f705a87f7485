// The engine's own CPU threads: a small persistent pool that runs the chunks of a loop (element-wise ops, the
// negative-binomial likelihood, random fills) on as many threads as OpenBLAS uses (OPENBLAS_NUM_THREADS, default
// one per core), the calling thread included.
//
// Determinism: callers fix the chunks (their number and bounds depend on the sizes only, never on the thread count)
// and combine per-chunk results in chunk order, so every result is the same with 1 or N threads. Chunks must not
// throw (argument checks happen before the loop).
#pragma once
#include <cstdint>
#include <functional>

namespace gpo {

// Runs fn(c) for every chunk c in [0, n_chunks), in any order and on any thread; returns when all are done.
// Runs inline when there is one chunk or one thread, or when called from inside a chunk.
void parallel_for(int64_t n_chunks, const std::function<void(int64_t chunk)>& fn);

// Splits [0, n) into chunks of `grain` elements (the last one shorter) and runs fn(begin, end) for each.
void parallel_ranges(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

// Threads parallel_for uses (the caller included). Default: OpenBLAS's thread count.
int cpu_threads();
// Sets it (1 = everything on the calling thread); for tests of thread-count invariance.
void set_cpu_threads(int n);

}  // namespace gpo
