// Command-line options for the subcommands: each command declares its options once (name, value form, help), and
// that one declaration drives parsing, `--help` and the error for an unknown option. Numbers are parsed strictly:
// the whole text must be a number in the stated range ("--cells abc", "--particles 5x" and "--cells -5" are errors
// naming the option and the expected form).
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace gpo::cli {

struct Option {
    std::string name;          // without the leading "--"
    std::string value;         // the value's form in help ("N", "FILE"); empty for a flag that takes no value
    std::string help;          // one line
    bool repeatable = false;   // may be given several times (every value kept, in order)
};

struct CommandSpec {
    std::string name;
    std::string summary;       // one line, for `gpo-engine help`
    std::string usage;         // the synopsis after "gpo-engine <name>"
    std::vector<Option> options;  // --help and --verbose are added to every command
};

struct Args {
    std::string command;
    std::map<std::string, std::vector<std::string>> values;  // --name value (repeatable options keep all)
    std::set<std::string> flags;                             // --name, for options without a value

    bool has(const std::string& name) const { return values.count(name) || flags.count(name); }
    std::string get(const std::string& name, const std::string& fallback = "") const;  // the last value given
    std::vector<std::string> all(const std::string& name) const;                       // every value, in order
    // Strict numbers: the whole value must parse and lie in [lo, hi]; otherwise an error naming the option.
    int64_t get_int(const std::string& name, int64_t lo, int64_t hi, int64_t fallback) const;
    double get_real(const std::string& name, double lo, double hi, double fallback) const;
    // One of `choices`; otherwise an error listing them.
    std::string get_choice(const std::string& name, const std::vector<std::string>& choices,
                           const std::string& fallback) const;
};

// The options every command accepts besides its own.
const std::vector<Option>& common_options();
// Parses argv (the words after the command) against the spec. --help is not handled here (see help_requested).
Args parse_args(const CommandSpec& spec, const std::vector<std::string>& argv);
bool help_requested(const std::vector<std::string>& argv);  // --help or -h anywhere
std::string help_text(const CommandSpec& spec);              // usage, summary and one line per option

// Strict parsing of one number (for other callers): `what` names the value in the error.
int64_t parse_int(const std::string& text, const std::string& what, int64_t lo, int64_t hi);
double parse_real(const std::string& text, const std::string& what, double lo, double hi);

}  // namespace gpo::cli
