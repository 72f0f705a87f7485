// Synthetic Perturb-seq with a known gene regulatory network (`gpo-engine simulate`): cells drawn from a sparse true
// GRN and the SAMS/GPO-VAE generative process (docs/model.md §1-§2), written as an .h5ad that preprocess_dataset reads,
// with the truth (GRN edge list, per-perturbation effects) stored in the file. Design (docs/simulate.md):
//
// Genes G0001... (G names, zero-padded so name order = index order). The first P = perturbed_genes are the
// perturbation targets, the next E = extended_genes are the "extended" responders (var boolean column `extended`),
// T = P + E: the treatment axis of the model, gene t = treatment t (preprocess sorts names, so the orders agree).
// True GRN A (T x T, no self-loops): edge i -> j with probability grn.edge_density, weight w_ij (a signed
// log-fold-change sensitivity: |w| ~ U(effect_min, effect_max), negative with probability negative_fraction); every
// extended gene gets at least one in-edge from a perturbed gene. Perturbing p knocks p down by the factor
// (1 - knockdown), x_0 = log(1 - knockdown) e_p, and the change propagates linearly along A for K = grn.hops hops:
// effect on treatment genes = sum_{k=0..K} x_0 A^k (plain powers, not the model's A^k / T^(k-1) accumulation).
// Non-treatment genes respond one more step through sparse downstream weights B (T x (G - T), density
// grn.downstream_density, same weight law): effect = (treatment effect) B. Every entry is clipped to
// [-max_abs_lfc, max_abs_lfc]. These P x G effects are the true log-fold changes of the gene log-rates (before the
// softmax renormalisation); a combination "A+B" adds the two rows.
// Cell n: basal latent z ~ N(0, I_L), log-rate_g = base_g + (z W)_g + effect_g + qc_shift_g, with base_g ~
// N(treatment_gene_boost [if g < T], gene_log_mean_sd^2) and W (L x G) ~ N(0, basal_scale^2 / L) fixed;
// rho = softmax(log-rate); library l ~ LogNormal(log library_median, library_log_sd^2); counts x_g ~
// GammaPoisson(mean l rho_g, concentration c_g), c_g ~ LogNormal(log concentration_median, concentration_log_sd^2).
// QC-fail cells (probability qc.fail_fraction) have l multiplied by qc.library_factor and log-rate + qc.log_shift on
// a fixed random gene subset (fraction qc.gene_fraction): the "QC artifact" of CRADLE/GPO-VAE.
// Labels: a control_fraction of cells "non-targeting", a combination_fraction "A+B" (over `combinations` fixed
// pairs), the rest single perturbations in turn (every perturbed gene gets cells), in a seeded random order.
// Randomness: every quantity is a pure function of (seed, a stream per purpose, an index) through the engine's
// Philox (kernels/philox.h), so the output does not depend on the number of threads.
// unmeasured_perturbed_genes = U: the first U perturbed genes are drawn but their columns are not written (X, var
// and true_effects have G - U columns; the labels still name them), the shape of a genome-wide screen.
// Memory: X is generated and written in row blocks (h5ad CsrBlockSource), never held whole.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpo::data {

// The simulate config (its own schema, separate from the run config): every key with its default, in one place.
nlohmann::json simulate_config_defaults();
// Reads `path` ("" = defaults only), merges onto the defaults (an unknown key is an error naming its path), applies
// overrides ("grn.hops=3"), validates.
nlohmann::json simulate_config_load(const std::string& path, const std::vector<std::string>& overrides = {});
// Checks types, ranges and that the counts fit together; throws gpo::Error naming the key.
void simulate_config_validate(const nlohmann::json& cfg);

// The ground truth implied by a config (no cell is drawn).
struct SimTruth {
    int64_t G = 0, P = 0, T = 0, L = 0;
    std::vector<std::string> genes;           // G names
    std::vector<int32_t> edge_src, edge_dst;  // the true GRN: treatment indices (< T), sorted by (src, dst)
    std::vector<double> edge_weight;
    std::vector<double> base_log_rate;        // (G)
    std::vector<double> concentration;        // (G)
    std::vector<uint8_t> qc_gene;             // (G) genes shifted in QC-fail cells
    std::vector<double> basal_map;            // (L x G) row-major
    std::vector<float> effects;               // (P x G) row-major: log-fold change of every gene's rate, per target
};
SimTruth simulate_truth(const nlohmann::json& cfg);

struct SimulateOptions {
    int threads = 0;            // 0 = all hardware threads
    int64_t block_rows = 1024;  // cells generated and written per block
    bool progress = false;      // report progress on stderr (io::Progress)
};

struct SimulateStats {
    int64_t cells = 0, genes = 0, T = 0, edges = 0, nnz = 0, qc_fail = 0, combination_cells = 0;
    double seconds = 0;
};

// Draws the cells and writes the .h5ad atomically (out_path + ".tmp", then rename). Throws gpo::Error.
SimulateStats simulate(const nlohmann::json& cfg, const std::string& out_path, const SimulateOptions& opt = {});

// Draw `index` of the counts: NB(mean, concentration), i.e. GammaPoisson. For mean < 30 by exact inversion of the
// NB CDF from one Philox uniform (32-bit word index % 4 of counter block index / 4); otherwise Gamma(c, c / mean)
// then Poisson with the engine's philox::gamma_draw / poisson_draw (the draws of rng_gamma / rng_poisson).
double nb_draw(double mean, double concentration, uint64_t seed, uint64_t index);

}  // namespace gpo::data
