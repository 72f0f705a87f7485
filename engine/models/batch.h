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
};

}  // namespace gpo::models
