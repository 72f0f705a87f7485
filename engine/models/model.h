// The interface every model type implements (gpo_vae; sams_vae, cpa_vae, conditional_vae), used by the trainer and
// the evaluator.
#pragma once
#include <string>
#include <vector>

#include "engine/models/batch.h"
#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tape.h"

namespace gpo::models {

// One training/validation objective evaluation. `total` is minimised; the doubles are logged (each term's share
// of the loss; zero when the model has no such term).
struct LossTerms {
    Var total;
    double loss = 0, recon = 0, kl_z = 0, kl_mask = 0, kl_emb = 0, kl_qc = 0, cf = 0, grn = 0, sparsity = 0;
    double grn_prior = 0;  // gpo_vae with model.grn_prior: the pull of the prior's edges
};

class Model {
  public:
    virtual ~Model() = default;
    virtual std::string type() const = 0;
    // After ParamStore::finalize: initial values (PyTorch default init for linear layers; model-specific others).
    virtual void init_params(ParamStore& ps, uint64_t seed) const = 0;
    // The training objective on the tape; noise from `key` at counter position `step`.
    virtual LossTerms loss(Tape& tape, const ParamStore& ps, const Batch& batch, RngKey key, uint64_t step) const = 0;
    // Generation (evaluation, prediction): for each dosage (treatment indices; empty = control) and each of
    // `particles` particles, draw the global latent variables from the guide and z_b ~ N(0, I), decode the
    // healthy (QC-pass) branch with library size `library`, and return (particles, dosages, G): the NB means, or
    // counts sampled from the Gamma-Poisson when `sample_counts`.
    virtual Tensor generate(const ParamStore& ps, const std::vector<std::vector<int>>& dosages, int particles,
                            double library, bool sample_counts, RngKey key, uint64_t step) const = 0;
    // Counts drawn from the model's likelihood (the Gamma-Poisson, i.e. negative binomial, with the learned
    // per-gene dispersion) given NB means of any shape whose last dimension is G, e.g. generate()'s means rescaled
    // to each cell's own library size.
    virtual Tensor sample_counts(const ParamStore& ps, const Tensor& mean, RngKey key, uint64_t step) const = 0;
    // Evaluation (docs/model.md §7 "Test IWELBO"): per-cell importance log-weights (particles, B),
    //   log w_pn = sum_g log p(x_ng | z_pn) + log N(z_pn; 0, I) - log q(z_pn | x_n, ...),
    // with the QC-appropriate branch (1 - q) log p_good + q log p_bad for gpo_vae and no global KL terms. The global
    // variables (masks, embeddings, qcE) are drawn once per call, shared by all cells; each treatment row's noise is
    // fixed by (key, step, row) whichever rows a call uses, so calls with the same (key, step) draw the same globals
    // and an evaluator that passes one step for every batch shares them across the split as the reference does. The noise streams are those of loss() at `step`.
    // IWELBO_n = logsumexp_p log w_pn - log(particles).
    virtual Tensor log_weights(const ParamStore& ps, const Batch& batch, int particles, RngKey key,
                               uint64_t step) const = 0;
    // Mean over `particles` guide draws of M o E (T x T for gpo_vae: row t = the latent effect of perturbing t on
    // each gene coordinate); an undefined Tensor for models without gene-indexed embeddings.
    virtual Tensor mean_embedding_effect(const ParamStore& ps, int particles, RngKey key) const {
        (void)ps, (void)particles, (void)key;
        return Tensor();
    }
    // ParamStore index of the T x T (or T x L) mask logits, -1 when the model has none.
    virtual int mask_logits() const { return -1; }
};

}  // namespace gpo::models
