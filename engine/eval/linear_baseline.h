// The linear baseline of Ahlmann-Eltze, Huber & Anders, "Deep-learning-based gene perturbation effect prediction
// does not yet outperform simple linear baselines" (Nature Methods 2025), as their
// benchmark/src/run_linear_pretrained_model.R computes it with gene and perturbation embeddings from the training
// data (const-ae/linear_perturbation_prediction-Paper at 092743c):
//
//   X      (genes x C) pseudobulk expression of the C training conditions, the control included;
//   b      the control's profile; Y = X - b (the change), restricted to the conditions with an embedding;
//   G      (genes x K) the gene embedding: the first K principal-component scores of X's rows (genes as
//          observations, each condition's column centred, as prcomp(X, center = TRUE)$x);
//   P_c    the perturbation embedding of condition c: the row of G of its target gene (a single perturbation of a
//          measured gene), zeros for the control, none otherwise (such a condition is left out of the fit);
//   m      the row means of Y over the fitted conditions; W = (G'G + l I)^-1 G' (Y - m) P' (P P' + l I)^-1;
//   pred_c = G W P_c' + m + b.
// K = 10 and l = 0.1 as the paper's defaults. A query without an embedding (a combination, a target gene that is
// not measured) gets the zero embedding, pred = m + b, the model's prediction for the control-like input; the
// result says which queries had one. Used by engine/eval/evaluate.cpp in both of its expression spaces.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gpo::eval {

struct LinearBaselineInput {
    std::map<std::string, std::vector<double>> train;  // training condition label -> profile (G), control included
    std::string control_label;
    std::map<std::string, int64_t> target_gene;        // label -> measured target gene index (absent / -1: none)
    int components = 10;                               // K
    double ridge = 0.1;                                // l
};

struct LinearBaseline {
    std::map<std::string, std::vector<double>> predicted;  // query label -> profile (G)
    std::vector<std::string> embedded;                     // queries that had a perturbation embedding
    int64_t fitted_conditions = 0;                         // training conditions in the fit (control included)
};

// Fits on in.train and predicts every label of `queries`. Throws gpo::Error when the control is missing. Without a
// single perturbation of a measured gene in training there is nothing to fit (the paper's code stops): every query
// is predicted as the control (no change), `embedded` is empty and fitted_conditions is 1.
LinearBaseline linear_baseline(const LinearBaselineInput& in, const std::vector<std::string>& queries);

}  // namespace gpo::eval
