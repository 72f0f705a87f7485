// Shared op helpers (see dispatch.h).
#include "engine/ops/dispatch.h"

#include "kernels/cpu/basic.h"
#include "kernels/cuda/basic.h"

namespace gpo::ops {

void accumulate(Tensor& out, const Tensor& x, double a) {
    check_same_kind("accumulate", {&out, &x});
    check_shape("accumulate", "x", x, out.shape);
    if (out.is_cuda()) {
        GPO_CUDA(cuda::axpy(out.f32(), x.f32(), (float)a, out.numel()));
        return;
    }
    dispatch_cpu(out, "accumulate", [&](auto tag) {
        using T = decltype(tag);
        cpu::axpy<T>(out.ptr<T>(), x.ptr<T>(), (T)a, out.numel());
    });
}

}  // namespace gpo::ops
