// SAMS-VAE family (sams_vae with its four inference variants, cpa_vae, conditional_vae) and the IWELBO objective of
// every model: whole-loss finite-difference gradient checks in double at tiny sizes, present-rows-only == all rows,
// IWELBO identities (P = 1 equals the ELBO; never above the ELBO for the same draws; the logsumexp of the evaluation
// log-weights), log_weights against the ELBO decomposition, generation, additive combinations in latent space, and
// short training runs on the embedded dataset.
#include <cmath>
#include <filesystem>

#include "engine/data/preprocess.h"
#include "engine/models/gpo_vae.h"
#include "engine/models/sams_vae.h"
#include "engine/train/trainer.h"
#include "io/config.h"
#include "tests/harness.h"
#include "tests/model_fixtures.h"

using namespace gpo;
using namespace gpo::models;
using gpo::test::random_tensor;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* const kVariants[] = {"mean_field", "correlated_z", "correlated_e", "correlated"};

SamsVaeConfig sams_config(const std::string& type, const std::string& inference, int particles = 2) {
    SamsVaeConfig c;
    c.type = type;
    // cpa_vae has only the free-q(E) guides; its counterparts of the q(E | M) variants (M = 1) are those.
    c.inference = type != "cpa_vae" ? inference : inference == "correlated" ? "correlated_z"
                                                 : inference == "correlated_e" ? "mean_field" : inference;
    c.G = 6;
    c.T = 4;
    c.L = 3;
    c.basal_hidden = 5;
    c.emb_layers = 2;
    c.emb_hidden = 5;
    c.dec_layers = 2;
    c.dec_hidden = 5;
    c.mask_prior = 0.3;
    c.particles = particles;
    return c;
}

GpoVaeConfig gpo_config(int particles = 2) {
    GpoVaeConfig c;
    c.G = 6;
    c.T = 4;
    c.L = 3;
    c.basal_hidden = 5;
    c.emb_layers = 2;
    c.emb_hidden = 5;
    c.qc_layers = 2;
    c.qc_hidden = 4;
    c.dec_hidden = 5;
    c.particles = particles;
    c.hops = 2;
    c.gloss_coeff = 2.0;  // reference 100; smaller keeps the terms of comparable size
    return c;
}

// A model with its parameters (double, CPU), mask logits spread over [-2, 2] so the mask samples are mixed.
template <class M, class C>
struct Built {
    ParamStore ps;
    std::unique_ptr<M> m;
    Built(const C& c, uint64_t seed) {
        m = std::make_unique<M>(c, ps);
        ps.finalize(Device::CPU, DType::F64);
        m->init_params(ps, seed);
        if (m->mask_logits() >= 0) {
            Tensor W = ps.value(m->mask_logits());
            W.copy_from(random_tensor(W.shape, DType::F64, seed + 100, -2, 2));
        }
    }
};
using Sams = Built<SamsVae, SamsVaeConfig>;
using Gpo = Built<GpoVae, GpoVaeConfig>;

struct LossAndGrads {
    LossTerms terms;
    std::vector<double> grads;
};

LossAndGrads run_once(ParamStore& ps, const Model& m, const Batch& b, uint64_t step = 3) {
    ps.zero_grad();
    Tape tape;
    LossTerms t = m.loss(tape, ps, b, RngKey{7, 0}, step);
    tape.backward(t.total);
    return {t, ps.grads().to_vector()};
}

