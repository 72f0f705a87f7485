// Tensor: a shape, a dtype (f32 for training, f64 for CPU gradient checks, i32 for indices), a device (CPU or
// CUDA) and a shared storage with a byte offset, so views (parameter slices) share memory with their buffer.
// Always contiguous, row-major. Copies between devices go through to().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gpo {

enum class DType { F32, F64, I32 };
enum class Device { CPU, CUDA };

const char* dtype_name(DType d);
const char* device_name(Device d);
size_t dtype_size(DType d);

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[3, 4]"
int64_t shape_numel(const Shape& s);

// Owns one allocation on one device.
struct Storage {
    void* ptr = nullptr;
    size_t bytes = 0;
    Device device = Device::CPU;
    Storage(size_t nbytes, Device dev);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
};

struct Tensor {
    Shape shape;
    DType dtype = DType::F32;
    Device device = Device::CPU;
    std::shared_ptr<Storage> storage;
    size_t offset = 0;  // bytes into storage

    static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
    static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
    static Tensor full(const Shape& shape, double value, DType dtype = DType::F32);  // CPU
    static Tensor from_vector(const Shape& shape, const std::vector<double>& values, DType dtype);   // CPU
    static Tensor from_ints(const Shape& shape, const std::vector<int32_t>& values);                // CPU, i32

    bool defined() const { return storage != nullptr; }
    int64_t numel() const { return shape_numel(shape); }
    int ndim() const { return (int)shape.size(); }
    int64_t dim(int i) const;  // negative i counts from the end
    size_t nbytes() const { return (size_t)numel() * dtype_size(dtype); }
    bool is_cuda() const { return device == Device::CUDA; }

    void* data() const { return static_cast<char*>(storage->ptr) + offset; }
    float* f32() const;    // checks dtype
    double* f64() const;
    int32_t* i32() const;
    template <class T> T* ptr() const;  // T = float, double or int32_t; checks dtype

    Tensor to(Device dev) const;       // copy (always a new storage, even when dev == device)
    Tensor to_dtype(DType dt) const;   // CPU only: float <-> double <-> int conversion copy
    Tensor clone() const { return to(device); }
    Tensor reshape(const Shape& s) const;  // same storage, numel must match
    // A view of `shape` starting `elem_offset` elements into this tensor (same storage).
    Tensor view(int64_t elem_offset, const Shape& s) const;
    void zero_();
    void copy_from(const Tensor& src);  // same shape and dtype, any devices

    std::vector<double> to_vector() const;  // any dtype/device, for tests and reports
    double item() const;                    // single element
    std::string describe() const;           // "f32[3, 4] on cpu"
};

}  // namespace gpo
