// What a model step consumes: one minibatch of cells (already on the model's device and dtype) plus the
// split-level plate counts. Built by the data loader from the preprocessed dataset; tests build it by hand.
#pragma once
#include <vector>

#include "engine/ops/sparse.h"
#include "engine/tensor.h"

namespace gpo::models {

struct Batch {
    int64_t B = 0;             // cells
    Tensor counts;             // (B, G) raw counts
    Tensor library;            // (B) sum of counts
    Tensor norm_x;             // (B, G) log-standardised counts (train-split statistics)
    Tensor qc;                 // (B) 1 = fails QC
    Tensor cf_norm_x;          // (B, G) log-standardised counterfactual profile (of zero counts when the cell has none)
    std::vector<int> has_cf;   // (B) 1 when the cell has a counterfactual
    Tensor delta;              // (B, T) |log-expression change| vs the matched control (GRN target before -tau)
    // Perturbations present in the batch, sorted (treatment indices), and the dosage of each cell over them:
    // D_sub (B, R) one- or multi-hot, values 1. D_plate (B, R) has value 1/N_t (the plate weight) instead.
    std::vector<int> present;
    ops::Dosage D_sub, D_plate;
    std::vector<int> qc_host;  // (B) qc on the host, for choosing which cells each decoder branch needs
    double n_fail_split = 0;   // QC-fail cells in the split (plate count of qcE); 0 disables the qcE KL

    // Data-parallel shards (engine/dist/, docs/scaling.md): this batch may be rows [row_offset, row_offset + B) of a
    // global batch of B_total cells split across ranks. A model's loss on a shard is the shard's share of the global
    // batch's loss (normalised by the global counts, noise of the global rows), so the shards' losses and gradients
    // sum to those of the whole batch. Defaults: the batch is the whole batch.
    int64_t B_total = 0;       // cells in the global batch (0 = B)
    int64_t row_offset = 0;    // first global row of this shard
    double n_fail_total = -1;  // QC-fail cells in the global batch (< 0 = those of this batch)
    int64_t n_cf_total = -1;   // cells with a counterfactual in the global batch (< 0 = those of this batch)
    bool global_terms = true;  // this shard carries the batch-independent terms (one shard per global batch)

    // Objective weights of this step (train.kl_warmup_epochs, train.penalty_warmup_epochs; 1 = the objective as
    // published, always so for validation and evaluation): kl_weight multiplies the KL-type terms of z, the masks,
    // the embeddings and qcE; penalty_weight the GRN-aligned, sparsity and GRN-prior terms.
    double kl_weight = 1.0, penalty_weight = 1.0;

    int64_t total_B() const { return B_total > 0 ? B_total : B; }
    bool is_shard() const { return B_total > 0 && B_total != B; }
};

}  // namespace gpo::models
