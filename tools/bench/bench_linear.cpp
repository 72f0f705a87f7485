// Microbenchmarks: GEMM (the linear layers of the encoders/decoder at reference scale) and bias add.
#include "engine/ops/linear.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

static std::function<void()> forward_backward_linear(Device dev, int64_t n, int64_t in, int64_t out) {
    auto x = Tensor::full({n, in}, 0.01).to(dev);
    auto W = Tensor::full({out, in}, 0.02).to(dev);
    auto b = Tensor::full({out}, 0.1).to(dev);
    auto seed = Tensor::full({n, out}, 1.0).to(dev);
    return [=] {
        Tape t;
        Var y = ops::linear(t, t.input(x), t.input(W), t.input(b));
        t.backward(y, seed);
    };
}

static gpo::bench::Registrar reg([] {
    // Decoder layer at reference scale: 512 cells x 5 particles, 400 -> 8563 genes.
    struct S { int64_t n, in, out; };
    for (S s : {S{2560, 400, 400}, S{2560, 400, 8563}, S{2560, 1746, 400}}) {
        std::string shape = std::to_string(s.n) + "x" + std::to_string(s.in) + "->" + std::to_string(s.out);
        double flops = 3 * 2.0 * s.n * s.in * s.out;  // forward + two backward GEMMs
        gpo::bench::add("linear_fwd_bwd", shape, {flops, 0}, [=](Device dev) {
            return forward_backward_linear(dev, s.n, s.in, s.out);
        });
    }
});
