// Shared model blocks built from tape ops: linear layers declared in a ParamStore with PyTorch's default init,
// the residual MLP trunk of the reference (first layer plain, later layers x <- lrelu(Wx+b) + x) whose first layer
// may be split into input blocks (so a block shared by all particles is multiplied once), and the Gaussian head
// (mean; var = |exp(h)+1e-4| with nan_to_num; scale = sqrt(var)) of docs/model.md §3. Also the pieces the models of the
// family share: noise streams, row selections, the relaxed-Bernoulli masks and embeddings of present treatment rows,
// plated KL rows, dosages for generation and Gamma-Poisson count sampling.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/models/batch.h"
#include "engine/ops/sparse.h"
#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tape.h"

namespace gpo::models {

struct Linear {
    int w = -1, b = -1;  // ParamStore indices; b = -1 when there is no bias
    int64_t in = 0, out = 0, fan_in = 0;
};

// Declares weight (out, in) and bias (out). fan_in sets the init bound 1/sqrt(fan_in) (defaults to in).
Linear declare_linear(ParamStore& ps, const std::string& name, int64_t in, int64_t out, bool bias = true,
                      int64_t fan_in = 0);
// x (rows, in) -> (rows, out)
Var apply_linear(Tape& tape, const ParamStore& ps, const Linear& l, Var x);

// A residual MLP whose first layer takes several input blocks: pre = sum_i x_i W_i^T + b.
struct Trunk {
    std::vector<Linear> first_blocks;  // weights only (bias in first_bias)
    int first_bias = -1;
    std::vector<Linear> residual;      // layers 2..n, each x <- lrelu(W x + b) + x
    int64_t hidden = 0;
};
// n_layers >= 1 linear layers of width `hidden`; block_sizes are the input widths of the first layer's blocks.
Trunk declare_trunk(ParamStore& ps, const std::string& name, const std::vector<int64_t>& block_sizes, int n_layers,
                    int64_t hidden);
// x_i (rows_i, block_size_i) -> x W_i^T (rows_i, hidden), no bias.
Var trunk_block(Tape& tape, const ParamStore& ps, const Trunk& t, int block, Var x);
// pre (rows, hidden), the summed first-layer blocks -> hidden state after all layers.
Var trunk_finish(Tape& tape, const ParamStore& ps, const Trunk& t, Var pre);

struct GaussianHead {
    Trunk trunk;
    Linear mean, logvar;
};
struct Gaussian {
    Var mean, scale;
};
GaussianHead declare_gaussian_head(ParamStore& ps, const std::string& name, const std::vector<int64_t>& block_sizes,
                                   int n_layers, int64_t hidden, int64_t out);
Gaussian gaussian_head_finish(Tape& tape, const ParamStore& ps, const GaussianHead& g, Var pre);

// PyTorch default Linear init for every declared weight and bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from
// Philox stream `key`. Other parameters (mask logits, log concentration) are set by the model.
struct InitSpec {
    int index;
    double bound;
};
void init_uniform(ParamStore& ps, const std::vector<InitSpec>& specs, RngKey key);
void append_init(std::vector<InitSpec>& specs, const Linear& l);
void append_init(std::vector<InitSpec>& specs, const Trunk& t);
void append_init(std::vector<InitSpec>& specs, const GaussianHead& g);
// A trunk whose first layer also has a lookup-table half (a one-hot input stored as a (T, H) table): the first
// block, the bias and the table all get the bound of the whole layer's fan-in.
void append_init_with_lookup(std::vector<InitSpec>& specs, const Trunk& t, int lookup, int64_t fan_in);

// Broadcast a (rows, C) block over P particles: (rows, C) -> (P * rows, C).
Var repeat_particles(Tape& tape, Var x, int64_t P);

// ---------------------------------------------------------------- noise and row selections
// Noise purposes: each gets its own Philox stream, and each guide pass (0 = main, 1 = counterfactual,
// 2 = generation) its own copy; the counter space of one step is NOISE_STEP_STRIDE wide.
enum NoisePurpose : uint64_t { NOISE_MASK = 1, NOISE_EMB = 2, NOISE_QC = 3, NOISE_Z = 4 };
constexpr uint64_t NOISE_STEP_STRIDE = 1ULL << 40;  // larger than any one draw
// Uniform (normal = false) or standard normal noise of `shape` for (base key, purpose, pass) at `step`.
Tensor draw_noise(const Shape& shape, DType dt, Device dev, RngKey base, uint64_t purpose, int pass, uint64_t step,
                  bool normal);
// The rows `rows` (sorted, distinct) of the (P, T, C) noise draw_noise would give: (P, R, C), equal to drawing all T
// rows and selecting, at the cost of the rows only (on the CPU; a GPU draws all rows and selects, for now).
Tensor draw_noise_rows(int64_t P, int64_t T, int64_t C, const std::vector<int>& rows, DType dt, Device dev,
                       RngKey base, uint64_t purpose, int pass, uint64_t step, bool normal);
// Per-cell noise (P * B, C) of a batch, particle-major: for a shard (Batch::row_offset, B_total) the rows of the
// global batch's (P, B_total, C) noise that belong to its cells, so the shards of a batch draw what the whole batch
// would.
Tensor draw_cell_noise(const Batch& batch, int64_t P, int64_t C, DType dt, Device dev, RngKey base, uint64_t purpose,
                       int pass, uint64_t step, bool normal);
// Noise fed from outside instead of drawn, for tests that give the engine the exact noise an independent
// implementation used (the PyTorch oracle, tests/oracle/): while a ScopedNoiseSource lives, draw_noise asks it for
// (purpose, pass, shape, normal) and uses the tensor it returns (any dtype and device; its element count must match
// the shape), or draws as usual when it returns an undefined Tensor. One source at a time; not thread-safe.
using NoiseSource = std::function<Tensor(uint64_t purpose, int pass, const Shape& shape, bool normal)>;
class ScopedNoiseSource {
  public:
    explicit ScopedNoiseSource(NoiseSource source);
    ~ScopedNoiseSource();
    ScopedNoiseSource(const ScopedNoiseSource&) = delete;
    ScopedNoiseSource& operator=(const ScopedNoiseSource&) = delete;
};
// One-hot selection D (rows.size(), n) picking `rows` (values 1) on `dev`.
ops::Dosage row_selection(const std::vector<int>& rows, int64_t n, DType dt, Device dev);

// ---------------------------------------------------------------- global masks and embeddings (rows present only)
// Noise of the global (P, T, C) variables is that of all T rows restricted to `sel` (draw_noise_rows), so computing a
// subset of rows equals computing all of them exactly.
// q(M) rows: W_rows = What[rows] (R, C); M (P, R, C) straight-through relaxed-Bernoulli samples (docs/model.md D12).
struct MaskRows {
    Var W_rows, M;
};
MaskRows sample_mask_rows(Tape& tape, Var What, const ops::Dosage& sel, const std::vector<int>& rows, int64_t P,
                          double temperature, RngKey key, uint64_t step, int pass);
// q(E | M) of the rows: encoder input [m (P*R, C_m) ; e_t], the one-hot half a row lookup of `onehot` (T, H).
// Returns the Gaussian (P*R, C_out).
Gaussian embedding_encoder_rows(Tape& tape, const ParamStore& ps, const GaussianHead& enc, int onehot, Var m,
                                const ops::Dosage& sel, int64_t P);
// Reparameterised E = mean + scale eps (P*R, C), eps the rows `sel` of (P, T, C) standard normal noise.
Var sample_embedding_rows(Tape& tape, const Gaussian& qE, const std::vector<int>& rows, int64_t P, int64_t T,
                          RngKey key, uint64_t step, int pass);
// The correlated guide q(M) q(E | M) for `rows` of the (T, C) mask logits What (GPO-VAE: C = T; SAMS-VAE: C = L).
struct MaskedEmbeddings {
    Var W_rows;   // (R, C) mask logits of the rows
    Var M;        // (P, R, C) mask samples
    Gaussian qE;  // (P*R, C)
    Var E;        // (P*R, C) embedding samples
    Var ME;       // (P, R, C) M o E
};
MaskedEmbeddings sample_masked_embeddings(Tape& tape, const ParamStore& ps, Var What, const GaussianHead& enc,
                                          int onehot, const std::vector<int>& rows, int64_t P, double temperature,
                                          RngKey key, uint64_t step, int pass);
// log Bern(M; prior) - log q(M; W_rows), element-wise (P, R, C).
Var mask_log_ratio(Tape& tape, Var M, Var W_rows, double mask_prior);
// log N(E; 0, prior_scale^2) - log q(E), element-wise (P*R, C).
Var embedding_log_ratio(Tape& tape, Var E, const Gaussian& qE, double prior_scale);
// Plated per-cell weights of per-row terms: diff (P, R, C) -> (P, B, 1), out[p, n] = sum_t D_plate[n, t] sum_c
// diff[p, t, c] (D_plate holds 1/N_t; rows of treatments absent from the batch are never computed).
Var plate_rows(Tape& tape, Var diff, const ops::Dosage& D_plate);

// ---------------------------------------------------------------- generation helpers
// The treatments used by `dosages` (sorted, checked against [0, T)) in *rows and each dosage as a row of D over them.
ops::Dosage dosages_over_rows(const std::vector<std::vector<int>>& dosages, int64_t T, std::vector<int>* rows,
                              DType dt, Device dev, const char* who);
// Counts x ~ GammaPoisson(c, r) per element of the NB means `mean` (..., G): the law of x ~ Poisson(lambda),
// lambda ~ Gamma(c, rate r), c = exp(log_theta[g]), r = max(c / (mu + 1e-4), 1e-6) (docs/model.md §2), drawn in one
// step by rng_nb_counts (inversion of the negative binomial where the mean is small).
Tensor sample_gamma_poisson(const Tensor& mean, const Tensor& log_theta, RngKey key, uint64_t step);

}  // namespace gpo::models
