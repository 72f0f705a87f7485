// Evaluation of a trained model (see evaluate.h).
#include "engine/eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "engine/check.h"
#include "engine/data/loader.h"
#include "engine/data/stats.h"
#include "engine/eval/cell_eval.h"
#include "engine/eval/gears_metrics.h"
#include "engine/eval/group_columns.h"
#include "engine/eval/linear_baseline.h"
#include "engine/eval/metrics.h"
#include "engine/eval/predict.h"
#include "engine/parallel.h"
#include "io/atomic_file.h"
#include "io/csv.h"
#include "io/h5ad.h"
#include "io/progress.h"
#include "io/svg.h"

namespace gpo::eval {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// The perturbseq transform (metrics.h, ate_transform_row) of CSR row r's stored entries, visited as
// visit(gene, value); the genes without an entry transform to 0.
template <class Visit>
void for_each_transformed(const data::Csr& X, int64_t r, Visit visit) {
    thread_local data::RowBuffer buf;
    const data::CsrRow e = X.row(r, buf);
    double s = 0;
    for (int64_t k = 0; k < e.n; ++k) s += e.val[k];
    if (!(s > 0)) return;
    for (int64_t k = 0; k < e.n; ++k) visit(e.idx[k], ate_transform_value(e.val[k], s));
}

struct Groups {
    std::vector<std::string> labels;       // perturbation labels evaluated (control excluded), sorted
    Mat means;                             // (labels, G) mean transformed expression per label
    std::vector<double> control;           // (G)
    std::vector<int64_t> n_cells;          // (labels)
    int64_t n_control = 0;
};

// Whether cell n is one of the evaluated QC-pass cells: of `split`, or of `control_split` for a control (-1 = any).
bool evaluated(const data::Dataset& ds, int64_t n, int split, int control_split) {
    const int s = ds.labels[n] == ds.control_label ? control_split : split;
    return !ds.qc[n] && (s < 0 || ds.split[n] == s);
}

// Appends dataset row n (its raw counts and label) to `c`, whose counts.indptr starts with 0.
void append_cell(LabelledCells& c, const data::Dataset& ds, int64_t n) {
    thread_local data::RowBuffer buf;
    const data::CsrRow e = ds.counts.row(n, buf);
    c.counts.indices.insert(c.counts.indices.end(), e.idx, e.idx + e.n);
    c.counts.data.insert(c.counts.data.end(), e.val, e.val + e.n);
    c.counts.indptr.push_back((int64_t)c.counts.data.size());
    c.labels.push_back(ds.labels[n]);
    c.counts.rows = (int64_t)c.labels.size();
}

// Mean perturbseq-transformed profile per label over QC-pass cells of `split` (-1 = all cells), the control's over
// the QC-pass controls of `control_split` (-1 = all cells).
Groups group_profiles(const data::Dataset& ds, int split, const std::vector<std::string>* only_labels,
                      int control_split) {
    Groups g;
    std::map<std::string, int> id;
    for (int64_t n = 0; n < ds.N; ++n) {
        if ((split >= 0 && ds.split[n] != split) || ds.qc[n] || ds.labels[n] == ds.control_label) continue;
        id.emplace(ds.labels[n], 0);
    }
    if (only_labels) {
        id.clear();
        for (const auto& l : *only_labels) id.emplace(l, 0);
    }
    for (auto& [l, i] : id) {
        i = (int)g.labels.size();
        g.labels.push_back(l);
    }
    const int64_t G = ds.G;
    g.means = Mat((int64_t)g.labels.size(), G, 0.0);
    g.control.assign(G, 0.0);
    g.n_cells.assign(g.labels.size(), 0);
    for (int64_t n = 0; n < ds.N; ++n) {
        if (!evaluated(ds, n, split, control_split)) continue;
        double* acc;
        if (ds.labels[n] == ds.control_label) {
            acc = g.control.data();
            ++g.n_control;
        } else {
            auto it = id.find(ds.labels[n]);
            if (it == id.end()) continue;
            acc = g.means.row(it->second);
            ++g.n_cells[it->second];
        }
        for_each_transformed(ds.counts, n, [&](int k, double v) { acc[k] += v; });
    }
    GPO_CHECK(g.n_control > 0, "evaluate: no QC-pass control cell in the "
                                   << (control_split < 0 ? std::string("data") : std::string(data::split_name(control_split)) + " split"));
    for (double& v : g.control) v /= (double)g.n_control;
    for (size_t i = 0; i < g.labels.size(); ++i)
        for (int64_t k = 0; k < G; ++k) g.means.at((int64_t)i, k) = g.n_cells[i] ? g.means.at((int64_t)i, k) / g.n_cells[i] : NAN;
    return g;
}

// The rows of `all` for `labels` (sorted, distinct, as group_profiles orders them), with all's control; a label
// without a row in `all` gets a NaN row and 0 cells, as group_profiles gives a label without cells.
Groups restrict_groups(const Groups& all, const std::vector<std::string>& labels) {
    std::set<std::string> wanted(labels.begin(), labels.end());
    std::map<std::string, int64_t> row;
    for (size_t i = 0; i < all.labels.size(); ++i) row[all.labels[i]] = (int64_t)i;
    const int64_t G = (int64_t)all.control.size();
    Groups g;
    g.labels.assign(wanted.begin(), wanted.end());
    g.means = Mat((int64_t)g.labels.size(), G, NAN);
    g.control = all.control;
    g.n_control = all.n_control;
    g.n_cells.assign(g.labels.size(), 0);
    for (size_t i = 0; i < g.labels.size(); ++i) {
        auto it = row.find(g.labels[i]);
        if (it == row.end()) continue;
        std::copy(all.means.row(it->second), all.means.row(it->second) + G, g.means.row((int64_t)i));
        g.n_cells[i] = all.n_cells[(size_t)it->second];
    }
    return g;
}

// Real DE genes per label (cell-eval style): Wilcoxon of the label's cells vs controls on the transformed values,
// BH over genes, ranked by |log2 fold change| (a difference of log2 values).
std::vector<std::vector<int64_t>> real_de_genes(const data::Dataset& ds, int split, int control_split,
                                                const Groups& g) {
    const int64_t G = ds.G;
    std::map<std::string, int> id;
    for (size_t i = 0; i < g.labels.size(); ++i) id[g.labels[i]] = (int)i;
    const int64_t ctrl = (int64_t)g.labels.size();
    GroupColumns cols(ctrl + 1, G);
    for (int64_t n = 0; n < ds.N; ++n) {
        if (!evaluated(ds, n, split, control_split)) continue;
        int64_t gid = ctrl;
        if (ds.labels[n] != ds.control_label) {
            auto it = id.find(ds.labels[n]);
            if (it == id.end()) continue;
            gid = it->second;
        }
        cols.add_cell(gid);
        for_each_transformed(ds.counts, n, [&](int k, double v) { cols.add_value(gid, k, v); });
    }
    cols.finish();
    std::vector<std::vector<int64_t>> out(g.labels.size());
    parallel_for(ctrl, [&](int64_t i) {
        if (g.n_cells[(size_t)i] < 2) return;
        std::vector<double> p(G), lfc(G);
        for (int64_t k = 0; k < G; ++k) {
            const RankSum rs = rank_sum(cols, i, ctrl, k, 0.0);  // no tie correction: the tie term is unused
            p[k] = stats::wilcoxon_ranksum_p_from_rank_sum(rs.r1, (double)rs.n1, (double)rs.n2);
            lfc[k] = g.means.at(i, k) - g.control[k];
        }
        out[(size_t)i] = ranked_significant(stats::benjamini_hochberg(p), lfc, 0.05);
    });
    return out;
}

// The pair cell-eval compares: the evaluated real cells (QC-pass cells of the split, controls included) and, for each
// of them, `per_real` cells sampled from the model at that real cell's library size (evaluate.cells_per_real). Both
// ordered by label.
struct CellPair {
    LabelledCells real, pred;
    std::vector<int64_t> rows;       // dataset row of each real cell
    std::vector<int64_t> pred_rows;  // dataset row of the real cell each predicted one mirrors
};

CellPair cell_eval_pair(LoadedModel& m, int split, int control_split, const std::set<std::string>& labels,
                        int64_t per_real, uint64_t seed, bool verbose) {
    const data::Dataset& ds = m.dataset;
    std::map<std::string, std::vector<int64_t>> by_label;
    for (int64_t n = 0; n < ds.N; ++n)
        if (evaluated(ds, n, split, control_split) && (ds.labels[n] == ds.control_label || labels.count(ds.labels[n])))
            by_label[ds.labels[n]].push_back(n);
    CellPair p;
    for (LabelledCells* c : {&p.real, &p.pred}) {
        c->counts.cols = ds.G;
        c->counts.indptr.assign(1, 0);
    }
    std::unique_ptr<io::Progress> bar;
    if (verbose) bar = std::make_unique<io::Progress>("evaluate: predicted cells");
    int64_t total = 0, done = 0;
    for (const auto& [label, rows] : by_label) total += (int64_t)rows.size() * per_real;
    uint64_t step = 0;
    // Real cells per generation call: 256 predicted cells (with per_real = 1 the blocks, and so the draws, are
    // those of the one-cell-per-real-cell pair).
    const int64_t block = std::max<int64_t>(1, 256 / per_real);
    for (const auto& [label, rows] : by_label) {
        for (size_t i0 = 0; i0 < rows.size(); i0 += (size_t)block) {
            const size_t i1 = std::min(rows.size(), i0 + (size_t)block);
            std::vector<double> libs;
            for (size_t i = i0; i < i1; ++i) {
                const int64_t n = rows[i];
                append_cell(p.real, ds, n);
                p.rows.push_back(n);
                for (int64_t c = 0; c < per_real; ++c) {
                    libs.push_back(ds.library[n]);
                    p.pred.labels.push_back(label);
                    p.pred_rows.push_back(n);
                }
            }
            io::CsrMatrix b = sample_cells(m, ds.treatments[rows[i0]], libs, seed, step++);
            const int64_t base = (int64_t)p.pred.counts.data.size();
            p.pred.counts.indices.insert(p.pred.counts.indices.end(), b.indices.begin(), b.indices.end());
            p.pred.counts.data.insert(p.pred.counts.data.end(), b.data.begin(), b.data.end());
            for (int64_t r = 1; r <= b.rows; ++r) p.pred.counts.indptr.push_back(base + b.indptr[r]);
            done += b.rows;
            if (bar) bar->update(done, total, "cells");
        }
    }
    p.real.counts.rows = (int64_t)p.rows.size();
    p.pred.counts.rows = (int64_t)p.pred_rows.size();
    if (bar) bar->finish_line("evaluate: " + std::to_string(total) + " predicted cells at the real cells' library sizes");
    return p;
}

// `evaluate --export DIR`: real.h5ad and pred.h5ad as cell-eval reads them (raw counts in X; obs target_gene, the
// control named as in the data, and the input's perturbation column), and cells.csv.
void write_cell_eval_pair(const LoadedModel& m, const CellPair& p, const std::string& dir) {
    const data::Dataset& ds = m.dataset;
    const std::string key = m.config.at("data").at("perturbation_key").get<std::string>();
    fs::create_directories(dir);
    for (const bool real : {true, false}) {
        const LabelledCells& c = real ? p.real : p.pred;
        io::AnnDataOut a;
        a.rows = c.counts.rows;
        a.cols = ds.G;
        a.var.index = ds.gene_names;
        a.X_csr = c.counts;
        std::vector<std::string> mirrors;
        const std::vector<int64_t>& rows = real ? p.rows : p.pred_rows;
        for (size_t i = 0; i < rows.size(); ++i) {
            a.obs.index.push_back(real ? ds.obs_names[rows[i]] : "pred_" + std::to_string(i));
            mirrors.push_back(ds.obs_names[rows[i]]);
        }
        a.obs.add("target_gene", io::Column::categorical_from_labels(c.labels));
        if (key != "target_gene") a.obs.add(key, io::Column::categorical_from_labels(c.labels));
        if (!real) a.obs.add("library_cell", io::Column::string(mirrors));
        a.uns_strings["control_label"] = ds.control_label;
        a.uns_strings["source"] = real ? "gpo-engine evaluate: the evaluated real cells"
                                       : "gpo-engine evaluate: evaluate.cells_per_real model cells per real cell, "
                                         "at its library size";
        io::h5ad_write((fs::path(dir) / (real ? "real.h5ad" : "pred.h5ad")).string(), a);
    }
    data::write_cell_table(ds, (fs::path(dir) / "cells.csv").string());
}

// Metrics of one predictor given its predicted ATE rows (labels, G).
json predictor_metrics(const Mat& A_data, const Mat& A_pred, const Groups& g, const std::vector<std::vector<int64_t>>& de,
                       const std::vector<std::vector<int64_t>>& real_de, const std::vector<int64_t>& target_col,
                       int64_t top_k, json* per_label) {
    const int64_t P = A_data.rows, G = A_data.cols;
    AteMetrics am = ate_metrics(A_data, A_pred, top_k, 20, 50);
    Mat pred_means(P, G), true_means(P, G);
    for (int64_t t = 0; t < P; ++t)
        for (int64_t k = 0; k < G; ++k) {
            pred_means.at(t, k) = g.control[k] + A_pred.at(t, k);
            true_means.at(t, k) = g.control[k] + A_data.at(t, k);
        }
    PerturbationMetrics pm = perturbation_metrics(pred_means, true_means, g.control, de);
    std::vector<double> disc = discrimination_score_l1(A_pred, A_data, target_col);
    std::vector<double> jac20 = jaccard_at_k(A_data, A_pred, 20);
    std::vector<double> overlap(P, NAN);
    for (int64_t t = 0; t < P; ++t) {
        std::vector<int64_t> pred_rank = top_k_indices(A_pred.row(t), G, G);  // by |predicted effect|
        overlap[t] = real_de[t].empty() ? NAN : overlap_at_k(real_de[t], pred_rank, top_k);
    }
    auto nanmean = [](const std::vector<double>& v) {
        double s = 0;
        int64_t n = 0;
        for (double x : v)
            if (std::isfinite(x)) s += x, ++n;
        return n ? s / n : NAN;
    };
    // On the perturbseq transform (the papers' ATE convention); the cell-eval names are added by evaluate_model.
    json j = {{"ate_pearson", num(am.pearson)},         {"ate_r2", num(am.r2)},
              {"ate_pearson_top20", num(am.pearson_top)}, {"ate_r2_top20", num(am.r2_top)},
              {"jaccard_top20", num(am.jaccard_k1)},    {"jaccard_top50", num(am.jaccard_k2)},
              {"ate_pearson_delta", num(nanmean(pm.pearson_delta))},
              {"ate_pearson_delta_top20", num(nanmean(pm.pearson_delta_de))},
              {"ate_mse_top20", num(nanmean(pm.mse_de))},      {"ate_pearson_profile_top20", num(nanmean(pm.pearson_de))},
              {"ate_overlap_top20", num(nanmean(overlap))},  {"ate_discrimination_l1", num(nanmean(disc))}};
    if (per_label) {
        *per_label = json::array();
        for (int64_t t = 0; t < P; ++t)
            per_label->push_back({{"perturbation", g.labels[t]},
                                  {"cells", g.n_cells[t]},
                                  {"ate_pearson_delta", num(pm.pearson_delta[t])},
                                  {"ate_pearson_delta_top20", num(pm.pearson_delta_de[t])},
                                  {"ate_mse_top20", num(pm.mse_de[t])},
                                  {"ate_pearson_profile_top20", num(pm.pearson_de[t])},
                                  {"jaccard_top20", num(jac20[t])},
                                  {"ate_overlap_top20", num(overlap[t])},
                                  {"ate_discrimination_l1", num(disc[t])}});
    }
    return j;
}

// The per-perturbation rows of the report as CSV (pandas.read_csv), one column per key of the first row, in its
// order; a missing number is an empty field.
std::string per_perturbation_csv(const json& rows) {
    std::ostringstream os;
    if (rows.empty()) return "perturbation\n";
    std::vector<std::string> keys;
    for (auto it = rows[0].begin(); it != rows[0].end(); ++it) keys.push_back(it.key());
    std::stable_partition(keys.begin(), keys.end(), [](const std::string& k) { return k == "perturbation"; });
    for (size_t i = 0; i < keys.size(); ++i) os << (i ? "," : "") << keys[i];
    os << "\n";
    for (const auto& r : rows) {
        for (size_t i = 0; i < keys.size(); ++i) {
            const json& v = r.contains(keys[i]) ? r[keys[i]] : json();
            os << (i ? "," : "");
            if (v.is_string()) os << io::csv_field(v.get<std::string>());
            else if (v.is_number_integer()) os << v.get<int64_t>();
            else if (v.is_number()) os << v.dump();
            else if (v.is_boolean()) os << (v.get<bool>() ? "True" : "False");  // pandas reads these as bool
        }
        os << "\n";
    }
    return os.str();
}

std::string fmt(const json& v) {
    if (v.is_null()) return "n/a";
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", v.get<double>());
    return b;
}


// ---------------------------------------------------------------- stage 1: which cells (docs/metrics.md)
// Under a held-out split the evaluated perturbations are the held-out ones (the test split's labels) unless
// evaluate.split names train or val; the controls are the evaluated split's, or every split's when it has none
// (held-out combinations leave every control in train and val).
struct Scope {
    std::string split_name;
    int split = -1, control_split = -1;  // -1: all splits
    bool only_heldout = false;
    std::vector<std::string> heldout_labels;
    int64_t top_k = 20;
    uint64_t seed = 0;
};

Scope evaluation_scope(const LoadedModel& m, bool verbose) {
    const json& ec = m.config.at("evaluate");
    const data::Dataset& ds = m.dataset;
    Scope s;
    s.split_name = ec.at("split").get<std::string>();
    s.split = s.split_name == "train" ? data::SPLIT_TRAIN : s.split_name == "val" ? data::SPLIT_VAL
              : s.split_name == "test" ? data::SPLIT_TEST : -1;
    s.top_k = ec.at("top_k_de").get<int64_t>();
    s.seed = m.config.at("train").at("seed").get<uint64_t>();
    const bool heldout = m.config.at("preprocess").at("split").get<std::string>().rfind("heldout", 0) == 0 &&
                         m.config.at("data").at("split_column").is_null();
    std::set<std::string> h;
    for (int64_t n = 0; n < ds.N; ++n)
        if (ds.split[n] == data::SPLIT_TEST && ds.labels[n] != ds.control_label) h.insert(ds.labels[n]);
    s.heldout_labels.assign(h.begin(), h.end());
    s.only_heldout = heldout && s.split != data::SPLIT_TRAIN && s.split != data::SPLIT_VAL;
    s.control_split = s.split;
    int64_t n_ctrl = 0;
    for (int64_t n = 0; n < ds.N; ++n) n_ctrl += ds.labels[n] == ds.control_label && evaluated(ds, n, s.split, s.split);
    if (n_ctrl == 0) {
        s.control_split = -1;
        if (verbose)
            std::fprintf(stderr, "evaluate: the %s split has no QC-pass control cell; using the controls of every "
                                 "split\n", s.split_name.c_str());
    }
    return s;
}

// ---------------------------------------------------------------- stage 2: the data ATE on the evaluated split (D9)
struct DataAte {
    Groups groups;                                  // evaluated labels, their mean profiles, the control's
    Mat A;                                          // (labels, G) observed ATE
    std::vector<std::vector<int64_t>> de, real_de;  // top-k |ATE| genes; Wilcoxon DE genes of the real cells
    std::vector<int64_t> target_col;                // a single perturbation's measured gene, or -1
    std::vector<std::vector<int>> treatments;       // per label
};

DataAte data_ate(const LoadedModel& m, const Scope& s) {
    const data::Dataset& ds = m.dataset;
    DataAte d;
    d.groups = group_profiles(ds, s.split, s.only_heldout ? &s.heldout_labels : nullptr, s.control_split);
    const int64_t P = (int64_t)d.groups.labels.size(), G = ds.G;
    GPO_CHECK(P > 0, "evaluate: no perturbed QC-pass cell in the " << s.split_name << " split");
    d.A = Mat(P, G);
    for (int64_t t = 0; t < P; ++t)
        for (int64_t k = 0; k < G; ++k) d.A.at(t, k) = d.groups.means.at(t, k) - d.groups.control[k];
    d.real_de = real_de_genes(ds, s.split, s.control_split, d.groups);
    d.de.resize(P);
    d.target_col.assign(P, -1);
    d.treatments.resize(P);
    for (int64_t t = 0; t < P; ++t) {
        d.de[t] = top_k_indices(d.A.row(t), G, s.top_k);
        d.treatments[t] = treatments_of_label(m, d.groups.labels[t]);
        if (d.treatments[t].size() == 1) d.target_col[t] = ds.treatment_gene[d.treatments[t][0]];
    }
    return d;
}

// ---------------------------------------------------------------- stage 3: the model ATE, batched particles
Mat model_ate(LoadedModel& m, const DataAte& d, const Scope& s, bool verbose) {
    const json& ec = m.config.at("evaluate");
    const int64_t P = d.A.rows, G = d.A.cols;
    const int64_t particles = ec.at("ate_particles").get<int64_t>();
    // Particles per generate() call: evaluate.ate_batch, fewer when (particles x dosages x genes) would pass
    // kAteChunkElements (the call's means and samples are that large, several times over): at the reference scale
    // (1,547 dosages x 8,563 genes) one particle per call instead of 128 (~7 GB of floats, ~14 GB as doubles, per
    // array). A constant, not the machine's memory, so the draws depend only on the config.
    constexpr int64_t kAteChunkElements = int64_t(1) << 24;
    const int64_t chunk = std::max<int64_t>(
        1, std::min(ec.at("ate_batch").get<int64_t>(), kAteChunkElements / std::max<int64_t>(1, (P + 1) * G)));
    const double library = ec.at("ate_library_size").get<double>();
    std::vector<std::vector<int>> dosages = d.treatments;
    dosages.push_back({});  // control, last
    Mat model_sum(P + 1, G, 0.0);
    std::unique_ptr<io::Progress> ate_bar;
    if (verbose) ate_bar = std::make_unique<io::Progress>("evaluate: model ATE");
    for (int64_t done = 0, c = 0; done < particles; done += chunk, ++c) {
        int64_t n = std::min(chunk, particles - done);
        if (ate_bar) ate_bar->update(done, particles, "particles");
        Tensor x = m.model->generate(m.params, dosages, (int)n, library, true, RngKey{s.seed, 77}, (uint64_t)c);
        if (x.is_cuda()) x = x.to(Device::CPU);  // (n, P + 1, G)
        // Each dosage's row of the sum on one thread, its particles in order: the same sums for any thread count.
        parallel_ranges(P + 1, 16, [&](int64_t d0, int64_t d1) {
            std::vector<double> row(G), f(G);
            for (int64_t dd = d0; dd < d1; ++dd)
                for (int64_t p = 0; p < n; ++p) {
                    const int64_t at = (p * (P + 1) + dd) * G;
                    if (x.dtype == DType::F32) std::copy(x.f32() + at, x.f32() + at + G, row.begin());
                    else std::copy(x.f64() + at, x.f64() + at + G, row.begin());
                    ate_transform_row(row.data(), G, f.data());
                    double* acc = model_sum.row(dd);
                    for (int64_t k = 0; k < G; ++k) acc[k] += f[k];
                }
        });
    }
    if (ate_bar) ate_bar->finish_line("evaluate: model ATE from " + std::to_string(particles) + " particles");
    Mat A_model(P, G);
    for (int64_t t = 0; t < P; ++t)
        for (int64_t k = 0; k < G; ++k) A_model.at(t, k) = (model_sum.at(t, k) - model_sum.at(P, k)) / (double)particles;
    return A_model;
}

// ---------------------------------------------------------------- stage 4: baselines from the training split
// The linear baseline of Ahlmann-Eltze et al. (linear_baseline.h) fitted on training profiles (label -> profile,
// the control's included), queried for `labels` and the control; its target genes are the single perturbations'
// measured genes.
LinearBaseline fit_linear(const LoadedModel& m, std::map<std::string, std::vector<double>> train_profiles,
                          const std::vector<std::string>& labels) {
    const data::Dataset& ds = m.dataset;
    LinearBaselineInput in;
    in.train = std::move(train_profiles);
    in.control_label = ds.control_label;
    for (const std::string& l : std::set<std::string>(ds.labels.begin(), ds.labels.end())) {
        if (l == ds.control_label) continue;
        std::vector<int> tr = treatments_of_label(m, l);
        if (tr.size() == 1) in.target_gene[l] = ds.treatment_gene[tr[0]];
    }
    std::vector<std::string> queries = labels;
    queries.push_back(ds.control_label);
    return linear_baseline(in, queries);
}

// Each baseline's predicted ATE rows (labels, G) on the papers' perturbseq transform.
struct Baselines {
    Mat none, pert, train, add, lin;
    bool any_combo = false;                   // some evaluated label is a combination (additive applies)
    std::vector<std::string> missing_singles;  // singles of a combination without training cells
    std::vector<std::string> untrained;        // labels none of whose training cells carry their perturbation
    std::vector<std::string> linear_embedded;  // labels the linear baseline has a gene embedding for
};

std::string comma_list(const std::vector<std::string>& v) {
    std::string list;
    for (const auto& l : v) list += (list.empty() ? "" : ", ") + l;
    return list;
}

Baselines profile_baselines(const LoadedModel& m, const DataAte& d, bool verbose) {
    const data::Dataset& ds = m.dataset;
    const std::vector<std::string>& labels = d.groups.labels;
    const int64_t P = d.A.rows, G = d.A.cols;
    Baselines b;
    // Every training label's profile in one pass over the training cells; the baselines take their rows.
    const Groups train_all = group_profiles(ds, data::SPLIT_TRAIN, nullptr, data::SPLIT_TRAIN);
    const Groups train = restrict_groups(train_all, labels);
    std::vector<double> pert_mean(G, 0.0);
    {
        int64_t n = 0;
        for (int64_t c = 0; c < ds.N; ++c) {
            if (ds.split[c] != data::SPLIT_TRAIN || ds.qc[c] || ds.labels[c] == ds.control_label) continue;
            for_each_transformed(ds.counts, c, [&](int k, double v) { pert_mean[k] += v; });
            ++n;
        }
        for (double& v : pert_mean) v /= std::max<int64_t>(1, n);
    }
    // The single perturbations of every evaluated combination, with their training profiles (additive baseline).
    std::vector<std::string> singles;
    for (int64_t t = 0; t < P; ++t)
        if (d.treatments[t].size() > 1)
            for (int tr : d.treatments[t]) singles.push_back(ds.treatment_names[tr]);
    std::sort(singles.begin(), singles.end());
    singles.erase(std::unique(singles.begin(), singles.end()), singles.end());
    const Groups train_singles = restrict_groups(train_all, singles);
    std::map<std::string, int64_t> single_row;  // single label -> row of train_singles
    for (size_t i = 0; i < train_singles.labels.size(); ++i) {
        single_row[train_singles.labels[i]] = (int64_t)i;
        if (train_singles.n_cells[i] == 0) b.missing_singles.push_back(train_singles.labels[i]);
    }
    if (!b.missing_singles.empty() && verbose)
        std::fprintf(stderr, "evaluate: warning: no training cell of the single perturbation(s) %s; the additive "
                             "baseline counts them as no change\n", comma_list(b.missing_singles).c_str());
    // Predictions for a perturbation none of whose training cells carry it rest on an untrained embedding row.
    b.untrained = untrained_labels(m, labels);
    if (!b.untrained.empty())
        std::fprintf(stderr, "evaluate: warning: no training cell carries a perturbation of %s; those predictions "
                             "rest on untrained embeddings (per_perturbation: trained_embedding = false)\n",
                     comma_list(b.untrained).c_str());
    b.none = Mat(P, G, 0.0), b.pert = Mat(P, G), b.train = Mat(P, G), b.add = Mat(P, G), b.lin = Mat(P, G);
    for (int64_t t = 0; t < P; ++t) {
        for (int64_t k = 0; k < G; ++k) {
            b.pert.at(t, k) = pert_mean[k] - train.control[k];
            double tm = train.means.at(t, k);
            b.train.at(t, k) = std::isfinite(tm) ? tm - train.control[k] : 0.0;  // unseen in training: no change
        }
        if (d.treatments[t].size() > 1) {  // additive: sum of the single perturbations' training effects
            b.any_combo = true;
            for (int64_t k = 0; k < G; ++k) b.add.at(t, k) = 0.0;
            for (int tr : d.treatments[t]) {
                auto it = single_row.find(ds.treatment_names[tr]);
                if (it == single_row.end()) continue;
                for (int64_t k = 0; k < G; ++k) {
                    double tm = train_singles.means.at(it->second, k);
                    if (std::isfinite(tm)) b.add.at(t, k) += tm - train_singles.control[k];
                }
            }
        } else {
            for (int64_t k = 0; k < G; ++k) b.add.at(t, k) = b.train.at(t, k);
        }
    }
    // The linear baseline fitted on every training condition.
    std::map<std::string, std::vector<double>> profiles{{ds.control_label, train_all.control}};
    for (size_t i = 0; i < train_all.labels.size(); ++i)
        if (train_all.n_cells[i] > 0)
            profiles[train_all.labels[i]].assign(train_all.means.row((int64_t)i), train_all.means.row((int64_t)i) + G);
    LinearBaseline lb = fit_linear(m, std::move(profiles), labels);
    b.linear_embedded = lb.embedded;
    const std::vector<double>& c = lb.predicted.at(ds.control_label);
    for (int64_t t = 0; t < P; ++t) {
        const std::vector<double>& v = lb.predicted.at(labels[t]);
        for (int64_t k = 0; k < G; ++k) b.lin.at(t, k) = v[k] - c[k];
    }
    return b;
}

// ---------------------------------------------------------------- stage 5: cell-eval's metrics on the cell pair
struct CellEvalScores {
    CellEvalMetrics model;
    std::map<std::string, CellEvalMetrics> baselines;
    std::map<std::string, std::vector<int64_t>> gears_de;  // GEARS's DE genes per label
};

CellEvalScores cell_eval_scores(LoadedModel& m, const Scope& s, const DataAte& d, bool any_combo,
                                const std::string& export_dir, bool verbose) {
    const data::Dataset& ds = m.dataset;
    const std::vector<std::string>& labels = d.groups.labels;
    CellEvalScores out;
    const int64_t per_real = m.config.at("evaluate").at("cells_per_real").get<int64_t>();
    CellPair pair = cell_eval_pair(m, s.split, s.control_split, std::set<std::string>(labels.begin(), labels.end()),
                                   per_real, s.seed, verbose);
    const auto real_pb = normlog_pseudobulk(pair.real);
    const auto pred_pb = normlog_pseudobulk(pair.pred);
    out.model = cell_eval_metrics(real_pb, pred_pb, ds.control_label, ds.gene_names);
    // cell-eval's DE metrics need predicted cells: the model only (the baselines are profiles).
    add_de_metrics(pdex_ref(pair.real, ds.control_label), pdex_ref(pair.pred, ds.control_label), out.model);
    // GEARS's metrics need only profiles on GEARS's DE genes of the real cells: the model and every baseline.
    out.gears_de = gears_de_genes(normlog_moments(pair.real), ds.control_label);
    add_gears_metrics(real_pb, pred_pb, out.gears_de, ds.control_label, out.model);
    // Baselines as cell-eval would score a prediction file holding, for each perturbation, the training cells of
    // that perturbation (train_mean; the controls when it has none), all perturbed training cells (perturbed_mean)
    // or the training controls (no_change), each file normalised on its own.
    auto score_profiles = [&](const std::map<std::string, std::vector<double>>& pb) {
        CellEvalMetrics ce = cell_eval_metrics(real_pb, pb, ds.control_label, ds.gene_names);
        add_gears_metrics(real_pb, pb, out.gears_de, ds.control_label, ce);
        return ce;
    };
    // The training cells read in place from the dataset (not copied).
    std::vector<int64_t> train_rows;
    std::vector<std::string> train_labels;
    for (int64_t n = 0; n < ds.N; ++n)
        if (evaluated(ds, n, data::SPLIT_TRAIN, data::SPLIT_TRAIN)) train_rows.push_back(n), train_labels.push_back(ds.labels[n]);
    data::RowBuffer buf;
    auto train_row = [&](int64_t r) { return ds.counts.row(train_rows[(size_t)r], buf); };
    const auto own = normlog_pseudobulk(train_labels, ds.G, train_row);
    for (auto& l : train_labels)  // the same cells pooled: every perturbed cell under one label
        if (l != ds.control_label) l = "__perturbed__";
    const auto pool = normlog_pseudobulk(train_labels, ds.G, train_row);
    std::map<std::string, std::vector<double>> none_pb, pert_pb, train_pb;
    const std::vector<double>& ctrl = own.at(ds.control_label);
    for (const auto& [label, v] : real_pb) {
        (void)v;
        none_pb[label] = ctrl;
        pert_pb[label] = label == ds.control_label ? pool.at(ds.control_label) : pool.at("__perturbed__");
        train_pb[label] = own.count(label) ? own.at(label) : ctrl;
    }
    if (any_combo) {  // additive: the control plus the sum of the single perturbations' effects
        std::map<std::string, std::vector<double>> add_pb = train_pb;
        for (size_t t = 0; t < labels.size(); ++t) {
            if (d.treatments[t].size() < 2) continue;
            std::vector<double> v = ctrl;
            for (int tr : d.treatments[t]) {
                auto it = own.find(ds.treatment_names[tr]);
                if (it == own.end()) continue;
                for (size_t g = 0; g < v.size(); ++g) v[g] += it->second[g] - ctrl[g];
            }
            add_pb[labels[t]] = v;
        }
        out.baselines["additive"] = score_profiles(add_pb);
    }
    {  // linear: fitted on the training pseudobulks in cell-eval's normalisation
        LinearBaseline lb = fit_linear(m, own, labels);
        std::map<std::string, std::vector<double>> lin_pb;
        for (const auto& [label, v] : real_pb) {
            (void)v;
            lin_pb[label] = label == ds.control_label ? ctrl : lb.predicted.at(label);
        }
        out.baselines["linear"] = score_profiles(lin_pb);
    }
    out.baselines["no_change"] = score_profiles(none_pb);
    out.baselines["perturbed_mean"] = score_profiles(pert_pb);
    out.baselines["train_mean"] = score_profiles(train_pb);
    if (!export_dir.empty()) write_cell_eval_pair(m, pair, export_dir);
    return out;
}

// ---------------------------------------------------------------- stage 6: the metrics table
struct MetricTables {
    json model, baselines, per_label;
};

MetricTables metric_tables(const LoadedModel& m, const Scope& s, const DataAte& d, const Mat& A_model,
                           const Baselines& b, const CellEvalScores& ce) {
    const data::Dataset& ds = m.dataset;
    auto pm = [&](const Mat& A, json* per_label) {
        return predictor_metrics(d.A, A, d.groups, d.de, d.real_de, d.target_col, s.top_k, per_label);
    };
    MetricTables t;
    t.model = pm(A_model, &t.per_label);
    t.baselines = {{"no_change", pm(b.none, nullptr)},
                   {"perturbed_mean", pm(b.pert, nullptr)},
                   {"train_mean", pm(b.train, nullptr)},
                   {"linear", pm(b.lin, nullptr)}};
    if (b.any_combo) t.baselines["additive"] = pm(b.add, nullptr);
    auto add_cell_eval = [&](json& into, const CellEvalMetrics& c) {
        for (const auto& [name, v] : c.mean) into[name] = num(v);
    };
    add_cell_eval(t.model, ce.model);
    for (const auto& [name, c] : ce.baselines) add_cell_eval(t.baselines[name], c);
    for (auto& row : t.per_label) {
        auto it = std::find(ce.model.perts.begin(), ce.model.perts.end(), row["perturbation"].get<std::string>());
        if (it == ce.model.perts.end()) continue;
        const size_t i = (size_t)(it - ce.model.perts.begin());
        for (const auto& [name, v] : ce.model.per_pert) row[name] = num(v[i]);
        std::string genes;  // GEARS's 20 DE genes, ';'-separated (one CSV field)
        for (int64_t g : ce.gears_de.at(ce.model.perts[i])) genes += (genes.empty() ? "" : ";") + ds.gene_names[g];
        row["gears_de_genes"] = genes;
    }
    for (auto& row : t.per_label)
        row["trained_embedding"] = std::find(b.untrained.begin(), b.untrained.end(),
                                             row["perturbation"].get<std::string>()) == b.untrained.end();
    return t;
}

// ---------------------------------------------------------------- stage 7: the test IWELBO
struct Iwelbo {
    double mean = NAN;
    int64_t cells = 0;
    int split = data::SPLIT_TEST;
    int particles = 0;
};

// The split's cells (in file order) grouped by label, then cut into batches: the models draw and encode the
// masks and embeddings of the perturbations present in a batch for every particle, so a batch of one or two labels
// does one or two rows instead of one per cell (at the reference scale ~24 rows of T = 1,546 for each of 100
// particles). Those draws are counter-based by perturbation row (the same in every batch: the global variables are
// drawn once for the whole evaluation, docs/model.md §7), so grouping leaves them as they were; a cell's latent
// noise follows its position in its batch, so that (and with it the IWELBO, within its Monte-Carlo noise) changes.
std::vector<std::vector<int64_t>> iwelbo_batches(const data::Dataset& ds, int split, int64_t cells_per_batch) {
    std::vector<int64_t> cells = ds.cells_of_split(split);
    std::stable_sort(cells.begin(), cells.end(),
                     [&](int64_t a, int64_t b) { return ds.labels[(size_t)a] < ds.labels[(size_t)b]; });
    return data::cut_into_batches(cells, cells_per_batch);
}

Iwelbo test_iwelbo(LoadedModel& m, const Scope& s, bool verbose) {
    const data::Dataset& ds = m.dataset;
    Iwelbo iw;
    iw.particles = m.config.at("evaluate").at("iwelbo_particles").get<int>();
    // Cells per batch so that particles x cells matches a training step's rows.
    const int64_t cells_per_batch = std::max<int64_t>(
        8, m.config["train"]["batch_size"].get<int64_t>() * m.config["train"]["particles"].get<int64_t>() / iw.particles);
    // With evaluate.split = all the IWELBO is still a held-out figure: it uses the test split (said in the report).
    iw.split = s.split < 0 ? data::SPLIT_TEST : s.split;
    if (s.split < 0 && verbose) std::fprintf(stderr, "evaluate: the IWELBO uses the test split (evaluate.split = all)\n");
    const auto batches = iwelbo_batches(ds, iw.split, cells_per_batch);
    std::unique_ptr<io::Progress> bar;
    if (verbose) bar = std::make_unique<io::Progress>("evaluate: IWELBO");
    int64_t done = 0;
    double sum = 0;
    for (const auto& cells : batches) {
        if (bar) bar->update(done++, (int64_t)batches.size(), "batches");
        models::Batch b = data::make_batch(ds, cells, iw.split, m.params.values().dtype, m.device);
        std::vector<double> lw = m.model->log_weights(m.params, b, iw.particles, RngKey{s.seed, 78}, 0).to_vector();
        const int64_t B = (int64_t)cells.size();
        for (int64_t n = 0; n < B; ++n) {
            double mx = -INFINITY;
            for (int p = 0; p < iw.particles; ++p) mx = std::max(mx, lw[p * B + n]);
            double e = 0;
            for (int p = 0; p < iw.particles; ++p) e += std::exp(lw[p * B + n] - mx);
            sum += mx + std::log(e) - std::log((double)iw.particles);
        }
        iw.cells += B;
    }
    if (bar) bar->finish_line("evaluate: IWELBO over " + std::to_string(iw.cells) + " cells");
    iw.mean = iw.cells ? sum / (double)iw.cells : NAN;
    return iw;
}

// ---------------------------------------------------------------- stage 8: figures and the readable report
// Writes the SVG figures into out_dir (made now, when every number is computed: an error before leaves nothing
// behind) and returns their file names.
std::vector<std::string> write_figures(const LoadedModel& m, const std::string& out_dir, const Scope& s,
                                       const DataAte& d, const Mat& A_model, const json& per_label) {
    const data::Dataset& ds = m.dataset;
    const int64_t P = d.A.rows, G = d.A.cols;
    fs::create_directories(out_dir);
    std::vector<std::string> figures;
    auto write_fig = [&](const std::string& name, const std::string& svg) {
        io::write_file_atomic((fs::path(out_dir) / name).string(), svg);
        figures.push_back(name);
    };
    std::vector<double> xs, ys;
    const int64_t stride = std::max<int64_t>(1, P * G / 20000);
    for (int64_t i = 0; i < P * G; i += stride) xs.push_back(d.A.data[i]), ys.push_back(A_model.data[i]);
    write_fig("ate_scatter.svg", io::svg_scatter("ATE: model vs data (" + s.split_name + " split)",
                                                 "observed ATE (log2)", "predicted ATE (log2)", xs, ys, true));
    std::vector<double> pd;
    for (const auto& r : per_label) {
        const json v = r.value("pearson_delta", json());
        pd.push_back(v.is_number() ? v.get<double>() : NAN);
    }
    write_fig("per_perturbation_pearson_delta.svg",
              io::svg_bar_chart("pearson_delta per perturbation (" + s.split_name + " split)",
                                "Pearson r of predicted vs observed change", d.groups.labels, pd));
    std::ifstream mf(fs::path(m.run_dir) / "metrics.jsonl");
    if (mf) {
        io::Series tr{"train loss", {}, {}}, va{"val loss", {}, {}};
        for (std::string line; std::getline(mf, line);) {
            json j = json::parse(line, nullptr, false);
            if (j.is_discarded() || j.value("type", "") != "epoch") continue;
            tr.x.push_back(j["epoch"].get<double>());
            tr.y.push_back(j["train_loss"].get<double>());
            va.x.push_back(j["epoch"].get<double>());
            va.y.push_back(j["val_loss"].get<double>());
        }
        if (!tr.x.empty()) write_fig("training_curves.svg", io::svg_line_chart("loss per epoch", "epoch", "loss per cell", {tr, va}));
    }
    if (m.model->mask_logits() >= 0) {
        Tensor W = m.params.value(m.model->mask_logits()).to(Device::CPU);
        if (W.ndim() == 2 && W.dim(0) == W.dim(1) && W.dim(0) == ds.T) {
            const int64_t np = ds.n_perturbed, T = ds.T;
            std::vector<double> w = W.to_vector(), block;
            for (int64_t i = 0; i < np; ++i)
                for (int64_t j = 0; j < np; ++j) block.push_back(1.0 / (1.0 + std::exp(-w[i * T + j])));
            std::vector<std::string> names(ds.treatment_names.begin(), ds.treatment_names.begin() + np);
            write_fig("grn_perturbed_block.svg",
                      io::svg_heatmap("GRN edge probability (perturbed genes)", names, names, block, "edge probability"));
        }
    }
    return figures;
}

std::string report_markdown(const LoadedModel& m, const std::vector<std::string>& figures, const Scope& s, const DataAte& d,
                            const Baselines& b, const MetricTables& t, const Iwelbo& iw) {
    const json& ec = m.config.at("evaluate");
    std::ostringstream md;
    md << "# Evaluation of " << m.model->type() << "\n\n"
       << "Metric definitions: docs/metrics.md (cell-eval's names follow cell-eval; `ate_*` and `jaccard_*` the "
          "GPO-VAE papers' perturbseq convention).\n\n"
       << "Checkpoint `" << m.checkpoint << "`, " << s.split_name << " split (QC-pass cells), seed " << s.seed << ": "
       << d.groups.n_control << " control cells, " << d.A.rows << " perturbations. ATE: perturbseq transform, "
       << ec.at("ate_particles").get<int64_t>() << " model particles at library size "
       << ec.at("ate_library_size").get<double>() << ". cell-eval's metrics: " << ec.at("cells_per_real").get<int64_t>()
       << " model cell(s) per real cell, at its library size.\n\n"
       << "Test IWELBO (" << iw.particles << " particles, " << iw.cells << " cells): " << fmt(num(iw.mean)) << "\n\n"
       << "Linear baseline (Ahlmann-Eltze et al. 2025): a gene embedding for " << b.linear_embedded.size() << " of "
       << d.A.rows << " perturbations (single perturbations of measured genes); the others get its zero-embedding "
          "prediction.\n\n"
       << "| metric | model | no change | mean of perturbed | training mean | linear" << (b.any_combo ? " | additive" : "")
       << " |\n|---|---|---|---|---|---" << (b.any_combo ? "|---" : "") << "|\n";
    json base = t.baselines;  // a copy: operator[] puts null where a baseline lacks a metric (fmt shows it)
    for (auto it = t.model.begin(); it != t.model.end(); ++it) {
        md << "| " << it.key() << " | " << fmt(it.value()) << " | " << fmt(base["no_change"][it.key()]) << " | "
           << fmt(base["perturbed_mean"][it.key()]) << " | " << fmt(base["train_mean"][it.key()]) << " | "
           << fmt(base["linear"][it.key()]);
        if (b.any_combo) md << " | " << fmt(base["additive"][it.key()]);
        md << " |\n";
    }
    md << "\n## Per perturbation (model)\n\n| perturbation | cells | pearson_delta | mse_delta | "
          "discrimination_score_l1 | ate_pearson_delta | jaccard_top20 |\n|---|---|---|---|---|---|---|\n";
    for (const auto& r : t.per_label)
        md << "| " << r["perturbation"].get<std::string>() << " | " << r["cells"] << " | "
           << fmt(r.value("pearson_delta", json())) << " | " << fmt(r.value("mse_delta", json())) << " | "
           << fmt(r.value("discrimination_score_l1", json())) << " | " << fmt(r["ate_pearson_delta"]) << " | "
           << fmt(r["jaccard_top20"]) << " |\n";
    md << "\n## Figures\n\n";
    for (const auto& fname : figures) md << "![" << fname << "](" << fname << ")\n\n";
    return md.str();
}

}  // namespace

