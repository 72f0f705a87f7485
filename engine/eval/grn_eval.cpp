// GRN evaluation: CausalBench statistical evaluation and the biological evaluation (see grn_eval.h).
#include "engine/eval/grn_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "engine/check.h"
#include "engine/data/dataset.h"
#include "engine/data/stats.h"
#include "engine/eval/metrics.h"
#include "engine/rng.h"

namespace gpo::eval {

static const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<uint8_t> threshold_network(const double* prob, int64_t T, int64_t P, double threshold) {
    GPO_CHECK(P >= 0 && P <= T, "threshold_network: " << P << " perturbed genes for T = " << T);
    std::vector<uint8_t> adj((size_t)(P * P), 0);
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j) adj[i * P + j] = (i != j && prob[i * T + j] > threshold) ? 1 : 0;
    return adj;
}

GrnExpression grn_expression_from_dataset(const data::Dataset& ds, int split) {
    const int64_t P = ds.n_perturbed;
    GrnExpression y;
    y.P = P;
    y.measured.assign(P, 0);
    for (int64_t j = 0; j < P; ++j) y.measured[j] = ds.treatment_gene[j] >= 0 ? 1 : 0;
    y.n_perturbed.assign(P, 0);
    y.perturbed.assign(P, {});
    std::vector<int64_t> cells;
    for (int64_t n = 0; n < ds.N; ++n)
        if (split < 0 || ds.split[n] == split) cells.push_back(n);
    GPO_CHECK(!cells.empty(), "grn_expression_from_dataset: no cell in split " << split);
    std::vector<double> libs;
    for (int64_t n : cells) libs.push_back(ds.library[n]);
    const double target = stats::median(libs);
    std::vector<double> row(P);
    data::RowBuffer buf;
    for (int64_t n : cells) {
        const auto& tr = ds.treatments[n];
        int64_t group = tr.empty() ? -1 : (tr.size() == 1 && tr[0] < P ? tr[0] : -2);
        if (group == -2) continue;  // combinations and extended-gene treatments are not used
        std::fill(row.begin(), row.end(), 0.0);
        double lib = ds.library[n];
        const data::CsrRow e = ds.counts.row(n, buf);
        for (int64_t k = 0; k < e.n && lib > 0; ++k) {
            int t = ds.gene_treatment[e.idx[k]];
            if (t >= 0 && t < P) row[t] = std::log1p((double)e.val[k] * target / lib);
        }
        std::vector<double>& dst = group < 0 ? y.control : y.perturbed[group];
        dst.insert(dst.end(), row.begin(), row.end());
        if (group < 0) ++y.n_control; else ++y.n_perturbed[group];
    }
    return y;
}

// Shortest path lengths on the (P, P) adjacency by breadth-first search from every node; 0 = unreachable (and
// the node itself).
static std::vector<int> path_lengths(const std::vector<uint8_t>& adj, int64_t P, int max_len) {
    std::vector<int> dist((size_t)(P * P), 0);
    std::vector<std::vector<int64_t>> out(P);
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j)
            if (adj[i * P + j]) out[i].push_back(j);
    for (int64_t s = 0; s < P; ++s) {
        int* d = dist.data() + s * P;
        std::vector<int64_t> frontier{s}, next;
        for (int len = 1; len <= max_len && !frontier.empty(); ++len) {
            next.clear();
            for (int64_t u : frontier)
                for (int64_t v : out[u])
                    if (v != s && d[v] == 0) d[v] = len, next.push_back(v);
            frontier.swap(next);
        }
    }
    return dist;
}

namespace {
// Tests pairs i -> j; control columns are sorted once per target gene.
struct PairTester {
    const GrnExpression& y;
    double p_threshold;
    std::vector<std::vector<double>> ctrl_sorted;  // [j], filled on first use

