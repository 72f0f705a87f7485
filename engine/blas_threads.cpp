// OpenBLAS thread settings (see blas_threads.h).
#include "engine/blas_threads.h"

#include <cstdlib>

// OpenBLAS reads its environment once at load time; these two (exported by every OpenBLAS build, declared in no
// public header) re-read it and stop the worker threads, which the next threaded call starts again with the new
// settings.
extern "C" void openblas_read_env(void);
extern "C" int blas_thread_shutdown_(void);
extern "C" int openblas_thread_timeout(void);

namespace gpo {

int configure_blas_threads() {
    if (!std::getenv("OPENBLAS_THREAD_TIMEOUT")) {
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);  // 2^4 cycles: a worker sleeps almost at once after its task
        openblas_read_env();
        blas_thread_shutdown_();
    }
    return openblas_thread_timeout();
}

}  // namespace gpo
