// Element-wise family on the CPU in double: forward values against hand formulas (std:: math, plain loops),
// finite-difference gradients of every op, torch's gradient conventions at kinks and non-finite values, argument
// errors, and small compositions (a 2-layer residual MLP, log of a softmax).
#include <cmath>
#include <limits>

#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "tests/harness.h"

using namespace gpo;
using gpo::test::random_tensor;

namespace {

using UnaryFn = std::function<Var(Tape&, Var)>;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Runs f on x (f64, CPU) and returns its output values and d(sum out)/dx (upstream gradient of ones).
void run_unary(const UnaryFn& f, const std::vector<double>& xs, std::vector<double>& out, std::vector<double>& grad) {
    Tape t;
    Var x = t.input(Tensor::from_vector({(int64_t)xs.size()}, xs, DType::F64));
    Var y = f(t, x);
    out = t.value(y).to_vector();
    t.backward(y, Tensor::full({(int64_t)xs.size()}, 1.0, DType::F64));
    Tensor g = t.grad(x);
    grad = g.defined() ? g.to_vector() : std::vector<double>(xs.size(), 0.0);
}

// Random values in [-1, 1] moved away from the given kinks by at least `gap` (so a central difference with step
// 1e-6 never straddles one).
Tensor away_from(const Shape& s, uint64_t seed, const std::vector<double>& kinks, double gap) {
    Tensor x = random_tensor(s, DType::F64, seed);
    for (int64_t i = 0; i < x.numel(); ++i)
        for (double k : kinks) {
            double& v = x.f64()[i];
            if (std::fabs(v - k) < gap) v = v >= k ? k + gap : k - gap;
        }
    return x;
}

}  // namespace

TEST(GradElementwise, UnaryForwardMatchesFormulas) {
    const std::vector<double> xs = {-2.5, -0.7, 0.2, 0.9, 3.1};
    const std::vector<double> pos = {0.1, 0.5, 1.0, 2.0, 9.0};
    struct Case {
        const char* name;
        UnaryFn f;
        std::function<double(double)> ref;
        bool positive;
    };
    std::vector<Case> cases = {
        {"scale", [](Tape& t, Var x) { return ops::scale(t, x, -1.5); }, [](double v) { return -1.5 * v; }, false},
        {"add_scalar", [](Tape& t, Var x) { return ops::add_scalar(t, x, 0.25); }, [](double v) { return v + 0.25; }, false},
        {"exp", [](Tape& t, Var x) { return ops::exp(t, x); }, [](double v) { return std::exp(v); }, false},
        {"log", [](Tape& t, Var x) { return ops::log(t, x); }, [](double v) { return std::log(v); }, true},
        {"sqrt", [](Tape& t, Var x) { return ops::sqrt(t, x); }, [](double v) { return std::sqrt(v); }, true},
        {"square", [](Tape& t, Var x) { return ops::square(t, x); }, [](double v) { return v * v; }, false},
        {"sigmoid", [](Tape& t, Var x) { return ops::sigmoid(t, x); }, [](double v) { return 1 / (1 + std::exp(-v)); }, false},
        {"abs", [](Tape& t, Var x) { return ops::abs(t, x); }, [](double v) { return std::fabs(v); }, false},
        {"leaky_relu", [](Tape& t, Var x) { return ops::leaky_relu(t, x, 0.01); },
         [](double v) { return v > 0 ? v : 0.01 * v; }, false},
        {"clamp", [](Tape& t, Var x) { return ops::clamp(t, x, -1.0, 1.0); },
         [](double v) { return std::min(1.0, std::max(-1.0, v)); }, false},
    };
    for (const Case& c : cases) {
        const std::vector<double>& in = c.positive ? pos : xs;
        std::vector<double> out, grad;
        run_unary(c.f, in, out, grad);
        for (size_t i = 0; i < in.size(); ++i)
            EXPECT_NEAR(out[i], c.ref(in[i]), 1e-14 * (1 + std::fabs(c.ref(in[i])))) << c.name << " at " << in[i];  // libm rounding
    }
}

