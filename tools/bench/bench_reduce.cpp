// Microbenchmarks of the reduction family at reference scale: sum and logsumexp over the particle axis of
// (5 particles, 2,560 = 512 cells x 5, 100 latent), the per-cell sum over 8,563 genes of a log-likelihood, and a
// whole-tensor sum (cub::DeviceReduce), and the fused mask sparsity term (sigmoid_mean over T x T). GB/s counts
// the essential f32 traffic, each read and write once.
#include "engine/ops/reduce.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

namespace {

using OpFn = std::function<Var(Tape&, Var)>;

void add_row(const std::string& name, const std::string& shape, double bytes, Shape in, OpFn op, bool backward) {
    gpo::bench::add(name, shape, {0, bytes}, [=](Device dev) {
        Tensor x = gpo::bench::bench_input(in, 11, -3, 3).to(dev);
        Tensor seed;
        {
            Tape probe;
            seed = Tensor::full(probe.value(op(probe, probe.constant(x))).shape, 1.0).to(dev);
        }
        return std::function<void()>([=] {
            Tape t;
            Var y = op(t, backward ? t.input(x) : t.constant(x));
            if (backward) t.backward(y, seed);
        });
    });
}

}  // namespace

static gpo::bench::Registrar reg([] {
    const double f = 4.0;  // bytes per f32
    // Particles: x (5, 2560, 100) -> (2560, 100). Forward reads 5m, writes m; backward reads dy (m) and, for
    // logsumexp, x and y, and updates dx (5m read + 5m write).
    const Shape p = {5, 2560, 100};
    const double m = 2560.0 * 100;
    add_row("sum_particles_fwd", "5x2560x100 axis 0", 6 * m * f, p, [](Tape& t, Var x) { return ops::sum(t, x, 0); },
            false);
    add_row("sum_particles_fwd_bwd", "5x2560x100 axis 0", (6 * m + 11 * m) * f, p,
            [](Tape& t, Var x) { return ops::sum(t, x, 0); }, true);
    add_row("logsumexp_particles_fwd", "5x2560x100 axis 0", 6 * m * f, p,
            [](Tape& t, Var x) { return ops::logsumexp(t, x, 0); }, false);
    add_row("logsumexp_particles_fwd_bwd", "5x2560x100 axis 0", (6 * m + 17 * m) * f, p,
            [](Tape& t, Var x) { return ops::logsumexp(t, x, 0); }, true);
    // Per-cell sums over genes: (2560, 8563) -> (2560), contiguous rows.
    const double g = 2560.0 * 8563;
    add_row("sum_genes_fwd", "2560x8563 axis -1", g * f, {2560, 8563}, [](Tape& t, Var x) { return ops::sum(t, x, -1); },
            false);
    add_row("sum_all_fwd", "2560x8563", g * f, {2560, 8563}, [](Tape& t, Var x) { return ops::sum_all(t, x); }, false);
    // The mask sparsity term over the T x T logits at the reference T = 1,546: forward reads x once; forward +
    // backward reads x twice and updates dx (read + write).
    const double tt = 1546.0 * 1546;
    add_row("sigmoid_mean_fwd_bwd", "1546x1546", 4 * tt * f, {1546, 1546},
            [](Tape& t, Var x) { return ops::sigmoid_mean(t, x); }, true);
});
