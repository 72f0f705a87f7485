// GPO-VAE objective on the tape (see gpo_vae.h; math: docs/model.md §2-§4, decisions D2-D5, D12).
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

// (B, Bs) scatter of the rows of a cell subset back to all B cells, value `weight` each: with ll (P, Bs, 1),
// dosage_gather gives (P, B, 1), zero for cells outside the subset.
ops::Dosage scatter_cells(const std::vector<int>& cells, int64_t B, double weight, DType dt, Device dev) {
    std::vector<std::vector<std::pair<int, double>>> lists((size_t)B);
    for (size_t i = 0; i < cells.size(); ++i) lists[cells[i]] = {{(int)i, weight}};
    return ops::Dosage::from_lists(lists, (int64_t)cells.size(), dt).to(dev);
}

}  // namespace

struct GpoVae::GuidePass {
    MaskedEmbeddings emb;  // present rows (invalid Vars when no row is present)
    Var zp;                // (P*B, T) d (M o E)
    Var qcE;               // (P, L)
    Gaussian qqc;          // (P, L) (broadcast)
    Gaussian qz;           // (P*B, L) q(z_b | x, d, M, E, q qcE)
    Gaussian qz_cf;        // (P*B, L) same encoder with (1-q) qcE (main pass only)
};

// The main guide pass, z_b and the particle-independent part of the decoder input.
struct GpoVae::Forward {
    int64_t P = 0;
    Var What;     // (T, T) sanitized mask logits
    GuidePass g;
    Var zb;       // (P*B, L)
    Var pre3;     // (P, B, H) decoder first-layer blocks of z_b and z_p
    Var phi;      // (G) log concentration
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
    append_init_with_lookup(specs, emb_enc_.trunk, onehot_, 2 * cfg_.T);  // input [M_t ; e_t]: fan-in 2T
    append_init(specs, emb_enc_.mean);
    append_init(specs, emb_enc_.logvar);
    append_init(specs, qc_enc_);
    append_init(specs, basal_enc_);
    append_init(specs, decoder_);
    append_init(specs, dec_out_);
    init_uniform(ps, specs, RngKey{seed, 1000});
    Tensor W = ps.value(W_);
    std::vector<double> w0((size_t)(cfg_.T * cfg_.T), cfg_.mask_init);
    for (int64_t e : cfg_.prior_edges) w0[(size_t)e] += cfg_.prior_logit;
    W.copy_from(Tensor::from_vector(W.shape, w0, W.dtype).to(W.device));
    ps.value(phi_).zero_();
}

