// Shared model blocks built from tape ops: linear layers declared in a ParamStore with PyTorch's default init,
// the residual MLP trunk of the reference (first layer plain, later layers x <- lrelu(Wx+b) + x) whose first layer
// may be split into input blocks (so a block shared by all particles is multiplied once), and the Gaussian head
// (mean; var = |exp(h)+1e-4| with nan_to_num; scale = sqrt(var)) of reference §3.
#pragma once
#include <string>
#include <vector>

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

// Broadcast a (rows, C) block over P particles: (rows, C) -> (P * rows, C).
Var repeat_particles(Tape& tape, Var x, int64_t P);

}  // namespace gpo::models
