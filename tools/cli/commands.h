// The subcommands of gpo-engine: each declares its options (tools/cli/args.h) and a run function that returns
// the process exit code and throws gpo::Error on failure. `commands()` lists them in the order `help` shows.
#pragma once
#include <string>
#include <vector>

#include "tools/cli/args.h"

namespace gpo::cli {

struct Command {
    CommandSpec spec;
    int (*run)(const Args& args);
};

const std::vector<Command>& commands();

// Exit codes (docs/cli.md): 0 success, 1 error, 2 usage error, 128 + signal after a checkpointed interrupt.
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int cmd_info(const Args& args);
int cmd_preprocess(const Args& args);
int cmd_train(const Args& args);
int cmd_evaluate(const Args& args);
int cmd_predict(const Args& args);
int cmd_grn(const Args& args);
int cmd_simulate(const Args& args);

}  // namespace gpo::cli
