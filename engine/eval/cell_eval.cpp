// cell-eval's expression metrics (see cell_eval.h).
#include "engine/eval/cell_eval.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>

#include "engine/check.h"
#include "engine/data/stats.h"
#include "engine/eval/metrics.h"

namespace gpo::eval {

namespace {

// scanpy's normalize_total (to the median of the non-zero row totals, numpy's median) and log1p, entry by entry:
// visit(row, gene, value) for each stored entry of every row with a non-zero total (rows of total 0 stay 0).
template <class Visit>
void for_each_normlog(const LabelledCells& cells, Visit visit) {
    const io::CsrMatrix& X = cells.counts;
    GPO_CHECK((int64_t)cells.labels.size() == X.rows, "cell-eval metrics: " << cells.labels.size() << " labels for "
                                                                            << X.rows << " cells");
    std::vector<double> total(X.rows, 0.0), nonzero;
    for (int64_t r = 0; r < X.rows; ++r) {
        for (int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k) total[r] += X.data[k];
        if (total[r] > 0) nonzero.push_back(total[r]);
    }
    const double target = nonzero.empty() ? 0.0 : stats::median(nonzero);
    for (int64_t r = 0; r < X.rows; ++r) {
        if (total[r] <= 0) continue;
        for (int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k)
            visit(r, X.indices[k], std::log1p((double)X.data[k] * target / total[r]));
    }
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
    std::map<std::string, std::vector<double>> sum;
    std::map<std::string, int64_t> count;
    for (const std::string& l : cells.labels) {
        auto& acc = sum[l];
        if (acc.empty()) acc.assign(cells.counts.cols, 0.0);
        ++count[l];
    }
    for_each_normlog(cells, [&](int64_t r, int g, double v) { sum[cells.labels[r]][g] += v; });
    for (auto& [label, acc] : sum)
        for (double& v : acc) v /= (double)count[label];
    return sum;
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
    std::vector<std::vector<double>> real_eff(P, std::vector<double>(G)), pred_eff(P, std::vector<double>(G));
    for (size_t i = 0; i < P; ++i) {
        const std::vector<double>&rp = real.at(out.perts[i]), &pp = pred.at(out.perts[i]);
        double se = 0, ae = 0, sed = 0, aed = 0;
        for (size_t g = 0; g < G; ++g) {
            real_eff[i][g] = rp[g] - rc[g];
            pred_eff[i][g] = pp[g] - pc[g];
            double d = pp[g] - rp[g], dd = pred_eff[i][g] - real_eff[i][g];
            se += d * d, ae += std::fabs(d), sed += dd * dd, aed += std::fabs(dd);
        }
        out.per_pert["pearson_delta"].push_back(pearson(pred_eff[i], real_eff[i]));
        out.per_pert["mse"].push_back(se / (double)G);
        out.per_pert["mae"].push_back(ae / (double)G);
        out.per_pert["mse_delta"].push_back(sed / (double)G);
        out.per_pert["mae_delta"].push_back(aed / (double)G);
    }
    // Discrimination: distance from p's predicted effect to every real effect, without the gene named p.
    for (const char* metric : {"l1", "l2", "cosine"}) {
        for (size_t i = 0; i < P; ++i) {
            std::vector<double> dist(P);
            for (size_t j = 0; j < P; ++j) {
                double l1 = 0, l2 = 0, dot = 0, nu = 0, nv = 0;
                for (size_t g = 0; g < G; ++g) {
                    if (gene_names[g] == out.perts[i]) continue;
                    double u = real_eff[j][g], v = pred_eff[i][g];
                    l1 += std::fabs(u - v), l2 += (u - v) * (u - v), dot += u * v, nu += u * u, nv += v * v;
                }
                // sklearn's cosine distance: 1 - u.v / (|u| |v|), 1 when either vector is zero, clipped to [0, 2].
                const double cosd = nu > 0 && nv > 0 ? std::clamp(1.0 - dot / std::sqrt(nu * nv), 0.0, 2.0) : 1.0;
                dist[j] = metric[1] == '1' ? l1 : metric[1] == '2' ? std::sqrt(l2) : cosd;
            }
            // p's position in the ascending order of the distances; equal distances keep their order (a stable sort;
            // numpy's default argsort leaves ties unordered, so cell-eval's value is arbitrary there; distances of
            // real data do not tie, a constant prediction's do).
            size_t rank = 0;
            for (size_t j = 0; j < P; ++j) rank += dist[j] < dist[i] || (dist[j] == dist[i] && j < i);
            out.per_pert[std::string("discrimination_score_") + metric].push_back(1.0 - (double)rank / (double)P);
        }
    }
    set_means(out);
    return out;
}

namespace {

// Normalised values of every cell of each label, per gene, sorted ascending: vals[label][g].
std::map<std::string, std::vector<std::vector<double>>> sorted_normlog(const LabelledCells& cells) {
    std::map<std::string, std::vector<std::vector<double>>> vals;
    std::map<std::string, int64_t> count;
    for (const std::string& l : cells.labels) {
        auto& v = vals[l];
        if (v.empty()) v.resize(cells.counts.cols);
        ++count[l];
    }
    for_each_normlog(cells, [&](int64_t r, int g, double v) { vals[cells.labels[r]][g].push_back(v); });
    for (auto& [label, per_gene] : vals)
        for (auto& v : per_gene) {  // the cells without an entry hold 0 (the lowest values: normlog >= 0)
            v.insert(v.begin(), (size_t)(count[label] - (int64_t)v.size()), 0.0);
            std::sort(v.begin(), v.end());
        }
    return vals;
}

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
    const auto vals = sorted_normlog(cells);
    auto cit = vals.find(control);
    GPO_CHECK(cit != vals.end(), "cell-eval DE: no control cell ('" << control << "')");
    const auto& ctrl = cit->second;
    const size_t G = ctrl.size();
    auto expm1_mean = [](const std::vector<double>& v) {
        double s = 0;
        for (double x : v) s += x;
        return std::expm1(s / (double)v.size());
    };
    std::map<std::string, DeTable> out;
    for (const auto& [label, per_gene] : vals) {
        if (label == control) continue;
        DeTable t;
        std::vector<double> p(G);
        t.lfc.resize(G);
        for (size_t g = 0; g < G; ++g) {
            p[g] = mann_whitney_u_sorted(per_gene[g], ctrl[g]).p;
            const double a = expm1_mean(per_gene[g]), b = expm1_mean(ctrl[g]);
            t.lfc[g] = a == 0 && b == 0 ? 0.0 : std::log2(a / b);  // x/0 = inf, 0/x = -inf
        }
        t.fdr = stats::benjamini_hochberg(p);
        out[label] = std::move(t);
    }
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
    }
    set_means(out);
}

}  // namespace gpo::eval
