// cell-eval's expression metrics (see cell_eval.h).
#include "engine/eval/cell_eval.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>

#include "engine/check.h"
#include "engine/data/stats.h"
#include "engine/eval/distances.h"
#include "engine/eval/group_columns.h"
#include "engine/eval/metrics.h"
#include "engine/parallel.h"

namespace gpo::eval {

namespace {

// scanpy's normalize_total (to the median of the non-zero row totals, numpy's median) and log1p, entry by entry:
// visit(row, gene, value) for each stored entry of every row with a non-zero total (rows of total 0 stay 0).
// row(r) returns row r's stored entries (data::CsrRow).
template <class Row, class Visit>
void for_each_normlog_rows(int64_t rows, Row row, Visit visit) {
    std::vector<double> total(rows, 0.0), nonzero;
    for (int64_t r = 0; r < rows; ++r) {
        const data::CsrRow e = row(r);
        for (int64_t k = 0; k < e.n; ++k) total[r] += e.val[k];
        if (total[r] > 0) nonzero.push_back(total[r]);
    }
    const double target = nonzero.empty() ? 0.0 : stats::median(nonzero);
    for (int64_t r = 0; r < rows; ++r) {
        if (total[r] <= 0) continue;
        const data::CsrRow e = row(r);
        for (int64_t k = 0; k < e.n; ++k) visit(r, e.idx[k], std::log1p((double)e.val[k] * target / total[r]));
    }
}

// Row r of `cells` as a row reader for for_each_normlog_rows.
auto matrix_rows(const LabelledCells& cells) {
    const io::CsrMatrix& X = cells.counts;
    GPO_CHECK((int64_t)cells.labels.size() == X.rows, "cell-eval metrics: " << cells.labels.size() << " labels for "
                                                                            << X.rows << " cells");
    return [&X](int64_t r) {
        return data::CsrRow{X.indices.data() + X.indptr[r], X.data.data() + X.indptr[r], X.indptr[r + 1] - X.indptr[r]};
    };
}

template <class Visit>
void for_each_normlog(const LabelledCells& cells, Visit visit) {
    for_each_normlog_rows(cells.counts.rows, matrix_rows(cells), visit);
}

// Mean normalised profile per label of the cells labels[r], read through row(r).
template <class Row>
std::map<std::string, std::vector<double>> pseudobulk_rows(const std::vector<std::string>& labels, int64_t genes,
                                                           Row row) {
    std::map<std::string, std::vector<double>> sum;
    std::map<std::string, int64_t> count;
    for (const std::string& l : labels) {
        auto& acc = sum[l];
        if (acc.empty()) acc.assign(genes, 0.0);
        ++count[l];
    }
    std::vector<std::vector<double>*> row_acc(labels.size());
    for (size_t r = 0; r < labels.size(); ++r) row_acc[r] = &sum[labels[r]];
    for_each_normlog_rows((int64_t)labels.size(), row, [&](int64_t r, int g, double v) { (*row_acc[(size_t)r])[g] += v; });
    for (auto& [label, acc] : sum)
        for (double& v : acc) v /= (double)count[label];
    return sum;
}

}  // namespace

std::map<std::string, NormlogMoments> normlog_moments(const LabelledCells& cells) {
    std::map<std::string, NormlogMoments> m;
    for (const std::string& l : cells.labels) {
        NormlogMoments& acc = m[l];
        if (acc.sum.empty()) acc.sum.assign(cells.counts.cols, 0.0), acc.sum_sq.assign(cells.counts.cols, 0.0);
        ++acc.n;
    }
    for_each_normlog(cells, [&](int64_t r, int g, double v) {
        NormlogMoments& acc = m[cells.labels[r]];
        acc.sum[g] += v;
        acc.sum_sq[g] += v * v;
    });
    return m;
}

std::map<std::string, std::vector<double>> normlog_pseudobulk(const LabelledCells& cells) {
    return pseudobulk_rows(cells.labels, cells.counts.cols, matrix_rows(cells));
}

std::map<std::string, std::vector<double>> normlog_pseudobulk(const std::vector<std::string>& labels, int64_t genes,
                                                              const std::function<data::CsrRow(int64_t)>& row) {
    return pseudobulk_rows(labels, genes, row);
}

namespace {

// cell-eval's aggregate: the mean over the perturbations that have a value; a NaN among them makes it NaN.
void set_means(CellEvalMetrics& out) {
    for (const auto& [name, v] : out.per_pert) {
        const auto it = out.absent.find(name);
        double s = 0;
        int64_t n = 0;
        for (size_t i = 0; i < v.size(); ++i) {
            if (it != out.absent.end() && it->second[i]) continue;
            s += v[i], ++n;
        }
        out.mean[name] = n ? s / (double)n : NAN;
    }
}

}  // namespace

CellEvalMetrics cell_eval_metrics(const std::map<std::string, std::vector<double>>& real,
                                  const std::map<std::string, std::vector<double>>& pred, const std::string& control,
                                  const std::vector<std::string>& gene_names) {
    CellEvalMetrics out;
    GPO_CHECK(real.count(control) && pred.count(control),
              "cell-eval metrics: the control '" << control << "' is missing from the real or predicted cells");
    for (const auto& [label, v] : real) {
        if (label == control) continue;
        GPO_CHECK(pred.count(label), "cell-eval metrics: no predicted cells for '" << label << "'");
        out.perts.push_back(label);
    }
    const size_t P = out.perts.size(), G = gene_names.size();
    const std::vector<double>&rc = real.at(control), &pc = pred.at(control);
    std::vector<double> real_eff(P * G), pred_eff(P * G);  // (P, G) row-major
    for (size_t i = 0; i < P; ++i) {
        const std::vector<double>&rp = real.at(out.perts[i]), &pp = pred.at(out.perts[i]);
        double *re = real_eff.data() + i * G, *pe = pred_eff.data() + i * G;
        double se = 0, ae = 0, sed = 0, aed = 0;
        for (size_t g = 0; g < G; ++g) {
            re[g] = rp[g] - rc[g];
            pe[g] = pp[g] - pc[g];
            double d = pp[g] - rp[g], dd = pe[g] - re[g];
            se += d * d, ae += std::fabs(d), sed += dd * dd, aed += std::fabs(dd);
        }
        out.per_pert["pearson_delta"].push_back(pearson(pe, re, (int64_t)G));
        out.per_pert["mse"].push_back(se / (double)G);
        out.per_pert["mae"].push_back(ae / (double)G);
        out.per_pert["mse_delta"].push_back(sed / (double)G);
        out.per_pert["mae_delta"].push_back(aed / (double)G);
    }
    // Discrimination: distance from p's predicted effect to every real effect, without the gene named p.
    std::map<std::string, int64_t> gene_index;
    for (size_t g = 0; g < G; ++g) gene_index.emplace(gene_names[g], (int64_t)g);
    std::vector<int64_t> skip(P, -1);
    for (size_t i = 0; i < P; ++i) {
        const auto it = gene_index.find(out.perts[i]);
        if (it != gene_index.end()) skip[i] = it->second;
    }
    // p's position in the ascending order of the distances; equal distances keep their order (a stable sort; numpy's
    // default argsort leaves ties unordered, so cell-eval's value is arbitrary there; distances of real data do not
    // tie, a constant prediction's do).
    const EffectDistances dist =
        effect_distances(pred_eff.data(), (int64_t)P, real_eff.data(), (int64_t)P, (int64_t)G, skip, false);
    out.per_pert["discrimination_score_l1"] = discrimination_scores(dist.l1, (int64_t)P);
    out.per_pert["discrimination_score_l2"] = discrimination_scores(dist.l2, (int64_t)P);
    out.per_pert["discrimination_score_cosine"] = discrimination_scores(dist.cosine, (int64_t)P);
    set_means(out);
    return out;
}

namespace {

// Genes with FDR < 0.05 (float32, as cell-eval casts it), by |log2 FC| (float32) descending, ties in gene order.
std::vector<int64_t> ranked_significant_genes(const DeTable& t) {
    std::vector<int64_t> g;
    for (size_t i = 0; i < t.fdr.size(); ++i)
        if ((float)t.fdr[i] < 0.05f) g.push_back((int64_t)i);
    std::stable_sort(g.begin(), g.end(), [&](int64_t a, int64_t b) {
        return std::fabs((float)t.lfc[a]) > std::fabs((float)t.lfc[b]);
    });
    return g;
}

// Average ranks (1-based) of v, ties sharing their mean rank.
std::vector<double> average_ranks(const std::vector<double>& v) {
    std::vector<size_t> o(v.size());
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < o.size();) {
        size_t j = i;
        while (j + 1 < o.size() && v[o[j + 1]] == v[o[i]]) ++j;
        for (size_t k = i; k <= j; ++k) r[o[k]] = 0.5 * (double)(i + j) + 1.0;
        i = j + 1;
    }
    return r;
}

}  // namespace

