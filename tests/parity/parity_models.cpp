// Whole-model CUDA-vs-CPU parity: gpo_vae and sams_vae at small sizes, the same parameters, batch and noise (the
// Philox streams are identical on both devices), in float32. One step: the loss, every term and every gradient
// entry; then 20 steps of Adam with clipping: every parameter. Skipped with the reason without a GPU;
// GPO_REQUIRE_GPU=1 makes that a failure.
#include "engine/models/gpo_vae.h"
#include "engine/models/sams_vae.h"
#include "engine/optim.h"
#include "tests/harness.h"
#include "tests/model_fixtures.h"

using namespace gpo;
using namespace gpo::models;

namespace {

Batch batch_on(Device dev) {
    Batch b = test::tiny_batch(12, false);
    auto move = [&](Tensor& t) { t = t.to_dtype(DType::F32).to(dev); };
    for (Tensor* t : {&b.counts, &b.library, &b.norm_x, &b.qc, &b.cf_norm_x, &b.delta}) move(*t);
    b.D_sub = b.D_sub.to_dtype(DType::F32).to(dev);
    b.D_plate = b.D_plate.to_dtype(DType::F32).to(dev);
    return b;
}

GpoVaeConfig gpo_config() {
    GpoVaeConfig c;
    c.G = 12, c.T = 4, c.L = 5;
    c.basal_hidden = 16, c.emb_layers = 2, c.emb_hidden = 16, c.qc_layers = 2, c.qc_hidden = 16;
    c.dec_layers = 2, c.dec_hidden = 16, c.particles = 3, c.hops = 3;
    return c;
}

SamsVaeConfig sams_config() {
    SamsVaeConfig c;
    c.G = 12, c.T = 4, c.L = 5;
    c.basal_hidden = 16, c.emb_layers = 2, c.emb_hidden = 16, c.dec_layers = 2, c.dec_hidden = 16, c.particles = 3;
    return c;
}

struct Run {
    std::vector<double> terms, grads, params_after;
};

template <class M, class C>
Run run_on(Device dev, const C& cfg, int steps) {
    ParamStore ps;
    M model(cfg, ps);
    ps.finalize(Device::CPU, DType::F32);
    model.init_params(ps, 3);
    if (model.mask_logits() >= 0) {  // logits spread out, so masks are mixed
        Tensor W = ps.value(model.mask_logits());
        W.copy_from(test::random_tensor(W.shape, DType::F32, 9, -2, 2));
    }
    if (dev == Device::CUDA) ps.to(Device::CUDA);
    Batch b = batch_on(dev);
    Adam opt(AdamConfig{1e-3, 0.9, 0.999, 1e-8, 1e-6}, ps);
    Run r;
    for (int s = 0; s <= steps; ++s) {
        ps.zero_grad();
        Tape tape;
        LossTerms t = model.loss(tape, ps, b, RngKey{5, 0}, (uint64_t)s);
        tape.backward(t.total);
        if (s == 0) {
            r.terms = {t.loss, t.recon, t.kl_z, t.kl_mask, t.kl_emb, t.kl_qc, t.cf, t.grn, t.sparsity};
            r.grads = ps.grads().to(Device::CPU).to_vector();
        }
        if (s == steps) break;
        clip_grad_norm(ps, 100.0);
        opt.step(ps);
    }
    r.params_after = ps.values().to(Device::CPU).to_vector();
    return r;
}

template <class M, class C>
void expect_model_parity(const std::string& name, const C& cfg) {
    Run cpu = run_on<M>(Device::CPU, cfg, 20), gpu = run_on<M>(Device::CUDA, cfg, 20);
    // One step in float32: the same formulas, but GEMM and reduction orders (cuBLAS, tree sums) and FMA contraction
    // differ, ~1e-6 relative per op through ~20 ops: 1e-4 relative with a 1e-5 floor for the near-zero entries.
    test::expect_close(name + " loss terms", cpu.terms, gpu.terms, {1e-4, 1e-4});
    test::expect_close(name + " gradients", cpu.grads, gpu.grads, {1e-5, 1e-3});
    // 20 Adam steps at lr 1e-3 move each parameter by up to ~2e-2; the per-step differences above accumulate.
    test::expect_close(name + " parameters after 20 steps", cpu.params_after, gpu.params_after, {1e-4, 1e-3});
}

}  // namespace

TEST(ParityModels, GpoVaeOneStepAndTwentySteps) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    expect_model_parity<GpoVae>("gpo_vae", gpo_config());
}

TEST(ParityModels, SamsVaeOneStepAndTwentySteps) {
    GPO_REQUIRE_CUDA_OR_SKIP();
    expect_model_parity<SamsVae>("sams_vae", sams_config());
}