// Central differences of the whole loss over every parameter except the mask logits, whose analytic gradient
// follows the straight-through rule by design (not the derivative of the sampled loss; checked at op level).
void expect_whole_loss_gradient(ParamStore& ps, const Model& m, const Batch& b) {
    LossAndGrads r = run_once(ps, m, b);
    ASSERT_TRUE(std::isfinite(r.terms.loss));
    int64_t skip_lo = 0, skip_hi = 0;
    if (m.mask_logits() >= 0) {
        const ParamStore::Entry& w = ps.entries()[m.mask_logits()];
        skip_lo = w.offset;
        skip_hi = w.offset + shape_numel(w.shape);
    }
    double* p = ps.values().f64();
    const double eps = 1e-6;
    auto loss_at = [&]() {
        Tape t;
        NoGradGuard ng(t);
        return m.loss(t, ps, b, RngKey{7, 0}, 3).loss;
    };
    int checked = 0, bad = 0;
    for (int64_t k = 0; k < ps.numel(); ++k) {
        if (k >= skip_lo && k < skip_hi) continue;
        double orig = p[k];
        p[k] = orig + eps;
        double lp = loss_at();
        p[k] = orig - eps;
        double lm = loss_at();
        p[k] = orig;
        double num = (lp - lm) / (2 * eps);
        // Smooth loss in double (no leaky-ReLU input within eps of 0 at these seeds): central-difference error ~1e-9;
        // 1e-6 abs + 1e-5 rel leaves margin for rounding accumulated over the ~10 ops between a parameter and the loss.
        if (std::fabs(num - r.grads[k]) > 1e-6 + 1e-5 * std::fabs(num)) {
            if (bad++ < 8) ADD_FAILURE() << "param element " << k << ": analytic " << r.grads[k] << " numeric " << num;
        }
        ++checked;
    }
    EXPECT_GT(checked, 100);
    EXPECT_EQ(bad, 0);
}

void expect_same(const LossAndGrads& a, const LossAndGrads& b, double rel, const std::string& what) {
    EXPECT_NEAR(a.terms.loss, b.terms.loss, rel * std::fabs(b.terms.loss)) << what;
    ASSERT_EQ(a.grads.size(), b.grads.size());
    int bad = 0;
    for (size_t k = 0; k < a.grads.size(); ++k)
        if (std::fabs(a.grads[k] - b.grads[k]) > rel * (1.0 + std::fabs(b.grads[k])))
            if (bad++ < 5) ADD_FAILURE() << what << ": gradient " << k << " " << a.grads[k] << " vs " << b.grads[k];
    EXPECT_EQ(bad, 0) << what;
}

}  // namespace

// ---------------------------------------------------------------- gradient checks

TEST(ModelSamsVae, WholeLossGradientEachInferenceVariant) {
    for (const char* inf : kVariants) {
        SCOPED_TRACE(inf);
        Sams s(sams_config("sams_vae", inf), 5);
        expect_whole_loss_gradient(s.ps, *s.m, test::tiny_batch(6, false));
    }
}

TEST(ModelCpaVae, OnlyThePublishedFreeEmbeddingGuidesAreAccepted) {
    for (const char* inf : {"correlated_e", "correlated"}) {
        SamsVaeConfig c = sams_config("sams_vae", inf);
        c.type = "cpa_vae";
        ParamStore ps;
        std::string err = test::error_of([&] { SamsVae m(c, ps); });
        EXPECT_NE(err.find("cpa_vae has a free q(E)"), std::string::npos) << inf << ": " << err;
    }
}

TEST(ModelCpaVae, WholeLossGradientEachInferenceVariant) {
    for (const char* inf : {"mean_field", "correlated_z"}) {
        SCOPED_TRACE(inf);
        Sams s(sams_config("cpa_vae", inf), 6);
        ASSERT_EQ(s.m->mask_logits(), -1);  // no q(M): every parameter is checked
        expect_whole_loss_gradient(s.ps, *s.m, test::tiny_batch(6, false));
    }
}

TEST(ModelConditionalVae, WholeLossGradient) {
    Sams s(sams_config("conditional_vae", "correlated"), 7);
    ASSERT_EQ(s.m->mask_logits(), -1);
    expect_whole_loss_gradient(s.ps, *s.m, test::tiny_batch(6, false));
}

