// The autograd tape: every op records its output, its inputs and a backward closure; backward() walks the
// records in reverse and the closures *accumulate* (+=) into input gradients, so fan-out needs no special case.
// Parameters are leaves whose gradient is a view into the ParamStore's flat gradient buffer.
// NoGradGuard turns recording off (evaluation): ops then compute values only.
#pragma once
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gpo {

class Tape;

// A handle to a value on a tape (an index); cheap to copy.
struct Var {
    int id = -1;
    bool valid() const { return id >= 0; }
};

using BackwardFn = std::function<void(Tape& tape, const Tensor& grad_out)>;

class Tape {
  public:
    // Leaves.
    Var constant(const Tensor& value);                          // never gets a gradient
    Var input(const Tensor& value, bool requires_grad = true);  // gradient allocated on first use
    Var param(const Tensor& value, const Tensor& grad_buffer);  // gradient accumulates into grad_buffer

    // Records an op's output. The closure is kept only when recording is on and an input needs a gradient.
    Var record(const char* op, const Tensor& out, const std::vector<Var>& inputs, BackwardFn backward);

    // The reference stays valid until clear(), however many entries are recorded after it.
    const Tensor& value(Var v) const;
    bool requires_grad(Var v) const;
    const std::string& op_name(Var v) const;
    Tensor grad(Var v) const;  // undefined Tensor when no gradient reached v
    // For backward closures: the gradient tensor of v to accumulate into (allocated as zeros on first use),
    // or nullptr when v needs no gradient.
    Tensor* grad_target(Var v);
    // The same for closures that can overwrite the whole gradient: when it does not exist yet it is allocated
    // uninitialised and *fresh is set, and the closure must then write (=) every element instead of adding (+=).
    // Saves the zero-fill and one read of the gradient (GEMM with beta 0, a copy instead of an accumulate).
    Tensor* grad_target(Var v, bool* fresh);

    void backward(Var out);                      // out must have one element; seeds d out = 1
    void backward(Var out, const Tensor& seed);  // seeds d out = seed (same shape/dtype/device as out)

    bool grad_enabled() const { return grad_enabled_; }
    void set_grad_enabled(bool on) { grad_enabled_ = on; }
    size_t size() const { return entries_.size(); }
    void clear();  // drops every record (parameters' gradient buffers keep what was accumulated)

  private:
    struct Entry {
        Tensor value;
        Tensor grad;
        bool requires_grad = false;
        std::string op;
        BackwardFn backward;
    };
    const Entry& entry(Var v) const;
    // A deque, not a vector: appending never moves existing entries, so the references value() and grad_target()
    // hand out stay valid while later ops record (ops hold `const Tensor& x = tape.value(a)` across record()).
    // Only clear() invalidates them.
    std::deque<Entry> entries_;
    bool grad_enabled_ = true;
};

// Scope in which the tape records no gradients (evaluation).
class NoGradGuard {
  public:
    explicit NoGradGuard(Tape& t) : tape_(t), prev_(t.grad_enabled()) { tape_.set_grad_enabled(false); }
    ~NoGradGuard() { tape_.set_grad_enabled(prev_); }

  private:
    Tape& tape_;
    bool prev_;
};

}  // namespace gpo
