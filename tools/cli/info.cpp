// `gpo-engine info`: what this binary was built with and which devices it can see.
#include <H5public.h>
#include <cblas.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "engine/dist/comm.h"
#include "kernels/cuda/runtime.h"
#include "tools/cli/commands.h"
#include "gpo_git_sha.h"

namespace gpo::cli {

int cmd_info(const Args& args) {
    (void)args;
    unsigned h5_major = 0, h5_minor = 0, h5_rel = 0;
    H5get_libversion(&h5_major, &h5_minor, &h5_rel);
    std::printf("gpo-engine (git %s)\n", GPO_GIT_SHA);
    std::printf("build:\n");
    std::printf("  CUDA compiled:   %s", cuda::compiled() ? "yes" : "no");
    if (cuda::compiled()) std::printf(" (runtime %s, archs %s)", cuda::runtime_version().c_str(), GPO_CUDA_ARCHS);
    std::printf("\n");
    std::printf("  CPU BLAS:        %s\n", openblas_get_config());
    std::printf("  HDF5:            %u.%u.%u\n", h5_major, h5_minor, h5_rel);
    std::printf("  MPI:             %s\n", dist::built_with_mpi() ? "yes (mpirun -np N gpo-engine train: docs/scaling.md)"
                                                                 : "no (install libopenmpi-dev and rebuild)");
    std::printf("  nlohmann_json:   %d.%d.%d\n", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                NLOHMANN_JSON_VERSION_PATCH);
    std::printf("devices:\n");
    std::printf("  cpu\n");
    if (cuda_available()) {
        std::printf("  CUDA driver %s, cuBLAS %s\n", cuda::driver_version().c_str(), cuda::cublas_version().c_str());
        for (const auto& d : cuda::devices())
            std::printf("  cuda:%d  %s  sm_%d%d  %d SMs  %.1f GiB\n", d.index, d.name.c_str(), d.sm_major, d.sm_minor,
                        d.multiprocessors, d.total_memory / 1073741824.0);
    } else {
        std::printf("  no GPU found: %s\n", cuda::probe_message().c_str());
    }
    return 0;
}

}  // namespace gpo::cli
