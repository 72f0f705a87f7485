// cell-eval's expression metrics (see cell_eval.h).
#include "engine/eval/cell_eval.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/check.h"
#include "engine/eval/metrics.h"

namespace gpo::eval {

std::map<std::string, std::vector<double>> normlog_pseudobulk(const LabelledCells& cells) {
    const io::CsrMatrix& X = cells.counts;
    GPO_CHECK((int64_t)cells.labels.size() == X.rows, "cell-eval metrics: " << cells.labels.size() << " labels for "
                                                                            << X.rows << " cells");
    std::vector<double> total(X.rows, 0.0), nonzero;
    for (int64_t r = 0; r < X.rows; ++r) {
        for (int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k) total[r] += X.data[k];
        if (total[r] > 0) nonzero.push_back(total[r]);
    }
    double target = 0;
    if (!nonzero.empty()) {  // numpy's median: the mean of the two middle values for an even count
        std::sort(nonzero.begin(), nonzero.end());
        size_t n = nonzero.size();
        target = n % 2 ? nonzero[n / 2] : 0.5 * (nonzero[n / 2 - 1] + nonzero[n / 2]);
    }
    std::map<std::string, std::vector<double>> sum;
    std::map<std::string, int64_t> count;
    for (int64_t r = 0; r < X.rows; ++r) {
        auto& acc = sum[cells.labels[r]];
        if (acc.empty()) acc.assign(X.cols, 0.0);
        ++count[cells.labels[r]];
        if (total[r] <= 0) continue;
        for (int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k)
            acc[X.indices[k]] += std::log1p((double)X.data[k] * target / total[r]);
    }
    for (auto& [label, acc] : sum)
        for (double& v : acc) v /= (double)count[label];
    return sum;
}

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
    for (const auto& [name, v] : out.per_pert) {
        double s = 0;
        int64_t n = 0;
        for (double x : v)
            if (std::isfinite(x)) s += x, ++n;
        out.mean[name] = n ? s / (double)n : NAN;
    }
    return out;
}

}  // namespace gpo::eval