TEST(ModelIwelbo, WholeLossGradientEveryModelType) {
    for (const char* type : {"sams_vae", "cpa_vae", "conditional_vae"}) {
        SCOPED_TRACE(type);
        SamsVaeConfig c = sams_config(type, "correlated", 3);
        c.iwelbo = true;
        Sams s(c, 8);
        expect_whole_loss_gradient(s.ps, *s.m, test::tiny_batch(6, false));
    }
    SCOPED_TRACE("gpo_vae");
    GpoVaeConfig c = gpo_config(3);
    c.iwelbo = true;
    Gpo g(c, 9);
    expect_whole_loss_gradient(g.ps, *g.m, test::tiny_batch(6, false));
}

// ---------------------------------------------------------------- exact savings

TEST(ModelSamsVae, PresentRowsOnlyEqualsAllRows) {
    for (const char* inf : kVariants) {
        SCOPED_TRACE(inf);
        Sams s(sams_config("sams_vae", inf), 9);
        LossAndGrads subset = run_once(s.ps, *s.m, test::tiny_batch(6, false));
        LossAndGrads full = run_once(s.ps, *s.m, test::tiny_batch(6, true));
        // Same arithmetic on the same rows; only the summation order of unused (zero) contributions differs.
        expect_same(subset, full, 1e-10, "subset vs all rows");
    }
}

// The global terms enter through the plate weights 1/N_t only: with every N_t doubled the same draws give exactly half
// the mask and embedding terms, and the same reconstruction and z terms.
TEST(ModelSamsVae, PlateWeightsScaleTheGlobalTerms) {
    for (const char* type : {"sams_vae", "cpa_vae"}) {
        SCOPED_TRACE(type);
        Sams s(sams_config(type, "correlated"), 23);
        LossTerms a = run_once(s.ps, *s.m, test::tiny_batch(6, false)).terms;
        LossTerms b = run_once(s.ps, *s.m, test::tiny_batch(6, false, 2.0)).terms;
        EXPECT_NE(a.kl_emb, 0.0);
        EXPECT_NEAR(b.kl_emb, 0.5 * a.kl_emb, 1e-12 * std::fabs(a.kl_emb));  // one rounding of 1/N_t
        EXPECT_NEAR(b.kl_mask, 0.5 * a.kl_mask, 1e-12 * std::fabs(a.kl_mask));
        if (std::string(type) == "sams_vae") EXPECT_NE(a.kl_mask, 0.0);
        EXPECT_EQ(b.recon, a.recon);
        EXPECT_EQ(b.kl_z, a.kl_z);
        EXPECT_NEAR(b.loss, a.loss - 0.5 * (a.kl_mask + a.kl_emb), 1e-11 * std::fabs(a.loss));
    }
}

// A batch of only control cells: no global row is computed; loss and gradients stay finite, no global terms.
TEST(ModelSamsVae, ControlOnlyBatchEveryType) {
    for (const char* type : {"sams_vae", "cpa_vae", "conditional_vae"}) {
        for (const char* inf : kVariants) {
            SCOPED_TRACE(std::string(type) + " " + inf);
            Sams s(sams_config(type, inf), 24);
            Batch b = test::tiny_batch(6, false);
            b.present.clear();
            std::vector<std::vector<std::pair<int, double>>> empty(6);
            b.D_sub = ops::Dosage::from_lists(empty, 0, DType::F64);
            b.D_plate = b.D_sub;
            LossAndGrads r = run_once(s.ps, *s.m, b);
            EXPECT_TRUE(std::isfinite(r.terms.loss));
            EXPECT_EQ(r.terms.kl_mask, 0.0);
            EXPECT_EQ(r.terms.kl_emb, 0.0);
            for (double g : r.grads) ASSERT_TRUE(std::isfinite(g));
        }
    }
}

// ---------------------------------------------------------------- IWELBO identities

