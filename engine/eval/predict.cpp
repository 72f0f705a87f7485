// Prediction of perturbation responses (see predict.h).
#include "engine/eval/predict.h"

#include <algorithm>

#include "engine/check.h"
#include "io/h5ad.h"

namespace gpo::eval {

void predict_to_h5ad(LoadedModel& m, const PredictOptions& opt, const std::string& out_path) {
    const data::Dataset& ds = m.dataset;
    GPO_CHECK(!opt.labels.empty(), "predict: --perturbations is empty (expected e.g. \"IRF1,IRF1+JAK2\")");
    GPO_CHECK(opt.particles > 0, "predict: --particles must be positive");
    const double library = opt.library > 0 ? opt.library : ds.normalize_target;
    std::vector<std::string> labels = {ds.control_label};
    for (const auto& l : opt.labels)
        if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
    std::vector<std::vector<int>> dosages;
    for (const auto& l : labels) dosages.push_back(treatments_of_label(m, l));
    const int64_t n = (int64_t)labels.size(), G = ds.G;

    // Mean profiles: NB means averaged over particles (in chunks to bound memory).
    std::vector<double> mean((size_t)(n * G), 0.0);
    const int chunk = 128;
    for (int done = 0, c = 0; done < opt.particles; done += chunk, ++c) {
        int k = std::min(chunk, opt.particles - done);
        std::vector<double> v = m.model->generate(m.params, dosages, k, library, false, RngKey{opt.seed, 90}, c).to_vector();
        for (int p = 0; p < k; ++p)
            for (int64_t i = 0; i < n * G; ++i) mean[i] += v[p * n * G + i] / opt.particles;
    }
    io::AnnDataOut a;
    a.cols = G;
    a.var.index = ds.gene_names;
    std::vector<std::string> obs_label, kind;
    for (int64_t i = 0; i < n; ++i) {
        a.obs.index.push_back("mean_" + labels[i]);
        obs_label.push_back(labels[i]);
        kind.push_back("mean");
        for (int64_t g = 0; g < G; ++g) a.X.push_back((float)mean[i * G + g]);
    }
    // Sampled cells: one particle each, counts from the Gamma-Poisson.
    if (opt.sampled_cells > 0) {
        std::vector<double> v =
            m.model->generate(m.params, dosages, opt.sampled_cells, library, true, RngKey{opt.seed, 91}, 0).to_vector();
        for (int64_t i = 0; i < n; ++i)
            for (int p = 0; p < opt.sampled_cells; ++p) {
                a.obs.index.push_back("cell" + std::to_string(p) + "_" + labels[i]);
                obs_label.push_back(labels[i]);
                kind.push_back("sampled");
                for (int64_t g = 0; g < G; ++g) a.X.push_back((float)v[((int64_t)p * n + i) * G + g]);
            }
    }
    a.rows = (int64_t)a.obs.index.size();
    a.obs.add("perturbation", io::Column::categorical_from_labels(obs_label));
    a.obs.add("kind", io::Column::categorical_from_labels(kind));
    a.uns_strings["checkpoint"] = m.checkpoint;
    a.uns_strings["model"] = m.model->type();
    a.uns_strings["control_label"] = ds.control_label;
    a.uns_numbers["library_size"] = library;
    a.uns_numbers["particles"] = opt.particles;
    io::h5ad_write(out_path, a);
}

}  // namespace gpo::eval
