// Autograd tape (see tape.h).
#include "engine/tape.h"

#include "engine/check.h"

namespace gpo {

const Tape::Entry& Tape::entry(Var v) const {
    GPO_CHECK(v.id >= 0 && v.id < (int)entries_.size(), "tape: invalid variable id " << v.id);
    return entries_[v.id];
}

Var Tape::constant(const Tensor& value) {
    GPO_CHECK(value.defined(), "tape: constant from an undefined tensor");
    Entry e;
    e.value = value;
    e.op = "constant";
    entries_.push_back(std::move(e));
    return Var{(int)entries_.size() - 1};
}

Var Tape::input(const Tensor& value, bool requires_grad) {
    Var v = constant(value);
    entries_[v.id].requires_grad = requires_grad && grad_enabled_;
    entries_[v.id].op = "input";
    return v;
}

Var Tape::param(const Tensor& value, const Tensor& grad_buffer) {
    GPO_CHECK(grad_buffer.shape == value.shape && grad_buffer.dtype == value.dtype &&
                  grad_buffer.device == value.device,
              "tape: parameter " << value.describe() << " with gradient buffer " << grad_buffer.describe());
    Var v = constant(value);
    Entry& e = entries_[v.id];
    e.requires_grad = grad_enabled_;
    e.grad = grad_buffer;
    e.op = "param";
    return v;
}

Var Tape::record(const char* op, const Tensor& out, const std::vector<Var>& inputs, BackwardFn backward) {
    bool needs = false;
    if (grad_enabled_)
        for (Var in : inputs) needs = needs || entry(in).requires_grad;
    Entry e;
    e.value = out;
    e.op = op;
    e.requires_grad = needs;
    if (needs) e.backward = std::move(backward);
    entries_.push_back(std::move(e));
    return Var{(int)entries_.size() - 1};
}

const Tensor& Tape::value(Var v) const { return entry(v).value; }
bool Tape::requires_grad(Var v) const { return entry(v).requires_grad; }
const std::string& Tape::op_name(Var v) const { return entry(v).op; }
Tensor Tape::grad(Var v) const { return entry(v).grad; }

Tensor* Tape::grad_target(Var v) {
    bool fresh = false;
    Tensor* g = grad_target(v, &fresh);
    if (fresh) g->zero_();  // closures that add need zeros to add to
    return g;
}

Tensor* Tape::grad_target(Var v, bool* fresh) {
    entry(v);
    Entry& e = entries_[v.id];
    *fresh = false;
    if (!e.requires_grad) return nullptr;
    if (!e.grad.defined()) {
        e.grad = Tensor::empty(e.value.shape, e.value.dtype, e.value.device);
        *fresh = true;
    }
    return &e.grad;
}

void Tape::backward(Var out) {
    const Tensor& v = value(out);
    GPO_CHECK(v.numel() == 1, "tape: backward() without a seed needs a scalar, got " << v.describe()
                                                                                   << " from op " << op_name(out));
    Tensor seed = Tensor::full(v.shape, 1.0, v.dtype).to(v.device);
    backward(out, seed);
}

void Tape::backward(Var out, const Tensor& seed) {
    const Tensor& v = value(out);
    GPO_CHECK(seed.shape == v.shape && seed.dtype == v.dtype && seed.device == v.device,
              "tape: backward seed " << seed.describe() << " does not match output " << v.describe());
    if (!requires_grad(out)) return;  // nothing on the tape needs a gradient
    Entry& root = entries_[out.id];
    if (!root.grad.defined()) {
        root.grad = seed.clone();
    } else {  // a second backward from the same output: add the seed (small host round trip, rare)
        std::vector<double> a = root.grad.to_vector(), b = seed.to_vector();
        for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
        root.grad.copy_from(Tensor::from_vector(root.grad.shape, a, root.grad.dtype).to(root.grad.device));
    }
    for (int i = out.id; i >= 0; --i) {
        Entry& e = entries_[i];
        if (!e.backward || !e.grad.defined()) continue;
        Tensor grad_out = e.grad;  // a handle copy: closures only touch other entries
        e.backward(*this, grad_out);
    }
}

void Tape::clear() { entries_.clear(); }

}  // namespace gpo
