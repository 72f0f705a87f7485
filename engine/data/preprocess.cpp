// Native preprocessing (see preprocess.h).
#include "engine/data/preprocess.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "engine/check.h"
#include "engine/data/sinkhorn.h"
#include "engine/data/stats.h"
#include "engine/device.h"
#include "kernels/cuda/sinkhorn.h"
#include "engine/rng.h"
#include "io/h5ad.h"
#include "io/progress.h"

namespace gpo::data {

using json = nlohmann::json;

namespace {

#ifdef GPO_WITH_CUDA
std::vector<int> cuda_sinkhorn(const std::vector<double>& a, const std::vector<double>& b, int d, double reg,
                               double scale, int iters, double tol) {
    return cuda::sinkhorn_match(a, b, d, reg, scale, iters, tol);
}
#else
std::vector<int> cuda_sinkhorn(const std::vector<double>&, const std::vector<double>&, int, double, double, int,
                               double) {
    GPO_FAIL("preprocess.device: this build has no CUDA");
}
#endif

std::string opt_string(const json& v) { return v.is_null() ? std::string() : v.get<std::string>(); }

// Column as booleans: Bool, or Numeric non-zero, or strings "True"/"true"/"1".
std::vector<uint8_t> as_bools(const io::Column& c, const std::string& what) {
    std::vector<uint8_t> out(c.size());
    for (size_t i = 0; i < c.size(); ++i) {
        if (c.kind == io::Column::Kind::Bool) out[i] = c.bools[i];
        else if (c.kind == io::Column::Kind::Numeric) out[i] = !std::isnan(c.numbers[i]) && c.numbers[i] != 0;
        else {
            std::string l = c.label(i);
            GPO_CHECK(l == "True" || l == "False" || l == "true" || l == "false" || l == "1" || l == "0" || l.empty(),
                      what << ": expected a boolean column, found the value '" << l << "'");
            out[i] = (l == "True" || l == "true" || l == "1");
        }
    }
    return out;
}

std::vector<std::string> split_label(const std::string& label, const std::string& delim) {
    std::vector<std::string> parts;
    if (delim.empty()) return {label};
    size_t start = 0;
    while (true) {
        size_t p = label.find(delim, start);
        parts.push_back(label.substr(start, p == std::string::npos ? std::string::npos : p - start));
        if (p == std::string::npos) break;
        start = p + delim.size();
    }
    return parts;
}

// How a file's perturbation labels are read (docs/data.md): exact control labels, and the parts of a combination
// that mean "no perturbation" (GEARS writes a single knockout as "A+ctrl").
struct LabelRules {
    std::set<std::string> control;        // data.control_label and data.control_labels, matched exactly
    std::set<std::string> control_parts;  // data.control_parts, dropped from combinations
    std::string delim;
};

// The perturbed genes of `label`, sorted and distinct (empty for a control cell), control parts removed; throws on
// an empty part. Sorting makes "B+A" and "A+B" one combination.
std::vector<std::string> perturbed_parts(const std::string& label, const LabelRules& r, const std::string& where) {
    if (r.control.count(label)) return {};
    std::vector<std::string> parts;
    for (std::string& p : split_label(label, r.delim)) {
        GPO_CHECK(!p.empty(), where << " has the malformed label '" << label << "' (empty part around '" << r.delim
                                    << "')");
        if (!r.control_parts.count(p)) parts.push_back(std::move(p));
    }
    std::sort(parts.begin(), parts.end());
    parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
    return parts;
}

// The canonical label of perturbed parts: "A+ctrl" -> "A", "B+A" -> "A+B".
std::string join_parts(const std::vector<std::string>& parts, const std::string& delim) {
    std::string out;
    for (const std::string& p : parts) out += (out.empty() ? "" : delim) + p;
    return out;
}

// Split of each kept cell from an obs column (CPA's split_key): train, val/valid/validation, test/ood.
std::vector<uint8_t> splits_from_column(const io::Column& c, const std::vector<int64_t>& rows, const std::string& where) {
    std::vector<uint8_t> out;
    for (int64_t r : rows) {
        std::string v = c.label((size_t)r);
        for (char& ch : v) ch = (char)std::tolower((unsigned char)ch);
        if (v == "train") out.push_back(SPLIT_TRAIN);
        else if (v == "val" || v == "valid" || v == "validation") out.push_back(SPLIT_VAL);
        else if (v == "test" || v == "ood") out.push_back(SPLIT_TEST);
        else GPO_FAIL(where << ": value '" << c.label((size_t)r) << "' of cell " << r
                            << " is not a split (expected train, val, test, or validation/valid/ood)");
    }
    return out;
}

// Gene names from a var column (symbols beside an Ensembl index); missing values keep the index entry, and
// duplicates are made unique as anndata's var_names_make_unique does ("A", "A-1", "A-2").
std::vector<std::string> gene_names_from_column(const io::Column& c, const std::vector<std::string>& index,
                                                int64_t* renamed) {
    std::vector<std::string> names(index.size());
    std::map<std::string, int> seen;
    for (size_t g = 0; g < index.size(); ++g) names[g] = c.missing(g) || c.label(g).empty() ? index[g] : c.label(g);
    std::set<std::string> all(names.begin(), names.end());
    for (size_t g = 0; g < names.size(); ++g) {
        int k = seen[names[g]]++;
        if (k == 0) continue;
        std::string u;
        do u = names[g] + "-" + std::to_string(k++);
        while (all.count(u));
        seen[names[g]] = k;
        all.insert(u);
        names[g] = u;
        ++*renamed;
    }
    return names;
}

// log1p(normalize_total) of row r, scattered into a dense row of G.
void normalized_row(const Csr& X, int64_t r, double lib, double target, std::vector<double>& out) {
    std::fill(out.begin(), out.end(), 0.0);
    if (lib <= 0) return;
    thread_local RowBuffer buf;
    const CsrRow e = X.row(r, buf);
    for (int64_t k = 0; k < e.n; ++k) out[e.idx[k]] = std::log1p(e.val[k] * target / lib);
}

// What the stages of preprocess_dataset share while one file is read: the data and preprocess sections of the
// config, the file, and which of its rows are kept with their labels' perturbed genes.
struct Context {
    const json& dc;
    const json& pc;
    std::string file, pert_key, delim, filter_col, qc_col, doublet_col, ext_col, gene_col, split_col;
    LabelRules rules;
    io::AnnData ad;                               // the file without X (ad.X keeps only its shape)
    Csr file_X;                                   // the file's X, in memory or spilled; released by copy_counts
    uint64_t budget = 0;                          // preprocess.counts_in_memory_mb in bytes, per count matrix
    int64_t file_rows = 0, dropped_missing = 0;   // rows of the file; kept rows without a label
    std::vector<int64_t> rows;                    // file row of each kept cell
    std::vector<std::vector<std::string>> parts;  // perturbed genes of each kept cell (empty: a control)
    std::set<std::string> perturbed;              // every perturbed gene

