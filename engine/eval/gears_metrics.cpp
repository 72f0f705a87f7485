// GEARS's DE-gene metrics (see gears_metrics.h).
#include "engine/eval/gears_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/check.h"
#include "engine/eval/metrics.h"

namespace gpo::eval {

namespace {

// scanpy's _get_mean_var: mean, and the variance as (mean(x^2) - mean^2) * n / (n - 1).
void mean_var(const NormlogMoments& m, int64_t g, double& mean, double& var) {
    const double n = (double)m.n;
    mean = m.sum[g] / n;
    var = (m.sum_sq[g] / n - mean * mean) * (n / (n - 1.0));
}

// scipy's pearsonr (eval::pearson: NaN for a constant side) with GEARS's "NaN -> 0".
double pearson_or_zero(const std::vector<double>& a, const std::vector<double>& b) {
    const double r = pearson(a, b);
    return std::isnan(r) ? 0.0 : r;
}

}  // namespace

std::map<std::string, std::vector<int64_t>> gears_de_genes(const std::map<std::string, NormlogMoments>& real,
                                                           const std::string& control, int n_top) {
    auto cit = real.find(control);
    GPO_CHECK(cit != real.end(), "GEARS DE genes: no control cells ('" << control << "')");
    const NormlogMoments& c = cit->second;
    const int64_t G = (int64_t)c.sum.size();
    std::map<std::string, std::vector<int64_t>> out;
    for (const auto& [label, m] : real) {
        if (label == control) continue;
        std::vector<double> score(G);
        for (int64_t g = 0; g < G; ++g) {
            double m1, v1, m2, v2;
            mean_var(m, g, m1, v1);
            mean_var(c, g, m2, v2);
            double t = (m1 - m2) / std::sqrt(v1 / (double)m.n + v2 / (double)c.n);  // Welch's t
            score[g] = std::isnan(t) ? 0.0 : std::fabs(t);
        }
        std::vector<int64_t> idx(G);
        std::iota(idx.begin(), idx.end(), 0);
        std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
        idx.resize((size_t)std::min<int64_t>(G, n_top));
        out[label] = idx;
    }
    return out;
}

void add_gears_metrics(const std::map<std::string, std::vector<double>>& real_pb,
                       const std::map<std::string, std::vector<double>>& pred_pb,
                       const std::map<std::string, std::vector<int64_t>>& de, const std::string& control,
                       CellEvalMetrics& out) {
    const std::vector<double>& ctrl = real_pb.at(control);
    std::vector<double>& mse = out.per_pert["mse_de"];
    std::vector<double>& pr = out.per_pert["pearson_de"];
    std::vector<double>& prd = out.per_pert["pearson_delta_de"];
    mse.assign(out.perts.size(), NAN), pr.assign(out.perts.size(), NAN), prd.assign(out.perts.size(), NAN);
    for (size_t i = 0; i < out.perts.size(); ++i) {
        const std::string& p = out.perts[i];
        const std::vector<int64_t>& genes = de.at(p);
        const std::vector<double>&real = real_pb.at(p), &pred = pred_pb.at(p);
        std::vector<double> a, b, da, db;
        double se = 0;
        for (int64_t g : genes) {
            a.push_back(pred[g]), b.push_back(real[g]);
            da.push_back(pred[g] - ctrl[g]), db.push_back(real[g] - ctrl[g]);
            se += (pred[g] - real[g]) * (pred[g] - real[g]);
        }
        mse[i] = se / (double)genes.size();
        pr[i] = pearson_or_zero(a, b);
        prd[i] = pearson_or_zero(da, db);
    }
    for (const char* name : {"mse_de", "pearson_de", "pearson_delta_de"}) {
        const std::vector<double>& v = out.per_pert[name];
        out.mean[name] = v.empty() ? NAN : std::accumulate(v.begin(), v.end(), 0.0) / (double)v.size();
    }
}

}  // namespace gpo::eval
