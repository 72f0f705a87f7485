// `gpo-engine simulate`: synthetic Perturb-seq with a known GRN (engine/data/simulate.h, docs/simulate.md).
#include <cstdio>
#include <string>

#include "engine/check.h"
#include "engine/data/simulate.h"
#include "tools/cli/commands.h"

namespace gpo::cli {

int cmd_simulate(const Args& a) {
    GPO_CHECK(a.has("out"), "simulate: --out FILE.h5ad is required");
    data::SimulateOptions opt;
    opt.progress = true;
    opt.threads = (int)a.get_int("threads", 0, 4096, 0);
    opt.block_rows = a.get_int("block-rows", 1, 100000000, opt.block_rows);
    nlohmann::json cfg = data::simulate_config_load(a.get("config"), a.all("set"));
    data::SimulateStats s = data::simulate(cfg, a.get("out"), opt);
    std::fprintf(stderr,
                 "simulated %lld cells x %lld genes (T = %lld, %lld true edges, %lld QC-fail, %lld combination "
                 "cells), %lld non-zeros (%.1f%%) in %.1f s -> %s\n",
                 (long long)s.cells, (long long)s.genes, (long long)s.T, (long long)s.edges, (long long)s.qc_fail,
                 (long long)s.combination_cells, (long long)s.nnz, 100.0 * (double)s.nnz / ((double)s.cells * s.genes),
                 s.seconds, a.get("out").c_str());
    return 0;
}

}  // namespace gpo::cli
