// ParamStore: every learnable tensor lives in one flat parameter buffer, its gradient in one flat gradient
// buffer, both carved into named views (llm.c style), so zero-grad, clipping, Adam and checkpoints are flat loops.
#pragma once
#include <string>
#include <vector>

#include "engine/tape.h"

namespace gpo {

class ParamStore {
  public:
    struct Entry {
        std::string name;
        Shape shape;
        int64_t offset = 0;  // elements into the flat buffers
    };

    // Declare before finalize(). Returns the index of the entry.
    int declare(const std::string& name, const Shape& shape);
    // Allocates the flat buffers (zeros) on `device` with `dtype`.
    void finalize(Device device, DType dtype = DType::F32);
    bool finalized() const { return values_.defined(); }

    Tensor value(int i) const;       // views into the flat buffers
    Tensor grad(int i) const;
    Tensor value(const std::string& name) const;
    int index(const std::string& name) const;  // throws naming the key when absent
    // Leaf on a tape whose gradient accumulates into grad(i).
    Var on_tape(Tape& tape, int i) const { return tape.param(value(i), grad(i)); }

    const std::vector<Entry>& entries() const { return entries_; }
    Tensor& values() { return values_; }
    Tensor& grads() { return grads_; }
    const Tensor& values() const { return values_; }
    const Tensor& grads() const { return grads_; }
    int64_t numel() const { return total_; }
    void zero_grad() { grads_.zero_(); }
    void to(Device device);  // moves both buffers (views are re-derived on demand)

  private:
    std::vector<Entry> entries_;
    int64_t total_ = 0;
    Tensor values_, grads_;
};

}  // namespace gpo