TEST(GradElementwise, SigmoidIsStableForLargeInputs) {
    std::vector<double> out, grad;
    run_unary([](Tape& t, Var x) { return ops::sigmoid(t, x); }, {-800.0, 800.0}, out, grad);
    EXPECT_EQ(out[0], 0.0);  // exp(-800) underflows; the stable form gives 0, not NaN
    EXPECT_EQ(out[1], 1.0);
    EXPECT_EQ(grad[0], 0.0);
    EXPECT_EQ(grad[1], 0.0);
}

TEST(GradElementwise, UnaryGradientsSmooth) {
    Shape s = {3, 4};
    Tensor x = random_tensor(s, DType::F64, 21);
    Tensor pos = random_tensor(s, DType::F64, 22, 0.5, 2.0);  // log and sqrt need x > 0
    std::vector<std::pair<std::string, UnaryFn>> on_x = {
        {"scale", [](Tape& t, Var v) { return ops::scale(t, v, -1.7); }},
        {"add_scalar", [](Tape& t, Var v) { return ops::add_scalar(t, v, 3.0); }},
        {"exp", [](Tape& t, Var v) { return ops::exp(t, v); }},
        {"square", [](Tape& t, Var v) { return ops::square(t, v); }},
        {"sigmoid", [](Tape& t, Var v) { return ops::sigmoid(t, v); }},
        {"nan_to_num (finite x)", [](Tape& t, Var v) { return ops::nan_to_num(t, v, 0.0, 1e6, -1e6); }},
    };
    for (auto& [name, f] : on_x)
        test::expect_grad_matches(name, [&](Tape& t, const std::vector<Var>& v) { return f(t, v[0]); }, {x});
    test::expect_grad_matches("log", [](Tape& t, const std::vector<Var>& v) { return ops::log(t, v[0]); }, {pos});
    test::expect_grad_matches("sqrt", [](Tape& t, const std::vector<Var>& v) { return ops::sqrt(t, v[0]); }, {pos});
}

TEST(GradElementwise, UnaryGradientsPiecewise) {
    // Inputs kept >= 0.05 away from every kink (0 for abs/leaky_relu, lo/hi for clamp), so central differences
    // with step 1e-6 see one linear piece.
    Shape s = {4, 5};
    test::expect_grad_matches("abs", [](Tape& t, const std::vector<Var>& v) { return ops::abs(t, v[0]); },
                              {away_from(s, 31, {0.0}, 0.05)});
    test::expect_grad_matches("leaky_relu",
                              [](Tape& t, const std::vector<Var>& v) { return ops::leaky_relu(t, v[0], 0.2); },
                              {away_from(s, 32, {0.0}, 0.05)});
    test::expect_grad_matches("clamp", [](Tape& t, const std::vector<Var>& v) { return ops::clamp(t, v[0], -0.4, 0.3); },
                              {away_from(s, 33, {-0.4, 0.3}, 0.05)});
}

TEST(GradElementwise, KinksFollowTorch) {
    std::vector<double> out, grad;
    // leaky_relu: gradient 1 only where x > 0; at 0 it is the slope.
    run_unary([](Tape& t, Var x) { return ops::leaky_relu(t, x, 0.1); }, {-2.0, 0.0, 3.0}, out, grad);
    EXPECT_EQ(grad, (std::vector<double>{0.1, 0.1, 1.0}));
    EXPECT_EQ(out, (std::vector<double>{-0.2, 0.0, 3.0}));
    // abs: sign(x), 0 at 0.
    run_unary([](Tape& t, Var x) { return ops::abs(t, x); }, {-2.0, 0.0, 3.0}, out, grad);
    EXPECT_EQ(grad, (std::vector<double>{-1.0, 0.0, 1.0}));
    // clamp: inclusive at both bounds.
    run_unary([](Tape& t, Var x) { return ops::clamp(t, x, -1.0, 2.0); }, {-1.5, -1.0, 0.5, 2.0, 2.5}, out, grad);
    EXPECT_EQ(out, (std::vector<double>{-1.0, -1.0, 0.5, 2.0, 2.0}));
    EXPECT_EQ(grad, (std::vector<double>{0.0, 1.0, 1.0, 1.0, 0.0}));
    // sqrt: 0.5 / sqrt(x).
    run_unary([](Tape& t, Var x) { return ops::sqrt(t, x); }, {4.0}, out, grad);
    EXPECT_DOUBLE_EQ(grad[0], 0.25);
}