// With P = 1, logsumexp over one particle is the identity and log P = 0, so -(1/B) sum_n [log w_1n] is exactly the
// ELBO -(1/(P B)) sum_{p,n} [R + K^z + K^M + K^E (+ K^qc)] (gpo_vae's cf, GRN and sparsity terms are shared): losses
// and gradients agree up to summation order.
TEST(ModelIwelbo, SingleParticleEqualsElbo) {
    for (const char* type : {"sams_vae", "cpa_vae", "conditional_vae"}) {
        SCOPED_TRACE(type);
        SamsVaeConfig c = sams_config(type, "correlated", 1);
        Sams elbo(c, 10);
        c.iwelbo = true;
        Sams iw(c, 10);
        expect_same(run_once(iw.ps, *iw.m, test::tiny_batch(6, false)), run_once(elbo.ps, *elbo.m, test::tiny_batch(6, false)),
                    1e-12, type);  // double rounding over ~50 summed terms
    }
    GpoVaeConfig c = gpo_config(1);
    Gpo elbo(c, 11);
    c.iwelbo = true;
    Gpo iw(c, 11);
    expect_same(run_once(iw.ps, *iw.m, test::tiny_batch(6, false)), run_once(elbo.ps, *elbo.m, test::tiny_batch(6, false)), 1e-12,
                "gpo_vae");
}

// For the same draws, log((1/P) sum_p e^{a_p}) >= (1/P) sum_p a_p per cell (Jensen, concavity of log), so the IWELBO
// loss is at most the ELBO loss; equality would need identical particles.
TEST(ModelIwelbo, NeverAboveElboForTheSameDraws) {
    for (const char* type : {"sams_vae", "cpa_vae", "conditional_vae"}) {
        SamsVaeConfig c = sams_config(type, "correlated", 4);
        Sams elbo(c, 12);
        c.iwelbo = true;
        Sams iw(c, 12);
        double le = run_once(elbo.ps, *elbo.m, test::tiny_batch(6, false)).terms.loss;
        double li = run_once(iw.ps, *iw.m, test::tiny_batch(6, false)).terms.loss;
        EXPECT_LT(li, le) << type;
    }
    GpoVaeConfig c = gpo_config(4);
    Gpo elbo(c, 13);
    c.iwelbo = true;
    Gpo iw(c, 13);
    EXPECT_LT(run_once(iw.ps, *iw.m, test::tiny_batch(6, false)).terms.loss,
              run_once(elbo.ps, *elbo.m, test::tiny_batch(6, false)).terms.loss);
}

// conditional_vae has no global variables, so its training log-weights are the evaluation log-weights (same noise
// streams at the same step): the IWELBO loss is -(1/B) sum_n [logsumexp_p lw_pn - log P], computed here by hand.
TEST(ModelIwelbo, ConditionalLossIsLogSumExpOfLogWeights) {
    SamsVaeConfig c = sams_config("conditional_vae", "correlated", 3);
    c.iwelbo = true;
    Sams s(c, 14);
    Batch b = test::tiny_batch(6, false);
    double loss = run_once(s.ps, *s.m, b).terms.loss;
    std::vector<double> lw = s.m->log_weights(s.ps, b, 3, RngKey{7, 0}, 3).to_vector();
    double expect = 0;
    for (int n = 0; n < 6; ++n) {
        double mx = -1e300, se = 0;
        for (int p = 0; p < 3; ++p) mx = std::max(mx, lw[p * 6 + n]);
        for (int p = 0; p < 3; ++p) se += std::exp(lw[p * 6 + n] - mx);
        expect += -(mx + std::log(se) - std::log(3.0)) / 6.0;
    }
    EXPECT_NEAR(loss, expect, 1e-12 * std::fabs(expect));  // double rounding only
}

// ---------------------------------------------------------------- log_weights

