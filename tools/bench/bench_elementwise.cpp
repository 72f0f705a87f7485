// Microbenchmarks of the element-wise family at reference scale (512 cells x 5 particles = 2,560 rows, 8,563 genes):
// unary and binary maps, broadcast, row softmax, log-standardise, and the concatenation [z ; d ; qc] of the
// decoder/encoder inputs, 2,560 x (100 + 1,546 + 100). GB/s counts the essential f32 traffic (each read and each
// write once; the zero-fill of fresh gradient buffers is not counted).
#include "engine/ops/elementwise.h"
#include "tools/bench/bench_util.h"

using namespace gpo;

namespace {

const int64_t kRows = 2560, kGenes = 8563;

using OpFn = std::function<Var(Tape&, const std::vector<Var>&)>;

// Registers one row: `op` applied to inputs of `shapes`; with `backward`, a backward pass from a fixed seed too.
void add_row(const std::string& name, const std::string& shape, double bytes, std::vector<Shape> shapes, OpFn op,
             bool backward, double lo = -2, double hi = 2) {
    gpo::bench::add(name, shape, {0, bytes}, [=](Device dev) {
        std::vector<Tensor> xs;
        for (size_t i = 0; i < shapes.size(); ++i)
            xs.push_back(gpo::bench::bench_input(shapes[i], 7 + i, lo, hi).to(dev));
        Tensor seed;
        {
            Tape probe;
            std::vector<Var> vs;
            for (const Tensor& x : xs) vs.push_back(probe.constant(x));
            seed = Tensor::full(probe.value(op(probe, vs)).shape, 1.0).to(dev);
        }
        return std::function<void()>([=] {
            Tape t;
            std::vector<Var> vs;
            for (const Tensor& x : xs) vs.push_back(backward ? t.input(x) : t.constant(x));
            Var y = op(t, vs);
            if (backward) t.backward(y, seed);
        });
    });
}

}  // namespace

static gpo::bench::Registrar reg([] {
    const double n = (double)kRows * kGenes, f = 4.0;  // elements, bytes per f32
    const std::string rc = std::to_string(kRows) + "x" + std::to_string(kGenes);
    const Shape s = {kRows, kGenes};
    // Unary: forward reads x, writes y (2n); backward reads dy and x or y, reads and writes dx (4n).
    add_row("exp_fwd", rc, 2 * n * f, {s}, [](Tape& t, const std::vector<Var>& v) { return ops::exp(t, v[0]); }, false);
    add_row("leaky_relu_fwd", rc, 2 * n * f, {s},
            [](Tape& t, const std::vector<Var>& v) { return ops::leaky_relu(t, v[0]); }, false);
    add_row("leaky_relu_fwd_bwd", rc, 6 * n * f, {s},
            [](Tape& t, const std::vector<Var>& v) { return ops::leaky_relu(t, v[0]); }, true);
    add_row("sigmoid_fwd_bwd", rc, 6 * n * f, {s},
            [](Tape& t, const std::vector<Var>& v) { return ops::sigmoid(t, v[0]); }, true);
    add_row("log_fwd_bwd", rc, 6 * n * f, {s}, [](Tape& t, const std::vector<Var>& v) { return ops::log(t, v[0]); },
            true, 0.1, 5);
    // Binary: forward 3n; mul backward reads dy and the other operand and updates each gradient (8n).
    add_row("add_fwd", rc, 3 * n * f, {s, s}, [](Tape& t, const std::vector<Var>& v) { return ops::add(t, v[0], v[1]); },
            false);
    add_row("mul_fwd_bwd", rc, 11 * n * f, {s, s},
            [](Tape& t, const std::vector<Var>& v) { return ops::mul(t, v[0], v[1]); }, true);
    // Broadcast of a per-gene vector over the rows: forward writes n, backward reads n.
    add_row("broadcast_fwd_bwd", "(1," + std::to_string(kGenes) + ")->" + rc, 2 * n * f, {{1, kGenes}},
            [s](Tape& t, const std::vector<Var>& v) { return ops::broadcast_to(t, v[0], s); }, true);
    // Softmax over genes (the decoder's rho): forward reads x, writes y; backward reads dy, y and updates dx.
    add_row("softmax_rows_fwd", rc, 2 * n * f, {s},
            [](Tape& t, const std::vector<Var>& v) { return ops::softmax_rows(t, v[0]); }, false);
    add_row("softmax_rows_fwd_bwd", rc, 6 * n * f, {s},
            [](Tape& t, const std::vector<Var>& v) { return ops::softmax_rows(t, v[0]); }, true);
    // Counts in [0, 20); the per-gene mean and std are the 2nd and 3rd inputs (already on the device).
    add_row("log_standardize_fwd", rc, 2 * n * f, {s, {kGenes}, {kGenes}},
            [](Tape& t, const std::vector<Var>& v) {
                return ops::log_standardize(t, v[0], t.value(v[1]), t.value(v[2]));
            },
            false, 0, 20);
    // Concatenation [z ; d ; qc]: 2,560 x (100 + 1,546 + 100); forward copies, backward scatters back.
    const int64_t C = 100 + 1546 + 100;
    const double nc = (double)kRows * C;
    add_row("concat_last_fwd_bwd", std::to_string(kRows) + "x(100+1546+100)", 2 * nc * f + 3 * nc * f,
            {{kRows, 100}, {kRows, 1546}, {kRows, 100}},
            [](Tape& t, const std::vector<Var>& v) { return ops::concat_last(t, {v[0], v[1], v[2]}); }, true);
});
