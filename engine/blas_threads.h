// How the engine runs OpenBLAS's worker threads. OpenBLAS's pthreads build keeps its workers spinning (sched_yield)
// for about 2^28 cycles after every call; in training, where a GEMM is followed by the engine's own element-wise
// work, the spinning worker takes the core and kernel time the main thread needs (200 demo steps on 2 cores:
// 15.1 s with the default, 12.8 s with short spins; docs/performance.md). configure_blas_threads() shortens the
// spin to OpenBLAS's minimum unless the user set OPENBLAS_THREAD_TIMEOUT. Call once, first thing in main().
#pragma once

namespace gpo {

// Applies the engine's OpenBLAS thread settings; returns the thread timeout exponent in effect (OpenBLAS's
// OPENBLAS_THREAD_TIMEOUT, 4..30).
int configure_blas_threads();

// Several ranks on one machine (mpirun -np N on one node): unless the user chose a thread count
// (OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or OMP_NUM_THREADS), each rank takes its share of the cores,
// max(1, cores / ranks_on_this_node), instead of every rank starting a thread per core. Call before the first
// threaded loop (the engine's pool takes OpenBLAS's count when it starts). Returns the threads per rank.
int share_cores_between_ranks(int ranks_on_this_node);

}  // namespace gpo