// ELBO loss = -(1/(P B)) sum_{p,n} log w_pn + (global KL shares): the evaluation weights hold exactly the
// reconstruction and z terms of the training objective when both use the same draws.
TEST(ModelSamsVae, LogWeightsAreTheElboWithoutGlobalTerms) {
    for (const char* type : {"sams_vae", "cpa_vae", "conditional_vae"}) {
        for (const char* inf : kVariants) {
            SCOPED_TRACE(std::string(type) + " " + inf);
            Sams s(sams_config(type, inf, 3), 15);
            Batch b = test::tiny_batch(6, false);
            LossTerms t = run_once(s.ps, *s.m, b).terms;
            std::vector<double> lw = s.m->log_weights(s.ps, b, 3, RngKey{7, 0}, 3).to_vector();
            double sum = 0;
            for (double v : lw) sum += v;
            double rebuilt = -sum / 18.0 + t.kl_mask + t.kl_emb;
            EXPECT_NEAR(t.loss, rebuilt, 1e-11 * std::fabs(t.loss));  // summation order only
            if (std::string(type) == "conditional_vae") EXPECT_EQ(t.kl_emb, 0.0);
        }
    }
}

// gpo_vae with the QC branch off: every cell decodes on the good branch with weight 1 in both the loss and the
// weights, so the loss is -(1/(P B)) sum lw plus the logged global, cf, GRN and sparsity terms.
TEST(ModelIwelbo, GpoLogWeightsAreTheElboWithoutGlobalTerms) {
    GpoVaeConfig c = gpo_config(3);
    c.qc_branch = false;
    Gpo g(c, 16);
    Batch b = test::tiny_batch(6, false);
    LossTerms t = run_once(g.ps, *g.m, b).terms;
    std::vector<double> lw = g.m->log_weights(g.ps, b, 3, RngKey{7, 0}, 3).to_vector();
    double sum = 0;
    for (double v : lw) sum += v;
    double rebuilt = -sum / 18.0 + t.kl_mask + t.kl_emb + t.kl_qc + t.cf + t.grn + t.sparsity;
    EXPECT_NE(t.kl_qc, 0.0);
    EXPECT_NEAR(t.loss, rebuilt, 1e-11 * std::fabs(t.loss));  // summation order only
}

TEST(ModelIwelbo, LogWeightsShapeFiniteAndDeterministic) {
    auto check = [](const ParamStore& ps, const Model& m, const std::string& what) {
        SCOPED_TRACE(what);
        Batch b = test::tiny_batch(6, false);
        Tensor lw = m.log_weights(ps, b, 5, RngKey{3, 2}, 1);
        ASSERT_EQ(lw.shape, (Shape{5, 6}));
        std::vector<double> v = lw.to_vector();
        for (double x : v) {
            ASSERT_TRUE(std::isfinite(x));
            EXPECT_LT(x, 0.0);  // a count log-likelihood over 6 genes with ~10 counts each is far below 0
        }
        EXPECT_EQ(m.log_weights(ps, b, 5, RngKey{3, 2}, 1).to_vector(), v);  // same key and step: same draws
        EXPECT_NE(m.log_weights(ps, b, 5, RngKey{3, 2}, 2).to_vector(), v);
        // Fewer particles: the first particles are the same draws (noise is indexed per particle).
        std::vector<double> v2 = m.log_weights(ps, b, 2, RngKey{3, 2}, 1).to_vector();
        for (size_t i = 0; i < v2.size(); ++i) EXPECT_NEAR(v2[i], v[i], 1e-12 * std::fabs(v[i]));
    };
    for (const char* type : {"sams_vae", "cpa_vae", "conditional_vae"}) {
        Sams s(sams_config(type, "correlated"), 17);
        check(s.ps, *s.m, type);
    }
    Gpo g(gpo_config(), 18);
    check(g.ps, *g.m, "gpo_vae");
}

// ---------------------------------------------------------------- generation

