// Command-line option parsing shared by the subcommands: --name value pairs, repeatable --set, and flags.
// Unknown options are errors naming the option and listing the accepted ones.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace gpo::cli {

struct Args {
    std::map<std::string, std::string> values;  // --name value
    std::vector<std::string> sets;              // every --set a.b=c, in order
    std::set<std::string> flags;                // --name without a value (declared as flags)
    std::string get(const std::string& name, const std::string& fallback = "") const;
    bool has(const std::string& name) const { return values.count(name) || flags.count(name); }
};

// `valued` names take a value, `flag_names` take none; --set is always accepted.
Args parse_args(const std::string& command, const std::vector<std::string>& argv,
                const std::set<std::string>& valued, const std::set<std::string>& flag_names = {});

}  // namespace gpo::cli