    bool testable(int64_t i, int64_t j) const {
        return y.n_control > 0 && y.n_perturbed[i] > 0 && y.measured[j];
    }
    EdgeTest test(int64_t i, int64_t j) {
        const int64_t P = y.P;
        if (ctrl_sorted[j].empty()) {
            for (int64_t c = 0; c < y.n_control; ++c) ctrl_sorted[j].push_back(y.control[c * P + j]);
            std::sort(ctrl_sorted[j].begin(), ctrl_sorted[j].end());
        }
        std::vector<double> iv;
        for (int64_t c = 0; c < y.n_perturbed[i]; ++c) iv.push_back(y.perturbed[i][c * P + j]);
        std::sort(iv.begin(), iv.end());
        EdgeTest e;
        e.src = i;
        e.dst = j;
        MwuResult r = mann_whitney_u_sorted(ctrl_sorted[j], iv);  // obs first, as CausalBench
        e.u = r.u;
        e.p = r.p;
        e.w1 = wasserstein_1d_sorted(ctrl_sorted[j], iv);
        e.significant = r.p < p_threshold;
        return e;
    }
    GrnLevel level(const std::vector<std::pair<int64_t, int64_t>>& pairs) {
        GrnLevel L;
        L.n_pairs = (int64_t)pairs.size();
        double wsum = 0;
        for (auto [i, j] : pairs) {
            if (!testable(i, j)) continue;
            EdgeTest e = test(i, j);
            ++L.n_tested;
            (e.significant ? L.true_positives : L.false_positives) += 1;
            wsum += e.w1;
            L.tests.push_back(e);
        }
        L.mean_wasserstein = L.n_tested > 0 ? wsum / (double)L.n_tested : kNaN;
        return L;
    }
};
}  // namespace

GrnStatResult grn_statistical_eval(const std::vector<uint8_t>& adj, const GrnExpression& y,
                                   const GrnStatOptions& opt) {
    const int64_t P = y.P;
    GPO_CHECK((int64_t)adj.size() == P * P, "grn_statistical_eval: adjacency has " << adj.size()
                                                << " entries, expected " << P << " x " << P);
    GPO_CHECK((int64_t)y.measured.size() == P && (int64_t)y.n_perturbed.size() == P &&
                  (int64_t)y.perturbed.size() == P && (int64_t)y.control.size() == y.n_control * P,
              "grn_statistical_eval: expression arrays do not match P = " << P);
    for (int64_t i = 0; i < P; ++i)
        GPO_CHECK((int64_t)y.perturbed[i].size() == y.n_perturbed[i] * P,
                  "grn_statistical_eval: group " << i << " has " << y.perturbed[i].size() << " values for "
                                                 << y.n_perturbed[i] << " cells x " << P << " genes");
    GPO_CHECK(opt.max_path_length >= 1, "grn_statistical_eval: max_path_length must be >= 1");
    PairTester tester{y, opt.p_threshold, std::vector<std::vector<double>>(P)};
    std::vector<int> dist = path_lengths(adj, P, opt.max_path_length);

    GrnStatResult res;
    std::vector<std::vector<std::pair<int64_t, int64_t>>> by_len(opt.max_path_length + 1);
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j)
            if (i != j && dist[i * P + j] > 0) by_len[dist[i * P + j]].push_back({i, j});
    res.edges = tester.level(by_len[1]);
    for (int k = 2; k <= opt.max_path_length; ++k) res.paths.push_back(tester.level(by_len[k]));

    // Negatives: a uniform sample without replacement (partial Fisher-Yates) of the testable unconnected pairs.
    std::vector<std::pair<int64_t, int64_t>> cand;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j)
            if (i != j && dist[i * P + j] == 0 && tester.testable(i, j)) cand.push_back({i, j});
    res.n_candidates = (int64_t)cand.size();
    int64_t m = std::min<int64_t>(opt.omission_samples, (int64_t)cand.size());
    HostRng rng(opt.seed, 0);
    for (int64_t k = 0; k < m; ++k) std::swap(cand[k], cand[k + (int64_t)rng.below(cand.size() - k)]);
    cand.resize(m);
    res.negatives = tester.level(cand);
    res.false_omission_rate =
        res.negatives.n_tested > 0 ? (double)res.negatives.true_positives / (double)res.negatives.n_tested : kNaN;
    return res;
}

