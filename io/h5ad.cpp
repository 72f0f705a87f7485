// The in-memory AnnData pieces shared by the .h5ad reader and writer: Column constructors and labels, and
// DataFrame lookup with an error that lists the available columns.
#include "io/h5ad.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "engine/check.h"

namespace gpo::io {

// Shortest "%g" form that reads back as the same double ("0.5", "13", "1e-05").
static std::string format_number(double v, bool integer) {
    if (std::isnan(v)) return "nan";
    char buf[40];
    if (integer && std::fabs(v) < 9.3e18) {
        std::snprintf(buf, sizeof buf, "%lld", (long long)v);
        return buf;
    }
    for (int p = 1; p <= 17; ++p) {
        std::snprintf(buf, sizeof buf, "%.*g", p, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

size_t Column::size() const {
    switch (kind) {
        case Kind::Categorical: return codes.size();
        case Kind::String: return strings.size();
        case Kind::Numeric: return numbers.size();
        case Kind::Bool: return bools.size();
    }
    return 0;
}

bool Column::missing(size_t i) const {
    GPO_CHECK(i < size(), "Column::missing: row " << i << " out of range (size " << size() << ")");
    if (kind == Kind::Categorical) return codes[i] < 0;
    if (kind == Kind::Numeric) return std::isnan(numbers[i]);
    return false;
}

std::string Column::label(size_t i) const {
    GPO_CHECK(i < size(), "Column::label: row " << i << " out of range (size " << size() << ")");
    switch (kind) {
        case Kind::Categorical: {
            int32_t c = codes[i];
            if (c < 0) return "";
            GPO_CHECK((size_t)c < categories.size(),
                      "Column::label: code " << c << " at row " << i << " but " << categories.size() << " categories");
            return categories[(size_t)c];
        }
        case Kind::String: return strings[i];
        case Kind::Numeric: return std::isnan(numbers[i]) ? std::string() : format_number(numbers[i], integer);
        case Kind::Bool: return bools[i] ? "True" : "False";
    }
    return "";
}

Column Column::categorical(std::vector<std::string> cats, std::vector<int32_t> codes, bool ordered) {
    Column c;
    c.kind = Kind::Categorical;
    c.categories = std::move(cats);
    c.codes = std::move(codes);
    c.ordered = ordered;
    return c;
}

Column Column::categorical_from_labels(const std::vector<std::string>& labels) {
    std::set<std::string> uniq;
    for (const std::string& s : labels)
        if (!s.empty()) uniq.insert(s);
    std::vector<std::string> cats(uniq.begin(), uniq.end());
    std::vector<int32_t> codes;
    codes.reserve(labels.size());
    for (const std::string& s : labels)
        codes.push_back(s.empty() ? -1 : (int32_t)(std::lower_bound(cats.begin(), cats.end(), s) - cats.begin()));
    return categorical(std::move(cats), std::move(codes));
}

Column Column::string(std::vector<std::string> values) {
    Column c;
    c.kind = Kind::String;
    c.strings = std::move(values);
    return c;
}

Column Column::numeric(std::vector<double> values, bool integer) {
    Column c;
    c.kind = Kind::Numeric;
    c.numbers = std::move(values);
    c.integer = integer;
    return c;
}

Column Column::boolean(std::vector<uint8_t> values) {
    Column c;
    c.kind = Kind::Bool;
    c.bools = std::move(values);
    return c;
}

const Column& DataFrame::at(const std::string& name) const {
    auto it = columns.find(name);
    if (it != columns.end()) return it->second;
    std::string avail;
    for (const std::string& n : order) avail += (avail.empty() ? "" : ", ") + n;
    for (const auto& kv : columns)
        if (std::find(order.begin(), order.end(), kv.first) == order.end())
            avail += (avail.empty() ? "" : ", ") + kv.first;
    throw Error(source + " column '" + name + "' not found (available: " + (avail.empty() ? "none" : avail) + ")");
}

void DataFrame::add(const std::string& name, Column c) {
    if (columns.count(name) == 0) order.push_back(name);
    columns[name] = std::move(c);
}

}  // namespace gpo::io