TEST(ModelSamsVae, GenerateMeansAndSampledCountsEveryType) {
    for (const char* type : {"sams_vae", "cpa_vae", "conditional_vae"}) {
        SCOPED_TRACE(type);
        Sams s(sams_config(type, "correlated"), 19);
        std::vector<std::vector<int>> dos = {{}, {0}, {0, 2}};
        const double lib = 1e4;
        Tensor mean = s.m->generate(s.ps, dos, 4, lib, false, RngKey{3, 0}, 0);
        ASSERT_EQ(mean.shape, (Shape{4, 3, 6}));
        std::vector<double> v = mean.to_vector();
        for (int64_t r = 0; r < 12; ++r) {  // each row is library * softmax: positive, sums to the library
            double sum = 0;
            for (int64_t g = 0; g < 6; ++g) {
                EXPECT_GT(v[r * 6 + g], 0.0);
                sum += v[r * 6 + g];
            }
            EXPECT_NEAR(sum, lib, 1e-8 * lib);
        }
        EXPECT_EQ(s.m->generate(s.ps, dos, 4, lib, false, RngKey{3, 0}, 0).to_vector(), v);
        Tensor counts = s.m->generate(s.ps, dos, 4, 100.0, true, RngKey{3, 0}, 0);
        ASSERT_EQ(counts.shape, (Shape{4, 3, 6}));
        for (double x : counts.to_vector()) {
            ASSERT_GE(x, 0.0);
            ASSERT_EQ(x, std::floor(x));
        }
        EXPECT_THROW(s.m->generate(s.ps, {{4}}, 1, lib, false, RngKey{3, 0}, 0), Error);  // T = 4
    }
}

// z = z_b + d (M o E) is additive in the dosage: the offset of {0, 2} is the sum of the offsets of {0} and {2}
// (the same global draws in one call, and across calls since the noise is indexed over all T rows).
TEST(ModelSamsVae, CombinationOffsetIsTheSumOfSingles) {
    for (const char* type : {"sams_vae", "cpa_vae"}) {
        for (const char* inf : kVariants) {
            SCOPED_TRACE(std::string(type) + " " + inf);
            SamsVaeConfig c = sams_config(type, inf);
            Sams s(c, 20);
            if (s.m->mask_logits() >= 0) {  // masks mostly on so offsets are not trivially zero
                Tensor W = s.ps.value(s.m->mask_logits());
                W.copy_from(random_tensor(W.shape, DType::F64, 21, 1, 3));
            }
            Tensor off = s.m->latent_offsets(s.ps, {{0}, {2}, {0, 2}, {}}, 3, RngKey{5, 0}, 4);
            ASSERT_EQ(off.shape, (Shape{3, 4, 3}));
            std::vector<double> o = off.to_vector();
            std::vector<double> single = s.m->latent_offsets(s.ps, {{2}}, 3, RngKey{5, 0}, 4).to_vector();
            double norm = 0;
            for (int p = 0; p < 3; ++p)
                for (int l = 0; l < 3; ++l) {
                    double a = o[(p * 4 + 0) * 3 + l], b2 = o[(p * 4 + 1) * 3 + l], ab = o[(p * 4 + 2) * 3 + l];
                    EXPECT_NEAR(ab, a + b2, 1e-14 * (1 + std::fabs(ab)));  // one rounding of the gather's sum
                    EXPECT_EQ(o[(p * 4 + 3) * 3 + l], 0.0);                 // control: no offset
                    EXPECT_EQ(single[p * 3 + l], b2);                        // same draws in another call
                    norm += std::fabs(a) + std::fabs(b2);
                }
            EXPECT_GT(norm, 0.1);
        }
    }
    Sams cond(sams_config("conditional_vae", "correlated"), 22);
    EXPECT_THROW(cond.m->latent_offsets(cond.ps, {{0}}, 1, RngKey{5, 0}, 0), Error);
}

// ---------------------------------------------------------------- training runs on the embedded dataset

