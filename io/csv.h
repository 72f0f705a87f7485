// One CSV field as pandas.read_csv reads it back: as is, or quoted (quotes doubled) when it holds a comma, a quote
// or a line break.
#pragma once
#include <string>

namespace gpo::io {

inline std::string csv_field(const std::string& v) {
    if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

}  // namespace gpo::io
