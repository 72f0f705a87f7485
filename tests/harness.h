// Test harness shared by every suite:
//  - random_tensor: deterministic test inputs;
//  - expect_grad_matches: finite-difference gradient check in double (central differences) of any tape graph,
//    against the loss L = sum(w * out) with fixed non-uniform weights w, so every output element matters;
//  - expect_cuda_matches_cpu: runs the same graph on CPU and CUDA (f32) with the same inputs and upstream
//    gradient, compares outputs and every input gradient element-wise (|a-b| <= atol + rtol*|ref|);
//  - GPO_REQUIRE_CUDA_OR_SKIP(): skips with a reason without a GPU, fails when GPO_REQUIRE_GPU=1.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/tape.h"
#include "kernels/cuda/runtime.h"

namespace gpo::test {

// splitmix64-based uniform in [lo, hi): deterministic, independent of the engine's RNG under test.
inline Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo = -1.0, double hi = 1.0) {
    std::vector<double> v((size_t)shape_numel(shape));
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 12345;
    for (double& x : v) {
        s += 0x9E3779B97F4A7C15ULL;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        x = lo + (hi - lo) * ((z >> 11) * (1.0 / 9007199254740992.0));
        if (dtype == DType::I32) x = std::floor(x);
    }
    return Tensor::from_vector(shape, v, dtype);
}

using GraphFn = std::function<Var(Tape&, const std::vector<Var>&)>;

// Gradient check. `inputs` are CPU tensors (f64 for checked inputs; i32 inputs are passed as constants).
// `checked` lists which inputs to check (empty = every floating input).
// eps: central-difference step; with f64 the truncation error is O(eps^2) and the rounding error O(1e-16/eps),
// so eps = 1e-6 gives ~1e-10 absolute accuracy on smooth ops; tolerances are per test.
inline void expect_grad_matches(const std::string& name, const GraphFn& build, std::vector<Tensor> inputs,
                                double atol = 1e-6, double rtol = 1e-5, double eps = 1e-6,
                                std::vector<int> checked = {}) {
    if (checked.empty())
        for (int i = 0; i < (int)inputs.size(); ++i)
            if (inputs[i].dtype != DType::I32) checked.push_back(i);
    auto is_checked = [&](int i) {
        for (int c : checked)
            if (c == i) return true;
        return false;
    };
    // Analytic gradients.
    Tape tape;
    std::vector<Var> vars;
    for (int i = 0; i < (int)inputs.size(); ++i)
        vars.push_back(is_checked(i) ? tape.input(inputs[i], true) : tape.constant(inputs[i]));
    Var out = build(tape, vars);
    Tensor w = random_tensor(tape.value(out).shape, DType::F64, 777, 0.5, 1.5);
    tape.backward(out, w);
    std::vector<double> wv = w.to_vector();

    auto loss_at = [&](const std::vector<Tensor>& ins) {
        Tape t;
        std::vector<Var> vs;
        for (const Tensor& x : ins) vs.push_back(t.constant(x));
        std::vector<double> o = t.value(build(t, vs)).to_vector();
        double L = 0;
        for (size_t k = 0; k < o.size(); ++k) L += wv[k] * o[k];
        return L;
    };

    for (int i : checked) {
        ASSERT_EQ(inputs[i].dtype, DType::F64) << name << ": gradient checks run in double";
        Tensor g = tape.grad(vars[i]);
        std::vector<double> analytic = g.defined() ? g.to_vector() : std::vector<double>(inputs[i].numel(), 0.0);
        int shown = 0, bad = 0;
        for (int64_t k = 0; k < inputs[i].numel(); ++k) {
            double* p = inputs[i].f64() + k;
            double orig = *p;
            *p = orig + eps;
            double lp = loss_at(inputs);
            *p = orig - eps;
            double lm = loss_at(inputs);
            *p = orig;
            double numeric = (lp - lm) / (2 * eps);
            double err = std::fabs(numeric - analytic[k]);
            if (!(err <= atol + rtol * std::fabs(numeric))) {
                ++bad;
                if (shown++ < 5)
                    ADD_FAILURE() << name << ": d/d input" << i << "[" << k << "] analytic " << analytic[k]
                                  << " numeric " << numeric << " (err " << err << ")";
            }
        }
        EXPECT_EQ(bad, 0) << name << ": " << bad << " of " << inputs[i].numel() << " gradient entries of input "
                          << i << " differ";
    }
}

