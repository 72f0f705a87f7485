// ParamStore (declare/finalize/views/index/to, tape gradients landing in the flat buffer), Adam against a
// hand-written textbook Adam in plain double arithmetic (weight decay, bias correction, eps), global L2 norm and
// torch-style global-norm clipping.
#include <cmath>

#include "engine/ops/linear.h"
#include "engine/optim.h"
#include "tests/harness.h"

using namespace gpo;

TEST(Params, DeclareFinalizeAndViewsAlias) {
    ParamStore ps;
    EXPECT_EQ(ps.declare("b", {4}), 0);
    EXPECT_EQ(ps.declare("W", {2, 3}), 1);
    EXPECT_FALSE(ps.finalized());
    ps.finalize(Device::CPU, DType::F64);
    EXPECT_TRUE(ps.finalized());
    EXPECT_EQ(ps.numel(), 10);
    EXPECT_EQ(ps.entries()[1].offset, 4);
    EXPECT_EQ(ps.value(1).shape, (Shape{2, 3}));
    EXPECT_EQ(ps.values().to_vector(), std::vector<double>(10, 0.0));  // zeros
    // Writing through a view changes the flat buffer, and the other way round.
    ps.value("W").f64()[5] = 7.0;
    EXPECT_EQ(ps.values().f64()[4 + 5], 7.0);
    ps.grads().f64()[2] = -3.0;
    EXPECT_EQ(ps.grad(0).f64()[2], -3.0);
    EXPECT_EQ(ps.index("W"), 1);
    ps.zero_grad();
    EXPECT_EQ(ps.grad(0).f64()[2], 0.0);
}

TEST(Params, UnknownNameAndMisuseThrow) {
    ParamStore ps;
    ps.declare("encoder.w", {2});
    EXPECT_THROW(ps.declare("encoder.w", {3}), Error);  // duplicate
    ps.finalize(Device::CPU);
    try {
        ps.index("decoder.hidden");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("decoder.hidden"), std::string::npos) << e.what();
    }
    EXPECT_THROW(ps.value("nope"), Error);
    EXPECT_THROW(ps.declare("late", {1}), Error);  // after finalize
    EXPECT_THROW(ps.value(3), Error);              // index out of range
}

TEST(Params, TapeParamGradientsLandInGrads) {
    ParamStore ps;
    ps.declare("unused", {3});
    int w = ps.declare("W", {2, 3});
    ps.finalize(Device::CPU, DType::F64);
    std::vector<double> Wv = {1, 2, 3, 4, 5, 6}, xv = {0.5, -1.0, 2.0}, sv = {1.5, -2.0};
    ps.value(w).copy_from(Tensor::from_vector({2, 3}, Wv, DType::F64));
    for (int pass = 1; pass <= 2; ++pass) {  // two backward passes accumulate
        Tape t;
        Var y = ops::matmul(t, ps.on_tape(t, w), t.constant(Tensor::from_vector({3, 1}, xv, DType::F64)));
        t.backward(y, Tensor::from_vector({2, 1}, sv, DType::F64));
        // y = W x: dW[i][j] = seed[i] * x[j], exactly representable.
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 3; ++j) EXPECT_EQ(ps.grads().f64()[3 + i * 3 + j], pass * sv[i] * xv[j]);
        for (int k = 0; k < 3; ++k) EXPECT_EQ(ps.grads().f64()[k], 0.0);  // "unused" got nothing
    }
}

TEST(Params, ToDeviceKeepsValuesAndRederivesViews) {
    ParamStore ps;
    ps.declare("a", {2});
    ps.declare("b", {3});
    ps.finalize(Device::CPU, DType::F32);
    for (int i = 0; i < 5; ++i) ps.values().f32()[i] = (float)i + 0.5f;
    ps.grads().f32()[4] = 2.0f;
    ps.to(Device::CPU);  // a copy: the views now come from the new buffers
    EXPECT_EQ(ps.value("b").to_vector(), (std::vector<double>{2.5, 3.5, 4.5}));
    EXPECT_EQ(ps.grad(1).to_vector(), (std::vector<double>{0, 0, 2}));
    ps.value(0).f32()[1] = 9.f;
    EXPECT_EQ(ps.values().f32()[1], 9.f);
}