std::map<std::string, DeTable> pdex_ref(const LabelledCells& cells, const std::string& control) {
    std::map<std::string, int64_t> group;  // label -> group, in label order
    for (const std::string& l : cells.labels) group.emplace(l, 0);
    std::vector<std::string> names;
    for (auto& [l, g] : group) g = (int64_t)names.size(), names.push_back(l);
    auto cit = group.find(control);
    GPO_CHECK(cit != group.end(), "cell-eval DE: no control cell ('" << control << "')");
    const int64_t ctrl = cit->second, G = cells.counts.cols;
    GroupColumns cols((int64_t)names.size(), G);
    std::vector<int64_t> row_group(cells.labels.size());
    for (size_t r = 0; r < cells.labels.size(); ++r) cols.add_cell(row_group[r] = group.at(cells.labels[r]));
    for_each_normlog(cells, [&](int64_t r, int g, double v) { cols.add_value(row_group[(size_t)r], g, v); });
    cols.finish();
    std::vector<double> ctrl_tie(G), ctrl_mean(G);
    for (int64_t g = 0; g < G; ++g) ctrl_tie[g] = tie_term(cols, ctrl, g), ctrl_mean[g] = std::expm1(cols.mean(ctrl, g));
    std::vector<DeTable> tables(names.size());
    parallel_for((int64_t)names.size(), [&](int64_t i) {
        if (i == ctrl) return;
        DeTable& t = tables[(size_t)i];
        std::vector<double> p(G);
        t.lfc.resize(G);
        for (int64_t g = 0; g < G; ++g) {
            const RankSum rs = rank_sum(cols, i, ctrl, g, ctrl_tie[g]);
            p[g] = mann_whitney_u_from_ranks((double)rs.n1, (double)rs.n2, rs.r1, rs.tie).p;
            const double a = std::expm1(cols.mean(i, g)), b = ctrl_mean[g];
            t.lfc[g] = a == 0 && b == 0 ? 0.0 : std::log2(a / b);  // x/0 = inf, 0/x = -inf
        }
        t.fdr = stats::benjamini_hochberg(p);
    });
    std::map<std::string, DeTable> out;
    for (size_t i = 0; i < names.size(); ++i)
        if ((int64_t)i != ctrl) out[names[i]] = std::move(tables[i]);
    return out;
}

