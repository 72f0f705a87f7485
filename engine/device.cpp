// Device probe and --device resolution (see device.h).
#include "engine/device.h"

#include <cstdio>

#include "engine/check.h"
#include "engine/dist/comm.h"
#include "kernels/cuda/runtime.h"

namespace gpo {

bool cuda_available() { return cuda::compiled() && cuda::device_count() > 0; }

namespace {
// Data-parallel ranks on one machine share its GPUs round-robin: local rank r uses GPU r mod (number of GPUs).
Device use_cuda() {
    if (dist::size() > 1) cuda::select_device(dist::local_rank() % cuda::device_count());
    return Device::CUDA;
}
}  // namespace

Device resolve_device(const std::string& choice) {
    if (choice == "cpu") return Device::CPU;
    if (choice == "cuda") {
        GPO_CHECK(cuda_available(), "--device cuda: " << cuda::probe_message());
        return use_cuda();
    }
    GPO_CHECK(choice == "auto", "--device: unknown value '" << choice << "', expected auto, cpu or cuda");
    if (cuda_available()) return use_cuda();
    if (dist::is_root()) std::fprintf(stderr, "device: using CPU (%s)\n", cuda::probe_message().c_str());  // once per run
    return Device::CPU;
}

}  // namespace gpo