namespace {

// Textbook Adam (Kingma & Ba, with torch's coupled L2 decay) in plain double: p, m, v updated in place.
void hand_adam(std::vector<double>& p, std::vector<double>& m, std::vector<double>& v, const std::vector<double>& g,
               int t, const AdamConfig& c) {
    for (size_t i = 0; i < p.size(); ++i) {
        double gi = g[i] + c.weight_decay * p[i];
        m[i] = c.beta1 * m[i] + (1 - c.beta1) * gi;
        v[i] = c.beta2 * v[i] + (1 - c.beta2) * gi * gi;
        double mhat = m[i] / (1 - std::pow(c.beta1, t));
        double vhat = v[i] / (1 - std::pow(c.beta2, t));
        p[i] = p[i] - c.lr * mhat / (std::sqrt(vhat) + c.eps);
    }
}

const std::vector<double> kP0 = {0.5, -1.2, 2.0, 0.0, 1e-3};
const std::vector<std::vector<double>> kGrads = {
    {0.1, -0.3, 2.5, 0.0, 1e-4}, {-0.2, -0.1, 1.0, 0.0, 2e-4}, {0.05, 0.4, -3.0, 0.0, -1e-4}};

void run_adam_vs_hand(DType dt, const AdamConfig& cfg, double tol) {
    ParamStore ps;
    ps.declare("x", {3});
    ps.declare("y", {2});
    ps.finalize(Device::CPU, dt);
    ps.values().copy_from(Tensor::from_vector({5}, kP0, dt));
    Adam opt(cfg, ps);
    std::vector<double> p = kP0, m(5, 0.0), v(5, 0.0);
    for (int t = 1; t <= 3; ++t) {
        ps.grads().copy_from(Tensor::from_vector({5}, kGrads[t - 1], dt));
        opt.step(ps);
        hand_adam(p, m, v, kGrads[t - 1], t, cfg);
        EXPECT_EQ(opt.steps(), t);
        std::vector<double> gp = ps.values().to_vector(), gm = opt.exp_avg().to_vector(),
                            gv = opt.exp_avg_sq().to_vector();
        for (int i = 0; i < 5; ++i) {
            EXPECT_NEAR(gp[i], p[i], tol) << "param " << i << " step " << t;
            EXPECT_NEAR(gm[i], m[i], tol) << "exp_avg " << i << " step " << t;
            EXPECT_NEAR(gv[i], v[i], tol * (1 + v[i])) << "exp_avg_sq " << i << " step " << t;
        }
        EXPECT_EQ(ps.grads().to_vector(), Tensor::from_vector({5}, kGrads[t - 1], dt).to_vector())
            << "Adam must not modify the gradients (torch adds weight decay out of place)";
    }
}

}  // namespace

TEST(Adam, ThreeStepsMatchHandFormulaDouble) {
    // Weight decay and a small eps: the usual regime. Same formula, algebraically rearranged as torch does
    // (lerp for m, sqrt(v)/sqrt(bc2) for sqrt(vhat)): a few ulps of O(1) values, hence 1e-13.
    run_adam_vs_hand(DType::F64, {0.01, 0.9, 0.999, 1e-8, 0.1}, 1e-13);
    // A large eps and other betas, no weight decay: checks where eps enters (after the bias correction).
    run_adam_vs_hand(DType::F64, {0.05, 0.8, 0.99, 1e-3, 0.0}, 1e-13);
}

TEST(Adam, ThreeStepsMatchHandFormulaFloat) {
    // f32 arithmetic against the double formula: values O(1), ~10 roundings of 6e-8 each per step.
    run_adam_vs_hand(DType::F32, {0.01, 0.9, 0.999, 1e-8, 0.1}, 2e-6);
    run_adam_vs_hand(DType::F32, {0.05, 0.8, 0.99, 1e-3, 0.0}, 2e-6);
}

