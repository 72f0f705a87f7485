// The SAMS-VAE family objectives against an independent oracle: the published PyTorch classes of insitro/sams-vae
// (10d781c), run by tests/oracle/make_sams_vae_oracle.py on a tiny batch with fixed parameters and fixed noise, gave
// every loss term and every gradient (tests/oracle/<case>.json): sams_vae with each of its four guides and with the
// IWELBO loss, cpa_vae with both of its guides, conditional_vae. The engine gets the same parameters, batch and
// noise in double and must reproduce them (tolerance: tests/oracle_harness.h).
#include <gtest/gtest.h>

#include "engine/models/sams_vae.h"
#include "tests/oracle_harness.h"

using namespace gpo;
using namespace gpo::models;
using json = nlohmann::json;
using gpo::test::doubles;

namespace {

SamsVaeConfig config_of(const json& fx) {
    const json& c = fx["config"];
    SamsVaeConfig s;
    s.type = c["type"], s.inference = c["inference"];
    s.G = c["G"], s.T = c["T"], s.L = c["L"];
    s.basal_layers = c["basal_layers"], s.basal_hidden = c["basal_hidden"];
    s.emb_layers = c["emb_layers"], s.emb_hidden = c["emb_hidden"];
    s.dec_layers = c["decoder_n_layers"], s.dec_hidden = c["decoder_hidden"];  // SAMS counts hidden layers directly
    s.mask_prior = c["mask_prior"], s.embedding_prior_scale = c["embedding_prior_scale"];
    s.particles = c["P"];
    s.iwelbo = c["iwelbo"];
    return s;
}

Batch batch_of(const json& fx) {
    const json& b = fx["batch"];
    const int64_t B = fx["config"]["B"], G = fx["config"]["G"];
    Batch out;
    out.B = B;
    out.counts = Tensor::from_vector({B, G}, doubles(b["counts"]), DType::F64);
    out.library = Tensor::from_vector({B}, doubles(b["library"]), DType::F64);
    out.norm_x = Tensor::from_vector({B, G}, doubles(b["norm_x"]), DType::F64);
    out.qc = Tensor::zeros({B}, DType::F64);
    out.qc_host.assign(B, 0);
    gpo::test::set_oracle_dosages(b, B, out);
    return out;
}

gpo::test::OracleMap parameter_map(const SamsVaeConfig& c) {
    const int64_t G = c.G, T = c.T, L = c.L;
    gpo::test::OracleMap m;
    gpo::test::map_decoder(m, "model.decoder", c.dec_layers);
    if (c.type == "conditional_vae") {  // q(z | [norm x ; d]), p(x | [z ; d]): the d halves are (T, H) lookups
        m["basal_encoder.0.block0.weight"] = {"guide.z_encoder.mlp.layers.0.0.weight", 0, G};
        m["basal_encoder.0.dosage_block"] = {"guide.z_encoder.mlp.layers.0.0.weight", G, G + T, true};
        gpo::test::map_gaussian_head(m, "basal_encoder", "guide.z_encoder", c.basal_layers);
        m["decoder.0.block0.weight"] = {"model.decoder.mlp.layers.0.0.weight", 0, L};
        m["decoder.0.dosage_block"] = {"model.decoder.mlp.layers.0.0.weight", L, L + T, true};
        return m;
    }
    const bool corr_e = c.inference == "correlated" || c.inference == "correlated_e";
    const bool corr_z = c.inference == "correlated" || c.inference == "correlated_z";
    if (c.type == "sams_vae") m["q_mask_logits"] = {"guide.param_dict.q_mask_logits"};
    if (corr_e) {
        m["emb_encoder.0.block0.weight"] = {"guide.embedding_encoder.mlp.layers.0.0.weight", 0, L};
        m["emb_encoder.0.onehot_block"] = {"guide.embedding_encoder.mlp.layers.0.0.weight", L, L + T, true};
        gpo::test::map_gaussian_head(m, "emb_encoder", "guide.embedding_encoder", c.emb_layers);
    } else {
        m["q_E_loc"] = {"guide.param_dict.q_E_loc"};
        m["q_E_log_scale"] = {"guide.param_dict.q_E_log_scale"};
    }
    m["basal_encoder.0.block0.weight"] = {"guide.z_basal_encoder.mlp.layers.0.0.weight", 0, G};
    if (corr_z) m["basal_encoder.0.block1.weight"] = {"guide.z_basal_encoder.mlp.layers.0.0.weight", G, G + L};
    gpo::test::map_gaussian_head(m, "basal_encoder", "guide.z_basal_encoder", c.basal_layers);
    m["decoder.0.block0.weight"] = {"model.decoder.mlp.layers.0.0.weight"};
    return m;
}

void check_case(const std::string& name) {
    SCOPED_TRACE("oracle case " + name);
    json fx = gpo::test::load_oracle(name + ".json");
    ASSERT_TRUE(fx.contains("config"));
    const SamsVaeConfig c = config_of(fx);
    ParamStore ps;
    SamsVae model(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    const auto map = parameter_map(c);
    gpo::test::load_oracle_params(ps, map, fx);
    const json& noise = fx["noise"];
    ScopedNoiseSource source([&](uint64_t purpose, int pass, const Shape&, bool normal) -> Tensor {
        const char* key = purpose == NOISE_MASK ? "mask_u" : purpose == NOISE_EMB ? "emb_eps"
                          : purpose == NOISE_Z ? "z_eps" : nullptr;
        EXPECT_TRUE(key != nullptr && pass == 0 && noise.contains(key))
            << "unexpected noise purpose " << purpose << " pass " << pass;
        EXPECT_EQ(normal, purpose != NOISE_MASK);
        if (!key || pass != 0 || !noise.contains(key)) return Tensor();
        std::vector<double> v = doubles(noise[key]);
        return Tensor::from_vector({(int64_t)v.size()}, v, DType::F64);
    });
    gpo::test::expect_step_matches_oracle(model, ps, batch_of(fx), map, fx);
}

}  // namespace

TEST(OracleSamsVae, CorrelatedGuide) { check_case("sams_vae_correlated"); }
TEST(OracleSamsVae, CorrelatedEmbeddingsOnly) { check_case("sams_vae_correlated_e"); }
TEST(OracleSamsVae, CorrelatedBasalOnly) { check_case("sams_vae_correlated_z"); }
TEST(OracleSamsVae, MeanFieldGuide) { check_case("sams_vae_mean_field"); }
TEST(OracleSamsVae, IwelboObjective) { check_case("sams_vae_iwelbo"); }
TEST(OracleCpaVae, CorrelatedBasal) { check_case("cpa_vae_correlated_z"); }
TEST(OracleCpaVae, MeanField) { check_case("cpa_vae_mean_field"); }
TEST(OracleConditionalVae, Objective) { check_case("conditional_vae"); }
