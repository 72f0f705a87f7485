// `gpo-engine grn`: the learned network of a model with T x T mask logits (gpo_vae): an edge list CSV (source,
// target, mask probability, mean embedding effect E[M o E], K-hop accumulated score), sorted, cut by a probability
// threshold or top-k; the T x T matrices as .h5ad; the CausalBench-style statistical evaluation on held-out cells
// (D10) and the biological evaluation against reference edge lists (D11); a report (JSON + Markdown) and a heatmap
// of the perturbed block.
#pragma once
#include <string>
#include <vector>

#include "engine/eval/loaded_model.h"
#include "io/edges.h"

namespace gpo::eval {

struct GrnOptions {
    double threshold = 0.5;  // edges with probability > threshold (ignored when top_k > 0)
    int64_t top_k = 0;       // keep the k most probable edges instead
    std::string split = "test";
    std::vector<std::pair<std::string, io::EdgeListSpec>> references;  // (path, how to read it): io::parse_edge_list_arg
    int64_t n_random = 1000;
    uint64_t seed = 0;
};

nlohmann::json grn_outputs(LoadedModel& m, const GrnOptions& opt, const std::string& out_dir, bool verbose);

}  // namespace gpo::eval
