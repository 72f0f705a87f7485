// Tensor storage, views, dtype conversion and host/device copies.
#include "engine/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "engine/check.h"
#include "engine/host_cache.h"
#include "kernels/cuda/runtime.h"

namespace gpo {

const char* dtype_name(DType d) {
    switch (d) {
        case DType::F32: return "f32";
        case DType::F64: return "f64";
        case DType::I32: return "i32";
    }
    return "?";
}

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

size_t dtype_size(DType d) {
    switch (d) {
        case DType::F32: return 4;
        case DType::F64: return 8;
        case DType::I32: return 4;
    }
    return 0;
}

std::string shape_str(const Shape& s) {
    std::ostringstream os;
    os << "[";
    for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    os << "]";
    return os.str();
}

int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) {
        GPO_CHECK(d >= 0, "negative dimension in shape " << shape_str(s));
        n *= d;
    }
    return n;
}

Storage::Storage(size_t nbytes, Device dev) : bytes(nbytes), device(dev) {
    if (dev == Device::CPU) {
        ptr = host_alloc(nbytes);
        GPO_CHECK(ptr, "out of host memory allocating " << nbytes << " bytes");
    } else {
        ptr = cuda::device_malloc(nbytes);
    }
}

Storage::~Storage() {
    if (device == Device::CPU) host_free(ptr, bytes);
    else cuda::device_free(ptr);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    Tensor t;
    t.shape = shape;
    t.dtype = dtype;
    t.device = device;
    t.storage = std::make_shared<Storage>((size_t)shape_numel(shape) * dtype_size(dtype), device);
    return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    t.zero_();
    return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
    return from_vector(shape, std::vector<double>((size_t)shape_numel(shape), value), dtype);
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<double>& v, DType dtype) {
    GPO_CHECK((int64_t)v.size() == shape_numel(shape),
              "from_vector: " << v.size() << " values for shape " << shape_str(shape));
    Tensor t = empty(shape, dtype, Device::CPU);
    for (size_t i = 0; i < v.size(); ++i) {
        if (dtype == DType::F32) t.f32()[i] = (float)v[i];
        else if (dtype == DType::F64) t.f64()[i] = v[i];
        else t.i32()[i] = (int32_t)v[i];
    }
    return t;
}

Tensor Tensor::from_ints(const Shape& shape, const std::vector<int32_t>& v) {
    GPO_CHECK((int64_t)v.size() == shape_numel(shape),
              "from_ints: " << v.size() << " values for shape " << shape_str(shape));
    Tensor t = empty(shape, DType::I32, Device::CPU);
    if (!v.empty()) std::memcpy(t.data(), v.data(), v.size() * sizeof(int32_t));
    return t;
}

int64_t Tensor::dim(int i) const {
    int n = ndim();
    if (i < 0) i += n;
    GPO_CHECK(i >= 0 && i < n, "dim " << i << " out of range for " << describe());
    return shape[i];
}

float* Tensor::f32() const {
    GPO_CHECK(dtype == DType::F32, "expected f32 tensor, got " << describe());
    return static_cast<float*>(data());
}
double* Tensor::f64() const {
    GPO_CHECK(dtype == DType::F64, "expected f64 tensor, got " << describe());
    return static_cast<double*>(data());
}
int32_t* Tensor::i32() const {
    GPO_CHECK(dtype == DType::I32, "expected i32 tensor, got " << describe());
    return static_cast<int32_t*>(data());
}
template <> float* Tensor::ptr<float>() const { return f32(); }
template <> double* Tensor::ptr<double>() const { return f64(); }
template <> int32_t* Tensor::ptr<int32_t>() const { return i32(); }

Tensor Tensor::to(Device dev) const {
    Tensor out = empty(shape, dtype, dev);
    out.copy_from(*this);
    return out;
}

Tensor Tensor::to_dtype(DType dt) const {
    GPO_CHECK(device == Device::CPU, "to_dtype needs a CPU tensor, got " << describe());
    if (dt == dtype) return clone();
    return from_vector(shape, to_vector(), dt);
}

Tensor Tensor::reshape(const Shape& s) const {
    GPO_CHECK(shape_numel(s) == numel(), "reshape " << describe() << " to " << shape_str(s) << ": sizes differ");
    Tensor t = *this;
    t.shape = s;
    return t;
}

Tensor Tensor::view(int64_t elem_offset, const Shape& s) const {
    GPO_CHECK(elem_offset >= 0 && elem_offset + shape_numel(s) <= numel(),
              "view at " << elem_offset << " of shape " << shape_str(s) << " exceeds " << describe());
    Tensor t = *this;
    t.shape = s;
    t.offset = offset + (size_t)elem_offset * dtype_size(dtype);
    return t;
}

void Tensor::zero_() {
    if (device == Device::CPU) std::memset(data(), 0, nbytes());
    else cuda::memset_zero(data(), nbytes());
}

void Tensor::copy_from(const Tensor& src) {
    GPO_CHECK(src.shape == shape && src.dtype == dtype,
              "copy_from: destination " << describe() << " and source " << src.describe() << " differ");
    size_t n = nbytes();
    if (device == Device::CPU && src.device == Device::CPU) std::memcpy(data(), src.data(), n);
    else if (device == Device::CUDA && src.device == Device::CPU) cuda::copy_to_device(data(), src.data(), n);
    else if (device == Device::CPU && src.device == Device::CUDA) cuda::copy_to_host(data(), src.data(), n);
    else cuda::copy_device_to_device(data(), src.data(), n);
}

std::vector<double> Tensor::to_vector() const {
    Tensor h = device == Device::CPU ? *this : to(Device::CPU);
    std::vector<double> v((size_t)numel());
    for (size_t i = 0; i < v.size(); ++i) {
        if (dtype == DType::F32) v[i] = h.f32()[i];
        else if (dtype == DType::F64) v[i] = h.f64()[i];
        else v[i] = h.i32()[i];
    }
    return v;
}

double Tensor::item() const {
    GPO_CHECK(numel() == 1, "item() needs one element, got " << describe());
    return to_vector()[0];
}

std::string Tensor::describe() const {
    return std::string(dtype_name(dtype)) + shape_str(shape) + " on " + device_name(device);
}

}  // namespace gpo
