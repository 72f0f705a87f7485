// GPO-VAE objective: whole-loss finite-difference gradient check in double at tiny sizes, the exact-savings rule
// (computing only present perturbation rows gives the same loss and gradients as all rows), determinism.
#include <cmath>

#include "engine/models/gpo_vae.h"
#include "tests/harness.h"
#include "tests/model_fixtures.h"

using namespace gpo;
using namespace gpo::models;
using gpo::test::random_tensor;

namespace {

GpoVaeConfig tiny_config() {
    GpoVaeConfig c;
    c.G = 6;
    c.T = 4;
    c.L = 3;
    c.basal_layers = 1;
    c.basal_hidden = 5;
    c.emb_layers = 2;
    c.emb_hidden = 5;
    c.qc_layers = 2;
    c.qc_hidden = 4;
    c.dec_layers = 2;
    c.dec_hidden = 5;
    c.particles = 2;
    c.hops = 2;
    c.tau = 0.3;
    c.gloss_coeff = 2.0;   // reference 100; smaller keeps the terms of comparable size in the check
    c.sparsity_coeff = 1.0;
    return c;
}

// tiny_batch with every cell a control: no perturbation row is present.
Batch control_only_batch(int64_t G) {
    Batch b = test::tiny_batch(G, false);
    b.present.clear();
    std::vector<std::vector<std::pair<int, double>>> empty(6);
    b.D_sub = ops::Dosage::from_lists(empty, 0, DType::F64);
    b.D_plate = b.D_sub;
    return b;
}

struct LossAndGrads {
    double loss;
    std::vector<double> grads;
};

LossAndGrads run_once(const GpoVaeConfig& c, ParamStore& ps, const GpoVae& m, const Batch& b) {
    ps.zero_grad();
    Tape tape;
    LossTerms t = m.loss(tape, ps, b, RngKey{7, 0}, 3);
    tape.backward(t.total);
    (void)c;
    return {t.loss, ps.grads().to_vector()};
}

}  // namespace

