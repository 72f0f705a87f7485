// Tape mechanics: fan-out accumulation, no-grad mode, constants, parameters accumulating into external buffers.
#include "engine/ops/linear.h"
#include "tests/harness.h"

using namespace gpo;

TEST(Tape, FanOutAccumulates) {
    // y = A A (A used twice): dy/dA = seed A^T + A^T seed; check against the hand formula.
    Tensor A = Tensor::from_vector({2, 2}, {1, 2, 3, 4}, DType::F64);
    Tape t;
    Var a = t.input(A);
    Var y = ops::matmul(t, a, a);
    t.backward(y, Tensor::full({2, 2}, 1.0, DType::F64));
    // d/dA sum(A A) = 1 A^T + A^T 1: entry (i,k) = sum_j A[k][j] + sum_j A[j][i]
    std::vector<double> g = t.grad(a).to_vector();
    double Av[2][2] = {{1, 2}, {3, 4}};
    for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 2; ++k) {
            double expect = (Av[k][0] + Av[k][1]) + (Av[0][i] + Av[1][i]);
            EXPECT_DOUBLE_EQ(g[i * 2 + k], expect);
        }
}

TEST(Tape, NoGradRecordsNothingToDifferentiate) {
    Tape t;
    Var a = t.input(Tensor::full({2, 2}, 1.0, DType::F64));
    Var y;
    {
        NoGradGuard ng(t);
        y = ops::matmul(t, a, a);
    }
    EXPECT_FALSE(t.requires_grad(y));
    t.backward(y, Tensor::full({2, 2}, 1.0, DType::F64));
    EXPECT_FALSE(t.grad(a).defined());
    EXPECT_DOUBLE_EQ(t.value(y).to_vector()[0], 2.0);  // the value is still computed
}

TEST(Tape, ConstantsGetNoGradient) {
    Tape t;
    Var a = t.input(Tensor::full({1, 2}, 1.0, DType::F64));
    Var c = t.constant(Tensor::full({2, 1}, 3.0, DType::F64));
    Var y = ops::matmul(t, a, c);
    t.backward(y);
    EXPECT_FALSE(t.grad(c).defined());
    EXPECT_EQ(t.grad(a).to_vector(), (std::vector<double>{3.0, 3.0}));
}

TEST(Tape, ParamGradAccumulatesIntoBufferAcrossBackwards) {
    Tensor w = Tensor::full({1, 1}, 2.0, DType::F64);
    Tensor gbuf = Tensor::zeros({1, 1}, DType::F64);
    for (int rep = 0; rep < 2; ++rep) {
        Tape t;
        Var p = t.param(w, gbuf);
        Var x = t.constant(Tensor::full({1, 1}, 5.0, DType::F64));
        t.backward(ops::matmul(t, x, p));
    }
    EXPECT_DOUBLE_EQ(gbuf.item(), 10.0);  // 5 + 5: gradients accumulate until zeroed
}

TEST(Tape, BackwardNeedsScalarWithoutSeed) {
    Tape t;
    Var a = t.input(Tensor::full({2, 2}, 1.0, DType::F64));
    EXPECT_THROW(t.backward(ops::matmul(t, a, a)), Error);
}

TEST(Device, ProbeNeverThrows) {
    EXPECT_NO_THROW(cuda_available());
    if (!cuda_available()) {
        EXPECT_FALSE(cuda::probe_message().empty());
        EXPECT_THROW(resolve_device("cuda"), Error);
        EXPECT_EQ(resolve_device("auto"), Device::CPU);
    }
    EXPECT_EQ(resolve_device("cpu"), Device::CPU);
    EXPECT_THROW(resolve_device("gpu"), Error);
}

TEST(Tape, ValueReferencesSurviveLaterRecords) {
    // Ops hold `const Tensor& x = tape.value(a)` and then record more entries; with a vector the storage moved
    // and such references dangled (heap-use-after-free under ASan). The addresses must not change.
    Tape t;
    Var a = t.input(Tensor::full({1, 3}, 2.0, DType::F64));
    const Tensor& ref = t.value(a);
    const Tensor* before = &ref;
    Tensor* gbefore = t.grad_target(a);
    for (int i = 0; i < 5000; ++i) t.constant(Tensor::full({1, 1}, (double)i, DType::F64));
    EXPECT_EQ(before, &t.value(a));
    EXPECT_EQ(gbefore, t.grad_target(a));
    EXPECT_EQ(ref.numel(), 3);
    EXPECT_DOUBLE_EQ(ref.to_vector()[2], 2.0);
}
