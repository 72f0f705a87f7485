// gpo-engine: the command line. Each subcommand lives in tools/cli/<name>.cpp; this file parses the first word,
// turns every gpo::Error into a message on stderr and a non-zero exit.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "tools/cli/commands.h"

static void usage(FILE* f) {
    std::fprintf(f,
                 "usage: gpo-engine <command> [options]\n"
                 "commands:\n"
                 "  info                                   build, devices, library versions\n"
                 "  preprocess --config C [--out DIR] [--set k=v]  preprocess (cached) and print a summary\n"
                 "  train --config C [--out DIR] [--resume CKPT] [--device auto|cpu|cuda] [--set k=v]\n"
                 "  simulate [--config S] --out X.h5ad [--threads N] [--set k=v]  synthetic data with a known GRN\n"
                 "  evaluate --checkpoint C [--out DIR] [--device D] [--set k=v]  report.json/.md + figures\n"
                 "  predict --checkpoint C --perturbations \"A,B+C\" --out P.h5ad [--cells N] [--particles N]\n"
                 "          [--library L] [--device D]                      predicted profiles as AnnData\n"
                 "  grn --checkpoint C --out DIR [--reference FILE[,opts]]... [--threshold P | --top-k K]\n"
                 "          [--split S] [--device D]                        learned network, its evaluation\n"
                 "  help                                   this text\n");
}

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    std::string cmd = argv[1];
    std::vector<std::string> args(argv + 2, argv + argc);
    try {
        if (cmd == "info") return gpo::cli::cmd_info(args);
        if (cmd == "preprocess") return gpo::cli::cmd_preprocess(args);
        if (cmd == "train") return gpo::cli::cmd_train(args);
        if (cmd == "evaluate") return gpo::cli::cmd_evaluate(args);
        if (cmd == "predict") return gpo::cli::cmd_predict(args);
        if (cmd == "grn") return gpo::cli::cmd_grn(args);
        if (cmd == "simulate") return gpo::cli::cmd_simulate(args);
        if (cmd == "help" || cmd == "--help" || cmd == "-h") {
            usage(stdout);
            return 0;
        }
        std::fprintf(stderr, "gpo-engine: unknown command '%s'\n", cmd.c_str());
        usage(stderr);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gpo-engine %s: error: %s\n", cmd.c_str(), e.what());
        return 1;
    }
}