TEST(GradElementwise, NanToNumValuesAndMask) {
    std::vector<double> out, grad;
    run_unary([](Tape& t, Var x) { return ops::nan_to_num(t, x, 7.0, 8.0, -9.0); }, {kNaN, kInf, -kInf, 1.5}, out,
              grad);
    EXPECT_EQ(out, (std::vector<double>{7.0, 8.0, -9.0, 1.5}));
    EXPECT_EQ(grad, (std::vector<double>{0.0, 0.0, 0.0, 1.0}));  // gradient only where x is finite
    // clamp keeps NaN (as torch.clamp) and gives it no gradient.
    run_unary([](Tape& t, Var x) { return ops::clamp(t, x, 0.0, 1.0); }, {kNaN}, out, grad);
    EXPECT_TRUE(std::isnan(out[0]));
    EXPECT_EQ(grad[0], 0.0);
}

TEST(GradElementwise, NanToNumPassesFiniteTensorsThrough) {
    // A finite x is returned as it is (no copy, gradient straight to x); one non-finite value anywhere, here in the
    // last of several check chunks, makes the op run.
    Tensor x = random_tensor({3, 200000}, DType::F64, 43);
    Tape t;
    Var vx = t.input(x);
    EXPECT_EQ(ops::nan_to_num(t, vx, 0.0, 0.0, 0.0).id, vx.id);
    Tensor y = x.clone();
    y.f64()[y.numel() - 1] = kInf;
    Var vy = t.input(y);
    Var out = ops::nan_to_num(t, vy, 0.0, 5.0, 0.0);
    EXPECT_NE(out.id, vy.id);
    EXPECT_EQ(t.value(out).to_vector().back(), 5.0);
}

TEST(GradElementwise, BinaryOps) {
    Tensor a = random_tensor({3, 5}, DType::F64, 41), b = random_tensor({3, 5}, DType::F64, 42);
    Tape t;
    Var va = t.constant(a), vb = t.constant(b);
    std::vector<double> s = t.value(ops::add(t, va, vb)).to_vector(), d = t.value(ops::sub(t, va, vb)).to_vector(),
                        p = t.value(ops::mul(t, va, vb)).to_vector();
    for (int64_t i = 0; i < a.numel(); ++i) {
        EXPECT_EQ(s[i], a.f64()[i] + b.f64()[i]);  // one rounding, same as the formula
        EXPECT_EQ(d[i], a.f64()[i] - b.f64()[i]);
        EXPECT_EQ(p[i], a.f64()[i] * b.f64()[i]);
    }
    test::expect_grad_matches("add", [](Tape& t, const std::vector<Var>& v) { return ops::add(t, v[0], v[1]); }, {a, b});
    test::expect_grad_matches("sub", [](Tape& t, const std::vector<Var>& v) { return ops::sub(t, v[0], v[1]); }, {a, b});
    test::expect_grad_matches("mul", [](Tape& t, const std::vector<Var>& v) { return ops::mul(t, v[0], v[1]); }, {a, b});
    // The same variable on both sides accumulates both contributions: d(x*x) = 2x, d(x-x) = 0.
    test::expect_grad_matches("mul(x, x)", [](Tape& t, const std::vector<Var>& v) { return ops::mul(t, v[0], v[0]); }, {a});
    test::expect_grad_matches("sub(x, x)", [](Tape& t, const std::vector<Var>& v) { return ops::sub(t, v[0], v[0]); }, {a});
}

TEST(GradElementwise, BinaryShapeMismatchNamesOpAndShapes) {
    Tape t;
    Var a = t.constant(Tensor::zeros({2, 3}, DType::F64)), b = t.constant(Tensor::zeros({3, 2}, DType::F64));
    try {
        ops::mul(t, a, b);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("mul"), std::string::npos) << m;
        EXPECT_NE(m.find("[3, 2]"), std::string::npos) << m;
        EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    }
    Var c = t.constant(Tensor::zeros({2, 3}, DType::F32));
    EXPECT_THROW(ops::add(t, a, c), Error);  // dtype mismatch
}

