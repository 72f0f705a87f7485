// GRN evaluation on plain arrays: the CausalBench statistical evaluation of a predicted network on held-out cells
// (docs/model.md §7, docs/model.md D10: perturbed x perturbed block, no self-loops, seeded false-omission pairs) and the
// biological evaluation against reference networks matched by gene symbol (D11), with a seeded enrichment test.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/eval/metrics.h"
#include "io/edges.h"

namespace gpo::data {
struct Dataset;
}

namespace gpo::eval {

// (P, P) row-major 0/1 adjacency of the perturbed block: adj[i * P + j] = 1[prob[i, j] > threshold] for i != j,
// from a (T, T) row-major matrix of edge probabilities (sigmoid of the logits) whose first P rows/columns are the
// perturbed genes. The diagonal is always 0 (D10).
std::vector<uint8_t> threshold_network(const double* prob, int64_t T, int64_t P, double threshold = 0.5);

// Expression of the P perturbed genes (y = log1p(normalize_total to the median count)) in held-out cells.
struct GrnExpression {
    int64_t P = 0;
    std::vector<uint8_t> measured;             // (P) 1 when gene j is a measured gene (otherwise untestable)
    int64_t n_control = 0;
    std::vector<double> control;               // (n_control, P) row-major: control cells
    std::vector<int64_t> n_perturbed;          // (P) cells perturbed at gene i (only i)
    std::vector<std::vector<double>> perturbed;  // [i]: (n_perturbed[i], P) row-major
};

// Cells of `split` (data::SPLIT_*, or -1 for all cells): controls, and cells with exactly one treatment i < P.
// y = log1p(x * m / library) with m = the median library size of the selected cells (as scanpy's
// normalize_per_cell on the evaluated cells).
GrnExpression grn_expression_from_dataset(const data::Dataset& ds, int split);

struct GrnStatOptions {
    double p_threshold = 0.05;       // MWU p below it: the edge is a true positive
    int max_path_length = 3;         // also score pairs joined by a path of 2..max_path_length edges
    int64_t omission_samples = 500;  // non-edge pairs drawn for the false omission rate (all of them if fewer)
    uint64_t seed = 0;
};

struct EdgeTest {
    int64_t src = 0, dst = 0;  // perturbed-gene indices
    double u = 0, p = 1, w1 = 0;
    bool significant = false;
};

struct GrnLevel {             // one set of tested pairs
    int64_t n_pairs = 0;      // pairs in the set
    int64_t n_tested = 0;     // pairs with control cells, cells perturbed at src, and dst measured
    int64_t true_positives = 0, false_positives = 0;
    double mean_wasserstein = 0;  // over the tested pairs (NaN when none)
    std::vector<EdgeTest> tests;
};

struct GrnStatResult {
    GrnLevel edges;                 // the predicted edges (CausalBench "output_graph")
    std::vector<GrnLevel> paths;    // [k - 2]: pairs first joined by a path of k edges, k = 2..max_path_length
    GrnLevel negatives;             // sampled pairs with no path of length <= max_path_length
    int64_t n_candidates = 0;       // testable non-edge pairs the negatives were drawn from
    double false_omission_rate = 0; // negatives.true_positives / negatives.n_tested (NaN when none)
};

// CausalBench evaluate_network on the (P, P) adjacency: for each pair i -> j, obs = y_.j over control cells,
// int = y_.j over cells perturbed at i; Mann-Whitney U p (p < p_threshold: true positive, else false positive)
// and W1 = wasserstein_1d(obs, int). Negatives: omission_samples distinct ordered pairs (i != j), drawn uniformly
// without replacement with HostRng(seed) among the testable pairs with no path of length <= max_path_length.
// Diagonal entries of adj are ignored. Untestable pairs (no control cell, no cell perturbed at i, or j not
// measured) are counted in n_pairs but not tested. Differences from CausalBench (D10): path levels use true
// shortest-path lengths (CausalBench's closure step doubles the length, reaching 4 with max_path_length 3), and
// negatives are drawn among testable pairs of perturbed genes, so FOR = significant / sampled is a real rate.
GrnStatResult grn_statistical_eval(const std::vector<uint8_t>& adj, const GrnExpression& y,
                                   const GrnStatOptions& opt = {});

// Biological evaluation of predicted edges between the perturbed genes (indices into `genes`, the symbols)
// against a reference network restricted to pairs whose endpoints are both in `genes` (symbols match exactly).
// An undirected reference compares unordered pairs (i -> j and j -> i count once). Self-loops are ignored.
//   precision = |P ∩ R| / |P|, recall = |P ∩ R| / |R| (NaN for an empty denominator)
// Enrichment: n_random sets of |P| distinct pairs drawn uniformly (HostRng(seed)) from all pairs of the genes
// (ordered i != j if directed, unordered otherwise); expected_hits = mean hits of the random sets,
// fold = hits / expected_hits, p = (1 + #{random hits >= hits}) / (1 + n_random).
struct BioEvalResult {
    int64_t n_predicted = 0, n_reference = 0, hits = 0;
    double precision = 0, recall = 0;
    int64_t n_random = 0;
    double expected_hits = 0, fold = 0, enrichment_p = 1;
};
BioEvalResult bio_eval(const std::vector<std::pair<int64_t, int64_t>>& predicted,
                       const std::vector<std::string>& genes, const io::EdgeList& reference, int64_t n_random = 1000,
                       uint64_t seed = 0);
// Threshold-free scores of edge probabilities against a reference (ranking_scores, metrics.h): over the ordered
// pairs i != j of the perturbed block (P x P, the first P rows/columns of the row-major (T, T) `prob`), label 1 when
// the reference (restricted to `genes`) has i -> j (directed) or {i, j} (undirected).
RankingScores edge_ranking(const std::vector<double>& prob, int64_t T, int64_t P, const std::vector<std::string>& genes,
                           const io::EdgeList& reference);

// The (P, P) adjacency as an edge list (row-major order).
std::vector<std::pair<int64_t, int64_t>> adjacency_edges(const std::vector<uint8_t>& adj, int64_t P);
// The reference edges among `genes` as index pairs (directed as in the file; undirected with i < j).
std::vector<std::pair<int64_t, int64_t>> restrict_reference(const io::EdgeList& reference,
                                                            const std::vector<std::string>& genes);

}  // namespace gpo::eval
