// Reduction family on the CPU in double: sum/mean over every axis and over all elements, logsumexp over every
// axis, forward values against plain loops, finite-difference gradients, stability and argument errors.
#include <cmath>
#include <limits>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

// Reference reduction of x (A, B, C) over `axis` (0, 1, 2) by loops: kind 0 = sum, 1 = mean, 2 = logsumexp
// (naive log(sum(exp)), fine for inputs in [-1, 1]).
std::vector<double> reduce_ref(const Tensor& x, int axis, int kind) {
    int64_t d[3] = {x.shape[0], x.shape[1], x.shape[2]};
    std::vector<double> out;
    int a1 = axis == 0 ? 1 : 0, a2 = axis == 2 ? 1 : 2;  // the two kept axes, in order
    for (int64_t i = 0; i < d[a1]; ++i)
        for (int64_t j = 0; j < d[a2]; ++j) {
            double s = 0;
            for (int64_t k = 0; k < d[axis]; ++k) {
                int64_t idx[3];
                idx[a1] = i, idx[a2] = j, idx[axis] = k;
                double v = x.f64()[(idx[0] * d[1] + idx[1]) * d[2] + idx[2]];
                s += kind == 2 ? std::exp(v) : v;
            }
            out.push_back(kind == 0 ? s : kind == 1 ? s / (double)d[axis] : std::log(s));
        }
    return out;
}

}  // namespace

TEST(GradReduce, AxisReductionsMatchLoops) {
    Tensor x = random_tensor({2, 3, 4}, DType::F64, 1);
    for (int axis = -3; axis < 3; ++axis) {
        int pos = axis < 0 ? axis + 3 : axis;
        Shape expect_shape;
        for (int d = 0; d < 3; ++d)
            if (d != pos) expect_shape.push_back(x.shape[d]);
        for (int kind = 0; kind < 3; ++kind) {
            Tape t;
            Var vx = t.constant(x);
            Var y = kind == 0 ? ops::sum(t, vx, axis) : kind == 1 ? ops::mean(t, vx, axis) : ops::logsumexp(t, vx, axis);
            ASSERT_EQ(t.value(y).shape, expect_shape) << "kind " << kind << " axis " << axis;
            std::vector<double> got = t.value(y).to_vector(), ref = reduce_ref(x, pos, kind);
            for (size_t i = 0; i < ref.size(); ++i)
                EXPECT_NEAR(got[i], ref[i], 1e-14) << "kind " << kind << " axis " << axis << " at " << i;  // rounding
        }
    }
}

TEST(GradReduce, AxisGradients) {
    Tensor x = random_tensor({2, 3, 4}, DType::F64, 2);
    for (int axis = -1; axis < 3; ++axis) {
        std::string a = " axis " + std::to_string(axis);
        test::expect_grad_matches("sum" + a, [axis](Tape& t, const std::vector<Var>& v) { return ops::sum(t, v[0], axis); }, {x});
        test::expect_grad_matches("mean" + a, [axis](Tape& t, const std::vector<Var>& v) { return ops::mean(t, v[0], axis); }, {x});
        test::expect_grad_matches("logsumexp" + a,
                                  [axis](Tape& t, const std::vector<Var>& v) { return ops::logsumexp(t, v[0], axis); }, {x});
    }
}

TEST(GradReduce, AllElements) {
    Tensor x = random_tensor({3, 5}, DType::F64, 3);
    double s = 0;
    for (int64_t i = 0; i < x.numel(); ++i) s += x.f64()[i];
    Tape t;
    Var vx = t.constant(x);
    Tensor ys = t.value(ops::sum_all(t, vx)), ym = t.value(ops::mean_all(t, vx));
    EXPECT_EQ(ys.shape, (Shape{1}));
    EXPECT_EQ(ym.shape, (Shape{1}));
    EXPECT_NEAR(ys.item(), s, 1e-14);  // same additions, in order
    EXPECT_NEAR(ym.item(), s / 15, 1e-15);
    test::expect_grad_matches("sum_all", [](Tape& t, const std::vector<Var>& v) { return ops::sum_all(t, v[0]); }, {x});
    test::expect_grad_matches("mean_all", [](Tape& t, const std::vector<Var>& v) { return ops::mean_all(t, v[0]); }, {x});
    // The scalar output can seed backward() directly: d sum / dx = 1, d mean / dx = 1 / numel.
    Tape t2;
    Var v2 = t2.input(x);
    t2.backward(ops::mean_all(t2, v2));
    for (double g : t2.grad(v2).to_vector()) EXPECT_DOUBLE_EQ(g, 1.0 / 15);
}

TEST(GradReduce, OneDimAxisGivesShapeOne) {
    Tensor x = Tensor::from_vector({4}, {1, 2, 3, 4}, DType::F64);
    Tape t;
    Tensor y = t.value(ops::sum(t, t.constant(x), 0));
    EXPECT_EQ(y.shape, (Shape{1}));
    EXPECT_EQ(y.item(), 10.0);
}