namespace {

json demo_config(const std::string& type) {
    std::string data = std::string(GPO_SOURCE_DIR) + "/data/papalexi2021_thp1_eccite.h5ad";
    return io::config_load(std::string(GPO_SOURCE_DIR) + "/data/configs/" + type + "_demo.json",
                           {"data.path=" + data, "model.n_latent=8", "model.basal_encoder.hidden=16",
                            "model.embedding_encoder.hidden=16", "model.decoder.hidden=16", "train.batch_size=256",
                            "train.particles=2", "train.device=cpu", "train.log_every_steps=1", "train.lr=3e-3"});
}

const data::Dataset& demo_dataset() {  // the data sections of the three demo configs are the same
    static data::Dataset ds = data::preprocess_dataset(demo_config("sams_vae"));
    return ds;
}

train::TrainResult train_steps(const json& cfg, const std::string& name, int64_t steps) {
    fs::path dir = fs::path(GPO_BINARY_DIR) / "test_runs" / name;
    fs::remove_all(dir);
    train::TrainOptions o;
    o.out_dir = dir.string();
    o.quiet = true;
    o.max_steps = steps;
    return train::train(cfg, demo_dataset(), o);
}

void expect_learns(const json& cfg, const std::string& name) {
    train::TrainResult r = train_steps(cfg, name, 40);
    ASSERT_EQ(r.step_losses.size(), 40u);
    double first = 0, last = 0;
    for (int i = 0; i < 5; ++i) first += r.step_losses[i] / 5, last += r.step_losses[35 + i] / 5;
    // Batch-to-batch noise is ~10% of the loss; learning must take the mean well below it.
    EXPECT_LT(last, 0.8 * first) << name << ": mean loss of steps 0-4 " << first << ", of steps 35-39 " << last;
}

}  // namespace

TEST(ModelSamsVae, TrainingRunLossDecreases) { expect_learns(demo_config("sams_vae"), "sams_vae_learns"); }
TEST(ModelCpaVae, TrainingRunLossDecreases) { expect_learns(demo_config("cpa_vae"), "cpa_vae_learns"); }
TEST(ModelConditionalVae, TrainingRunLossDecreases) {
    expect_learns(demo_config("conditional_vae"), "conditional_vae_learns");
}
TEST(ModelIwelbo, TrainingRunLossDecreases) {
    json cfg = demo_config("sams_vae");
    cfg["train"]["objective"] = "iwelbo";
    expect_learns(cfg, "sams_vae_iwelbo_learns");
}

TEST(ModelSamsVae, ConfigFilesLoad) {
    const std::string dir = std::string(GPO_SOURCE_DIR) + "/data/configs/";
    for (const char* t : {"sams_vae", "cpa_vae", "conditional_vae"})
        EXPECT_EQ(io::config_load(dir + t + "_demo.json")["model"]["type"].get<std::string>(), t);
    // docs/model.md §5 table values that differ between the datasets.
    json a = io::config_load(dir + "gpo_vae_adamson.json"), k = io::config_load(dir + "gpo_vae_replogle_k562.json"),
         r = io::config_load(dir + "gpo_vae_replogle_rpe1.json");
    EXPECT_EQ(a["model"]["n_latent"], 100);
    EXPECT_EQ(r["model"]["n_latent"], 200);
    EXPECT_EQ(a["model"]["basal_encoder"]["hidden"], 400);
    EXPECT_EQ(k["model"]["basal_encoder"]["hidden"], 200);
    EXPECT_DOUBLE_EQ(a["model"]["fc_criteria"].get<double>(), 0.4);
    EXPECT_DOUBLE_EQ(k["model"]["fc_criteria"].get<double>(), 0.8);
    EXPECT_DOUBLE_EQ(r["model"]["fc_criteria"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(a["model"]["sparsity_coeff"].get<double>(), 1.0);
    EXPECT_DOUBLE_EQ(k["model"]["sparsity_coeff"].get<double>(), 5.0);
    EXPECT_DOUBLE_EQ(r["model"]["sparsity_coeff"].get<double>(), 10.0);
    EXPECT_EQ(a["data"]["extended_gene_column"], "FC2");
    EXPECT_EQ(k["data"]["extended_gene_column"], "FC3");
}