TEST(GradElementwise, BroadcastForwardAndGradient) {
    struct Case { Shape in, out; };
    std::vector<Case> cases = {{{3, 1}, {3, 4}},       {{1, 4}, {3, 4}},          {{1, 1}, {2, 3}},
                               {{2, 1, 3}, {2, 4, 3}}, {{1, 2, 1, 3}, {2, 2, 3, 3}}, {{5}, {5}}};
    for (const Case& c : cases) {
        Tensor x = random_tensor(c.in, DType::F64, 51);
        std::string name = "broadcast " + shape_str(c.in) + " -> " + shape_str(c.out);
        // Forward against an index formula padded to 4 dims.
        Tape t;
        Tensor y = t.value(ops::broadcast_to(t, t.constant(x), c.out));
        ASSERT_EQ(y.shape, c.out) << name;
        Shape in4 = c.in, out4 = c.out;
        while (in4.size() < 4) in4.insert(in4.begin(), 1), out4.insert(out4.begin(), 1);
        int64_t o = 0;
        for (int64_t a = 0; a < out4[0]; ++a)
            for (int64_t b = 0; b < out4[1]; ++b)
                for (int64_t cc = 0; cc < out4[2]; ++cc)
                    for (int64_t d = 0; d < out4[3]; ++d, ++o) {
                        int64_t idx[4] = {a, b, cc, d}, src = 0;
                        for (int k = 0; k < 4; ++k) src = src * in4[k] + (in4[k] == 1 ? 0 : idx[k]);
                        EXPECT_EQ(y.f64()[o], x.f64()[src]) << name << " at " << o;
                    }
        Shape target = c.out;
        test::expect_grad_matches(
            name, [target](Tape& t, const std::vector<Var>& v) { return ops::broadcast_to(t, v[0], target); }, {x});
    }
}

TEST(GradElementwise, BroadcastRejectsBadShapes) {
    Tape t;
    Var x = t.constant(Tensor::zeros({2, 3}, DType::F64));
    EXPECT_THROW(ops::broadcast_to(t, x, {4, 3}), Error);     // 2 is neither 1 nor 4
    EXPECT_THROW(ops::broadcast_to(t, x, {1, 2, 3}), Error);  // dims must be equal in number
    Var x5 = t.constant(Tensor::zeros({1, 1, 1, 1, 1}, DType::F64));
    EXPECT_THROW(ops::broadcast_to(t, x5, {1, 1, 1, 1, 2}), Error);  // at most 4 dims
}

TEST(GradElementwise, ReshapeIsAViewWithReshapedGradient) {
    Tensor x = random_tensor({2, 6}, DType::F64, 61);
    Tape t;
    Var vx = t.constant(x);
    Tensor y = t.value(ops::reshape(t, vx, {3, 4}));
    EXPECT_EQ(y.shape, (Shape{3, 4}));
    EXPECT_EQ(y.data(), x.data());  // same storage
    EXPECT_THROW(ops::reshape(t, vx, {5}), Error);
    Tensor w = random_tensor({3, 4}, DType::F64, 62);
    // reshape then multiply by a weight, so the gradient layout matters.
    test::expect_grad_matches(
        "reshape", [](Tape& t, const std::vector<Var>& v) { return ops::mul(t, ops::reshape(t, v[0], {3, 4}), v[1]); },
        {x, w});
}

