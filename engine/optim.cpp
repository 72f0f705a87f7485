// Adam over a ParamStore's flat buffers, global L2 norm and global-norm gradient clipping (see optim.h);
// kernels: kernels/cpu/optim.h, kernels/cuda/optim.cu.
#include "engine/optim.h"

#include <algorithm>
#include <cmath>

#include "engine/ops/dispatch.h"
#include "kernels/cpu/optim.h"
#include "kernels/cuda/optim.h"

namespace gpo {

Adam::Adam(const AdamConfig& cfg, const ParamStore& params) : cfg_(cfg) {
    GPO_CHECK(params.finalized(), "Adam: the parameter store is not finalized");
    GPO_CHECK(cfg.lr >= 0 && cfg.eps >= 0 && cfg.weight_decay >= 0 && cfg.beta1 >= 0 && cfg.beta1 < 1 &&
                  cfg.beta2 >= 0 && cfg.beta2 < 1,
              "Adam: invalid config lr " << cfg.lr << ", betas (" << cfg.beta1 << ", " << cfg.beta2 << "), eps "
                                         << cfg.eps << ", weight_decay " << cfg.weight_decay);
    const Tensor& p = params.values();
    numel_ = p.numel();
    m_ = Tensor::zeros(p.shape, p.dtype, p.device);
    v_ = Tensor::zeros(p.shape, p.dtype, p.device);
}

void Adam::set_lr_scale(int64_t offset, int64_t n, double scale) {
    GPO_CHECK(offset >= 0 && n > 0 && offset + n <= numel_ && scale >= 0 && std::isfinite(scale),
              "Adam::set_lr_scale: range [" << offset << ", " << offset + n << ") of " << numel_
                                            << " elements, scale " << scale);
    for (const Group& g : groups_)
        GPO_CHECK(offset + n <= g.offset || g.offset + g.n <= offset, "Adam::set_lr_scale: ranges overlap");
    groups_.push_back({offset, n, scale});
    std::sort(groups_.begin(), groups_.end(), [](const Group& a, const Group& b) { return a.offset < b.offset; });
}

void Adam::set_part(int64_t begin, int64_t end) {
    GPO_CHECK(0 <= begin && begin <= end && end <= numel_,
              "Adam::set_part: [" << begin << ", " << end << ") of " << numel_ << " elements");
    GPO_CHECK(state_begin_ == 0 && m_.numel() == numel_, "Adam::set_part: the state is already a part");
    if (begin == 0 && end == numel_) return;
    m_ = m_.view(begin, {end - begin}).clone();  // the rest of the state is freed
    v_ = v_.view(begin, {end - begin}).clone();
    state_begin_ = begin;
}

void Adam::step(ParamStore& params, double lr) {
    Tensor& p = params.values();
    const Tensor& g = params.grads();
    GPO_CHECK(p.numel() == numel_ && p.dtype == m_.dtype && p.device == m_.device && g.shape == p.shape,
              "Adam::step: parameters " << p.describe() << " / gradients " << g.describe() << " but state "
                                        << m_.describe());
    GPO_CHECK(lr >= 0 && std::isfinite(lr), "Adam::step: learning rate " << lr);
    ++step_;
    const double bc1 = 1.0 - std::pow(cfg_.beta1, (double)step_);
    const double bc2 = 1.0 - std::pow(cfg_.beta2, (double)step_);
    const double bc2_sqrt = std::sqrt(bc2);
    // The flat buffer as consecutive ranges: the groups at their scale, the gaps between them at 1.
    std::vector<Group> ranges;
    int64_t at = 0;
    for (const Group& gr : groups_) {
        if (gr.offset > at) ranges.push_back({at, gr.offset - at, 1.0});
        ranges.push_back(gr);
        at = gr.offset + gr.n;
    }
    if (at < p.numel()) ranges.push_back({at, p.numel() - at, 1.0});
    const int64_t state_end = state_begin_ + m_.numel();
    for (const Group& r : ranges) {
        const double step_size = lr * r.scale / bc1;
        const int64_t o = std::max(r.offset, state_begin_), n = std::min(r.offset + r.n, state_end) - o;
        if (n <= 0) continue;
        const int64_t so = o - state_begin_;  // the same element in the state
        if (p.is_cuda()) {
            GPO_CUDA(cuda::adam_step(p.f32() + o, m_.f32() + so, v_.f32() + so, g.f32() + o, n, (float)step_size,
                                     (float)cfg_.beta1, (float)cfg_.beta2, (float)cfg_.eps, (float)cfg_.weight_decay,
                                     (float)bc2_sqrt));
            continue;
        }
        ops::dispatch_cpu(p, "adam_step", [&](auto tag) {
            using T = decltype(tag);
            cpu::adam_step<T>(p.ptr<T>() + o, m_.ptr<T>() + so, v_.ptr<T>() + so, g.ptr<T>() + o, n, (T)step_size,
                              (T)cfg_.beta1, (T)cfg_.beta2, (T)cfg_.eps, (T)cfg_.weight_decay, (T)bc2_sqrt);
        });
    }
}

void Adam::to(Device device) {
    GPO_CHECK(!(device == Device::CUDA && m_.dtype != DType::F32), "Adam: CUDA state must be f32");
    m_ = m_.to(device);
    v_ = v_.to(device);
}

namespace {

// sum x^2 over elements [begin, end) of a floating tensor (see global_l2_norm).
double sum_squares_range(const Tensor& x, int64_t begin, int64_t end) {
    const int64_t n = end - begin;
    if (x.is_cuda()) {
        GPO_CHECK(x.dtype == DType::F32, "global_l2_norm: CUDA tensors must be f32, got " << x.describe());
        double s = 0;
        GPO_CUDA(s = cuda::sum_squares(x.f32() + begin, n));
        return s;
    }
    double s = 0;
    ops::dispatch_cpu(x, "global_l2_norm", [&](auto tag) {
        using T = decltype(tag);
        s = cpu::sum_squares<T>(x.ptr<T>() + begin, n);
    });
    return s;
}

// Scales elements [begin, end) of g to the clipping coefficient of `total` (torch.nn.utils.clip_grad_norm_:
// coef = max_norm / (total + 1e-6), clamped to at most 1; applied only when it is below 1, since multiplying by 1
// changes nothing. A NaN norm makes every gradient NaN, as in torch.)
void clip_range(Tensor& g, double max_norm, double total, int64_t begin, int64_t end) {
    const double coef = max_norm / (total + 1e-6);
    if (coef >= 1.0) return;
    const int64_t n = end - begin;
    if (g.is_cuda()) {
        GPO_CUDA(cuda::scale(g.f32() + begin, (float)coef, n));
        return;
    }
    ops::dispatch_cpu(g, "clip_grad_norm", [&](auto tag) {
        using T = decltype(tag);
        cpu::scale<T>(g.ptr<T>() + begin, (T)coef, n);
    });
}

}  // namespace

double global_l2_norm(const Tensor& x) { return std::sqrt(sum_squares_range(x, 0, x.numel())); }

double clip_grad_norm(ParamStore& params, double max_norm) {
    Tensor& g = params.grads();
    const double total = global_l2_norm(g);
    clip_range(g, max_norm, total, 0, g.numel());
    return total;
}

double clip_grad_norm_part(ParamStore& params, double max_norm, int64_t begin, int64_t end,
                           const std::function<double(double)>& sum_over_ranks) {
    Tensor& g = params.grads();
    GPO_CHECK(0 <= begin && begin <= end && end <= g.numel(),
              "clip_grad_norm_part: [" << begin << ", " << end << ") of " << g.numel() << " elements");
    const double total = std::sqrt(sum_over_ranks(sum_squares_range(g, begin, end)));
    clip_range(g, max_norm, total, begin, end);
    return total;
}

}  // namespace gpo
