// Option parsing, help text and strict number parsing for the subcommands (see args.h).
#include "tools/cli/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "engine/check.h"

namespace gpo::cli {

const std::vector<Option>& common_options() {
    static const std::vector<Option> opts = {
        {"help", "", "print this help and exit"},
        {"verbose", "", "on an error, also print where in the engine's source it was raised"},
    };
    return opts;
}

static const Option* find_option(const CommandSpec& spec, const std::string& name) {
    for (const auto& o : spec.options)
        if (o.name == name) return &o;
    for (const auto& o : common_options())
        if (o.name == name) return &o;
    return nullptr;
}

static std::string range_text(double lo, double hi, bool integer) {
    std::ostringstream os;
    const double big = integer ? 9.0e18 : 1e300;
    auto num = [&](double v) {
        std::ostringstream n;
        if (integer) n << (long long)v;
        else n << v;
        return n.str();
    };
    if (lo > -big && hi < big) os << "in [" << num(lo) << ", " << num(hi) << "]";
    else if (lo > -big) os << ">= " << num(lo);
    else if (hi < big) os << "<= " << num(hi);
    return os.str();
}

// A value quoted in an error message, at most 80 bytes (tools/gpo_engine.cpp escapes unprintable bytes of every
// message it prints).
static std::string shortened(const std::string& s) { return s.size() > 80 ? s.substr(0, 80) + "..." : s; }

int64_t parse_int(const std::string& text, const std::string& what, int64_t lo, int64_t hi) {
    const std::string expected = "an integer " + range_text((double)lo, (double)hi, true);
    errno = 0;
    char* end = nullptr;
    long long v = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
    GPO_CHECK(!text.empty() && end && *end == '\0' && errno != ERANGE && !std::isspace((unsigned char)text[0]),
              what << " expects " << expected << ", got '" << shortened(text) << "'");
    GPO_CHECK(v >= lo && v <= hi, what << " expects " << expected << ", got " << v);
    return (int64_t)v;
}

double parse_real(const std::string& text, const std::string& what, double lo, double hi) {
    const std::string expected = "a number " + range_text(lo, hi, false);
    errno = 0;
    char* end = nullptr;
    double v = text.empty() ? 0 : std::strtod(text.c_str(), &end);
    GPO_CHECK(!text.empty() && end && *end == '\0' && errno != ERANGE && std::isfinite(v) &&
                  !std::isspace((unsigned char)text[0]),
              what << " expects " << expected << ", got '" << shortened(text) << "'");
    GPO_CHECK(v >= lo && v <= hi, what << " expects " << expected << ", got " << v);
    return v;
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = values.find(name);
    return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t lo, int64_t hi, int64_t fallback) const {
    if (!values.count(name)) return fallback;
    return parse_int(get(name), command + ": --" + name, lo, hi);
}

double Args::get_real(const std::string& name, double lo, double hi, double fallback) const {
    if (!values.count(name)) return fallback;
    return parse_real(get(name), command + ": --" + name, lo, hi);
}

std::string Args::get_choice(const std::string& name, const std::vector<std::string>& choices,
                             const std::string& fallback) const {
    std::string v = get(name, fallback);
    std::string list;
    for (const auto& c : choices) {
        if (v == c) return v;
        list += (list.empty() ? "" : "|") + c;
    }
    GPO_FAIL(command << ": --" << name << " expects one of " << list << ", got '" << shortened(v) << "'");
}

bool help_requested(const std::vector<std::string>& argv) {
    for (const auto& s : argv)
        if (s == "--help" || s == "-h") return true;
    return false;
}

Args parse_args(const CommandSpec& spec, const std::vector<std::string>& argv) {
    Args a;
    a.command = spec.name;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& s = argv[i];
        GPO_CHECK(s.rfind("--", 0) == 0 && s.size() > 2, spec.name << ": unexpected argument '" << shortened(s)
                                                                     << "' (options start with --; see gpo-engine "
                                                                     << spec.name << " --help)");
        std::string name = s.substr(2), value;
        size_t eq = name.find('=');
        bool inline_value = eq != std::string::npos && name.rfind("set=", 0) != 0 && name != "set";
        if (name.rfind("set=", 0) == 0) {  // --set=a.b=c
            inline_value = true;
            eq = 3;
        }
        if (inline_value) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const Option* opt = find_option(spec, name);
        GPO_CHECK(opt, spec.name << ": unknown option '--" << shortened(name) << "' (see gpo-engine " << spec.name
                                 << " --help for the options it takes)");
        if (opt->value.empty()) {
            GPO_CHECK(!inline_value, spec.name << ": option --" << name << " takes no value");
            a.flags.insert(name);
            continue;
        }
        if (!inline_value) {
            GPO_CHECK(i + 1 < argv.size(), spec.name << ": option --" << name << " needs a value (" << opt->value
                                                     << ")");
            value = argv[++i];
        }
        auto& slot = a.values[name];
        GPO_CHECK(opt->repeatable || slot.empty(), spec.name << ": option --" << name << " is given twice");
        slot.push_back(value);
    }
    return a;
}

std::string help_text(const CommandSpec& spec) {
    std::ostringstream os;
    os << "usage: gpo-engine " << spec.name << (spec.usage.empty() ? "" : " " + spec.usage) << "\n\n"
       << spec.summary << "\n\noptions:\n";
    auto line = [&](const Option& o) {
        std::string left = "  --" + o.name + (o.value.empty() ? "" : " " + o.value);
        if (left.size() < 28) left.resize(28, ' ');
        else left += "  ";
        os << left << o.help << (o.repeatable ? " (repeatable)" : "") << "\n";
    };
    for (const auto& o : spec.options) line(o);
    for (const auto& o : common_options()) line(o);
    return os.str();
}

}  // namespace gpo::cli