TEST(GradElementwise, SoftmaxRows) {
    Tensor x = random_tensor({3, 5}, DType::F64, 71, -3, 3);
    Tape t;
    Tensor y = t.value(ops::softmax_rows(t, t.constant(x)));
    for (int r = 0; r < 3; ++r) {
        double s = 0;
        for (int c = 0; c < 5; ++c) s += std::exp(x.f64()[r * 5 + c]);
        for (int c = 0; c < 5; ++c)
            EXPECT_NEAR(y.f64()[r * 5 + c], std::exp(x.f64()[r * 5 + c]) / s, 1e-15);  // double rounding only
    }
    // Large logits: the max shift keeps it finite (exp(1000) overflows).
    Tensor big = Tensor::from_vector({1, 3}, {1000.0, 1001.0, 999.0}, DType::F64);
    std::vector<double> yb = t.value(ops::softmax_rows(t, t.constant(big))).to_vector();
    double z = std::exp(-1.0) + 1.0 + std::exp(-2.0);
    EXPECT_NEAR(yb[0], std::exp(-1.0) / z, 1e-15);
    EXPECT_NEAR(yb[1], 1.0 / z, 1e-15);
    test::expect_grad_matches("softmax_rows", [](Tape& t, const std::vector<Var>& v) { return ops::softmax_rows(t, v[0]); },
                              {x});
    test::expect_grad_matches("softmax_rows 3-D",
                              [](Tape& t, const std::vector<Var>& v) { return ops::softmax_rows(t, v[0]); },
                              {random_tensor({2, 2, 4}, DType::F64, 72)});
}

TEST(GradElementwise, ConcatLast) {
    Tensor a = random_tensor({2, 3, 2}, DType::F64, 81), b = random_tensor({2, 3, 1}, DType::F64, 82),
           c = random_tensor({2, 3, 4}, DType::F64, 83);
    Tape t;
    Tensor y = t.value(ops::concat_last(t, {t.constant(a), t.constant(b), t.constant(c)}));
    ASSERT_EQ(y.shape, (Shape{2, 3, 7}));
    for (int r = 0; r < 6; ++r) {
        for (int k = 0; k < 2; ++k) EXPECT_EQ(y.f64()[r * 7 + k], a.f64()[r * 2 + k]);
        EXPECT_EQ(y.f64()[r * 7 + 2], b.f64()[r]);
        for (int k = 0; k < 4; ++k) EXPECT_EQ(y.f64()[r * 7 + 3 + k], c.f64()[r * 4 + k]);
    }
    test::expect_grad_matches(
        "concat_last", [](Tape& t, const std::vector<Var>& v) { return ops::concat_last(t, {v[0], v[1], v[2]}); },
        {a, b, c});
    // A part used twice gets both slices' gradients.
    test::expect_grad_matches(
        "concat_last(a, a)", [](Tape& t, const std::vector<Var>& v) { return ops::concat_last(t, {v[0], v[0]}); }, {a});
    Var bad = t.constant(Tensor::zeros({3, 2, 1}, DType::F64));
    EXPECT_THROW(ops::concat_last(t, {t.constant(a), bad}), Error);  // leading dims [2, 3] vs [3, 2]
}

TEST(GradElementwise, LogStandardize) {
    const int64_t R = 3, C = 4;
    Tensor x = random_tensor({R, C}, DType::F64, 91, 0.0, 5.0);
    Tensor m = random_tensor({C}, DType::F64, 92, -0.5, 0.5), s = random_tensor({C}, DType::F64, 93, 0.5, 2.0);
    Tape t;
    Tensor y = t.value(ops::log_standardize(t, t.constant(x), m, s));
    for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < C; ++c)
            EXPECT_NEAR(y.f64()[r * C + c], (std::log(x.f64()[r * C + c] + 1) - m.f64()[c]) / s.f64()[c], 1e-14);
    test::expect_grad_matches(
        "log_standardize",
        [&](Tape& t, const std::vector<Var>& v) { return ops::log_standardize(t, v[0], m, s); }, {x});
}

