// Device probe and --device resolution (see device.h).
#include "engine/device.h"

#include <cstdio>

#include "engine/check.h"
#include "engine/dist/comm.h"
#include "kernels/cuda/runtime.h"

namespace gpo {

bool cuda_available() { return cuda::compiled() && cuda::device_count() > 0; }

Device resolve_device(const std::string& choice) {
    if (choice == "cpu") return Device::CPU;
    if (choice == "cuda") {
        GPO_CHECK(cuda_available(), "--device cuda: " << cuda::probe_message());
        return Device::CUDA;
    }
    GPO_CHECK(choice == "auto", "--device: unknown value '" << choice << "', expected auto, cpu or cuda");
    if (cuda_available()) return Device::CUDA;
    if (dist::is_root()) std::fprintf(stderr, "device: using CPU (%s)\n", cuda::probe_message().c_str());  // once per run
    return Device::CPU;
}

}  // namespace gpo
