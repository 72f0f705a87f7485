// Microbenchmarks for the optimizer at reference scale (about 12.3 M parameters in one flat buffer): one Adam
// step and the global gradient L2 norm (GB/s).
#include "engine/optim.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

static std::shared_ptr<ParamStore> make_store(Device dev, int64_t n) {
    auto ps = std::make_shared<ParamStore>();
    ps->declare("all", {n});
    ps->finalize(dev, DType::F32);
    Tensor g = Tensor::full({n}, 1e-3);
    ps->grads().copy_from(g);
    return ps;
}

static gpo::bench::Registrar reg([] {
    const int64_t n = 12300000;
    std::string shape = "n" + std::to_string(n);
    // Adam reads p, g, m, v and writes p, m, v: 7 f32 per element.
    gpo::bench::add("adam_step", shape, {0, 7.0 * 4 * n}, [=](Device dev) {
        auto ps = make_store(dev, n);
        auto opt = std::make_shared<Adam>(AdamConfig{}, *ps);
        return std::function<void()>([=] { opt->step(*ps); });
    });
    // The norm reads every gradient once.
    gpo::bench::add("global_l2_norm", shape, {0, 4.0 * n}, [=](Device dev) {
        auto ps = make_store(dev, n);
        return std::function<void()>([=] { benchmark::DoNotOptimize(global_l2_norm(ps->grads())); });
    });
});