TEST(Adam, FirstStepIsLrTimesSign) {
    // At t = 1 without decay, mhat = g and sqrt(vhat) = |g|: the update is -lr * g / (|g| + eps).
    ParamStore ps;
    ps.declare("x", {3});
    ps.finalize(Device::CPU, DType::F64);
    ps.grads().copy_from(Tensor::from_vector({3}, {2.0, -0.5, 0.0}, DType::F64));
    AdamConfig cfg{0.1, 0.9, 0.999, 1e-8, 0.0};
    Adam opt(cfg, ps);
    opt.step(ps);
    std::vector<double> p = ps.values().to_vector();
    EXPECT_NEAR(p[0], -0.1 * 2.0 / (2.0 + 1e-8), 1e-15);  // rounding only
    EXPECT_NEAR(p[1], 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
    EXPECT_EQ(p[2], 0.0);
}

// A per-step learning rate (a schedule) and a parameter group at another rate: each element follows the textbook
// formula at its own rate, step by step (the hand formula run once per rate, elements picked from each).
TEST(Adam, ScheduledRateAndParameterGroupScaleMatchHandFormula) {
    const AdamConfig base{0.01, 0.9, 0.999, 1e-8, 0.1};
    const double lrs[3] = {0.002, 0.01, 0.004}, scale = 7.0;
    ParamStore ps;
    ps.declare("x", {3});
    ps.declare("y", {2});  // the group: elements 3 and 4
    ps.finalize(Device::CPU, DType::F64);
    ps.values().copy_from(Tensor::from_vector({5}, kP0, DType::F64));
    Adam opt(base, ps);
    opt.set_lr_scale(3, 2, scale);
    EXPECT_THROW(opt.set_lr_scale(4, 1, 2.0), Error);  // overlaps the group
    std::vector<double> p1 = kP0, m1(5, 0.0), v1(5, 0.0), p2 = kP0, m2(5, 0.0), v2(5, 0.0);
    for (int t = 1; t <= 3; ++t) {
        ps.grads().copy_from(Tensor::from_vector({5}, kGrads[t - 1], DType::F64));
        opt.step(ps, lrs[t - 1]);
        AdamConfig c1 = base, c2 = base;
        c1.lr = lrs[t - 1], c2.lr = lrs[t - 1] * scale;
        hand_adam(p1, m1, v1, kGrads[t - 1], t, c1);
        hand_adam(p2, m2, v2, kGrads[t - 1], t, c2);
        std::vector<double> gp = ps.values().to_vector();
        // As ThreeStepsMatchHandFormulaDouble: the same formula rearranged, a few ulps.
        for (int i = 0; i < 5; ++i) EXPECT_NEAR(gp[i], i < 3 ? p1[i] : p2[i], 1e-13) << "param " << i << " step " << t;
    }
}

// One rank's part (docs/scaling.md): with set_part(1, 4) the step moves elements 1..3 as the hand formula, leaves
// 0 and 4 untouched, and the state holds those three elements only — across the boundary of a parameter group.
TEST(Adam, PartKeepsOnlyItsElementsAndTheirMoments) {
    const AdamConfig cfg{0.01, 0.9, 0.999, 1e-8, 0.1};
    const double scale = 3.0;
    ParamStore ps;
    ps.declare("x", {3});
    ps.declare("y", {2});  // a group at 3x the rate: elements 3 and 4
    ps.finalize(Device::CPU, DType::F64);
    ps.values().copy_from(Tensor::from_vector({5}, kP0, DType::F64));
    Adam opt(cfg, ps);
    opt.set_lr_scale(3, 2, scale);
    opt.set_part(1, 4);
    EXPECT_EQ(opt.state_begin(), 1);
    EXPECT_EQ(opt.exp_avg().numel(), 3);
    EXPECT_THROW(opt.set_part(0, 5), Error);  // once only
    std::vector<double> p1 = kP0, m1(5, 0.0), v1(5, 0.0), p2 = kP0, m2(5, 0.0), v2(5, 0.0);
    AdamConfig c2 = cfg;
    c2.lr = cfg.lr * scale;
    for (int t = 1; t <= 3; ++t) {
        ps.grads().copy_from(Tensor::from_vector({5}, kGrads[t - 1], DType::F64));
        opt.step(ps);
        hand_adam(p1, m1, v1, kGrads[t - 1], t, cfg);
        hand_adam(p2, m2, v2, kGrads[t - 1], t, c2);
    }
    const std::vector<double> gp = ps.values().to_vector(), gm = opt.exp_avg().to_vector(),
                              gv = opt.exp_avg_sq().to_vector();
    EXPECT_EQ(gp[0], kP0[0]);
    EXPECT_EQ(gp[4], kP0[4]);
    for (int i = 1; i < 4; ++i) {  // as ThreeStepsMatchHandFormulaDouble: the same formula rearranged, a few ulps
        EXPECT_NEAR(gp[i], i < 3 ? p1[i] : p2[i], 1e-13) << "param " << i;
        EXPECT_NEAR(gm[i - 1], i < 3 ? m1[i] : m2[i], 1e-13) << "exp_avg " << i;
        EXPECT_NEAR(gv[i - 1], i < 3 ? v1[i] : v2[i], 1e-13) << "exp_avg_sq " << i;
    }
}

TEST(Clip, KnownNormUnclippedAndClipped) {
    // grads (3, 4, 12, 0) over two parameters: norm 13.
    for (DType dt : {DType::F64, DType::F32}) {
        ParamStore ps;
        ps.declare("a", {2});
        ps.declare("b", {2});
        ps.finalize(Device::CPU, dt);
        ps.grads().copy_from(Tensor::from_vector({4}, {3, 4, 12, 0}, dt));
        EXPECT_DOUBLE_EQ(global_l2_norm(ps.grads()), 13.0);  // exact in binary, summed in double
        EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 100.0), 13.0);
        EXPECT_EQ(ps.grads().to_vector(), (std::vector<double>{3, 4, 12, 0}));  // untouched below max_norm
        EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 6.5), 13.0);   // returns the norm before clipping
        double coef = 6.5 / (13.0 + 1e-6);
        std::vector<double> g = ps.grads().to_vector();
        double rel = dt == DType::F64 ? 1e-15 : 1e-7;  // one multiply, rounded to the dtype
        for (int i = 0; i < 4; ++i) {
            double expect = std::vector<double>{3, 4, 12, 0}[i] * coef;
            EXPECT_NEAR(g[i], expect, rel * std::fabs(expect));
        }
        EXPECT_LT(global_l2_norm(ps.grads()), 6.5);  // the 1e-6 keeps it just below max_norm
    }
}

TEST(Clip, GlobalNormOfLargeVectorAndZeroGradients) {
    Tensor x = Tensor::full({10000}, 0.5, DType::F32);
    EXPECT_DOUBLE_EQ(global_l2_norm(x), 50.0);  // 10000 * 0.25 summed exactly in double
    ParamStore ps;
    ps.declare("a", {5});
    ps.finalize(Device::CPU);
    EXPECT_EQ(clip_grad_norm(ps, 1.0), 0.0);
    EXPECT_EQ(ps.grads().to_vector(), std::vector<double>(5, 0.0));
}
