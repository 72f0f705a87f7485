// GPO-VAE (docs/model.md §2-§4): T x T relaxed-Bernoulli masks M and embeddings E with the
// correlated guide q(M) q(E|M) q(qcE) q(z_b | x, d, M, E, qc), the QC good/bad decoder branches with alpha weighting
// (D3), the counterfactual term (D2), the K-hop GRN-aligned L1 loss and the sparsity penalty.
// Exact savings (docs/model.md §4.6): mask samples, E-encoder rows and GRN-power rows only for the perturbations present in
// the batch; the one-hot half of the E-encoder input is a row lookup; the particle-independent block of the basal
// encoder's first layer is multiplied once; each decoder branch runs only on the cells whose weight is non-zero.
// The IWELBO objective replaces the ELBO part when cfg.iwelbo; log_weights gives the evaluation weights of §7.
#pragma once
#include <string>

#include "engine/models/blocks.h"
#include "engine/models/model.h"

namespace gpo::models {

struct GpoVaeConfig {
    int64_t G = 0, T = 0, L = 100;  // genes, treatments, latent size
    int basal_layers = 1, basal_hidden = 400;
    int emb_layers = 4, emb_hidden = 400;
    int qc_layers = 4, qc_hidden = 400;
    int dec_layers = 2, dec_hidden = 400;
    double mask_prior = 0.3, mask_init = 0.0, embedding_prior_scale = 1.0, temperature = 1.0;
    double cf_beta = 0.1;
    bool cf_exact_kl = false;    // D2: false = the reference formula
    bool alpha_global = false;   // D3: false = per-batch fail fraction
    double alpha_value = 0.0;    // the global alpha (train fail fraction) when alpha_global
    bool qc_branch = true;       // false when the training data has no QC-fail cell: good branch, weight 1
    int hops = 5;
    double tau = 0.4, gloss_coeff = 100.0, sparsity_coeff = 1.0;
    // model.grn_target "measured": the GRN loss leaves out the target columns j whose gene has no measured
    // expression (grn_measured[j] = 0), where the reference pulls every logit into j towards 0 - tau (its delta is
    // 0 there); empty = every column (the reference).
    std::vector<uint8_t> grn_measured;
    // model.grn_target "profile": (T * T) stand-in changes added to Δ in the columns of unmeasured perturbed genes,
    // row t for a cell perturbed at t (data::profile_grn_target); empty = none.
    std::vector<double> grn_stand_in;
    // model.grn_prior: edges (regulator t, target j) of a reference network among the treatments, as flat indices
    // t * T + j. Their logits start at mask_init + prior_logit and an L1 pull prior_weight * mean_edges
    // |W_tj - prior_logit| (once per global batch, like the sparsity term) keeps them there unless the data push
    // back; empty = no prior (the reference).
    std::vector<int64_t> prior_edges;
    double prior_logit = 2.0, prior_weight = 1.0;
    int particles = 5;
    bool iwelbo = false;         // train.objective "iwelbo": IWELBO instead of the ELBO part (cf, GRN, sparsity kept)
};

class GpoVae : public Model {
  public:
    GpoVae(const GpoVaeConfig& cfg, ParamStore& ps);  // declares the parameters (call before ps.finalize)
    std::string type() const override { return "gpo_vae"; }
    void init_params(ParamStore& ps, uint64_t seed) const override;  // PyTorch default init, W = mask_init
    // The training objective L = L_elbo + L_cf + L_grn + L_sp on the tape (L_iwelbo instead of L_elbo when
    // cfg.iwelbo). Noise comes from `key` at `step`.
    LossTerms loss(Tape& tape, const ParamStore& ps, const Batch& batch, RngKey key, uint64_t step) const override;
    Tensor generate(const ParamStore& ps, const std::vector<std::vector<int>>& dosages, int particles,
                    double library, bool sample_counts, RngKey key, uint64_t step) const override;
    Tensor sample_counts(const ParamStore& ps, const Tensor& mean, RngKey key, uint64_t step) const override {
        return sample_gamma_poisson(mean, ps.value(phi_), key, step);
    }
    // (particles, B): sum_g [(1-q) log p_good + q log p_bad] + log N(z_b; 0, I) - log q(z_b) (docs/model.md §7; the good
    // branch only when the QC branch is off), same noise streams as loss() at `step`.
    Tensor log_weights(const ParamStore& ps, const Batch& batch, int particles, RngKey key,
                       uint64_t step) const override;
    const GpoVaeConfig& config() const { return cfg_; }

    // Parameter indices (for the GRN outputs and tests).
    Tensor mean_embedding_effect(const ParamStore& ps, int particles, RngKey key) const override;
    int mask_logits() const override { return W_; }
    int log_theta() const { return phi_; }

  private:
    struct GuidePass;
    GuidePass guide(Tape& tape, const ParamStore& ps, const Batch& batch, Var What, const Tensor& norm_x,
                    const Tensor& qc_values, bool with_cf_variant, int64_t P, RngKey key, uint64_t step,
                    int pass) const;
    struct Forward;
    Forward forward(Tape& tape, const ParamStore& ps, const Batch& batch, bool with_cf_variant, int64_t P, RngKey key,
                    uint64_t step) const;
    Var branch_log_lik(Tape& tape, const ParamStore& ps, const Batch& batch, const Forward& f,
                       const std::vector<int>& cells, bool is_bad) const;
    Var grn_loss(Tape& tape, const Batch& batch, Var What, double pw) const;
    Var prior_loss(Tape& tape, Var What, double pw) const;

    GpoVaeConfig cfg_;
    int W_ = -1, phi_ = -1, onehot_ = -1;
    GaussianHead emb_enc_, qc_enc_, basal_enc_;
    Trunk decoder_;
    Linear dec_out_;
};

}  // namespace gpo::models