TEST(GradReduce, LogsumexpIsStable) {
    // exp(1000) overflows in double: the max shift must keep the result finite and exact.
    Tensor x = Tensor::from_vector({2, 3}, {1000.0, 1001.0, 999.0, -1000.0, -1001.0, -999.0}, DType::F64);
    Tape t;
    Var vx = t.input(x);
    Var y = ops::logsumexp(t, vx, 1);
    std::vector<double> yv = t.value(y).to_vector();
    double tail = std::log(std::exp(-1.0) + 1.0 + std::exp(-2.0));
    EXPECT_NEAR(yv[0], 1001.0 + tail, 1e-12);
    EXPECT_NEAR(yv[1], -999.0 + tail, 1e-12);
    // Gradient = softmax along the axis; each slice sums to 1.
    // (exp(x - y) with y ~ 1000: y's rounding, an ulp of 1000 ~ 1.1e-13, carries into the softmax, hence 5e-13.)
    t.backward(y, Tensor::full({2}, 1.0, DType::F64));
    std::vector<double> g = t.grad(vx).to_vector();
    EXPECT_NEAR(g[1], 1.0 / (std::exp(-1.0) + 1.0 + std::exp(-2.0)), 5e-13);
    EXPECT_NEAR(g[3] + g[4] + g[5], 1.0, 5e-13);
    // A slice of -inf gives -inf (torch), not NaN.
    const double inf = std::numeric_limits<double>::infinity();
    Tensor ninf = Tensor::from_vector({1, 2}, {-inf, -inf}, DType::F64);
    EXPECT_EQ(t.value(ops::logsumexp(t, t.constant(ninf), 1)).item(), -inf);
}

TEST(GradReduce, ParticlesComposition) {
    // IWELBO-style: logsumexp over particles (axis 0 of (P, N, D)), then the mean over everything.
    Tensor x = random_tensor({5, 3, 2}, DType::F64, 4, -3, 3);
    test::expect_grad_matches(
        "mean_all(logsumexp(x, 0))",
        [](Tape& t, const std::vector<Var>& v) { return ops::mean_all(t, ops::logsumexp(t, v[0], 0)); }, {x});
    test::expect_grad_matches(
        "sum(mean(x, 1), -1)",
        [](Tape& t, const std::vector<Var>& v) { return ops::sum(t, ops::mean(t, v[0], 1), -1); }, {x});
}

TEST(GradReduce, BadAxisNamesOpAndShape) {
    Tape t;
    Var x = t.constant(Tensor::zeros({2, 3}, DType::F64));
    for (int axis : {2, -3}) {
        try {
            ops::logsumexp(t, x, axis);
            FAIL() << "expected an error";
        } catch (const Error& e) {
            std::string m = e.what();
            EXPECT_NE(m.find("logsumexp"), std::string::npos) << m;
            EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
        }
    }
    EXPECT_THROW(ops::mean(t, t.constant(Tensor::zeros({2, 0}, DType::F64)), 1), Error);  // mean of nothing
}

TEST(GradReduce, SigmoidMeanEqualsTheUnfusedOps) {
    // Logits of both signs and of large size (the stable form on each side); the finite-difference check in double.
    Tensor x = random_tensor({7, 9}, DType::F64, 5, -20, 20);
    test::expect_grad_matches("sigmoid_mean", [](Tape& t, const std::vector<Var>& v) { return ops::sigmoid_mean(t, v[0]); },
                              {x});
    // Against mean_all(sigmoid(x)): the same value and gradient bit for bit (same formula, same order of additions)
    // up to one 2^20-element chunk, in f32 and f64; past it the chunk sums are added in order (relative 1e-12
    // bounds the reordering of ~2^21 double additions of terms in (0, 1)).
    for (DType dt : {DType::F32, DType::F64})
        for (int64_t n : {int64_t(63 * 63), int64_t(1) << 20, (int64_t(1) << 21) + 17}) {
            Tensor v = random_tensor({n}, dt, 6, -8, 8);
            Tape a, b;
            Var va = a.input(v), vb = b.input(v);
            Var fused = ops::sigmoid_mean(a, va);
            Var plain = ops::mean_all(b, ops::sigmoid(b, vb));
            a.backward(ops::scale(a, fused, 3.0));
            b.backward(ops::scale(b, plain, 3.0));
            const double fa = a.value(fused).item(), fb = b.value(plain).item();
            if (n <= (int64_t(1) << 20)) EXPECT_EQ(fa, fb) << n;
            else EXPECT_NEAR(fa, fb, 1e-12 * std::fabs(fb)) << n;
            EXPECT_EQ(a.grad(va).to_vector(), b.grad(vb).to_vector()) << "n " << n;
        }
}
