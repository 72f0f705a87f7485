// The GPO-VAE objective against an independent oracle: the published PyTorch reference's own model, guide and loss
// (dmis-lab/GPO-VAE d554eed), run by tests/oracle/make_gpo_vae_oracle.py on a tiny batch with fixed parameters and
// fixed noise, gave every loss term and the gradient of the total with respect to every parameter
// (tests/oracle/gpo_vae_<case>.json). Here the engine gets the same parameters (mapped from the reference's layer
// layout to the engine's split first layers), the same batch and the same noise (through ScopedNoiseSource), in
// double, and must reproduce every term and every gradient entry.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/models/gpo_vae.h"
#include "tests/harness.h"

using namespace gpo;
using namespace gpo::models;
using json = nlohmann::json;

namespace {

json load_fixture(const std::string& name) {
    std::ifstream f(std::string(GPO_SOURCE_DIR) + "/tests/oracle/gpo_vae_" + name + ".json");
    EXPECT_TRUE(f) << "missing fixture tests/oracle/gpo_vae_" << name << ".json";
    return json::parse(f);
}

std::vector<double> doubles(const json& j) { return j.get<std::vector<double>>(); }

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
    const auto treat = b["treatments"].get<std::vector<std::vector<int>>>();
    const std::vector<double> n_t = doubles(b["D_obs_counts"]);
    for (const auto& ts : treat)
        for (int t : ts)
            if (std::find(out.present.begin(), out.present.end(), t) == out.present.end()) out.present.push_back(t);
    std::sort(out.present.begin(), out.present.end());
    std::vector<std::vector<std::pair<int, double>>> sub(B), plate(B);
    for (int64_t n = 0; n < B; ++n)
        for (int t : treat[n]) {
            int pos = (int)(std::find(out.present.begin(), out.present.end(), t) - out.present.begin());
            sub[n].push_back({pos, 1.0});
            plate[n].push_back({pos, 1.0 / n_t[t]});
        }
    out.D_sub = ops::Dosage::from_lists(sub, (int64_t)out.present.size(), DType::F64);
    out.D_plate = ops::Dosage::from_lists(plate, (int64_t)out.present.size(), DType::F64);
    out.n_fail_split = b["n_fail_split"];
    return out;
}

// Where an engine parameter's values sit in the reference's: a column range of a reference weight (rows = output
// units), optionally transposed (the E-encoder's one-hot half is stored as a (T, H) lookup table).
struct Source {
    std::string ref;
    int64_t col0 = 0, col1 = -1;  // -1: all columns (or the whole 1-D tensor)
    bool transpose = false;
};

std::map<std::string, Source> parameter_map(const GpoVaeConfig& c) {
    const int64_t G = c.G, T = c.T, L = c.L;
    std::map<std::string, Source> m = {
        {"q_mask_logits", {"guide.param_dict.q_mask_logits"}},
        {"decoder.log_concentration", {"model.decoder.log_concentration"}},
        {"emb_encoder.0.block0.weight", {"guide.embedding_encoder.mlp.layers.0.0.weight", 0, T}},
        {"emb_encoder.0.onehot_block", {"guide.embedding_encoder.mlp.layers.0.0.weight", T, 2 * T, true}},
        {"qc_encoder.0.block0.weight", {"guide.qc_encoder.mlp.layers.0.0.weight"}},
        {"basal_encoder.0.block0.weight", {"guide.z_basal_encoder.mlp.layers.0.0.weight", 0, G}},
        {"basal_encoder.0.block1.weight", {"guide.z_basal_encoder.mlp.layers.0.0.weight", G, G + T}},
        {"basal_encoder.0.block2.weight", {"guide.z_basal_encoder.mlp.layers.0.0.weight", G + T, G + T + L}},
        {"decoder.0.block0.weight", {"model.decoder.mlp.layers.0.0.weight", 0, L}},
        {"decoder.0.block1.weight", {"model.decoder.mlp.layers.0.0.weight", L, L + T}},
        {"decoder.0.block2.weight", {"model.decoder.mlp.layers.0.0.weight", L + T, 2 * L + T}},
        {"decoder.0.bias", {"model.decoder.mlp.layers.0.0.bias"}},
        {"decoder.out.weight", {"model.decoder.normalized_mean_decoder.0.weight"}},
        {"decoder.out.bias", {"model.decoder.normalized_mean_decoder.0.bias"}},
    };
    for (int k = 1; k < c.dec_layers; ++k)
        for (const char* wb : {"weight", "bias"})
            m["decoder." + std::to_string(k) + "." + wb] = {"model.decoder.mlp.layers." + std::to_string(k) + ".0." + wb};
    auto head = [&](const std::string& eng, const std::string& ref, int layers) {
        m[eng + ".0.bias"] = {ref + ".mlp.layers.0.0.bias"};
        for (int k = 1; k < layers; ++k)
            for (const char* wb : {"weight", "bias"})
                m[eng + "." + std::to_string(k) + "." + wb] = {ref + ".mlp.layers." + std::to_string(k) + ".0." + wb};
        for (const char* wb : {"weight", "bias"}) {
            m[eng + ".mean." + wb] = {ref + ".mean_encoder." + wb};
            m[eng + ".var." + wb] = {ref + ".log_var_encoder." + wb};
        }
    };
    head("emb_encoder", "guide.embedding_encoder", c.emb_layers);
    head("qc_encoder", "guide.qc_encoder", c.qc_layers);
    head("basal_encoder", "guide.z_basal_encoder", c.basal_layers);
    return m;
}

