// Shared model blocks (see blocks.h).
#include "engine/models/blocks.h"

#include <algorithm>
#include <cmath>

#include "engine/check.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/distributions.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/reduce.h"
#include "engine/parallel.h"

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

void append_init_with_lookup(std::vector<InitSpec>& specs, const Trunk& t, int lookup, int64_t fan_in) {
    double bound = 1.0 / std::sqrt((double)fan_in);
    size_t first = specs.size();
    append_init(specs, t);
    for (size_t i = first; i < specs.size(); ++i)
        if (specs[i].index == t.first_blocks[0].w || specs[i].index == t.first_bias) specs[i].bound = bound;
    specs.push_back({lookup, bound});
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

// ---------------------------------------------------------------- noise and row selections

namespace {
NoiseSource* g_noise_source = nullptr;

// The Philox key and counter origin of (base, purpose, pass) at `step`: element i of the noise is the draw at
// counter origin + i.
RngKey noise_key(RngKey base, uint64_t purpose, int pass) { return {base.seed, base.stream * 64 + purpose * 2 + (uint64_t)pass}; }

void fill_noise(Tensor& t, RngKey k, uint64_t counter, bool normal) {
    if (normal) rng_normal(t, k, counter);
    else rng_uniform(t, k, counter);
}

}  // namespace

ScopedNoiseSource::ScopedNoiseSource(NoiseSource source) {
    GPO_CHECK(g_noise_source == nullptr, "ScopedNoiseSource: a noise source is already installed");
    g_noise_source = new NoiseSource(std::move(source));
}

ScopedNoiseSource::~ScopedNoiseSource() {
    delete g_noise_source;
    g_noise_source = nullptr;
}

Tensor draw_noise(const Shape& shape, DType dt, Device dev, RngKey base, uint64_t purpose, int pass, uint64_t step,
                  bool normal) {
    if (g_noise_source) {
        Tensor fed = (*g_noise_source)(purpose, pass, shape, normal);
        if (fed.defined()) {
            int64_t n = 1;
            for (int64_t d : shape) n *= d;
            GPO_CHECK(fed.numel() == n, "draw_noise: the noise source gave " << fed.numel() << " values for purpose "
                                                                             << purpose << " pass " << pass
                                                                             << ", expected " << n);
            return Tensor::from_vector(shape, fed.to(Device::CPU).to_vector(), dt).to(dev);
        }
    }
    Tensor t = Tensor::empty(shape, dt, dev);
    fill_noise(t, noise_key(base, purpose, pass), step * NOISE_STEP_STRIDE, normal);
    return t;
}

Tensor draw_noise_rows(int64_t P, int64_t T, int64_t C, const std::vector<int>& rows, DType dt, Device dev,
                       RngKey base, uint64_t purpose, int pass, uint64_t step, bool normal) {
    const int64_t R = (int64_t)rows.size();
    if (g_noise_source || dev != Device::CPU) {  // the whole (P, T, C) draw, then its rows
        Tensor full = draw_noise({P, T, C}, dt, dev, base, purpose, pass, step, normal);
        Tape tape;
        NoGradGuard ng(tape);
        return tape.value(ops::dosage_gather(tape, tape.constant(full), row_selection(rows, T, dt, dev)));
    }
    Tensor out = Tensor::empty({P, R, C}, dt, dev);
    const RngKey k = noise_key(base, purpose, pass);
    for (int64_t p = 0; p < P; ++p)
        for (int64_t i = 0; i < R;) {  // runs of consecutive rows are one fill
            int64_t j = i + 1;
            while (j < R && rows[j] == rows[j - 1] + 1) ++j;
            Tensor run = out.view((p * R + i) * C, {(j - i) * C});
            fill_noise(run, k, step * NOISE_STEP_STRIDE + (uint64_t)((p * T + rows[i]) * C), normal);
            i = j;
        }
    return out;
}

Tensor draw_cell_noise(const Batch& batch, int64_t P, int64_t C, DType dt, Device dev, RngKey base,
                       uint64_t purpose, int pass, uint64_t step, bool normal) {
    const int64_t B = batch.B, Bt = batch.total_B();
    if (!batch.is_shard() && batch.row_offset == 0) return draw_noise({P * B, C}, dt, dev, base, purpose, pass, step, normal);
    GPO_CHECK(!g_noise_source, "draw_cell_noise: fed noise (ScopedNoiseSource) is for whole batches only");
    GPO_CHECK(batch.row_offset >= 0 && batch.row_offset + B <= Bt,
              "draw_cell_noise: rows [" << batch.row_offset << ", " << batch.row_offset + B << ") outside a batch of "
                                        << Bt);
    Tensor out = Tensor::empty({P * B, C}, dt, dev);
    const RngKey k = noise_key(base, purpose, pass);
    for (int64_t p = 0; p < P; ++p) {
        Tensor rows = out.view(p * B * C, {B * C});
        fill_noise(rows, k, step * NOISE_STEP_STRIDE + (uint64_t)((p * Bt + batch.row_offset) * C), normal);
    }
    return out;
}

ops::Dosage row_selection(const std::vector<int>& rows, int64_t n, DType dt, Device dev) {
    std::vector<std::vector<std::pair<int, double>>> lists(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) lists[i] = {{rows[i], 1.0}};
    return ops::Dosage::from_lists(lists, n, dt).to(dev);
}

// ---------------------------------------------------------------- global masks and embeddings

MaskRows sample_mask_rows(Tape& tape, Var What, const ops::Dosage& sel, const std::vector<int>& rows, int64_t P,
                          double temperature, RngKey key, uint64_t step, int pass) {
    const Tensor& W = tape.value(What);
    const int64_t T = W.dim(0), C = W.dim(1);
    MaskRows m;
    m.W_rows = ops::dosage_gather(tape, What, sel);  // (R, C)
    Tensor u_rows = draw_noise_rows(P, T, C, rows, W.dtype, W.device, key, NOISE_MASK, pass, step, false);  // (P, R, C)
    m.M = ops::relaxed_bernoulli_st(tape, m.W_rows, u_rows, temperature);
    return m;
}

Gaussian embedding_encoder_rows(Tape& tape, const ParamStore& ps, const GaussianHead& enc, int onehot, Var m,
                                const ops::Dosage& sel, int64_t P) {
    Var pre = trunk_block(tape, ps, enc.trunk, 0, m);
    Var onehot_rows = ops::dosage_gather(tape, ps.on_tape(tape, onehot), sel);  // (R, H)
    pre = ops::add(tape, pre, repeat_particles(tape, onehot_rows, P));
    return gaussian_head_finish(tape, ps, enc, pre);
}

Var sample_embedding_rows(Tape& tape, const Gaussian& qE, const std::vector<int>& rows, int64_t P, int64_t T,
                          RngKey key, uint64_t step, int pass) {
    const Tensor& mean = tape.value(qE.mean);
    const int64_t n = mean.dim(0), C = mean.dim(1);
    Tensor eps = draw_noise_rows(P, T, C, rows, mean.dtype, mean.device, key, NOISE_EMB, pass, step, true).reshape({n, C});
    return ops::gaussian_sample(tape, qE.mean, qE.scale, eps);
}

MaskedEmbeddings sample_masked_embeddings(Tape& tape, const ParamStore& ps, Var What, const GaussianHead& enc,
                                          int onehot, const std::vector<int>& rows, int64_t P, double temperature,
                                          RngKey key, uint64_t step, int pass) {
    const Tensor& W = tape.value(What);
    const int64_t T = W.dim(0), C = W.dim(1), R = (int64_t)rows.size();
    ops::Dosage sel = row_selection(rows, T, W.dtype, W.device);
    MaskedEmbeddings e;
    MaskRows m = sample_mask_rows(tape, What, sel, rows, P, temperature, key, step, pass);
    e.W_rows = m.W_rows;
    e.M = m.M;
    Var M2 = ops::reshape(tape, e.M, {P * R, C});
    e.qE = embedding_encoder_rows(tape, ps, enc, onehot, M2, sel, P);
    e.E = sample_embedding_rows(tape, e.qE, rows, P, T, key, step, pass);
    e.ME = ops::reshape(tape, ops::mul(tape, M2, e.E), {P, R, C});
    return e;
}

Var mask_log_ratio(Tape& tape, Var M, Var W_rows, double mask_prior) {
    const Tensor& W = tape.value(W_rows);
    Var prior_logits =
        tape.constant(Tensor::full(W.shape, std::log(mask_prior / (1.0 - mask_prior)), W.dtype).to(W.device));
    return ops::sub(tape, ops::bernoulli_log_prob(tape, M, prior_logits, false),
                    ops::bernoulli_log_prob(tape, M, W_rows, true));
}

Var embedding_log_ratio(Tape& tape, Var E, const Gaussian& qE, double prior_scale) {
    const Tensor& e = tape.value(E);
    Var prior = prior_scale == 1.0
                    ? ops::std_normal_log_prob(tape, E)
                    : ops::gaussian_log_prob(tape, E, tape.constant(Tensor::zeros(e.shape, e.dtype, e.device)),
                                             tape.constant(Tensor::full(e.shape, prior_scale, e.dtype).to(e.device)));
    return ops::sub(tape, prior, ops::gaussian_log_prob(tape, E, qE.mean, qE.scale));
}

Var plate_rows(Tape& tape, Var diff, const ops::Dosage& D_plate) {
    const Tensor& d = tape.value(diff);
    const int64_t P = d.dim(0), R = d.dim(1);
    return ops::dosage_gather(tape, ops::reshape(tape, ops::sum(tape, diff, 2), {P, R, 1}), D_plate);
}

// ---------------------------------------------------------------- generation helpers

ops::Dosage dosages_over_rows(const std::vector<std::vector<int>>& dosages, int64_t T, std::vector<int>* rows,
                              DType dt, Device dev, const char* who) {
    rows->clear();
    for (const auto& d : dosages)
        for (int t : d) {
            GPO_CHECK(t >= 0 && t < T, who << ": treatment index " << t << " outside [0, " << T << ")");
            if (std::find(rows->begin(), rows->end(), t) == rows->end()) rows->push_back(t);
        }
    std::sort(rows->begin(), rows->end());
    std::vector<std::vector<std::pair<int, double>>> lists(dosages.size());
    for (size_t i = 0; i < dosages.size(); ++i)
        for (int t : dosages[i])
            lists[i].push_back({(int)(std::lower_bound(rows->begin(), rows->end(), t) - rows->begin()), 1.0});
    return ops::Dosage::from_lists(lists, (int64_t)rows->size(), dt).to(dev);
}

Tensor sample_gamma_poisson(const Tensor& mean, const Tensor& log_theta, RngKey key, uint64_t step) {
    // Gamma(shape c_g, rate max(c_g / (mu + 1e-4), 1e-6)) with c_g = exp(log_theta_g), in double, rounded once to
    // the tensors' type; then Poisson of it, in one draw (engine/rng.h rng_nb_counts): elements of mean <= 8 by
    // inversion of the negative binomial, the others as the gamma draw on stream 60 then the Poisson draw on 61.
    std::vector<double> c = log_theta.to_vector();
    for (double& x : c) x = std::exp(x);
    Tensor counts = Tensor::empty(mean.shape, mean.dtype, mean.device);
    rng_nb_counts(counts, mean, c, RngKey{key.seed, key.stream * 64 + 60}, step * NOISE_STEP_STRIDE);
    return counts;
}

}  // namespace gpo::models