TEST(ModelGpoVae, WholeLossGradientMatchesFiniteDifferences) {
    GpoVaeConfig c = tiny_config();
    ParamStore ps;
    GpoVae m(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    m.init_params(ps, 5);
    // Give the mask logits spread so the mask samples are mixed, away from the 0.5 rounding boundary.
    Tensor W = ps.value(m.mask_logits());
    W.copy_from(random_tensor(W.shape, DType::F64, 46, -2, 2));
    Batch b = test::tiny_batch(c.G, false);
    LossAndGrads r = run_once(c, ps, m, b);
    ASSERT_TRUE(std::isfinite(r.loss));

    // Central differences over every parameter except the mask logits, whose analytic gradient follows the
    // straight-through rule by design (not the derivative of the sampled loss; checked at op level).
    const ParamStore::Entry& wentry = ps.entries()[m.mask_logits()];
    double* p = ps.values().f64();
    const double eps = 1e-6;
    int checked = 0, bad = 0;
    for (int64_t k = 0; k < ps.numel(); k += 3) {  // every third entry: all tensors covered, test stays fast
        if (k >= wentry.offset && k < wentry.offset + shape_numel(wentry.shape)) continue;
        double orig = p[k];
        p[k] = orig + eps;
        double lp;
        {
            Tape t;
            NoGradGuard ng(t);
            lp = m.loss(t, ps, b, RngKey{7, 0}, 3).loss;
        }
        p[k] = orig - eps;
        double lm;
        {
            Tape t;
            NoGradGuard ng(t);
            lm = m.loss(t, ps, b, RngKey{7, 0}, 3).loss;
        }
        p[k] = orig;
        double num = (lp - lm) / (2 * eps);
        // Smooth loss in double: central-difference error ~1e-9 here; 1e-6 abs + 1e-5 rel leaves margin for
        // accumulated rounding over the ~10 ops between a parameter and the loss.
        if (std::fabs(num - r.grads[k]) > 1e-6 + 1e-5 * std::fabs(num)) {
            if (bad++ < 8) ADD_FAILURE() << "param element " << k << ": analytic " << r.grads[k] << " numeric " << num;
        }
        ++checked;
    }
    EXPECT_GT(checked, 100);
    EXPECT_EQ(bad, 0);
}

TEST(ModelGpoVae, PresentRowsOnlyEqualsAllRows) {
    GpoVaeConfig c = tiny_config();
    ParamStore ps;
    GpoVae m(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    m.init_params(ps, 9);
    Tensor W = ps.value(m.mask_logits());
    W.copy_from(random_tensor(W.shape, DType::F64, 47, -2, 2));
    LossAndGrads subset = run_once(c, ps, m, test::tiny_batch(c.G, false));
    LossAndGrads full = run_once(c, ps, m, test::tiny_batch(c.G, true));
    // Same arithmetic on the same rows; only summation order of unused (zero) contributions differs.
    EXPECT_NEAR(subset.loss, full.loss, 1e-10 * std::fabs(full.loss));
    ASSERT_EQ(subset.grads.size(), full.grads.size());
    int bad = 0;
    for (size_t k = 0; k < full.grads.size(); ++k)
        if (std::fabs(subset.grads[k] - full.grads[k]) > 1e-10 + 1e-9 * std::fabs(full.grads[k])) ++bad;
    EXPECT_EQ(bad, 0) << "gradients differ between the subset and full computations";
}

TEST(ModelGpoVae, SameSeedSameLossDifferentSeedDifferent) {
    GpoVaeConfig c = tiny_config();
    ParamStore ps;
    GpoVae m(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    m.init_params(ps, 11);
    Batch b = test::tiny_batch(c.G, false);
    auto loss_for = [&](uint64_t seed) {
        Tape t;
        return m.loss(t, ps, b, RngKey{seed, 0}, 0).loss;
    };
    EXPECT_EQ(loss_for(1), loss_for(1));
    EXPECT_NE(loss_for(1), loss_for(2));
}

TEST(ModelGpoVae, ControlOnlyBatchHasFiniteLossAndGradients) {
    GpoVaeConfig c = tiny_config();
    ParamStore ps;
    GpoVae m(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    m.init_params(ps, 13);
    Batch b = control_only_batch(c.G);
    LossAndGrads r = run_once(c, ps, m, b);
    EXPECT_TRUE(std::isfinite(r.loss));
    for (double g : r.grads) ASSERT_TRUE(std::isfinite(g));
    // The mask logits get gradient only from the sparsity term: lambda_s * sigmoid'(W) / T^2 each.
    const ParamStore::Entry& w = ps.entries()[m.mask_logits()];
    std::vector<double> W = ps.value(m.mask_logits()).to_vector();
    for (int64_t k = 0; k < shape_numel(w.shape); ++k) {
        double s = 1.0 / (1.0 + std::exp(-W[k]));
        EXPECT_NEAR(r.grads[w.offset + k], c.sparsity_coeff * s * (1 - s) / (double)(c.T * c.T), 1e-12);
    }
}

TEST(ModelGpoVae, GenerateMeansAndSampledCounts) {
    GpoVaeConfig c = tiny_config();
    ParamStore ps;
    GpoVae m(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    m.init_params(ps, 17);
    Tensor W = ps.value(m.mask_logits());
    W.copy_from(random_tensor(W.shape, DType::F64, 48, 1, 3));  // masks mostly on: perturbations matter
    std::vector<std::vector<int>> dos = {{}, {0}, {0, 2}};
    const double lib = 1e4;
    Tensor mean = m.generate(ps, dos, 4, lib, false, RngKey{3, 0}, 0);
    ASSERT_EQ(mean.shape, (Shape{4, 3, c.G}));
    std::vector<double> v = mean.to_vector();
    for (int64_t r = 0; r < 12; ++r) {  // each row is library * softmax: positive, sums to the library
        double s = 0;
        for (int64_t g = 0; g < c.G; ++g) {
            EXPECT_GT(v[r * c.G + g], 0.0);
            s += v[r * c.G + g];
        }
        EXPECT_NEAR(s, lib, 1e-8 * lib);
    }
    EXPECT_EQ(m.generate(ps, dos, 4, lib, false, RngKey{3, 0}, 0).to_vector(), v);  // same key: same draw
    // Sampled counts: non-negative integers whose particle mean approaches the NB mean (rough, 400 particles).
    Tensor counts = m.generate(ps, {{0}}, 400, 100.0, true, RngKey{4, 0}, 0);
    Tensor means = m.generate(ps, {{0}}, 400, 100.0, false, RngKey{4, 0}, 0);
    std::vector<double> x = counts.to_vector(), mu = means.to_vector();
    double sx = 0, smu = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_GE(x[i], 0.0);
        ASSERT_EQ(x[i], std::floor(x[i]));
        sx += x[i];
        smu += mu[i];
    }
    // Total counts: 400 particles x library 100 = 4e4 expected; NB noise with concentration ~1 gives a relative
    // standard error of ~1/sqrt(400) per gene, so 10% on the total is a loose, safe bound.
    EXPECT_NEAR(sx / smu, 1.0, 0.1);
}

// model.grn_target = "measured": the GRN loss leaves out the target columns of unmeasured genes. On a control-only
// batch the predicted K-hop change is 0, so the term is known in closed form from the batch's delta: the reference
// averages |delta - tau| over all B x T entries, "measured" over the B x (T - 1) entries of the measured columns.
// With perturbed cells it must not depend on an unmeasured column's delta at all, and with every column measured
// it equals the reference.
TEST(ModelGpoVae, GrnTargetMeasuredLeavesOutUnmeasuredColumns) {
    GpoVaeConfig c = tiny_config();
    GpoVaeConfig cm = c, call = c;
    cm.grn_measured = {1, 0, 1, 1};  // treatment 1's gene has no measured expression
    call.grn_measured = {1, 1, 1, 1};
    ParamStore ps_ref, ps_m, ps_all;
    GpoVae ref(c, ps_ref), meas(cm, ps_m), all(call, ps_all);
    for (ParamStore* ps : {&ps_ref, &ps_m, &ps_all}) ps->finalize(Device::CPU, DType::F64);
    ref.init_params(ps_ref, 21), meas.init_params(ps_m, 21), all.init_params(ps_all, 21);
    auto grn_of = [](const GpoVae& m, const ParamStore& ps, const Batch& b) {
        Tape t;
        NoGradGuard ng(t);
        return m.loss(t, ps, b, RngKey{7, 0}, 3).grn;
    };

    Batch ctrl = control_only_batch(c.G);
    const std::vector<double> delta = ctrl.delta.to_vector();
    double all_sum = 0, measured_sum = 0;
    for (int64_t n = 0; n < 6; ++n)
        for (int64_t j = 0; j < c.T; ++j) {
            const double e = std::fabs(delta[n * c.T + j] - c.tau);
            all_sum += e;
            if (j != 1) measured_sum += e;
        }
    // A handful of additions in double: agreement to rounding.
    EXPECT_NEAR(grn_of(ref, ps_ref, ctrl), c.gloss_coeff * all_sum / (6.0 * c.T), 1e-12);
    EXPECT_NEAR(grn_of(meas, ps_m, ctrl), c.gloss_coeff * measured_sum / (6.0 * (c.T - 1)), 1e-12);

    Batch b = test::tiny_batch(c.G, false);
    const double ref_before = grn_of(ref, ps_ref, b), meas_before = grn_of(meas, ps_m, b);
    EXPECT_EQ(grn_of(all, ps_all, b), ref_before);
    std::vector<double> d2 = b.delta.to_vector();
    for (int64_t n = 0; n < 6; ++n) d2[n * c.T + 1] += 3.0;
    b.delta = Tensor::from_vector(b.delta.shape, d2, DType::F64);
    EXPECT_EQ(grn_of(meas, ps_m, b), meas_before);
    EXPECT_NE(grn_of(ref, ps_ref, b), ref_before);
}

// model.grn_target = "profile": the stand-in changes are added to Δ before the GRN loss. Independently: the
// reference objective on a batch whose delta was raised by hand (cell n by the sum of the stand-in rows of its
// treatments, the cells' treatments as tests/model_fixtures.h lists them) gives the same GRN term and gradients.
TEST(ModelGpoVae, GrnStandInEqualsTheReferenceOnARaisedDelta) {
    GpoVaeConfig c = tiny_config();
    GpoVaeConfig cs = c;
    cs.grn_stand_in.assign((size_t)(c.T * c.T), 0.0);
    // Column 1 is an unmeasured perturbed gene: treatments 0 and 2 get stand-in changes into it.
    cs.grn_stand_in[0 * 4 + 1] = 0.7;
    cs.grn_stand_in[2 * 4 + 1] = 0.25;
    ParamStore ps_ref, ps_s;
    GpoVae ref(c, ps_ref), stand(cs, ps_s);
    ps_ref.finalize(Device::CPU, DType::F64), ps_s.finalize(Device::CPU, DType::F64);
    ref.init_params(ps_ref, 23), stand.init_params(ps_s, 23);
    Batch b = test::tiny_batch(c.G, false);
    Batch raised = b;
    std::vector<double> d = b.delta.to_vector();
    const std::vector<std::vector<int>> treat = {{0}, {1}, {0, 2}, {}, {2}, {1}};
    for (int n = 0; n < 6; ++n)
        for (int t : treat[n])
            for (int j = 0; j < 4; ++j) d[n * 4 + j] += cs.grn_stand_in[t * 4 + j];
    EXPECT_NEAR(d[2 * 4 + 1] - b.delta.to_vector()[2 * 4 + 1], 0.7 + 0.25, 1e-15);  // the combination cell: both rows
    raised.delta = Tensor::from_vector(b.delta.shape, d, DType::F64);
    LossAndGrads a = run_once(c, ps_ref, ref, raised), s = run_once(cs, ps_s, stand, b);
    // The same additions in another order: agreement to rounding.
    EXPECT_NEAR(s.loss, a.loss, 1e-12 * std::fabs(a.loss));
    ASSERT_EQ(s.grads.size(), a.grads.size());
    for (size_t k = 0; k < a.grads.size(); ++k) EXPECT_NEAR(s.grads[k], a.grads[k], 1e-12 + 1e-10 * std::fabs(a.grads[k]));
    LossAndGrads plain = run_once(c, ps_ref, ref, b);
    EXPECT_NE(plain.loss, s.loss);
}

// model.grn_prior: the prior's edges start at mask_init + prior_logit, and the loss gains
// prior_weight * mean over the edges |W_e - prior_logit|, whose gradient is prior_weight * sign(W_e - c) / edges on
// the edges and nothing elsewhere (checked on a control-only batch, where the mask gets gradient from the sparsity
// term alone otherwise: ModelGpoVae.WholeLossGradientMatchesFiniteDifferences).
TEST(ModelGpoVae, GrnPriorInitialisesAndPullsItsEdges) {
    GpoVaeConfig c = tiny_config();
    c.mask_init = -0.5;
    GpoVaeConfig cp = c;
    cp.prior_edges = {0 * 4 + 2, 3 * 4 + 1};
    cp.prior_logit = 1.5;
    cp.prior_weight = 0.8;
    ParamStore ps, ps_p;
    GpoVae m(c, ps), mp(cp, ps_p);
    ps.finalize(Device::CPU, DType::F64), ps_p.finalize(Device::CPU, DType::F64);
    m.init_params(ps, 29), mp.init_params(ps_p, 29);
    std::vector<double> W = ps_p.value(mp.mask_logits()).to_vector();
    for (int k = 0; k < 16; ++k) EXPECT_EQ(W[k], k == 2 || k == 13 ? -0.5 + 1.5 : -0.5) << k;
    // Move the two edges to either side of the prior logit, then compare with the model without a prior.
    W[2] = 2.5, W[13] = 0.1;
    ps_p.value(mp.mask_logits()).copy_from(Tensor::from_vector({4, 4}, W, DType::F64));
    ps.value(m.mask_logits()).copy_from(Tensor::from_vector({4, 4}, W, DType::F64));
    Batch b = control_only_batch(c.G);
    ps_p.zero_grad();
    Tape tape;
    LossTerms t = mp.loss(tape, ps_p, b, RngKey{7, 0}, 3);
    tape.backward(t.total);
    LossAndGrads plain = run_once(c, ps, m, b);
    const double expect = 0.8 * (std::fabs(2.5 - 1.5) + std::fabs(0.1 - 1.5)) / 2.0;
    EXPECT_NEAR(t.grn_prior, expect, 1e-12);
    EXPECT_NEAR(t.loss - plain.loss, expect, 1e-12);
    const int64_t off = ps_p.entries()[mp.mask_logits()].offset;
    std::vector<double> g = ps_p.grads().to_vector();
    for (int k = 0; k < 16; ++k) {
        const double pull = k == 2 ? 0.8 / 2.0 : k == 13 ? -0.8 / 2.0 : 0.0;
        EXPECT_NEAR(g[off + k] - plain.grads[off + k], pull, 1e-12) << k;
    }
    // A prior with weight 0 only initialises.
    cp.prior_weight = 0;
    ParamStore ps0;
    GpoVae m0(cp, ps0);
    ps0.finalize(Device::CPU, DType::F64);
    m0.init_params(ps0, 29);
    ps0.value(m0.mask_logits()).copy_from(Tensor::from_vector({4, 4}, W, DType::F64));
    EXPECT_NEAR(run_once(cp, ps0, m0, b).loss, plain.loss, 1e-12);
}

// Annealing weights (models::Batch::kl_weight, penalty_weight): at weight w the loss is the reconstruction plus w
// times the KL-type shares plus the counterfactual term plus w' times the GRN and sparsity terms, with the shares
// taken from the unweighted loss at the same noise (ELBO: every term is a plain sum).
TEST(ModelGpoVae, AnnealingWeightsScaleTheirTermsOnly) {
    GpoVaeConfig c = tiny_config();
    ParamStore ps;
    GpoVae m(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    m.init_params(ps, 31);
    Batch b = test::tiny_batch(c.G, false);
    auto terms = [&](double klw, double pw) {
        Batch bw = b;
        bw.kl_weight = klw, bw.penalty_weight = pw;
        Tape t;
        NoGradGuard ng(t);
        return m.loss(t, ps, bw, RngKey{7, 0}, 3);
    };
    LossTerms full = terms(1, 1), w = terms(0.3, 0.6);
    const double kl = full.kl_z + full.kl_mask + full.kl_emb + full.kl_qc;
    ASSERT_NE(kl, 0.0);
    ASSERT_NE(full.grn + full.sparsity, 0.0);
    EXPECT_NEAR(full.loss, full.recon + kl + full.cf + full.grn + full.sparsity, 1e-10 * std::fabs(full.loss));
    // Sums of the same terms in another order: agreement to rounding.
    EXPECT_NEAR(w.loss, full.recon + 0.3 * kl + full.cf + 0.6 * (full.grn + full.sparsity), 1e-10 * std::fabs(full.loss));
    EXPECT_NEAR(w.recon, full.recon, 1e-12 * std::fabs(full.recon));
    EXPECT_NEAR(w.cf, full.cf, 1e-12 * std::fabs(full.cf));
}
