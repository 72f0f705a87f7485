// OpenBLAS thread settings (see blas_threads.h).
#include "engine/blas_threads.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

// OpenBLAS reads its environment once at load time; these two (exported by every OpenBLAS build, declared in no
// public header) re-read it and stop the worker threads, which the next threaded call starts again with the new
// settings.
extern "C" void openblas_read_env(void);
extern "C" int blas_thread_shutdown_(void);
extern "C" int openblas_thread_timeout(void);
extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);

namespace gpo {

int configure_blas_threads() {
    if (!std::getenv("OPENBLAS_THREAD_TIMEOUT")) {
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);  // 2^4 cycles: a worker sleeps almost at once after its task
        openblas_read_env();
        blas_thread_shutdown_();
    }
    return openblas_thread_timeout();
}

int share_cores_between_ranks(int ranks_on_this_node) {
    const bool user_chose = std::getenv("OPENBLAS_NUM_THREADS") || std::getenv("GOTO_NUM_THREADS") ||
                            std::getenv("OMP_NUM_THREADS");
    if (ranks_on_this_node > 1 && !user_chose) {
        const int cores = std::max(1u, std::thread::hardware_concurrency());
        openblas_set_num_threads(std::max(1, cores / ranks_on_this_node));
    }
    return openblas_get_num_threads();
}

}  // namespace gpo
