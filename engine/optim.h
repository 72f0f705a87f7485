// Optimizer over a ParamStore's flat buffers: Adam with coupled L2 weight decay (torch.optim.Adam semantics:
// g += wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)),
// global-norm gradient clipping (torch clip_grad_norm_: scale by max_norm / (norm + 1e-6) when norm > max_norm).
// CPU and CUDA kernels; the state lives on the parameters' device.
#pragma once
#include <functional>

#include "engine/params.h"

namespace gpo {

struct AdamConfig {
    double lr = 3e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-6;
};

class Adam {
  public:
    Adam(const AdamConfig& cfg, const ParamStore& params);  // state zeros, same device/dtype/size as params
    void step(ParamStore& params) { step(params, cfg_.lr); }  // one update from params.grads()
    // The same at learning rate `lr` (a schedule's value at this step); every element's rate is `lr` times the
    // scale of its parameter group (set_lr_scale; 1 by default). Bias corrections count the steps taken.
    void step(ParamStore& params, double lr);
    // Elements [offset, offset + n) of the flat buffers (one parameter entry, e.g. the mask logits) learn at
    // lr * scale (per-parameter-group learning rates, train.mask_lr_scale).
    void set_lr_scale(int64_t offset, int64_t n, double scale);
    // Several ranks (docs/scaling.md): step updates only elements [begin, end) of the flat buffers, this rank's
    // part, and the moments are kept for that part only: exp_avg() and exp_avg_sq() then hold end - begin
    // elements, element i being element begin + i of the buffers (state_begin() = begin). Called at most once,
    // after any checkpoint_load (which needs the whole state). The whole buffer by default.
    void set_part(int64_t begin, int64_t end);
    int64_t state_begin() const { return state_begin_; }
    int64_t steps() const { return step_; }
    Tensor& exp_avg() { return m_; }
    Tensor& exp_avg_sq() { return v_; }
    const Tensor& exp_avg() const { return m_; }
    const Tensor& exp_avg_sq() const { return v_; }
    void set_steps(int64_t s) { step_ = s; }
    const AdamConfig& config() const { return cfg_; }
    void to(Device device);

  private:
    struct Group {
        int64_t offset, n;
        double scale;
    };
    AdamConfig cfg_;
    std::vector<Group> groups_;  // ranges with a scale != 1, sorted, disjoint
    int64_t numel_ = 0;        // the flat buffers' size
    int64_t state_begin_ = 0;  // m_ and v_ hold elements [state_begin_, state_begin_ + m_.numel()) of them
    Tensor m_, v_;
    int64_t step_ = 0;
};

// sqrt(sum x^2) over every element of a floating tensor (double accumulation on the CPU; a CUB reduction on
// CUDA). Not a tape op.
double global_l2_norm(const Tensor& x);

// Clips the global L2 norm of params.grads() to max_norm; returns the norm before clipping.
double clip_grad_norm(ParamStore& params, double max_norm);
// The same for elements [begin, end) of the gradient (a rank's part of the summed gradient): their sum of squares
// goes through `sum_over_ranks` (the sum over every rank's part) to the global norm, and only they are scaled.
double clip_grad_norm_part(ParamStore& params, double max_norm, int64_t begin, int64_t end,
                           const std::function<double(double)>& sum_over_ranks);

}  // namespace gpo
