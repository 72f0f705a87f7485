// The SAMS-VAE family (docs/model.md §8): sams_vae (z = z_b + d (M o E) with T x L masks M and embeddings E,
// straight-through relaxed-Bernoulli q(M) and the four inference variants of model.inference), cpa_vae (the same with
// masks fixed to 1) and conditional_vae (q(z | [norm x ; d]), p(x | [z ; d])); library-size NB decoder; plated ELBO
// or IWELBO. Exact savings as gpo_vae: global rows only for the treatments present in the batch, one-hot and dosage
// halves of first layers as row lookups, particle-independent encoders evaluated once.
#pragma once
#include <string>

#include "engine/models/blocks.h"
#include "engine/models/model.h"

namespace gpo::models {

struct SamsVaeConfig {
    std::string type = "sams_vae";         // sams_vae | cpa_vae | conditional_vae
    // mean_field | correlated_z | correlated_e | correlated (sams_vae); mean_field | correlated_z (cpa_vae, whose
    // published guide has a free q(E)); ignored by conditional_vae.
    std::string inference = "correlated";
    int64_t G = 0, T = 0, L = 100;         // genes, treatments, latent size
    int basal_layers = 1, basal_hidden = 400;
    int emb_layers = 4, emb_hidden = 400;  // q(E | M) encoder (correlated_e, correlated)
    int dec_layers = 2, dec_hidden = 400;  // hidden layers of the decoder (SAMS counts them directly)
    double mask_prior = 0.3, mask_init = 0.0, embedding_prior_scale = 1.0, temperature = 1.0;
    int particles = 5;
    bool iwelbo = false;  // train.objective = "iwelbo"
};

class SamsVae : public Model {
  public:
    SamsVae(const SamsVaeConfig& cfg, ParamStore& ps);  // declares the parameters (call before ps.finalize)
    std::string type() const override { return cfg_.type; }
    // PyTorch default init for the linear layers (fan-in counts the lookup halves), mask logits = mask_init,
    // mean-field q(E) mean 0 and log-scale 0, log concentration 0.
    void init_params(ParamStore& ps, uint64_t seed) const override;
    // -(1/(P B)) sum_{p,n} [log p(x|z) + K^z + K^M + K^E] (ELBO) or -(1/B) sum_n [logsumexp_p log w_pn - log P].
    LossTerms loss(Tape& tape, const ParamStore& ps, const Batch& batch, RngKey key, uint64_t step) const override;
    Tensor generate(const ParamStore& ps, const std::vector<std::vector<int>>& dosages, int particles,
                    double library, bool sample_counts, RngKey key, uint64_t step) const override;
    Tensor sample_counts(const ParamStore& ps, const Tensor& mean, RngKey key, uint64_t step) const override {
        return sample_gamma_poisson(mean, ps.value(phi_), key, step);
    }
    // (particles, B): sum_g log p(x | z) + log N(z_b; 0, I) - log q(z_b), same noise streams as loss() at `step`.
    Tensor log_weights(const ParamStore& ps, const Batch& batch, int particles, RngKey key,
                       uint64_t step) const override;
    int mask_logits() const override { return W_; }
    const SamsVaeConfig& config() const { return cfg_; }

    // Latent perturbation offsets d (M o E) of each dosage drawn from the guide as generate() draws them:
    // (particles, dosages, L). sams_vae and cpa_vae only.
    Tensor latent_offsets(const ParamStore& ps, const std::vector<std::vector<int>>& dosages, int particles,
                          RngKey key, uint64_t step) const;

  private:
    struct Globals;
    Globals sample_globals(Tape& tape, const ParamStore& ps, const std::vector<int>& rows, int64_t P, RngKey key,
                           uint64_t step, int pass) const;
    Var dosage_rows(Tape& tape, const ParamStore& ps, int param, const std::vector<int>& rows,
                    const ops::Dosage& D) const;
    struct Forward;
    Forward forward(Tape& tape, const ParamStore& ps, const Batch& batch, int64_t P, RngKey key,
                    uint64_t step) const;

    SamsVaeConfig cfg_;
    bool conditional_ = false, masks_ = false, corr_e_ = false, corr_z_ = false;
    int W_ = -1, phi_ = -1, onehot_ = -1, E_loc_ = -1, E_log_scale_ = -1, enc_dose_ = -1, dec_dose_ = -1;
    GaussianHead emb_enc_, basal_enc_;
    Trunk decoder_;
    Linear dec_out_;
};

}  // namespace gpo::models
