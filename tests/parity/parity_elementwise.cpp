// CUDA-vs-CPU parity (f32) of the element-wise family at odd sizes, forward and backward: unary maps (including
// non-finite inputs for nan_to_num), binary maps, broadcast (both backward strategies), reshape, row softmax
// (small and gene-sized rows), concat_last and log_standardize (including its non-finite branches).
#include <limits>

#include "engine/ops/elementwise.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

// A second extent paired with each odd size, so shapes are not square.
int64_t partner(int64_t n) { return n == 517 ? 33 : n + 2; }

using UnaryFn = std::function<Var(Tape&, Var)>;

}  // namespace

TEST(ParityElementwise, UnaryOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    struct Case {
        const char* name;
        UnaryFn f;
        double lo, hi;  // input range (log/sqrt need x > 0)
    };
    std::vector<Case> cases = {
        {"scale", [](Tape& t, Var x) { return ops::scale(t, x, -1.7); }, -1, 1},
        {"add_scalar", [](Tape& t, Var x) { return ops::add_scalar(t, x, 0.3); }, -1, 1},
        {"exp", [](Tape& t, Var x) { return ops::exp(t, x); }, -3, 3},
        {"log", [](Tape& t, Var x) { return ops::log(t, x); }, 0.1, 3},
        {"sqrt", [](Tape& t, Var x) { return ops::sqrt(t, x); }, 0.1, 3},
        {"square", [](Tape& t, Var x) { return ops::square(t, x); }, -2, 2},
        {"sigmoid", [](Tape& t, Var x) { return ops::sigmoid(t, x); }, -6, 6},
        {"abs", [](Tape& t, Var x) { return ops::abs(t, x); }, -1, 1},
        {"leaky_relu", [](Tape& t, Var x) { return ops::leaky_relu(t, x, 0.01); }, -1, 1},
        {"clamp", [](Tape& t, Var x) { return ops::clamp(t, x, -0.5, 0.25); }, -1, 1},
    };
    for (int64_t n : test::odd_sizes())
        for (const Case& c : cases) {
            Tensor x = random_tensor({n, partner(n)}, DType::F32, 201, c.lo, c.hi);
            // f32 libm (CPU) vs CUDA expf/logf/sqrtf differ by a few ulp: 1e-5 relative; the floor covers values
            // near 0.
            test::expect_cuda_matches_cpu(
                std::string(c.name) + " n=" + std::to_string(n),
                [&](Tape& t, const std::vector<Var>& v) { return c.f(t, v[0]); }, {x}, {1e-6, 1e-5});
        }
}

TEST(ParityElementwise, NanToNumNonFinite) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    for (int64_t n : test::odd_sizes()) {
        Tensor x = random_tensor({n, 5}, DType::F32, 202);
        for (int64_t i = 0; i < x.numel(); i += 3) x.f32()[i] = (i / 3) % 3 == 0 ? nan : (i / 3) % 3 == 1 ? inf : -inf;
        test::expect_cuda_matches_cpu(
            "nan_to_num n=" + std::to_string(n),
            [](Tape& t, const std::vector<Var>& v) { return ops::nan_to_num(t, v[0], 1e-6, 1e6, -1e6); }, {x},
            {0, 0});  // selects and copies only: bit-exact
    }
}

TEST(ParityElementwise, BinaryOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Tensor a = random_tensor({n, partner(n)}, DType::F32, 203), b = random_tensor({n, partner(n)}, DType::F32, 204);
        std::string s = " n=" + std::to_string(n);
        // One rounding per element on both sides (no fused multiply-add in the forward): 1e-6 relative is slack.
        test::Tol tol{1e-7, 1e-6};
        test::expect_cuda_matches_cpu("add" + s, [](Tape& t, const std::vector<Var>& v) { return ops::add(t, v[0], v[1]); }, {a, b}, tol);
        test::expect_cuda_matches_cpu("sub" + s, [](Tape& t, const std::vector<Var>& v) { return ops::sub(t, v[0], v[1]); }, {a, b}, tol);
        test::expect_cuda_matches_cpu("mul" + s, [](Tape& t, const std::vector<Var>& v) { return ops::mul(t, v[0], v[1]); }, {a, b}, tol);
    }
}