    Context(const json& cfg, Dataset& ds) : dc(cfg.at("data")), pc(cfg.at("preprocess")) {
        file = ds.source = opt_string(dc.at("path"));
        GPO_CHECK(!file.empty(), "data.path: not set (the .h5ad file to read)");
        pert_key = dc.at("perturbation_key").get<std::string>();
        ds.control_label = dc.at("control_label").get<std::string>();
        delim = dc.at("combination_delimiter").get<std::string>();
        filter_col = opt_string(dc.at("cell_filter_column"));
        qc_col = opt_string(dc.at("qc_column"));
        doublet_col = opt_string(dc.at("doublet_column"));
        ext_col = opt_string(dc.at("extended_gene_column"));
        gene_col = opt_string(dc.at("gene_name_column"));
        split_col = opt_string(dc.at("split_column"));
        rules.delim = delim;
        rules.control.insert(ds.control_label);
        for (const auto& l : dc.at("control_labels")) rules.control.insert(l.get<std::string>());
        for (const auto& l : dc.at("control_parts")) rules.control_parts.insert(l.get<std::string>());
        budget = counts_budget_bytes(cfg);
    }
};

// Reads the columns the config names (and no others) and X or the counts layer.
void read_file(Context& c) {
    io::H5adReadOptions ro;
    ro.layer = opt_string(c.dc.at("counts_layer"));
    ro.obs_columns = {c.pert_key};
    for (const std::string& col : {c.filter_col, c.qc_col, c.doublet_col, c.split_col})
        if (!col.empty()) ro.obs_columns.push_back(col);
    ro.var_columns.clear();
    for (const std::string& col : {c.ext_col, c.gene_col})
        if (!col.empty()) ro.var_columns.push_back(col);
    if (ro.var_columns.empty()) ro.var_columns = {io::kNoColumns};  // read no var columns (only the index)
    ro.read_uns = false;
    // X arrives in row blocks: checked for raw counts and appended to a builder that spills to a temporary file
    // once past the memory budget, so the file's matrix is never held whole beyond it.
    std::unique_ptr<CsrBuilder> rows;
    std::string matrix = ro.layer.empty() ? "X" : "layers/" + ro.layer;
    ro.X_blocks = [&](const io::CsrMatrix& b) {
        if (!rows) rows = std::make_unique<CsrBuilder>(b.cols, c.budget, default_spill_dir(), c.file + ": " + matrix);
        for (float v : b.data)
            GPO_CHECK(std::isfinite(v) && v >= 0 && v == std::floor(v),
                      c.file << ": " << matrix << " must hold raw counts (non-negative integers), found " << v
                             << " (set data.counts_layer to the layer with raw counts)");
        for (int64_t r = 0; r < b.rows; ++r)
            rows->add_row(b.indices.data() + b.indptr[r], b.data.data() + b.indptr[r], b.indptr[r + 1] - b.indptr[r]);
    };
    c.ad = io::h5ad_read(c.file, ro);
    c.file_rows = c.ad.X.rows;
    if (rows) c.file_X = rows->finish();
    c.file_X.rows = c.ad.X.rows;  // also for a file of 0 rows (no block)
    c.file_X.cols = c.ad.X.cols;
    if (!rows) c.file_X.indptr.assign((size_t)c.file_X.rows + 1, 0);
}

// Raw counts only, unique gene names (symbols from data.gene_name_column when set), consistent shapes.
void check_matrix_and_names(Context& c) {
    const std::string& file = c.file;
    io::AnnData& ad = c.ad;
    const io::CsrMatrix& X = ad.X;  // its shape (the values were checked while read)
    const std::string& gene_col = c.gene_col;
    if (!gene_col.empty()) {  // symbols from a var column (Replogle: Ensembl index, var['gene_name'])
        int64_t renamed = 0;
        ad.var.index = gene_names_from_column(ad.var.at(gene_col), ad.var.index, &renamed);
        if (renamed)
            std::fprintf(stderr, "preprocess: %lld duplicated names in var column '%s' made unique (A, A-1, ...)\n",
                         (long long)renamed, gene_col.c_str());
    }
    {
        std::set<std::string> seen;
        for (const std::string& g : ad.var.index)
            GPO_CHECK(seen.insert(g).second, file << ": var index has the duplicated gene name '" << g
                                                  << "' (gene names must be unique)");
    }
    GPO_CHECK(ad.obs.rows() == X.rows && ad.var.rows() == X.cols,
              file << ": shape mismatch, " << ad.matrix << " is " << X.rows << " x " << X.cols << " but obs has "
                   << ad.obs.rows() << " rows and var " << ad.var.rows());
}

// The kept cells (filter column, a label present), their obs names and canonical labels, their perturbed genes.
void keep_cells(Context& c, Dataset& ds) {
    const std::string& file = c.file;
    io::AnnData& ad = c.ad;
    const io::CsrMatrix& X = ad.X;
    const std::string &pert_key = c.pert_key, &filter_col = c.filter_col, &delim = c.delim;
    const LabelRules& rules = c.rules;
    const io::Column& pcol = ad.obs.at(pert_key);
    std::vector<uint8_t> keep(X.rows, 1);
    if (!filter_col.empty()) keep = as_bools(ad.obs.at(filter_col), file + ": obs column '" + filter_col + "'");
    int64_t& dropped_missing = c.dropped_missing;
    for (int64_t i = 0; i < X.rows; ++i)
        if (keep[i] && pcol.missing(i)) keep[i] = 0, ++dropped_missing;

    std::vector<int64_t>& rows = c.rows;
    for (int64_t i = 0; i < X.rows; ++i)
        if (keep[i]) rows.push_back(i);
    GPO_CHECK(X.rows > 0, file << ": the file holds no cells (" << ad.matrix << " has 0 rows)");
    GPO_CHECK(!rows.empty(),
              file << ": no cell left: of " << X.rows << " cells, "
                   << (filter_col.empty() ? std::string("")
                                          : std::to_string(X.rows - (int64_t)dropped_missing - (int64_t)rows.size()) +
                                                " fail the filter column '" + filter_col + "' (data.cell_filter_column) and ")
                   << dropped_missing << " have no label in obs column '" << pert_key << "' (data.perturbation_key)");
    ds.N = (int64_t)rows.size();
    ds.G = X.cols;
    ds.gene_names = ad.var.index;

    std::set<std::string>& perturbed = c.perturbed;
    std::vector<std::vector<std::string>>& parts = c.parts;
    parts.assign(ds.N, {});
    int64_t n_control = 0;
    for (int64_t n = 0; n < ds.N; ++n) {
        const std::string label = pcol.label(rows[n]);
        ds.obs_names.push_back(ad.obs.index[rows[n]]);
        parts[n] = perturbed_parts(label, rules, file + ": obs column '" + pert_key + "'");
        if (parts[n].empty()) {  // an exact control label, or only "no perturbation" parts ("ctrl+ctrl")
            ds.labels.push_back(ds.control_label);
            ++n_control;
            continue;
        }
        perturbed.insert(parts[n].begin(), parts[n].end());
        ds.labels.push_back(join_parts(parts[n], delim));
    }
    GPO_CHECK(n_control > 0, file << ": obs column '" << pert_key << "' has no cell labelled '" << ds.control_label
                                  << "' (data.control_label; labels are matched exactly, add others to "
                                     "data.control_labels) among the kept cells");
    GPO_CHECK(!perturbed.empty(), file << ": obs column '" << pert_key << "' has no perturbed cell");
}

// The kept rows' counts (CSR), library sizes and the median library size; the file's matrix is released.
void copy_counts(Context& c, Dataset& ds) {
    const std::string& file = c.file;
    const std::vector<int64_t>& rows = c.rows;
    if ((int64_t)rows.size() == c.file_X.rows) {  // every row kept (rows are ascending): the file's matrix as it is
        ds.counts = std::move(c.file_X);
    } else {
        CsrBuilder kept(ds.G, c.budget, default_spill_dir(), file + ": kept cells");
        RowBuffer buf;
        for (int64_t r : rows) {
            const CsrRow e = c.file_X.row(r, buf);
            kept.add_row(e.idx, e.val, e.n);
        }
        ds.counts = kept.finish();
    }
    c.file_X = Csr();  // released (a spill file goes with it)
    RowBuffer buf;
    for (int64_t n = 0; n < ds.N; ++n) {
        const CsrRow e = ds.counts.row(n, buf);
        double lib = 0;
        for (int64_t k = 0; k < e.n; ++k) lib += e.val[k];
        ds.library.push_back((float)lib);
    }
    {
        std::vector<double> libs(ds.library.begin(), ds.library.end());
        ds.normalize_target = stats::median(libs);
        GPO_CHECK(ds.normalize_target > 0, file << ": the median library size of the kept cells is 0");
    }
}

// Extended genes (docs/model.md D6): from a var column, or computed (Wilcoxon vs control, BH, |log2 FC|), sorted.
std::vector<std::string> extended_genes(const Context& c, const Dataset& ds) {
    const std::string& file = c.file;
    const io::AnnData& ad = c.ad;
    const std::string& ext_col = c.ext_col;
    const json& pc = c.pc;
    std::vector<std::string> extended;
    const std::set<std::string>& perturbed = c.perturbed;
    if (!ext_col.empty()) {
        std::vector<uint8_t> flag = as_bools(ad.var.at(ext_col), file + ": var column '" + ext_col + "'");
        for (int64_t g = 0; g < ds.G; ++g)
            if (flag[g] && !perturbed.count(ds.gene_names[g])) extended.push_back(ds.gene_names[g]);
    } else if (pc.at("max_extended_genes").get<int64_t>() > 0) {
        const double min_lfc = pc.at("extended_min_abs_log2fc").get<double>();
        const double max_padj = pc.at("extended_max_padj").get<double>();
        // Labels as small integers (the control is one of them).
        std::map<std::string, int> label_id;
        for (const std::string& l : ds.labels) label_id.emplace(l, 0);
        std::vector<std::string> label_names;
        for (auto& [l, id] : label_id) {
            id = (int)label_names.size();
            label_names.push_back(l);
        }
        const int n_labels = (int)label_names.size(), ctrl_id = label_id.at(ds.control_label);
        std::vector<int> cell_label(ds.N);
        std::vector<int64_t> label_size(n_labels, 0);
        for (int64_t n = 0; n < ds.N; ++n) label_size[cell_label[n] = label_id.at(ds.labels[n])]++;
        // The counts transposed (CSC) so each gene's non-zeros can be visited, never dense: for all genes at once
        // when that fits the memory budget, otherwise for blocks of genes, one pass over the rows per block.
        std::vector<int64_t> gene_nnz(ds.G + 1, 0);
        ds.counts.for_each_block(1 << 22, [&](int64_t r0, int64_t nr, int64_t k0, const int32_t* idx, const float*) {
            for (int64_t k = 0; k < ds.counts.indptr[r0 + nr] - k0; ++k) gene_nnz[idx[k]]++;
        });
        std::vector<int64_t> col_ptr;
        std::vector<int32_t> col_cell;
        std::vector<float> col_val;
        int64_t block_lo = 0, block_hi = 0;  // genes [block_lo, block_hi) are transposed
        auto transpose_block = [&](int64_t lo) {
            const uint64_t cap = std::max<uint64_t>(c.budget, 1) / (sizeof(int32_t) + sizeof(float));
            int64_t hi = lo + 1;
            uint64_t entries = (uint64_t)gene_nnz[lo];
            while (hi < ds.G && entries + (uint64_t)gene_nnz[hi] <= cap) entries += (uint64_t)gene_nnz[hi++];
            col_ptr.assign((size_t)(hi - lo + 1), 0);
            for (int64_t g = lo; g < hi; ++g) col_ptr[g - lo + 1] = col_ptr[g - lo] + gene_nnz[g];
            col_cell.assign(entries, 0);
            col_val.assign(entries, 0.f);
            std::vector<int64_t> fill(col_ptr.begin(), col_ptr.end() - 1);
            ds.counts.for_each_block(1 << 22, [&](int64_t r0, int64_t nr, int64_t k0, const int32_t* idx,
                                                   const float* val) {
                for (int64_t n = r0; n < r0 + nr; ++n)
                    for (int64_t k = ds.counts.indptr[n] - k0; k < ds.counts.indptr[n + 1] - k0; ++k) {
                        if (idx[k] < lo || idx[k] >= hi) continue;
                        int64_t q = fill[idx[k] - lo]++;
                        col_cell[q] = (int32_t)n;
                        col_val[q] = (float)std::log1p(val[k] * ds.normalize_target / ds.library[n]);
                    }
            });
            block_lo = lo;
            block_hi = hi;
        };
        // Per gene and label: sorted non-zero values of log1p(normalize_total); zeros are counted, not stored.
        // Wilcoxon vs control, BH over genes per label, scanpy's log2 fold change.
        std::vector<std::vector<double>> pvals(n_labels, std::vector<double>(ds.G, 1.0));
        std::vector<std::vector<double>> lfc(n_labels, std::vector<double>(ds.G, 0.0));
        std::vector<std::vector<double>> by_label(n_labels);
        // A progress line (with ETA) only when the tests are many: at the reference scale this stage takes minutes.
        std::unique_ptr<io::Progress> bar;
        if ((int64_t)n_labels * ds.G > 2000000) bar = std::make_unique<io::Progress>("preprocess: extended genes");
        for (int64_t g = 0; g < ds.G; ++g) {
            if (bar && g % 64 == 0) bar->update(g, ds.G, "genes");
            if (g >= block_hi) transpose_block(g);
            for (auto& v : by_label) v.clear();
            for (int64_t q = col_ptr[g - block_lo]; q < col_ptr[g - block_lo + 1]; ++q)
                by_label[cell_label[col_cell[q]]].push_back(col_val[q]);
            for (auto& v : by_label) std::sort(v.begin(), v.end());
            auto mean_of = [&](int l) {
                double s = 0;
                for (double x : by_label[l]) s += x;
                return s / (double)label_size[l];
            };
            const double mc = mean_of(ctrl_id);
            const int64_t ctrl_zeros = label_size[ctrl_id] - (int64_t)by_label[ctrl_id].size();
            for (int l = 0; l < n_labels; ++l) {
                if (l == ctrl_id || label_size[l] < 2) continue;
                // scanpy's fold change on log1p data: log2((expm1(mean_a) + 1e-9) / (expm1(mean_b) + 1e-9))
                lfc[l][g] = std::log2((std::expm1(mean_of(l)) + 1e-9) / (std::expm1(mc) + 1e-9));
                pvals[l][g] = stats::wilcoxon_ranksum_p_sparse(by_label[l], label_size[l] - (int64_t)by_label[l].size(),
                                                              by_label[ctrl_id], ctrl_zeros);
            }
        }
        std::map<std::string, double> best;  // gene -> max |log2 FC| over the labels where it is significant
        for (int l = 0; l < n_labels; ++l) {
            if (l == ctrl_id || label_size[l] < 2) continue;
            std::vector<double> padj = stats::benjamini_hochberg(pvals[l]);
            for (int64_t g = 0; g < ds.G; ++g) {
                const std::string& name = ds.gene_names[g];
                if (perturbed.count(name) || padj[g] >= max_padj || std::fabs(lfc[l][g]) <= min_lfc) continue;
                best[name] = std::max(best[name], std::fabs(lfc[l][g]));
            }
        }
        std::vector<std::pair<double, std::string>> ranked;
        for (auto& [name, score] : best) ranked.push_back({-score, name});
        std::sort(ranked.begin(), ranked.end());
        size_t cap = (size_t)pc.at("max_extended_genes").get<int64_t>();
        for (size_t i = 0; i < ranked.size() && i < cap; ++i) extended.push_back(ranked[i].second);
    }
    std::sort(extended.begin(), extended.end());
    return extended;
}

// The treatment axis (sorted perturbed genes, then the extended genes), its gene columns, each cell's treatments.
void treatment_axis(const Context& c, const std::vector<std::string>& extended, Dataset& ds) {
    const std::string& file = c.file;
    const std::set<std::string>& perturbed = c.perturbed;
    const std::vector<std::vector<std::string>>& parts = c.parts;
    std::map<std::string, int> gene_index;
    for (int64_t g = 0; g < ds.G; ++g) gene_index[ds.gene_names[g]] = (int)g;
    ds.treatment_names.assign(perturbed.begin(), perturbed.end());  // std::set: sorted
    ds.n_perturbed = (int64_t)ds.treatment_names.size();
    for (const std::string& e : extended) ds.treatment_names.push_back(e);
    ds.T = (int64_t)ds.treatment_names.size();
    ds.gene_treatment.assign(ds.G, -1);
    std::map<std::string, int> treatment_index;
    for (int64_t t = 0; t < ds.T; ++t) {
        treatment_index[ds.treatment_names[t]] = (int)t;
        auto it = gene_index.find(ds.treatment_names[t]);
        ds.treatment_gene.push_back(it == gene_index.end() ? -1 : it->second);
        if (it != gene_index.end()) ds.gene_treatment[it->second] = (int)t;
    }
    {  // Targets that are not measured genes get no expression signal (an Ensembl index without gene_name_column?)
        int64_t mapped = 0;
        for (int64_t t = 0; t < ds.n_perturbed; ++t) mapped += ds.treatment_gene[t] >= 0;
        if (2 * mapped < ds.n_perturbed)
            std::fprintf(stderr,
                         "preprocess: WARNING: only %lld of %lld perturbation targets are measured genes of %s (gene "
                         "names such as '%s' vs targets such as '%s'); if var's index holds IDs, set "
                         "data.gene_name_column to the column with gene symbols\n",
                         (long long)mapped, (long long)ds.n_perturbed, file.c_str(),
                         ds.gene_names.empty() ? "" : ds.gene_names[0].c_str(), ds.treatment_names[0].c_str());
    }
    ds.treatments.resize(ds.N);
    for (int64_t n = 0; n < ds.N; ++n) {
        for (const std::string& p : parts[n]) ds.treatments[n].push_back(treatment_index.at(p));
        std::sort(ds.treatments[n].begin(), ds.treatments[n].end());
        ds.treatments[n].erase(std::unique(ds.treatments[n].begin(), ds.treatments[n].end()), ds.treatments[n].end());
    }
}

// QC flags (docs/model.md §6): the user's column, or the MAD rules, or none; plus the doublet column.
void qc_flags(const Context& c, Dataset& ds) {
    const std::string& file = c.file;
    const io::AnnData& ad = c.ad;
    const std::vector<int64_t>& rows = c.rows;
    const std::string &qc_col = c.qc_col, &doublet_col = c.doublet_col;
    const json& pc = c.pc;
    ds.qc.assign(ds.N, 0);
    if (!qc_col.empty()) {
        std::vector<uint8_t> f = as_bools(ad.obs.at(qc_col), file + ": obs column '" + qc_col + "'");
        for (int64_t n = 0; n < ds.N; ++n) ds.qc[n] = f[rows[n]];
    } else if (pc.at("qc").get<std::string>() == "mad") {
        const double k = pc.at("qc_mad").get<double>();
        std::vector<uint8_t> is_mt(ds.G), is_ribo(ds.G), is_hb(ds.G);
        for (int64_t g = 0; g < ds.G; ++g) {
            const std::string& s = ds.gene_names[g];
            QcGeneClass c = qc_gene_class(s);
            is_mt[g] = c.mito;
            is_ribo[g] = c.ribo;
            is_hb[g] = c.haemoglobin;
        }
        std::vector<double> umi(ds.N), ngenes(ds.N), mt(ds.N), ribo(ds.N), hb(ds.N);
        RowBuffer buf;
        for (int64_t n = 0; n < ds.N; ++n) {
            double s_mt = 0, s_ribo = 0, s_hb = 0;
            int64_t nz = 0;
            const CsrRow e = ds.counts.row(n, buf);
            for (int64_t q = 0; q < e.n; ++q) {
                int g = e.idx[q];
                double v = e.val[q];
                nz += v > 0;
                if (is_mt[g]) s_mt += v;
                if (is_ribo[g]) s_ribo += v;
                if (is_hb[g]) s_hb += v;
            }
            umi[n] = ds.library[n];
            ngenes[n] = (double)nz;
            double d = umi[n] > 0 ? umi[n] : 1;
            mt[n] = 100 * s_mt / d;
            ribo[n] = 100 * s_ribo / d;
            hb[n] = 100 * s_hb / d;
        }
        auto low = [&](const std::vector<double>& v) { return stats::median(v) - k * stats::mad(v); };
        auto high = [&](const std::vector<double>& v) { return stats::median(v) + k * stats::mad(v); };
        double umi_lo = low(umi), ng_lo = low(ngenes), mt_hi = high(mt), ribo_hi = high(ribo), hb_hi = high(hb);
        for (int64_t n = 0; n < ds.N; ++n)
            ds.qc[n] = umi[n] < umi_lo || ngenes[n] < ng_lo || mt[n] > mt_hi || ribo[n] > ribo_hi || hb[n] > hb_hi;
    }
    if (!doublet_col.empty()) {
        std::vector<uint8_t> f = as_bools(ad.obs.at(doublet_col), file + ": obs column '" + doublet_col + "'");
        for (int64_t n = 0; n < ds.N; ++n) ds.qc[n] = ds.qc[n] || f[rows[n]];
    }
}

// Splits: the user's column, random, or held-out perturbations/combinations; every split non-empty.
void assign_splits(const Context& c, Dataset& ds) {
    const std::string& file = c.file;
    const io::AnnData& ad = c.ad;
    const std::vector<int64_t>& rows = c.rows;
    const std::string &split_col = c.split_col, &delim = c.delim;
    const LabelRules& rules = c.rules;
    const json& pc = c.pc;
    const std::string mode = pc.at("split").get<std::string>();
    std::vector<double> frac = pc.at("split_fractions").get<std::vector<double>>();
    std::vector<std::string> heldout = pc.at("heldout").get<std::vector<std::string>>();
    HostRng split_rng(pc.at("split_seed").get<uint64_t>(), 7);
    ds.split.assign(ds.N, SPLIT_TRAIN);
    std::vector<int64_t> pool;
    if (!split_col.empty()) {  // the user's own split; preprocess.split is not used
        ds.split = splits_from_column(ad.obs.at(split_col), rows, file + ": obs column '" + split_col + "'");
        bool has_val = false;
        for (uint8_t s : ds.split) has_val = has_val || s == SPLIT_VAL;
        if (!has_val) {  // CPA's split_key has train/test/ood: validation cells are drawn from train
            for (int64_t n = 0; n < ds.N; ++n)
                if (ds.split[n] == SPLIT_TRAIN) pool.push_back(n);
            double tv = frac[0] + frac[1];
            frac = {frac[0] / tv, frac[1] / tv, 0.0};
        }
    } else if (mode == "random") {
        for (int64_t n = 0; n < ds.N; ++n) pool.push_back(n);
    } else {
        GPO_CHECK(!heldout.empty(), "preprocess.heldout: split '" << mode << "' needs the held-out labels");
        std::set<std::string> held;  // in canonical form, so "B+A" and "A+ctrl" name what the data calls "A+B", "A"
        for (const std::string& h : heldout) {
            const std::string c = join_parts(perturbed_parts(h, rules, "preprocess.heldout"), delim);
            GPO_CHECK(!c.empty(), "preprocess.heldout: '" << h << "' names the control, not a perturbation");
            held.insert(c);
        }
        std::set<std::string> found;
        for (int64_t n = 0; n < ds.N; ++n) {
            if (held.count(ds.labels[n])) {
                ds.split[n] = SPLIT_TEST;
                found.insert(ds.labels[n]);
            } else {
                pool.push_back(n);
            }
        }
        for (const std::string& h : held)
            GPO_CHECK(found.count(h), "preprocess.heldout: perturbation '" << h << "' has no cells in " << file);
        if (mode == "heldout_combinations")
            for (const std::string& h : held)
                GPO_CHECK(h.find(delim) != std::string::npos,
                          "preprocess.heldout: '" << h << "' is not a combination (no '" << delim << "')");
        double tv = frac[0] + frac[1];
        frac = {frac[0] / tv, frac[1] / tv, 0.0};
    }
    for (size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[split_rng.below(i)]);  // Fisher-Yates
    size_t n_train = (size_t)std::llround(frac[0] * (double)pool.size());
    size_t n_val = (size_t)std::llround(frac[1] * (double)pool.size());
    for (size_t i = 0; i < pool.size(); ++i)
        ds.split[pool[i]] = i < n_train ? SPLIT_TRAIN : i < n_train + n_val ? SPLIT_VAL : SPLIT_TEST;

    int64_t per_split[3] = {0, 0, 0};
    for (int64_t n = 0; n < ds.N; ++n) per_split[ds.split[n]]++;
    for (int s = 0; s < 3; ++s)
        GPO_CHECK(per_split[s] > 0, file << ": the " << split_name(s) << " split is empty (" << ds.N
                                         << " cells, preprocess.split_fractions)");
}

// Normalisation statistics (docs/model.md D8) of the train split.
void normalisation_statistics(const Context& c, Dataset& ds) {
    const std::string& file = c.file;
    {
        std::vector<double> sum(ds.G, 0.0), sq(ds.G, 0.0);
        double n_tr = 0;
        for (uint8_t s : ds.split) n_tr += s == SPLIT_TRAIN;
        GPO_CHECK(n_tr >= 2, file << ": the train split needs at least 2 cells for the normalisation statistics");
        RowBuffer buf;
        for (int64_t n = 0; n < ds.N; ++n) {
            if (ds.split[n] != SPLIT_TRAIN) continue;
            const CsrRow e = ds.counts.row(n, buf);
            for (int64_t k = 0; k < e.n; ++k) {
                double y = std::log1p(e.val[k]);
                sum[e.idx[k]] += y;
                sq[e.idx[k]] += y * y;
            }
        }
        for (int64_t g = 0; g < ds.G; ++g) {
            double m = sum[g] / n_tr;
            double var = (sq[g] - n_tr * m * m) / (n_tr - 1);
            double sd = var > 0 ? std::sqrt(var) : 0.0;
            ds.norm_mean.push_back((float)m);
            ds.norm_std.push_back(sd > 0 ? (float)sd : 1.f);
        }
    }
}

// OT-matched controls (docs/model.md D7), per split and label.
void match_controls(const Context& c, Dataset& ds) {
    const json& pc = c.pc;
    {
        std::vector<int> feat_genes;
        for (int64_t t = 0; t < ds.n_perturbed; ++t)
            if (ds.treatment_gene[t] >= 0) feat_genes.push_back(ds.treatment_gene[t]);
        if (feat_genes.empty())  // no perturbed gene is measured: match on every gene
            for (int64_t g = 0; g < ds.G; ++g) feat_genes.push_back((int)g);
        const int d = (int)feat_genes.size();
        std::vector<double> row(ds.G);
        auto features = [&](const std::vector<int64_t>& cells) {
            std::vector<double> f(cells.size() * d);
            for (size_t i = 0; i < cells.size(); ++i) {
                normalized_row(ds.counts, cells[i], ds.library[cells[i]], ds.normalize_target, row);
                for (int k = 0; k < d; ++k) f[i * d + k] = row[feat_genes[k]];
            }
            return f;
        };
        ds.matched_control.assign(ds.N, -1);
        const double reg = pc.at("ot_reg").get<double>(), scale = pc.at("ot_cost_scale").get<double>();
        const int iters = pc.at("ot_max_iter").get<int>();
        const double block_bytes = pc.at("ot_block_mb").get<double>() * 1048576.0;
        // The GPU pays off for large problems; small ones stay on the CPU (the reference, in double).
        const std::string want = pc.at("device").get<std::string>();
        const bool gpu = want == "cuda" || (want == "auto" && cuda_available());
        if (want == "cuda") resolve_device("cuda");  // a clear error when no GPU is usable
        // A progress line (with ETA) for large files: matching is per split and label, minutes at reference scale.
        std::unique_ptr<io::Progress> bar;
        if (ds.N > 50000) bar = std::make_unique<io::Progress>("preprocess: matching controls");
        int64_t done = 0;
        for (int s = 0; s < 3; ++s) {
            std::map<std::string, std::vector<int64_t>> groups;
            for (int64_t n = 0; n < ds.N; ++n)
                if (ds.split[n] == s) groups[ds.labels[n]].push_back(n);
            auto cit = groups.find(ds.control_label);
            if (cit == groups.end()) continue;  // no control in this split: cells keep -1 (Δ = 0)
            std::vector<int64_t> ctrl = cit->second;
            std::vector<double> cf = features(ctrl);
            // Labels matched on the CPU go in groups of about 512 cells (one GEMM for a group's distances, the
            // control norms once: sinkhorn_match_many); large problems go to the GPU when there is one.
            std::vector<const std::vector<int64_t>*> pending;
            size_t pending_cells = 0;
            auto assign = [&](const std::vector<int64_t>& cells, const std::vector<int>& m) {
                for (size_t i = 0; i < cells.size(); ++i) ds.matched_control[cells[i]] = ctrl[m[i]];
                done += (int64_t)cells.size();
                if (bar) bar->update(done, ds.N, "cells matched");
            };
            auto flush = [&] {
                std::vector<double> src;  // the pending labels' features, one after the other
                std::vector<size_t> rows_of;
                for (const auto* cells : pending) {
                    const std::vector<double> f = features(*cells);
                    src.insert(src.end(), f.begin(), f.end());
                    rows_of.push_back(cells->size());
                }
                std::vector<std::vector<int>> m = sinkhorn_match_many(src, rows_of, cf, d, reg, scale, iters);
                for (size_t k = 0; k < pending.size(); ++k) assign(*pending[k], m[k]);
                pending.clear();
                pending_cells = 0;
            };
            for (auto& [label, cells] : groups) {
                const std::vector<size_t> blocks = match_blocks(cells.size(), ctrl.size(), block_bytes);
                if (blocks.size() > 1) {  // a kernel over preprocess.ot_block_mb: each block is its own problem
                    size_t at = 0;
                    for (size_t rows : blocks) {
                        const std::vector<int64_t> part(cells.begin() + (ptrdiff_t)at,
                                                        cells.begin() + (ptrdiff_t)(at + rows));
                        const std::vector<double> f = features(part);
                        assign(part, gpu ? cuda_sinkhorn(f, cf, d, reg, scale, iters, 1e-9)
                                         : sinkhorn_match(f, cf, d, reg, scale, iters));
                        at += rows;
                    }
                    continue;
                }
                if (gpu && cells.size() * ctrl.size() >= (1u << 16)) {
                    assign(cells, cuda_sinkhorn(features(cells), cf, d, reg, scale, iters, 1e-9));
                    continue;
                }
                pending.push_back(&cells);
                pending_cells += cells.size();
                if (pending_cells >= 512) flush();
            }
            if (!pending.empty()) flush();
        }
    }
}

// Counterfactual profiles (docs/model.md D1): for each cell, up to cf_max_cells cells of the same label and split
// and the opposite QC status, drawn with replacement (as the reference) by the seeded generator; their lower median.
void counterfactual_profiles(const Context& c, Dataset& ds) {
    const int max_cells = c.pc.at("cf_max_cells").get<int>();
    HostRng cf_rng(c.pc.at("split_seed").get<uint64_t>(), 11);
    std::map<std::tuple<std::string, int, int>, std::vector<int64_t>> groups;  // (label, split, qc) -> cells
    for (int64_t n = 0; n < ds.N; ++n) groups[{ds.labels[n], ds.split[n], ds.qc[n]}].push_back(n);
    CsrBuilder cf(ds.G, c.budget, default_spill_dir(), c.file + ": counterfactual profiles");
    ds.has_cf.assign(ds.N, 0);
    std::vector<int32_t> cf_idx;
    std::vector<float> cf_val;
    std::vector<std::vector<float>> scratch(ds.G);
    std::vector<int64_t> drawn;
    for (int64_t n = 0; n < ds.N; ++n) {
        auto it = groups.find({ds.labels[n], ds.split[n], 1 - ds.qc[n]});
        if (it != groups.end() && !it->second.empty()) {
            const std::vector<int64_t>& cand = it->second;
            drawn.assign(std::min<size_t>(cand.size(), (size_t)max_cells), 0);
            for (int64_t& r : drawn) r = cand[cf_rng.below(cand.size())];
            for (const auto& [g, v] : lower_median_profile(ds.counts, drawn, scratch)) {
                cf_idx.push_back(g);
                cf_val.push_back(v);
            }
            // Only a non-zero profile counts as a counterfactual (the reference's cfX.sum(1) != 0).
            ds.has_cf[n] = !cf_idx.empty();
        }
        cf.add_row(cf_idx.data(), cf_val.data(), (int64_t)cf_idx.size());
        cf_idx.clear();
        cf_val.clear();
    }
    ds.cf_counts = cf.finish();
}

// Plate counts per split (N_t, QC fails) and the bookkeeping of dropped rows.
void plate_counts(const Context& c, Dataset& ds) {
    ds.plate_count.assign(3 * ds.T, 0.0);
    for (int64_t n = 0; n < ds.N; ++n) {
        for (int t : ds.treatments[n]) ds.plate_count[ds.split[n] * ds.T + t] += 1;
        if (ds.qc[n]) ds.n_fail[ds.split[n]] += 1;
    }
    double n_train = 0;
    for (uint8_t s : ds.split) n_train += s == SPLIT_TRAIN;
    ds.train_fail_fraction = ds.n_fail[SPLIT_TRAIN] / n_train;
    ds.cells_dropped = c.file_rows - ds.N;
    ds.cells_missing_label = c.dropped_missing;
}

}  // namespace

uint64_t counts_budget_bytes(const json& cfg) {
    return (uint64_t)(cfg.at("preprocess").at("counts_in_memory_mb").get<double>() * 1048576.0);
}

Dataset preprocess_dataset(const json& cfg) {
    Dataset ds;
    Context c(cfg, ds);
    read_file(c);
    check_matrix_and_names(c);
    keep_cells(c, ds);
    copy_counts(c, ds);
    treatment_axis(c, extended_genes(c, ds), ds);
    qc_flags(c, ds);
    assign_splits(c, ds);
    normalisation_statistics(c, ds);
    match_controls(c, ds);
    counterfactual_profiles(c, ds);
    plate_counts(c, ds);
    validate_dataset(ds, ds.source + " (preprocessed)");  // what the models index into is in range
    return ds;
}

std::vector<std::pair<int, float>> lower_median_profile(const Csr& X, const std::vector<int64_t>& drawn,
                                                        std::vector<std::vector<float>>& scratch) {
    const int k = (int)drawn.size(), h = (k - 1) / 2;  // the lower median is the h-th smallest of k values
    scratch.resize((size_t)X.cols);
    std::vector<int> touched;
    thread_local RowBuffer buf;
    for (int64_t r : drawn) {
        const CsrRow e = X.row(r, buf);
        for (int64_t q = 0; q < e.n; ++q) {
            int g = e.idx[q];
            if (scratch[g].empty()) touched.push_back(g);
            scratch[g].push_back(e.val[q]);
        }
    }
    std::sort(touched.begin(), touched.end());
    std::vector<std::pair<int, float>> out;
    for (int g : touched) {
        std::vector<float>& v = scratch[g];
        const int zeros = k - (int)v.size();  // the drawn rows without an entry for g hold 0 there
        if (h >= zeros) {
            std::nth_element(v.begin(), v.begin() + (h - zeros), v.end());
            if (v[h - zeros] != 0) out.push_back({g, v[h - zeros]});
        }
        v.clear();
    }
    return out;
}

QcGeneClass qc_gene_class(const std::string& s) {
    // Haemoglobins by an explicit list: the usual prefix rule "HB, not HBP" also takes HBEGF and HBS1L.
    static const std::set<std::string> hb = {"HBA1", "HBA2", "HBB", "HBD", "HBE1", "HBG1", "HBG2", "HBM", "HBQ1", "HBZ"};
    QcGeneClass c;
    c.mito = s.rfind("MT-", 0) == 0;
    c.ribo = s.rfind("RPS", 0) == 0 || s.rfind("RPL", 0) == 0;
    c.haemoglobin = hb.count(s) > 0;
    return c;
}

std::string preprocess_summary(const Dataset& ds, double seconds) {
    std::ostringstream os;
    int64_t per_split[3] = {0, 0, 0}, fails = 0;
    for (int64_t n = 0; n < ds.N; ++n) per_split[ds.split[n]]++, fails += ds.qc[n];
    std::set<std::string> labels(ds.labels.begin(), ds.labels.end());
    os << "dataset      " << ds.source << "\n";
    os << "cells        " << ds.N << " (train " << per_split[0] << ", val " << per_split[1] << ", test "
       << per_split[2] << ")\n";
    os << "dropped      " << ds.cells_dropped << " cells by the filter column or a missing label ("
       << ds.cells_missing_label << " missing)\n";
    os << "genes        " << ds.G << "\n";
    os << "labels       " << labels.size() - 1 << " perturbations + control '" << ds.control_label << "'\n";
    os << "treatments   T = " << ds.T << " (" << ds.n_perturbed << " perturbed + " << ds.T - ds.n_perturbed
       << " extended)\n";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * (double)fails / (double)ds.N);
    os << "QC fail      " << fails << " cells (" << buf << ")\n";
    int64_t cf = 0;
    for (uint8_t h : ds.has_cf) cf += h;
    os << "counterfact. " << cf << " cells with a counterfactual profile\n";
    std::snprintf(buf, sizeof buf, "%.2f s", seconds);
    os << "time         " << buf << "\n";
    return os.str();
}

}  // namespace gpo::data
