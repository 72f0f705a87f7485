// GPO-VAE objective on the tape (see gpo_vae.h; math: gpo_vae_reference.md §2-§4, decisions D2-D5, D12).
#include "engine/models/gpo_vae.h"

#include <algorithm>
#include <cmath>

#include "engine/check.h"
#include "engine/ops/distributions.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/reduce.h"
#include "engine/ops/sparse.h"

namespace gpo::models {

namespace {

// Noise purposes: each gets its own Philox stream; pass 1 (the counterfactual guide pass) uses fresh streams.
enum NoisePurpose : uint64_t { NOISE_MASK = 1, NOISE_EMB = 2, NOISE_QC = 3, NOISE_Z = 4 };
constexpr uint64_t STEP_STRIDE = 1ULL << 40;  // counter space per step: larger than any one draw

Tensor draw(const Shape& shape, DType dt, Device dev, RngKey base, uint64_t purpose, int pass, uint64_t step,
            bool normal) {
    Tensor t = Tensor::empty(shape, dt, dev);
    RngKey k{base.seed, base.stream * 64 + purpose * 2 + (uint64_t)pass};
    if (normal) rng_normal(t, k, step * STEP_STRIDE);
    else rng_uniform(t, k, step * STEP_STRIDE);
    return t;
}

// One-hot selection D (rows.size(), n) picking `rows` (values 1) on `dev`.
ops::Dosage selection(const std::vector<int>& rows, int64_t n, DType dt, Device dev) {
    std::vector<std::vector<std::pair<int, double>>> lists(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) lists[i] = {{rows[i], 1.0}};
    return ops::Dosage::from_lists(lists, n, dt).to(dev);
}

}  // namespace

struct GpoVae::Embeddings {
    Var W_rows;     // (R, T) mask logits of the rows
    Var M;          // (P, R, T) mask samples
    Gaussian qE;    // (P*R, T)
    Var E;          // (P*R, T) embedding samples
    Var ME;         // (P, R, T) M o E
};

// q(M) and q(E | M) for the given treatment rows. Noise is indexed in the full (P, T, T) space so computing a subset
// of rows equals computing all of them exactly.
GpoVae::Embeddings GpoVae::sample_embeddings(Tape& tape, const ParamStore& ps, Var What, const std::vector<int>& rows,
                                             int64_t P, RngKey key, uint64_t step, int pass) const {
    const int64_t T = cfg_.T, R = (int64_t)rows.size();
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    Embeddings e;
    // q(M): straight-through relaxed Bernoulli.
    ops::Dosage sel = selection(rows, T, dt, dev);
    e.W_rows = ops::dosage_gather(tape, What, sel);  // (R, T)
    Tensor u_full = draw({P, T, T}, dt, dev, key, NOISE_MASK, pass, step, false);
    Tensor u_rows = tape.value(ops::dosage_gather(tape, tape.constant(u_full), sel));  // (P, R, T)
    e.M = ops::relaxed_bernoulli_st(tape, e.W_rows, u_rows, cfg_.temperature);
    // q(E | M): rows [M_t ; e_t] through one shared MLP; the one-hot half is a row lookup.
    Var M2 = ops::reshape(tape, e.M, {P * R, T});
    Var pre = trunk_block(tape, ps, emb_enc_.trunk, 0, M2);
    Var onehot_rows = ops::dosage_gather(tape, ps.on_tape(tape, onehot_), sel);  // (R, H)
    pre = ops::add(tape, pre, repeat_particles(tape, onehot_rows, P));
    e.qE = gaussian_head_finish(tape, ps, emb_enc_, pre);
    Tensor epsE_full = draw({P, T, T}, dt, dev, key, NOISE_EMB, pass, step, true);
    Tensor epsE = tape.value(ops::dosage_gather(tape, tape.constant(epsE_full), sel)).reshape({P * R, T});
    e.E = ops::gaussian_sample(tape, e.qE.mean, e.qE.scale, epsE);
    e.ME = ops::reshape(tape, ops::mul(tape, M2, e.E), {P, R, T});
    return e;
}

struct GpoVae::GuidePass {
    Embeddings emb;  // present rows (invalid Vars when no row is present)
    Var zp;          // (P*B, T) d (M o E)
    Var qcE;        // (P, L)
    Gaussian qqc;   // (P, L) (broadcast)
    Gaussian qz;    // (P*B, L) q(z_b | x, d, M, E, q qcE)
    Gaussian qz_cf; // (P*B, L) same encoder with (1-q) qcE (main pass only)
};

GpoVae::GpoVae(const GpoVaeConfig& c, ParamStore& ps) : cfg_(c) {
    GPO_CHECK(c.G > 0 && c.T > 0 && c.L > 0, "gpo_vae: G, T, L must be positive (G=" << c.G << ", T=" << c.T
                                                                                  << ", L=" << c.L << ")");
    W_ = ps.declare("q_mask_logits", {c.T, c.T});
    phi_ = ps.declare("decoder.log_concentration", {c.G});
    // E-encoder: input [M_t ; e_t] (2T). The one-hot half is a lookup table (T, H) = first-layer columns.
    emb_enc_ = declare_gaussian_head(ps, "emb_encoder", {c.T}, c.emb_layers, c.emb_hidden, c.T);
    onehot_ = ps.declare("emb_encoder.0.onehot_block", {c.T, (int64_t)c.emb_hidden});
    qc_enc_ = declare_gaussian_head(ps, "qc_encoder", {c.L}, c.qc_layers, c.qc_hidden, c.L);
    // Basal encoder input [norm x (G) ; z_p (T) ; q qcE (L)] as three blocks.
    basal_enc_ = declare_gaussian_head(ps, "basal_encoder", {c.G, c.T, c.L}, c.basal_layers, c.basal_hidden, c.L);
    // Decoder input [z_b (L) ; z_p (T) ; qc part (L)] as three blocks, then the gene logits.
    decoder_ = declare_trunk(ps, "decoder", {c.L, c.T, c.L}, c.dec_layers, c.dec_hidden);
    dec_out_ = declare_linear(ps, "decoder.out", c.dec_hidden, c.G);
}

void GpoVae::init_params(ParamStore& ps, uint64_t seed) const {
    std::vector<InitSpec> specs;
    append_init(specs, emb_enc_);
    specs.push_back({onehot_, 1.0 / std::sqrt(2.0 * cfg_.T)});  // fan-in of the whole first layer is 2T
    append_init(specs, qc_enc_);
    append_init(specs, basal_enc_);
    append_init(specs, decoder_);
    append_init(specs, dec_out_);
    init_uniform(ps, specs, RngKey{seed, 1000});
    Tensor W = ps.value(W_);
    W.copy_from(Tensor::full(W.shape, cfg_.mask_init, W.dtype).to(W.device));
    ps.value(phi_).zero_();
}

GpoVae::GuidePass GpoVae::guide(Tape& tape, const ParamStore& ps, const Batch& batch, Var What,
                                const Tensor& norm_x, const Tensor& qc_values, bool with_cf_variant, RngKey key,
                                uint64_t step, int pass) const {
    const int64_t P = cfg_.particles, T = cfg_.T, L = cfg_.L, B = batch.B;
    const int64_t R = (int64_t)batch.present.size();
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    GuidePass g;

    if (R == 0) {  // only control cells: no mask, embedding or GRN row enters the loss
        g.zp = tape.constant(Tensor::zeros({P * B, T}, dt, dev));
    } else {
        g.emb = sample_embeddings(tape, ps, What, batch.present, P, key, step, pass);
        g.zp = ops::reshape(tape, ops::dosage_gather(tape, g.emb.ME, batch.D_sub), {P * B, T});
    }

    // q(qcE): a Gaussian from an MLP of a constant ones input, P samples.
    Var ones = tape.constant(Tensor::full({1, L}, 1.0, dt).to(dev));
    Gaussian q1 = gaussian_head_finish(tape, ps, qc_enc_, trunk_block(tape, ps, qc_enc_.trunk, 0, ones));
    g.qqc.mean = ops::broadcast_to(tape, q1.mean, {P, L});
    g.qqc.scale = ops::broadcast_to(tape, q1.scale, {P, L});
    g.qcE = ops::gaussian_sample(tape, g.qqc.mean, g.qqc.scale, draw({P, L}, dt, dev, key, NOISE_QC, pass, step, true));

    // q(z_b | x, d, M, E, qc): first layer as blocks; the norm-x block is shared by all particles.
    Var hx = repeat_particles(tape, trunk_block(tape, ps, basal_enc_.trunk, 0, tape.constant(norm_x)), P);
    Var hp = trunk_block(tape, ps, basal_enc_.trunk, 1, g.zp);
    Var hxp = ops::add(tape, hx, hp);
    Var qcE3 = ops::broadcast_to(tape, ops::reshape(tape, g.qcE, {P, 1, L}), {P, B, L});
    auto qc_block = [&](const Tensor& qv) {  // (P*B, H) block of q_n * qcE_p
        Var q3 = ops::broadcast_to(tape, tape.constant(qv.reshape({1, B, 1})), {P, B, L});
        Var part = ops::reshape(tape, ops::mul(tape, q3, qcE3), {P * B, L});
        return trunk_block(tape, ps, basal_enc_.trunk, 2, part);
    };
    g.qz = gaussian_head_finish(tape, ps, basal_enc_, ops::add(tape, hxp, qc_block(qc_values)));
    if (with_cf_variant) {
        std::vector<double> q = qc_values.to_vector();
        for (double& v : q) v = 1.0 - v;
        Tensor one_minus_q = Tensor::from_vector(qc_values.shape, q, dt).to(dev);
        g.qz_cf = gaussian_head_finish(tape, ps, basal_enc_, ops::add(tape, hxp, qc_block(one_minus_q)));
    }
    return g;
}

LossTerms GpoVae::loss(Tape& tape, const ParamStore& ps, const Batch& batch, RngKey key, uint64_t step) const {
    const int64_t P = cfg_.particles, T = cfg_.T, L = cfg_.L, B = batch.B;
    const int64_t R = (int64_t)batch.present.size();
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    GPO_CHECK(B > 0, "gpo_vae: empty batch");

    Var What = ops::nan_to_num(tape, ps.on_tape(tape, W_), 0.0, 0.0, 0.0);  // sanitize_tensor
    GuidePass g = guide(tape, ps, batch, What, batch.norm_x, batch.qc, true, key, step, 0);

    // ---------------------------------------------------------------- reconstruction (QC-mixed, §4.1)
    Var zb = ops::gaussian_sample(tape, g.qz.mean, g.qz.scale, draw({P * B, L}, dt, dev, key, NOISE_Z, 0, step, true));
    Var pre = ops::add(tape, trunk_block(tape, ps, decoder_, 0, zb), trunk_block(tape, ps, decoder_, 1, g.zp));
    Var pre3 = ops::reshape(tape, pre, {P, B, (int64_t)cfg_.dec_hidden});
    Var phi = ps.on_tape(tape, phi_);

    double n_fail = 0;
    for (int q : batch.qc_host) n_fail += q;
    double alpha = cfg_.alpha_global ? cfg_.alpha_value : n_fail / (double)B;
    // Cells of each branch and their weights: good = alpha (1-q), bad = (1-alpha) q; without the QC branch every
    // cell is good with weight 1.
    std::vector<int> good, bad;
    for (int64_t n = 0; n < B; ++n) (batch.qc_host[n] && cfg_.qc_branch ? bad : good).push_back((int)n);
    double w_good = cfg_.qc_branch ? alpha : 1.0, w_bad = 1.0 - alpha;

    auto branch = [&](const std::vector<int>& cells, bool is_bad, double weight) -> Var {
        int64_t Bs = (int64_t)cells.size();
        if (Bs == 0 || weight == 0.0) return Var{};
        ops::Dosage pick = selection(cells, B, dt, dev);
        Var h = ops::reshape(tape, ops::dosage_gather(tape, pre3, pick), {P * Bs, (int64_t)cfg_.dec_hidden});
        if (is_bad) {  // + the qcE block, shared by the cells of a particle
            Var hq = trunk_block(tape, ps, decoder_, 2, g.qcE);  // (P, H)
            Var hq3 = ops::broadcast_to(tape, ops::reshape(tape, hq, {P, 1, (int64_t)cfg_.dec_hidden}),
                                        {P, Bs, (int64_t)cfg_.dec_hidden});
            h = ops::add(tape, h, ops::reshape(tape, hq3, {P * Bs, (int64_t)cfg_.dec_hidden}));
        }
        Var logits = apply_linear(tape, ps, dec_out_, trunk_finish(tape, ps, decoder_, h));
        Tensor counts = tape.value(ops::dosage_gather(tape, tape.constant(batch.counts), pick));
        Tensor lib = tape.value(ops::dosage_gather(tape, tape.constant(batch.library.reshape({B, 1})), pick))
                         .reshape({Bs});
        Var ll = ops::nb_log_prob_softmax(tape, logits, phi, counts, lib);  // (P*Bs)
        return ops::scale(tape, ops::sum_all(tape, ll), weight);
    };
    Var recon_good = branch(good, false, w_good);
    Var recon_bad = branch(bad, true, w_bad);

    // ---------------------------------------------------------------- KL-type terms (§4.2)
    Var kz = ops::sum_all(tape, ops::sub(tape, ops::std_normal_log_prob(tape, zb),
                                         ops::gaussian_log_prob(tape, zb, g.qz.mean, g.qz.scale)));
    // Mask and embedding: per-row sums of log p - log q, then plate-weighted per cell (w = 1/N_t).
    Var km, ke;
    if (R > 0) {
        Var prior_logits = tape.constant(
            Tensor::full({R, T}, std::log(cfg_.mask_prior / (1.0 - cfg_.mask_prior)), dt).to(dev));
        Var mdiff = ops::sub(tape, ops::bernoulli_log_prob(tape, g.emb.M, prior_logits, false),
                             ops::bernoulli_log_prob(tape, g.emb.M, g.emb.W_rows, true));  // (P, R, T)
        km = ops::sum_all(tape, ops::dosage_gather(tape, ops::reshape(tape, ops::sum(tape, mdiff, 2), {P, R, 1}),
                                                  batch.D_plate));
        Var E_prior = cfg_.embedding_prior_scale == 1.0
                          ? ops::std_normal_log_prob(tape, g.emb.E)
                          : ops::gaussian_log_prob(
                                tape, g.emb.E, tape.constant(Tensor::zeros({P * R, T}, dt, dev)),
                                tape.constant(Tensor::full({P * R, T}, cfg_.embedding_prior_scale, dt).to(dev)));
        Var ediff = ops::reshape(tape, ops::sub(tape, E_prior, ops::gaussian_log_prob(tape, g.emb.E, g.emb.qE.mean, g.emb.qE.scale)),
                                 {P, R, T});
        ke = ops::sum_all(tape, ops::dosage_gather(tape, ops::reshape(tape, ops::sum(tape, ediff, 2), {P, R, 1}),
                                                  batch.D_plate));
    }
    // qcE: only failing cells carry it, weight 1/N_fail(split): total = (sum_n q_n / N_fail) * sum_p K_p.
    Var kqc;
    if (batch.n_fail_split > 0 && n_fail > 0) {
        Var qdiff = ops::sub(tape, ops::std_normal_log_prob(tape, g.qcE),
                             ops::gaussian_log_prob(tape, g.qcE, g.qqc.mean, g.qqc.scale));
        kqc = ops::scale(tape, ops::sum_all(tape, qdiff), n_fail / batch.n_fail_split);
    }
    std::vector<Var> elbo_terms = {kz};
    for (Var v : {recon_good, recon_bad, km, ke, kqc})
        if (v.valid()) elbo_terms.push_back(v);
    Var elbo_sum = elbo_terms[0];
    for (size_t i = 1; i < elbo_terms.size(); ++i) elbo_sum = ops::add(tape, elbo_sum, elbo_terms[i]);
    Var total = ops::scale(tape, elbo_sum, -1.0 / (double)(P * B));

    // ---------------------------------------------------------------- counterfactual term (§4.3, D2)
    std::vector<int> cf_cells;
    for (int64_t n = 0; n < B; ++n)
        if (batch.has_cf[n]) cf_cells.push_back((int)n);
    Var cf;
    if (!cf_cells.empty() && cfg_.cf_beta != 0.0) {
        std::vector<double> q = batch.qc.to_vector();
        for (double& v : q) v = 1.0 - v;
        Tensor one_minus_q = Tensor::from_vector(batch.qc.shape, q, dt).to(dev);
        GuidePass g1 = guide(tape, ps, batch, What, batch.cf_norm_x, one_minus_q, false, key, step, 1);
        int64_t I = (int64_t)cf_cells.size();
        ops::Dosage pick = selection(cf_cells, B, dt, dev);
        auto rows_of = [&](Var v) {  // (P*B, L) -> (P*I, L)
            return ops::reshape(tape, ops::dosage_gather(tape, ops::reshape(tape, v, {P, B, L}), pick), {P * I, L});
        };
        Var m1 = rows_of(g1.qz.mean), s1 = rows_of(g1.qz.scale), m2 = rows_of(g.qz_cf.mean), s2 = rows_of(g.qz_cf.scale);
        if (cfg_.cf_exact_kl) {
            Var kl = ops::sum_all(tape, ops::gaussian_kl(tape, m1, s1, m2, s2));
            cf = ops::scale(tape, kl, cfg_.cf_beta / (double)(P * I));
        } else {
            // Reference formula: 1/2 [s1^2/s2^2 - 1 - log(s1^2/s2^2) + (m1 - m2)^2], summed over cells and latents,
            // averaged over particles.
            Var logratio = ops::scale(tape, ops::sub(tape, ops::log(tape, s1), ops::log(tape, s2)), 2.0);
            Var term = ops::add(tape, ops::sub(tape, ops::add_scalar(tape, ops::exp(tape, logratio), -1.0), logratio),
                                ops::square(tape, ops::sub(tape, m1, m2)));
            cf = ops::scale(tape, ops::sum_all(tape, term), 0.5 * cfg_.cf_beta / (double)P);
        }
        total = ops::add(tape, total, cf);
    }

    // ---------------------------------------------------------------- GRN-aligned loss (§4.4) and sparsity (§4.5)
    Var grn;
    if (cfg_.gloss_coeff != 0.0) {
        Var pred = tape.constant(Tensor::zeros({B, T}, dt, dev));  // control cells: d S = 0
        if (R > 0) {
            std::vector<int32_t> rows(batch.present.begin(), batch.present.end());
            Tensor rows_t = Tensor::from_ints({R}, rows).to(dev);
            Var S_rows = ops::grn_khop_rows(tape, What, rows_t, cfg_.hops);  // (R, T)
            pred = ops::dosage_gather(tape, S_rows, batch.D_sub);             // (B, T)
        }
        std::vector<double> tgt = batch.delta.to_vector();
        for (double& v : tgt) v -= cfg_.tau;
        Tensor target = Tensor::from_vector(batch.delta.shape, tgt, dt).to(dev);
        grn = ops::scale(tape, ops::l1_loss_mean(tape, pred, target), cfg_.gloss_coeff);
        total = ops::add(tape, total, grn);
    }
    Var sp;
    if (cfg_.sparsity_coeff != 0.0) {
        sp = ops::scale(tape, ops::mean_all(tape, ops::sigmoid(tape, What)), cfg_.sparsity_coeff);
        total = ops::add(tape, total, sp);
    }

    LossTerms out;
    out.total = total;
    auto val = [&](Var v, double s) { return v.valid() ? tape.value(v).item() * s : 0.0; };
    double norm = -1.0 / (double)(P * B);  // terms are logged as their share of the loss
    out.loss = tape.value(total).item();
    out.recon = val(recon_good, norm) + val(recon_bad, norm);
    out.kl_z = val(kz, norm);
    out.kl_mask = val(km, norm);
    out.kl_emb = val(ke, norm);
    out.kl_qc = val(kqc, norm);
    out.cf = val(cf, 1.0);
    out.grn = val(grn, 1.0);
    out.sparsity = val(sp, 1.0);
    return out;
}

Tensor GpoVae::generate(const ParamStore& ps, const std::vector<std::vector<int>>& dosages, int particles,
                        double library, bool sample_counts, RngKey key, uint64_t step) const {
    const int64_t P = particles, T = cfg_.T, L = cfg_.L, n = (int64_t)dosages.size(), G = cfg_.G;
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    GPO_CHECK(n > 0 && P > 0, "gpo_vae generate: needs at least one dosage and one particle");
    Tape tape;
    NoGradGuard no_grad(tape);
    // Rows of the treatments used, and each dosage as a row of D over them.
    std::vector<int> rows;
    for (const auto& d : dosages)
        for (int t : d) {
            GPO_CHECK(t >= 0 && t < T, "gpo_vae generate: treatment index " << t << " outside [0, " << T << ")");
            if (std::find(rows.begin(), rows.end(), t) == rows.end()) rows.push_back(t);
        }
    std::sort(rows.begin(), rows.end());
    Var zp = tape.constant(Tensor::zeros({P * n, T}, dt, dev));
    if (!rows.empty()) {
        std::vector<std::vector<std::pair<int, double>>> lists(n);
        for (int64_t i = 0; i < n; ++i)
            for (int t : dosages[i])
                lists[i].push_back({(int)(std::lower_bound(rows.begin(), rows.end(), t) - rows.begin()), 1.0});
        ops::Dosage D = ops::Dosage::from_lists(lists, (int64_t)rows.size(), dt).to(dev);
        Var What = ops::nan_to_num(tape, ps.on_tape(tape, W_), 0.0, 0.0, 0.0);
        Embeddings e = sample_embeddings(tape, ps, What, rows, P, key, step, 2);
        zp = ops::reshape(tape, ops::dosage_gather(tape, e.ME, D), {P * n, T});
    }
    // z_b from the prior; the healthy branch has no qcE block.
    Var zb = tape.constant(draw({P * n, L}, dt, dev, key, NOISE_Z, 2, step, true));
    Var pre = ops::add(tape, trunk_block(tape, ps, decoder_, 0, zb), trunk_block(tape, ps, decoder_, 1, zp));
    Var rho = ops::softmax_rows(tape, apply_linear(tape, ps, dec_out_, trunk_finish(tape, ps, decoder_, pre)));
    Tensor mean = tape.value(ops::scale(tape, rho, library)).reshape({P, n, G});
    if (!sample_counts) return mean;
    // x ~ GammaPoisson(c, r): lambda ~ Gamma(c, rate r), x ~ Poisson(lambda), r = max(c / (mu + 1e-4), 1e-6).
    std::vector<double> mu = mean.to_vector(), phi = ps.value(phi_).to_vector(), shape(mu.size()), rate(mu.size());
    for (size_t i = 0; i < mu.size(); ++i) {
        double c = std::exp(phi[i % G]);
        shape[i] = c;
        rate[i] = std::max(c / (mu[i] + 1e-4), 1e-6);
    }
    Tensor sh = Tensor::from_vector(mean.shape, shape, dt).to(dev), rt = Tensor::from_vector(mean.shape, rate, dt).to(dev);
    Tensor lambda = Tensor::empty(mean.shape, dt, dev), counts = Tensor::empty(mean.shape, dt, dev);
    RngKey k{key.seed, key.stream * 64 + 60};
    rng_gamma(lambda, sh, rt, k, step * STEP_STRIDE);
    rng_poisson(counts, lambda, RngKey{key.seed, key.stream * 64 + 61}, step * STEP_STRIDE);
    return counts;
}

}  // namespace gpo::models