// The engine entry's values cut out of a reference tensor (values row-major with `shape`).
std::vector<double> slice(const std::vector<double>& v, const std::vector<int64_t>& shape, const Source& s) {
    if (shape.size() == 1 || (s.col1 < 0 && !s.transpose)) return v;
    const int64_t rows = shape[0], cols = shape[1], c1 = s.col1 < 0 ? cols : s.col1, w = c1 - s.col0;
    std::vector<double> out;
    if (!s.transpose) {
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t k = s.col0; k < c1; ++k) out.push_back(v[r * cols + k]);
    } else {
        for (int64_t k = 0; k < w; ++k)
            for (int64_t r = 0; r < rows; ++r) out.push_back(v[r * cols + s.col0 + k]);
    }
    return out;
}

void check_case(const std::string& name) {
    SCOPED_TRACE("oracle case " + name);
    json fx = load_fixture(name);
    const GpoVaeConfig c = config_of(fx);
    ParamStore ps;
    GpoVae model(c, ps);
    ps.finalize(Device::CPU, DType::F64);
    const auto map = parameter_map(c);
    ASSERT_EQ(map.size(), ps.entries().size()) << "every engine parameter needs a source in the reference";
    std::map<std::string, size_t> used;  // reference values accounted for, per reference tensor
    for (size_t i = 0; i < ps.entries().size(); ++i) {
        const auto& e = ps.entries()[i];
        ASSERT_TRUE(map.count(e.name)) << "no reference source for engine parameter " << e.name;
        const Source& s = map.at(e.name);
        const json& p = fx["params"].at(s.ref);
        std::vector<double> v = slice(doubles(p["values"]), p["shape"].get<std::vector<int64_t>>(), s);
        ASSERT_EQ((int64_t)v.size(), ps.value((int)i).numel()) << e.name;
        ps.value((int)i).copy_from(Tensor::from_vector(e.shape, v, DType::F64));
        used[s.ref] += v.size();
    }
    for (auto it = fx["params"].begin(); it != fx["params"].end(); ++it)  // no reference parameter left out
        EXPECT_EQ(used[it.key()], it.value()["values"].size()) << it.key();

    const json& noise = fx["noise"];
    ScopedNoiseSource source([&](uint64_t purpose, int pass, const Shape& shape, bool normal) -> Tensor {
        const char* key = purpose == NOISE_MASK ? "mask_u" : purpose == NOISE_EMB ? "emb_eps"
                          : purpose == NOISE_QC ? "qc_eps" : purpose == NOISE_Z ? "z_eps" : nullptr;
        EXPECT_TRUE(key != nullptr && pass >= 0 && pass < 2) << "unexpected noise purpose " << purpose << " pass " << pass;
        EXPECT_EQ(normal, purpose != NOISE_MASK);
        if (!key || pass < 0 || pass > 1) return Tensor();
        std::vector<double> v = doubles(noise[key][pass]);
        return Tensor::from_vector({(int64_t)v.size()}, v, DType::F64);
    });
    Batch batch = batch_of(fx);
    ps.zero_grad();
    Tape tape;
    LossTerms t = model.loss(tape, ps, batch, RngKey{0, 0}, 0);
    tape.backward(t.total);

    // Both sides compute in double; they differ only in summation order and in how the engine factors the work
    // (split first layers, rows of present perturbations only), so agreement is to ~1e-12 relative. 1e-9 leaves room
    // for the GRN term's matrix powers (values up to ~1e2) without hiding any real difference: a wrong coefficient
    // or a dropped term moves a value by far more than 1e-6 relative.
    const json& ref = fx["terms"];
    const std::map<std::string, double> got = {{"loss", t.loss}, {"recon", t.recon}, {"kl_z", t.kl_z},
                                               {"kl_mask", t.kl_mask}, {"kl_emb", t.kl_emb}, {"kl_qc", t.kl_qc},
                                               {"cf", t.cf}, {"grn", t.grn}, {"sparsity", t.sparsity}};
    for (const auto& [k, v] : got) {
        double r = ref.at(k).get<double>();
        EXPECT_NEAR(v, r, 1e-9 * std::max(1.0, std::fabs(r))) << "term " << k;
    }
    for (size_t i = 0; i < ps.entries().size(); ++i) {
        const auto& e = ps.entries()[i];
        const Source& s = map.at(e.name);
        std::vector<double> want =
            slice(doubles(fx["grads"].at(s.ref)), fx["params"].at(s.ref)["shape"].get<std::vector<int64_t>>(), s);
        std::vector<double> have = ps.grad((int)i).to_vector();
        double scale = 1.0;
        for (double w : want) scale = std::max(scale, std::fabs(w));
        int bad = 0;
        for (size_t k = 0; k < want.size() && bad < 5; ++k)
            if (std::fabs(have[k] - want[k]) > 1e-9 * scale) {
                ADD_FAILURE() << "gradient of " << e.name << " (" << s.ref << ")[" << k << "]: engine " << have[k]
                              << ", reference " << want[k];
                ++bad;
            }
    }
}

}  // namespace

TEST(OracleGpoVae, PublishedDefaultsEveryTermAndGradient) { check_case("reference"); }
TEST(OracleGpoVae, FixedAlphaEveryTermAndGradient) { check_case("alpha_global"); }
TEST(OracleGpoVae, PriorScaleAndMaskPriorEveryTermAndGradient) { check_case("prior_scale"); }
TEST(OracleGpoVae, ExactKlCounterfactualEveryTermAndGradient) { check_case("cf_kl"); }
