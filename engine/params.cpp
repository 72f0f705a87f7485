// ParamStore (see params.h): declaration of named parameters, one flat value buffer and one flat gradient buffer,
// views carved out on demand, moves between devices.
#include "engine/params.h"

#include "engine/check.h"

namespace gpo {

int ParamStore::declare(const std::string& name, const Shape& shape) {
    GPO_CHECK(!finalized(), "ParamStore: declare('" << name << "') after finalize()");
    GPO_CHECK(!name.empty(), "ParamStore: empty parameter name");
    for (const Entry& e : entries_)
        GPO_CHECK(e.name != name, "ParamStore: parameter '" << name << "' declared twice");
    Entry e;
    e.name = name;
    e.shape = shape;
    e.offset = total_;
    total_ += shape_numel(shape);
    entries_.push_back(e);
    return (int)entries_.size() - 1;
}

void ParamStore::finalize(Device device, DType dtype) {
    GPO_CHECK(!finalized(), "ParamStore: finalize() called twice");
    GPO_CHECK(dtype == DType::F32 || dtype == DType::F64,
              "ParamStore: parameters must be f32 or f64, got " << dtype_name(dtype));
    GPO_CHECK(!(device == Device::CUDA && dtype != DType::F32), "ParamStore: CUDA parameters must be f32");
    values_ = Tensor::zeros({total_}, dtype, device);
    grads_ = Tensor::zeros({total_}, dtype, device);
}

Tensor ParamStore::value(int i) const {
    GPO_CHECK(finalized(), "ParamStore: value(" << i << ") before finalize()");
    GPO_CHECK(i >= 0 && i < (int)entries_.size(), "ParamStore: index " << i << " out of " << entries_.size());
    return values_.view(entries_[i].offset, entries_[i].shape);
}

Tensor ParamStore::grad(int i) const {
    GPO_CHECK(finalized(), "ParamStore: grad(" << i << ") before finalize()");
    GPO_CHECK(i >= 0 && i < (int)entries_.size(), "ParamStore: index " << i << " out of " << entries_.size());
    return grads_.view(entries_[i].offset, entries_[i].shape);
}

Tensor ParamStore::value(const std::string& name) const { return value(index(name)); }

int ParamStore::index(const std::string& name) const {
    for (size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].name == name) return (int)i;
    GPO_FAIL("ParamStore: unknown parameter '" << name << "' (" << entries_.size() << " declared)");
}

void ParamStore::to(Device device) {
    GPO_CHECK(finalized(), "ParamStore: to(" << device_name(device) << ") before finalize()");
    GPO_CHECK(!(device == Device::CUDA && values_.dtype != DType::F32), "ParamStore: CUDA parameters must be f32");
    values_ = values_.to(device);
    grads_ = grads_.to(device);
}

}  // namespace gpo
