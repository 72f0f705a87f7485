// CUDA-vs-CPU parity of the optimizer on a 517-element store: three Adam steps (weight decay, bias correction),
// global L2 norm and gradient clipping, and moving the store and the Adam state between devices.
#include "engine/optim.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

ParamStore make_store(Device dev) {
    ParamStore ps;
    ps.declare("w", {11, 47});  // 517 elements in all
    ps.finalize(Device::CPU, DType::F32);
    ps.values().copy_from(random_tensor({517}, DType::F32, 61));
    if (dev == Device::CUDA) ps.to(Device::CUDA);
    return ps;
}

}  // namespace

TEST(ParityOptim, AdamThreeSteps517) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    AdamConfig cfg{1e-2, 0.9, 0.999, 1e-8, 0.1};
    ParamStore cpu = make_store(Device::CPU), gpu = make_store(Device::CUDA);
    Adam ocpu(cfg, cpu), ogpu(cfg, gpu);
    EXPECT_EQ(ogpu.exp_avg().device, Device::CUDA);
    for (int t = 1; t <= 3; ++t) {
        Tensor g = random_tensor({517}, DType::F32, 70 + t, -2.0, 2.0);
        cpu.grads().copy_from(g);
        gpu.grads().copy_from(g);
        ocpu.step(cpu);
        ogpu.step(gpu);
        // Same f32 formula; FMA contraction on the GPU and sqrt/divide rounding differ by a few ulps of O(1)
        // values; the update m / (sqrt(v) + eps) is well conditioned (|g| >> eps here except exact zeros).
        test::expect_close("adam params step " + std::to_string(t), cpu.values().to_vector(),
                           gpu.values().to_vector(), {1e-6, 1e-5});
        test::expect_close("adam exp_avg step " + std::to_string(t), ocpu.exp_avg().to_vector(),
                           ogpu.exp_avg().to_vector(), {1e-6, 1e-5});
        test::expect_close("adam exp_avg_sq step " + std::to_string(t), ocpu.exp_avg_sq().to_vector(),
                           ogpu.exp_avg_sq().to_vector(), {1e-7, 1e-5});
    }
    // Moving the state back gives the same numbers.
    ogpu.to(Device::CPU);
    gpu.to(Device::CPU);
    EXPECT_EQ(ogpu.exp_avg().device, Device::CPU);
    test::expect_close("adam exp_avg after to(cpu)", ocpu.exp_avg().to_vector(), ogpu.exp_avg().to_vector(),
                       {1e-6, 1e-5});
}

TEST(ParityOptim, NormAndClip517) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (double max_norm : {1e3, 3.0}) {  // unclipped, clipped
        ParamStore cpu = make_store(Device::CPU), gpu = make_store(Device::CUDA);
        Tensor g = random_tensor({517}, DType::F32, 81, -1.0, 1.0);
        cpu.grads().copy_from(g);
        gpu.grads().copy_from(g);
        // Both square f32 values exactly in double and sum in double, in different orders: ~1e-16 relative.
        EXPECT_NEAR(global_l2_norm(gpu.grads()), global_l2_norm(cpu.grads()), 1e-12);
        double nc = clip_grad_norm(cpu, max_norm), ng = clip_grad_norm(gpu, max_norm);
        EXPECT_NEAR(ng, nc, 1e-12);
        // The same f32 coefficient (rounded from nearly the same double) times the same values.
        test::expect_close("clipped grads max_norm=" + std::to_string(max_norm), cpu.grads().to_vector(),
                           gpu.grads().to_vector(), {1e-7, 1e-6});
    }
}