json evaluate_model(LoadedModel& m, const std::string& out_dir, bool verbose, const std::string& export_dir) {
    const auto t0 = std::chrono::steady_clock::now();
    // Wall seconds of each stage, in the report (where evaluation time goes, for users and benchmarks).
    json stage_seconds = json::object();
    auto lap = [&, last = t0](const char* stage) mutable {
        const auto now = std::chrono::steady_clock::now();
        stage_seconds[stage] = std::chrono::duration<double>(now - last).count();
        last = now;
    };
    const json& ec = m.config.at("evaluate");
    const Scope s = evaluation_scope(m, verbose);
    lap("scope");
    const DataAte d = data_ate(m, s);
    lap("data_ate");
    const Mat A_model = model_ate(m, d, s, verbose);
    lap("model_ate");
    const Baselines b = profile_baselines(m, d, verbose);
    lap("baselines");
    const CellEvalScores ce = cell_eval_scores(m, s, d, b.any_combo, export_dir, verbose);
    lap("cell_eval");
    MetricTables t = metric_tables(m, s, d, A_model, b, ce);
    lap("metric_tables");
    const Iwelbo iw = test_iwelbo(m, s, verbose);
    lap("iwelbo");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    json report = {{"checkpoint", m.checkpoint},
                   {"model", m.model->type()},
                   {"split", s.split_name},
                   {"seed", s.seed},
                   {"cells", {{"control", d.groups.n_control}, {"perturbations", d.A.rows},
                              {"controls_from", s.control_split < 0 ? std::string("all splits")
                                                                    : std::string(data::split_name(s.control_split))},
                              {"held_out_labels_only", s.only_heldout}}},
                   {"additive_singles_without_training_cells", b.missing_singles},
                   {"untrained_perturbations", b.untrained},
                   {"linear_baseline", {{"reference", "Ahlmann-Eltze, Huber & Anders, Nature Methods 2025"},
                                        {"components", LinearBaselineInput{}.components},
                                        {"ridge", LinearBaselineInput{}.ridge},
                                        {"embedded_perturbations", b.linear_embedded}}},
                   {"iwelbo", {{"particles", iw.particles}, {"cells", iw.cells}, {"split", data::split_name(iw.split)},
                               {"mean", num(iw.mean)}}},
                   {"predicted_cells", {{"per_real_cell", ec.at("cells_per_real").get<int64_t>()},
                                        {"library_sizes", "the real cells' own"}}},
                   {"ate", {{"particles", ec.at("ate_particles").get<int64_t>()},
                            {"library_size", ec.at("ate_library_size").get<double>()}, {"transform", "perturbseq"},
                            {"top_k_de", s.top_k}, {"qc_pass_cells_only", true}}},
                   {"metrics", {{"model", t.model}, {"baselines", t.baselines}}},
                   {"per_perturbation", t.per_label},
                   {"seconds", seconds},
                   {"stage_seconds", stage_seconds}};
    const std::vector<std::string> figures = write_figures(m, out_dir, s, d, A_model, t.per_label);
    report["figures"] = figures;
    io::write_file_atomic((fs::path(out_dir) / "report.json").string(), report.dump(2) + "\n");
    io::write_file_atomic((fs::path(out_dir) / "report.md").string(), report_markdown(m, figures, s, d, b, t, iw));
    io::write_file_atomic((fs::path(out_dir) / "per_perturbation.csv").string(), per_perturbation_csv(t.per_label));
    if (verbose) std::fprintf(stderr, "evaluate: report in %s (%.1f s)\n", out_dir.c_str(), seconds);
    return report;
}

}  // namespace gpo::eval