TEST(ParityElementwise, BroadcastOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        int64_t m = partner(n);
        struct Case { Shape in, out; };
        std::vector<Case> cases = {
            {{n, 1}, {n, m}},             {{1, m}, {n, m}},
            {{1, 1}, {n, m}},             // few input elements: the block-per-element path once n * m > 32
            {{1, n, 1}, {3, n, 5}},       {{2, 1, n, 1}, {2, 3, n, 4}},
            {{1, 7}, {n * 8, 7}},         // bias-like (1, C) over many rows
            {{n, m}, {n, m}},             // nothing broadcast
        };
        for (const Case& c : cases) {
            Tensor x = random_tensor(c.in, DType::F32, 205);
            Shape target = c.out;
            // The backward sums up to ~4,000 f32 terms in different orders on the two sides.
            test::expect_cuda_matches_cpu(
                "broadcast " + shape_str(c.in) + " -> " + shape_str(c.out),
                [target](Tape& t, const std::vector<Var>& v) { return ops::broadcast_to(t, v[0], target); }, {x},
                {1e-4, 1e-4});
        }
    }
}

TEST(ParityElementwise, ReshapeOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Tensor x = random_tensor({n, 6}, DType::F32, 206), w = random_tensor({3, n, 2}, DType::F32, 207);
        test::expect_cuda_matches_cpu(
            "reshape n=" + std::to_string(n),
            [n](Tape& t, const std::vector<Var>& v) { return ops::mul(t, ops::reshape(t, v[0], {3, n, 2}), v[1]); },
            {x, w}, {1e-7, 1e-6});  // one product per element
    }
}

TEST(ParityElementwise, SoftmaxRowsOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    std::vector<std::pair<int64_t, int64_t>> shapes;
    for (int64_t n : test::odd_sizes()) shapes.push_back({partner(n), n});  // rows, C
    shapes.push_back({3, 8563});                                           // gene-sized rows
    for (auto [rows, C] : shapes) {
        Tensor x = random_tensor({rows, C}, DType::F32, 208, -4, 4);
        // expf vs libm and f32 sums of up to 8,563 terms in different orders: 1e-4 relative. Outputs are ~1/C, so
        // the absolute floor is small; it covers the backward's dy - sum(dy y) cancelling near 0 (error ~ y * 1e-7).
        test::expect_cuda_matches_cpu(
            "softmax_rows " + std::to_string(rows) + "x" + std::to_string(C),
            [](Tape& t, const std::vector<Var>& v) { return ops::softmax_rows(t, v[0]); }, {x}, {2e-7, 1e-4});
    }
}

TEST(ParityElementwise, ConcatLastOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Tensor a = random_tensor({2, n, 3}, DType::F32, 209), b = random_tensor({2, n, n}, DType::F32, 210),
               c = random_tensor({2, n, 1}, DType::F32, 211);
        test::expect_cuda_matches_cpu(
            "concat_last n=" + std::to_string(n),
            [](Tape& t, const std::vector<Var>& v) { return ops::concat_last(t, {v[0], v[1], v[2]}); }, {a, b, c},
            {0, 0});  // copies only: bit-exact
    }
}

TEST(ParityElementwise, LogStandardizeOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        int64_t C = partner(n);
        Tensor x = random_tensor({n, C}, DType::F32, 212, 0, 20);
        Tensor mean = random_tensor({C}, DType::F32, 213, 0, 2), std = random_tensor({C}, DType::F32, 214, 0.5, 2);
        // Non-finite branches: column 0 has std 0 with mean -5, so log(x + 1) - mean >= 5 gives +inf -> 1e6;
        // x = -1 gives -inf -> 1e-6 and x = -2 gives NaN -> 1e-6 (no gradient in all three).
        std.f32()[0] = 0.f;
        mean.f32()[0] = -5.f;
        if (C > 2) x.f32()[1] = -1.f, x.f32()[2] = -2.f;
        Tensor m = mean, s = std;
        // logf on the two sides differs by a few ulp; a relative 1e-5 covers it.
        test::expect_cuda_matches_cpu(
            "log_standardize n=" + std::to_string(n),
            [m, s](Tape& t, const std::vector<Var>& v) {
                return ops::log_standardize(t, v[0], m.to(t.value(v[0]).device), s.to(t.value(v[0]).device));
            },
            {x}, {1e-6, 1e-5});
    }
}
