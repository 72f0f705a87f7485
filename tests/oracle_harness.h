// Shared by the oracle tests (tests/test_oracle_*.cpp): reading a fixture written by tests/oracle/make_*_oracle.py,
// loading its reference parameters into a ParamStore through a map from engine names to slices of reference
// tensors, and comparing every loss term and every gradient entry with the reference's.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/models/model.h"
#include "engine/params.h"

namespace gpo::test {

inline nlohmann::json load_oracle(const std::string& file) {
    std::ifstream f(std::string(GPO_SOURCE_DIR) + "/tests/oracle/" + file);
    EXPECT_TRUE(f) << "missing fixture tests/oracle/" << file;
    return f ? nlohmann::json::parse(f) : nlohmann::json::object();
}

inline std::vector<double> doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

// Where an engine parameter's values sit in the reference's: a column range of a reference weight (rows = output
// units), optionally transposed (one-hot and dosage halves of first layers are stored as (T, H) lookup tables).
struct OracleSource {
    std::string ref;
    int64_t col0 = 0, col1 = -1;  // -1: all columns (or the whole 1-D tensor)
    bool transpose = false;
};
using OracleMap = std::map<std::string, OracleSource>;

inline std::vector<double> oracle_slice(const std::vector<double>& v, const std::vector<int64_t>& shape,
                                        const OracleSource& s) {
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

// Adds, for a residual MLP with a Gaussian head of the reference (`ref`.mlp.layers.k.0, .mean_encoder,
// .log_var_encoder), the sources of the engine's `eng`.0.bias, `eng`.k.*, `eng`.mean.* and `eng`.var.* (the first
// layer's weight blocks are mapped by the caller).
inline void map_gaussian_head(OracleMap& m, const std::string& eng, const std::string& ref, int layers) {
    m[eng + ".0.bias"] = {ref + ".mlp.layers.0.0.bias"};
    for (int k = 1; k < layers; ++k)
        for (const char* wb : {"weight", "bias"})
            m[eng + "." + std::to_string(k) + "." + wb] = {ref + ".mlp.layers." + std::to_string(k) + ".0." + wb};
    for (const char* wb : {"weight", "bias"}) {
        m[eng + ".mean." + wb] = {ref + ".mean_encoder." + wb};
        m[eng + ".var." + wb] = {ref + ".log_var_encoder." + wb};
    }
}

// The same for a decoder trunk (`ref`.mlp.layers.k.0 for k >= 1, the head `ref`.normalized_mean_decoder.0, the
// log concentration), first-layer weight blocks again mapped by the caller.
inline void map_decoder(OracleMap& m, const std::string& ref, int layers) {
    m["decoder.0.bias"] = {ref + ".mlp.layers.0.0.bias"};
    for (int k = 1; k < layers; ++k)
        for (const char* wb : {"weight", "bias"})
            m["decoder." + std::to_string(k) + "." + wb] = {ref + ".mlp.layers." + std::to_string(k) + ".0." + wb};
    m["decoder.out.weight"] = {ref + ".normalized_mean_decoder.0.weight"};
    m["decoder.out.bias"] = {ref + ".normalized_mean_decoder.0.bias"};
    m["decoder.log_concentration"] = {ref + ".log_concentration"};
}

// Copies the reference's parameters into `ps` (finalized, F64) and checks that the map covers every engine entry
// and uses every reference value exactly once.
inline void load_oracle_params(ParamStore& ps, const OracleMap& map, const nlohmann::json& fx) {
    ASSERT_EQ(map.size(), ps.entries().size()) << "every engine parameter needs a source in the reference";
    std::map<std::string, size_t> used;
    for (size_t i = 0; i < ps.entries().size(); ++i) {
        const auto& e = ps.entries()[i];
        ASSERT_TRUE(map.count(e.name)) << "no reference source for engine parameter " << e.name;
        const OracleSource& s = map.at(e.name);
        ASSERT_TRUE(fx["params"].contains(s.ref)) << "the fixture has no reference parameter " << s.ref;
        const nlohmann::json& p = fx["params"].at(s.ref);
        std::vector<double> v = oracle_slice(doubles(p["values"]), p["shape"].get<std::vector<int64_t>>(), s);
        ASSERT_EQ((int64_t)v.size(), ps.value((int)i).numel()) << e.name;
        ps.value((int)i).copy_from(Tensor::from_vector(e.shape, v, DType::F64));
        used[s.ref] += v.size();
    }
    for (auto it = fx["params"].begin(); it != fx["params"].end(); ++it)
        EXPECT_EQ(used[it.key()], it.value()["values"].size()) << "reference parameter " << it.key() << " not used whole";
}

// The fixture's per-cell treatments ("treatments": lists of treatment indices) as the batch's present rows and
// dosages: D_sub with values 1, D_plate with 1 / N_t from "D_obs_counts" (the split's plate counts).
inline void set_oracle_dosages(const nlohmann::json& batch, int64_t B, models::Batch& out) {
    const auto treat = batch["treatments"].get<std::vector<std::vector<int>>>();
    const std::vector<double> n_t = doubles(batch["D_obs_counts"]);
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
}

// Both sides compute in double; they differ only in summation order and in how the engine factors the work (split
// first layers, rows of present perturbations only), so agreement is to ~1e-12 relative. 1e-9 (relative to the
// largest entry of each tensor, or 1) leaves room for the GPO-VAE GRN term's matrix powers without hiding a real
// difference: a wrong coefficient or a dropped term moves a value by far more than 1e-6 relative.
constexpr double kOracleTolerance = 1e-9;

inline void expect_oracle_terms(const models::LossTerms& t, const nlohmann::json& ref) {
    const std::map<std::string, double> got = {{"loss", t.loss}, {"recon", t.recon}, {"kl_z", t.kl_z},
                                               {"kl_mask", t.kl_mask}, {"kl_emb", t.kl_emb}, {"kl_qc", t.kl_qc},
                                               {"cf", t.cf}, {"grn", t.grn}, {"sparsity", t.sparsity}};
    for (auto it = ref.begin(); it != ref.end(); ++it) {
        ASSERT_TRUE(got.count(it.key())) << "the engine reports no term " << it.key();
        double r = it.value().get<double>();
        EXPECT_NEAR(got.at(it.key()), r, kOracleTolerance * std::max(1.0, std::fabs(r))) << "term " << it.key();
    }
}

inline void expect_oracle_grads(const ParamStore& ps, const OracleMap& map, const nlohmann::json& fx) {
    for (size_t i = 0; i < ps.entries().size(); ++i) {
        const auto& e = ps.entries()[i];
        const OracleSource& s = map.at(e.name);
        std::vector<double> want = oracle_slice(doubles(fx["grads"].at(s.ref)),
                                                fx["params"].at(s.ref)["shape"].get<std::vector<int64_t>>(), s);
        std::vector<double> have = ps.grad((int)i).to_vector();
        double scale = 1.0;
        for (double w : want) scale = std::max(scale, std::fabs(w));
        int bad = 0;
        for (size_t k = 0; k < want.size() && bad < 5; ++k)
            if (std::fabs(have[k] - want[k]) > kOracleTolerance * scale) {
                ADD_FAILURE() << "gradient of " << e.name << " (" << s.ref << ")[" << k << "]: engine " << have[k]
                              << ", reference " << want[k];
                ++bad;
            }
    }
}

// One loss and backward of `model` on `batch` (noise from the caller's ScopedNoiseSource), then every term and
// every gradient against the fixture.
inline void expect_step_matches_oracle(const models::Model& model, ParamStore& ps, const models::Batch& batch,
                                       const OracleMap& map, const nlohmann::json& fx) {
    ps.zero_grad();
    Tape tape;
    models::LossTerms t = model.loss(tape, ps, batch, RngKey{0, 0}, 0);
    tape.backward(t.total);
    expect_oracle_terms(t, fx["terms"]);
    expect_oracle_grads(ps, map, fx);
}

}  // namespace gpo::test