// ---------------------------------------------------------------------------------------------- biological
RankingScores edge_ranking(const std::vector<double>& prob, int64_t T, int64_t P, const std::vector<std::string>& genes,
                           const io::EdgeList& reference) {
    std::set<std::pair<int64_t, int64_t>> ref;
    for (const auto& e : restrict_reference(reference, genes)) ref.insert(e);
    std::vector<double> scores;
    std::vector<int> labels;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j) {
            if (i == j) continue;
            scores.push_back(prob[i * T + j]);
            const bool hit = ref.count({i, j}) || (!reference.directed && ref.count({j, i}));
            labels.push_back(hit ? 1 : 0);
        }
    return ranking_scores(scores, labels);
}

std::vector<std::pair<int64_t, int64_t>> adjacency_edges(const std::vector<uint8_t>& adj, int64_t P) {
    GPO_CHECK((int64_t)adj.size() == P * P, "adjacency_edges: " << adj.size() << " entries for P = " << P);
    std::vector<std::pair<int64_t, int64_t>> e;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j)
            if (adj[i * P + j]) e.push_back({i, j});
    return e;
}

std::vector<std::pair<int64_t, int64_t>> restrict_reference(const io::EdgeList& ref,
                                                            const std::vector<std::string>& genes) {
    std::map<std::string, int64_t> index;
    for (size_t i = 0; i < genes.size(); ++i) index.emplace(genes[i], (int64_t)i);
    std::set<std::pair<int64_t, int64_t>> out;
    for (const auto& [a, b] : ref.edges) {
        auto ia = index.find(a), ib = index.find(b);
        if (ia == index.end() || ib == index.end() || ia->second == ib->second) continue;
        int64_t i = ia->second, j = ib->second;
        if (!ref.directed && j < i) std::swap(i, j);
        out.insert({i, j});
    }
    return {out.begin(), out.end()};
}

BioEvalResult bio_eval(const std::vector<std::pair<int64_t, int64_t>>& predicted,
                       const std::vector<std::string>& genes, const io::EdgeList& reference, int64_t n_random,
                       uint64_t seed) {
    const int64_t P = (int64_t)genes.size();
    const bool directed = reference.directed;
    auto code = [&](int64_t i, int64_t j) {  // pair -> i * P + j, unordered pairs with i < j
        if (!directed && j < i) std::swap(i, j);
        return i * P + j;
    };
    std::vector<uint8_t> in_ref((size_t)(P * P), 0);
    BioEvalResult r;
    for (auto [i, j] : restrict_reference(reference, genes)) in_ref[code(i, j)] = 1, ++r.n_reference;
    std::set<int64_t> pred;
    for (auto [i, j] : predicted) {
        GPO_CHECK(i >= 0 && i < P && j >= 0 && j < P, "bio_eval: predicted edge (" << i << ", " << j
                                                                                   << ") outside " << P << " genes");
        if (i != j) pred.insert(code(i, j));
    }
    r.n_predicted = (int64_t)pred.size();
    for (int64_t c : pred) r.hits += in_ref[c];
    r.precision = r.n_predicted > 0 ? (double)r.hits / (double)r.n_predicted : kNaN;
    r.recall = r.n_reference > 0 ? (double)r.hits / (double)r.n_reference : kNaN;

    // Random sets of the same size: the first n_predicted entries of a partial Fisher-Yates shuffle of all pairs
    // (a uniform subset whatever the array's current order, so the array is reused between draws).
    std::vector<int64_t> all;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = directed ? 0 : i + 1; j < P; ++j)
            if (i != j) all.push_back(i * P + j);
    r.n_random = n_random;
    const int64_t k = r.n_predicted;
    HostRng rng(seed, 1);
    int64_t ge = 0;
    double sum = 0;
    for (int64_t d = 0; d < n_random; ++d) {
        int64_t h = 0;
        for (int64_t s = 0; s < k; ++s) {
            std::swap(all[s], all[s + (int64_t)rng.below(all.size() - s)]);
            h += in_ref[all[s]];
        }
        sum += (double)h;
        ge += h >= r.hits;
    }
    r.expected_hits = n_random > 0 ? sum / (double)n_random : kNaN;
    r.fold = r.expected_hits > 0 ? (double)r.hits / r.expected_hits : kNaN;
    r.enrichment_p = (1.0 + (double)ge) / (1.0 + (double)n_random);
    return r;
}

}  // namespace gpo::eval
