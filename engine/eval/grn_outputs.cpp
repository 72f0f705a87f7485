// GRN outputs and evaluation (see grn_outputs.h).
#include "engine/eval/grn_outputs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "engine/check.h"
#include "engine/eval/grn_eval.h"
#include "engine/ops/sparse.h"
#include "io/atomic_file.h"
#include "io/h5ad.h"
#include "io/svg.h"

namespace gpo::eval {

namespace fs = std::filesystem;
using json = nlohmann::json;

static json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json grn_outputs(LoadedModel& m, const GrnOptions& opt, const std::string& out_dir, bool verbose) {
    const data::Dataset& ds = m.dataset;
    const int wi = m.model->mask_logits();
    // SAMS-VAE's mask is treatments x latent dimensions, not a treatment network, even when L happens to equal T.
    GPO_CHECK(wi >= 0 && m.model->type() == std::string("gpo_vae"),
              "grn: model type '" << m.model->type() << "' learns no gene regulatory network (a GRN needs gpo_vae)");
    GPO_CHECK(opt.split == "train" || opt.split == "val" || opt.split == "test" || opt.split == "all",
              "grn: split '" << opt.split << "' is not one of train, val, test, all");
    GPO_CHECK(opt.threshold >= 0 && opt.threshold <= 1, "grn: threshold " << opt.threshold << " is not in [0, 1]");
    // Every input is read and checked before the first output is written.
    std::vector<io::EdgeList> references;
    for (const auto& [path, spec] : opt.references) references.push_back(io::read_edge_list(path, spec));
    Tensor Wt = m.params.value(wi).to(Device::CPU);
    const int64_t T = ds.T, P = ds.n_perturbed;
    GPO_CHECK(Wt.ndim() == 2 && Wt.dim(0) == T && Wt.dim(1) == T,
              "grn: mask logits are " << Wt.describe() << ", expected a T x T matrix (T = " << T << ")");
    std::vector<double> W = Wt.to_vector(), prob(W.size());
    for (size_t i = 0; i < W.size(); ++i) prob[i] = std::isfinite(W[i]) ? 1.0 / (1.0 + std::exp(-W[i])) : 0.5;
    // K-hop accumulated score S (the quantity the GRN loss aligns with |Δ| - τ), on the CPU in double.
    std::vector<double> S;
    {
        Tape t;
        NoGradGuard ng(t);
        std::vector<double> w0 = W;
        for (double& x : w0)
            if (!std::isfinite(x)) x = 0;
        std::vector<int32_t> rows(T);
        for (int64_t i = 0; i < T; ++i) rows[i] = (int32_t)i;
        Var A = t.constant(Tensor::from_vector({T, T}, w0, DType::F64));
        S = t.value(ops::grn_khop_rows(t, A, Tensor::from_ints({T}, rows), m.config["model"]["grn_hops"].get<int>()))
                .to_vector();
    }
    fs::create_directories(out_dir);
    // Mean embedding effect E[M o E] over guide draws (the latent effect of regulator i on coordinate j).
    std::vector<double> effect;
    {
        Tensor me = m.model->mean_embedding_effect(m.params, 100, RngKey{opt.seed, 95});
        if (me.defined()) effect = me.to_vector();
    }

    // ---------------------------------------------------------------- edge list (no self-loops), sorted
    struct Edge { int64_t i, j; double p; };
    std::vector<Edge> edges;
    for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
            if (i != j && (opt.top_k > 0 || prob[i * T + j] > opt.threshold)) edges.push_back({i, j, prob[i * T + j]});
    std::stable_sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.p > b.p; });
    if (opt.top_k > 0 && (int64_t)edges.size() > opt.top_k) edges.resize(opt.top_k);
    std::ostringstream csv;
    csv << "source,target,mask_probability,mean_embedding_effect,khop_score,source_perturbed,target_perturbed\n";
    for (const Edge& e : edges)
        csv << ds.treatment_names[e.i] << "," << ds.treatment_names[e.j] << "," << e.p << ","
            << (effect.empty() ? std::string() : std::to_string(effect[e.i * T + e.j])) << "," << S[e.i * T + e.j]
            << "," << (e.i < P ? "true" : "false") << "," << (e.j < P ? "true" : "false") << "\n";
    io::write_file_atomic((fs::path(out_dir) / "grn_edges.csv").string(), csv.str());

    // ---------------------------------------------------------------- matrices as AnnData
    {
        io::AnnDataOut a;
        a.rows = a.cols = T;
        a.X.assign(prob.begin(), prob.end());
        a.layers["logits"].assign(W.begin(), W.end());
        a.layers["khop_score"].assign(S.begin(), S.end());
        if (!effect.empty()) a.layers["mean_embedding_effect"].assign(effect.begin(), effect.end());
        a.obs.index = ds.treatment_names;
        a.var.index = ds.treatment_names;
        std::vector<uint8_t> pert(T);
        for (int64_t t = 0; t < T; ++t) pert[t] = t < P;
        a.obs.add("perturbed", io::Column::boolean(pert));
        a.var.add("perturbed", io::Column::boolean(pert));
        a.uns_strings["checkpoint"] = m.checkpoint;
        a.uns_strings["description"] = "X: edge probability sigmoid(W) regulator (row) -> target (column)";
        io::h5ad_write((fs::path(out_dir) / "grn_matrices.h5ad").string(), a);
    }

    // ---------------------------------------------------------------- statistical evaluation (D10)
    const int split = opt.split == "train" ? data::SPLIT_TRAIN : opt.split == "val" ? data::SPLIT_VAL
                      : opt.split == "test" ? data::SPLIT_TEST : -1;
    std::vector<uint8_t> adj = threshold_network(prob.data(), T, P, opt.top_k > 0 ? -1.0 : opt.threshold);
    if (opt.top_k > 0) {  // the top-k edges restricted to the perturbed block
        std::fill(adj.begin(), adj.end(), 0);
        for (const Edge& e : edges)
            if (e.i < P && e.j < P) adj[e.i * P + e.j] = 1;
    }
    GrnStatOptions so;
    so.seed = opt.seed;
    GrnStatResult st = grn_statistical_eval(adj, grn_expression_from_dataset(ds, split), so);
    json stat = {{"split", opt.split},
                 {"edges_perturbed_block", st.edges.n_pairs},
                 {"edges_tested", st.edges.n_tested},
                 {"true_positives", st.edges.true_positives},
                 {"false_positives", st.edges.false_positives},
                 {"mean_wasserstein", num(st.edges.mean_wasserstein)},
                 {"false_omission_rate", num(st.false_omission_rate)},
                 {"negatives_tested", st.negatives.n_tested}};
    // Pairs joined only through intermediate regulators (a path of k >= 2 predicted edges): how far an effect
    // carries along the predicted network (docs/metrics.md, GRN).
    json paths = json::array();
    for (size_t k = 0; k < st.paths.size(); ++k)
        paths.push_back({{"path_length", (int64_t)k + 2},
                         {"pairs", st.paths[k].n_pairs},
                         {"tested", st.paths[k].n_tested},
                         {"true_positives", st.paths[k].true_positives},
                         {"false_positives", st.paths[k].false_positives},
                         {"mean_wasserstein", num(st.paths[k].mean_wasserstein)}});
    stat["paths"] = paths;
    int64_t all_edges = 0;
    for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) all_edges += i != j && prob[i * T + j] > opt.threshold;

    // ---------------------------------------------------------------- biological evaluation (D11)
    std::vector<std::string> genes(ds.treatment_names.begin(), ds.treatment_names.begin() + P);
    json bio = json::array();
    std::vector<std::pair<int64_t, int64_t>> predicted = adjacency_edges(adj, P);
    for (size_t k = 0; k < references.size(); ++k) {
        const std::string& path = opt.references[k].first;
        const io::EdgeList& ref = references[k];
        BioEvalResult r = bio_eval(predicted, genes, ref, opt.n_random, opt.seed);
        RankingScores rank = edge_ranking(prob, T, P, genes, ref);
        bio.push_back({{"reference", path},
                       {"auroc", num(rank.auroc)},
                       {"auprc", num(rank.auprc)},
                       {"auprc_random", num((double)rank.positives / (double)std::max<int64_t>(1, rank.pairs))},
                       {"directed", ref.directed},
                       {"reference_edges_among_perturbed", r.n_reference},
                       {"predicted", r.n_predicted},
                       {"hits", r.hits},
                       {"precision", num(r.precision)},
                       {"recall", num(r.recall)},
                       {"expected_hits_random", num(r.expected_hits)},
                       {"fold_enrichment", num(r.fold)},
                       {"enrichment_p", num(r.enrichment_p)}});
    }
    json report = {{"checkpoint", m.checkpoint},
                   {"threshold", opt.threshold},
                   {"top_k", opt.top_k},
                   {"T", T},
                   {"perturbed", P},
                   {"edges_listed", (int64_t)edges.size()},
                   {"edges_above_threshold_all_T", all_edges},
                   {"statistical", stat},
                   {"biological", bio}};
    // Heatmap of the perturbed block.
    std::vector<double> block;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < P; ++j) block.push_back(prob[i * T + j]);
    io::write_file_atomic((fs::path(out_dir) / "grn_perturbed_block.svg").string(),
                          io::svg_heatmap("GRN edge probability (perturbed genes)", genes, genes, block, "edge probability"));
    std::ostringstream md;
    md << "# Learned GRN\n\nCheckpoint `" << m.checkpoint << "`; T = " << T << " (" << P << " perturbed genes); "
       << "edges with probability > " << opt.threshold << ": " << all_edges << " in T x T, "
       << st.edges.n_pairs << " in the perturbed block (no self-loops).\n\n"
       << "## Statistical evaluation (" << opt.split << " split)\n\n"
       << "| tested edges | true positives | false positives | mean Wasserstein | false omission rate |\n"
       << "|---|---|---|---|---|\n| " << st.edges.n_tested << " | " << st.edges.true_positives << " | "
       << st.edges.false_positives << " | " << stat["mean_wasserstein"].dump() << " | "
       << stat["false_omission_rate"].dump() << " |\n\n";
    if (!paths.empty()) {
        md << "Pairs joined only through a path of predicted edges:\n\n| path length | pairs | tested | true positives | "
              "false positives | mean Wasserstein |\n|---|---|---|---|---|---|\n";
        for (const json& p : paths)
            md << "| " << p["path_length"] << " | " << p["pairs"] << " | " << p["tested"] << " | " << p["true_positives"]
               << " | " << p["false_positives"] << " | " << p["mean_wasserstein"].dump() << " |\n";
        md << "\n";
    }
    md << "## Biological evaluation\n\n";
    if (bio.empty()) md << "No reference network given (`--reference FILE`).\n";
    else {
        md << "| reference | reference edges | AUROC | AUPRC (random) | predicted | hits | precision | recall | fold | p "
              "|\n|---|---|---|---|---|---|---|---|---|---|\n";
        for (const auto& b : bio)
            md << "| " << b["reference"].get<std::string>() << " | " << b["reference_edges_among_perturbed"] << " | "
               << b["auroc"].dump() << " | " << b["auprc"].dump() << " (" << b["auprc_random"].dump() << ") | "
               << b["predicted"] << " | " << b["hits"] << " | " << b["precision"].dump() << " | " << b["recall"].dump()
               << " | " << b["fold_enrichment"].dump() << " | " << b["enrichment_p"].dump() << " |\n";
    }
    md << "\n![perturbed block](grn_perturbed_block.svg)\n";
    io::write_file_atomic((fs::path(out_dir) / "grn_report.json").string(), report.dump(2) + "\n");
    io::write_file_atomic((fs::path(out_dir) / "grn_report.md").string(), md.str());
    if (verbose) std::fprintf(stderr, "grn: %zu edges listed; outputs in %s\n", edges.size(), out_dir.c_str());
    return report;
}

}  // namespace gpo::eval
