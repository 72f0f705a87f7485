// Shared model blocks (see blocks.h).
#include "engine/models/blocks.h"

#include <cmath>

#include "engine/check.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"

namespace gpo::models {

Linear declare_linear(ParamStore& ps, const std::string& name, int64_t in, int64_t out, bool bias, int64_t fan_in) {
    Linear l;
    l.in = in;
    l.out = out;
    l.fan_in = fan_in > 0 ? fan_in : in;
    l.w = ps.declare(name + ".weight", {out, in});
    if (bias) l.b = ps.declare(name + ".bias", {out});
    return l;
}

Var apply_linear(Tape& tape, const ParamStore& ps, const Linear& l, Var x) {
    Var w = ps.on_tape(tape, l.w);
    Var b = l.b >= 0 ? ps.on_tape(tape, l.b) : Var{};
    return ops::linear(tape, x, w, b);
}

Trunk declare_trunk(ParamStore& ps, const std::string& name, const std::vector<int64_t>& block_sizes, int n_layers,
                    int64_t hidden) {
    GPO_CHECK(n_layers >= 1, name << ": n_layers must be >= 1, got " << n_layers);
    Trunk t;
    t.hidden = hidden;
    int64_t fan_in = 0;
    for (int64_t s : block_sizes) fan_in += s;
    for (size_t i = 0; i < block_sizes.size(); ++i)
        t.first_blocks.push_back(
            declare_linear(ps, name + ".0.block" + std::to_string(i), block_sizes[i], hidden, false, fan_in));
    t.first_bias = ps.declare(name + ".0.bias", {hidden});
    for (int k = 1; k < n_layers; ++k)
        t.residual.push_back(declare_linear(ps, name + "." + std::to_string(k), hidden, hidden));
    return t;
}

Var trunk_block(Tape& tape, const ParamStore& ps, const Trunk& t, int block, Var x) {
    return apply_linear(tape, ps, t.first_blocks.at(block), x);
}

Var trunk_finish(Tape& tape, const ParamStore& ps, const Trunk& t, Var pre) {
    Var h = ops::leaky_relu(tape, ops::bias_add(tape, pre, ps.on_tape(tape, t.first_bias)), 0.01);
    for (const Linear& l : t.residual) h = ops::add(tape, ops::leaky_relu(tape, apply_linear(tape, ps, l, h), 0.01), h);
    return h;
}

GaussianHead declare_gaussian_head(ParamStore& ps, const std::string& name, const std::vector<int64_t>& block_sizes,
                                   int n_layers, int64_t hidden, int64_t out) {
    GaussianHead g;
    g.trunk = declare_trunk(ps, name, block_sizes, n_layers, hidden);
    g.mean = declare_linear(ps, name + ".mean", hidden, out);
    g.logvar = declare_linear(ps, name + ".var", hidden, out);
    return g;
}

Gaussian gaussian_head_finish(Tape& tape, const ParamStore& ps, const GaussianHead& g, Var pre) {
    Var h = trunk_finish(tape, ps, g.trunk, pre);
    Var mean = ops::nan_to_num(tape, apply_linear(tape, ps, g.mean, h), 1e-6, 1e6, 1e-6);
    Var var = ops::add_scalar(tape, ops::exp(tape, apply_linear(tape, ps, g.logvar, h)), 1e-4);
    var = ops::nan_to_num(tape, ops::abs(tape, var), 1e-6, 1e6, 1e-6);
    return {mean, ops::sqrt(tape, var)};
}

void init_uniform(ParamStore& ps, const std::vector<InitSpec>& specs, RngKey key) {
    uint64_t offset = 0;
    for (const InitSpec& s : specs) {
        Tensor v = ps.value(s.index);
        Tensor u = Tensor::empty(v.shape, v.dtype, v.device);
        rng_uniform(u, key, offset);
        offset += (uint64_t)v.numel();
        std::vector<double> x = u.to_vector();
        for (double& e : x) e = (2 * e - 1) * s.bound;
        v.copy_from(Tensor::from_vector(v.shape, x, v.dtype).to(v.device));
    }
}

void append_init(std::vector<InitSpec>& specs, const Linear& l) {
    double bound = 1.0 / std::sqrt((double)l.fan_in);
    specs.push_back({l.w, bound});
    if (l.b >= 0) specs.push_back({l.b, bound});
}

void append_init(std::vector<InitSpec>& specs, const Trunk& t) {
    int64_t fan_in = 0;
    for (const Linear& l : t.first_blocks) {
        append_init(specs, l);
        fan_in += l.in;
    }
    specs.push_back({t.first_bias, 1.0 / std::sqrt((double)fan_in)});
    for (const Linear& l : t.residual) append_init(specs, l);
}

void append_init(std::vector<InitSpec>& specs, const GaussianHead& g) {
    append_init(specs, g.trunk);
    append_init(specs, g.mean);
    append_init(specs, g.logvar);
}

Var repeat_particles(Tape& tape, Var x, int64_t P) {
    const Tensor& X = tape.value(x);
    int64_t rows = X.dim(0), C = X.dim(1);
    if (P == 1) return x;
    Var b = ops::broadcast_to(tape, ops::reshape(tape, x, {1, rows, C}), {P, rows, C});
    return ops::reshape(tape, b, {P * rows, C});
}

}  // namespace gpo::models
