// Prediction of perturbation responses (see predict.h): one entry per condition (its treatments, the library sizes
// to draw from), then the cells file streamed in blocks and the optional mean-profile file.
#include "engine/eval/predict.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "engine/check.h"
#include "io/atomic_file.h"
#include "io/h5ad.h"
#include "io/progress.h"

namespace gpo::eval {

namespace {

// One predicted condition: its canonical label, treatment indices (sorted; empty = control) and the library sizes
// its cells are drawn at, with where those came from.
struct Condition {
    std::string label;
    std::vector<int> treatments;
    std::vector<double> libraries;           // one per sampled cell
    std::vector<std::string> library_cells;  // obs name of the real cell each library size was taken from ("" = fixed)
    std::string library_from;                // "condition", "control" or "fixed"
};

std::string joined_label(const LoadedModel& m, const std::vector<int>& treatments) {
    if (treatments.empty()) return m.dataset.control_label;
    const std::string delim = m.config.at("data").at("combination_delimiter").get<std::string>();
    std::string s;
    for (size_t i = 0; i < treatments.size(); ++i) s += (i ? delim : "") + m.dataset.treatment_names[treatments[i]];
    return s;
}

// The control first, then each requested label once (labels naming the same gene set are one condition).
std::vector<Condition> conditions_of(const LoadedModel& m, const std::vector<std::string>& labels) {
    std::vector<Condition> out = {Condition{m.dataset.control_label, {}, {}, {}, ""}};
    for (const auto& l : labels) {
        std::vector<int> t = treatments_of_label(m, l);
        std::sort(t.begin(), t.end());
        t.erase(std::unique(t.begin(), t.end()), t.end());
        bool seen = false;
        for (const auto& c : out) seen = seen || c.treatments == t;
        if (!seen) out.push_back(Condition{joined_label(m, t), t, {}, {}, ""});
    }
    return out;
}

// Rows of the QC-pass cells of every treatment set in the dataset (all splits).
std::map<std::vector<int>, std::vector<int64_t>> real_cells(const data::Dataset& ds) {
    std::map<std::vector<int>, std::vector<int64_t>> out;
    for (int64_t n = 0; n < ds.N; ++n) {
        if (ds.qc[n]) continue;
        std::vector<int> t = ds.treatments[n];
        std::sort(t.begin(), t.end());
        out[t].push_back(n);
    }
    return out;
}

// Fills each condition's per-cell library sizes: drawn with replacement from its real cells (or the controls').
void draw_libraries(const LoadedModel& m, const PredictOptions& opt, std::vector<Condition>& conds) {
    const data::Dataset& ds = m.dataset;
    const auto real = real_cells(ds);
    auto controls = real.find({});
    GPO_CHECK(opt.library_from == LibrarySource::Fixed || controls != real.end(),
              "predict: the data has no QC-pass control cell to draw library sizes from; pass --library L");
    HostRng rng(opt.seed, 92);
    for (auto& c : conds) {
        c.libraries.assign((size_t)opt.cells, opt.library);
        c.library_cells.assign((size_t)opt.cells, "");
        c.library_from = "fixed";
        if (opt.library_from == LibrarySource::Fixed) continue;
        auto own = real.find(c.treatments);
        bool use_own = opt.library_from == LibrarySource::Condition && own != real.end();
        const std::vector<int64_t>& pool = use_own ? own->second : controls->second;
        c.library_from = use_own ? "condition" : "control";
        for (int p = 0; p < opt.cells; ++p) {
            int64_t n = pool[rng.below(pool.size())];
            c.libraries[p] = ds.library[n];
            c.library_cells[p] = ds.obs_names[n];
        }
    }
}

// The cells file: obs (label column named as the input's, library size, its source and cell), X streamed as CSR
// blocks of at most `block` cells of one condition, each block one generate() call at library 1 rescaled per cell.
void write_cells(LoadedModel& m, const PredictOptions& opt, const std::vector<Condition>& conds,
                 const std::string& path, bool verbose) {
    const data::Dataset& ds = m.dataset;
    const int64_t G = ds.G, block = 256;
    const std::string label_key = m.config.at("data").at("perturbation_key").get<std::string>();
    io::AnnDataOut a;
    a.cols = G;
    a.var.index = ds.gene_names;
    std::vector<std::string> label, from, source_cell;
    std::vector<double> lib;
    for (const auto& c : conds)
        for (int p = 0; p < opt.cells; ++p) {
            a.obs.index.push_back(c.label + "_" + std::to_string(p));
            label.push_back(c.label);
            from.push_back(c.library_from);
            lib.push_back(c.libraries[p]);
            source_cell.push_back(c.library_cells[p]);
        }
    a.rows = (int64_t)a.obs.index.size();
    a.obs.add(label_key, io::Column::categorical_from_labels(label));
    a.obs.add("library_size", io::Column::numeric(lib));
    a.obs.add("library_from", io::Column::categorical_from_labels(from));
    a.obs.add("library_cell", io::Column::string(source_cell));

    size_t ci = 0;
    int64_t next = 0, done = 0;
    uint64_t step = 0;
    io::Progress progress("predict");
    a.X_blocks = [&](io::CsrMatrix& out) {
        if (ci == conds.size()) return false;
        const Condition& c = conds[ci];
        const int64_t k = std::min<int64_t>(block, opt.cells - next);
        std::vector<double> libs(c.libraries.begin() + next, c.libraries.begin() + next + k);
        out = sample_cells(m, c.treatments, libs, opt.seed, step);
        ++step;
        next += k;
        done += k;
        if (next == opt.cells) ++ci, next = 0;
        if (verbose) progress.update(done, a.rows, "sampled cells");
        return true;
    };
    a.uns_strings["checkpoint"] = m.checkpoint;
    a.uns_strings["model"] = m.model->type();
    a.uns_strings["control_label"] = ds.control_label;
    a.uns_strings["perturbation_key"] = label_key;
    a.uns_strings["X"] = "counts sampled from the model's negative binomial";
    std::vector<std::string> all;
    for (const auto& c : conds) all.push_back(c.label);
    a.uns_string_arrays["untrained_perturbations"] = untrained_labels(m, all);
    io::h5ad_write(path, a);
    if (verbose) progress.finish_line("predict: " + std::to_string(a.rows) + " cells sampled");
}

// The mean-profile file: one row per condition, NB means averaged over particles at one library size.
void write_means(LoadedModel& m, const PredictOptions& opt, const std::vector<Condition>& conds,
                 const std::string& path) {
    const data::Dataset& ds = m.dataset;
    const double library = opt.library > 0 ? opt.library : ds.normalize_target;
    const int64_t n = (int64_t)conds.size(), G = ds.G;
    std::vector<std::vector<int>> dosages;
    for (const auto& c : conds) dosages.push_back(c.treatments);
    std::vector<double> mean((size_t)(n * G), 0.0);
    const int chunk = 128;  // particles per generate() call, to bound memory
    for (int done = 0, c = 0; done < opt.particles; done += chunk, ++c) {
        int k = std::min(chunk, opt.particles - done);
        std::vector<double> v =
            m.model->generate(m.params, dosages, k, library, false, RngKey{opt.seed, 93}, c).to_vector();
        for (int p = 0; p < k; ++p)
            for (int64_t i = 0; i < n * G; ++i) mean[i] += v[p * n * G + i] / opt.particles;
    }
    io::AnnDataOut a;
    a.rows = n;
    a.cols = G;
    a.var.index = ds.gene_names;
    std::vector<std::string> label;
    for (const auto& c : conds) {
        a.obs.index.push_back(c.label);
        label.push_back(c.label);
    }
    a.obs.add(m.config.at("data").at("perturbation_key").get<std::string>(), io::Column::categorical_from_labels(label));
    a.X.assign(mean.begin(), mean.end());
    a.uns_strings["checkpoint"] = m.checkpoint;
    a.uns_strings["model"] = m.model->type();
    a.uns_strings["control_label"] = ds.control_label;
    a.uns_strings["X"] = "expected counts (negative-binomial means averaged over particles) at library_size";
    a.uns_numbers["library_size"] = library;
    a.uns_numbers["particles"] = opt.particles;
    io::h5ad_write(path, a);
}

}  // namespace

io::CsrMatrix sample_cells(LoadedModel& m, const std::vector<int>& treatments, const std::vector<double>& libraries,
                           uint64_t seed, uint64_t step) {
    const int64_t G = m.dataset.G, k = (int64_t)libraries.size();
    io::CsrMatrix out;
    out.rows = k;
    out.cols = G;
    out.indptr.assign(1, 0);
    if (k == 0) return out;
    Tensor rho = m.model->generate(m.params, {treatments}, (int)k, 1.0, false, RngKey{seed, 90}, step).to(Device::CPU);
    std::vector<double> mu = rho.to_vector();
    for (int64_t p = 0; p < k; ++p)
        for (int64_t g = 0; g < G; ++g) mu[p * G + g] *= libraries[p];
    Tensor mean = Tensor::from_vector({k, G}, mu, rho.dtype).to(m.device);
    std::vector<double> x = m.model->sample_counts(m.params, mean, RngKey{seed, 91}, step).to_vector();
    for (int64_t p = 0; p < k; ++p) {
        for (int64_t g = 0; g < G; ++g)
            if (x[p * G + g] != 0) {
                out.indices.push_back((int32_t)g);
                out.data.push_back((float)x[p * G + g]);
            }
        out.indptr.push_back((int64_t)out.data.size());
    }
    return out;
}

std::vector<std::string> untrained_labels(const LoadedModel& m, const std::vector<std::string>& labels) {
    const data::Dataset& ds = m.dataset;
    std::vector<std::string> out;
    for (const auto& l : labels) {
        bool trained = true;
        for (int t : treatments_of_label(m, l)) trained = trained && ds.plate_count[data::SPLIT_TRAIN * ds.T + t] > 0;
        if (!trained) out.push_back(l);
    }
    return out;
}

void predict_to_h5ad(LoadedModel& m, const PredictOptions& opt, const std::string& cells_path, bool verbose) {
    GPO_CHECK(!opt.labels.empty(), "predict: --perturbations is empty (expected e.g. \"IRF1,IRF1+JAK2\")");
    GPO_CHECK(opt.cells > 0, "predict: --cells must be at least 1");
    GPO_CHECK(opt.particles > 0, "predict: --particles must be positive");
    GPO_CHECK(opt.library_from != LibrarySource::Fixed || opt.library > 0,
              "predict: a fixed library size needs --library L > 0");
    GPO_CHECK(opt.means_path.empty() || opt.means_path != cells_path,
              "predict: --means and --out name the same file " << cells_path);
    std::vector<Condition> conds = conditions_of(m, opt.labels);
    std::vector<std::string> requested;
    for (size_t i = 1; i < conds.size(); ++i) requested.push_back(conds[i].label);
    std::vector<std::string> untrained = untrained_labels(m, requested);
    if (!untrained.empty()) {
        std::string list;
        for (const auto& l : untrained) list += (list.empty() ? "" : ", ") + l;
        std::fprintf(stderr,
                     "predict: warning: no training cell carries a perturbation of %s; those predictions rest on "
                     "untrained embeddings (listed in uns['untrained_perturbations'])\n",
                     list.c_str());
    }
    draw_libraries(m, opt, conds);
    if (opt.means_path.empty()) return write_cells(m, opt, conds, cells_path, verbose);
    // The means file is renamed into place only once the cells file is complete: a failure leaves neither.
    io::with_atomic_path(opt.means_path, [&](const std::string& tmp) {
        write_means(m, opt, conds, tmp);
        write_cells(m, opt, conds, cells_path, verbose);
    });
}

}  // namespace gpo::eval
