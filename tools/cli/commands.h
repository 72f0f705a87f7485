// The subcommands of gpo-engine; each returns the process exit code and throws gpo::Error on failure.
#pragma once
#include <string>
#include <vector>

namespace gpo::cli {

int cmd_info(const std::vector<std::string>& args);
int cmd_preprocess(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_evaluate(const std::vector<std::string>& args);
int cmd_predict(const std::vector<std::string>& args);
int cmd_grn(const std::vector<std::string>& args);
int cmd_simulate(const std::vector<std::string>& args);

}  // namespace gpo::cli
