// Option parsing for the subcommands (see args.h).
#include "tools/cli/args.h"

#include "engine/check.h"

namespace gpo::cli {

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
}

Args parse_args(const std::string& command, const std::vector<std::string>& argv, const std::set<std::string>& valued,
                const std::set<std::string>& flag_names) {
    Args a;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& s = argv[i];
        GPO_CHECK(s.rfind("--", 0) == 0, command << ": unexpected argument '" << s << "'");
        std::string name = s.substr(2), value;
        size_t eq = name.find('=');
        bool inline_value = eq != std::string::npos && name != "set";
        if (inline_value) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (flag_names.count(name)) {
            a.flags.insert(name);
            continue;
        }
        if (name != "set" && !valued.count(name)) {
            std::string accepted;
            for (const auto& v : valued) accepted += " --" + v;
            for (const auto& v : flag_names) accepted += " --" + v;
            GPO_FAIL(command << ": unknown option '--" << name << "' (accepted:" << accepted << " --set)");
        }
        if (!inline_value) {
            GPO_CHECK(i + 1 < argv.size(), command << ": option --" << name << " needs a value");
            value = argv[++i];
        }
        if (name == "set") a.sets.push_back(value);
        else a.values[name] = value;
    }
    return a;
}

}  // namespace gpo::cli
