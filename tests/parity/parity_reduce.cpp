// CUDA-vs-CPU parity (f32) of the reduction family at odd sizes, forward and backward: sum/mean/logsumexp over
// every axis (covering the thread-per-output and block-per-output kernels), whole-tensor sums through
// cub::DeviceReduce (including a multi-million-element one) and logsumexp over particles.
#include "engine/ops/reduce.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

using AxisFn = std::function<Var(Tape&, Var, int)>;

const std::vector<std::pair<std::string, AxisFn>>& axis_ops() {
    static const std::vector<std::pair<std::string, AxisFn>> ops_ = {
        {"sum", [](Tape& t, Var x, int a) { return ops::sum(t, x, a); }},
        {"mean", [](Tape& t, Var x, int a) { return ops::mean(t, x, a); }},
        {"logsumexp", [](Tape& t, Var x, int a) { return ops::logsumexp(t, x, a); }},
    };
    return ops_;
}

// The CPU sums in double, the GPU in f32 (sequential per thread, then a tree): for up to ~500 terms in [-1, 1] the
// f32 error is a few 1e-6 absolute (sums can cancel to ~0, hence the floor) and well under 1e-4 relative.
const test::Tol kSumTol{3e-5, 1e-4};

}  // namespace

TEST(ParityReduce, AxisReductionsOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        // (3, n, 5): axis 1 with n = 517 takes the block-per-output path, the others a thread per output.
        // (n + 2, n) over the last axis: contiguous rows, a block per row once n >= 32.
        std::vector<std::pair<Shape, std::vector<int>>> cases = {{{3, n, 5}, {0, 1, 2, -1}}, {{n + 2, n}, {-1, 0}}};
        for (auto& [shape, axes] : cases)
            for (int axis : axes)
                for (auto& [name, f] : axis_ops()) {
                    Tensor x = random_tensor(shape, DType::F32, 301);
                    test::expect_cuda_matches_cpu(
                        name + " " + shape_str(shape) + " axis " + std::to_string(axis),
                        [&f = f, axis](Tape& t, const std::vector<Var>& v) { return f(t, v[0], axis); }, {x},
                        kSumTol);
                }
    }
}

TEST(ParityReduce, LogsumexpOverParticles) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Tensor x = random_tensor({5, n, 7}, DType::F32, 302, -20, 5);  // log-weights of very different sizes
        // expf/logf vs libm and f32 sums of 5 terms: a few ulp of values of size ~20.
        test::expect_cuda_matches_cpu(
            "logsumexp particles n=" + std::to_string(n),
            [](Tape& t, const std::vector<Var>& v) { return ops::logsumexp(t, v[0], 0); }, {x}, {1e-5, 1e-5});
    }
}

TEST(ParityReduce, WholeTensorOddSizes) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    for (int64_t n : test::odd_sizes()) {
        Tensor x = random_tensor({n, 3}, DType::F32, 303);
        std::string s = " n=" + std::to_string(n);
        test::expect_cuda_matches_cpu("sum_all" + s, [](Tape& t, const std::vector<Var>& v) { return ops::sum_all(t, v[0]); },
                                      {x}, kSumTol);
        test::expect_cuda_matches_cpu("mean_all" + s, [](Tape& t, const std::vector<Var>& v) { return ops::mean_all(t, v[0]); },
                                      {x}, kSumTol);
        // The fused mask sparsity term: terms in (0, 1), f32 partial sums on the GPU against double on the CPU.
        Tensor logits = random_tensor({n, n}, DType::F32, 305, -8, 8);
        test::expect_cuda_matches_cpu("sigmoid_mean" + s,
                                      [](Tape& t, const std::vector<Var>& v) { return ops::sigmoid_mean(t, v[0]); },
                                      {logits}, kSumTol);
        // One long slice: logsumexp of a 1-D tensor (one block for the single output).
        Tensor v1 = random_tensor({n * 7}, DType::F32, 304);
        test::expect_cuda_matches_cpu("logsumexp 1-D" + s,
                                      [](Tape& t, const std::vector<Var>& v) { return ops::logsumexp(t, v[0], 0); },
                                      {v1}, kSumTol);
    }
}

TEST(ParityReduce, LargeSumAll) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    // 2,560 x 1,031 + 1 elements in [0, 1] (no cancellation): cub's f32 tree sum stays within ~1e-6 relative of the
    // double sum; 1e-5 is the bound. The gradients are exactly 1 and 1/n.
    Tensor x = random_tensor({2560 * 1031 + 1}, DType::F32, 305, 0, 1);
    test::expect_cuda_matches_cpu("sum_all large", [](Tape& t, const std::vector<Var>& v) { return ops::sum_all(t, v[0]); },
                                  {x}, {0, 1e-5});
    test::expect_cuda_matches_cpu("mean_all large",
                                  [](Tape& t, const std::vector<Var>& v) { return ops::mean_all(t, v[0]); }, {x},
                                  {0, 1e-5});
}
