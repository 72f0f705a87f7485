// The table of subcommands: name, one-line summary, synopsis and every option with its help (see commands.h).
// `gpo-engine <command> --help` prints exactly this; parsing accepts exactly these options.
#include "tools/cli/commands.h"

namespace gpo::cli {

static const Option kSet{"set", "SECTION.KEY=VALUE", "override one configuration key (docs/config.md)", true};
static const Option kDevice{"device", "auto|cpu|cuda", "where to run (default: train.device of the config)"};
static const Option kCheckpoint{"checkpoint", "CKPT", "a checkpoint written by train (e.g. runs/demo/checkpoints/best.ckpt)"};

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {{"info", "show what this binary was built with and which devices it sees", "", {}}, cmd_info},
        {{"simulate", "write a synthetic Perturb-seq .h5ad from a known sparse GRN (docs/simulate.md)",
          "--out X.h5ad [options]",
          {{"config", "S.json", "simulation config (default: the built-in small simulation)"},
           {"out", "X.h5ad", "the file to write (required; written atomically)"},
           {"threads", "N", "worker threads, 0 = all hardware threads (default 0)"},
           {"block-rows", "N", "cells generated and written per block (default 1024)"},
           kSet}},
         cmd_simulate},
        {{"preprocess", "preprocess a dataset (cached) and print a summary", "--config C.json [options]",
          {{"config", "C.json", "run config naming data.path (required)"},
           {"out", "DIR", "where the cache goes (default: preprocess.cache_dir); also writes DIR/cells.csv"},
           kSet}},
         cmd_preprocess},
        {{"train", "train a model; writes config.json, cells.csv, metrics.jsonl and checkpoints/ in the run folder",
          "--config C.json [options]",
          {{"config", "C.json", "run config (required; data/configs/demo.json is the embedded dataset)"},
           {"out", "DIR", "run folder (default runs/<model.type>); refused when it holds a run, unless --resume or --force"},
           {"resume", "CKPT", "continue from a checkpoint (e.g. DIR/checkpoints/last.ckpt)"},
           {"force", "", "start afresh in a run folder that holds a run (its old files are replaced)"},
           kDevice,
           {"max-steps", "N", "stop after N optimizer steps in total (also GPO_MAX_STEPS in the environment)"},
           kSet}},
         cmd_train},
        {{"evaluate", "evaluate a trained model: report.json/.md, per-perturbation tables and figures",
          "--checkpoint CKPT [options]",
          {kCheckpoint, {"out", "DIR", "report folder (default: RUN/eval)"},
           {"export", "DIR", "also write the cell-eval inputs: real.h5ad (the evaluated cells), pred.h5ad (one model cell "
                             "per real cell, at its library size) and cells.csv"},
           kDevice, kSet}},
         cmd_evaluate},
        {{"predict", "cells sampled from the model for perturbations (raw counts), and mean profiles, as AnnData",
          "--checkpoint CKPT --perturbations \"A,B+C\" --out P.h5ad [options]",
          {kCheckpoint,
           {"perturbations", "\"A,B+C\"", "comma-separated labels; a combination joins genes with the delimiter"},
           {"out", "P.h5ad", "sampled cells, raw counts in X (required; written atomically)"},
           {"cells", "N", "sampled cells per perturbation and for the control (default 100)"},
           {"library-from", "condition|control",
            "draw each cell's library size from real QC-pass cells of its perturbation (the controls' when it has "
            "none), or from the controls (default condition)"},
           {"library", "L", "one library size for every sampled cell instead"},
           {"means", "M.h5ad", "also write one mean profile per perturbation (expected counts at --library, "
                               "default the median library size)"},
           {"particles", "N", "posterior samples averaged for each mean profile (default 500)"},
           {"seed", "N", "noise seed (default 0)"},
           kDevice, kSet}},
         cmd_predict},
        {{"grn", "the learned gene regulatory network: edge list, T x T matrices, evaluation",
          "--checkpoint CKPT --out DIR [options]",
          {kCheckpoint,
           {"out", "DIR", "output folder (required)"},
           {"reference", "FILE[,OPTS]",
            "reference network (.tsv/.csv[.gz]); OPTS: header, source=COL, target=COL, undirected, csv, tsv", true},
           {"threshold", "P", "keep edges with probability > P, in [0, 1] (default evaluate.grn_threshold)"},
           {"top-k", "K", "keep the K most probable edges instead of a threshold"},
           {"split", "train|val|test|all", "cells used for the statistical evaluation (default evaluate.split)"},
           {"random-sets", "N", "random edge sets for the permutation p-value (default 1000)"},
           kDevice, kSet}},
         cmd_grn},
    };
    return table;
}

}  // namespace gpo::cli
