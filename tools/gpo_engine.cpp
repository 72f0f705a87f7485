// gpo-engine: the command line. The commands and their options are declared in tools/cli/commands.cpp and run
// from tools/cli/<name>.cpp; this file finds the command, prints help, and turns every error into one sentence on
// stderr and a non-zero exit (the engine's source location only under --verbose).
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "engine/blas_threads.h"
#include "engine/check.h"
#include "engine/dist/comm.h"
#include "io/atomic_file.h"
#include "tools/cli/commands.h"

using gpo::cli::Command;

// The message with every byte that is not printable text escaped as \xNN (a garbage file's bytes must not reach
// the terminal raw): control characters other than newline and tab, DEL, and invalid UTF-8.
static std::string printable(const std::string& s) {
    std::string out;
    auto esc = [&](unsigned char c) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
    };
    for (size_t i = 0; i < s.size();) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) esc(c);
            else out += (char)c;
            ++i;
            continue;
        }
        size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) ok = ((unsigned char)s[i + k] >> 6) == 0x2;
        if (ok) {
            out.append(s, i, len);
            i += len;
        } else {
            esc(c);
            ++i;
        }
    }
    return out;
}

static void usage(FILE* f) {
    std::fprintf(f, "usage: gpo-engine <command> [options]     (gpo-engine <command> --help for its options)\n\n"
                    "commands:\n");
    for (const Command& c : gpo::cli::commands()) std::fprintf(f, "  %-12s %s\n", c.spec.name.c_str(), c.spec.summary.c_str());
    std::fprintf(f, "  %-12s %s\n", "help", "this text");
}

// The command named by argv[1], with every error turned into one sentence and an exit code.
static int run_command(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return gpo::cli::kExitUsage;
    }
    const std::string name = argv[1];
    std::vector<std::string> args(argv + 2, argv + argc);
    if (name == "help" || name == "--help" || name == "-h") {
        if (!args.empty()) {  // gpo-engine help train
            for (const Command& c : gpo::cli::commands())
                if (c.spec.name == args[0]) {
                    std::fputs(gpo::cli::help_text(c.spec).c_str(), stdout);
                    return 0;
                }
        }
        usage(stdout);
        return 0;
    }
    const Command* cmd = nullptr;
    for (const Command& c : gpo::cli::commands())
        if (c.spec.name == name) cmd = &c;
    if (!cmd) {
        std::fprintf(stderr, "gpo-engine: unknown command '%s'\n", name.c_str());
        usage(stderr);
        return gpo::cli::kExitUsage;
    }
    if (gpo::cli::help_requested(args)) {
        std::fputs(gpo::cli::help_text(cmd->spec).c_str(), stdout);
        return 0;
    }
    gpo::io::install_interrupt_cleanup();  // Ctrl-C never leaves a half-written .tmp behind
    bool verbose = false;
    for (const auto& a : args) verbose = verbose || a == "--verbose";
    // Under an MPI launcher every rank reports its own errors; the ranks after the first say which they are.
    const std::string label =
        gpo::dist::rank() > 0 ? name + " (rank " + std::to_string(gpo::dist::rank()) + ")" : name;
    try {
        GPO_CHECK(gpo::dist::size() == 1 || cmd->spec.name == "train",
                  "only train runs on several ranks (started with " << gpo::dist::size()
                                                                    << " by an MPI launcher); run it without mpirun");
        gpo::cli::Args parsed = gpo::cli::parse_args(cmd->spec, args);
        return cmd->run(parsed);
    } catch (const gpo::Error& e) {
        std::string msg = e.what();
        if (msg.rfind(name + ": ", 0) == 0) msg = msg.substr(name.size() + 2);  // "train: ..." under "gpo-engine train:"
        std::fprintf(stderr, "gpo-engine %s: error: %s\n", label.c_str(), printable(msg).c_str());
        if (verbose && !e.where().empty()) std::fprintf(stderr, "  (raised at %s)\n", e.where().c_str());
        return gpo::cli::kExitError;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "gpo-engine %s: error: out of memory\n", label.c_str());
        return gpo::cli::kExitError;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gpo-engine %s: error: %s\n", label.c_str(), printable(e.what()).c_str());
        return gpo::cli::kExitError;
    }
}

int main(int argc, char** argv) {
    gpo::configure_blas_threads();
    try {
        gpo::dist::init(&argc, &argv);  // joins MPI when started by mpirun/srun with several ranks
        gpo::share_cores_between_ranks(gpo::dist::local_size());
    } catch (const gpo::Error& e) {
        std::fprintf(stderr, "gpo-engine: error: %s\n", printable(e.what()).c_str());
        return gpo::cli::kExitError;
    }
    const int rc = run_command(argc, argv);
    // With several ranks, a failure on one aborts the others (no rank waits forever); a run stopped by a signal
    // (exit 130/143, checkpoint written) finishes normally.
    gpo::dist::finish(rc == gpo::cli::kExitError || rc == gpo::cli::kExitUsage);
    return rc;
}