// The whole content of a file, as bytes ("" when it cannot be read).
inline std::string file_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// The message of the gpo::Error thrown by f, or "" when f does not throw one.
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

inline bool require_gpu_env() {
    const char* e = std::getenv("GPO_REQUIRE_GPU");
    return e && std::string(e) == "1";
}

#define GPO_REQUIRE_CUDA_OR_SKIP()                                                                      \
    do {                                                                                                \
        if (!::gpo::cuda_available()) {                                                                 \
            if (::gpo::test::require_gpu_env()) FAIL() << "GPO_REQUIRE_GPU=1 but " << ::gpo::cuda::probe_message(); \
            GTEST_SKIP() << "no GPU: " << ::gpo::cuda::probe_message();                                  \
        }                                                                                               \
    } while (0)

struct Tol {
    double atol = 1e-5, rtol = 1e-4;
};

inline void expect_close(const std::string& what, const std::vector<double>& ref, const std::vector<double>& got,
                         Tol tol) {
    ASSERT_EQ(ref.size(), got.size()) << what;
    int bad = 0;
    for (size_t k = 0; k < ref.size(); ++k) {
        bool ok = std::fabs(ref[k] - got[k]) <= tol.atol + tol.rtol * std::fabs(ref[k]);
        if (std::isnan(ref[k]) && std::isnan(got[k])) ok = true;
        if (!ok && bad++ < 5)
            ADD_FAILURE() << what << "[" << k << "]: cpu " << ref[k] << " cuda " << got[k];
    }
    EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << ref.size() << " elements differ";
}

// CUDA-vs-CPU parity of a graph's forward output and of the gradients of every floating input.
// `inputs` are CPU tensors in f32 (or i32 for index inputs).
inline void expect_cuda_matches_cpu(const std::string& name, const GraphFn& build, const std::vector<Tensor>& inputs,
                                    Tol tol = {}) {
    std::vector<double> out_ref, out_gpu;
    std::vector<std::vector<double>> grad_ref, grad_gpu;
    for (int pass = 0; pass < 2; ++pass) {
        Device dev = pass == 0 ? Device::CPU : Device::CUDA;
        Tape tape;
        std::vector<Var> vars;
        for (const Tensor& x : inputs)
            vars.push_back(x.dtype == DType::I32 ? tape.constant(x.to(dev)) : tape.input(x.to(dev), true));
        Var out = build(tape, vars);
        const Tensor& o = tape.value(out);
        ASSERT_EQ(o.device, dev) << name << ": output on the wrong device";
        Tensor w = random_tensor(o.shape, DType::F32, 991, 0.5, 1.5).to(dev);
        tape.backward(out, w);
        (pass == 0 ? out_ref : out_gpu) = o.to_vector();
        auto& grads = pass == 0 ? grad_ref : grad_gpu;
        for (size_t i = 0; i < inputs.size(); ++i) {
            Tensor g = inputs[i].dtype == DType::I32 ? Tensor() : tape.grad(vars[i]);
            grads.push_back(g.defined() ? g.to_vector() : std::vector<double>());
        }
    }
    expect_close(name + " forward", out_ref, out_gpu, tol);
    for (size_t i = 0; i < inputs.size(); ++i)
        expect_close(name + " grad of input " + std::to_string(i), grad_ref[i], grad_gpu[i], tol);
}

// Odd sizes for parity tests: edge cases of block and warp arithmetic.
inline const std::vector<int64_t>& odd_sizes() {
    static const std::vector<int64_t> s = {1, 3, 7, 33, 517};
    return s;
}

}  // namespace gpo::test