TEST(GradElementwise, LogStandardizeNonFinite) {
    // Column 0: x = -1 gives log 0 = -inf -> 1e-6; x = -2 gives NaN -> 1e-6. Column 1 has std 0: a positive
    // numerator gives +inf -> 1e6, a zero numerator NaN -> 1e-6. Column 2 is ordinary. No gradient where z was
    // not finite; elsewhere 1 / ((x + 1) std).
    Tensor x = Tensor::from_vector({2, 3}, {-1.0, 1.0, 3.0, -2.0, 0.0, 0.5}, DType::F64);
    Tensor m = Tensor::from_vector({3}, {0.0, 0.0, 0.1}, DType::F64), s = Tensor::from_vector({3}, {1.0, 0.0, 2.0}, DType::F64);
    Tape t;
    Var vx = t.input(x);
    Var y = ops::log_standardize(t, vx, m, s);
    std::vector<double> yv = t.value(y).to_vector();
    EXPECT_EQ(yv[0], 1e-6);
    EXPECT_EQ(yv[1], 1e6);
    EXPECT_NEAR(yv[2], (std::log(4.0) - 0.1) / 2.0, 1e-15);
    EXPECT_EQ(yv[3], 1e-6);
    EXPECT_EQ(yv[4], 1e-6);
    t.backward(y, Tensor::full({2, 3}, 1.0, DType::F64));
    std::vector<double> g = t.grad(vx).to_vector();
    EXPECT_EQ(g[0], 0.0);
    EXPECT_EQ(g[1], 0.0);
    EXPECT_NEAR(g[2], 1.0 / (4.0 * 2.0), 1e-15);
    EXPECT_EQ(g[3], 0.0);
    EXPECT_EQ(g[4], 0.0);
    EXPECT_NEAR(g[5], 1.0 / (1.5 * 2.0), 1e-15);
}

TEST(GradElementwise, ResidualMlpComposition) {
    // y = leaky(linear2(leaky(linear1(x)))) + x, as the decoder's residual blocks.
    const int64_t N = 4, H = 5;
    Tensor x = random_tensor({N, H}, DType::F64, 101), W1 = random_tensor({H, H}, DType::F64, 102),
           b1 = random_tensor({H}, DType::F64, 103), W2 = random_tensor({H, H}, DType::F64, 104),
           b2 = random_tensor({H}, DType::F64, 105);
    auto build = [](Tape& t, const std::vector<Var>& v, Var* pre1, Var* pre2) {
        Var h1 = ops::linear(t, v[0], v[1], v[2]);
        Var a1 = ops::leaky_relu(t, h1, 0.01);
        Var h2 = ops::linear(t, a1, v[3], v[4]);
        if (pre1) *pre1 = h1;
        if (pre2) *pre2 = h2;
        return ops::add(t, ops::leaky_relu(t, h2, 0.01), v[0]);
    };
    // The leaky_relu kink at 0 must be far from every pre-activation (the finite differences move them by ~1e-6).
    {
        Tape t;
        std::vector<Var> v;
        for (const Tensor& p : {x, W1, b1, W2, b2}) v.push_back(t.constant(p));
        Var p1, p2;
        build(t, v, &p1, &p2);
        for (Var p : {p1, p2})
            for (double h : t.value(p).to_vector()) ASSERT_GT(std::fabs(h), 1e-3) << "pre-activation near the kink";
    }
    test::expect_grad_matches(
        "residual mlp", [&](Tape& t, const std::vector<Var>& v) { return build(t, v, nullptr, nullptr); },
        {x, W1, b1, W2, b2});
}

TEST(GradElementwise, LogSoftmaxComposition) {
    Tensor x = random_tensor({3, 6}, DType::F64, 111, -2, 2);
    test::expect_grad_matches(
        "log(softmax)", [](Tape& t, const std::vector<Var>& v) { return ops::log(t, ops::softmax_rows(t, v[0])); }, {x});
    // Analytic check of the composition: d/dx_j sum_k w_k log softmax_k = w_j - softmax_j sum_k w_k.
    Tape t;
    Var vx = t.input(x);
    Tensor w = random_tensor({3, 6}, DType::F64, 112);
    t.backward(ops::log(t, ops::softmax_rows(t, vx)), w);
    std::vector<double> g = t.grad(vx).to_vector();
    for (int r = 0; r < 3; ++r) {
        double z = 0, ws = 0;
        for (int c = 0; c < 6; ++c) z += std::exp(x.f64()[r * 6 + c]), ws += w.f64()[r * 6 + c];
        for (int c = 0; c < 6; ++c)
            EXPECT_NEAR(g[r * 6 + c], w.f64()[r * 6 + c] - std::exp(x.f64()[r * 6 + c]) / z * ws, 1e-13);  // rounding
    }
}