void add_de_metrics(const std::map<std::string, DeTable>& real, const std::map<std::string, DeTable>& pred,
                    CellEvalMetrics& out) {
    std::map<std::string, std::vector<int64_t>> rs, ps;
    size_t any_real = 0, any_pred = 0;
    for (const auto& p : out.perts) {
        rs[p] = real.count(p) ? ranked_significant_genes(real.at(p)) : std::vector<int64_t>{};
        ps[p] = pred.count(p) ? ranked_significant_genes(pred.at(p)) : std::vector<int64_t>{};
        any_real += rs[p].size(), any_pred += ps[p].size();
    }
    auto overlap = [&](const std::vector<int64_t>& r, const std::vector<int64_t>& q, size_t k_eff) {
        if (k_eff == 0) return 0.0;
        std::vector<int64_t> a(r.begin(), r.begin() + std::min(k_eff, r.size()));
        std::vector<int64_t> b(q.begin(), q.begin() + std::min(k_eff, q.size()));
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        std::vector<int64_t> both;
        std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
        return (double)both.size() / (double)k_eff;
    };
    const size_t ks[] = {0, 50, 100, 200, 500};  // 0 = N
    for (const auto& p : out.perts) {
        const auto &r = rs[p], &q = ps[p];
        for (size_t k : ks) {
            const std::string suffix = k ? std::to_string(k) : "N";
            // No significant gene on either side anywhere: cell-eval scores every perturbation 0.
            const bool none = any_real == 0 || any_pred == 0;
            out.per_pert["overlap_at_" + suffix].push_back(none ? 0.0 : overlap(r, q, k ? std::min(k, r.size()) : r.size()));
            out.per_pert["precision_at_" + suffix].push_back(none ? 0.0 : overlap(r, q, k ? std::min(k, q.size()) : q.size()));
        }
        // Over the real significant genes: direction agreement, Spearman of the fold changes, recall.
        double match = 0;
        std::vector<double> a, b;
        for (int64_t g : r) {
            const double x = (float)real.at(p).lfc[g], y = pred.count(p) ? (float)pred.at(p).lfc[g] : 0.0;
            match += (x > 0) - (x < 0) == (y > 0) - (y < 0);
            a.push_back(x), b.push_back(y);
        }
        for (const char* m : {"de_direction_match", "de_spearman_lfc_sig", "de_sig_genes_recall"})
            out.absent[m].push_back(r.empty());
        out.per_pert["de_direction_match"].push_back(r.empty() ? NAN : match / (double)r.size());
        out.per_pert["de_spearman_lfc_sig"].push_back(a.size() < 2 ? NAN : pearson(average_ranks(a), average_ranks(b)));
        std::vector<int64_t> sr = r, sq = q, both;
        std::sort(sr.begin(), sr.end());
        std::sort(sq.begin(), sq.end());
        std::set_intersection(sr.begin(), sr.end(), sq.begin(), sq.end(), std::back_inserter(both));
        out.per_pert["de_sig_genes_recall"].push_back(r.empty() ? NAN : (double)both.size() / (double)r.size());
        out.per_pert["de_nsig_counts_real"].push_back((double)r.size());
        out.per_pert["de_nsig_counts_pred"].push_back((double)q.size());
        // Recovery of the real significant genes by the predicted FDR over every gene: label = real FDR < 0.05,
        // score = -log10 of the predicted FDR clipped to [1e-10, 1] (a gene without a predicted test: FDR 1), in
        // float32 as cell-eval casts the tables. NaN without a real significant or non-significant gene, and then
        // the mean is NaN too (cell-eval returns NaN there, not a missing value).
        std::vector<double> score;
        std::vector<int> label;
        if (real.count(p)) {
            const DeTable& rt = real.at(p);
            const DeTable* pt = pred.count(p) ? &pred.at(p) : nullptr;
            for (size_t g = 0; g < rt.fdr.size(); ++g) {
                label.push_back((float)rt.fdr[g] < 0.05f);
                const float q = std::clamp(pt ? (float)pt->fdr[g] : 1.0f, 1e-10f, 1.0f);
                score.push_back((double)-std::log10(q));
            }
        }
        const RankingScores auc = ranking_scores(score, label);
        out.per_pert["pr_auc"].push_back(auc.auprc);
        out.per_pert["roc_auc"].push_back(auc.auroc);
    }
    // de_spearman_sig, one number for the whole set: Spearman of the real vs predicted number of significant genes
    // over the perturbations with at least one real significant gene (1 when there is none: cell-eval's "perfect
    // agreement"); reported for every perturbation, as cell-eval's table repeats it.
    std::vector<double> n_real, n_pred;
    for (const auto& p : out.perts)
        if (!rs[p].empty()) n_real.push_back((double)rs[p].size()), n_pred.push_back((double)ps[p].size());
    const double spearman_sig = n_real.empty() ? 1.0 : pearson(average_ranks(n_real), average_ranks(n_pred));
    out.per_pert["de_spearman_sig"].assign(out.perts.size(), spearman_sig);
    set_means(out);
}

}  // namespace gpo::eval
