// The GPO-VAE objective against an independent oracle: the published PyTorch reference's own model, guide and loss
// (dmis-lab/GPO-VAE d554eed), run by tests/oracle/make_gpo_vae_oracle.py on a tiny batch with fixed parameters and
// fixed noise, gave every loss term and the gradient of the total with respect to every parameter
// (tests/oracle/gpo_vae_<case>.json). Here the engine gets the same parameters (mapped from the reference's layer
// layout to the engine's split first layers), the same batch and the same noise (through ScopedNoiseSource), in
// double, and must reproduce every term and every gradient entry.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/models/gpo_vae.h"
#include "tests/oracle_harness.h"

using namespace gpo;
using namespace gpo::models;
using json = nlohmann::json;

namespace {

using gpo::test::doubles;

GpoVaeConfig config_of(const json& fx) {
    const json& c = fx["config"];
    GpoVaeConfig g;
    g.G = c["G"], g.T = c["T"], g.L = c["L"];
    g.basal_layers = c["basal_layers"], g.basal_hidden = c["basal_hidden"];
    g.emb_layers = c["emb_layers"], g.emb_hidden = c["emb_hidden"];
    g.qc_layers = c["emb_layers"], g.qc_hidden = c["emb_hidden"];  // the reference's qc encoder uses the same sizes
    g.dec_layers = c["decoder_n_layers"].get<int>() + 1, g.dec_hidden = c["decoder_hidden"];  // docs/model.md §2
    g.mask_prior = c["mask_prior"], g.embedding_prior_scale = c["embedding_prior_scale"];
    g.cf_beta = c["cf_beta"], g.hops = c["hops"], g.tau = c["tau"];
    g.gloss_coeff = c["gloss"], g.sparsity_coeff = c["sparsity"];
    g.particles = c["P"];
    g.cf_exact_kl = c["cf_term"] == "kl";
    if (!c["alpha"].is_null()) g.alpha_global = true, g.alpha_value = c["alpha"];
    return g;
}

Batch batch_of(const json& fx) {
    const json& b = fx["batch"];
    const json& c = fx["config"];
    const int64_t B = c["B"], G = c["G"], T = c["T"];
    Batch out;
    out.B = B;
    out.counts = Tensor::from_vector({B, G}, doubles(b["counts"]), DType::F64);
    out.library = Tensor::from_vector({B}, doubles(b["library"]), DType::F64);
    out.norm_x = Tensor::from_vector({B, G}, doubles(b["norm_x"]), DType::F64);
    out.cf_norm_x = Tensor::from_vector({B, G}, doubles(b["cf_norm_x"]), DType::F64);
    out.has_cf = b["has_cf"].get<std::vector<int>>();
    std::vector<double> qc = doubles(b["qc"]);
    out.qc = Tensor::from_vector({B}, qc, DType::F64);
    for (double q : qc) out.qc_host.push_back((int)q);
    out.delta = Tensor::from_vector({B, T}, doubles(b["delta"]), DType::F64);
    gpo::test::set_oracle_dosages(b, B, out);
    out.n_fail_split = b["n_fail_split"];
    return out;
}

gpo::test::OracleMap parameter_map(const GpoVaeConfig& c) {
    const int64_t G = c.G, T = c.T, L = c.L;
    gpo::test::OracleMap m = {
        {"q_mask_logits", {"guide.param_dict.q_mask_logits"}},
        {"emb_encoder.0.block0.weight", {"guide.embedding_encoder.mlp.layers.0.0.weight", 0, T}},
        {"emb_encoder.0.onehot_block", {"guide.embedding_encoder.mlp.layers.0.0.weight", T, 2 * T, true}},
        {"qc_encoder.0.block0.weight", {"guide.qc_encoder.mlp.layers.0.0.weight"}},
        {"basal_encoder.0.block0.weight", {"guide.z_basal_encoder.mlp.layers.0.0.weight", 0, G}},
        {"basal_encoder.0.block1.weight", {"guide.z_basal_encoder.mlp.layers.0.0.weight", G, G + T}},
        {"basal_encoder.0.block2.weight", {"guide.z_basal_encoder.mlp.layers.0.0.weight", G + T, G + T + L}},
        {"decoder.0.block0.weight", {"model.decoder.mlp.layers.0.0.weight", 0, L}},
        {"decoder.0.block1.weight", {"model.decoder.mlp.layers.0.0.weight", L, L + T}},
        {"decoder.0.block2.weight", {"model.decoder.mlp.layers.0.0.weight", L + T, 2 * L + T}},
    };
    gpo::test::map_decoder(m, "model.decoder", c.dec_layers);
    gpo::test::map_gaussian_head(m, "emb_encoder", "guide.embedding_encoder", c.emb_layers);
    gpo::test::map_gaussian_head(m, "qc_encoder", "guide.qc_encoder", c.qc_layers);
    gpo::test::map_gaussian_head(m, "basal_encoder", "guide.z_basal_encoder", c.basal_layers);
    return m;
}

void check_case(const std::string& name) {
    SCOPED_TRACE("oracle case " + name);
    json fx = gpo::test::load_oracle("gpo_vae_" + name + ".json");
    ASSERT_TRUE(fx.contains("config"));
    const GpoVaeConfig c = config_of(fx);
    ParamStore ps;
    GpoVae model(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    const auto map = parameter_map(c);
    gpo::test::load_oracle_params(ps, map, fx);

    const json& noise = fx["noise"];
    ScopedNoiseSource source([&](uint64_t purpose, int pass, const Shape&, bool normal) -> Tensor {
        const char* key = purpose == NOISE_MASK ? "mask_u" : purpose == NOISE_EMB ? "emb_eps"
                          : purpose == NOISE_QC ? "qc_eps" : purpose == NOISE_Z ? "z_eps" : nullptr;
        EXPECT_TRUE(key != nullptr && pass >= 0 && pass < 2) << "unexpected noise purpose " << purpose << " pass " << pass;
        EXPECT_EQ(normal, purpose != NOISE_MASK);
        if (!key || pass < 0 || pass > 1) return Tensor();
        std::vector<double> v = doubles(noise[key][pass]);
        return Tensor::from_vector({(int64_t)v.size()}, v, DType::F64);
    });
    gpo::test::expect_step_matches_oracle(model, ps, batch_of(fx), map, fx);
}

}  // namespace

TEST(OracleGpoVae, PublishedDefaultsEveryTermAndGradient) { check_case("reference"); }
TEST(OracleGpoVae, FixedAlphaEveryTermAndGradient) { check_case("alpha_global"); }
TEST(OracleGpoVae, PriorScaleAndMaskPriorEveryTermAndGradient) { check_case("prior_scale"); }
TEST(OracleGpoVae, ExactKlCounterfactualEveryTermAndGradient) { check_case("cf_kl"); }
