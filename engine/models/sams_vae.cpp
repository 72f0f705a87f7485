// SAMS-VAE family objectives on the tape (see sams_vae.h; math: docs/model.md §8, §2-§4 for the
// shared pieces, §7 for the evaluation weights).
#include "engine/models/sams_vae.h"

#include <cmath>

#include "engine/check.h"
#include "engine/ops/distributions.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/reduce.h"
#include "engine/ops/sparse.h"

namespace gpo::models {

// The global variables of the present treatment rows, per particle.
struct SamsVae::Globals {
    Var W_rows;   // (R, L) mask logits of the rows (sams_vae)
    Var M;        // (P, R, L) mask samples (sams_vae)
    Gaussian qE;  // (P*R, L) q(E | M) or the mean-field q(E) repeated over particles
    Var E;        // (P*R, L)
    Var ME;       // (P, R, L) M o E (E for cpa_vae)
};

struct SamsVae::Forward {
    int64_t P = 0;
    Globals glob;  // valid when rows are present (sams_vae, cpa_vae)
    Gaussian qz;   // (P*B, L) q(z_b | ...)
    Var zb;        // (P*B, L)
    Var ll;        // (P*B) sum_g log p(x_n | z)
};

SamsVae::SamsVae(const SamsVaeConfig& c, ParamStore& ps) : cfg_(c) {
    GPO_CHECK(c.type == "sams_vae" || c.type == "cpa_vae" || c.type == "conditional_vae",
              "sams_vae: unknown model type '" << c.type << "'");
    GPO_CHECK(c.G > 0 && c.T > 0 && c.L > 0, c.type << ": G, T, L must be positive (G=" << c.G << ", T=" << c.T
                                                     << ", L=" << c.L << ")");
    const std::string& inf = c.inference;
    GPO_CHECK(inf == "mean_field" || inf == "correlated_z" || inf == "correlated_e" || inf == "correlated",
              "model.inference: unknown value '" << inf << "'");
    GPO_CHECK(c.type != "cpa_vae" || inf == "mean_field" || inf == "correlated_z",
              "model.inference: cpa_vae has a free q(E), as the published CPA-VAE guide; '"
                  << inf << "' needs the q(E | M) encoder that only sams_vae has (use correlated_z, the default for "
                             "cpa_vae, or mean_field)");
    conditional_ = c.type == "conditional_vae";
    masks_ = c.type == "sams_vae";
    corr_e_ = !conditional_ && (inf == "correlated_e" || inf == "correlated");
    corr_z_ = !conditional_ && (inf == "correlated_z" || inf == "correlated");
    const int64_t H_b = c.basal_hidden, H_d = c.dec_hidden;
    phi_ = ps.declare("decoder.log_concentration", {c.G});
    if (masks_) W_ = ps.declare("q_mask_logits", {c.T, c.L});
    if (!conditional_) {
        if (corr_e_) {  // q(E | M): input [M_t (L) ; e_t (T)], the one-hot half a (T, H) lookup table
            emb_enc_ = declare_gaussian_head(ps, "emb_encoder", {c.L}, c.emb_layers, c.emb_hidden, c.L);
            onehot_ = ps.declare("emb_encoder.0.onehot_block", {c.T, (int64_t)c.emb_hidden});
        } else {  // mean-field q(E): free mean and log-scale per entry
            E_loc_ = ps.declare("q_E_loc", {c.T, c.L});
            E_log_scale_ = ps.declare("q_E_log_scale", {c.T, c.L});
        }
    }
    // Basal encoder: [norm x (G) ; d (M o E) (L)] when correlated_z; conditional: [norm x ; d], d a lookup (T, H).
    std::vector<int64_t> enc_blocks = {c.G};
    if (corr_z_) enc_blocks.push_back(c.L);
    basal_enc_ = declare_gaussian_head(ps, "basal_encoder", enc_blocks, c.basal_layers, c.basal_hidden, c.L);
    if (conditional_) enc_dose_ = ps.declare("basal_encoder.0.dosage_block", {c.T, H_b});
    // Decoder: z (L) (conditional: [z ; d], d a lookup (T, H)), then the gene logits.
    decoder_ = declare_trunk(ps, "decoder", {c.L}, c.dec_layers, c.dec_hidden);
    if (conditional_) dec_dose_ = ps.declare("decoder.0.dosage_block", {c.T, H_d});
    dec_out_ = declare_linear(ps, "decoder.out", c.dec_hidden, c.G);
}

void SamsVae::init_params(ParamStore& ps, uint64_t seed) const {
    std::vector<InitSpec> specs;
    if (corr_e_) {
        append_init_with_lookup(specs, emb_enc_.trunk, onehot_, cfg_.L + cfg_.T);
        append_init(specs, emb_enc_.mean);
        append_init(specs, emb_enc_.logvar);
    }
    if (conditional_) {
        append_init_with_lookup(specs, basal_enc_.trunk, enc_dose_, cfg_.G + cfg_.T);
        append_init(specs, basal_enc_.mean);
        append_init(specs, basal_enc_.logvar);
        append_init_with_lookup(specs, decoder_, dec_dose_, cfg_.L + cfg_.T);
    } else {
        append_init(specs, basal_enc_);
        append_init(specs, decoder_);
    }
    append_init(specs, dec_out_);
    init_uniform(ps, specs, RngKey{seed, 1000});
    if (masks_) {
        Tensor W = ps.value(W_);
        W.copy_from(Tensor::full(W.shape, cfg_.mask_init, W.dtype).to(W.device));
    }
    if (E_loc_ >= 0) {
        ps.value(E_loc_).zero_();
        ps.value(E_log_scale_).zero_();  // scale exp(0) + 1e-4, as the SAMS-VAE mean-field guide
    }
    ps.value(phi_).zero_();
}

SamsVae::Globals SamsVae::sample_globals(Tape& tape, const ParamStore& ps, const std::vector<int>& rows, int64_t P,
                                         RngKey key, uint64_t step, int pass) const {
    const int64_t T = cfg_.T, L = cfg_.L, R = (int64_t)rows.size();
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    ops::Dosage sel = row_selection(rows, T, dt, dev);
    Globals g;
    Var M2;  // (P*R, L)
    if (masks_) {
        Var What = ops::nan_to_num(tape, ps.on_tape(tape, W_), 0.0, 0.0, 0.0);  // sanitize_tensor
        MaskRows m = sample_mask_rows(tape, What, sel, rows, P, cfg_.temperature, key, step, pass);
        g.W_rows = m.W_rows;
        g.M = m.M;
        M2 = ops::reshape(tape, m.M, {P * R, L});
    }
    if (corr_e_) {  // q(E | M) = MLP([M_t ; e_t]); cpa_vae feeds M = 1
        Var m_in = masks_ ? M2 : tape.constant(Tensor::full({P * R, L}, 1.0, dt).to(dev));
        g.qE = embedding_encoder_rows(tape, ps, emb_enc_, onehot_, m_in, sel, P);
    } else {  // mean-field q(E) = N(loc, exp(log_scale) + 1e-4), the same for every particle
        Var loc = ops::dosage_gather(tape, ps.on_tape(tape, E_loc_), sel);  // (R, L)
        Var scale = ops::add_scalar(tape, ops::exp(tape, ops::dosage_gather(tape, ps.on_tape(tape, E_log_scale_), sel)),
                                    1e-4);
        g.qE = {repeat_particles(tape, loc, P), repeat_particles(tape, scale, P)};
    }
    g.E = sample_embedding_rows(tape, g.qE, rows, P, T, key, step, pass);
    g.ME = ops::reshape(tape, masks_ ? ops::mul(tape, M2, g.E) : g.E, {P, R, L});
    return g;
}

// D (n, R) times the rows `rows` of a (T, H) lookup parameter: (n, H).
Var SamsVae::dosage_rows(Tape& tape, const ParamStore& ps, int param, const std::vector<int>& rows,
                         const ops::Dosage& D) const {
    ops::Dosage sel = row_selection(rows, cfg_.T, ps.values().dtype, ps.values().device);
    return ops::dosage_gather(tape, ops::dosage_gather(tape, ps.on_tape(tape, param), sel), D);
}

SamsVae::Forward SamsVae::forward(Tape& tape, const ParamStore& ps, const Batch& batch, int64_t P, RngKey key,
                                  uint64_t step) const {
    const int64_t L = cfg_.L, B = batch.B, R = (int64_t)batch.present.size();
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    GPO_CHECK(B > 0, cfg_.type << ": empty batch");
    Forward f;
    f.P = P;
    Var zp;  // (P*B, L) d (M o E); invalid for conditional_vae and for control-only batches
    if (!conditional_ && R > 0) {
        f.glob = sample_globals(tape, ps, batch.present, P, key, step, 0);
        zp = ops::reshape(tape, ops::dosage_gather(tape, f.glob.ME, batch.D_sub), {P * B, L});
    }
    // q(z_b | ...): the norm-x block (and the dosage block) are particle-independent and multiplied once.
    Var hx = trunk_block(tape, ps, basal_enc_.trunk, 0, tape.constant(batch.norm_x));  // (B, H)
    if (conditional_ && R > 0) hx = ops::add(tape, hx, dosage_rows(tape, ps, enc_dose_, batch.present, batch.D_sub));
    if (corr_z_ && zp.valid()) {
        Var hz = trunk_block(tape, ps, basal_enc_.trunk, 1, zp);
        f.qz = gaussian_head_finish(tape, ps, basal_enc_, ops::add(tape, repeat_particles(tape, hx, P), hz));
    } else {  // the whole encoder is particle-independent (d (M o E) = 0 in a control-only batch)
        Gaussian q1 = gaussian_head_finish(tape, ps, basal_enc_, hx);
        f.qz = {repeat_particles(tape, q1.mean, P), repeat_particles(tape, q1.scale, P)};
    }
    f.zb = ops::gaussian_sample(tape, f.qz.mean, f.qz.scale,
                                draw_cell_noise(batch, P, L, dt, dev, key, NOISE_Z, 0, step, true));
    // Decoder: z = z_b + d (M o E), or [z_b ; d] for conditional_vae.
    Var z = zp.valid() ? ops::add(tape, f.zb, zp) : f.zb;
    Var pre = trunk_block(tape, ps, decoder_, 0, z);
    if (conditional_ && R > 0) {
        Var hd = dosage_rows(tape, ps, dec_dose_, batch.present, batch.D_sub);  // (B, H)
        pre = ops::add(tape, pre, repeat_particles(tape, hd, P));
    }
    Var logits = apply_linear(tape, ps, dec_out_, trunk_finish(tape, ps, decoder_, pre));
    f.ll = ops::nb_log_prob_softmax(tape, logits, ps.on_tape(tape, phi_), batch.counts, batch.library);  // (P*B)
    return f;
}

LossTerms SamsVae::loss(Tape& tape, const ParamStore& ps, const Batch& batch, RngKey key, uint64_t step) const {
    const int64_t P = cfg_.particles, L = cfg_.L, B = batch.B;
    const int64_t Bt = batch.total_B();  // cells of the whole batch when this is a shard of it (batch.h)
    Forward f = forward(tape, ps, batch, P, key, step);
    Var zdiff = ops::sub(tape, ops::std_normal_log_prob(tape, f.zb),
                         ops::gaussian_log_prob(tape, f.zb, f.qz.mean, f.qz.scale));  // (P*B, L)
    // Plated global terms (weights 1/N_t of the present rows): (P, B, 1) per cell.
    Var km, ke;
    if (f.glob.E.valid()) {
        const int64_t R = (int64_t)batch.present.size();
        if (masks_)
            km = plate_rows(tape, mask_log_ratio(tape, f.glob.M, f.glob.W_rows, cfg_.mask_prior), batch.D_plate);
        Var ediff = ops::reshape(tape, embedding_log_ratio(tape, f.glob.E, f.glob.qE, cfg_.embedding_prior_scale),
                                 {P, R, L});
        ke = plate_rows(tape, ediff, batch.D_plate);
    }
    if (batch.kl_weight != 1.0) {  // annealing (batch.h); at weight 1 nothing is added
        zdiff = ops::scale(tape, zdiff, batch.kl_weight);
        if (km.valid()) km = ops::scale(tape, km, batch.kl_weight);
        if (ke.valid()) ke = ops::scale(tape, ke, batch.kl_weight);
    }
    auto host_sum = [&](Var v) {
        if (!v.valid()) return 0.0;
        double s = 0;
        for (double x : tape.value(v).to_vector()) s += x;
        return s;
    };
    Var total;
    if (!cfg_.iwelbo) {
        Var sum = ops::add(tape, ops::sum_all(tape, f.ll), ops::sum_all(tape, zdiff));
        for (Var v : {km, ke})
            if (v.valid()) sum = ops::add(tape, sum, ops::sum_all(tape, v));
        total = ops::scale(tape, sum, -1.0 / (double)(P * Bt));
    } else {
        Var logw = ops::add(tape, ops::reshape(tape, f.ll, {P, B}),
                            ops::reshape(tape, ops::sum(tape, zdiff, 1), {P, B}));
        for (Var v : {km, ke})
            if (v.valid()) logw = ops::add(tape, logw, ops::reshape(tape, v, {P, B}));
        Var lse = ops::logsumexp(tape, logw, 0);  // (B)
        total = ops::add_scalar(tape, ops::scale(tape, ops::sum_all(tape, lse), -1.0 / (double)Bt),
                                batch.global_terms ? std::log((double)P) : 0.0);
    }
    LossTerms out;
    out.total = total;
    out.loss = tape.value(total).item();
    const double norm = -1.0 / (double)(P * Bt);  // each term's share of the (per-particle) ELBO loss
    out.recon = host_sum(f.ll) * norm;
    out.kl_z = host_sum(zdiff) * norm;
    out.kl_mask = host_sum(km) * norm;
    out.kl_emb = host_sum(ke) * norm;
    return out;
}

Tensor SamsVae::log_weights(const ParamStore& ps, const Batch& batch, int particles, RngKey key,
                            uint64_t step) const {
    const int64_t P = particles, B = batch.B;
    GPO_CHECK(P > 0, cfg_.type << " log_weights: particles must be positive, got " << particles);
    Tape tape;
    NoGradGuard no_grad(tape);
    Forward f = forward(tape, ps, batch, P, key, step);
    Var zdiff = ops::sub(tape, ops::std_normal_log_prob(tape, f.zb),
                         ops::gaussian_log_prob(tape, f.zb, f.qz.mean, f.qz.scale));
    return tape.value(ops::add(tape, ops::reshape(tape, f.ll, {P, B}),
                               ops::reshape(tape, ops::sum(tape, zdiff, 1), {P, B})));
}

Tensor SamsVae::latent_offsets(const ParamStore& ps, const std::vector<std::vector<int>>& dosages, int particles,
                               RngKey key, uint64_t step) const {
    GPO_CHECK(!conditional_, "conditional_vae: no latent perturbation offsets (the dosage enters the decoder)");
    const int64_t P = particles, n = (int64_t)dosages.size(), L = cfg_.L;
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    GPO_CHECK(n > 0 && P > 0, cfg_.type << " latent_offsets: needs at least one dosage and one particle");
    Tape tape;
    NoGradGuard no_grad(tape);
    std::vector<int> rows;
    ops::Dosage D = dosages_over_rows(dosages, cfg_.T, &rows, dt, dev, "latent_offsets");
    if (rows.empty()) return Tensor::zeros({P, n, L}, dt, dev);
    Globals g = sample_globals(tape, ps, rows, P, key, step, 2);
    return tape.value(ops::dosage_gather(tape, g.ME, D));  // (P, n, L)
}

Tensor SamsVae::generate(const ParamStore& ps, const std::vector<std::vector<int>>& dosages, int particles,
                         double library, bool sample_counts, RngKey key, uint64_t step) const {
    const int64_t P = particles, L = cfg_.L, n = (int64_t)dosages.size(), G = cfg_.G;
    const DType dt = ps.values().dtype;
    const Device dev = ps.values().device;
    GPO_CHECK(n > 0 && P > 0, cfg_.type << " generate: needs at least one dosage and one particle");
    Tape tape;
    NoGradGuard no_grad(tape);
    // z_b from the prior.
    Var z = tape.constant(draw_noise({P * n, L}, dt, dev, key, NOISE_Z, 2, step, true));
    Var dose_block;  // conditional_vae: (P*n, H) decoder block of d
    if (conditional_) {
        std::vector<int> rows;
        ops::Dosage D = dosages_over_rows(dosages, cfg_.T, &rows, dt, dev, "conditional_vae generate");
        if (!rows.empty()) dose_block = repeat_particles(tape, dosage_rows(tape, ps, dec_dose_, rows, D), P);
    } else {
        Tensor zp = latent_offsets(ps, dosages, particles, key, step).reshape({P * n, L});
        z = ops::add(tape, z, tape.constant(zp));
    }
    Var pre = trunk_block(tape, ps, decoder_, 0, z);
    if (dose_block.valid()) pre = ops::add(tape, pre, dose_block);
    Var rho = ops::softmax_rows(tape, apply_linear(tape, ps, dec_out_, trunk_finish(tape, ps, decoder_, pre)));
    Tensor mean = tape.value(ops::scale(tape, rho, library)).reshape({P, n, G});
    if (!sample_counts) return mean;
    return sample_gamma_poisson(mean, ps.value(phi_), key, step);
}

}  // namespace gpo::models