GpoVae::GuidePass GpoVae::guide(Tape& tape, const ParamStore& ps, const Batch& batch, Var What,
                                const Tensor& norm_x, const Tensor& qc_values, bool with_cf_variant, int64_t P,
                                RngKey key, uint64_t step, int pass) const {
    const int64_t T = cfg_.T, L = cfg_.L, B = batch.B;
    const int64_t R = (int64_t)batch.present.size();
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    GuidePass g;

    if (R == 0) {  // only control cells: no mask, embedding or GRN row enters the loss
        g.zp = tape.constant(Tensor::zeros({P * B, T}, dt, dev));
    } else {
        g.emb = sample_masked_embeddings(tape, ps, What, emb_enc_, onehot_, batch.present, P, cfg_.temperature, key,
                                         step, pass);
        g.zp = ops::reshape(tape, ops::dosage_gather(tape, g.emb.ME, batch.D_sub), {P * B, T});
    }

    // q(qcE): a Gaussian from an MLP of a constant ones input, P samples.
    Var ones = tape.constant(Tensor::full({1, L}, 1.0, dt).to(dev));
    Gaussian q1 = gaussian_head_finish(tape, ps, qc_enc_, trunk_block(tape, ps, qc_enc_.trunk, 0, ones));
    g.qqc.mean = ops::broadcast_to(tape, q1.mean, {P, L});
    g.qqc.scale = ops::broadcast_to(tape, q1.scale, {P, L});
    g.qcE = ops::gaussian_sample(tape, g.qqc.mean, g.qqc.scale,
                                 draw_noise({P, L}, dt, dev, key, NOISE_QC, pass, step, true));

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

GpoVae::Forward GpoVae::forward(Tape& tape, const ParamStore& ps, const Batch& batch, bool with_cf_variant,
                                int64_t P, RngKey key, uint64_t step) const {
    const int64_t L = cfg_.L, B = batch.B;
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    GPO_CHECK(B > 0, "gpo_vae: empty batch");
    Forward f;
    f.P = P;
    f.What = ops::nan_to_num(tape, ps.on_tape(tape, W_), 0.0, 0.0, 0.0);  // sanitize_tensor
    f.g = guide(tape, ps, batch, f.What, batch.norm_x, batch.qc, with_cf_variant, P, key, step, 0);
    f.zb = ops::gaussian_sample(tape, f.g.qz.mean, f.g.qz.scale,
                                draw_cell_noise(batch, P, L, dt, dev, key, NOISE_Z, 0, step, true));
    Var pre = ops::add(tape, trunk_block(tape, ps, decoder_, 0, f.zb), trunk_block(tape, ps, decoder_, 1, f.g.zp));
    f.pre3 = ops::reshape(tape, pre, {P, B, (int64_t)cfg_.dec_hidden});
    f.phi = ps.on_tape(tape, phi_);
    return f;
}

// log p(x_n | z) summed over genes for the cells of one decoder branch: (P * cells.size()), invalid when no cell.
Var GpoVae::branch_log_lik(Tape& tape, const ParamStore& ps, const Batch& batch, const Forward& f,
                           const std::vector<int>& cells, bool is_bad) const {
    const int64_t P = f.P, B = batch.B, H = cfg_.dec_hidden, Bs = (int64_t)cells.size();
    if (Bs == 0) return Var{};
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    ops::Dosage pick = row_selection(cells, B, dt, dev);
    Var h = ops::reshape(tape, ops::dosage_gather(tape, f.pre3, pick), {P * Bs, H});
    if (is_bad) {  // + the qcE block, shared by the cells of a particle
        Var hq = trunk_block(tape, ps, decoder_, 2, f.g.qcE);  // (P, H)
        Var hq3 = ops::broadcast_to(tape, ops::reshape(tape, hq, {P, 1, H}), {P, Bs, H});
        h = ops::add(tape, h, ops::reshape(tape, hq3, {P * Bs, H}));
    }
    Var logits = apply_linear(tape, ps, dec_out_, trunk_finish(tape, ps, decoder_, h));
    Tensor counts = tape.value(ops::dosage_gather(tape, tape.constant(batch.counts), pick));
    Tensor lib =
        tape.value(ops::dosage_gather(tape, tape.constant(batch.library.reshape({B, 1})), pick)).reshape({Bs});
    return ops::nb_log_prob_softmax(tape, logits, f.phi, counts, lib);  // (P*Bs)
}

// L_grn (§4.4): lambda_g * mean over the batch's cells and target columns of |(d_n S)_j - (delta_nj - tau)|, with
// the stand-in changes of model.grn_target "profile" added to delta and the unmeasured columns left out for
// "measured"; `pw` the annealing weight. Invalid when gloss_coeff is 0.
Var GpoVae::grn_loss(Tape& tape, const Batch& batch, Var What, double pw) const {
    const int64_t T = cfg_.T, B = batch.B, Bt = batch.total_B(), R = (int64_t)batch.present.size();
    const DType dt = tape.value(What).dtype;
    const Device dev = tape.value(What).device;
    if (cfg_.gloss_coeff == 0.0) return Var{};
    Var pred = tape.constant(Tensor::zeros({B, T}, dt, dev));  // control cells: d S = 0
    if (R > 0) {
        std::vector<int32_t> rows(batch.present.begin(), batch.present.end());
        Tensor rows_t = Tensor::from_ints({R}, rows).to(dev);
        Var S_rows = ops::grn_khop_rows(tape, What, rows_t, cfg_.hops);  // (R, T)
        pred = ops::dosage_gather(tape, S_rows, batch.D_sub);             // (B, T)
    }
    std::vector<double> tgt = batch.delta.to_vector();
    if (!cfg_.grn_stand_in.empty() && R > 0) {
        // Δ of unmeasured perturbed genes is 0; add each cell's stand-in rows (summed over its treatments, as
        // d_n S sums the rows of S).
        std::vector<double> rows_in((size_t)(R * T));
        for (int64_t r = 0; r < R; ++r)
            std::copy_n(&cfg_.grn_stand_in[(size_t)batch.present[(size_t)r] * (size_t)T], T, &rows_in[(size_t)(r * T)]);
        Var in = ops::dosage_gather(tape, tape.constant(Tensor::from_vector({R, T}, rows_in, dt).to(dev)), batch.D_sub);
        std::vector<double> add = tape.value(in).to_vector();
        for (size_t k = 0; k < tgt.size(); ++k) tgt[k] += add[k];
    }
    for (double& v : tgt) v -= cfg_.tau;
    // The mean over the whole batch's B_total x T entries: this shard's mean times B / B_total.
    double norm = cfg_.gloss_coeff * (double)B / (double)Bt;
    if (!cfg_.grn_measured.empty()) {
        // Only the measured target columns: both sides 0 elsewhere (no pull, no gradient), the mean taken over
        // the B x T_measured entries left.
        std::vector<double> keep((size_t)(B * T));
        int64_t measured = 0;
        for (int64_t j = 0; j < T; ++j) measured += cfg_.grn_measured[(size_t)j];
        for (int64_t n = 0; n < B; ++n)
            for (int64_t j = 0; j < T; ++j) {
                keep[(size_t)(n * T + j)] = cfg_.grn_measured[(size_t)j];
                if (!cfg_.grn_measured[(size_t)j]) tgt[(size_t)(n * T + j)] = 0.0;
            }
        pred = ops::mul(tape, pred, tape.constant(Tensor::from_vector({B, T}, keep, dt).to(dev)));
        norm *= measured > 0 ? (double)T / (double)measured : 0.0;
    }
    Tensor target = Tensor::from_vector(batch.delta.shape, tgt, dt).to(dev);
    return ops::scale(tape, ops::l1_loss_mean(tape, pred, target), norm * pw);
}

// model.grn_prior: prior_weight * pw * mean over the prior's edges of |W_e - prior_logit|; invalid without a prior.
Var GpoVae::prior_loss(Tape& tape, Var What, double pw) const {
    const int64_t T = cfg_.T;
    const DType dt = tape.value(What).dtype;
    const Device dev = tape.value(What).device;
    if (cfg_.prior_edges.empty() || cfg_.prior_weight == 0.0) return Var{};
    // L1 pull of the prior's edges towards prior_logit: both sides are 0 off the edges (no pull, no gradient);
    // the mean over T x T entries times T^2 / edges is the mean over the edges.
    std::vector<double> on((size_t)(T * T), 0.0);
    for (int64_t e : cfg_.prior_edges) on[(size_t)e] = 1.0;
    Tensor on_t = Tensor::from_vector({T, T}, on, dt).to(dev);
    Var pred_p = ops::mul(tape, What, tape.constant(on_t));
    for (double& v : on) v *= cfg_.prior_logit;
    Tensor target = Tensor::from_vector({T, T}, on, dt).to(dev);
    const double n_edges = (double)cfg_.prior_edges.size();
    return ops::scale(tape, ops::l1_loss_mean(tape, pred_p, target), cfg_.prior_weight * pw * (double)(T * T) / n_edges);
}

LossTerms GpoVae::loss(Tape& tape, const ParamStore& ps, const Batch& batch, RngKey key, uint64_t step) const {
    const int64_t P = cfg_.particles, T = cfg_.T, L = cfg_.L, B = batch.B;
    const int64_t Bt = batch.total_B();  // cells of the whole batch when this is a shard of it (batch.h)
    const int64_t R = (int64_t)batch.present.size();
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    Forward f = forward(tape, ps, batch, true, P, key, step);
    const GuidePass& g = f.g;
    Var What = f.What, zb = f.zb;

    // ---------------------------------------------------------------- reconstruction (QC-mixed, §4.1)
    double n_fail = 0;
    for (int q : batch.qc_host) n_fail += q;
    const double n_fail_batch = batch.n_fail_total >= 0 ? batch.n_fail_total : n_fail;
    double alpha = cfg_.alpha_global ? cfg_.alpha_value : n_fail_batch / (double)Bt;
    // Cells of each branch and their weights: good = alpha (1-q), bad = (1-alpha) q; without the QC branch every
    // cell is good with weight 1.
    std::vector<int> good, bad;
    for (int64_t n = 0; n < B; ++n) (batch.qc_host[n] && cfg_.qc_branch ? bad : good).push_back((int)n);
    double w_good = cfg_.qc_branch ? alpha : 1.0, w_bad = 1.0 - alpha;
    Var ll_good = w_good != 0.0 ? branch_log_lik(tape, ps, batch, f, good, false) : Var{};
    Var ll_bad = w_bad != 0.0 ? branch_log_lik(tape, ps, batch, f, bad, true) : Var{};

    // ---------------------------------------------------------------- KL-type terms (§4.2), element-wise
    Var zdiff = ops::sub(tape, ops::std_normal_log_prob(tape, zb),
                         ops::gaussian_log_prob(tape, zb, g.qz.mean, g.qz.scale));  // (P*B, L)
    // Mask and embedding: per-row log p - log q, plate-weighted per cell (w = 1/N_t).
    Var mdiff, ediff;  // (P, R, T)
    if (R > 0) {
        mdiff = mask_log_ratio(tape, g.emb.M, g.emb.W_rows, cfg_.mask_prior);
        ediff = ops::reshape(tape, embedding_log_ratio(tape, g.emb.E, g.emb.qE, cfg_.embedding_prior_scale),
                             {P, R, T});
    }
    // qcE: only failing cells carry it, weight q_n / N_fail(split). Its prior is N(0, s^2) with the embeddings' prior
    // scale s, as the reference's p_qc_E_scale.
    Var qdiff;  // (P, L)
    if (batch.n_fail_split > 0 && n_fail > 0) qdiff = embedding_log_ratio(tape, g.qcE, g.qqc, cfg_.embedding_prior_scale);

    // Annealing (batch.kl_weight < 1 early in training): the KL-type terms scaled; at weight 1 nothing is added.
    const double klw = batch.kl_weight, pw = batch.penalty_weight;
    auto weighted = [&](Var v, double w) { return v.valid() && w != 1.0 ? ops::scale(tape, v, w) : v; };
    zdiff = weighted(zdiff, klw), mdiff = weighted(mdiff, klw), ediff = weighted(ediff, klw);
    qdiff = weighted(qdiff, klw);
    Var recon_good, recon_bad, kz, km, ke, kqc, total;
    double norm = -1.0 / (double)(P * Bt);  // terms are logged as their share of the (per-particle) ELBO loss
    double s_recon = 0, s_recon_bad = 0, s_kz = 0, s_km = 0, s_ke = 0, s_kqc = 0;
    if (!cfg_.iwelbo) {
        if (ll_good.valid()) recon_good = ops::scale(tape, ops::sum_all(tape, ll_good), w_good);
        if (ll_bad.valid()) recon_bad = ops::scale(tape, ops::sum_all(tape, ll_bad), w_bad);
        kz = ops::sum_all(tape, zdiff);
        if (R > 0) {
            km = ops::sum_all(tape, plate_rows(tape, mdiff, batch.D_plate));
            ke = ops::sum_all(tape, plate_rows(tape, ediff, batch.D_plate));
        }
        // total over cells = (sum_n q_n / N_fail) * sum_p K_p.
        if (qdiff.valid()) kqc = ops::scale(tape, ops::sum_all(tape, qdiff), n_fail / batch.n_fail_split);
        std::vector<Var> elbo_terms = {kz};
        for (Var v : {recon_good, recon_bad, km, ke, kqc})
            if (v.valid()) elbo_terms.push_back(v);
        Var elbo_sum = elbo_terms[0];
        for (size_t i = 1; i < elbo_terms.size(); ++i) elbo_sum = ops::add(tape, elbo_sum, elbo_terms[i]);
        total = ops::scale(tape, elbo_sum, -1.0 / (double)(P * Bt));
        auto val = [&](Var v) { return v.valid() ? tape.value(v).item() : 0.0; };
        s_recon = val(recon_good), s_recon_bad = val(recon_bad);
        s_kz = val(kz), s_km = val(km), s_ke = val(ke), s_kqc = val(kqc);
    } else {
        // IWELBO: log w_pn = R_pn + K^z_pn + K^M_pn + K^E_pn + K^qc_pn (P, B); loss = -(1/B) sum_n [logsumexp_p
        // log w_pn - log P].
        std::vector<Var> parts;  // each (P, B)
        auto host_sum = [&](Var v) {
            double s = 0;
            for (double x : tape.value(v).to_vector()) s += x;
            return s;
        };
        auto add_part = [&](Var v, double* share) {
            parts.push_back(v);
            *share += host_sum(v);
        };
        auto per_cell = [&](Var ll, const std::vector<int>& cells, double w) {  // (P * |cells|) -> (P, B)
            Var ll3 = ops::reshape(tape, ll, {P, (int64_t)cells.size(), 1});
            return ops::reshape(tape, ops::dosage_gather(tape, ll3, scatter_cells(cells, B, w, dt, dev)), {P, B});
        };
        if (ll_good.valid()) add_part(per_cell(ll_good, good, w_good), &s_recon);
        if (ll_bad.valid()) add_part(per_cell(ll_bad, bad, w_bad), &s_recon);
        add_part(ops::reshape(tape, ops::sum(tape, zdiff, 1), {P, B}), &s_kz);
        if (R > 0) {
            add_part(ops::reshape(tape, plate_rows(tape, mdiff, batch.D_plate), {P, B}), &s_km);
            add_part(ops::reshape(tape, plate_rows(tape, ediff, batch.D_plate), {P, B}), &s_ke);
        }
        if (qdiff.valid()) {
            std::vector<double> v(batch.qc_host.begin(), batch.qc_host.end());
            for (double& x : v) x /= batch.n_fail_split;
            Var vq = ops::broadcast_to(tape, tape.constant(Tensor::from_vector({1, B}, v, dt).to(dev)), {P, B});
            Var kp = ops::broadcast_to(tape, ops::reshape(tape, ops::sum(tape, qdiff, 1), {P, 1}), {P, B});
            add_part(ops::mul(tape, vq, kp), &s_kqc);
        }
        Var logw = parts[0];
        for (size_t i = 1; i < parts.size(); ++i) logw = ops::add(tape, logw, parts[i]);
        Var lse = ops::logsumexp(tape, logw, 0);  // (B)
        total = ops::add_scalar(tape, ops::scale(tape, ops::sum_all(tape, lse), -1.0 / (double)Bt),
                                batch.global_terms ? std::log((double)P) : 0.0);
    }

    // ---------------------------------------------------------------- counterfactual term (§4.3, D2)
    std::vector<int> cf_cells;
    for (int64_t n = 0; n < B; ++n)
        if (batch.has_cf[n]) cf_cells.push_back((int)n);
    Var cf;
    if (!cf_cells.empty() && cfg_.cf_beta != 0.0) {
        std::vector<double> q = batch.qc.to_vector();
        for (double& v : q) v = 1.0 - v;
        Tensor one_minus_q = Tensor::from_vector(batch.qc.shape, q, dt).to(dev);
        GuidePass g1 = guide(tape, ps, batch, What, batch.cf_norm_x, one_minus_q, false, P, key, step, 1);
        int64_t I = (int64_t)cf_cells.size();
        ops::Dosage pick = row_selection(cf_cells, B, dt, dev);
        auto rows_of = [&](Var v) {  // (P*B, L) -> (P*I, L)
            return ops::reshape(tape, ops::dosage_gather(tape, ops::reshape(tape, v, {P, B, L}), pick), {P * I, L});
        };
        Var m1 = rows_of(g1.qz.mean), s1 = rows_of(g1.qz.scale);
        Var m2 = rows_of(g.qz_cf.mean), s2 = rows_of(g.qz_cf.scale);
        if (cfg_.cf_exact_kl) {
            Var kl = ops::sum_all(tape, ops::gaussian_kl(tape, m1, s1, m2, s2));
            const int64_t I_total = batch.n_cf_total >= 0 ? batch.n_cf_total : I;
            cf = ops::scale(tape, kl, cfg_.cf_beta / (double)(P * I_total));
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

    // ---------------------------------------------------------------- GRN-aligned loss (§4.4), sparsity (§4.5), prior
    Var grn = grn_loss(tape, batch, What, pw);
    if (grn.valid()) total = ops::add(tape, total, grn);
    Var sp;
    if (cfg_.sparsity_coeff != 0.0 && batch.global_terms) {  // batch-independent: once per global batch
        sp = ops::scale(tape, ops::sigmoid_mean(tape, What), cfg_.sparsity_coeff * pw);  // fused: no T x T temporaries
        total = ops::add(tape, total, sp);
    }
    Var prior = batch.global_terms ? prior_loss(tape, What, pw) : Var{};
    if (prior.valid()) total = ops::add(tape, total, prior);

    LossTerms out;
    out.total = total;
    auto val = [&](Var v) { return v.valid() ? tape.value(v).item() : 0.0; };
    out.loss = tape.value(total).item();
    out.recon = s_recon * norm + s_recon_bad * norm;
    out.kl_z = s_kz * norm;
    out.kl_mask = s_km * norm;
    out.kl_emb = s_ke * norm;
    out.kl_qc = s_kqc * norm;
    out.cf = val(cf);
    out.grn = val(grn);
    out.sparsity = val(sp);
    out.grn_prior = val(prior);
    return out;
}

Tensor GpoVae::log_weights(const ParamStore& ps, const Batch& batch, int particles, RngKey key, uint64_t step) const {
    const int64_t P = particles, B = batch.B;
    GPO_CHECK(P > 0, "gpo_vae log_weights: particles must be positive, got " << particles);
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    Tape tape;
    NoGradGuard no_grad(tape);
    Forward f = forward(tape, ps, batch, false, P, key, step);
    // (1 - q) log p_good + q log p_bad: each cell in its own branch with weight 1 (no alpha).
    std::vector<int> good, bad;
    for (int64_t n = 0; n < B; ++n) (batch.qc_host[n] && cfg_.qc_branch ? bad : good).push_back((int)n);
    Var zdiff = ops::sub(tape, ops::std_normal_log_prob(tape, f.zb),
                         ops::gaussian_log_prob(tape, f.zb, f.g.qz.mean, f.g.qz.scale));  // (P*B, L)
    Var logw = ops::reshape(tape, ops::sum(tape, zdiff, 1), {P, B});
    for (int branch = 0; branch < 2; ++branch) {
        const std::vector<int>& cells = branch ? bad : good;
        Var ll = branch_log_lik(tape, ps, batch, f, cells, branch == 1);
        if (!ll.valid()) continue;
        Var cell_ll = ops::dosage_gather(tape, ops::reshape(tape, ll, {P, (int64_t)cells.size(), 1}),
                                         scatter_cells(cells, B, 1.0, dt, dev));
        logw = ops::add(tape, logw, ops::reshape(tape, cell_ll, {P, B}));
    }
    return tape.value(logw);
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
    ops::Dosage D = dosages_over_rows(dosages, T, &rows, dt, dev, "gpo_vae generate");
    Var zp = tape.constant(Tensor::zeros({P * n, T}, dt, dev));
    if (!rows.empty()) {
        Var What = ops::nan_to_num(tape, ps.on_tape(tape, W_), 0.0, 0.0, 0.0);
        MaskedEmbeddings e =
            sample_masked_embeddings(tape, ps, What, emb_enc_, onehot_, rows, P, cfg_.temperature, key, step, 2);
        zp = ops::reshape(tape, ops::dosage_gather(tape, e.ME, D), {P * n, T});
    }
    // z_b from the prior; the healthy branch has no qcE block.
    Var zb = tape.constant(draw_noise({P * n, L}, dt, dev, key, NOISE_Z, 2, step, true));
    Var pre = ops::add(tape, trunk_block(tape, ps, decoder_, 0, zb), trunk_block(tape, ps, decoder_, 1, zp));
    Var rho = ops::softmax_rows(tape, apply_linear(tape, ps, dec_out_, trunk_finish(tape, ps, decoder_, pre)));
    Tensor mean = tape.value(ops::scale(tape, rho, library)).reshape({P, n, G});
    if (!sample_counts) return mean;
    return sample_gamma_poisson(mean, ps.value(phi_), key, step);
}

Tensor GpoVae::mean_embedding_effect(const ParamStore& ps, int particles, RngKey key) const {
    const int64_t T = cfg_.T;
    Tape tape;
    NoGradGuard no_grad(tape);
    std::vector<int> rows(T);
    for (int64_t t = 0; t < T; ++t) rows[t] = (int)t;
    Var What = ops::nan_to_num(tape, ps.on_tape(tape, W_), 0.0, 0.0, 0.0);
    MaskedEmbeddings e =
        sample_masked_embeddings(tape, ps, What, emb_enc_, onehot_, rows, particles, cfg_.temperature, key, 0, 3);
    return tape.value(ops::mean(tape, e.ME, 0));  // (T, T)
}

}  // namespace gpo::models
